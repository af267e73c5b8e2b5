//! `loadgen health-after-start`: spawns a server, polls `GET /health` every 5 ms and
//! prints the milliseconds from spawn to the first 200, then kills the child it
//! spawned (its own PID, nothing else). A child that exits early, or a deadline
//! passed without a 200, is an error.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use reqwest::StatusCode;
use serde::Serialize;

const POLL_EVERY: Duration = Duration::from_millis(5);

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server binary, e.g. target/release/bookstore.
    #[arg(long)]
    bin: PathBuf,
    /// The health URL the server will answer on, e.g. http://127.0.0.1:8080/health.
    #[arg(long)]
    health_url: String,
    /// Give up after this many seconds without a 200.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Arguments for the binary, after `--` (e.g. -- up --port 8080 --data-dir D).
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Summary {
    health_after_start_ms: f64,
    polls: u64,
}

/// Kills the child when dropped, so no error path leaves it running.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        // Already exited is fine; the wait reaps it either way.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(args: HealthArgs) -> Result<bool> {
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(1)).build().context("cannot build the HTTP client")?;
    let deadline = Duration::from_secs(args.timeout_secs);

    let started = Instant::now();
    let child = Command::new(&args.bin)
        .args(&args.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", args.bin.display()))?;
    let mut child = Spawned(child);

    let mut polls = 0_u64;
    let healthy_after = loop {
        polls += 1;
        if let Ok(response) = client.get(&args.health_url).send().await
            && response.status() == StatusCode::OK
        {
            break started.elapsed();
        }
        if let Some(status) = child.0.try_wait().context("cannot check on the child")? {
            bail!("{} exited ({status}) before {} answered 200", args.bin.display(), args.health_url);
        }
        if started.elapsed() > deadline {
            bail!("{} did not answer 200 within {} s", args.health_url, args.timeout_secs);
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    drop(child);

    let summary = Summary { health_after_start_ms: healthy_after.as_secs_f64() * 1000.0, polls };
    println!("{}", serde_json::to_string(&summary).context("cannot write the summary")?);
    Ok(true)
}
