//! `bookstore deploy` and `bookstore diff`: package, preview as a change set, confirm,
//! execute with live progress, print outputs. A deploy with nothing new ends before any
//! change set; one that changes several indexes of a table runs as several updates.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use aws_sdk_cloudformation::types::ChangeSetType;
use clap::Args;

use super::stack::{
    CodeSource, FINGERPRINT_TAG, OutputFormat, StackArgs, TEMPLATE_FINGERPRINT_TAG, confirm, fingerprint, parameters,
    poll_interval, print_outputs, template_fingerprint,
};
use crate::cloud::events::stuck_advice;
use crate::cloud::functions::{Swap, start_code_update, wait_until_updated};
use crate::cloud::stack::{self, ChangeSet, Submission};
use crate::cloud::{AwsArgs, Clients, artifacts, gsi_steps};
use crate::package::{Package, build_and_zip, read_packages, workspace_root};

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Go ahead without asking after the preview.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Use the zips `bookstore package --out DIR` wrote instead of building.
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// When only function code changed, update it through the Lambda API and skip
    /// CloudFormation (the stack then differs from its template until the next full
    /// deploy); any other change deploys in full.
    #[arg(long)]
    pub hotswap: bool,
}

pub async fn deploy(args: DeployArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (stage, rendered) = args.target.render_for_aws()?;
    let clients = args.aws.clients(&stage).await;
    let cf = &clients.cloudformation;
    let name = stage.stack_name();
    let state = deployable_state(cf, &name, &stage.name).await?;
    let packages = match &args.artifacts {
        Some(dir) => read_packages(dir)?,
        None => {
            let root = workspace_root()?;
            build_and_zip(&root, &root.join("target").join("lambda-packages"))?
        }
    };
    let creating = state.as_ref().is_none_or(|state| state.status == "REVIEW_IN_PROGRESS");
    let lake_mode = if creating { Some(artifacts::lake_bucket_mode(&clients, &stage).await?) } else { None };
    let parameters = parameters(&stage, &rendered, CodeSource::Packages(&packages), lake_mode)?;
    let fingerprint = fingerprint(&rendered, &parameters);
    if let Some(state) = &state
        && state.status.ends_with("_COMPLETE")
        && state.tags.get(FINGERPRINT_TAG) == Some(&fingerprint)
    {
        eprintln!(
            "{name}: no changes (same template, parameters and code); checked in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        print_outputs(&state.outputs, args.output);
        return Ok(());
    }
    let bucket = stage.artifacts_bucket();
    artifacts::ensure_bucket(&clients, &bucket).await?;
    artifacts::upload_packages(&clients, &bucket, &packages).await?;
    let template_fingerprint = template_fingerprint(&rendered, &parameters);
    if args.hotswap {
        match state.as_ref().filter(|state| state.status.ends_with("_COMPLETE")) {
            Some(state) if state.tags.get(TEMPLATE_FINGERPRINT_TAG) == Some(&template_fingerprint) => {
                return hotswap(&clients, &stage.prefix, &bucket, &packages, &name, started).await;
            }
            Some(_) => eprintln!("--hotswap: the template or its parameters changed, not only code; deploying in full"),
            None => eprintln!("--hotswap: {name} does not exist yet; deploying in full"),
        }
    }

    let steps = if creating {
        vec![gsi_steps::Step { template: rendered.document.clone(), index_changes: Vec::new() }]
    } else {
        gsi_steps::plan(&stack::deployed_template(cf, &name).await?, &rendered.document)
    };
    if steps.len() > 1 {
        eprintln!(
            "{name}: this deploy runs as {} updates, because CloudFormation changes one index per table per update",
            steps.len()
        );
    }
    let mut confirmed = args.yes;
    let mut kind = if creating { ChangeSetType::Create } else { ChangeSetType::Update };
    for (number, step) in steps.iter().enumerate() {
        let last = number + 1 == steps.len();
        let yaml = if last { rendered.yaml.clone() } else { serde_yaml::to_string(&step.template)? };
        let url = artifacts::upload_template(&clients, &bucket, &name, &yaml).await?;
        let tags = BTreeMap::from([
            ("bookstore:stage".to_owned(), stage.name.clone()),
            (FINGERPRINT_TAG.to_owned(), if last { fingerprint.clone() } else { format!("step-{}", number + 1) }),
            (
                TEMPLATE_FINGERPRINT_TAG.to_owned(),
                if last { template_fingerprint.clone() } else { format!("step-{}", number + 1) },
            ),
        ]);
        if steps.len() > 1 {
            eprintln!("update {} of {}: {}", number + 1, steps.len(), step.index_changes.join(", "));
        }
        let input = Submission { template_url: &url, parameters: &parameters, tags: &tags };
        match stack::create_change_set(cf, &name, kind.clone(), input).await? {
            ChangeSet::Empty { id } => {
                stack::delete_change_set(cf, &name, &id).await?;
                eprintln!("{name}: no changes to apply");
            }
            ChangeSet::Ready { id, changes } => {
                stack::print_changes(&name, &changes, args.output == OutputFormat::Json);
                if !confirmed {
                    let answer = confirm(&format!("apply these {} changes to {name}?", changes.len()));
                    if !matches!(answer, Ok(true)) {
                        stack::delete_change_set(cf, &name, &id).await?;
                        if kind == ChangeSetType::Create {
                            stack::discard_review_stack(cf, &name).await?;
                        }
                        answer?;
                        bail!("cancelled; {name} was not changed");
                    }
                    confirmed = true;
                }
                let poll = poll_interval(&clients);
                if clients.emulated {
                    stack::delete_change_set(cf, &name, &id).await?;
                    let creating = kind == ChangeSetType::Create;
                    if creating {
                        stack::discard_review_stack(cf, &name).await?;
                    }
                    stack::apply_directly(cf, &name, creating, input, changes.len(), poll).await?;
                } else {
                    stack::execute(cf, &name, &id, changes.len(), poll).await?;
                }
            }
        }
        kind = ChangeSetType::Update;
    }
    let Some(state) = stack::describe(cf, &name).await? else { bail!("{name} vanished after the deploy") };
    eprintln!("{name}: deployed in {:.1} s", started.elapsed().as_secs_f64());
    print_outputs(&state.outputs, args.output);
    Ok(())
}

/// Updates each function's code that differs from its package, through the Lambda API.
async fn hotswap(
    clients: &Clients,
    prefix: &str,
    bucket: &str,
    packages: &[Package],
    stack: &str,
    started: std::time::Instant,
) -> Result<()> {
    let mut updated = Vec::new();
    for package in packages {
        let function = format!("{prefix}-{}", package.function);
        if start_code_update(clients, &function, bucket, package).await? == Swap::Updated {
            updated.push(function);
        }
    }
    let poll = poll_interval(clients).min(std::time::Duration::from_millis(500));
    wait_until_updated(clients, &updated, poll).await?;
    for function in &updated {
        eprintln!("  hotswapped {function}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    if updated.is_empty() {
        eprintln!(
            "{stack}: hotswapped the code of 0 of {} functions in {elapsed:.1} s: they run this code already",
            packages.len()
        );
    } else {
        eprintln!(
            "{stack}: hotswapped the code of {} of {} functions in {elapsed:.1} s, without CloudFormation; \
             the stack now differs from its template (its code parameters name the previous zip) until the next full deploy",
            updated.len(),
            packages.len()
        );
    }
    Ok(())
}

/// The stack's state, or an error explaining how to get it out of a state no deploy can
/// start from.
async fn deployable_state(
    cf: &aws_sdk_cloudformation::Client,
    name: &str,
    stage: &str,
) -> Result<Option<stack::StackState>> {
    let state = stack::describe(cf, name).await?;
    if let Some(state) = &state
        && let Some(advice) = stuck_advice(name, &state.status, stage)
    {
        bail!(advice);
    }
    Ok(state)
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: StackArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Compare code too, using the zips `bookstore package --out DIR` wrote.
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

/// Computes what a deploy would change, prints it, and leaves the stack untouched.
pub async fn diff(args: DiffArgs) -> Result<()> {
    let (stage, rendered) = args.target.render_for_aws()?;
    let clients = args.aws.clients(&stage).await;
    let cf = &clients.cloudformation;
    let name = stage.stack_name();
    let state = deployable_state(cf, &name, &stage.name).await?;
    let creating = state.as_ref().is_none_or(|state| state.status == "REVIEW_IN_PROGRESS");
    let packages = args.artifacts.as_deref().map(read_packages).transpose()?;
    let code = match (&packages, creating) {
        (Some(packages), _) => CodeSource::Packages(packages),
        (None, false) => CodeSource::Deployed,
        (None, true) => CodeSource::Placeholder,
    };
    if packages.is_none() {
        eprintln!("(code changes are not compared; pass --artifacts DIR from `bookstore package --out DIR`)");
    }
    let lake_mode = if creating { Some(artifacts::lake_bucket_mode(&clients, &stage).await?) } else { None };
    let parameters = parameters(&stage, &rendered, code, lake_mode)?;
    let bucket = stage.artifacts_bucket();
    artifacts::ensure_bucket(&clients, &bucket).await?;
    let url = artifacts::upload_template(&clients, &bucket, &name, &rendered.yaml).await?;
    let kind = if creating { ChangeSetType::Create } else { ChangeSetType::Update };
    let tags = BTreeMap::from([("bookstore:stage".to_owned(), stage.name.clone())]);
    let input = Submission { template_url: &url, parameters: &parameters, tags: &tags };
    let change_set = stack::create_change_set(cf, &name, kind, input).await?;
    let (id, changes) = match change_set {
        ChangeSet::Ready { id, changes } => (id, changes),
        ChangeSet::Empty { id } => (id, Vec::new()),
    };
    stack::print_changes(&name, &changes, args.output == OutputFormat::Json);
    stack::delete_change_set(cf, &name, &id).await?;
    if creating && state.is_none() {
        stack::discard_review_stack(cf, &name).await?;
    }
    if changes.is_empty() {
        eprintln!("{name}: no changes");
    }
    Ok(())
}
