//! Stack events, and the one that explains a failed deploy. CloudFormation reports a
//! failure as a cascade (the cause, then every resource cancelled because of it, then
//! `UPDATE_ROLLBACK_COMPLETE`); the user needs the first real cause, even when it sits in
//! a nested stack.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One stack event, in the shape of `DescribeStackEvents`' JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StackEvent {
    pub event_id: String,
    pub stack_name: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    pub timestamp: DateTime<Utc>,
    pub resource_status: String,
    #[serde(default)]
    pub resource_status_reason: Option<String>,
}

/// A `DescribeStackEvents` response page (the fixtures' shape).
#[cfg(test)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventsPage {
    pub stack_events: Vec<StackEvent>,
}

/// Reasons that only echo an earlier failure.
const CONSEQUENCES: [&str; 4] =
    ["Resource creation cancelled", "Resource update cancelled", "The following resource(s) failed", "Embedded stack"];

impl StackEvent {
    pub fn is_failure(&self) -> bool {
        self.resource_status.ends_with("_FAILED")
    }

    /// A nested stack's own resource in its parent (not the parent's own status events).
    pub fn is_nested_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack" && self.logical_resource_id != self.stack_name
    }

    fn is_consequence(&self) -> bool {
        let reason = self.resource_status_reason.as_deref().unwrap_or_default();
        CONSEQUENCES.iter().any(|echo| reason.starts_with(echo))
    }

    pub fn reason(&self) -> &str {
        self.resource_status_reason.as_deref().unwrap_or("(no reason given)")
    }
}

/// The event that caused a failure: the earliest `*_FAILED` event after `since` that is
/// not an echo of another. Events may come in any order (AWS pages them newest first).
pub fn first_failure(events: &[StackEvent], since: DateTime<Utc>) -> Option<&StackEvent> {
    let mut failures: Vec<&StackEvent> =
        events.iter().filter(|event| event.timestamp >= since && event.is_failure()).collect();
    failures.sort_by_key(|event| event.timestamp);
    failures
        .iter()
        .find(|event| !event.is_consequence())
        .or_else(|| failures.iter().find(|event| event.is_nested_stack()))
        .or(failures.first())
        .copied()
}

/// Where a walk for the cause of a failure stands.
#[derive(Debug, PartialEq)]
pub enum Walk<'a> {
    /// The cause, with the stacks it sits in (root first).
    Found(Vec<String>, &'a StackEvent),
    /// The cause is inside this nested stack, whose events are not fetched yet.
    NeedEvents(String),
    NoFailure,
}

/// Follows failures from `root` into nested stacks, using the events fetched so far
/// (`events[stack]`; the root's are fetched first like any other).
pub fn root_cause<'a>(root: &str, events: &'a HashMap<String, Vec<StackEvent>>, since: DateTime<Utc>) -> Walk<'a> {
    let mut path = vec![root.to_owned()];
    let mut current = root.to_owned();
    loop {
        let Some(stack_events) = events.get(&current) else { return Walk::NeedEvents(current) };
        let Some(failure) = first_failure(stack_events, since) else {
            return if path.len() == 1 { Walk::NoFailure } else { Walk::NeedEvents(current) };
        };
        match (&failure.physical_resource_id, failure.is_nested_stack() && failure.is_consequence()) {
            (Some(nested), true) if !path.contains(nested) => {
                path.push(nested.clone());
                current = nested.clone();
            }
            _ => return Walk::Found(path, failure),
        }
    }
}

/// How to get out of a state in which a stack cannot be deployed to; `None` when it can.
pub fn stuck_advice(stack: &str, status: &str, stage: &str) -> Option<String> {
    let advice = match status {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => format!(
            "stack {stack} is {status}: its first creation failed, and such a stack can only be deleted. \
             Run `bookstore destroy --stage {stage}` and deploy again."
        ),
        "UPDATE_ROLLBACK_FAILED" => format!(
            "stack {stack} is {status}: a rollback could not restore some resources. Fix what the events name \
             (`aws cloudformation describe-stack-events --stack-name {stack}`), then run \
             `aws cloudformation continue-update-rollback --stack-name {stack}` (add --resources-to-skip for \
             resources that can no longer be restored) and deploy again."
        ),
        "DELETE_FAILED" => format!(
            "stack {stack} is {status}: some resources could not be deleted. Run `bookstore destroy --stage {stage}` \
             again; resources that still fail must be emptied or removed by hand first."
        ),
        status if status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS" => format!(
            "stack {stack} is {status}: another operation is running. Wait for it to end \
             (`aws cloudformation wait stack-update-complete --stack-name {stack}`) and deploy again."
        ),
        _ => return None,
    };
    Some(advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, logical: &str, status: &str, reason: Option<&str>, second: u32) -> StackEvent {
        StackEvent {
            event_id: id.to_owned(),
            stack_name: "s".to_owned(),
            logical_resource_id: logical.to_owned(),
            physical_resource_id: None,
            resource_type: "AWS::SQS::Queue".to_owned(),
            timestamp: DateTime::from_timestamp(1_700_000_000 + i64::from(second), 0).expect("time"),
            resource_status: status.to_owned(),
            resource_status_reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn the_cause_wins_over_its_echoes_whatever_the_order() {
        let events = vec![
            event("3", "s", "UPDATE_ROLLBACK_IN_PROGRESS", Some("The following resource(s) failed to update: [A]"), 3),
            event("2", "B", "UPDATE_FAILED", Some("Resource update cancelled"), 2),
            event("1", "A", "UPDATE_FAILED", Some("Queue name taken"), 1),
        ];
        let since = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let cause = first_failure(&events, since).expect("a failure");
        assert_eq!(cause.logical_resource_id, "A");
    }

    #[test]
    fn events_before_the_deploy_are_ignored() {
        let events = vec![event("1", "A", "CREATE_FAILED", Some("old"), 1)];
        let since = DateTime::from_timestamp(1_700_000_010, 0).expect("time");
        assert!(first_failure(&events, since).is_none());
    }

    fn fixture(name: &str) -> Vec<StackEvent> {
        let path = format!("{}/tests/fixtures/stack-events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str::<EventsPage>(&text).expect("events page").stack_events
    }

    #[test]
    fn a_failure_inside_a_nested_stack_is_found_and_named() {
        let parent = fixture("nested-parent.json");
        let nested_id = parent
            .iter()
            .find(|event| event.is_nested_stack())
            .and_then(|event| event.physical_resource_id.clone())
            .expect("nested stack id");
        let since = parent.iter().map(|event| event.timestamp).min().expect("events");
        let mut fetched = HashMap::from([("bookstore-dev".to_owned(), parent)]);
        assert_eq!(root_cause("bookstore-dev", &fetched, since), Walk::NeedEvents(nested_id.clone()));
        fetched.insert(nested_id.clone(), fixture("nested-child.json"));
        let Walk::Found(path, event) = root_cause("bookstore-dev", &fetched, since) else { panic!("no cause") };
        assert_eq!(path, ["bookstore-dev".to_owned(), nested_id]);
        assert_eq!(event.logical_resource_id, "BooksTable");
        assert!(event.reason().contains("Attribute name already exists"), "{}", event.reason());
    }

    #[test]
    fn a_rolled_back_update_names_its_first_failed_resource() {
        let events = fixture("update-rollback.json");
        let since = events.iter().map(|event| event.timestamp).min().expect("events");
        let fetched = HashMap::from([("bookstore-test".to_owned(), events)]);
        let Walk::Found(_, event) = root_cause("bookstore-test", &fetched, since) else { panic!("no cause") };
        assert_eq!(event.logical_resource_id, "ApiFunction");
        assert!(event.reason().contains("MemorySize"), "{}", event.reason());
    }

    #[test]
    fn stuck_states_come_with_a_command() {
        let advice = stuck_advice("bookstore-dev", "ROLLBACK_COMPLETE", "dev").expect("stuck");
        assert!(advice.contains("bookstore destroy --stage dev"));
        assert!(stuck_advice("bookstore-dev", "UPDATE_COMPLETE", "dev").is_none());
    }
}
