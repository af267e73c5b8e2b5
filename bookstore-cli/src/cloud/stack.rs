//! CloudFormation operations on one stack: state, change sets, execution with live
//! progress, deletion. Every wait polls with a deadline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::describe_sdk_error;
use super::events::StackEvent;

/// How long a change set or a stack operation may take before we give up waiting.
const CHANGE_SET_DEADLINE: Duration = Duration::from_secs(10 * 60);
const OPERATION_DEADLINE: Duration = Duration::from_secs(2 * 60 * 60);

/// What `DescribeStacks` says about a stack.
#[derive(Debug, Clone)]
pub struct StackState {
    pub status: String,
    pub outputs: Vec<StackOutput>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One row of a change set preview.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False`, `Conditional`, or empty when the service does not say.
    pub replacement: String,
}

/// A change set ready to run, or the news that there is nothing to change.
#[derive(Debug)]
pub enum ChangeSet {
    Ready { id: String, changes: Vec<ChangeRow> },
    Empty { id: String },
}

/// The stack's state, or `None` when it does not exist.
pub async fn describe(cf: &Client, stack: &str) -> Result<Option<StackState>> {
    let response = match cf.describe_stacks().stack_name(stack).send().await {
        Ok(response) => response,
        Err(err) => {
            let message = describe_sdk_error(&err);
            if message.contains("does not exist") {
                return Ok(None);
            }
            bail!("cannot describe stack {stack}: {message}");
        }
    };
    let Some(found) = response.stacks().first() else { return Ok(None) };
    let status = found.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    if status == "DELETE_COMPLETE" {
        return Ok(None);
    }
    Ok(Some(StackState {
        status,
        outputs: found
            .outputs()
            .iter()
            .map(|output| StackOutput {
                key: output.output_key().unwrap_or_default().to_owned(),
                value: output.output_value().unwrap_or_default().to_owned(),
                description: output.description().map(str::to_owned),
            })
            .collect(),
        tags: found
            .tags()
            .iter()
            .map(|tag| (tag.key().unwrap_or_default().to_owned(), tag.value().unwrap_or_default().to_owned()))
            .collect(),
    }))
}

/// The template the stack was last deployed with, parsed (YAML or JSON).
pub async fn deployed_template(cf: &Client, stack: &str) -> Result<serde_json::Value> {
    let response = cf
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| anyhow!("cannot read the deployed template of {stack}: {}", describe_sdk_error(&err)))?;
    let body = response.template_body().unwrap_or("{}");
    serde_yaml::from_str(body).with_context(|| format!("the deployed template of {stack} does not parse"))
}

/// What a deploy sends: the template (by URL), its parameters, the stack's tags.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub template_url: &'a str,
    pub parameters: &'a [Parameter],
    pub tags: &'a BTreeMap<String, String>,
}

impl Submission<'_> {
    fn tags(&self) -> Vec<Tag> {
        self.tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
    }
}

/// Creates a change set and waits until CloudFormation has computed it.
pub async fn create_change_set(
    cf: &Client,
    stack: &str,
    kind: ChangeSetType,
    input: Submission<'_>,
) -> Result<ChangeSet> {
    let name = format!("bookstore-{}", Utc::now().format("%Y%m%d%H%M%S%3f"));
    let created = cf
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .change_set_type(kind)
        .template_url(input.template_url)
        .set_parameters(Some(input.parameters.to_vec()))
        .set_tags(Some(input.tags()))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|err| anyhow!("cannot create a change set for {stack}: {}", describe_sdk_error(&err)))?;
    let id = created.id().unwrap_or(&name).to_owned();
    let started = std::time::Instant::now();
    loop {
        let mut changes = Vec::new();
        let mut next_token = None;
        let (status, reason) = loop {
            let page = cf
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(&id)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| anyhow!("cannot read change set {id}: {}", describe_sdk_error(&err)))?;
            changes.extend(page.changes().iter().filter_map(|change| change.resource_change()).map(|resource| {
                ChangeRow {
                    action: resource.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                    logical_id: resource.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: resource.resource_type().unwrap_or_default().to_owned(),
                    replacement: resource.replacement().map(|r| r.as_str().to_owned()).unwrap_or_default(),
                }
            }));
            let status = page.status().cloned();
            let reason = page.status_reason().map(str::to_owned);
            match page.next_token() {
                Some(token) if status == Some(ChangeSetStatus::CreateComplete) => next_token = Some(token.to_owned()),
                _ => break (status, reason),
            }
        };
        match status {
            Some(ChangeSetStatus::CreateComplete) if changes.is_empty() => return Ok(ChangeSet::Empty { id }),
            Some(ChangeSetStatus::CreateComplete) => return Ok(ChangeSet::Ready { id, changes }),
            Some(ChangeSetStatus::Failed) => {
                let reason = reason.unwrap_or_default();
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    return Ok(ChangeSet::Empty { id });
                }
                bail!("CloudFormation could not compute the change set for {stack}: {reason}");
            }
            _ if started.elapsed() > CHANGE_SET_DEADLINE => {
                bail!("change set {id} was still being computed after {CHANGE_SET_DEADLINE:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

pub async fn delete_change_set(cf: &Client, stack: &str, id: &str) -> Result<()> {
    cf.delete_change_set()
        .stack_name(stack)
        .change_set_name(id)
        .send()
        .await
        .map_err(|err| anyhow!("cannot delete change set {id}: {}", describe_sdk_error(&err)))?;
    Ok(())
}

/// Runs a computed change set and shows each resource as it settles.
pub async fn execute(cf: &Client, stack: &str, change_set: &str, expected: usize, poll: Duration) -> Result<()> {
    let before = recent_events(cf, stack).await.unwrap_or_default();
    let seen: HashSet<String> = before.iter().map(|event| event.event_id.clone()).collect();
    cf.execute_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(|err| anyhow!("{stack}: the update failed: {}", describe_sdk_error(&err)))?;
    watch(cf, stack, seen, expected, poll).await
}

/// Applies a template with `CreateStack`/`UpdateStack` instead of a change set. Only for
/// emulators: moto applies a change set's resources but never its outputs or tags, so the
/// previewed change set is deleted and the same template and parameters applied directly.
pub async fn apply_directly(
    cf: &Client,
    stack: &str,
    creating: bool,
    input: Submission<'_>,
    expected: usize,
    poll: Duration,
) -> Result<()> {
    let before = if creating { Vec::new() } else { recent_events(cf, stack).await.unwrap_or_default() };
    let seen: HashSet<String> = before.iter().map(|event| event.event_id.clone()).collect();
    let capabilities = [Capability::CapabilityIam, Capability::CapabilityNamedIam];
    let sent = if creating {
        cf.create_stack()
            .stack_name(stack)
            .template_url(input.template_url)
            .set_parameters(Some(input.parameters.to_vec()))
            .set_tags(Some(input.tags()))
            .set_capabilities(Some(capabilities.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| describe_sdk_error(&err))
    } else {
        cf.update_stack()
            .stack_name(stack)
            .template_url(input.template_url)
            .set_parameters(Some(input.parameters.to_vec()))
            .set_tags(Some(input.tags()))
            .set_capabilities(Some(capabilities.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| describe_sdk_error(&err))
    };
    sent.map_err(|reason| anyhow!("{stack}: the {} failed: {reason}", if creating { "creation" } else { "update" }))?;
    watch(cf, stack, seen, expected, poll).await
}

/// Removes the empty stack a CREATE change set leaves under review, and waits until the
/// name is free again.
pub async fn discard_review_stack(cf: &Client, stack: &str) -> Result<()> {
    cf.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| anyhow!("cannot remove the stack under review {stack}: {}", describe_sdk_error(&err)))?;
    let started = std::time::Instant::now();
    while describe(cf, stack).await?.is_some() {
        if started.elapsed() > CHANGE_SET_DEADLINE {
            bail!("the stack under review {stack} was still there after {CHANGE_SET_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Deletes the stack and waits until it is gone.
pub async fn delete(cf: &Client, stack: &str, expected: usize, poll: Duration) -> Result<()> {
    let before = recent_events(cf, stack).await.unwrap_or_default();
    let seen: HashSet<String> = before.iter().map(|event| event.event_id.clone()).collect();
    cf.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| anyhow!("cannot delete stack {stack}: {}", describe_sdk_error(&err)))?;
    watch(cf, stack, seen, expected, poll).await
}

/// Follows the stack's events until it reaches a final state; on failure, names the
/// resource that caused it.
async fn watch(cf: &Client, stack: &str, mut seen: HashSet<String>, expected: usize, poll: Duration) -> Result<()> {
    let bar = ProgressBar::with_draw_target(Some(expected.max(1) as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = std::time::Instant::now();
    let mut since: Option<DateTime<Utc>> = None;
    let outcome = loop {
        let mut fresh: Vec<StackEvent> =
            recent_events(cf, stack).await?.into_iter().filter(|event| !seen.contains(&event.event_id)).collect();
        fresh.sort_by_key(|event| event.timestamp);
        for event in &fresh {
            seen.insert(event.event_id.clone());
            since = Some(since.map_or(event.timestamp, |s| s.min(event.timestamp)));
            if event.logical_resource_id == event.stack_name {
                bar.set_message(event.resource_status.clone());
                continue;
            }
            let settled = event.resource_status.ends_with("_COMPLETE") || event.is_failure();
            if settled {
                bar.inc(1);
            }
            let reason = event.resource_status_reason.as_deref().map(|r| format!("  {r}")).unwrap_or_default();
            bar.suspend(|| {
                eprintln!(
                    "  {:<22} {:<34} {}{reason}",
                    event.resource_status, event.resource_type, event.logical_resource_id
                )
            });
        }
        let status = describe(cf, stack).await?.map(|state| state.status).unwrap_or_else(|| "DELETE_COMPLETE".into());
        if !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
            break status;
        }
        if started.elapsed() > OPERATION_DEADLINE {
            bar.abandon();
            bail!("{stack} was still {status} after {OPERATION_DEADLINE:?}; follow it in the CloudFormation console");
        }
        tokio::time::sleep(poll).await;
    };
    bar.finish_and_clear();
    let failed = outcome.contains("ROLLBACK") || outcome.ends_with("_FAILED");
    if !failed {
        eprintln!("{stack}: {outcome} in {:.1} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let since = since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    match explain_failure(cf, stack, since).await {
        Some(cause) => bail!("{stack}: {outcome}. {cause}"),
        None => bail!("{stack}: {outcome}; CloudFormation gave no reason (see its events in the console)"),
    }
}

/// The first page of the stack's events (newest first, as CloudFormation returns them);
/// none once the stack is gone.
async fn recent_events(cf: &Client, stack: &str) -> Result<Vec<StackEvent>> {
    match cf.describe_stack_events().stack_name(stack).send().await {
        Ok(page) => Ok(page.stack_events().iter().filter_map(convert_event).collect()),
        Err(err) => {
            let message = describe_sdk_error(&err);
            if message.contains("does not exist") {
                return Ok(Vec::new());
            }
            bail!("cannot read the events of {stack}: {message}")
        }
    }
}

/// All events since `since`, following pages until older ones begin.
async fn events_since(cf: &Client, stack: &str, since: DateTime<Utc>) -> Result<Vec<StackEvent>> {
    let mut events = Vec::new();
    let mut next_token = None;
    loop {
        let page = cf
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|err| anyhow!("cannot read the events of {stack}: {}", describe_sdk_error(&err)))?;
        let converted: Vec<StackEvent> = page.stack_events().iter().filter_map(convert_event).collect();
        let reached_older = converted.iter().any(|event| event.timestamp < since);
        events.extend(converted);
        match page.next_token() {
            Some(token) if !reached_older => next_token = Some(token.to_owned()),
            _ => return Ok(events),
        }
    }
}

/// Walks from the stack into failed nested stacks until it finds the cause.
async fn explain_failure(cf: &Client, stack: &str, since: DateTime<Utc>) -> Option<String> {
    let mut fetched: HashMap<String, Vec<StackEvent>> = HashMap::new();
    loop {
        match super::events::root_cause(stack, &fetched, since) {
            super::events::Walk::Found(path, event) => {
                return Some(format!(
                    "First failure: {} ({}) in {}: {}",
                    event.logical_resource_id,
                    event.resource_type,
                    path.join(" → "),
                    event.reason()
                ));
            }
            super::events::Walk::NeedEvents(nested) => {
                let events = events_since(cf, &nested, since).await.ok()?;
                fetched.insert(nested, events);
            }
            super::events::Walk::NoFailure => return None,
        }
    }
}

fn convert_event(event: &aws_sdk_cloudformation::types::StackEvent) -> Option<StackEvent> {
    let timestamp = event.timestamp()?;
    Some(StackEvent {
        event_id: event.event_id()?.to_owned(),
        stack_name: event.stack_name().unwrap_or_default().to_owned(),
        logical_resource_id: event.logical_resource_id().unwrap_or_default().to_owned(),
        physical_resource_id: event.physical_resource_id().map(str::to_owned),
        resource_type: event.resource_type().unwrap_or_default().to_owned(),
        timestamp: DateTime::from_timestamp(timestamp.secs(), timestamp.subsec_nanos())?,
        resource_status: event.resource_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        resource_status_reason: event.resource_status_reason().map(str::to_owned),
    })
}

/// Prints a change set as a table, or as JSON.
pub fn print_changes(stack: &str, changes: &[ChangeRow], json: bool) {
    if json {
        println!("{}", serde_json::json!({"stack": stack, "changes": changes}));
        return;
    }
    println!("{:<8} {:<44} {:<38} REPLACEMENT", "ACTION", "RESOURCE", "TYPE");
    for change in changes {
        let replacement = match (change.action.as_str(), change.replacement.as_str()) {
            ("Modify", "True") => "yes",
            ("Modify", "False") => "no",
            ("Modify", "Conditional") => "conditional",
            ("Modify", _) => "unknown",
            _ => "-",
        };
        println!("{:<8} {:<44} {:<38} {replacement}", change.action, change.logical_id, change.resource_type);
    }
}
