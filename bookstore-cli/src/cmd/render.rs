//! `bookstore render` and `bookstore validate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::stack::StackArgs;
use crate::render::checks;

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub target: StackArgs,
    /// Write `<stack>.yaml` into this directory instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn render(args: RenderArgs) -> Result<()> {
    let (stage, rendered) = args.target.render()?;
    match args.out {
        None => print!("{}", rendered.yaml),
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create --out {}", dir.display()))?;
            let path = dir.join(format!("{}.yaml", stage.stack_name()));
            std::fs::write(&path, &rendered.yaml).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), rendered.yaml.len());
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub target: StackArgs,
    /// The cfn-lint to run (default: .tools/venv/bin/cfn-lint, then PATH).
    #[arg(long, env = "BOOKSTORE_CFN_LINT")]
    pub cfn_lint: Option<PathBuf>,
    /// The checkov to run after cfn-lint (default: .tools/checkov/bin/checkov, then PATH).
    /// A check the stack skips says why in its resource's `Metadata.checkov.skip`.
    #[arg(long, env = "BOOKSTORE_CHECKOV")]
    pub checkov: Option<PathBuf>,
}

/// A linter of rendered stacks run as a program, found where `scripts/test` installs it.
struct Linter {
    name: &'static str,
    /// Under the workspace root.
    installed_at: &'static str,
    install: &'static str,
    arguments: &'static [&'static str],
}

const CFN_LINT: Linter = Linter {
    name: "cfn-lint",
    installed_at: ".tools/venv/bin/cfn-lint",
    install: "pip install cfn-lint",
    // Exit code 0 clean, 2 errors, 4 warnings, 8 informational, or a sum of them.
    arguments: &["--format", "parseable"],
};

const CHECKOV: Linter = Linter {
    name: "checkov",
    installed_at: ".tools/checkov/bin/checkov",
    install: "pip install checkov",
    // Exit code 0 clean, 1 failed checks. Offline: the checks it ships with, no upload.
    arguments: &[
        "--framework",
        "cloudformation",
        "--quiet",
        "--compact",
        "--skip-download",
        "--output",
        "cli",
        "--file",
    ],
};

impl Linter {
    fn find(&self, explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_owned());
        }
        if let Ok(root) = crate::package::workspace_root() {
            let local = root.join(self.installed_at);
            if local.is_file() {
                return Some(local);
            }
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|dir| dir.join(self.name)).find(|candidate| candidate.is_file())
    }

    /// Runs the linter on the stack file, printing what it says; its exit code (`None`:
    /// killed), or `Some(0)` when it is not installed.
    fn run(&self, explicit: Option<&Path>, file: &Path) -> Result<Option<i32>> {
        let Some(tool) = self.find(explicit) else {
            eprintln!("{} not found; skipped it (install: {}, or pass --{} PATH)", self.name, self.install, self.name);
            return Ok(Some(0));
        };
        let output = Command::new(&tool)
            .args(self.arguments)
            .arg(file)
            .env("BC_SKIP_MAPPING", "TRUE")
            .output()
            .with_context(|| format!("cannot run {}", tool.display()))?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        Ok(output.status.code())
    }
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let (stage, rendered) = args.target.render()?;
    let findings = checks::check(&rendered.yaml, &rendered.document);
    for finding in &findings {
        println!("bookstore: {finding}");
    }
    let dir = std::env::temp_dir().join(format!("bookstore-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join(format!("{}.yaml", stage.stack_name()));
    let linted =
        std::fs::write(&file, &rendered.yaml).with_context(|| format!("cannot write {}", file.display())).and_then(
            |()| Ok((CFN_LINT.run(args.cfn_lint.as_deref(), &file)?, CHECKOV.run(args.checkov.as_deref(), &file)?)),
        );
    let _ = std::fs::remove_dir_all(&dir);
    let (cfn_lint, checkov) = linted?;
    let code = |code: Option<i32>| code.map_or("(killed)".to_owned(), |c| c.to_string());
    match (findings.len(), cfn_lint, checkov) {
        (0, Some(0), Some(0)) => {
            eprintln!("stage {}: the stack passes every check", stage.name);
            Ok(())
        }
        (count, cfn_lint, checkov) => bail!(
            "stage {}: {count} finding(s) from the project's checks; cfn-lint exit code {}; checkov exit code {}",
            stage.name,
            code(cfn_lint),
            code(checkov)
        ),
    }
}
