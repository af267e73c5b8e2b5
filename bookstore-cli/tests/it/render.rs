//! `bookstore render` and `validate`: every stage renders, matches its reviewed snapshot,
//! and passes cfn-lint; broken stage files and templates are named precisely.

use std::path::Path;

use crate::server::{run, service, temp_dir};

const STAGES: [&str; 4] = ["dev", "test", "prod", "local"];

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

#[test]
fn every_stage_renders_to_its_reviewed_snapshot() {
    for stage in STAGES {
        let out = run(&["render", "--stage", stage]);
        assert!(out.status.success(), "{stage}: {}", String::from_utf8_lossy(&out.stderr));
        let yaml = String::from_utf8(out.stdout).expect("utf-8");
        insta::assert_snapshot!(format!("render-{stage}"), yaml);
    }
}

#[test]
fn every_render_passes_cfn_lint_checkov_and_the_project_checks() {
    let Some(cfn_lint) = service("BOOKSTORE_TEST_CFN_LINT", "a cfn-lint binary") else { return };
    let Some(checkov) = service("BOOKSTORE_TEST_CHECKOV", "a checkov binary") else { return };
    for stage in STAGES {
        let out = run(&["validate", "--stage", stage, "--cfn-lint", &cfn_lint, "--checkov", &checkov]);
        assert!(
            out.status.success(),
            "{stage}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_rendered_stack_holds_what_the_stage_asks_for() {
    let out = run(&["render", "--stage", "prod"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stack: serde_json::Value = serde_yaml::from_slice(&out.stdout).expect("yaml");
    let resources = stack["Resources"].as_object().expect("resources");
    let books = &resources["BooksTable"]["Properties"];
    assert_eq!(books["TableName"], "bookstore-prod-books");
    assert_eq!(books["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert_eq!(books["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(books["GlobalSecondaryIndexes"].as_array().map(Vec::len), Some(3));
    let idempotency = &resources["IdempotencyTable"]["Properties"];
    assert_eq!(idempotency["TimeToLiveSpecification"]["AttributeName"], "expires_at");
    let api = &resources["ApiFunction"]["Properties"];
    assert_eq!(api["Runtime"], "provided.al2023");
    assert_eq!(api["MemorySize"], 1024);
    assert!(stack["Parameters"].get("JwtSecret").is_none(), "prod reads its secret from SSM");
    let mappings: Vec<_> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .map(|r| &r["Properties"])
        .collect();
    assert_eq!(mappings.len(), 4);
    for mapping in mappings {
        assert_eq!(mapping["FunctionResponseTypes"][0], "ReportBatchItemFailures");
        assert_eq!(mapping["BisectBatchOnFunctionError"], true);
        assert_eq!(mapping["MaximumRetryAttempts"], 10);
        assert!(mapping["DestinationConfig"]["OnFailure"]["Destination"].is_object());
    }
    let lake = resources.values().find(|r| r["Type"] == "AWS::S3::Bucket" && r["DeletionPolicy"] == "Retain");
    assert!(lake.is_some(), "the lake bucket outlives the stack");

    // Hardening: the stage key on every store of data, reserved concurrency, versioned
    // and logged buckets, API Gateway's ceiling with sign-in routes of their own.
    let stage_key = serde_json::json!({"Ref": "StageKey"});
    let stage_key_arn = serde_json::json!({"Fn::GetAtt": ["StageKey", "Arn"]});
    assert_eq!(resources["StageKey"]["Properties"]["EnableKeyRotation"], true);
    assert_eq!(resources["StageKey"]["DeletionPolicy"], "Retain", "prod's retained tables need their key");
    assert_eq!(books["SSESpecification"]["KMSMasterKeyId"], stage_key);
    assert_eq!(api["KmsKeyArn"], stage_key_arn);
    assert_eq!(api["ReservedConcurrentExecutions"], 200);
    assert_eq!(resources["TenantAdminFunction"]["Properties"]["ReservedConcurrentExecutions"], 1);
    assert_eq!(resources["ApiFunctionLogGroup"]["Properties"]["KmsKeyId"], stage_key_arn);
    assert_eq!(resources["StreamFailuresQueue"]["Properties"]["KmsMasterKeyId"], stage_key);
    assert_eq!(resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"], stage_key);
    for bucket in ["LakeBucket", "AthenaResultsBucket"] {
        let properties = &resources[bucket]["Properties"];
        assert_eq!(properties["VersioningConfiguration"]["Status"], "Enabled", "{bucket}");
        assert_eq!(properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"], "AccessLogsBucket", "{bucket}");
    }
    let gateway = &resources["HttpApiStage"]["Properties"];
    assert_eq!(gateway["DefaultRouteSettings"]["ThrottlingRateLimit"], 2000);
    assert_eq!(gateway["RouteSettings"]["POST /api/v1/users/login"]["ThrottlingBurstLimit"], 100);
    let routes: Vec<_> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Route")
        .map(|r| &r["Properties"]["RouteKey"])
        .collect();
    assert!(routes.contains(&&serde_json::json!("POST /api/v1/users/register")), "{routes:?}");
    let limits: serde_json::Value =
        serde_json::from_str(api["Environment"]["Variables"]["BOOKSTORE_RATE_LIMITS"].as_str().expect("json text"))
            .expect("json");
    assert_eq!(limits["sign_in_per_account"], serde_json::json!({"attempts": 10, "window_seconds": 300}));
    assert!(resources.contains_key("RateLimitsTable"), "the shared budgets' table");

    let dev = run(&["render", "--stage", "dev"]);
    let dev: serde_json::Value = serde_yaml::from_slice(&dev.stdout).expect("yaml");
    assert_eq!(dev["Parameters"]["JwtSecret"]["NoEcho"], true, "dev's literal secret is a NoEcho parameter");
    assert!(!String::from_utf8_lossy(&run(&["render", "--stage", "dev"]).stdout).contains("dev-secret-rotate-me"));
    let dev = dev["Resources"].as_object().expect("resources");
    assert!(!dev.contains_key("StageKey"), "a customer-managed key is prod's option");
    let skipped = &dev["UsersTable"]["Metadata"]["checkov"]["skip"];
    assert_eq!(skipped[0]["id"], "CKV_AWS_119", "{skipped}");
    assert!(skipped[0]["comment"].as_str().is_some_and(|reason| reason.contains("customer_managed_key")));
}

#[test]
fn render_out_writes_the_stack_file() {
    let dir = temp_dir("render-out");
    let out = run(&["render", "--stage", "test", "--out", dir.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(dir.join("bookstore-test.yaml")).expect("rendered file");
    assert!(written.contains("AWSTemplateFormatVersion"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_aws_stage_files_name_file_and_field_and_exit_2() {
    let prod = repo_file("stages/prod.yaml");
    let test = repo_file("stages/test.yaml");
    let cases = [
        ("prod", prod.replace("logs:\n", "logs:\n  shred: true\n"), "logs", "shred"),
        ("prod", prod.replace("volume_gb: 200", "volume_gb: huge"), "search.volume_gb", "invalid"),
        (
            "prod",
            prod.replace(
                "ssm_parameter: /bookstore-prod/jwt-secret",
                "literal: a-literal-secret-that-is-long-enough-000",
            ),
            "auth.jwt_secret",
            "SSM",
        ),
        ("prod", prod.replace("region: eu-west-1\n", ""), "region", "missing"),
        ("test", test.replace("  capacity: { read: 5, write: 5 }\n", ""), "tables.capacity", "PROVISIONED"),
        ("test", test.replace("retention_days: 7", "retention_days: 8"), "logs.retention_days", "one of"),
        ("test", test.replace("memory_mb: 128", "memory_mb: 64"), "functions.streams.memory_mb", "128"),
    ];
    for (stage, text, field, hint) in cases {
        let dir = temp_dir("bad-stage");
        std::fs::write(dir.join(format!("{stage}.yaml")), text).expect("write");
        let out = run(&["render", "--stage", stage, "--stages-dir", dir.to_str().expect("path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {stderr}");
        assert!(
            stderr.contains(&format!("{stage}.yaml")) && stderr.contains(field) && stderr.contains(hint),
            "{field}: {stderr}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_template_naming_an_unknown_value_fails_with_its_file_and_line() {
    let dir = temp_dir("bad-template");
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    copy_dir(&templates, &dir);
    let root = dir.join("stack.yaml.j2");
    let text = std::fs::read_to_string(&root).expect("root template");
    std::fs::write(&root, format!("# {{{{ stage.colour }}}}\n{text}")).expect("write");
    let out = run(&["render", "--stage", "dev", "--templates-dir", dir.to_str().expect("path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stack.yaml.j2:1") && stderr.contains("undefined"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
