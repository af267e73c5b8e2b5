//! What only the Elasticsearch adapter has to show: an item its node refuses fails only
//! that record of a stream batch.

use std::sync::Arc;

use bookstore_runtime::cdc::{BooksToSearch, StreamHandler, stream_event};
use bookstore_runtime::changes::read_all;
use bookstore_runtime::elasticsearch::ElasticsearchSearch;
use bookstore_runtime::store::Table;
use serde_json::json;

use crate::support::{SearchNode, TestApp, isbn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_item_becomes_that_records_batch_item_failure() {
    let app = TestApp::new().await;
    let shop = app.shop("shop-r").await;
    for (n, title) in [(1, "1984"), (2, "Rayuela"), (3, "2666")] {
        let body = json!({"isbn": isbn(n), "title": title, "author": "Autora", "category": "Ficción",
                          "price": "10.00", "stock_quantity": 5, "publication_year": 2020});
        let reply = app.call(axum::http::Method::POST, "/api/v1/books", Some(&shop.admin), Some(body)).await;
        assert_eq!(reply.status, axum::http::StatusCode::CREATED, "{}", reply.body);
    }
    let records: Vec<_> = read_all(app.changes.as_deref().expect("embedded streams"), Table::Books)
        .await
        .expect("changes")
        .into_iter()
        .filter(|r| r.new_image.as_ref().is_some_and(|image| image.contains_key("title")))
        .collect();
    assert_eq!(records.len(), 3, "one record per book");

    // The tenant's index exists with a title that must be a number: "Rayuela" cannot go in.
    let node = SearchNode::start().await;
    let index =
        json!({ "mappings": { "properties": { "title": { "type": "long" } } }, "aliases": { "shop-r-books": {} } });
    let created =
        reqwest::Client::new().put(format!("{}/shop-r-books-1", node.url)).json(&index).send().await.expect("create");
    assert!(created.status().is_success());
    let handler = BooksToSearch::new(Arc::new(ElasticsearchSearch::at(&node.url)));
    let failed = handler.handle(stream_event(&records, "local")).await;
    let reported: Vec<_> = failed.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(reported, [Some(records[1].sequence.clone())], "only Rayuela's record failed");
}
