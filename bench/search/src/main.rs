//! `search-bench`: measures the search targets.
//!
//! - `engine --books N --out DIR`: indexes N demo books into a fresh on-disk tantivy index,
//!   then runs fuzzy multi-word searches (a typo in a long word) and autocomplete prefixes,
//!   single client (p50/p99), and searches from 16 concurrent clients (queries/s). Writes
//!   the books and queries to DIR for `bench/search_fts5.py`, the SQLite FTS5 floor.
//! - `index-demo --out DIR`: time to index the demo seed's 3 × 1,000 books from scratch.
//! - `freshness --url U --token T --writes N`: HTTP 201 of a new book → its first hit.
//! - `node --url U --books N`: indexes N demo books into the `bookstore-search` node at U
//!   through the Elasticsearch adapter, then runs the engine's fuzzy searches over HTTP
//!   and, side by side, in process on the embedded engine (same books, same queries).
//!
//! Each prints one JSON line.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bookstore_runtime::demo::{DemoBook, demo_books};
use bookstore_runtime::domain::{BookId, Isbn, Money, Rating, TenantId};
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::search::{BookDocument, IndexChange, SearchFilters, SearchIndex, SearchOrder, SearchRequest};
use clap::{Parser, Subcommand};
use rust_decimal::Decimal;
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Engine {
        #[arg(long, default_value_t = 100_000)]
        books: usize,
        #[arg(long)]
        out: PathBuf,
    },
    IndexDemo {
        #[arg(long)]
        out: PathBuf,
    },
    Freshness {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 1000)]
        writes: usize,
    },
    Node {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 100_000)]
        books: usize,
        /// Only index (for a memory reading), no queries.
        #[arg(long)]
        index_only: bool,
    },
}

fn document(n: usize, book: &DemoBook) -> BookDocument {
    BookDocument {
        book_id: BookId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1)),
        isbn: Isbn::from_body(978_000_000_000 + n as u64),
        title: book.title.clone(),
        author: book.author.clone(),
        description: book.description.clone(),
        category: book.category.to_owned(),
        price: Money::new(Decimal::new(i64::from(book.price_cents), 2)).unwrap_or_default(),
        rating: Rating::new(Decimal::new(i64::from(book.rating_tenths), 1)).unwrap_or_default(),
        publication_year: book.publication_year,
        stock_quantity: book.stock,
        sales_count: (n % 97) as u64,
        created_at: chrono::Utc::now(),
        version: 1,
    }
}

/// Milliseconds at a percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// A typo: the two middle letters of the longest word (6+ letters) swapped.
fn with_typo(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((at, _)) =
        words.iter().enumerate().filter(|(_, w)| w.chars().count() >= 6).max_by_key(|(_, w)| w.chars().count())
    else {
        return text.to_owned();
    };
    let mut chars: Vec<char> = words[at].chars().collect();
    let middle = chars.len() / 2;
    chars.swap(middle - 1, middle);
    let typo: String = chars.into_iter().collect();
    words.iter().enumerate().map(|(i, w)| if i == at { typo.as_str() } else { w }).collect::<Vec<_>>().join(" ")
}

async fn index_all(index: &TantivySearch, tenant: &TenantId, books: &[DemoBook], offset: usize) -> Result<()> {
    for (chunk_number, chunk) in books.chunks(5_000).enumerate() {
        let changes = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| IndexChange::Upsert(document(offset + chunk_number * 5_000 + i, b)))
            .collect();
        index.apply(tenant, changes).await.context("indexing")?;
    }
    Ok(())
}

/// 300 fuzzy searches (three title words and the surname, a typo in the longest word)
/// and 300 autocomplete prefixes drawn evenly from the books.
fn queries(books: &[DemoBook]) -> (Vec<String>, Vec<String>) {
    let step = (books.len() / 300).max(1);
    let searches: Vec<String> = books
        .iter()
        .step_by(step)
        .map(|b| {
            let title: Vec<&str> = b.title.split_whitespace().take(3).collect();
            let surname = b.author.split_whitespace().last().unwrap_or_default();
            with_typo(&format!("{} {surname}", title.join(" ")))
        })
        .collect();
    let prefixes: Vec<String> = books
        .iter()
        .step_by(step)
        .map(|b| {
            let mut words = b.title.split_whitespace();
            let first = words.next().unwrap_or_default();
            let partial: String = words.next().unwrap_or_default().chars().take(3).collect();
            format!("{first} {partial}").trim().to_owned()
        })
        .collect();
    (searches, prefixes)
}

fn fuzzy_request(text: &str) -> SearchRequest {
    SearchRequest {
        text: text.to_owned(),
        fuzzy: true,
        filters: SearchFilters::default(),
        order: SearchOrder::Relevance,
        offset: 0,
        limit: 20,
        facets: true,
    }
}

/// Each query once, timed: sorted latencies and how many found something.
async fn timed_searches(
    index: &dyn SearchIndex,
    tenant: &TenantId,
    searches: &[String],
) -> Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(searches.len());
    let mut hits = 0;
    for query in searches {
        let started = Instant::now();
        let results = index.search(tenant, &fuzzy_request(query)).await?;
        times.push(started.elapsed());
        hits += usize::from(results.total > 0);
    }
    times.sort();
    Ok((times, hits))
}

/// The engine's fuzzy searches against a `bookstore-search` node over HTTP, beside the
/// same searches in process on the embedded engine holding the same books.
async fn node(url: &str, count: usize, index_only: bool) -> Result<()> {
    let books = demo_books(0x5ea2c4, count);
    let tenant = TenantId::parse("bench-shop").context("tenant")?;
    let remote = bookstore_runtime::elasticsearch::ElasticsearchSearch::at(url);
    let started = Instant::now();
    for (chunk_number, chunk) in books.chunks(1_000).enumerate() {
        let changes =
            chunk.iter().enumerate().map(|(i, b)| IndexChange::Upsert(document(chunk_number * 1_000 + i, b))).collect();
        remote.apply(&tenant, changes).await.context("indexing over HTTP")?;
    }
    let index_seconds = started.elapsed().as_secs_f64();
    if index_only {
        println!("{}", json!({ "books": books.len(), "index_seconds": index_seconds }));
        return Ok(());
    }
    let (searches, _) = queries(&books);
    timed_searches(&remote, &tenant, &searches[..20]).await?; // warm the page cache
    let (http_times, http_hits) = timed_searches(&remote, &tenant, &searches).await?;
    let local = TantivySearch::in_memory();
    index_all(&local, &tenant, &books, 0).await?;
    timed_searches(&local, &tenant, &searches[..20]).await?;
    let (local_times, local_hits) = timed_searches(&local, &tenant, &searches).await?;
    println!(
        "{}",
        json!({
            "books": books.len(),
            "index_seconds": index_seconds,
            "queries": searches.len(),
            "http_hits": http_hits,
            "in_process_hits": local_hits,
            "http_p50_ms": percentile(&http_times, 0.5),
            "http_p99_ms": percentile(&http_times, 0.99),
            "in_process_p50_ms": percentile(&local_times, 0.5),
            "in_process_p99_ms": percentile(&local_times, 0.99),
        })
    );
    Ok(())
}

async fn engine(count: usize, out: PathBuf) -> Result<()> {
    std::fs::create_dir_all(&out)?;
    let books = demo_books(0x5ea2c4, count);
    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("books.jsonl"))?);
    for (n, b) in books.iter().enumerate() {
        let row = json!({"id": n, "title": b.title, "author": b.author, "description": b.description, "category": b.category});
        writeln!(file, "{row}")?;
    }
    file.flush()?;
    let tenant = TenantId::parse("bench-shop").context("tenant")?;
    let index_dir = out.join("index");
    let _ = std::fs::remove_dir_all(&index_dir);
    let index = Arc::new(TantivySearch::open(&index_dir));
    let started = Instant::now();
    index_all(&index, &tenant, &books, 0).await?;
    let index_seconds = started.elapsed().as_secs_f64();

    let (searches, prefixes) = queries(&books);
    std::fs::write(out.join("queries.json"), json!({"searches": searches, "prefixes": prefixes}).to_string())?;

    let (search_times, hits) = timed_searches(index.as_ref(), &tenant, &searches).await?;
    let mut suggest_times = Vec::new();
    for prefix in &prefixes {
        let started = Instant::now();
        index.suggest(&tenant, prefix).await?;
        suggest_times.push(started.elapsed());
    }
    suggest_times.sort();

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..16 {
        let (index, tenant, searches) = (Arc::clone(&index), tenant.clone(), searches.clone());
        clients.spawn(async move {
            let mut done = 0u64;
            let mut n = client;
            while Instant::now() < deadline {
                let query = &searches[n % searches.len()];
                if index.search(&tenant, &fuzzy_request(query)).await.is_ok() {
                    done += 1;
                }
                n += 16;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = clients.join_next().await {
        total += done?;
    }
    println!(
        "{}",
        json!({
            "books": books.len(),
            "index_seconds": index_seconds,
            "queries": searches.len(),
            "queries_with_hits": hits,
            "search_p50_ms": percentile(&search_times, 0.5),
            "search_p99_ms": percentile(&search_times, 0.99),
            "suggest_p50_ms": percentile(&suggest_times, 0.5),
            "suggest_p99_ms": percentile(&suggest_times, 0.99),
            "search_qps_16_clients": total as f64 / 5.0,
        })
    );
    Ok(())
}

async fn index_demo(out: PathBuf) -> Result<()> {
    let dir = out.join("demo-index");
    let _ = std::fs::remove_dir_all(&dir);
    let index = TantivySearch::open(&dir);
    let tenants: Vec<(TenantId, Vec<DemoBook>)> = bookstore_runtime::demo::demo_tenants()
        .iter()
        .enumerate()
        .map(|(i, (id, _))| Ok((TenantId::parse(id).context("tenant")?, demo_books(0xb00c_0000 + i as u64, 1000))))
        .collect::<Result<_>>()?;
    let started = Instant::now();
    for (tenant, books) in &tenants {
        index_all(&index, tenant, books, 0).await?;
    }
    println!("{}", json!({"demo_books": 3000, "index_seconds": started.elapsed().as_secs_f64()}));
    Ok(())
}

async fn freshness(url: &str, token: &str, writes: usize) -> Result<()> {
    let http = reqwest::Client::new();
    let mut lags = Vec::with_capacity(writes);
    let run = uuid::Uuid::new_v4().simple().to_string();
    for n in 0..writes {
        let word = format!("fresco{}x{n}", &run[..6]);
        let isbn = bookstore_runtime::domain::Isbn::from_body(
            979_000_000_000 + n as u64 + (u64::from_str_radix(&run[..4], 16)? * 10_000),
        )
        .to_string();
        let body = json!({"isbn": isbn, "title": format!("Libro {word}"), "author": "Autora", "category": "Ficción",
                          "price": "12.00", "stock_quantity": 5, "publication_year": 2020});
        let created = http.post(format!("{url}/api/v1/books")).bearer_auth(token).json(&body).send().await?;
        anyhow::ensure!(created.status().as_u16() == 201, "create answered {}", created.status());
        let written = Instant::now();
        loop {
            let found: serde_json::Value = http
                .get(format!("{url}/api/v1/books/search?q={word}&fuzzy=false&limit=1"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if found["pagination"]["total_items"].as_u64().unwrap_or(0) > 0 {
                lags.push(written.elapsed());
                break;
            }
            anyhow::ensure!(written.elapsed() < Duration::from_secs(10), "book {n} never became searchable");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    lags.sort();
    println!(
        "{}",
        json!({"writes": writes, "lag_p50_ms": percentile(&lags, 0.5), "lag_p99_ms": percentile(&lags, 0.99), "lag_max_ms": percentile(&lags, 1.0)})
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Engine { books, out } => engine(books, out).await,
        Command::IndexDemo { out } => index_demo(out).await,
        Command::Freshness { url, token, writes } => freshness(&url, &token, writes).await,
        Command::Node { url, books, index_only } => node(&url, books, index_only).await,
    }
}
