//! `bookstore destroy`: deletes the stage's stack. The lake bucket outlives it (it holds
//! the business's history) unless `--purge` says otherwise.

use anyhow::{Result, bail};
use clap::Args;

use super::stack::{StackArgs, confirm, poll_interval};
use crate::cloud::stack::{self, StackOutput};
use crate::cloud::{AwsArgs, artifacts};

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Go ahead without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete the lake bucket and the artifacts bucket, with everything in them.
    #[arg(long)]
    pub purge: bool,
}

pub async fn run(args: DestroyArgs) -> Result<()> {
    let stage = args.target.stage()?;
    let clients = args.aws.clients(&stage).await;
    let cf = &clients.cloudformation;
    let name = stage.stack_name();
    let Some(state) = stack::describe(cf, &name).await? else {
        bail!("stack {name} does not exist; nothing to destroy");
    };
    if !args.yes {
        let what =
            if args.purge { "and its lake and artifacts buckets, data included" } else { "(the lake bucket is kept)" };
        if !confirm(&format!("delete stack {name} {what}?"))? {
            bail!("cancelled; {name} was not changed");
        }
    }
    let output = |key: &str| state.outputs.iter().find(|o: &&StackOutput| o.key == key).map(|o| o.value.clone());
    // CloudFormation cannot delete a bucket with objects in it; query results are
    // disposable, and so are access logs outside prod (whose bucket the stack keeps).
    if let Some(results) = output("AthenaResultsBucket") {
        artifacts::empty_bucket(&clients, &results).await?;
    }
    let access_logs = output("AccessLogsBucket");
    if let Some(logs) = access_logs.as_deref().filter(|_| !stage.keeps_data_on_destroy()) {
        artifacts::empty_bucket(&clients, logs).await?;
    }
    let resources = cf
        .list_stack_resources()
        .stack_name(&name)
        .send()
        .await
        .map(|r| r.stack_resource_summaries().len())
        .unwrap_or(1);
    let deleted = stack::delete(cf, &name, resources, poll_interval(&clients)).await;
    if deleted.is_err() && stack::describe(cf, &name).await?.is_some() {
        return deleted;
    }
    // The stack is gone even if some resource failed to go with it: purge what was asked,
    // then report that failure.
    match output("LakeBucket") {
        Some(lake) if args.purge => {
            artifacts::delete_bucket(&clients, &lake).await?;
            eprintln!("deleted lake bucket {lake}");
        }
        Some(lake) => eprintln!("kept lake bucket {lake} (delete it with --purge)"),
        None => {}
    }
    if let Some(logs) = access_logs.filter(|_| args.purge && stage.keeps_data_on_destroy()) {
        artifacts::delete_bucket(&clients, &logs).await?;
        eprintln!("deleted access logs bucket {logs}");
    }
    if args.purge {
        artifacts::delete_bucket(&clients, &stage.artifacts_bucket()).await?;
        eprintln!("deleted artifacts bucket {}", stage.artifacts_bucket());
    }
    deleted?;
    eprintln!("{name}: destroyed");
    Ok(())
}
