//! `bookstore tenant add|list`: onboard shops and list them.

use anyhow::{Context, Result};
use bookstore_runtime::accounts::{self, Password, Registration};
use bookstore_runtime::domain::{Email, Role, Tenant, TenantId, Text, UserId};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::{DynamoArgs, LocalStageArgs, open_stage_store};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first admin; prints a one-time password.
    Add(AddArgs),
    /// List the tenants of a stage.
    List(StageArgs),
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
    /// E-mail of the tenant's first admin.
    #[arg(long)]
    admin_email: String,
    /// Display name of the shop (default: the id).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    stage: StageArgs,
}

pub async fn run(command: TenantCommand) -> Result<()> {
    match command {
        TenantCommand::Add(args) => add(args).await,
        TenantCommand::List(args) => list(args).await,
    }
}

async fn stage_store(args: &StageArgs) -> Result<bookstore_runtime::store::SharedStore> {
    let stage = args.local.load_stage()?;
    open_stage_store(&stage, &args.local.data_dir, &args.dynamo).await
}

/// A password nobody chose: 128 random bits, URL-safe.
fn one_time_password() -> String {
    use std::fmt::Write;
    uuid::Uuid::new_v4().as_bytes().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

async fn add(args: AddArgs) -> Result<()> {
    let tenant = TenantId::parse(&args.tenant).map_err(|e| anyhow::anyhow!("<tenant> {:?}: {e}", args.tenant))?;
    let email =
        Email::parse(&args.admin_email).map_err(|e| anyhow::anyhow!("--admin-email {:?}: {e}", args.admin_email))?;
    let name =
        Text::parse(args.name.as_deref().unwrap_or(tenant.as_str())).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let store = stage_store(&args.stage).await?;
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
    accounts::register(store.as_ref(), &tenant, UserId::new_v7(), &registration, Role::Admin, now)
        .await
        .with_context(|| format!("tenant {tenant} was created but its admin {email} could not be"))?;
    match args.stage.output {
        Output::Json => println!("{}", json!({"tenant": tenant, "admin_email": email, "one_time_password": password})),
        Output::Text => {
            println!("tenant {tenant} created");
            println!("admin: {email}");
            println!("one-time password: {password}   (shown once; change it after signing in)");
        }
    }
    Ok(())
}

async fn list(args: StageArgs) -> Result<()> {
    let store = stage_store(&args).await?;
    let tenants = accounts::list_tenants(store.as_ref()).await?;
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
