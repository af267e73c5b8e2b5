//! A deployed stage's functions through the Lambda API: their code updated in place
//! (`deploy --hotswap`), one invoked (`invoke`), their logs read (`logs`).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use aws_sdk_lambda::types::LastUpdateStatus;
use base64::Engine;

use super::{Clients, describe_sdk_error};
use crate::package::Package;

/// How long the functions' code updates may take to settle.
const UPDATE_SETTLES_WITHIN: Duration = Duration::from_secs(120);

/// What a hot swap did to one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    Updated,
    /// It already ran this zip.
    Unchanged,
}

/// A zip's SHA-256 as Lambda reports `CodeSha256` (base64, not hex).
pub fn code_sha256(package: &Package) -> Result<String> {
    let bytes = (0..package.sha256.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&package.sha256[at..at + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| anyhow!("{}: not a hex SHA-256: {}", package.path.display(), package.sha256))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Points `function` at the package's zip in `bucket` unless it runs it already.
pub async fn start_code_update(clients: &Clients, function: &str, bucket: &str, package: &Package) -> Result<Swap> {
    let current = configuration(clients, function).await?;
    if current.code_sha256() == Some(code_sha256(package)?.as_str()) {
        return Ok(Swap::Unchanged);
    }
    clients
        .lambda
        .update_function_code()
        .function_name(function)
        .s3_bucket(bucket)
        .s3_key(package.s3_key())
        .send()
        .await
        .map_err(|err| anyhow!("cannot update the code of {function}: {}", describe_sdk_error(&err)))?;
    Ok(Swap::Updated)
}

/// Waits until Lambda reports every update of `functions` done (`LastUpdateStatus`), all
/// of them at once, so six functions take as long as the slowest.
pub async fn wait_until_updated(clients: &Clients, functions: &[String], poll: Duration) -> Result<()> {
    let started = Instant::now();
    let mut pending = functions.to_vec();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for function in pending {
            let state = configuration(clients, &function).await?;
            match state.last_update_status() {
                None | Some(LastUpdateStatus::Successful) => {}
                Some(LastUpdateStatus::Failed) => bail!(
                    "the code update of {function} failed: {}",
                    state.last_update_status_reason().unwrap_or("Lambda gave no reason")
                ),
                Some(_) => still.push(function),
            }
        }
        if !still.is_empty() {
            if started.elapsed() > UPDATE_SETTLES_WITHIN {
                bail!("the code update of {} has not settled after {UPDATE_SETTLES_WITHIN:?}", still.join(", "));
            }
            tokio::time::sleep(poll).await;
        }
        pending = still;
    }
    Ok(())
}

async fn configuration(
    clients: &Clients,
    function: &str,
) -> Result<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput> {
    clients
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|err| anyhow!("cannot read function {function} at {}: {}", clients.endpoint, describe_sdk_error(&err)))
}

/// What one invocation answered.
pub struct Invocation {
    pub payload: Vec<u8>,
    /// `Unhandled` (or the error type) when the function failed.
    pub function_error: Option<String>,
    /// The tail of its log, when Lambda sent it.
    pub log_tail: Option<String>,
}

/// Invokes `function` synchronously with `event`, asking for the tail of its log.
pub async fn invoke(clients: &Clients, function: &str, event: Vec<u8>) -> Result<Invocation> {
    let answer = clients
        .lambda
        .invoke()
        .function_name(function)
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(event))
        .send()
        .await
        .map_err(|err| {
            let reason = describe_sdk_error(&err);
            if reason.starts_with("ResourceNotFoundException") {
                anyhow!("function {function} does not exist at {} (is the stage deployed?)", clients.endpoint)
            } else {
                anyhow!("cannot invoke {function}: {reason}")
            }
        })?;
    let log_tail = answer
        .log_result()
        .and_then(|tail| base64::engine::general_purpose::STANDARD.decode(tail).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    Ok(Invocation {
        payload: answer.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
        function_error: answer.function_error().map(str::to_owned),
        log_tail,
    })
}

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub id: String,
    pub millis: i64,
    pub stream: String,
    pub message: String,
}

/// Every log line of `group` from `since_millis` on, oldest first, every page.
pub async fn log_lines(clients: &Clients, group: &str, since_millis: i64) -> Result<Vec<LogLine>> {
    let mut lines = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(since_millis)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| {
                let reason = describe_sdk_error(&err);
                if reason.starts_with("ResourceNotFoundException") {
                    anyhow!("log group {group} does not exist at {} (is the stage deployed?)", clients.endpoint)
                } else {
                    anyhow!("cannot read log group {group}: {reason}")
                }
            })?;
        lines.extend(page.events().iter().map(|event| LogLine {
            id: event.event_id().unwrap_or_default().to_owned(),
            millis: event.timestamp().unwrap_or_default(),
            stream: event.log_stream_name().unwrap_or_default().to_owned(),
            message: event.message().unwrap_or_default().trim_end().to_owned(),
        }));
        match page.next_token() {
            Some(next) if !page.events().is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    lines.sort_by_key(|line| line.millis);
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_reports_the_zip_hash_in_base64() {
        let package = Package {
            function: "api",
            path: "bootstrap.zip".into(),
            bytes: 3,
            // SHA-256 of "abc".
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned(),
        };
        assert_eq!(code_sha256(&package).expect("hash"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }
}
