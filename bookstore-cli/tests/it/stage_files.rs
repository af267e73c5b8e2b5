//! A bad stage file stops the command with the file, the field and exit code 2.

use std::process::Stdio;
use std::time::Duration;

use crate::server::{bookstore, run, temp_dir};

const LOCAL: &str = include_str!("../../../stages/local.yaml");

/// `bookstore up` on the stage file, which must refuse it and exit: a file it accepts
/// would serve for ever, so after a deadline the server is stopped and the test fails.
fn with_stage(text: &str) -> std::process::Output {
    let dir = temp_dir("stage");
    std::fs::write(dir.join("local.yaml"), text).expect("write stage");
    let child = bookstore()
        .args(["up", "--port", "0", "--stages-dir", dir.to_str().expect("path"), "--data-dir"])
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bookstore runs");
    let pid = child.id();
    let (exited, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait_with_output().expect("output")));
    let Ok(out) = output.recv_timeout(Duration::from_secs(30)) else {
        let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        panic!("bookstore up accepted the stage file and kept serving:\n{text}");
    };
    let _ = std::fs::remove_dir_all(dir);
    out
}

#[test]
fn bad_stage_files_name_the_file_and_field_and_exit_2() {
    let cases = [
        (LOCAL.replace("  retention_days: 7", "  retention_days: 7\n  shred: true"), "logs", "shred"),
        (LOCAL.replace("volume_gb: 10", "volume_gb: lots"), "search.volume_gb", "invalid"),
        (LOCAL.replace("tax_rate: \"0.04\"", "tax_rate: \"1.5\""), "api.tax_rate", "below 1"),
        (LOCAL.replace("provider: local", "provider: gcp"), "provider", "aws"),
        (
            LOCAL.replace("sign_in_per_account: { attempts: 20,", "sign_in_per_account: { attempts: 0,"),
            "api.rate_limits.sign_in_per_account",
            "at least 1",
        ),
        (
            LOCAL.replace("sign_in: { per_second: 400,", "sign_in: { per_second: 0,"),
            "api.gateway_throttling.sign_in",
            "at least 1",
        ),
    ];
    for (text, field, hint) in cases {
        // A valid file would start the server and never exit: every case must edit it.
        assert_ne!(text, LOCAL, "the case for {field} no longer matches stages/local.yaml");
        let out = with_stage(&text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("local.yaml") && stderr.contains(field) && stderr.contains(hint), "{field}: {stderr}");
    }
}

#[test]
fn stage_show_prints_the_parsed_stage_without_its_secret() {
    let out = run(&["stage", "show", "--stage", "local", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stage: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(stage["provider"], "local");
    assert_eq!(stage["auth"]["jwt_secret"]["literal"], "[redacted]");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("local-development-secret"));
}
