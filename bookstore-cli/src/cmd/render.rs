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
}

pub fn validate(args: ValidateArgs) -> Result<()> {
    let (stage, rendered) = args.target.render()?;
    let findings = checks::check(&rendered.yaml, &rendered.document);
    for finding in &findings {
        println!("bookstore: {finding}");
    }
    let lint = match cfn_lint(args.cfn_lint.as_deref()) {
        Some(lint) => {
            let dir = std::env::temp_dir().join(format!("bookstore-validate-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let file = dir.join(format!("{}.yaml", stage.stack_name()));
            std::fs::write(&file, &rendered.yaml)?;
            let output = Command::new(&lint)
                .arg("--format")
                .arg("parseable")
                .arg(&file)
                .output()
                .with_context(|| format!("cannot run {}", lint.display()));
            let _ = std::fs::remove_dir_all(&dir);
            let output = output?;
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            // cfn-lint: 0 clean, 2 errors, 4 warnings, 8 informational, or a sum of them.
            output.status.code()
        }
        None => {
            eprintln!("cfn-lint not found; skipped it (install: pip install cfn-lint, or pass --cfn-lint PATH)");
            Some(0)
        }
    };
    match (findings.len(), lint) {
        (0, Some(0)) => {
            eprintln!("stage {}: the stack passes every check", stage.name);
            Ok(())
        }
        (count, code) => bail!(
            "stage {}: {count} finding(s) from the project's checks; cfn-lint exit code {}",
            stage.name,
            code.map_or("(killed)".to_owned(), |c| c.to_string())
        ),
    }
}

fn cfn_lint(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if let Ok(root) = crate::package::workspace_root() {
        let local = root.join(".tools/venv/bin/cfn-lint");
        if local.is_file() {
            return Some(local);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("cfn-lint")).find(|candidate| candidate.is_file())
}
