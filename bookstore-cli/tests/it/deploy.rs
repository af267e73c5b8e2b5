//! `bookstore package | deploy | diff | outputs | destroy` against a moto server. What a
//! deploy created is checked through the AWS CLI (boto3), not just the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::render::copy_dir;
use crate::server::{bookstore, service, temp_dir};

/// The endpoint and AWS CLI, or `None` when the test is skipped.
pub(crate) fn moto() -> Option<(String, String)> {
    let url = service("BOOKSTORE_TEST_MOTO_URL", "a moto server's URL")?;
    let cli = service("BOOKSTORE_TEST_AWS_CLI", "the aws CLI from the test venv")?;
    Some((url, cli))
}

/// Fake credentials for moto, and no instance-metadata lookups.
pub(crate) fn with_aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
}

/// Builds the functions once per test run (into their own target directory, so the build
/// does not wait for the lock `cargo test` holds) and returns the zips' directory.
pub(crate) fn packages() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("packages");
        let out = package_into(&dir);
        let progress = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "package: {progress}");
        assert!(progress.contains("  built bootstrap "), "one line for the bootstrap: {progress}");
        assert!(!progress.contains("Compiling "), "cargo's lines go to its log: {progress}");
        dir
    })
}

fn package_into(dir: &Path) -> Output {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lambda-tests");
    bookstore()
        .args(["package", "--stage", "test", "--output", "json", "--out", dir.to_str().expect("path")])
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("bookstore package runs")
}

/// A copy of stages/test.yaml with its own prefix, so tests never share a stack.
pub(crate) struct TestStage {
    dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) endpoint: String,
    pub(crate) aws_cli: String,
}

impl TestStage {
    pub(crate) fn new(endpoint: String, aws_cli: String) -> Self {
        let dir = temp_dir("deploy-stage");
        let prefix = format!("bt-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages/test.yaml"))
            .expect("test stage");
        std::fs::write(dir.join("test.yaml"), text.replace("prefix: bookstore-test", &format!("prefix: {prefix}")))
            .expect("write stage");
        Self { dir, prefix, endpoint, aws_cli }
    }

    pub(crate) fn stages_dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("test.yaml");
        let text = std::fs::read_to_string(&path).expect("stage");
        assert!(text.contains(from), "stage has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).expect("write stage");
    }

    /// `bookstore <words> --stage test …` against moto; more arguments may follow.
    pub(crate) fn command(&self, words: &[&str]) -> Command {
        let mut cmd = bookstore();
        cmd.args(words)
            .args(["--stage", "test", "--stages-dir", self.dir.to_str().expect("path")])
            .args(["--endpoint-url", &self.endpoint]);
        with_aws_env(&mut cmd);
        cmd
    }

    pub(crate) fn bookstore(&self, command: &str, extra: &[&str]) -> Output {
        self.command(&[command]).args(extra).output().expect("bookstore runs")
    }

    pub(crate) fn deploy(&self, extra: &[&str]) -> Output {
        let packages = packages().to_str().expect("path").to_owned();
        let mut args = vec!["--yes", "--artifacts", packages.as_str()];
        args.extend_from_slice(extra);
        self.bookstore("deploy", &args)
    }

    /// Runs the AWS CLI against moto and parses its JSON answer.
    pub(crate) fn aws(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = Command::new(&self.aws_cli);
        cmd.args(["--endpoint-url", &self.endpoint, "--region", "eu-west-1", "--output", "json"]).args(args);
        let out = with_aws_env(&mut cmd).output().expect("aws runs");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
    }
}

impl Drop for TestStage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_packaged_bootstrap_needs_no_glibc_newer_than_2_34_and_zips_reproducibly() {
    let Some(_) = moto() else { return };
    let first = packages();
    let again = temp_dir("packages-again");
    let out = package_into(&again);
    assert!(out.status.success(), "{}", text(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("package json");
    let names: Vec<&str> = listed.iter().filter_map(|p| p["function"].as_str()).collect();
    assert_eq!(
        names,
        ["api", "books-to-search", "books-to-lake", "purchases-to-search", "purchases-to-lake", "tenant-admin"]
    );
    let hashes: std::collections::BTreeSet<&str> = listed.iter().filter_map(|p| p["sha256"].as_str()).collect();
    assert_eq!(hashes.len(), 1, "every function runs the one bootstrap: {listed:?}");
    let zip = std::fs::read(again.join("bootstrap.zip")).expect("zip");
    assert_eq!(zip, std::fs::read(first.join("bootstrap.zip")).expect("zip"), "same source, same bytes");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("archive");
    let mut bootstrap = archive.by_name("bootstrap").expect("bootstrap in the zip");
    let binary = again.join("bootstrap");
    let mut file = std::fs::File::create(&binary).expect("extract");
    std::io::copy(&mut bootstrap, &mut file).expect("extract");
    let symbols = Command::new("objdump").arg("-T").arg(&binary).output().expect("objdump runs");
    assert!(symbols.status.success(), "objdump: {}", String::from_utf8_lossy(&symbols.stderr));
    let newest = String::from_utf8_lossy(&symbols.stdout)
        .split_whitespace()
        .filter_map(|word| word.split("GLIBC_").nth(1))
        .map(|version| version.trim_end_matches(')'))
        .filter_map(|version| {
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("glibc symbols");
    assert!(newest <= (2, 34), "the bootstrap needs GLIBC_{}.{}", newest.0, newest.1);
    // What it links: the AWS adapters, none of the embedded engines.
    let tree = Command::new(env!("CARGO"))
        .args(["tree", "-p", "bookstore-lambdas", "--edges", "normal", "--prefix", "none", "--locked"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cargo tree runs");
    assert!(tree.status.success(), "{}", String::from_utf8_lossy(&tree.stderr));
    let tree = String::from_utf8_lossy(&tree.stdout);
    for engine in ["redb ", "tantivy ", "datafusion "] {
        assert!(!tree.lines().any(|line| line.starts_with(engine)), "the bootstrap links {engine}");
    }
    assert!(tree.lines().any(|line| line.starts_with("aws-sdk-dynamodb ")), "{tree}");
    let _ = std::fs::remove_dir_all(again);
}

#[test]
fn deploy_previews_creates_skips_no_change_destroys_and_adopts_the_kept_lake() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let prefix = stage.prefix.clone();

    // Preview of a stack that does not exist yet: everything is an Add, nothing is created.
    let diff = stage.bookstore("diff", &[]);
    assert!(diff.status.success(), "{}", text(&diff));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("Add      BooksTable"), "{}", text(&diff));
    assert!(stage.aws(&["cloudformation", "describe-stacks", "--stack-name", &prefix]).is_err(), "diff left a stack");

    let created = stage.deploy(&["--output", "json"]);
    assert!(created.status.success(), "{}", text(&created));
    let stdout = String::from_utf8_lossy(&created.stdout);
    let outputs: Value = serde_json::from_str(stdout.lines().last().expect("outputs")).expect("outputs json");
    assert_eq!(outputs["BooksTableName"], format!("{prefix}-books"), "{stdout}");
    assert!(outputs["ApiUrl"].as_str().is_some_and(|url| url.starts_with("https://")), "{outputs}");

    let table = stage.aws(&["dynamodb", "describe-table", "--table-name", &format!("{prefix}-books")]).expect("books");
    let indexes: Vec<&str> = table["Table"]["GlobalSecondaryIndexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .filter_map(|i| i["IndexName"].as_str())
        .collect();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
    assert_eq!(table["Table"]["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    let function = stage.aws(&["lambda", "get-function", "--function-name", &format!("{prefix}-api")]).expect("api");
    assert_eq!(function["Configuration"]["Runtime"], "provided.al2023");
    assert_eq!(function["Configuration"]["MemorySize"], 256);
    let mappings = stage.aws(&["lambda", "list-event-source-mappings"]).expect("mappings");
    let ours: Vec<&Value> = mappings["EventSourceMappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .filter(|m| m["FunctionArn"].as_str().is_some_and(|arn| arn.contains(&prefix)))
        .collect();
    assert_eq!(ours.len(), 4);
    for mapping in ours {
        assert_eq!(mapping["FunctionResponseTypes"][0], "ReportBatchItemFailures");
        assert_eq!(mapping["BisectBatchOnFunctionError"], true);
    }

    // Nothing changed: no change set at all.
    let again = stage.deploy(&[]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("no changes (same template, parameters and code)"), "{}", text(&again));

    let outputs = stage.bookstore("outputs", &["--output", "json"]);
    assert!(outputs.status.success(), "{}", text(&outputs));
    let outputs: Value = serde_json::from_slice(&outputs.stdout).expect("outputs json");
    let lake = outputs["LakeBucket"].as_str().expect("lake bucket").to_owned();
    let disposable = ["AthenaResultsBucket", "AccessLogsBucket"].map(|b| outputs[b].as_str().expect(b).to_owned());
    for bucket in &disposable {
        fill_with_versions(&stage, bucket);
    }

    let destroyed = stage.bookstore("destroy", &["--yes"]);
    assert_destroyed(&stage, &destroyed);
    assert!(stage.aws(&["s3api", "head-bucket", "--bucket", &lake]).is_ok(), "the lake bucket is kept");

    // Deployed again, the stage adopts the kept lake bucket instead of failing on its name.
    let mut again = TestStage::new(stage.endpoint.clone(), stage.aws_cli.clone());
    again.edit(&format!("prefix: {}", again.prefix), &format!("prefix: {prefix}"));
    again.prefix = prefix.clone();
    let redeployed = again.deploy(&[]);
    assert!(redeployed.status.success(), "{}", text(&redeployed));
    assert!(text(&redeployed).contains(&format!("adopting lake bucket {lake}")), "{}", text(&redeployed));
    fill_with_versions(&again, &lake);
    let purged = again.bookstore("destroy", &["--yes", "--purge"]);
    assert_destroyed(&again, &purged);
    assert!(again.aws(&["s3api", "head-bucket", "--bucket", &lake]).is_err(), "--purge deletes the lake bucket");
}

/// Versions an object twice and deletes it (a delete marker) in a bucket that the
/// template versions; moto's CloudFormation leaves versioning out, so it is turned on here.
fn fill_with_versions(stage: &TestStage, bucket: &str) {
    let body = stage.dir.join("object.txt");
    std::fs::write(&body, "a lake row").expect("write");
    let body = body.to_str().expect("path");
    let versioning =
        ["s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled"];
    stage.aws(&versioning).expect("versioning on");
    for _ in 0..2 {
        stage.aws(&["s3api", "put-object", "--bucket", bucket, "--key", "t/x.json", "--body", body]).expect("put");
    }
    stage.aws(&["s3api", "delete-object", "--bucket", bucket, "--key", "t/x.json"]).expect("delete marker");
}

/// The stack and what it held are gone. moto cannot delete a VPC that held endpoints or an
/// instance (it keeps their interfaces), so there destroy fails naming the VPC; everything
/// else must still be gone.
fn assert_destroyed(stage: &TestStage, destroyed: &Output) {
    if !destroyed.status.success() {
        let output = text(destroyed);
        assert!(output.contains("DependencyViolation") && output.contains("vpc-"), "{output}");
    }
    let prefix = &stage.prefix;
    assert!(stage.aws(&["cloudformation", "describe-stacks", "--stack-name", prefix]).is_err(), "stack still there");
    let tables = stage.aws(&["dynamodb", "list-tables"]).expect("tables");
    assert!(!tables.to_string().contains(prefix.as_str()), "tables left behind: {tables}");
    let functions = stage.aws(&["lambda", "list-functions"]).expect("functions");
    assert!(!functions.to_string().contains(prefix.as_str()), "functions left behind");
    let queues = stage.aws(&["sqs", "list-queues"]).expect("queues");
    assert!(!queues.to_string().contains(prefix.as_str()), "queues left behind: {queues}");
    let buckets = stage.aws(&["s3api", "list-buckets"]).expect("buckets");
    let left: Vec<&str> = buckets["Buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["Name"].as_str())
        .filter(|name| name.starts_with(prefix.as_str()) && !name.contains("-lake-") && !name.ends_with("-artifacts"))
        .collect();
    assert!(left.is_empty(), "results and access logs buckets left behind: {left:?}");
}

#[test]
fn a_changed_table_deploys_as_an_update_whose_preview_names_it() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let created = stage.deploy(&[]);
    assert!(created.status.success(), "{}", text(&created));
    // A changed table is an update whose preview names it.
    stage.edit("capacity: { read: 5, write: 5 }", "capacity: { read: 6, write: 5 }");
    let unconfirmed = stage.bookstore("deploy", &["--artifacts", packages().to_str().expect("path")]);
    assert_eq!(unconfirmed.status.code(), Some(1), "{}", text(&unconfirmed));
    assert!(text(&unconfirmed).contains("pass --yes"), "{}", text(&unconfirmed));
    let change_sets = stage.aws(&["cloudformation", "list-change-sets", "--stack-name", &stage.prefix]).expect("list");
    // moto lists every stack's change sets; only this stack's count.
    let left =
        change_sets["Summaries"].as_array().expect("summaries").iter().filter(|c| c["StackName"] == *stage.prefix);
    assert_eq!(left.count(), 0, "the refused change set is deleted: {change_sets}");
    let updated = stage.deploy(&[]);
    assert!(updated.status.success(), "{}", text(&updated));
    let preview = String::from_utf8_lossy(&updated.stdout);
    assert!(preview.contains("Modify   BooksTable"), "{preview}");
    assert!(text(&updated).contains("UPDATE_COMPLETE"), "{}", text(&updated));

    let destroyed = stage.bookstore("destroy", &["--yes", "--purge"]);
    assert!(
        stage.aws(&["cloudformation", "describe-stacks", "--stack-name", &stage.prefix]).is_err(),
        "{}",
        text(&destroyed)
    );
}

#[test]
fn a_failing_deploy_names_the_resource_and_the_reason() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    // A table of the stage's name made outside the stack: CloudFormation cannot create it.
    let taken = format!("{}-books", stage.prefix);
    stage
        .aws(&[
            "dynamodb",
            "create-table",
            "--table-name",
            &taken,
            "--attribute-definitions",
            "AttributeName=pk,AttributeType=S",
            "--key-schema",
            "AttributeName=pk,KeyType=HASH",
            "--billing-mode",
            "PAY_PER_REQUEST",
        ])
        .expect("create the clashing table");
    let failed = stage.deploy(&[]);
    let output = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{output}");
    assert!(output.contains(&taken) && output.contains("already exists"), "{output}");
}

#[test]
fn two_new_indexes_on_one_table_deploy_as_two_updates() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let created = stage.deploy(&[]);
    assert!(created.status.success(), "{}", text(&created));

    let templates = temp_dir("two-indexes");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates"), &templates);
    let path = templates.join("partials/tables.yaml.j2");
    let partial = std::fs::read_to_string(&path).expect("tables partial");
    let extra = r#"{%- set indexes = table.indexes + [{"name": "GSI8", "pk": "gsi8pk", "sk": "gsi8sk"}, {"name": "GSI9", "pk": "gsi9pk", "sk": "gsi9sk"}] if table.logical_id == "ShoppingCartTable" else table.indexes %}"#;
    let partial = partial
        .replacen("{%- for table in tables %}", &format!("{{%- for table in tables %}}\n{extra}"), 1)
        .replace("table.indexes", "indexes")
        .replace(&extra.replace("table.indexes", "indexes"), extra);
    std::fs::write(&path, partial).expect("write partial");

    let updated = stage.deploy(&["--templates-dir", templates.to_str().expect("path")]);
    let output = text(&updated);
    assert!(output.contains("runs as 2 updates"), "{output}");
    assert!(output.contains("update 1 of 2: ShoppingCartTable: add GSI8"), "{output}");
    assert!(output.contains("update 2 of 2: ShoppingCartTable: add GSI9"), "{output}");
    let first_step = output.split("update 2 of 2").next().expect("output before step two");
    assert!(first_step.contains("UPDATE_COMPLETE"), "step one is applied before step two starts: {output}");
    if !updated.status.success() {
        // moto forgets a table once it is updated, so the second update cannot find it.
        assert!(output.contains("undefined resource ShoppingCartTable"), "{output}");
    }
    // Each step's template is kept in the artifacts bucket: one adds GSI8 alone.
    let bucket = format!("{}-artifacts", stage.prefix);
    let listed = stage
        .aws(&["s3api", "list-objects-v2", "--bucket", &bucket, "--prefix", &format!("templates/{}/", stage.prefix)])
        .expect("templates");
    let bodies: Vec<String> = listed["Contents"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|object| {
            let file = templates.join("downloaded.yaml");
            let key = object["Key"].as_str().expect("key");
            stage
                .aws(&["s3api", "get-object", "--bucket", &bucket, "--key", key, file.to_str().expect("path")])
                .expect("download");
            std::fs::read_to_string(file).expect("template")
        })
        .collect();
    assert_eq!(bodies.len(), 3, "the original stack and two steps");
    assert!(bodies.iter().any(|body| body.contains("GSI8") && !body.contains("GSI9")), "a step adds GSI8 alone");
    assert!(bodies.iter().any(|body| body.contains("GSI8") && body.contains("GSI9")), "the last step adds GSI9");
    let _ = std::fs::remove_dir_all(templates);
    // moto forgets a table once it is updated, so only the stack's removal is checked here.
    let destroyed = stage.bookstore("destroy", &["--yes", "--purge"]);
    assert!(
        stage.aws(&["cloudformation", "describe-stacks", "--stack-name", &stage.prefix]).is_err(),
        "{}",
        text(&destroyed)
    );
}
