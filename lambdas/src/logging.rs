//! JSON log lines on standard output, each with the invocation's request id (the
//! runtime's span), as CloudWatch Logs Insights reads them. `BOOKSTORE_LOG` is one level
//! (`error` … `trace`, default `info`): a level filter, not an `EnvFilter`, whose
//! directive parser would ship its regex engine in every zip.

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    let level = std::env::var("BOOKSTORE_LOG").ok().and_then(|level| level.parse().ok()).unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_ansi(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .init();
}
