//! `bookstore athena query`: Athena's SQL over a stage's lake, scoped to one tenant. On the
//! local stage it runs in the embedded engine over `.bookstore/lake`; on an AWS stage in
//! Athena, after `scope_for_athena` rewrote every lake table into that tenant's rows.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bookstore_runtime::analytics::{QueryError, QueryOutput};
use bookstore_runtime::aws::{AthenaEngine, AthenaFailure};
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::{LocalSql, compact as compact_lake};
use clap::{Args, Subcommand, ValueEnum};

use crate::cloud::AwsArgs;
use crate::cloud::athena::run_query;
use crate::stage::{Provider, Stage, load as load_stage};

#[derive(Debug, Subcommand)]
pub enum AthenaCommand {
    /// Run one SQL query (Athena's dialect) and print its rows.
    Query(QueryArgs),
    /// Rewrite closed days of the local lake into Parquet, each record once, with daily summaries.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Compact days strictly before this date, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    pub before: Option<chrono::NaiveDate>,
    #[arg(long, default_value = ".bookstore")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RowFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL text (or pass --file).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub sql: Option<String>,
    /// Read the SQL from this file.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, default_value = "local")]
    pub stage: String,
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    /// The tenant whose data the query sees: the only one it can see.
    #[arg(long)]
    pub tenant: String,
    /// Where the local stage keeps its data (the lake is `<data-dir>/lake`).
    #[arg(long, default_value = ".bookstore")]
    pub data_dir: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub output: RowFormat,
    /// AWS stages: print the SQL Athena would run (the tenant scope written in) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// AWS stages only.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// A query the engine refused as wrong SQL: exit code 1 with its position.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub QueryError);

pub async fn run(command: AthenaCommand) -> Result<()> {
    match command {
        AthenaCommand::Query(args) => query(args).await,
        AthenaCommand::Compact(args) => compact(args).await,
    }
}

async fn compact(args: CompactArgs) -> Result<()> {
    let tenant = args
        .tenant
        .as_deref()
        .map(|t| TenantId::parse(t).map_err(|err| anyhow::anyhow!("--tenant {t}: {err}")))
        .transpose()?;
    let before = args.before.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let lake = args.data_dir.join("lake");
    let started = Instant::now();
    let report = tokio::task::spawn_blocking(move || compact_lake(&lake, tenant.as_ref(), before))
        .await
        .context("compaction stopped")??;
    println!("{}", serde_json::to_string(&report)?);
    eprintln!(
        "compacted {} day(s), {} record(s) ({} duplicate(s) dropped): {} of JSON became {} of Parquet, in {:.2} s",
        report.days,
        report.records,
        report.duplicates_dropped,
        human_bytes(report.json_bytes),
        human_bytes(report.parquet_bytes),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn query(args: QueryArgs) -> Result<()> {
    let sql = match (&args.sql, &args.file) {
        (Some(sql), _) => sql.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("--file {}: cannot read it", file.display()))?
        }
        (None, None) => bail!("give the SQL as an argument or with --file"),
    };
    let stage = load_stage(&args.stage, args.stages_dir.as_deref())?;
    let tenant = TenantId::parse(&args.tenant).map_err(|err| anyhow::anyhow!("--tenant {}: {err}", args.tenant))?;
    if args.dry_run {
        if stage.provider == Provider::Local {
            bail!(
                "--dry-run: stage {} is local, where a query is planned over the tenant's own files and its SQL is \
                 not rewritten; use it with an AWS stage",
                stage.name
            );
        }
        let engine = stage_athena(&stage, &args.aws).await;
        println!("{}", engine.scope(&tenant, &sql, &[]).map_err(|err| anyhow::Error::new(BadQuery(err)))?.sql);
        return Ok(());
    }
    let started = Instant::now();
    let output = match stage.provider {
        Provider::Local => {
            LocalSql::new(args.data_dir.join("lake")).query(&tenant, &sql).await.map_err(|err| match err {
                QueryError::Invalid { .. } => anyhow::Error::new(BadQuery(err)),
                QueryError::Failed(message) => anyhow::anyhow!("the query failed: {message}"),
            })?
        }
        Provider::Aws => query_athena(&stage, &args.aws, &tenant, &sql).await?,
    };
    print_rows(&output, args.output)?;
    eprintln!(
        "{} row(s) in {:.3} s, {} scanned",
        output.rows.len(),
        started.elapsed().as_secs_f64(),
        human_bytes(output.bytes_scanned)
    );
    Ok(())
}

/// The stage's Athena: its workgroup and Glue database, through the command's AWS flags.
async fn stage_athena(stage: &Stage, aws: &AwsArgs) -> AthenaEngine {
    let clients = aws.clients(stage).await;
    AthenaEngine::new(clients.athena, &stage.athena_workgroup(), &stage.glue_database(), clients.emulated)
}

async fn query_athena(stage: &Stage, aws: &AwsArgs, tenant: &TenantId, sql: &str) -> Result<QueryOutput> {
    let engine = stage_athena(stage, aws).await;
    let query = engine.scope(tenant, sql, &[]).map_err(|err| anyhow::Error::new(BadQuery(err)))?;
    run_query(&engine, &query, &stage.name).await.map_err(|err| match err.downcast::<AthenaFailure>() {
        Ok(AthenaFailure::Query(query_error)) => anyhow::Error::new(BadQuery(query_error)),
        Ok(other) => anyhow::Error::new(other),
        Err(err) => err,
    })
}

fn print_rows(output: &QueryOutput, format: RowFormat) -> Result<()> {
    let cell = |value: &Option<String>| value.clone().unwrap_or_default();
    match format {
        RowFormat::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = output
                .rows
                .iter()
                .map(|row| {
                    output
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(name, value)| (name.clone(), value.clone().map_or(serde_json::Value::Null, Into::into)))
                        .collect()
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        RowFormat::Csv => {
            println!("{}", output.columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
            for row in &output.rows {
                println!("{}", row.iter().map(|v| csv_field(&cell(v))).collect::<Vec<_>>().join(","));
            }
        }
        RowFormat::Table => {
            let mut widths: Vec<usize> = output.columns.iter().map(|c| c.chars().count()).collect();
            for row in &output.rows {
                for (width, value) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell(value).chars().count());
                }
            }
            let line = |values: Vec<String>| {
                values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join(" | ")
            };
            println!("{}", line(output.columns.clone()));
            println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
            for row in &output.rows {
                println!("{}", line(row.iter().map(cell).collect()));
            }
        }
    }
    Ok(())
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_owned() }
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_024 => format!("{bytes} B"),
        1_024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1_024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
