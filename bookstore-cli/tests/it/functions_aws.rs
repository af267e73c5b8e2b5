//! A deployed stage's functions on moto: each runs the packaged zip with its own role and
//! the environment the template gives it; `deploy --hotswap` swaps code without a stack
//! update (and deploys in full when the template changed); `invoke` and `logs` reach
//! them, saying where moto does not run the code.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use sha2::Digest;

use crate::deploy::{TestStage, moto, packages, text};
use crate::lambda_functions::fixture;
use crate::server::temp_dir;

const FUNCTIONS: [&str; 6] =
    ["api", "books-to-search", "books-to-lake", "purchases-to-search", "purchases-to-lake", "tenant-admin"];

/// Lambda's `CodeSha256` of a zip: base64 of its SHA-256.
fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
}

/// The packaged bootstrap with bytes appended (an ELF ignores what follows it): new code
/// without a new build.
fn changed_packages() -> std::path::PathBuf {
    let zip = std::fs::read(packages().join("bootstrap.zip")).expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("archive");
    let mut binary = Vec::new();
    std::io::copy(&mut archive.by_name("bootstrap").expect("bootstrap"), &mut binary).expect("read");
    binary.extend_from_slice(b"\0hotswapped");
    let dir = temp_dir("changed-packages");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(dir.join("bootstrap.zip")).expect("zip"));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    writer.start_file("bootstrap", options).expect("entry");
    writer.write_all(&binary).expect("write");
    writer.finish().expect("finish");
    dir
}

fn configuration(stage: &TestStage, function: &str) -> Value {
    let name = format!("{}-{function}", stage.prefix);
    stage.aws(&["lambda", "get-function", "--function-name", &name]).expect("function")["Configuration"].clone()
}

fn stack(stage: &TestStage) -> Value {
    stage.aws(&["cloudformation", "describe-stacks", "--stack-name", &stage.prefix]).expect("stack")["Stacks"][0]
        .clone()
}

#[test]
fn functions_run_the_zip_with_their_roles_and_a_code_only_change_hotswaps_without_a_stack_update() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let created = stage.deploy(&[]);
    assert!(created.status.success(), "{}", text(&created));
    let shipped = code_sha256(&std::fs::read(packages().join("bootstrap.zip")).expect("zip"));
    let mut roles = std::collections::BTreeSet::new();
    for function in FUNCTIONS {
        let config = configuration(&stage, function);
        assert_eq!(config["Runtime"], "provided.al2023", "{function}");
        assert_eq!(config["Handler"], "bootstrap", "{function}");
        assert_eq!(config["CodeSha256"], shipped, "{function} runs the packaged zip");
        let variables = &config["Environment"]["Variables"];
        assert_eq!(variables["BOOKSTORE_FUNCTION"], function, "{function}: {variables}");
        assert_eq!(variables["BOOKSTORE_TABLE_PREFIX"], stage.prefix.as_str(), "{function}");
        roles.insert(config["Role"].as_str().expect("role").to_owned());
    }
    assert_eq!(roles.len(), FUNCTIONS.len(), "each function has its own role: {roles:?}");
    let api = configuration(&stage, "api");
    for variable in
        ["BOOKSTORE_TAX_RATE", "BOOKSTORE_RATE_LIMITS", "BOOKSTORE_TOKEN_TTL_SECONDS", "BOOKSTORE_ATHENA_WORKGROUP"]
    {
        assert!(api["Environment"]["Variables"][variable].is_string(), "api lacks {variable}: {api}");
    }
    let before = stack(&stage);

    // Only code changed: the functions get it through the Lambda API, the stack is untouched.
    let changed = changed_packages();
    let new_code = code_sha256(&std::fs::read(changed.join("bootstrap.zip")).expect("zip"));
    let swapped = stage.bookstore("deploy", &["--yes", "--hotswap", "--artifacts", changed.to_str().expect("path")]);
    assert!(swapped.status.success(), "{}", text(&swapped));
    assert!(text(&swapped).contains("hotswapped the code of 6 of 6 functions"), "{}", text(&swapped));
    assert!(text(&swapped).contains("differs from its template"), "{}", text(&swapped));
    for function in FUNCTIONS {
        assert_eq!(configuration(&stage, function)["CodeSha256"], new_code, "{function}");
    }
    let after = stack(&stage);
    assert_eq!(after["StackStatus"], before["StackStatus"], "no stack update");
    assert_eq!(after["Tags"], before["Tags"], "no stack update");

    // Swapped again with the same code: nothing to do.
    let again = stage.bookstore("deploy", &["--yes", "--hotswap", "--artifacts", changed.to_str().expect("path")]);
    assert!(text(&again).contains("hotswapped the code of 0 of 6 functions"), "{}", text(&again));

    // A template change under --hotswap deploys in full, and says so.
    stage.edit("api: { memory_mb: 256, timeout_seconds: 10 }", "api: { memory_mb: 384, timeout_seconds: 10 }");
    let full = stage.bookstore("deploy", &["--yes", "--hotswap", "--artifacts", changed.to_str().expect("path")]);
    assert!(full.status.success(), "{}", text(&full));
    assert!(text(&full).contains("deploying in full"), "{}", text(&full));
    assert_eq!(stack(&stage)["StackStatus"], "UPDATE_COMPLETE", "{}", text(&full));
    assert_eq!(configuration(&stage, "api")["MemorySize"], 384);
    let _ = stage.bookstore("destroy", &["--yes"]);
    let _ = std::fs::remove_dir_all(changed);
}

#[test]
fn invoke_and_logs_reach_a_deployed_function_and_say_what_moto_does_not_do() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let created = stage.deploy(&[]);
    assert!(created.status.success(), "{}", text(&created));

    let event_path = temp_dir("invoke").join("event.json");
    let event = fixture("http-api-get-health.json");
    std::fs::write(&event_path, event.to_string()).expect("event");
    let invoked = stage.bookstore("invoke", &["api", "--event", event_path.to_str().expect("path")]);
    assert!(invoked.status.success(), "{}", text(&invoked));
    let answer: Value = serde_json::from_slice(&invoked.stdout).expect("the answer is JSON");
    assert_eq!(answer, event, "moto's Lambda echoes the event");
    assert!(
        String::from_utf8_lossy(&invoked.stderr).contains("without running the function's code"),
        "{}",
        text(&invoked)
    );

    let unknown = stage.bookstore("invoke", &["checkout", "--event", event_path.to_str().expect("path")]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("FUNCTION \"checkout\"") && text(&unknown).contains("books-to-lake"),
        "{}",
        text(&unknown)
    );
    let missing = stage.bookstore("invoke", &["api", "--event", "/nowhere/event.json"]);
    assert!(!missing.status.success() && text(&missing).contains("--event /nowhere/event.json"), "{}", text(&missing));

    // Lines in the function's log group are printed; --follow prints new ones as they come.
    let group = format!("/aws/lambda/{}-api", stage.prefix);
    stage.aws(&["logs", "create-log-stream", "--log-group-name", &group, "--log-stream-name", "s1"]).expect("stream");
    let put = |message: &str| {
        let now = chrono::Utc::now().timestamp_millis().to_string();
        let events = format!("timestamp={now},message={message}");
        stage
            .aws(&[
                "logs",
                "put-log-events",
                "--log-group-name",
                &group,
                "--log-stream-name",
                "s1",
                "--log-events",
                &events,
            ])
            .expect("put-log-events");
    };
    put("first-line");
    let logs = stage.bookstore("logs", &["api"]);
    assert!(logs.status.success(), "{}", text(&logs));
    assert!(String::from_utf8_lossy(&logs.stdout).contains("s1 first-line"), "{}", text(&logs));

    let mut follow = stage.command(&["logs", "api", "--follow"]).stdout(Stdio::piped()).spawn().expect("logs --follow");
    let (lines, seen) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match seen.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("logs --follow never printed {needle}"),
            }
        }
    };
    wait_for("first-line");
    put("second-line");
    wait_for("second-line");
    let _ = follow.kill();
    let _ = follow.wait();

    let undeployed = TestStage::new(stage.endpoint.clone(), stage.aws_cli.clone());
    let no_group = undeployed.bookstore("logs", &["api"]);
    assert!(!no_group.status.success(), "{}", text(&no_group));
    assert!(
        text(&no_group).contains("does not exist") && text(&no_group).contains("is the stage deployed?"),
        "{}",
        text(&no_group)
    );
    let _ = stage.bookstore("destroy", &["--yes"]);
}
