//! Lambda packaging: every `lambdas/` bin built for Amazon Linux 2023 (glibc 2.34, via
//! cargo-zigbuild), zipped reproducibly as `bootstrap`, named by its content hash.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::render::LAMBDAS;

/// The target whose glibc is Amazon Linux 2023's (provided.al2023).
pub const LAMBDA_TARGET: &str = "x86_64-unknown-linux-gnu.2.34";

/// One function's zip.
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
        format!("lambdas/{}/{}.zip", self.function, self.sha256)
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

/// Builds every function in release mode for [`LAMBDA_TARGET`] and zips each into `out`.
pub fn build_and_zip(root: &Path, out: &Path) -> Result<Vec<Package>> {
    build(root)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let binaries = target_dir.join("x86_64-unknown-linux-gnu").join("release");
    zip_all(&binaries, out)
}

/// Zips already-built binaries found in `binaries` into `out`.
pub fn zip_all(binaries: &Path, out: &Path) -> Result<Vec<Package>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    LAMBDAS
        .iter()
        .map(|lambda| {
            let binary = binaries.join(lambda.name);
            let bootstrap = std::fs::read(&binary)
                .with_context(|| format!("cannot read the built function {}", binary.display()))?;
            let zip = reproducible_zip(&bootstrap)?;
            let path = out.join(format!("{}.zip", lambda.name));
            std::fs::write(&path, &zip).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Package { function: lambda.name, path, bytes: zip.len() as u64, sha256: hex(&Sha256::digest(&zip)) })
        })
        .collect()
}

/// Reads packages written earlier by `bookstore package --out DIR`.
pub fn read_packages(dir: &Path) -> Result<Vec<Package>> {
    LAMBDAS
        .iter()
        .map(|lambda| {
            let path = dir.join(format!("{}.zip", lambda.name));
            let zip = std::fs::read(&path)
                .with_context(|| format!("--artifacts {}: cannot read {}.zip", dir.display(), lambda.name))?;
            Ok(Package { function: lambda.name, bytes: zip.len() as u64, sha256: hex(&Sha256::digest(&zip)), path })
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

fn build(root: &Path) -> Result<()> {
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
    eprintln!("building {} functions for {LAMBDA_TARGET} (cargo zigbuild --release)", LAMBDAS.len());
    let status = Command::new(&zigbuild)
        .current_dir(root)
        .args(["zigbuild", "--release", "--locked", "-p", "bookstore-lambdas", "--bins", "--target", LAMBDA_TARGET])
        .env("PATH", path)
        .env("ZIG_GLOBAL_CACHE_DIR", tools.join("zig-cache"))
        .env("CARGO_ZIGBUILD_CACHE_DIR", tools.join("zigbuild-cache"))
        .status()
        .with_context(|| {
            format!(
                "cannot run {} (install it with: python3 -m venv .tools/venv && \
                 .tools/venv/bin/pip install ziglang cargo-zigbuild)",
                zigbuild.display()
            )
        })?;
    if !status.success() {
        bail!("building the Lambda functions failed ({status})");
    }
    Ok(())
}

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
