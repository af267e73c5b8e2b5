//! `loadgen checkout`: N customers each loop add-to-cart (1 copy) then checkout on
//! one fresh book until the time is up. Afterwards the book's stock must equal the
//! starting stock minus the copies bought in 201 answers: no oversell, nothing lost.
//!
//! The run fails (exit 1) on oversell, on a stock mismatch, on any 5xx, and on any
//! request without an answer (its outcome, and so the stock, would be unknown).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::Api;

/// Registrations hash a password each (deliberately slow): this many at a time.
const REGISTER_CONCURRENCY: usize = 4;

#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The tenant (X-Tenant-Id) to buy in.
    #[arg(long)]
    tenant: String,
    /// An admin of that tenant, to create the book and read its stock back.
    #[arg(long)]
    admin_email: String,
    #[arg(long)]
    admin_password: String,
    /// Concurrent customers, each a fresh registration with its own cart.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// How long the workers start new iterations.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// The book's starting stock.
    #[arg(long)]
    stock: u32,
}

/// What one worker saw.
#[derive(Debug, Default)]
struct Tally {
    checkout_latencies_us: Vec<u64>,
    checkouts_201: u64,
    checkouts_409: u64,
    checkouts_other: u64,
    cart_add_409: u64,
    cart_add_other: u64,
    status_5xx: u64,
    no_answer: u64,
    copies_bought: u64,
}

impl Tally {
    fn absorb(&mut self, other: Tally) {
        self.checkout_latencies_us.extend(other.checkout_latencies_us);
        self.checkouts_201 += other.checkouts_201;
        self.checkouts_409 += other.checkouts_409;
        self.checkouts_other += other.checkouts_other;
        self.cart_add_409 += other.cart_add_409;
        self.cart_add_other += other.cart_add_other;
        self.status_5xx += other.status_5xx;
        self.no_answer += other.no_answer;
        self.copies_bought += other.copies_bought;
    }

    fn other_status(&mut self, status: StatusCode) {
        if status.is_server_error() {
            self.status_5xx += 1;
        }
    }
}

/// The one-line JSON summary on stdout.
#[derive(Debug, Serialize)]
struct Summary {
    users: usize,
    duration_secs: f64,
    stock_start: u32,
    checkouts_201: u64,
    checkouts_409: u64,
    checkouts_other: u64,
    cart_add_409: u64,
    cart_add_other: u64,
    status_5xx: u64,
    no_answer: u64,
    copies_bought: u64,
    checkouts_per_sec: f64,
    checkout_p50_ms: f64,
    checkout_p99_ms: f64,
    stock_end: i64,
    stock_expected: i64,
    oversold: bool,
    passed: bool,
}

pub async fn run(args: CheckoutArgs) -> Result<bool> {
    if args.users == 0 {
        bail!("--users must be at least 1");
    }
    let api = Api::new(&args.url, &args.tenant)?;
    let admin = api.login(&args.admin_email, &args.admin_password).await?;
    let run_id = run_id();
    let book_id = create_unique_book(&api, &admin, run_id, args.stock).await?;
    eprintln!("loadgen: book {book_id} with stock {}; registering {} customers", args.stock, args.users);
    let tokens = register_customers(&api, run_id, args.users).await?;

    eprintln!("loadgen: {} workers buying for {} s", args.users, args.duration_secs);
    let book_id = Arc::new(book_id);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_secs);
    let mut workers = JoinSet::new();
    for token in tokens {
        workers.spawn(worker(api.clone(), token, Arc::clone(&book_id), deadline));
    }
    let mut tally = Tally::default();
    while let Some(done) = workers.join_next().await {
        tally.absorb(done.context("a checkout worker panicked")?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let stock_end = api.stock_of(&admin, &book_id).await?;
    let stock_expected = i64::from(args.stock) - i64::try_from(tally.copies_bought).unwrap_or(i64::MAX);
    let oversold = stock_end < 0 || tally.copies_bought > u64::from(args.stock);
    let passed = !oversold && stock_end == stock_expected && tally.status_5xx == 0 && tally.no_answer == 0;
    tally.checkout_latencies_us.sort_unstable();
    let summary = Summary {
        users: args.users,
        duration_secs: elapsed,
        stock_start: args.stock,
        checkouts_201: tally.checkouts_201,
        checkouts_409: tally.checkouts_409,
        checkouts_other: tally.checkouts_other,
        cart_add_409: tally.cart_add_409,
        cart_add_other: tally.cart_add_other,
        status_5xx: tally.status_5xx,
        no_answer: tally.no_answer,
        copies_bought: tally.copies_bought,
        checkouts_per_sec: tally.checkouts_201 as f64 / elapsed,
        checkout_p50_ms: percentile_ms(&tally.checkout_latencies_us, 0.50),
        checkout_p99_ms: percentile_ms(&tally.checkout_latencies_us, 0.99),
        stock_end,
        stock_expected,
        oversold,
        passed,
    };
    println!("{}", serde_json::to_string(&summary).context("cannot write the summary")?);
    if !passed {
        eprintln!(
            "loadgen: FAILED: stock {stock_end}, expected {stock_expected}; {} 5xx; {} requests without an answer",
            tally.status_5xx, tally.no_answer
        );
    }
    Ok(passed)
}

async fn worker(api: Api, token: String, book_id: Arc<Value>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        match api.add_to_cart(&token, &book_id).await {
            Ok(StatusCode::OK) => {}
            Ok(StatusCode::CONFLICT) => {
                // Sold out (or too few left): nothing went in the cart.
                tally.cart_add_409 += 1;
                continue;
            }
            Ok(status) => {
                tally.cart_add_other += 1;
                tally.other_status(status);
                continue;
            }
            Err(_) => {
                tally.no_answer += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        let sent = Instant::now();
        let answer = api.checkout(&token).await;
        tally.checkout_latencies_us.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
        match answer {
            Ok((StatusCode::CREATED, body)) => {
                tally.checkouts_201 += 1;
                tally.copies_bought += copies_in(&body, &book_id);
            }
            Ok((status, _)) => {
                if status == StatusCode::CONFLICT {
                    tally.checkouts_409 += 1;
                } else {
                    tally.checkouts_other += 1;
                    tally.other_status(status);
                }
                match api.clear_cart(&token).await {
                    Ok(status) => tally.other_status(status),
                    Err(_) => tally.no_answer += 1,
                }
            }
            Err(_) => {
                tally.no_answer += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// Copies of the book in a purchase; 1 when the answer does not say (the cart held one).
fn copies_in(body: &[u8], book_id: &Value) -> u64 {
    let Ok(purchase) = serde_json::from_slice::<Value>(body) else {
        return 1;
    };
    let Some(items) = purchase.get("items").and_then(Value::as_array) else {
        return 1;
    };
    items
        .iter()
        .filter(|item| item.get("book_id") == Some(book_id))
        .map(|item| item.get("quantity").and_then(Value::as_u64).unwrap_or(1))
        .sum()
}

async fn create_unique_book(api: &Api, admin: &str, run_id: u64, stock: u32) -> Result<Value> {
    // A clash with an existing ISBN is possible in a long-lived data dir: try a few.
    let mut last_error = None;
    for attempt in 0..5 {
        let isbn = isbn13(run_id.wrapping_add(attempt * 7_919));
        match api.create_book(admin, &isbn, stock).await {
            Ok(id) => return Ok(id),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no book created")))
}

async fn register_customers(api: &Api, run_id: u64, users: usize) -> Result<Vec<String>> {
    let permits = Arc::new(Semaphore::new(REGISTER_CONCURRENCY));
    let mut registrations = JoinSet::new();
    for index in 0..users {
        let api = api.clone();
        let permits = Arc::clone(&permits);
        registrations.spawn(async move {
            let _permit = permits.acquire_owned().await.context("registration limiter closed")?;
            let email = format!("loadgen-{run_id}-{index}@loadgen.example");
            api.register(&email, "loadgen-password-1", "Loadgen").await
        });
    }
    let mut tokens = Vec::with_capacity(users);
    while let Some(done) = registrations.join_next().await {
        tokens.push(done.context("a registration task panicked")??);
    }
    Ok(tokens)
}

/// A number unique to this run: nanoseconds since the epoch mixed with the PID.
fn run_id() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos as u64) ^ (u64::from(std::process::id()) << 40)
}

/// A valid ISBN-13 in the 978 range whose nine free digits come from `seed`.
fn isbn13(seed: u64) -> String {
    let digits = format!("978{:09}", seed % 1_000_000_000);
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(position, byte)| u32::from(byte - b'0') * if position % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds; 0 when empty.
fn percentile_ms(sorted_us: &[u64], quantile: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isbn13_has_the_right_check_digit() {
        // 978-0-306-40615-7 is the textbook example.
        assert_eq!(isbn13(30_640_615), "9780306406157");
        assert_eq!(isbn13(1_030_640_615), "9780306406157");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }

    #[test]
    fn copies_are_read_from_the_purchase_items() {
        let book = Value::String("b-1".into());
        let body = br#"{"items":[{"book_id":"b-1","quantity":2},{"book_id":"b-2","quantity":5}]}"#;
        assert_eq!(copies_in(body, &book), 2);
        assert_eq!(copies_in(b"not json", &book), 1);
    }
}
