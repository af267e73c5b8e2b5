//! What the stack commands share: which stage, which templates, the rendered stack, and
//! the parameters a deploy passes to it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use aws_sdk_cloudformation::types::Parameter;
use clap::{Args, ValueEnum};
use sha2::{Digest, Sha256};

use crate::cloud::Clients;
use crate::package::{Package, hex};
use crate::render::{LAMBDAS, RenderedStack, checks, code_key_parameter, locate_templates, render};
use crate::stage::{Provider, Stage, load as load_stage};

/// Which stage to work on, and where its files are.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// The stage: dev, test, prod, or any stages/<name>.yaml.
    #[arg(long)]
    pub stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    /// Directory holding the templates (default: ./templates or the nearest above).
    #[arg(long)]
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

impl StackArgs {
    pub fn stage(&self) -> Result<Stage> {
        load_stage(&self.stage, self.stages_dir.as_deref())
    }

    pub fn render(&self) -> Result<(Stage, RenderedStack)> {
        let stage = self.stage()?;
        let templates = locate_templates(self.templates_dir.as_deref())?;
        let rendered = render(&stage, &templates)?;
        Ok((stage, rendered))
    }

    /// Renders an AWS stage and refuses to go on if the project's checks fail.
    pub fn render_for_aws(&self) -> Result<(Stage, RenderedStack)> {
        let (stage, rendered) = self.render()?;
        if stage.provider != Provider::Aws {
            bail!("--stage {}: a local stage runs with `bookstore up`; there is nothing to deploy", stage.name);
        }
        let findings = checks::check(&rendered.yaml, &rendered.document);
        if !findings.is_empty() {
            let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
            bail!("the rendered stack fails the project's checks:\n{}", list.join("\n"));
        }
        Ok((stage, rendered))
    }
}

/// Where a function's code is, for the template's parameters.
pub enum CodeSource<'a> {
    Packages(&'a [Package]),
    /// Keep what the stack runs now (diff without packaging).
    Deployed,
    /// No code yet (diff of a stack that does not exist).
    Placeholder,
}

/// The template's parameters for a deploy. `lake_mode` is `None` for an existing stack,
/// which keeps the mode it was created with.
pub fn parameters(
    stage: &Stage,
    rendered: &RenderedStack,
    code: CodeSource<'_>,
    lake_mode: Option<&str>,
) -> Result<Vec<Parameter>> {
    let declared = rendered.document.get("Parameters").and_then(|p| p.as_object());
    let declares = |name: &str| declared.is_some_and(|p| p.contains_key(name));
    let value = |key: &str, value: &str| Parameter::builder().parameter_key(key).parameter_value(value).build();
    let mut parameters = vec![value("ArtifactsBucket", &stage.artifacts_bucket())];
    for lambda in LAMBDAS {
        let key = code_key_parameter(&lambda);
        parameters.push(match &code {
            CodeSource::Packages(packages) => {
                let Some(package) = packages.iter().find(|p| p.function == lambda.name) else {
                    bail!("no package for function {}", lambda.name);
                };
                value(&key, &package.s3_key())
            }
            CodeSource::Deployed => Parameter::builder().parameter_key(&key).use_previous_value(true).build(),
            CodeSource::Placeholder => value(&key, &format!("lambdas/{}/not-packaged.zip", lambda.name)),
        });
    }
    parameters.push(match lake_mode {
        Some(mode) => value("LakeBucketMode", mode),
        None => Parameter::builder().parameter_key("LakeBucketMode").use_previous_value(true).build(),
    });
    if declares("JwtSecret") {
        let Some(secret) = &stage.auth.jwt_secret.literal else {
            bail!("the template asks for JwtSecret but stage {} takes it from SSM", stage.name);
        };
        parameters.push(value("JwtSecret", secret.expose()));
    }
    Ok(parameters)
}

/// A hash of everything a deploy sends; equal hashes mean nothing to do. The lake bucket
/// mode is left out: it is chosen when the stack is created and kept after.
pub fn fingerprint(rendered: &RenderedStack, parameters: &[Parameter]) -> String {
    hash_of(rendered, parameters, |key| key == "LakeBucketMode")
}

/// The fingerprint without the functions' code: equal means a deploy would change only
/// code, which `deploy --hotswap` updates without CloudFormation.
pub fn template_fingerprint(rendered: &RenderedStack, parameters: &[Parameter]) -> String {
    hash_of(rendered, parameters, |key| key == "LakeBucketMode" || key.ends_with("CodeKey"))
}

fn hash_of(rendered: &RenderedStack, parameters: &[Parameter], skip: impl Fn(&str) -> bool) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rendered.yaml.as_bytes());
    for parameter in parameters.iter().filter(|p| !skip(p.parameter_key().unwrap_or_default())) {
        hasher.update(parameter.parameter_key().unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update(parameter.parameter_value().unwrap_or_default().as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}

/// The stack tag holding the fingerprint of the last deploy.
pub const FINGERPRINT_TAG: &str = "bookstore:fingerprint";
/// The stack tag holding the last deploy's fingerprint without code.
pub const TEMPLATE_FINGERPRINT_TAG: &str = "bookstore:template-fingerprint";

/// How often to look at a running operation.
pub fn poll_interval(clients: &Clients) -> Duration {
    if clients.emulated { Duration::from_millis(200) } else { Duration::from_secs(4) }
}

/// Asks on the terminal; refuses when there is no terminal to ask on.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("{question}: no terminal to ask on; pass --yes to go ahead");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// Prints stack outputs as a table or a JSON object.
pub fn print_outputs(outputs: &[crate::cloud::stack::StackOutput], format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                outputs.iter().map(|o| (o.key.clone(), serde_json::Value::from(o.value.clone()))).collect();
            println!("{}", serde_json::Value::Object(map));
        }
        OutputFormat::Table => {
            let width = outputs.iter().map(|o| o.key.len()).max().unwrap_or(0);
            for output in outputs {
                println!("{:<width$}  {}", output.key, output.value);
            }
        }
    }
}
