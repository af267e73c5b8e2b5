//! Reading the records of the books and purchases streams: which item changed, how,
//! and its typed image. Items that share a table but are not books or purchases (ISBN
//! claims, say) are skipped.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

use super::decode_image;
use crate::domain::{Book, Purchase};
use crate::store::{Item, keys};

/// How an item changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Modified,
    Removed,
}

fn typed<T: DeserializeOwned>(item: Item, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(item)).map_err(|e| format!("not a {what}: {e}"))
}

/// The change and the item's image (the new one, or the old one on removal), when the
/// item's sort key starts with `prefix`.
fn image_with_prefix(record: &EventRecord, prefix: &str) -> Result<Option<(Change, Item)>, String> {
    let (change, image) = match record.event_name.as_str() {
        "INSERT" => (Change::Inserted, decode_image(&record.change.new_image)?),
        "MODIFY" => (Change::Modified, decode_image(&record.change.new_image)?),
        "REMOVE" => (Change::Removed, decode_image(&record.change.old_image)?),
        other => return Err(format!("unknown event name {other:?}")),
    };
    let image = image.ok_or_else(|| format!("{} record without its image", record.event_name))?;
    let matches = image.get("sk").and_then(|v| v.as_str()).is_some_and(|sk| sk.starts_with(prefix));
    Ok(matches.then_some((change, image)))
}

/// A book change (`None` for other items of the books table).
pub fn book_change(record: &EventRecord) -> Result<Option<(Change, Book)>, String> {
    image_with_prefix(record, keys::BOOK_SK_PREFIX)?
        .map(|(change, item)| Ok((change, typed(item, "book")?)))
        .transpose()
}

/// A purchase change (`None` for other items of the purchases table).
pub fn purchase_change(record: &EventRecord) -> Result<Option<(Change, Purchase)>, String> {
    image_with_prefix(record, keys::PURCHASE_SK_PREFIX)?
        .map(|(change, item)| Ok((change, typed(item, "purchase")?)))
        .transpose()
}
