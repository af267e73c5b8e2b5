//! `GET /analytics/{tenant}` and `POST /analytics/{tenant}/report`: a tenant's admin sees
//! the tenant's figures from the lake, nobody else does, and report parameters are values.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, isbn};

async fn sold_app() -> (TestApp, crate::support::Shop, crate::support::Shop) {
    let app = TestApp::new().await;
    let shop = app.shop("shop-a").await;
    let other = app.shop("shop-b").await;
    let book = app.book(&shop.admin, &isbn(1), "Cien años de soledad", 50, "20.00").await;
    let add = json!({"book_id": book["book_id"], "quantity": 2});
    let added = app.call(Method::POST, "/api/v1/cart/add", Some(&shop.alice), Some(add)).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let bought = app.call(Method::POST, "/api/v1/purchases/checkout", Some(&shop.alice), Some(json!({}))).await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.body);
    app.sync_search().await;
    (app, shop, other)
}

fn column(table: &Value, name: &str) -> Vec<Value> {
    let index = table["columns"].as_array().expect("columns").iter().position(|c| c == name).expect("column");
    table["rows"].as_array().expect("rows").iter().map(|row| row[index].clone()).collect()
}

#[tokio::test]
async fn an_admin_sees_the_tenants_dashboard_from_the_lake() {
    let (app, shop, other) = sold_app().await;
    let reply = app.call(Method::GET, "/analytics/shop-a", Some(&shop.admin), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(column(&reply.body["totals"], "purchases"), [json!("1")]);
    assert_eq!(column(&reply.body["top_books"], "title"), [json!("Cien años de soledad")]);
    assert_eq!(column(&reply.body["top_books"], "copies"), [json!("2")]);
    assert_eq!(column(&reply.body["revenue_per_category"], "category"), [json!("Ficción")]);

    let empty = app.call(Method::GET, "/analytics/shop-b", Some(&other.admin), None).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(column(&empty.body["totals"], "purchases"), [json!("0")], "shop-b sees none of shop-a's sales");
}

#[tokio::test]
async fn customers_and_other_tenants_are_refused() {
    let (app, shop, other) = sold_app().await;
    for (token, path) in
        [(&shop.alice, "/analytics/shop-a"), (&other.admin, "/analytics/shop-a"), (&shop.admin, "/analytics/shop-b")]
    {
        let reply = app.call(Method::GET, path, Some(token), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {}", reply.body);
        let report =
            app.call(Method::POST, &format!("{path}/report"), Some(token), Some(json!({"report": "top_books"}))).await;
        assert_eq!(report.status, StatusCode::FORBIDDEN, "{path}/report: {}", report.body);
    }
    let anonymous = app.call(Method::GET, "/analytics/shop-a", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn report_parameters_are_values_never_sql() {
    let (app, shop, _) = sold_app().await;
    let report = |parameters: Value| {
        let body = json!({"report": "top_books", "parameters": parameters});
        app.call(Method::POST, "/analytics/shop-a/report", Some(&shop.admin), Some(body))
    };
    let all = report(json!({})).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["rows"].as_array().map(Vec::len), Some(1));
    let injected = report(json!({"category": "x' OR '1'='1"})).await;
    assert_eq!(injected.status, StatusCode::OK, "{}", injected.body);
    assert_eq!(injected.body["rows"], json!([]), "the quote is part of a category name that matches nothing");
    let named = report(json!({"category": "Ficción", "limit": 5})).await;
    assert_eq!(named.body["rows"].as_array().map(Vec::len), Some(1));

    for (parameters, field) in [
        (json!({"month": "13"}), "parameters.month"),
        (json!({"year": "2026' --"}), "parameters.year"),
        (json!({"limit": 1000}), "parameters.limit"),
        (json!({"sql": "SELECT 1"}), "unknown field `sql`"),
    ] {
        let refused = report(parameters).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body["error"]["message"].as_str().is_some_and(|m| m.contains(field)), "{}", refused.body);
    }
    let unknown = app
        .call(Method::POST, "/analytics/shop-a/report", Some(&shop.admin), Some(json!({"report": "everything"})))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body["error"]["message"].as_str().is_some_and(|m| m.contains("top_books")), "{}", unknown.body);
    let raw_sql = app
        .call(
            Method::POST,
            "/analytics/shop-a/report",
            Some(&shop.admin),
            Some(json!({"sql": "SELECT * FROM purchases"})),
        )
        .await;
    assert!(raw_sql.status.is_client_error(), "a body with SQL is refused: {}", raw_sql.body);
}
