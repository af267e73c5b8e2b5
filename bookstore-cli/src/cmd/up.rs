//! `bookstore up`: serves the API on the local stage. The listener answers at once;
//! the demo seed, when asked for, loads in the background and the logins are printed
//! when it is done.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bookstore_runtime::api::{AppState, app};
use bookstore_runtime::demo::{self, DemoSize};
use bookstore_runtime::embedded::{LocalLake, LocalSql, TantivySearch, local_feeds};
use bookstore_runtime::lake::LakeWriter;
use bookstore_runtime::search::SearchIndex;
use bookstore_runtime::store::SharedStore;
use clap::{Args, ValueEnum};
use tokio::sync::watch;

use crate::stage::{self, Provider};

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
    /// The stage to run; it must have `provider: local`.
    #[arg(long, default_value = "local")]
    stage: String,
    /// Directory holding the stage files (default: ./stages or the nearest above).
    #[arg(long)]
    stages_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Seed {
    /// 3 tenants x 1,000 books x 500 purchases over 18 months.
    Demo,
}

pub async fn run(args: UpArgs) -> Result<()> {
    let stage = stage::load(&args.stage, args.stages_dir.as_deref())?;
    if stage.provider != Provider::Local {
        bail!("stage {} has provider aws; `bookstore up` runs only local stages (try --stage local)", stage.name);
    }
    let config = stage.runtime_config()?;
    let tax_rate = config.tax_rate;
    let embedded = super::open_local_store(&args.data_dir)?;
    let search: Arc<dyn SearchIndex> = Arc::new(TantivySearch::open(args.data_dir.join("search")));
    let (stop_feeds, feeds_stopped) = watch::channel(false);
    let mut feeds = tokio::task::JoinSet::new();
    let lake: Arc<dyn LakeWriter> = Arc::new(LocalLake::new(args.data_dir.join("lake")));
    for feed in local_feeds(embedded.clone(), search.clone(), lake) {
        let mut stopped = feeds_stopped.clone();
        feeds.spawn(feed.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
    }
    let store: SharedStore = embedded;
    let state = AppState::new(store.clone(), search, config)
        .with_analytics(Arc::new(LocalSql::new(args.data_dir.join("lake"))));

    let address = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (is the port taken? pass --port)"))?;
    let local = listener.local_addr().context("listener has no address")?;
    let url = format!("http://{local}");
    println!("bookstore {} stage listening on {url}", stage.name);
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

    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await.context("server failed")?;
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
