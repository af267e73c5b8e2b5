//! `bookstore up`: serves the API on a stage from this machine. On the local stage
//! everything is embedded; on an AWS stage the store is the stage's DynamoDB tables (on
//! DynamoDB Local with `--dynamodb-endpoint-url`, created there from the `Table` model),
//! the DynamoDB Streams consumers feed an embedded search index kept in the data
//! directory with their checkpoints, and the lake is the stage's S3 bucket with Athena
//! answering the analytics routes (on moto with `--endpoint-url`, where bucket and
//! workgroup are created if missing; with `--dynamodb-endpoint-url` alone the lake and
//! its engine stay in the data directory). The listener answers at once; the demo seed,
//! when asked for, loads in the background and the logins are printed when it is done.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bookstore_runtime::accounts;
use bookstore_runtime::analytics::AnalyticsEngine;
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::aws::{AthenaEngine, Connection, EVENT_SOURCE_POLL};
use bookstore_runtime::cdc::{index_is_missing, rebuild_index, stream_feeds};
use bookstore_runtime::changes::{ChangeFeed, FeedConfig};
use bookstore_runtime::demo::{self, DemoSize};
use bookstore_runtime::elasticsearch::{ElasticsearchSearch, PlacedEndpoints};
use bookstore_runtime::embedded::{EmbeddedStore, LocalSql, TantivySearch, local_feeds};
use bookstore_runtime::lake::{BatchLake, LakeObjects, LakeWriter};
use bookstore_runtime::limits::{ProcessCounter, SharedCounter, UsageCounter};
use bookstore_runtime::search::SearchIndex;
use bookstore_runtime::store::{SharedStore, Store};
use clap::{Args, ValueEnum};
use tokio::sync::watch;

use super::DynamoArgs;
use crate::stage::{self, Provider, Stage};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Where the local stage keeps its data.
    #[arg(long, default_value = ".bookstore")]
    data_dir: PathBuf,
    /// Load a data set into tenants that do not exist yet.
    #[arg(long, value_enum)]
    seed: Option<Seed>,
    /// The stage to run: `local` (embedded), or an AWS stage served from its DynamoDB
    /// tables.
    #[arg(long, default_value = "local")]
    stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    stages_dir: Option<PathBuf>,
    #[command(flatten)]
    dynamo: DynamoArgs,
    /// AWS stages: the search engine behind the API and the stream consumers — an
    /// embedded index in the data directory, or each tenant's container on the search
    /// host (placed by `bookstore tenant add`), reached at --search-address.
    #[arg(long, value_enum, default_value_t = SearchEngine::Embedded)]
    search: SearchEngine,
    /// Where the tenants' container ports answer (`--search containers`).
    #[arg(long, env = "BOOKSTORE_SEARCH_ADDRESS", default_value = "127.0.0.1")]
    search_address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SearchEngine {
    Embedded,
    Containers,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Seed {
    /// 3 tenants x 1,000 books x 500 purchases over 18 months.
    Demo,
}

/// What serves a stage: the store, and the consumers that feed search and the lake.
struct Backend {
    /// Where the data lives, as the banner says it.
    describe: String,
    store: SharedStore,
    search: Arc<dyn SearchIndex>,
    /// What the analytics routes query: the embedded engine over a local lake, Athena
    /// over the stage's bucket.
    analytics: Arc<dyn AnalyticsEngine>,
    /// The rate budgets: in this process on the embedded store, in the stage's
    /// `rate_limits` table on DynamoDB (where the stage's Lambdas count too).
    usage: Arc<dyn UsageCounter>,
    feeds: Vec<ChangeFeed>,
}

fn local_backend(data_dir: &Path) -> Result<Backend> {
    let embedded = super::open_local_store(data_dir)?;
    let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::open(data_dir.join("search")));
    let lake: Arc<dyn LakeWriter> = Arc::new(BatchLake::in_directory(data_dir.join("lake")));
    let feeds = local_feeds(embedded.clone(), search.clone(), lake);
    let describe = format!("embedded, in {}", data_dir.display());
    let analytics = Arc::new(LocalSql::new(data_dir.join("lake")));
    Ok(Backend { describe, store: embedded, search, analytics, usage: Arc::new(ProcessCounter::new()), feeds })
}

async fn dynamodb_backend(stage: &Stage, args: &UpArgs) -> Result<Backend> {
    let (store, streams, connection) = args.dynamo.store_and_streams(stage, EVENT_SOURCE_POLL).await?;
    // Search, lake and the consumers' checkpoints live on this machine, apart from the
    // local stage's.
    let dir = args.data_dir.join(&stage.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let ledger_path = dir.join("feeds.redb");
    let ledger = EmbeddedStore::open(&ledger_path).with_context(|| {
        format!("cannot open {} (is another `bookstore up` using this --data-dir?)", ledger_path.display())
    })?;
    let store: SharedStore = Arc::new(store);
    let (search, search_at): (Arc<dyn SearchIndex>, String) = match args.search {
        SearchEngine::Embedded => (Arc::new(TantivySearch::open(dir.join("search"))), dir.display().to_string()),
        SearchEngine::Containers => {
            let endpoints = PlacedEndpoints::new(store.clone(), args.search_address.clone());
            let at = format!("each tenant's container at {}", args.search_address);
            (Arc::new(ElasticsearchSearch::new(Arc::new(endpoints))), at)
        }
    };
    let (lake, analytics, lake_at): (Arc<dyn LakeWriter>, Arc<dyn AnalyticsEngine>, String) =
        match args.dynamo.lake_connection(stage) {
            Some(lake_connection) => {
                let objects = Arc::new(super::stage_lake(stage, &lake_connection).await?);
                let athena = stage_athena(stage, &lake_connection).await?.with_lake(objects.clone());
                let at = format!("{} (analytics: Athena workgroup {})", objects.describe(), athena.workgroup());
                (Arc::new(BatchLake::new(objects)), Arc::new(athena), at)
            }
            None => {
                let local = dir.join("lake");
                let at = local.display().to_string();
                (Arc::new(BatchLake::in_directory(&local)), Arc::new(LocalSql::new(&local)), at)
            }
        };
    let config = FeedConfig { region: connection.region.clone(), ..FeedConfig::default() };
    let feeds = stream_feeds(Arc::new(streams), Arc::new(ledger), search.clone(), lake, &config);
    let describe = format!(
        "DynamoDB tables {}-* at {}; lake in {lake_at}; search in {search_at}; stream checkpoints in {}",
        stage.prefix,
        connection.describe(),
        dir.display()
    );
    let usage = Arc::new(SharedCounter::new(store.clone()));
    Ok(Backend { describe, store, search, analytics, usage, feeds })
}

/// The stage's Athena; on an emulator its workgroup is created when missing (on AWS the
/// stack owns it).
async fn stage_athena(stage: &Stage, connection: &Connection) -> Result<AthenaEngine> {
    let athena = connection.athena(&stage.athena_workgroup(), &stage.glue_database()).await;
    if connection.endpoint_url.is_some()
        && athena.create_workgroup_if_missing().await.context("cannot create the Athena workgroup")?
    {
        eprintln!("created Athena workgroup {} at {}", athena.workgroup(), connection.describe());
    }
    Ok(athena)
}

/// Rebuilds from the store the index of each tenant whose index is empty while its store
/// is not: after a new index format (a new directory) or a lost one, the stream's
/// checkpoints are past the records that would fill it.
async fn rebuild_missing_indexes(store: &dyn Store, search: &dyn SearchIndex) -> Result<()> {
    for tenant in accounts::list_tenants(store).await.context("cannot list the tenants")? {
        let id = &tenant.tenant_id;
        if index_is_missing(store, search, id).await.with_context(|| format!("cannot check the index of {id}"))? {
            let books = rebuild_index(store, search, id, |_| {})
                .await
                .with_context(|| format!("cannot rebuild the search index of {id}"))?;
            tracing::info!(tenant = %id, books, "search index was empty; rebuilt from the store");
        }
    }
    Ok(())
}

pub async fn run(args: UpArgs) -> Result<()> {
    let stage = stage::load(&args.stage, args.stages_dir.as_deref())?;
    let config = stage.runtime_config()?;
    let tax_rate = config.tax_rate;
    let backend = match stage.provider {
        Provider::Local => local_backend(&args.data_dir)?,
        Provider::Aws => dynamodb_backend(&stage, &args).await?,
    };
    rebuild_missing_indexes(backend.store.as_ref(), backend.search.as_ref()).await?;
    let (stop_feeds, feeds_stopped) = watch::channel(false);
    let mut feeds = tokio::task::JoinSet::new();
    for feed in backend.feeds {
        let mut stopped = feeds_stopped.clone();
        feeds.spawn(feed.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
    }
    let store = backend.store;
    let state = AppState::new(store.clone(), backend.search, config)
        .with_analytics(backend.analytics)
        .with_usage_counter(backend.usage);

    let address = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (is the port taken? pass --port)"))?;
    let local = listener.local_addr().context("listener has no address")?;
    let url = format!("http://{local}");
    println!("bookstore {} stage listening on {url}", stage.name);
    println!("  data:    {}", backend.describe);
    println!("  health:  {url}/health");
    println!("  openapi: {url}/openapi.json");

    if let Some(Seed::Demo) = args.seed {
        let url = url.clone();
        tokio::spawn(async move {
            eprintln!("seeding demo data (3 tenants x 1,000 books x 500 purchases)...");
            let started = std::time::Instant::now();
            match demo::seed(store, tax_rate, DemoSize::FULL).await {
                Ok(logins) => {
                    println!(
                        "demo data ready in {:.1} s; sign in with (header X-Tenant-Id: <tenant>):",
                        started.elapsed().as_secs_f64()
                    );
                    for login in logins {
                        println!(
                            "  {:<14} {:<16} admin {} / {}   customer {} / {}{}",
                            login.tenant.as_str(),
                            login.tenant_name,
                            login.admin_email,
                            login.admin_password,
                            login.customer_email,
                            login.customer_password,
                            if login.seeded { "" } else { "   (already there, left as is)" }
                        );
                    }
                    println!(
                        "try: curl -s -X POST {url}/api/v1/users/login -H 'X-Tenant-Id: libreria-sol' -H 'Content-Type: application/json' -d '{{\"email\":\"customer01@libreria-sol.example\",\"password\":\"demo-password\"}}'"
                    );
                }
                Err(err) => eprintln!("error: demo seed failed: {err}"),
            }
        });
    }

    // The peer's address is what the sign-in and registration limits count per client.
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    let _ = stop_feeds.send(true);
    while let Some(done) = feeds.join_next().await {
        done.context("change feed task failed")?.context("change feed failed")?;
    }
    eprintln!("bookstore stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}
