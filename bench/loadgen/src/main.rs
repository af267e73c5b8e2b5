//! `loadgen`: the measurements of `bench/api.sh` that a plain HTTP load generator
//! (oha) cannot make on its own.
//!
//! - `checkout`: many signed-in customers buying one book at once; reports
//!   checkouts/s and checkout latency, and fails when the book was oversold.
//! - `health-after-start`: time from spawning the server to its first healthy answer.
//!
//! Data (one JSON line) goes to stdout, progress to stderr. Exit code: 0 the run
//! passed its checks, 1 a check failed, 2 the run could not be made.

mod api;
mod checkout;
mod health;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "loadgen", about = "Bookstore API load and start-up measurements (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Concurrent add-to-cart + checkout loops against one book; checks for oversell.
    Checkout(checkout::CheckoutArgs),
    /// Spawns a server and prints the milliseconds until `GET /health` answers 200.
    HealthAfterStart(health::HealthArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Checkout(args) => checkout::run(args).await,
        Command::HealthAfterStart(args) => health::run(args).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
