//! Every function of a stage behind one `bootstrap`: [`start`] reads the function's
//! environment, builds its AWS clients once (endpoints overridable by the SDK's standard
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`), and [`serve`] hands the Runtime API
//! loop to the runtime's handlers: the one router for `api`, the `cdc` handlers for the
//! stream consumers, `TenantAdmin` for `tenant-admin`.

mod environment;
pub mod init_error;
pub mod logging;
mod start;

use std::sync::Arc;

use bookstore_runtime::cdc::StreamHandler;
use bookstore_runtime::limits::ClientAddress;
use bookstore_runtime::tenancy::{AdminCommand, TenantAdmin};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tower::ServiceExt;

pub use environment::{FunctionEnvironment, StartError};
pub use start::start;

/// A function ready to serve.
pub enum Started {
    Http(axum::Router),
    Stream(Arc<dyn StreamHandler>),
    Admin(Arc<TenantAdmin>),
}

/// Runs the Runtime API loop until the process ends.
pub async fn serve(started: Started) -> Result<(), Error> {
    match started {
        Started::Http(router) => {
            lambda_http::run(tower::service_fn(move |request: lambda_http::Request| {
                router.clone().oneshot(adopt_gateway_context(request))
            }))
            .await
        }
        Started::Stream(handler) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
                let handler = handler.clone();
                async move { Ok::<_, Error>(handler.handle(event.payload).await) }
            }))
            .await
        }
        Started::Admin(admin) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<AdminCommand>| {
                let admin = admin.clone();
                async move { admin.run(event.payload).await.map_err(|err| Error::from(err.to_string())) }
            }))
            .await
        }
    }
}

/// API Gateway's request id becomes the request's `x-request-id`, which the router logs
/// and answers with, so a log line and an access log entry share one id; its source IP
/// becomes the request's `ClientAddress`, which the sign-in and registration limits count.
fn adopt_gateway_context(mut request: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let (id, source_ip) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => (context.request_id.clone(), context.http.source_ip.clone()),
        _ => (None, None),
    };
    if let Some(value) = id.and_then(|id| lambda_http::http::HeaderValue::from_str(&id).ok()) {
        request.headers_mut().insert("x-request-id", value);
    }
    let address = source_ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    request.extensions_mut().insert(ClientAddress(address));
    request
}
