//! `bookstore stage show`: the stage file as the tool understands it, checked, with
//! defaults filled in and secrets redacted.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use crate::stage;

#[derive(Debug, Subcommand)]
pub enum StageCommand {
    /// Check a stage file and print it as parsed.
    Show(ShowArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The stage to show.
    #[arg(long, default_value = "local")]
    stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    stages_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    output: Format,
}

pub fn run(command: StageCommand) -> Result<()> {
    let StageCommand::Show(args) = command;
    let stage = stage::load(&args.stage, args.stages_dir.as_deref())?;
    match args.output {
        Format::Yaml => print!("{}", serde_yaml::to_string(&stage)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(&stage)?),
    }
    Ok(())
}
