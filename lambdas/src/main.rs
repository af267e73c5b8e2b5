//! The `bootstrap` of every function of a stage. The template sets `BOOKSTORE_FUNCTION`
//! (and the rest of the stage's configuration, `docs/deploying.md`); a configuration that
//! cannot serve is reported to the Runtime API as an init error, so the invocation says
//! why instead of timing out.

use bookstore_lambdas::{FunctionEnvironment, init_error, logging, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let environment = FunctionEnvironment::from_process();
    match bookstore_lambdas::start(&environment).await {
        Ok(function) => serve(function).await,
        Err(err) => {
            tracing::error!(error = %err, "cannot start");
            init_error::report(&err).await;
            Err(err.into())
        }
    }
}
