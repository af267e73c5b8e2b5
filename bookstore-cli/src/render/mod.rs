//! `templates/` + a stage → one CloudFormation stack (YAML). Templates see only the typed
//! [`TemplateContext`]; a name missing from it is an error, never an empty string.

pub mod checks;
pub mod context;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

pub use context::{LAMBDAS, TemplateContext, code_key_parameter};

use crate::stage::Stage;

/// The root template; partials live beside it under `partials/`.
pub const ROOT_TEMPLATE: &str = "stack.yaml.j2";

/// A rendered stack: its YAML text and the same document parsed.
#[derive(Debug, Clone)]
pub struct RenderedStack {
    pub yaml: String,
    pub document: serde_json::Value,
}

/// Finds `templates/` in the given directory or above the working directory.
pub fn locate_templates(templates_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = templates_dir {
        if !dir.join(ROOT_TEMPLATE).is_file() {
            bail!("--templates-dir {}: no {ROOT_TEMPLATE} there", dir.display());
        }
        return Ok(dir.to_owned());
    }
    let mut dir = std::env::current_dir().context("cannot read the working directory")?;
    loop {
        let candidate = dir.join("templates");
        if candidate.join(ROOT_TEMPLATE).is_file() {
            return Ok(candidate);
        }
        if !dir.pop() {
            bail!("templates/{ROOT_TEMPLATE} not found in the working directory or above; pass --templates-dir");
        }
    }
}

/// Renders the stage's stack from the templates in `templates_dir`.
pub fn render(stage: &Stage, templates_dir: &Path) -> Result<RenderedStack> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja would JSON-escape every value in a `.yaml` template; ours quote strings
    // explicitly with `tojson`, and numbers and identifiers must stay bare.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let root = templates_dir.to_owned();
    env.set_loader(move |name| {
        // Template names are relative paths inside templates/; nothing may climb out.
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Ok(None);
        }
        match std::fs::read_to_string(root.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("cannot read template {name}: {err}"),
            )),
        }
    });
    let context = TemplateContext::new(stage);
    let template = env.get_template(ROOT_TEMPLATE).map_err(|err| template_error(templates_dir, &err))?;
    let mut yaml =
        template.render(minijinja::value::Serde(&context)).map_err(|err| template_error(templates_dir, &err))?;
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    let document: serde_json::Value = serde_yaml::from_str(&yaml).map_err(|err| {
        let line = err.location().and_then(|at| yaml.lines().nth(at.line().saturating_sub(1))).unwrap_or_default();
        anyhow!("the rendered stack for stage {} is not valid YAML: {err}\n  the line: {line}", stage.name)
    })?;
    Ok(RenderedStack { yaml, document })
}

/// minijinja's error with the template file and line in front.
fn template_error(templates_dir: &Path, err: &minijinja::Error) -> anyhow::Error {
    let place = match (err.name(), err.line()) {
        (Some(name), Some(line)) => format!("{}:{line}", templates_dir.join(name).display()),
        (Some(name), None) => templates_dir.join(name).display().to_string(),
        _ => templates_dir.display().to_string(),
    };
    let mut message = format!("{place}: {}", err.kind());
    if let Some(detail) = err.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    anyhow!(message)
}
