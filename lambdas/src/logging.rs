//! JSON log lines on standard output, each with the invocation's request id (the
//! runtime's span), as CloudWatch Logs Insights reads them. `BOOKSTORE_LOG` filters.

pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BOOKSTORE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .init();
}
