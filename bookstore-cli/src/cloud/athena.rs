//! `bookstore athena query` on an AWS stage, over the runtime's Athena adapter: a spinner
//! shows the state and the data scanned while the query runs, and Ctrl-C stops the query
//! in Athena too, so nothing keeps scanning unseen.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bookstore_runtime::analytics::{AthenaQuery, QueryOutput};
use bookstore_runtime::aws::{AthenaEngine, AthenaFailure};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs a tenant-scoped query and returns every row; `stage` names the stage in the hint
/// when its workgroup is missing.
pub async fn run_query(engine: &AthenaEngine, query: &AthenaQuery, stage: &str) -> Result<QueryOutput> {
    // Listening before the query starts: a Ctrl-C from here on stops it in Athena rather
    // than killing the process and leaving it scanning.
    let mut interrupt = Interrupt::listen()?;
    let id = engine.start(query).await.map_err(|failure| match failure {
        AthenaFailure::Unavailable(message) if message.to_ascii_lowercase().contains("workgroup") => {
            anyhow::anyhow!("{message} (is the stage deployed? run `bookstore deploy --stage {stage}`)")
        }
        other => anyhow::Error::new(other),
    })?;
    eprintln!("query {id} started in workgroup {}", engine.workgroup());

    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    // Ctrl-C replaces the default handler for the rest of the process, so this one select
    // covers both the wait and the paging; stopping a finished query changes nothing.
    let answered = tokio::select! {
        answered = async {
            let (scanned, header_row) = engine
                .wait(&id, |state, scanned| {
                    spinner.set_message(format!(
                        "{state}, {} scanned, {:.1} s",
                        crate::cmd::athena::human_bytes(scanned),
                        started.elapsed().as_secs_f64()
                    ));
                })
                .await?;
            spinner.finish_and_clear();
            engine.results(&id, scanned, header_row).await
        } => answered.map_err(anyhow::Error::new),
        () = interrupt.recv() => {
            spinner.finish_and_clear();
            match engine.stop(&id).await {
                Ok(()) => bail!("interrupted: query {id} was stopped in Athena"),
                Err(err) => bail!("interrupted, and {err}"),
            }
        }
    };
    spinner.finish_and_clear();
    answered
}

/// Ctrl-C, listened for from the moment this is made (`tokio::signal::ctrl_c` only
/// installs its handler when first polled).
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("cannot listen for Ctrl-C")?;
            Ok(Self { signal })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
