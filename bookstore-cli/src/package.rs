//! Lambda packaging: the one `bootstrap` of `lambdas/` built for Amazon Linux 2023 (glibc
//! 2.34, via cargo-zigbuild), zipped reproducibly, named by its content hash. Every
//! function runs that zip (`BOOKSTORE_FUNCTION` picks its handler), so link-time
//! optimisation runs once per deploy, not once per function.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::render::LAMBDAS;

/// The target whose glibc is Amazon Linux 2023's (provided.al2023).
pub const LAMBDA_TARGET: &str = "x86_64-unknown-linux-gnu.2.34";

/// The binary every function runs, and the zip's name.
pub const BOOTSTRAP: &str = "bootstrap";

/// One function's zip (the same zip for every function).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Package {
    pub function: &'static str,
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

impl Package {
    /// Where the zip lives in the artifacts bucket: content-addressed, so an upload of the
    /// same bytes is skipped and a stack update happens only when code changed.
    pub fn s3_key(&self) -> String {
        format!("lambdas/{BOOTSTRAP}/{}.zip", self.sha256)
    }
}

/// The workspace root: the nearest directory above the working directory with `lambdas/`.
pub fn workspace_root() -> Result<PathBuf> {
    let mut dir = std::env::current_dir().context("cannot read the working directory")?;
    loop {
        if dir.join("lambdas").join("Cargo.toml").is_file() && dir.join("Cargo.toml").is_file() {
            return Ok(dir);
        }
        if !dir.pop() {
            bail!("no lambdas/Cargo.toml in the working directory or above; run inside the project");
        }
    }
}

/// The cargo profile of the functions: size and cold start first (`Cargo.toml`).
const LAMBDA_PROFILE: &str = "release";

/// Builds the bootstrap with the `release` profile for [`LAMBDA_TARGET`] and zips it into `out`.
pub fn build_and_zip(root: &Path, out: &Path) -> Result<Vec<Package>> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    build(root, &target_dir)?;
    let binaries = target_dir.join("x86_64-unknown-linux-gnu").join(LAMBDA_PROFILE);
    zip_all(&binaries, out)
}

/// Zips the bootstrap found in `binaries` into `out`: one package per function, all the
/// same zip.
pub fn zip_all(binaries: &Path, out: &Path) -> Result<Vec<Package>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let binary = binaries.join(BOOTSTRAP);
    let bootstrap =
        std::fs::read(&binary).with_context(|| format!("cannot read the built bootstrap {}", binary.display()))?;
    let zip = reproducible_zip(&bootstrap)?;
    let path = out.join(format!("{BOOTSTRAP}.zip"));
    std::fs::write(&path, &zip).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(packages_of(&path, &zip))
}

/// Reads the zip `bookstore package --out DIR` wrote earlier.
pub fn read_packages(dir: &Path) -> Result<Vec<Package>> {
    let path = dir.join(format!("{BOOTSTRAP}.zip"));
    let zip =
        std::fs::read(&path).with_context(|| format!("--artifacts {}: cannot read {BOOTSTRAP}.zip", dir.display()))?;
    Ok(packages_of(&path, &zip))
}

fn packages_of(path: &Path, zip: &[u8]) -> Vec<Package> {
    let sha256 = hex(&Sha256::digest(zip));
    LAMBDAS
        .iter()
        .map(|lambda| Package {
            function: lambda.name,
            path: path.to_owned(),
            bytes: zip.len() as u64,
            sha256: sha256.clone(),
        })
        .collect()
}

/// A zip holding one executable `bootstrap`, with fixed time and permissions, so the same
/// binary always gives the same bytes.
pub fn reproducible_zip(bootstrap: &[u8]) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::DEFAULT)
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options).context("cannot start the zip entry")?;
    writer.write_all(bootstrap).context("cannot compress bootstrap")?;
    Ok(writer.finish().context("cannot finish the zip")?.into_inner())
}

/// Runs cargo zigbuild with one progress line per function; cargo's own output goes to
/// `target/lambda-build.log`, shown when the build fails.
fn build(root: &Path, target_dir: &Path) -> Result<()> {
    let tools = root.join(".tools");
    let venv_bin = tools.join("venv").join("bin");
    let zigbuild = if venv_bin.join("cargo-zigbuild").is_file() {
        venv_bin.join("cargo-zigbuild")
    } else {
        PathBuf::from("cargo-zigbuild")
    };
    // zig comes from the same venv (the `ziglang` wheel); its caches stay in .tools/.
    let path = match std::env::var_os("PATH") {
        Some(path) => std::env::join_paths(std::iter::once(venv_bin.clone()).chain(std::env::split_paths(&path)))?,
        None => venv_bin.clone().into_os_string(),
    };
    std::fs::create_dir_all(target_dir).with_context(|| format!("cannot create {}", target_dir.display()))?;
    let log_path = target_dir.join("lambda-build.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?;
    eprintln!(
        "building the {BOOTSTRAP} of {} functions for {LAMBDA_TARGET} (cargo zigbuild --profile {LAMBDA_PROFILE}; log: {})",
        LAMBDAS.len(),
        log_path.display()
    );
    let started = Instant::now();
    let mut child = Command::new(&zigbuild)
        .current_dir(root)
        .args(["zigbuild", "--profile", LAMBDA_PROFILE, "--locked", "-p", "bookstore-lambdas", "--bin", BOOTSTRAP])
        .args(["--target", LAMBDA_TARGET, "--message-format", "json-render-diagnostics"])
        .env("PATH", path)
        .env("ZIG_GLOBAL_CACHE_DIR", tools.join("zig-cache"))
        .env("CARGO_ZIGBUILD_CACHE_DIR", tools.join("zigbuild-cache"))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| {
            format!(
                "cannot run {} (install it with: python3 -m venv .tools/venv && \
                 .tools/venv/bin/pip install ziglang cargo-zigbuild)",
                zigbuild.display()
            )
        })?;
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut compiled = 0;
    let stdout = child.stdout.take().context("cargo's output")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo's output")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        compiled += 1;
        let name = message["target"]["name"].as_str().unwrap_or_default();
        let is_function = message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if is_function && name == BOOTSTRAP {
            // `println` prints nothing while the spinner is hidden (stderr not a terminal).
            spinner.suspend(|| eprintln!("  built {BOOTSTRAP} {:>6.1} s", started.elapsed().as_secs_f64()));
        } else {
            spinner.set_message(format!("{compiled} crates compiled, last {name}"));
        }
    }
    let status = child.wait().context("cannot wait for cargo zigbuild")?;
    spinner.finish_and_clear();
    if !status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_LINES_SHOWN)..].join("\n");
        eprintln!("{tail}");
        bail!("building the Lambda functions failed ({status}); cargo's whole log: {}", log_path.display());
    }
    eprintln!("built the {BOOTSTRAP} of {} functions in {:.1} s", LAMBDAS.len(), started.elapsed().as_secs_f64());
    Ok(())
}

/// How much of cargo's log a failed build shows (the errors come last).
const LOG_LINES_SHOWN: usize = 80;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_zips_to_the_same_bytes_whenever_it_is_zipped() {
        let first = reproducible_zip(b"\x7fELF pretend binary").expect("zip");
        let second = reproducible_zip(b"\x7fELF pretend binary").expect("zip");
        assert_eq!(first, second);
        // The one input that changes with the clock is the entry's time: it is fixed.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).expect("archive");
        let entry = archive.by_name("bootstrap").expect("bootstrap");
        assert_eq!(entry.last_modified(), Some(zip::DateTime::DEFAULT));
    }

    #[test]
    fn the_zip_holds_an_executable_bootstrap() {
        let zip = reproducible_zip(b"binary").expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("archive");
        let entry = archive.by_name("bootstrap").expect("bootstrap");
        assert_eq!(entry.unix_mode().map(|mode| mode & 0o777), Some(0o755));
    }
}
