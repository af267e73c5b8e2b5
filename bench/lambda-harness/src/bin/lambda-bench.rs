//! Cold and warm starts of a real bootstrap under the loopback Runtime API.
//!
//! `lambda-bench BOOTSTRAP RUNS EVENT_FILE [TENANT ADMIN_EMAIL PASSWORD REQUESTS]`, with the
//! function's environment in this process's `BOOKSTORE_*`/`AWS_*` variables. Each run
//! starts a fresh process with the event already queued: the time from spawn to its
//! answer is one cold start. With a tenant's admin, the last process then signs in, adds
//! a book and reads it `REQUESTS` times (the warm book read). Prints one JSON object.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use lambda_harness::{Outcome, RuntimeApi, http_event};
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, runs, event, warm @ ..] = args.as_slice() else {
        eprintln!("usage: lambda-bench BOOTSTRAP RUNS EVENT_FILE [TENANT ADMIN_EMAIL PASSWORD REQUESTS]");
        std::process::exit(2);
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string(event).expect("EVENT_FILE")).expect("EVENT_FILE holds JSON");
    let environment: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("BOOKSTORE_") || k.starts_with("AWS_")).collect();
    let api = RuntimeApi::start("bench-function");
    let bootstrap = PathBuf::from(bootstrap);
    let mut cold = Vec::new();
    let mut last: Option<Child> = None;
    for _ in 0..runs {
        if let Some(mut child) = last.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let started = Instant::now();
        let child = api.spawn(&bootstrap, &environment, None);
        let outcome = api.invoke(event.clone(), WITHIN).expect("an answer");
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        last = Some(child);
    }
    let mut warm_ms = Vec::new();
    if let [tenant, email, password, requests] = warm {
        let request = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>| -> Value {
            let answer = api.invoke(http_event(method, path, headers, body.as_ref()), WITHIN).expect("an answer");
            let answer = answer.response();
            let body = answer["body"].as_str().unwrap_or_default();
            let parsed = serde_json::from_str(body).unwrap_or(Value::Null);
            assert!(answer["statusCode"].as_u64().is_some_and(|s| s < 300), "{method} {path}: {answer}");
            parsed
        };
        let session = request(
            "POST",
            "/api/v1/users/login",
            &[("x-tenant-id", tenant)],
            Some(json!({"email": email, "password": password})),
        );
        let bearer = format!("Bearer {}", session["token"].as_str().expect("token"));
        let auth = [("authorization", bearer.as_str())];
        // A new ISBN per run, so runs against one shop do not meet their own books.
        let isbn = fresh_isbn();
        let book = request(
            "POST",
            "/api/v1/books",
            &auth,
            Some(json!({"isbn": isbn, "title": "Bench book", "author": "Ana Lugo",
            "category": "Ficción", "price": "19.90", "stock_quantity": 3, "publication_year": 1967})),
        );
        let path = format!("/api/v1/books/{}", book["book_id"].as_str().expect("id"));
        for _ in 0..requests.parse::<usize>().expect("REQUESTS is a number") {
            let started = Instant::now();
            request("GET", &path, &auth, None);
            warm_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    if let Some(mut child) = last {
        let _ = child.kill();
        let _ = child.wait();
    }
    let summary = json!({
        "cold_start_ms": { "runs": cold.len(), "median": percentile(&cold, 0.5), "min": percentile(&cold, 0.0), "max": percentile(&cold, 1.0) },
        "warm_book_read_ms": { "requests": warm_ms.len(), "p50": percentile(&warm_ms, 0.5), "p99": percentile(&warm_ms, 0.99) },
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
    sorted.get(index).map(|ms| (ms * 100.0).round() / 100.0)
}

/// A valid ISBN-13 (978, nine digits from the clock, its check digit).
fn fresh_isbn() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let digits = format!("978{:09}", nanos % 1_000_000_000);
    let sum: u32 = digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}
