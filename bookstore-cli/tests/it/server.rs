//! Starts the real `bookstore` binary and talks to it over loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn bookstore() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bookstore"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).env("BOOKSTORE_LOG", "warn");
    command
}

pub fn run(args: &[&str]) -> Output {
    bookstore().args(args).output().expect("bookstore runs")
}

pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bookstore-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A running `bookstore up`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub lines: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = bookstore()
            .args(["up", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bookstore up starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server { child, url: String::new(), lines };
        let banner = server.wait_for_line("listening on", Duration::from_secs(30));
        server.url = banner.rsplit(' ').next().expect("url").to_owned();
        server
    }

    /// Waits for a stdout line containing `needle` (polling with a deadline).
    pub fn wait_for_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => panic!("bookstore did not print {needle:?} within {within:?}"),
            }
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

pub async fn login(client: &reqwest::Client, url: &str, tenant: &str, email: &str, password: &str) -> String {
    let reply = client
        .post(format!("{url}/api/v1/users/login"))
        .header("x-tenant-id", tenant)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login answers");
    assert_eq!(reply.status(), 200, "login {email}");
    let body: Value = reply.json().await.expect("json");
    body["token"].as_str().expect("token").to_owned()
}

/// `bookstore tenant add` on a data directory; returns the admin's one-time password.
pub fn add_tenant(data_dir: &Path, tenant: &str, admin_email: &str) -> String {
    let data_dir = data_dir.to_str().expect("utf-8 path");
    let added =
        run(&["tenant", "add", tenant, "--admin-email", admin_email, "--data-dir", data_dir, "--output", "json"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let printed: Value = serde_json::from_slice(&added.stdout).expect("json output");
    printed["one_time_password"].as_str().expect("password").to_owned()
}

/// The value of a test service's environment variable. Without it the test is skipped,
/// unless the harness requires services, where a missing one is a failure.
pub fn service(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) => Some(value),
        Err(_) => {
            assert!(
                std::env::var_os("BOOKSTORE_TEST_REQUIRE_SERVICES").is_none(),
                "{variable} is not set but services are required"
            );
            eprintln!("skipped: set {variable} to {what} (scripts/test does)");
            None
        }
    }
}
