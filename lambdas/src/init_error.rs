//! A function that cannot start says why to the Runtime API (`/runtime/init/error`), so
//! the first invocation fails with that reason (`Runtime.InitError`) rather than an exit.

/// Posts `err` as the init error; does nothing outside Lambda.
pub async fn report(err: &dyn std::error::Error) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return };
    let body = serde_json::json!({ "errorMessage": err.to_string(), "errorType": "Runtime.InitError" });
    let sent = reqwest::Client::new()
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .send()
        .await;
    if let Err(err) = sent {
        tracing::error!(error = %err, "cannot report the init error to the Runtime API");
    }
}
