//! `bookstore package`: build and zip every function, optionally upload them.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::stack::{OutputFormat, StackArgs};
use crate::cloud::{AwsArgs, artifacts};
use crate::package::{build_and_zip, workspace_root};

#[derive(Debug, Args)]
pub struct PackageArgs {
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Where the zips go (default: target/lambda-packages).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also upload them to the stage's artifacts bucket.
    #[arg(long)]
    pub upload: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

pub async fn run(args: PackageArgs) -> Result<()> {
    let stage = args.target.stage()?;
    let root = workspace_root()?;
    let out = args.out.unwrap_or_else(|| root.join("target").join("lambda-packages"));
    let packages = build_and_zip(&root, &out)?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string(&packages)?),
        OutputFormat::Table => {
            for package in &packages {
                println!(
                    "{:<22} {:>10} bytes  {}  {}",
                    package.function,
                    package.bytes,
                    package.sha256,
                    package.path.display()
                );
            }
        }
    }
    if args.upload {
        let clients = args.aws.clients(&stage).await;
        let bucket = stage.artifacts_bucket();
        artifacts::ensure_bucket(&clients, &bucket).await?;
        let uploaded = artifacts::upload_packages(&clients, &bucket, &packages).await?;
        eprintln!("{uploaded} of {} zips uploaded to s3://{bucket} (the rest were there already)", packages.len());
    }
    Ok(())
}
