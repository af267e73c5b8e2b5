//! `bookstore invoke` and `bookstore logs`: poking a deployed stage's function.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::stack::StackArgs;
use crate::cloud::{AwsArgs, functions};
use crate::render::LAMBDAS;
use crate::stage::{Provider, Stage};

/// `FUNCTION` as the stage names it (`{prefix}-{function}`), or an error listing the functions.
fn function_name(stage: &Stage, function: &str) -> Result<String> {
    if stage.provider != Provider::Aws {
        bail!(
            "--stage {}: a local stage has no deployed functions; `bookstore up` runs them in one process",
            stage.name
        );
    }
    if !LAMBDAS.iter().any(|lambda| lambda.name == function) {
        let known: Vec<&str> = LAMBDAS.iter().map(|lambda| lambda.name).collect();
        bail!("FUNCTION {function:?}: stage {} has {}", stage.name, known.join(", "));
    }
    Ok(format!("{}-{function}", stage.prefix))
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function: api, books-to-search, books-to-lake, purchases-to-search, purchases-to-lake, tenant-admin.
    pub function: String,
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The event, a JSON file (an API Gateway HTTP API request for `api`, a DynamoDB
    /// stream batch for a stream consumer).
    #[arg(long)]
    pub event: PathBuf,
}

/// Invokes the function once: its answer on stdout, the tail of its log on stderr.
pub async fn invoke(args: InvokeArgs) -> Result<()> {
    let stage = args.target.stage()?;
    let name = function_name(&stage, &args.function)?;
    let event =
        std::fs::read(&args.event).with_context(|| format!("--event {}: cannot read it", args.event.display()))?;
    if let Err(err) = serde_json::from_slice::<serde_json::Value>(&event) {
        bail!("--event {}: not JSON ({err})", args.event.display());
    }
    let clients = args.aws.clients(&stage).await;
    let answer = functions::invoke(&clients, &name, event).await?;
    if let Some(tail) = &answer.log_tail {
        eprintln!("{}", tail.trim_end());
    }
    match serde_json::from_slice::<serde_json::Value>(&answer.payload) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{}", String::from_utf8_lossy(&answer.payload)),
    }
    if clients.emulated {
        eprintln!(
            "note: {} answered without running the function's code (moto's Lambda echoes the event); \
             run the bootstrap under `cargo lambda watch` or the tests' Runtime API to see it work",
            clients.endpoint
        );
    }
    if let Some(error) = answer.function_error {
        bail!("{name} failed ({error})");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The function whose log group to read.
    pub function: String,
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How far back to start, in minutes.
    #[arg(long, default_value_t = 10)]
    pub since_minutes: u32,
    /// Keep printing new lines until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// Prints the function's log lines; with `--follow`, new ones as they come.
pub async fn logs(args: LogsArgs) -> Result<()> {
    let stage = args.target.stage()?;
    let name = function_name(&stage, &args.function)?;
    let group = format!("/aws/lambda/{name}");
    let clients = args.aws.clients(&stage).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let mut since = i64::try_from(now).unwrap_or(i64::MAX) - i64::from(args.since_minutes) * 60_000;
    let mut printed = std::collections::HashSet::new();
    loop {
        for line in functions::log_lines(&clients, &group, since).await? {
            if printed.insert(line.id.clone()) {
                let at = chrono::DateTime::from_timestamp_millis(line.millis).unwrap_or_default();
                println!("{} {} {}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), line.stream, line.message);
            }
            since = since.max(line.millis);
        }
        if !args.follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}
