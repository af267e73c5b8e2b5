//! What every function binary shares: reading its configuration from the environment the
//! template sets, and starting the Lambda Runtime API loop.
//!
//! The AWS adapters (DynamoDB store, S3 lake, Elasticsearch search) are not in the runtime
//! yet, so a function that needs one answers every invocation with an error naming the
//! missing adapter instead of pretending to work. The binaries, their packaging and the
//! stack that runs them are real; the handlers arrive with the adapters.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// The environment variables the stack's template gives every function.
pub const STAGE_VARIABLE: &str = "BOOKSTORE_STAGE";

/// The adapter a function waits for, named in its error.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub needs: &'static str,
}

/// Runs the Runtime API loop for one function.
pub async fn run(function: Function) -> Result<(), Error> {
    let stage = std::env::var(STAGE_VARIABLE).unwrap_or_else(|_| "(unset)".to_owned());
    eprintln!(r#"{{"level":"INFO","function":"{}","stage":"{stage}","message":"started"}}"#, function.name);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let _ = event.payload;
        Err::<Value, Error>(
            format!("{}: this build has no {} adapter yet; the function cannot serve", function.name, function.needs)
                .into(),
        )
    }))
    .await
}
