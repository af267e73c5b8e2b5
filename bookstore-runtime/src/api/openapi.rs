//! The OpenAPI document of the whole API, generated from the handlers' annotations.
//!
//! A route documents what only it answers: its success, and the failures of its own
//! resource (a 404 of its book, a 409 of its stock, a 403 for a non-admin). What every
//! operation answers because of what it takes is added here, read off the operation
//! itself, so no route can forget it: a bearer token brings 401, 403, 404 and 429 (the
//! `Caller` extractor), the `X-Tenant-Id` of register and login 403, 404 and 429, a JSON
//! body 400, 413 and 422 (`ApiJson`), parameters 400, and every operation may fail with
//! a 500. Every failure carries the error envelope.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bookstore API", description = "Multi-tenant bookstore: users, catalogue, carts and purchases."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody))
)]
pub(super) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// What an operation answers because of the shop it serves: the token's, or on register
/// and login the one `X-Tenant-Id` names.
const FROM_SHOP: [(&str, &str); 3] = [
    ("403", "the shop is suspended"),
    ("404", "the shop does not exist"),
    ("429", "the shop's request budget for this kind of route is spent: retry after `Retry-After` seconds"),
];
const FROM_TOKEN: (&str, &str) =
    ("401", "no valid bearer token: missing, malformed, expired, wrongly signed or of another algorithm");
const FROM_BODY: [(&str, &str); 3] = [
    ("400", "the body is not JSON, or not sent as `application/json`"),
    ("413", "the body is larger than the stage allows"),
    ("422", "a field of the body is missing, unknown or invalid; the message names it"),
];
const FROM_PARAMETERS: (&str, &str) = ("400", "a parameter is invalid; the message names it");
const INTERNAL: (&str, &str) = ("500", "an internal error; its cause is logged with the request id");

/// The header that names the shop on the routes without a token.
const SHOP_HEADER: &str = "X-Tenant-Id";

/// Adds the shared failures to every operation of `doc`. A status the route documents
/// itself keeps its body and gains the shared reason in its description.
pub(super) fn add_shared_failures(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let names_shop = parameters.iter().any(|p| p.parameter_in == ParameterIn::Header && p.name == SHOP_HEADER);
            let has_parameters = !parameters.is_empty();
            let has_token = operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty());
            let mut failures = vec![INTERNAL];
            if has_token {
                failures.push(FROM_TOKEN);
            }
            if has_token || names_shop {
                failures.extend(FROM_SHOP);
            }
            if operation.request_body.is_some() {
                failures.extend(FROM_BODY);
            }
            if has_parameters {
                failures.push(FROM_PARAMETERS);
            }
            for (status, reason) in failures {
                add_failure(operation, status, reason);
            }
            if let Some(RefOr::T(limited)) = operation.responses.responses.get_mut("429") {
                limited.headers.entry("Retry-After".to_owned()).or_insert_with(retry_after);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_failure(operation: &mut Operation, status: &str, reason: &str) {
    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(documented)) => {
            if !documented.description.contains(reason) {
                documented.description = if documented.description.is_empty() {
                    reason.to_owned()
                } else {
                    format!("{}; or {reason}", documented.description)
                };
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            operation.responses.responses.insert(status.to_owned(), RefOr::T(failure(reason)));
        }
    }
}

/// A failure answer: the error envelope.
fn failure(reason: &str) -> Response {
    let envelope = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    ResponseBuilder::new().description(reason).content("application/json", envelope).build()
}

fn retry_after() -> Header {
    let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
    HeaderBuilder::new().schema(seconds).description(Some("whole seconds to wait before retrying")).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_shared_failures_with_the_envelope() {
        let mut doc = super::super::openapi();
        for (path, item) in doc.paths.paths.iter_mut() {
            for operation in operations(item) {
                let statuses: Vec<&str> = operation.responses.responses.keys().map(String::as_str).collect();
                assert!(statuses.contains(&"500"), "{path}: {statuses:?}");
                if operation.security.is_some() {
                    for status in ["401", "403", "404", "429"] {
                        assert!(statuses.contains(&status), "{path} takes a token: {statuses:?}");
                    }
                }
                if operation.request_body.is_some() {
                    for status in ["400", "413", "422"] {
                        assert!(statuses.contains(&status), "{path} takes a body: {statuses:?}");
                    }
                }
                for (status, response) in &operation.responses.responses {
                    let RefOr::T(response) = response else { continue };
                    if status.starts_with(['4', '5']) {
                        assert!(response.content.contains_key("application/json"), "{path} {status}");
                        assert!(!response.description.is_empty(), "{path} {status} says why");
                    }
                    if status == "429" {
                        assert!(response.headers.contains_key("Retry-After"), "{path}");
                    }
                }
            }
        }
    }
}
