//! The project's own checks on a rendered stack: what cfn-lint cannot know (our naming,
//! least privilege, the deploy limits `bookstore deploy` relies on).

use std::collections::BTreeSet;

use serde_json::Value;

/// CloudFormation's limits for a template given by URL.
const MAX_TEMPLATE_BYTES: usize = 1_000_000;
const MAX_RESOURCES: usize = 500;
const MAX_GSIS: usize = 20;

/// Services whose IAM actions must name exact resources, never `*`.
const RESOURCE_SCOPED_SERVICES: [&str; 5] = ["dynamodb:", "s3:", "ssm:", "sqs:", "logs:"];

/// One broken rule: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub resource: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.resource, self.message)
    }
}

/// Runs every check; an empty list means the stack passed.
pub fn check(yaml: &str, document: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut found = |resource: &str, message: String| {
        findings.push(Finding { resource: resource.to_owned(), message });
    };
    if yaml.len() > MAX_TEMPLATE_BYTES {
        found("(template)", format!("{} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BYTES}", yaml.len()));
    }
    let empty = serde_json::Map::new();
    let resources = document.get("Resources").and_then(Value::as_object).unwrap_or(&empty);
    if resources.is_empty() {
        found("(template)", "has no Resources".to_owned());
    }
    if resources.len() > MAX_RESOURCES {
        found("(template)", format!("{} resources; CloudFormation allows {MAX_RESOURCES}", resources.len()));
    }
    let parameters = document.get("Parameters").and_then(Value::as_object).unwrap_or(&empty);
    let known: BTreeSet<&str> = resources.keys().chain(parameters.keys()).map(String::as_str).collect();
    let mut references = Vec::new();
    for (id, resource) in resources {
        collect_references(id, resource, &mut references);
        check_skips(id, resource, &mut found);
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
        let properties = resource.get("Properties").unwrap_or(&Value::Null);
        match kind {
            "AWS::DynamoDB::Table" => check_table(id, properties, &mut found),
            "AWS::IAM::Role" => check_role(id, properties, &mut found),
            "AWS::S3::Bucket" => check_bucket(id, properties, &mut found),
            "AWS::Lambda::Function" => check_function(id, properties, resources, &mut found),
            _ => {}
        }
    }
    if let Some(outputs) = document.get("Outputs").and_then(Value::as_object) {
        for (id, output) in outputs {
            collect_references(&format!("Outputs.{id}"), output, &mut references);
        }
    }
    for (from, target) in references {
        if !target.starts_with("AWS::") && !known.contains(target.as_str()) {
            found(&from, format!("refers to {target}, which is neither a resource nor a parameter"));
        }
    }
    findings.sort();
    findings.dedup();
    findings
}

/// Every `Ref`, `Fn::GetAtt` and `${Name}` inside `Fn::Sub`, with where it was found.
fn collect_references(from: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(target)) => out.push((from.to_owned(), target.clone())),
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(target)) = parts.first() {
                            out.push((from.to_owned(), target.clone()));
                        }
                    }
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        let target = dotted.split('.').next().unwrap_or_default();
                        out.push((from.to_owned(), target.to_owned()));
                    }
                    ("Fn::Sub", Value::String(text)) => sub_variables(from, text, &BTreeSet::new(), out),
                    ("Fn::Sub", Value::Array(parts)) => {
                        let local: BTreeSet<String> = parts
                            .get(1)
                            .and_then(Value::as_object)
                            .map(|m| m.keys().cloned().collect())
                            .unwrap_or_default();
                        if let Some(Value::String(text)) = parts.first() {
                            sub_variables(from, text, &local, out);
                        }
                        if let Some(map) = parts.get(1) {
                            collect_references(from, map, out);
                        }
                    }
                    _ => collect_references(from, inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(from, item, out)),
        _ => {}
    }
}

fn sub_variables(from: &str, text: &str, local: &BTreeSet<String>, out: &mut Vec<(String, String)>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        // `${!Literal}` is an escaped literal, not a reference.
        if !name.starts_with('!') {
            let target = name.split('.').next().unwrap_or_default().trim();
            if !local.contains(target) {
                out.push((from.to_owned(), target.to_owned()));
            }
        }
        rest = &after[end + 1..];
    }
}

/// Every checkov check a resource skips (`Metadata.checkov.skip`) names the check and
/// says why: a skip without a reason is a finding hidden, not accepted.
fn check_skips(id: &str, resource: &Value, found: &mut impl FnMut(&str, String)) {
    let Some(skips) = resource.pointer("/Metadata/checkov/skip") else { return };
    let Some(skips) = skips.as_array() else {
        found(id, "Metadata.checkov.skip must be a list of {id, comment}".to_owned());
        return;
    };
    for skip in skips {
        let check = skip.get("id").and_then(Value::as_str).unwrap_or_default();
        let reason = skip.get("comment").and_then(Value::as_str).unwrap_or_default();
        if !check.starts_with("CKV") || reason.trim().len() < 20 {
            found(id, format!("skips checkov check {check:?} without a reason (each skip needs an id and a comment)"));
        }
    }
}

fn check_table(id: &str, properties: &Value, found: &mut impl FnMut(&str, String)) {
    let mut used = BTreeSet::new();
    let mut key_names = |schema: Option<&Value>| {
        for element in schema.and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = element.get("AttributeName").and_then(Value::as_str) {
                used.insert(name.to_owned());
            }
        }
    };
    key_names(properties.get("KeySchema"));
    let indexes = properties.get("GlobalSecondaryIndexes").and_then(Value::as_array).cloned().unwrap_or_default();
    for index in &indexes {
        key_names(index.get("KeySchema"));
    }
    if indexes.len() > MAX_GSIS {
        found(id, format!("{} global secondary indexes; DynamoDB allows {MAX_GSIS}", indexes.len()));
    }
    let defined: BTreeSet<String> = properties
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("AttributeName").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if defined != used {
        found(id, format!("AttributeDefinitions {defined:?} must be exactly the key attributes {used:?}"));
    }
    if properties.get("SSESpecification").is_none() {
        found(id, "has no SSESpecification (encryption at rest)".to_owned());
    }
}

fn check_role(id: &str, properties: &Value, found: &mut impl FnMut(&str, String)) {
    if properties.get("ManagedPolicyArns").is_some() {
        found(id, "uses managed policies; roles get inline least-privilege policies only".to_owned());
    }
    let statements = properties
        .get("Policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|policy| policy.pointer("/PolicyDocument/Statement").and_then(Value::as_array))
        .flatten();
    for statement in statements {
        let actions = as_strings(statement.get("Action"));
        let resources = statement.get("Resource");
        let wildcard_resource = matches!(resources, Some(Value::String(r)) if r == "*")
            || resources.and_then(Value::as_array).is_some_and(|list| list.iter().any(|r| r == "*"));
        if actions.iter().any(|action| action == "*" || action.ends_with(":*")) {
            found(id, format!("grants a wildcard action {actions:?}"));
        }
        if wildcard_resource
            && let Some(action) =
                actions.iter().find(|action| RESOURCE_SCOPED_SERVICES.iter().any(|service| action.starts_with(service)))
        {
            found(id, format!("grants {action} on every resource (\"*\"); name the exact ARN"));
        }
    }
}

fn check_bucket(id: &str, properties: &Value, found: &mut impl FnMut(&str, String)) {
    if properties.get("BucketEncryption").is_none() {
        found(id, "has no BucketEncryption".to_owned());
    }
    let block = properties.get("PublicAccessBlockConfiguration");
    let all_blocked = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
        .iter()
        .all(|flag| block.and_then(|b| b.get(flag)).and_then(Value::as_bool) == Some(true));
    if !all_blocked {
        found(id, "does not block all public access".to_owned());
    }
}

fn check_function(
    id: &str,
    properties: &Value,
    resources: &serde_json::Map<String, Value>,
    found: &mut impl FnMut(&str, String),
) {
    if properties.get("Runtime").and_then(Value::as_str) != Some("provided.al2023") {
        found(id, "must run on provided.al2023 (the bootstrap is built for its glibc)".to_owned());
    }
    let Some(name) = properties.get("FunctionName").and_then(Value::as_str) else {
        found(id, "has no FunctionName, so its log group cannot be declared".to_owned());
        return;
    };
    let log_group = format!("/aws/lambda/{name}");
    let has_log_group = resources.values().any(|resource| {
        resource.get("Type").and_then(Value::as_str) == Some("AWS::Logs::LogGroup")
            && resource.pointer("/Properties/LogGroupName").and_then(Value::as_str) == Some(log_group.as_str())
            && resource.pointer("/Properties/RetentionInDays").is_some()
    });
    if !has_log_group {
        found(id, format!("has no log group {log_group} with a retention"));
    }
}

fn as_strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(yaml: &str) -> Vec<String> {
        let document: Value = serde_yaml::from_str(yaml).expect("yaml");
        check(yaml, &document).into_iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn dangling_references_are_found_in_ref_getatt_and_sub() {
        let found = findings(
            "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {Ref: Missing}\n      \
             Tags: [{Key: a, Value: {'Fn::GetAtt': [Gone, Arn]}}, {Key: b, Value: {'Fn::Sub': '${Nope.Arn}-${AWS::Region}-${!Lit}'}}]\n",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().any(|f| f.contains("Missing")));
        assert!(found.iter().any(|f| f.contains("Gone")));
        assert!(found.iter().any(|f| f.contains("Nope")));
    }

    #[test]
    fn wildcard_resources_on_data_services_are_refused() {
        let found = findings(
            "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: p\n          \
             PolicyDocument:\n            Statement:\n              - {Effect: Allow, Action: [dynamodb:GetItem], Resource: '*'}\n              \
             - {Effect: Allow, Action: [ec2:CreateNetworkInterface], Resource: '*'}\n",
        );
        assert_eq!(found, ["Role: grants dynamodb:GetItem on every resource (\"*\"); name the exact ARN"]);
    }

    #[test]
    fn a_checkov_skip_needs_its_reason() {
        let resource = |skip: &str| {
            format!(
                "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Metadata:\n      checkov:\n        skip: {skip}\n"
            )
        };
        let reasoned = resource("[{id: CKV_AWS_27, comment: 'a reason long enough to be one'}]");
        assert_eq!(findings(&reasoned), Vec::<String>::new());
        for unreasoned in [
            "[{id: CKV_AWS_27}]",
            "[{id: CKV_AWS_27, comment: ' '}]",
            "[{comment: 'a reason long enough to be one'}]",
            "CKV_AWS_27",
        ] {
            let found = findings(&resource(unreasoned));
            assert_eq!(found.len(), 1, "{unreasoned}: {found:?}");
            assert!(found[0].starts_with("Q: "), "{found:?}");
        }
    }

    #[test]
    fn table_attribute_definitions_must_match_keys() {
        let found = findings(
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      SSESpecification: {SSEEnabled: true}\n      \
             KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      \
             AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: extra, AttributeType: S}]\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("AttributeDefinitions"));
    }
}
