//! Store change records ↔ the DynamoDB Streams record shape. Items map to attribute
//! values as DynamoDB stores them: strings `S`, numbers `N`, booleans `BOOL`, null
//! `NULL`, arrays `L`, objects `M`.

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use serde_json::Value;

use crate::changes::{ChangeKind, ChangeRecord};
use crate::store::Item;

fn attribute_item(item: &Item) -> serde_dynamo::Item {
    // A JSON object always serialises to an attribute map.
    serde_dynamo::to_item(item).unwrap_or_default()
}

/// One change record in the Streams shape.
pub fn stream_record(record: &ChangeRecord, region: &str) -> EventRecord {
    let mut change = StreamRecord::default();
    change.approximate_creation_date_time = record.at;
    let mut keys = Item::new();
    keys.insert("pk".into(), Value::from(record.key.pk.clone()));
    keys.insert("sk".into(), Value::from(record.key.sk.clone()));
    change.keys = attribute_item(&keys);
    change.new_image = record.new_image.as_ref().map(attribute_item).unwrap_or_default();
    change.old_image = record.old_image.as_ref().map(attribute_item).unwrap_or_default();
    change.sequence_number = Some(record.sequence.clone());
    let images = serde_json::to_vec(&(&record.old_image, &record.new_image)).map_or(0, |b| b.len());
    change.size_bytes = images as i64;
    change.stream_view_type = Some(StreamViewType::NewAndOldImages);

    let mut event = EventRecord::default();
    event.aws_region = region.to_owned();
    event.change = change;
    event.event_id = record.sequence.clone();
    event.event_name = match record.kind {
        ChangeKind::Insert => "INSERT",
        ChangeKind::Modify => "MODIFY",
        ChangeKind::Remove => "REMOVE",
    }
    .to_owned();
    event.event_source = Some("aws:dynamodb".to_owned());
    event.event_version = Some("1.1".to_owned());
    event.event_source_arn =
        Some(format!("arn:aws:dynamodb:{region}:000000000000:table/{}/stream/local", record.table.name()));
    event
}

/// A batch of change records as one Streams event.
pub fn stream_event(records: &[ChangeRecord], region: &str) -> Event {
    let mut event = Event::default();
    event.records = records.iter().map(|r| stream_record(r, region)).collect();
    event
}

/// An image of a Streams record back as a store item (`None` when the record has none).
pub fn decode_image(image: &serde_dynamo::Item) -> Result<Option<Item>, String> {
    if image.inner().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_dynamo::from_item(image.clone()).map_err(|e| format!("image is not an item: {e}"))?;
    match value {
        Value::Object(item) => Ok(Some(item)),
        other => Err(format!("image is not a map: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Key, Table};

    fn record(kind: ChangeKind, old: Option<Value>, new: Option<Value>) -> ChangeRecord {
        let item = |v: Value| match v {
            Value::Object(map) => map,
            _ => Item::new(),
        };
        ChangeRecord {
            sequence: "000000000000000000042".to_owned(),
            table: Table::Books,
            kind,
            key: Key::new("shop-a#b1", "BOOK#9788437604947"),
            old_image: old.map(item),
            new_image: new.map(item),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_modify_record_has_the_streams_shape_and_round_trips() {
        let new = serde_json::json!({"pk": "shop-a#b1", "sk": "BOOK#9788437604947", "price": "19.90", "stock_quantity": 3, "is_active": true, "tags": ["a"], "editorial": null});
        let old = serde_json::json!({"pk": "shop-a#b1", "sk": "BOOK#9788437604947", "price": "19.90", "stock_quantity": 4, "is_active": true, "tags": ["a"], "editorial": null});
        let event = stream_event(&[record(ChangeKind::Modify, Some(old.clone()), Some(new.clone()))], "eu-west-1");
        let json = serde_json::to_value(&event).expect("serialises");
        let first = &json["Records"][0];
        assert_eq!(first["eventName"], "MODIFY");
        assert_eq!(first["eventSource"], "aws:dynamodb");
        assert_eq!(first["dynamodb"]["Keys"]["pk"]["S"], "shop-a#b1");
        assert_eq!(first["dynamodb"]["NewImage"]["stock_quantity"]["N"], "3");
        assert_eq!(first["dynamodb"]["NewImage"]["is_active"]["BOOL"], true);
        assert_eq!(first["dynamodb"]["SequenceNumber"], "000000000000000000042");
        assert_eq!(first["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        let back: Event = serde_json::from_value(json).expect("deserialises as a Lambda event");
        assert_eq!(decode_image(&back.records[0].change.new_image).expect("decodes"), new.as_object().cloned());
        assert_eq!(decode_image(&back.records[0].change.old_image).expect("decodes"), old.as_object().cloned());
    }

    #[test]
    fn insert_and_remove_carry_only_their_image() {
        let item = serde_json::json!({"pk": "p", "sk": "s"});
        let insert = stream_record(&record(ChangeKind::Insert, None, Some(item.clone())), "local");
        assert_eq!(insert.event_name, "INSERT");
        assert_eq!(decode_image(&insert.change.old_image).expect("decodes"), None);
        let remove = stream_record(&record(ChangeKind::Remove, Some(item), None), "local");
        assert_eq!(decode_image(&remove.change.new_image).expect("decodes"), None);
    }
}
