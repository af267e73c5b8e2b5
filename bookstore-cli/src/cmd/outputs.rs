//! `bookstore outputs`: what the deployed stack exports (API URL, table names, buckets).

use anyhow::{Result, bail};
use clap::Args;

use super::stack::{OutputFormat, StackArgs, print_outputs};
use crate::cloud::{AwsArgs, stack};

#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

pub async fn run(args: OutputsArgs) -> Result<()> {
    let stage = args.target.stage()?;
    let clients = args.aws.clients(&stage).await;
    let name = stage.stack_name();
    let Some(state) = stack::describe(&clients.cloudformation, &name).await? else {
        bail!("stack {name} does not exist; deploy it with `bookstore deploy --stage {}`", stage.name);
    };
    print_outputs(&state.outputs, args.output);
    Ok(())
}
