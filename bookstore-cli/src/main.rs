//! `bookstore`: runs the local stage, manages tenants, renders and deploys stages. Data goes to stdout, progress and logs to stderr. Exit codes: 0 success,
//! 1 failure, 2 bad usage or configuration.

mod allocator;
mod cloud;
mod cmd;
mod package;
mod render;
mod stage;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bookstore",
    version,
    about = "Multi-tenant serverless bookstore: run it locally, manage tenants, deploy stages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole backend on this machine (embedded store, no cloud account).
    Up(cmd::up::UpArgs),
    /// Manage tenants (shops).
    #[command(subcommand)]
    Tenant(cmd::tenant::TenantCommand),
    /// Rebuild a tenant's search index from the store (stop `bookstore up` first).
    Reindex(cmd::reindex::ReindexArgs),
    /// Inspect stage files.
    #[command(subcommand)]
    Stage(cmd::stage::StageCommand),
    /// Render a stage's CloudFormation stack from templates/.
    Render(cmd::render::RenderArgs),
    /// Check a stage's rendered stack: the project's own rules, then cfn-lint.
    Validate(cmd::render::ValidateArgs),
    /// Show what a deploy would change (a change set, deleted afterwards).
    Diff(cmd::deploy::DiffArgs),
    /// Build, package, preview, confirm and apply a stage's stack.
    Deploy(cmd::deploy::DeployArgs),
    /// Delete a stage's stack (the lake bucket is kept unless --purge).
    Destroy(cmd::destroy::DestroyArgs),
    /// Print the deployed stack's outputs.
    Outputs(cmd::outputs::OutputsArgs),
    /// Invoke a deployed function once with an event file.
    Invoke(cmd::functions::InvokeArgs),
    /// Print a deployed function's log lines (--follow for new ones).
    Logs(cmd::functions::LogsArgs),
    /// Build the Lambda bootstrap for Amazon Linux 2023 and zip it.
    Package(cmd::package::PackageArgs),
    /// Query the analytics lake with Athena's SQL.
    #[command(subcommand)]
    Athena(cmd::athena::AthenaCommand),
}

fn main() -> ExitCode {
    allocator::configure();
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => cmd::up::run(args).await,
            Command::Tenant(command) => cmd::tenant::run(command).await,
            Command::Stage(command) => cmd::stage::run(command),
            Command::Reindex(args) => cmd::reindex::run(args).await,
            Command::Render(args) => cmd::render::render(args),
            Command::Validate(args) => cmd::render::validate(args),
            Command::Diff(args) => cmd::deploy::diff(args).await,
            Command::Deploy(args) => cmd::deploy::deploy(args).await,
            Command::Destroy(args) => cmd::destroy::run(args).await,
            Command::Outputs(args) => cmd::outputs::run(args).await,
            Command::Package(args) => cmd::package::run(args).await,
            Command::Invoke(args) => cmd::functions::invoke(args).await,
            Command::Logs(args) => cmd::functions::logs(args).await,
            Command::Athena(command) => cmd::athena::run(command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<stage::StageError>().is_some() { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;

    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BOOKSTORE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a log file or pipe gets plain text.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    if std::env::var("BOOKSTORE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}
