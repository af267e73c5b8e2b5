//! `bookstore-search --data-dir DIR --listen ADDR`, and `bookstore-search health` for a
//! container's healthcheck (the image has no shell and no curl).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bookstore-search", version, about = "An Elasticsearch-compatible search node over tantivy")]
struct Args {
    /// Where the indices live (the container's volume).
    #[arg(long, env = "BOOKSTORE_SEARCH_DATA_DIR", default_value = "/data")]
    data_dir: PathBuf,
    /// The address to serve on.
    #[arg(long, env = "BOOKSTORE_SEARCH_LISTEN", default_value = "0.0.0.0:9200")]
    listen: SocketAddr,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Exits 0 when the node at `--url` answers `_cluster/health` green or yellow.
    Health {
        #[arg(long, default_value = "http://127.0.0.1:9200")]
        url: String,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Some(Command::Health { url }) => health(&url),
        None => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(serve(args.data_dir, args.listen)),
    }
}

async fn serve(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let node =
        Arc::new(bookstore_search::Node::open(&data_dir).with_context(|| format!("opening {}", data_dir.display()))?);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    eprintln!("bookstore-search serving {} on {}", data_dir.display(), listener.local_addr()?);
    axum::serve(listener, bookstore_search::router(node))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// A bare HTTP/1.1 GET, so the check needs no HTTP client.
fn health(url: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let timeout = std::time::Duration::from_secs(3);
    let authority = url.strip_prefix("http://").context("--url must be http://HOST:PORT")?.trim_end_matches('/');
    let address = authority.to_socket_addrs()?.next().with_context(|| format!("cannot resolve {authority}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(timeout))?;
    let request = format!("GET /_cluster/health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let healthy = answer.starts_with("HTTP/1.1 200")
        && (answer.contains("\"status\":\"green\"") || answer.contains("\"status\":\"yellow\""));
    anyhow::ensure!(healthy, "unhealthy: {}", answer.lines().next().unwrap_or("no answer"));
    Ok(())
}
