//! Cold and warm starts of a real bootstrap under the loopback Runtime API.
//!
//! `lambda-bench BOOTSTRAP RUNS EVENT_FILE [WARM_EVENT_FILE WARM_REQUESTS]` with the
//! function's environment in this process's `BOOKSTORE_*`/`AWS_*` variables: per run, a
//! fresh process is started with the event queued, and the time from spawn to its answer
//! is a cold start; then, when asked, the warm event is sent `WARM_REQUESTS` times to the
//! last process. Prints JSON: the cold starts' median and every sample, the warm p50/p99.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lambda_harness::RuntimeApi;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, runs, event, rest @ ..] = args.as_slice() else {
        eprintln!("usage: lambda-bench BOOTSTRAP RUNS EVENT_FILE [WARM_EVENT_FILE WARM_REQUESTS]");
        std::process::exit(2);
    };
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}")))
            .unwrap_or_else(|err| panic!("{path}: {err}"))
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let event = read(event);
    let environment: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("BOOKSTORE_") || k.starts_with("AWS_")).collect();
    let api = RuntimeApi::start("bench-api");
    let bootstrap = PathBuf::from(bootstrap);
    let mut cold = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        if let Some(mut child) = last.take() {
            let _ = std::process::Child::kill(&mut child);
            let _ = std::process::Child::wait(&mut child);
        }
        let started = Instant::now();
        let child = api.spawn(&bootstrap, &environment, None);
        let outcome = api.invoke(event.clone(), Duration::from_secs(30)).expect("an answer");
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(matches!(outcome, lambda_harness::Outcome::Response(_)), "{outcome:?}");
        last = Some(child);
    }
    let mut warm = Vec::new();
    if let [warm_event, requests] = rest {
        let warm_event = read(warm_event);
        for _ in 0..requests.parse::<usize>().expect("WARM_REQUESTS is a number") {
            let started = Instant::now();
            api.invoke(warm_event.clone(), Duration::from_secs(30)).expect("an answer").response();
            warm.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    if let Some(mut child) = last {
        let _ = child.kill();
        let _ = child.wait();
    }
    let summary = serde_json::json!({
        "cold_start_ms": { "median": percentile(&cold, 0.5), "min": percentile(&cold, 0.0), "max": percentile(&cold, 1.0), "samples": cold },
        "warm_ms": { "requests": warm.len(), "p50": percentile(&warm, 0.5), "p99": percentile(&warm, 0.99) },
    });
    println!("{summary}");
}

fn percentile(samples: &[f64], at: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * at).round() as usize;
    sorted.get(index).copied()
}
