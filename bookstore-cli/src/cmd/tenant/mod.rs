//! `bookstore tenant add|list|show|remove`: onboard shops, and on AWS stages their search
//! containers on the stage's search host (`search_host.rs`; why and how the command
//! reaches a host in a private subnet: `docs/tenants.md`).

mod report;
mod search_host;

pub use search_host::SearchHostAccess;

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::domain::{Email, Role, Tenant, TenantId, Text, UserId};
use bookstore_runtime::search::placement::{FIRST_TENANT_PORT, LAST_TENANT_PORT};
use bookstore_runtime::store::SharedStore;
use bookstore_runtime::tenancy::AdminCommand;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::{DynamoArgs, LocalStageArgs, open_stage_store};
use crate::stage::{Provider, Stage};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first admin (prints a one-time password); on an AWS stage
    /// also its search container. Run again, it repairs what is missing.
    Add(AddArgs),
    /// List the tenants of a stage (on AWS: container, health, port, documents, disk).
    List(StageArgs),
    /// One tenant and, on AWS, its search container.
    Show(TenantArgs),
    /// Suspend a tenant and remove its search container (its volume stays unless --purge).
    Remove(RemoveArgs),
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    #[command(flatten)]
    local: LocalStageArgs,
    #[command(flatten)]
    dynamo: DynamoArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The tenant id: 3-32 of a-z, 0-9 and '-', starting with a letter.
    tenant: String,
    /// E-mail of the tenant's first admin (unused when an AWS stage's add repairs an
    /// existing tenant).
    #[arg(long)]
    admin_email: String,
    /// Display name of the shop (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// AWS stages: the host port of the tenant's container (default: its current one, or
    /// the lowest free).
    #[arg(long, value_parser = clap::value_parser!(u16).range(FIRST_TENANT_PORT as i64..=LAST_TENANT_PORT as i64))]
    port: Option<u16>,
    #[command(flatten)]
    stage: StageArgs,
}

#[derive(Debug, Args)]
pub struct TenantArgs {
    tenant: String,
    #[command(flatten)]
    stage: StageArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    tenant: String,
    /// Also delete the container's volume (its indices) and its placement.
    #[arg(long)]
    purge: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    stage: StageArgs,
}

pub async fn run(command: TenantCommand) -> Result<()> {
    match command {
        TenantCommand::Add(args) => add(args).await,
        TenantCommand::List(args) => list(args).await,
        TenantCommand::Show(args) => show(args).await,
        TenantCommand::Remove(args) => remove(args).await,
    }
}

fn parse_tenant(raw: &str) -> Result<TenantId> {
    TenantId::parse(raw).map_err(|e| anyhow::anyhow!("<tenant> {raw:?}: {e}"))
}

async fn stage_and_store(args: &StageArgs) -> Result<(Stage, SharedStore)> {
    let stage = args.local.load_stage()?;
    let store = open_stage_store(&stage, &args.local.data_dir, &args.dynamo).await?;
    Ok((stage, store))
}

/// A password nobody chose: 128 random bits, URL-safe.
fn one_time_password() -> String {
    use std::fmt::Write;
    uuid::Uuid::new_v4().as_bytes().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The tenant's row and first admin; `None` when an AWS stage's tenant already existed
/// (the add repairs it). On a local stage an existing tenant is an error, as it always was.
async fn create_tenant(
    stage: &Stage,
    store: &SharedStore,
    tenant: &TenantId,
    args: &AddArgs,
) -> Result<Option<(Email, String)>> {
    let email =
        Email::parse(&args.admin_email).map_err(|e| anyhow::anyhow!("--admin-email {:?}: {e}", args.admin_email))?;
    let existing = accounts::get_tenant(store.as_ref(), tenant).await?;
    if let Some(existing) = existing.filter(|_| stage.provider == Provider::Aws) {
        if !existing.is_active {
            accounts::set_tenant_active(store.as_ref(), tenant, true).await?;
            eprintln!("tenant {tenant} exists and was suspended: reactivated");
        } else {
            eprintln!("tenant {tenant} exists: checking and repairing what it needs");
        }
        return Ok(None);
    }
    let name =
        Text::parse(args.name.as_deref().unwrap_or(tenant.as_str())).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let now = chrono::Utc::now();
    let record = Tenant { tenant_id: tenant.clone(), name, is_active: true, created_at: now };
    accounts::add_tenant(store.as_ref(), &record).await.with_context(|| format!("cannot add tenant {tenant}"))?;
    let password = one_time_password();
    let registration = Registration {
        email: email.clone(),
        password: Password::new(password.clone()).map_err(|e| anyhow::anyhow!(e))?,
        first_name: Text::parse("Admin").map_err(|e| anyhow::anyhow!(e))?,
        last_name: None,
    };
    accounts::register(store.as_ref(), tenant, UserId::new_v7(), &registration, Role::Admin, now)
        .await
        .with_context(|| format!("tenant {tenant} was created but its admin {email} could not be"))?;
    Ok(Some((email, password)))
}

async fn add(args: AddArgs) -> Result<()> {
    let tenant = parse_tenant(&args.tenant)?;
    let (stage, store) = stage_and_store(&args.stage).await?;
    if stage.provider == Provider::Local && args.port.is_some() {
        bail!("--port: only AWS stages place tenants on a search host; stage {} is local", stage.name);
    }
    let created = create_tenant(&stage, &store, &tenant, &args).await?;
    let placed = match stage.provider {
        Provider::Local => Ok(None),
        Provider::Aws => place(&stage, &store, &args, &tenant).await,
    };
    let placed = match placed {
        Ok(placed) => placed,
        Err(err) => {
            // The tenant row stands (the next add repairs the rest): its one-time
            // password must not be lost with the error.
            if let Some((email, password)) = &created {
                eprintln!("tenant {tenant} was created; admin {email}, one-time password: {password}");
            }
            return Err(err);
        }
    };
    match args.stage.output {
        Output::Json => {
            let (email, password) = created.map_or((None, None), |(e, p)| (Some(e), Some(p)));
            println!(
                "{}",
                json!({"tenant": tenant, "admin_email": email, "one_time_password": password, "search": placed})
            );
        }
        Output::Text => {
            match created {
                Some((email, password)) => {
                    println!("tenant {tenant} created");
                    println!("admin: {email}");
                    println!("one-time password: {password}   (shown once; change it after signing in)");
                }
                None => println!("tenant {tenant} is in place"),
            }
            if let Some(report) = placed {
                report::print_reports(std::slice::from_ref(&report));
            }
        }
    }
    Ok(())
}

async fn place(
    stage: &Stage,
    store: &SharedStore,
    args: &AddArgs,
    tenant: &TenantId,
) -> Result<Option<bookstore_runtime::tenancy::TenantSearchReport>> {
    match search_host::SearchHostAccess::open(stage, store.clone(), &args.stage.dynamo).await? {
        Some(host) => Ok(Some(host.place(tenant, args.port).await?)),
        None => Ok(None),
    }
}

async fn list(args: StageArgs) -> Result<()> {
    let (stage, store) = stage_and_store(&args).await?;
    let tenants = accounts::list_tenants(store.as_ref()).await?;
    let host = match stage.provider {
        Provider::Aws => search_host::SearchHostAccess::open(&stage, store.clone(), &args.dynamo).await?,
        Provider::Local => None,
    };
    if let Some(host) = host {
        let reports = host.run(AdminCommand::List).await?;
        match args.output {
            Output::Json => println!("{}", report::reports_json(&tenants, &reports)),
            Output::Text => report::print_reports(&reports),
        }
        return Ok(());
    }
    match args.output {
        Output::Json => println!("{}", serde_json::to_string(&tenants)?),
        Output::Text => {
            for tenant in tenants {
                println!(
                    "{}\t{}\t{}",
                    tenant.tenant_id,
                    tenant.name,
                    if tenant.is_active { "active" } else { "suspended" }
                );
            }
        }
    }
    Ok(())
}

async fn show(args: TenantArgs) -> Result<()> {
    let tenant = parse_tenant(&args.tenant)?;
    let (stage, store) = stage_and_store(&args.stage).await?;
    let record = accounts::get_tenant(store.as_ref(), &tenant)
        .await?
        .with_context(|| format!("tenant {tenant} does not exist on stage {}", stage.name))?;
    let reports = match stage.provider {
        Provider::Local => Vec::new(),
        Provider::Aws => match search_host::SearchHostAccess::open(&stage, store.clone(), &args.stage.dynamo).await? {
            Some(host) => host.run(AdminCommand::Show { tenant: tenant.clone() }).await?,
            None => Vec::new(),
        },
    };
    match args.stage.output {
        Output::Json => println!("{}", report::reports_json(std::slice::from_ref(&record), &reports)),
        Output::Text => {
            println!(
                "{}\t{}\t{}",
                record.tenant_id,
                record.name,
                if record.is_active { "active" } else { "suspended" }
            );
            report::print_reports(&reports);
        }
    }
    Ok(())
}

/// Asks on the terminal; refuses to guess when there is none.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question}: refusing without --yes (standard input is not a terminal)");
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

async fn remove(args: RemoveArgs) -> Result<()> {
    let tenant = parse_tenant(&args.tenant)?;
    let (stage, store) = stage_and_store(&args.stage).await?;
    accounts::get_tenant(store.as_ref(), &tenant)
        .await?
        .with_context(|| format!("tenant {tenant} does not exist on stage {}", stage.name))?;
    let what = if args.purge {
        "suspend it, remove its search container and delete its volume"
    } else {
        "suspend it and remove its search container (its volume stays)"
    };
    if !args.yes && !confirm(&format!("tenant {tenant} on stage {}: {what}?", stage.name))? {
        bail!("not removed");
    }
    accounts::set_tenant_active(store.as_ref(), &tenant, false).await?;
    let reports = match stage.provider {
        Provider::Local => Vec::new(),
        Provider::Aws => match search_host::SearchHostAccess::open(&stage, store.clone(), &args.stage.dynamo).await? {
            Some(host) => host.run(AdminCommand::Remove { tenant: tenant.clone(), purge: args.purge }).await?,
            None => Vec::new(),
        },
    };
    match args.stage.output {
        Output::Json => println!("{}", json!({"tenant": tenant, "suspended": true, "search": reports.first()})),
        Output::Text => {
            println!("tenant {tenant} suspended");
            report::print_reports(&reports);
        }
    }
    Ok(())
}
