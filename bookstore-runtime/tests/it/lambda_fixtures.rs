//! The DynamoDB stream batch the Lambda tests feed the real `books-to-search` bootstrap
//! (`bookstore-cli/tests/fixtures/lambda/books-stream-batch.json`) is what the store's
//! items look like in a stream: built here from books through the same item encoding and
//! stream shape, and compared with the file (`BOOKSTORE_UPDATE_FIXTURES=1` rewrites it).

use bookstore_runtime::catalog::book_item;
use bookstore_runtime::cdc::stream_event;
use bookstore_runtime::changes::{ChangeKind, ChangeRecord};
use bookstore_runtime::domain::Book;
use bookstore_runtime::store::{Key, Table};
use serde_json::{Value, json};

const FIXTURE: &str = "../bookstore-cli/tests/fixtures/lambda/books-stream-batch.json";

/// The tenant every record of the fixture belongs to.
pub const TENANT: &str = "fixture-shop";

fn book(id: &str, isbn: &str, title: &str, price: &str, version: u64) -> Book {
    serde_json::from_value(json!({
        "book_id": id, "tenant_id": TENANT, "isbn": isbn, "title": title, "author": "Ana Lugo",
        "editorial": null, "category": "novela", "price": price, "description": null,
        "cover_image_url": null, "stock_quantity": 5, "publication_year": 2001, "language": "es",
        "pages": 320, "rating": "4.5", "is_active": true, "sales_count": 0, "version": version,
        "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z",
    }))
    .expect("a valid book")
}

fn record(sequence: u32, kind: ChangeKind, old: Option<&Book>, new: Option<&Book>) -> ChangeRecord {
    let any = new.or(old).expect("an image");
    let item = |book: &Book| book_item(book).expect("item");
    let key_item = item(any);
    ChangeRecord {
        sequence: format!("{sequence:021}"),
        table: Table::Books,
        kind,
        key: Key::new(key_item["pk"].as_str().expect("pk"), key_item["sk"].as_str().expect("sk")),
        old_image: old.map(item),
        new_image: new.map(item),
        at: chrono::DateTime::from_timestamp(1_796_644_800, 0).unwrap_or_default(),
    }
}

fn batch() -> Value {
    let inserted = book("0193e0a0-0000-7000-8000-000000000001", "9788437604947", "Cien años de soledad", "19.90", 1);
    let before = book("0193e0a0-0000-7000-8000-000000000002", "9780141439518", "Orgullo y prejuicio", "12.00", 1);
    let after = book("0193e0a0-0000-7000-8000-000000000002", "9780141439518", "Orgullo y prejuicio", "9.50", 2);
    let removed = book("0193e0a0-0000-7000-8000-000000000003", "9780307474728", "El amor en los tiempos", "15.00", 1);
    let mut poison = record(4, ChangeKind::Insert, None, Some(&inserted));
    // A book item whose title is not text: no handler can read it.
    let poisoned = poison.new_image.as_mut().expect("image");
    poisoned.insert("title".to_owned(), json!(42));
    poisoned.insert("pk".to_owned(), json!(format!("{TENANT}#0193e0a0-0000-7000-8000-000000000004")));
    poison.key.pk = format!("{TENANT}#0193e0a0-0000-7000-8000-000000000004");
    let records = [
        record(1, ChangeKind::Insert, None, Some(&inserted)),
        record(2, ChangeKind::Modify, Some(&before), Some(&after)),
        record(3, ChangeKind::Remove, Some(&removed), None),
        poison,
    ];
    serde_json::to_value(stream_event(&records, "eu-west-1")).expect("json")
}

#[test]
fn the_books_stream_fixture_is_what_the_store_streams() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let built = batch();
    if std::env::var_os("BOOKSTORE_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&built).expect("json") + "\n").expect("write fixture");
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the fixture")).expect("fixture json");
    assert_eq!(stored, built, "rewrite with BOOKSTORE_UPDATE_FIXTURES=1 after a change to the item format");
}
