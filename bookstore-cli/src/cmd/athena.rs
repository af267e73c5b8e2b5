//! `bookstore athena query`: Athena's SQL over a stage's lake, scoped to one tenant. On the
//! local stage it runs in the embedded engine over `.bookstore/lake`; on an AWS stage in
//! Athena, after `scope_for_athena` rewrote every lake table into that tenant's rows.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bookstore_runtime::analytics::{QueryError, QueryOutput};
use bookstore_runtime::aws::{AthenaEngine, AthenaFailure};
use bookstore_runtime::domain::TenantId;
use bookstore_runtime::embedded::{CompactionOptions, LocalSql, compact as compact_lake, compact_objects};
use clap::{Args, Subcommand, ValueEnum};

use crate::cloud::AwsArgs;
use crate::cloud::athena::run_query;
use crate::cloud::glue::{CatalogReport, Partitions, catalog_report};
use crate::stage::{Provider, Stage, load as load_stage};

#[derive(Debug, Subcommand)]
pub enum AthenaCommand {
    /// Run one SQL query (Athena's dialect) and print its rows.
    Query(QueryArgs),
    /// Rewrite closed days of a stage's lake into Parquet (closed months merged), each
    /// record once, with daily summaries: the local lake, or the stage's S3 lake.
    Compact(CompactArgs),
    /// The stage's Glue tables as deployed (columns, partitions, locations) and every
    /// difference from the lake schema in the code; exits 1 when there is one.
    Tables(TablesArgs),
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    #[arg(long)]
    pub stage: String,
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: TablesFormat,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TablesFormat {
    Table,
    Json,
}

/// The catalog differs from the code: exit code 1, after the report.
#[derive(Debug, thiserror::Error)]
#[error("the Glue catalog of stage {stage} differs from the lake schema in {count} place(s)")]
pub struct CatalogDrift {
    pub stage: String,
    pub count: usize,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    #[arg(long, default_value = "local")]
    pub stage: String,
    #[arg(long)]
    pub stages_dir: Option<PathBuf>,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Compact days strictly before this date, YYYY-MM-DD (default: today, UTC; never later).
    #[arg(long)]
    pub before: Option<chrono::NaiveDate>,
    /// AWS stages: how long superseded objects and folded batches stay for queries that
    /// started before a switch (longer than any query runs): `90s`, `30m`, `2h`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub keep_superseded_for: chrono::Duration,
    /// Local stages: where the data is (the lake is `<data-dir>/lake`).
    #[arg(long, default_value = ".bookstore")]
    pub data_dir: PathBuf,
    /// AWS stages only.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `90s`, `30m`, `2h` (or `0s`).
fn parse_duration(text: &str) -> std::result::Result<chrono::Duration, String> {
    let allowed = || format!("{text:?} is not a duration; write a whole number and s, m or h (`30m`)");
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).ok_or_else(allowed)?);
    let number: i64 = number.parse().map_err(|_| allowed())?;
    match unit {
        "s" => Ok(chrono::Duration::seconds(number)),
        "m" => Ok(chrono::Duration::minutes(number)),
        "h" => Ok(chrono::Duration::hours(number)),
        _ => Err(allowed()),
    }
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
        AthenaCommand::Tables(args) => tables(args).await,
    }
}

async fn tables(args: TablesArgs) -> Result<()> {
    let stage = load_stage(&args.stage, args.stages_dir.as_deref())?;
    if stage.provider == Provider::Local {
        bail!(
            "--stage {}: a local stage has no Glue catalog (its lake tables are the files); name an AWS stage",
            stage.name
        );
    }
    let clients = args.aws.clients(&stage).await;
    let bucket = stage.lake_bucket(&clients.account().await?);
    let report = catalog_report(&clients, &stage.glue_database(), &bucket, &stage.name).await?;
    match args.output {
        TablesFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        TablesFormat::Table => print_catalog(&report),
    }
    if report.drift.is_empty() {
        eprintln!("the Glue catalog matches the lake schema");
        Ok(())
    } else {
        Err(anyhow::Error::new(CatalogDrift { stage: stage.name.clone(), count: report.drift.len() }))
    }
}

fn print_catalog(report: &CatalogReport) {
    println!("Glue database {}", report.database);
    for table in &report.tables {
        println!();
        println!("{}  ({})", table.name, table.serde.as_deref().unwrap_or("no SerDe"));
        println!("  location:   {}", table.location.as_deref().unwrap_or("none"));
        match &table.partitions {
            Partitions::Projected { location_template } => {
                println!("  partitions: projected, {}", location_template.as_deref().unwrap_or("no location template"));
            }
            Partitions::Registered { count, locations } => {
                println!("  partitions: {count} in Glue{}", if locations.is_empty() { "" } else { ", e.g." });
                for location in locations {
                    println!("    {location}");
                }
            }
        }
        let keys: Vec<String> = table.partition_keys.iter().map(|[k, t]| format!("{k} {t}")).collect();
        println!("  keys:       {}", keys.join(", "));
        let width = table.columns.iter().map(|[c, _]| c.len()).max().unwrap_or(0);
        for [column, kind] in &table.columns {
            println!("  {column:<width$}  {kind}");
        }
    }
    println!();
    if report.drift.is_empty() {
        println!("no drift: every table, column, type, key and location is as the code has it");
    } else {
        println!("drift ({}):", report.drift.len());
        for difference in &report.drift {
            println!("  {difference}");
        }
    }
}

async fn compact(args: CompactArgs) -> Result<()> {
    let tenant = args
        .tenant
        .as_deref()
        .map(|t| TenantId::parse(t).map_err(|err| anyhow::anyhow!("--tenant {t}: {err}")))
        .transpose()?;
    let today = chrono::Utc::now().date_naive();
    let before = args.before.unwrap_or(today);
    if before > today {
        bail!("--before {before}: days from today ({today}, UTC) on are still open; give {today} or an earlier day");
    }
    let stage = load_stage(&args.stage, args.stages_dir.as_deref())?;
    let started = Instant::now();
    let report = match stage.provider {
        Provider::Local => {
            let lake = args.data_dir.join("lake");
            tokio::task::spawn_blocking(move || compact_lake(&lake, tenant.as_ref(), before))
                .await
                .context("compaction stopped")??
        }
        Provider::Aws => {
            let clients = args.aws.clients(&stage).await;
            let lake = clients.lake(&stage).await?;
            let options =
                CompactionOptions { before, now: chrono::Utc::now(), keep_superseded_for: args.keep_superseded_for };
            compact_objects(lake.as_ref(), tenant.as_ref(), &options)
                .await
                .with_context(|| format!("compaction of s3://{} stopped (run it again to finish)", lake.bucket()))?
        }
    };
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
        let engine = stage_athena(&stage, &args.aws).await?;
        println!("{}", engine.scope(&tenant, &sql, &[]).await.map_err(|err| anyhow::Error::new(BadQuery(err)))?.sql);
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

/// The stage's Athena: its workgroup and Glue database, and the lake bucket its tenants'
/// compaction manifests are in, through the command's AWS flags.
async fn stage_athena(stage: &Stage, aws: &AwsArgs) -> Result<AthenaEngine> {
    let clients = aws.clients(stage).await;
    let lake = clients.lake(stage).await?;
    Ok(AthenaEngine::new(clients.athena, &stage.athena_workgroup(), &stage.glue_database(), clients.emulated)
        .with_lake(lake))
}

async fn query_athena(stage: &Stage, aws: &AwsArgs, tenant: &TenantId, sql: &str) -> Result<QueryOutput> {
    let engine = stage_athena(stage, aws).await?;
    let query = engine.scope(tenant, sql, &[]).await.map_err(|err| anyhow::Error::new(BadQuery(err)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("30m"), Ok(chrono::Duration::minutes(30)));
        assert_eq!(parse_duration("2h"), Ok(chrono::Duration::hours(2)));
        for wrong in ["", "30", "m", "1.5h", "-1h", "3d", "5 minutes"] {
            let err = parse_duration(wrong).expect_err(wrong);
            assert!(err.contains("`30m`"), "{wrong}: {err}");
        }
    }
}
