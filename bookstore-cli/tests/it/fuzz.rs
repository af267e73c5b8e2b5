//! schemathesis, a fuzzer no one here wrote, drives every operation of our OpenAPI
//! document with generated input against a real `bookstore up`, with all of its checks:
//! no 5xx; every status, header and body as documented; schema-valid requests accepted
//! and schema-invalid ones refused; a deleted resource gone, a created one there; no
//! operation answering without its token. `scripts/test` installs it and sets
//! `BOOKSTORE_TEST_SCHEMATHESIS`; `tests/fuzz/hooks.py` teaches it the ISBN check digit.
//!
//! One worker: with several threads, hypothesis describes lambdas (`lambda_sources.py`)
//! from two threads at once, and CPython 3.11's AST constructor, whose recursion counter
//! is shared between threads, then raises `SystemError: AST constructor recursion depth
//! mismatch` (python/cpython#106905) inside the fuzzer. One thread cannot interleave there.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::server::{Server, add_tenant, client, login, temp_dir};

const TENANT: &str = "fuzz-shop";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_contract_violation_in_any_operation() {
    let Some(schemathesis) = std::env::var_os("BOOKSTORE_TEST_SCHEMATHESIS") else {
        assert!(
            std::env::var_os("BOOKSTORE_TEST_REQUIRE_SERVICES").is_none(),
            "BOOKSTORE_TEST_SCHEMATHESIS is not set but services are required"
        );
        eprintln!("skipped: set BOOKSTORE_TEST_SCHEMATHESIS to a schemathesis binary (scripts/test does)");
        return;
    };
    let dir = temp_dir("fuzz");
    let password = add_tenant(&dir, TENANT, "admin@fuzz.example");
    let server = Server::start(&dir, &[]);
    let token = login(&client(), &server.url, TENANT, "admin@fuzz.example", &password).await;
    // Paths that name a shop name the token's: another shop's is a 403 the isolation
    // tests cover, and would leave those operations untested here.
    std::fs::write(dir.join("schemathesis.toml"), format!("[parameters]\n\"path.tenant\" = \"{TENANT}\"\n"))
        .expect("config");
    let report_path = dir.join("schemathesis-report.json");
    let (url, work_dir, report) = (server.url.clone(), dir.clone(), report_path.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis)
            .current_dir(&work_dir)
            .env("SCHEMATHESIS_HOOKS", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/hooks.py"))
            .args(["--config-file", "schemathesis.toml", "run", &format!("{url}/openapi.json")])
            .args(["--checks", "all", "--max-examples", "60", "--workers", "1", "--seed", "20261125", "--no-color"])
            .args([
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--header",
                &format!("X-Tenant-Id: {TENANT}"),
            ])
            .args(["--report", "json", "--report-json-path", report.to_str().expect("path")])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .expect("join");
    check_report(&outcome, &report_path);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Fails with what went wrong: the fuzzer not running to its end is a failure of its
/// own, told apart from what it found about the server.
fn check_report(outcome: &Output, report_path: &Path) {
    let printed =
        || format!("{}\n{}", String::from_utf8_lossy(&outcome.stdout), String::from_utf8_lossy(&outcome.stderr));
    let report: Value = match std::fs::read(report_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).expect("schemathesis' JSON report"),
        Err(err) => panic!("schemathesis crashed before writing its report ({err}): the run is no pass\n{}", printed()),
    };
    let errors = report["errors"].as_array().map_or(0, Vec::len);
    let errored =
        report["operations"]["errored"].as_u64().unwrap_or(0) + report["test_cases"]["errored"].as_u64().unwrap_or(0);
    assert!(
        errors == 0 && errored == 0 && report["complete"] == true,
        "schemathesis itself failed ({errors} error(s), {errored} errored operation(s) or case(s), stop reason {}): \
         not a finding about the server, but the run is no pass\n{}",
        report["stop_reason"],
        printed()
    );
    let failures = report["failures"].as_array().map_or(0, Vec::len);
    assert_eq!(failures, 0, "schemathesis found {failures} contract violation(s) in the server:\n{}", printed());
    let operations = &report["operations"];
    assert!(
        operations["tested"] == operations["total"] && report["test_cases"]["generated"].as_u64() > Some(1000),
        "schemathesis left operations untested: {operations}\n{}",
        printed()
    );
    for unexercised in ["unsupported_regex", "unresolvable_reference"] {
        let found = &report["warnings"][unexercised];
        assert!(
            found.as_array().is_none_or(Vec::is_empty),
            "parts of the document went unfuzzed ({unexercised}): {found}"
        );
    }
    assert!(outcome.status.success(), "schemathesis exited with {}:\n{}", outcome.status, printed());
}
