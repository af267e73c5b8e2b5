//! Items (JSON maps) to DynamoDB attribute values and back. Numbers travel as their
//! decimal text both ways, so an integer keeps every digit; money is a JSON string in the
//! item (`domain::amounts`), stored as `S`, and keeps its exact decimal.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Number, Value};

use crate::store::{Item, Key, StoreError};

pub type Attributes = HashMap<String, AttributeValue>;

pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(values) => AttributeValue::L(values.iter().map(to_attribute).collect()),
        Value::Object(members) => AttributeValue::M(to_attributes(members)),
    }
}

pub fn to_attributes(item: &Item) -> Attributes {
    item.iter().map(|(name, value)| (name.clone(), to_attribute(value))).collect()
}

fn number(text: &str) -> Result<Value, StoreError> {
    let parsed = if let Ok(n) = text.parse::<i64>() {
        Some(Number::from(n))
    } else if let Ok(n) = text.parse::<u64>() {
        Some(Number::from(n))
    } else {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    };
    parsed.map(Value::Number).ok_or_else(|| StoreError::Unavailable(format!("DynamoDB returned a number {text:?}")))
}

/// Reading attribute values back as JSON. DynamoDB and DynamoDB Streams each have their
/// own `AttributeValue` type, of the same shape: one decoder each, from one text.
macro_rules! json_decoder {
    ($module:ident, $sdk:ident) => {
        pub mod $module {
            use std::collections::HashMap;

            use serde_json::{Map, Value};
            use $sdk::types::AttributeValue;

            use super::number;
            use crate::store::{Item, StoreError};

            pub fn value(attribute: &AttributeValue) -> Result<Value, StoreError> {
                Ok(match attribute {
                    AttributeValue::Null(_) => Value::Null,
                    AttributeValue::Bool(b) => Value::Bool(*b),
                    AttributeValue::N(n) => number(n)?,
                    AttributeValue::S(s) => Value::String(s.clone()),
                    AttributeValue::L(values) => Value::Array(values.iter().map(value).collect::<Result<_, _>>()?),
                    AttributeValue::M(members) => Value::Object(item(members)?),
                    AttributeValue::Ss(strings) => Value::Array(strings.iter().cloned().map(Value::String).collect()),
                    AttributeValue::Ns(numbers) => {
                        Value::Array(numbers.iter().map(|n| number(n)).collect::<Result<_, _>>()?)
                    }
                    other => {
                        return Err(StoreError::Unavailable(format!(
                            "DynamoDB returned an attribute this store never writes: {other:?}"
                        )));
                    }
                })
            }

            /// An item read back; serde_json's map keeps members sorted by name, as the
            /// embedded store writes them.
            pub fn item(attributes: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
                let mut item = Map::new();
                for (name, attribute) in attributes {
                    item.insert(name.clone(), value(attribute)?);
                }
                Ok(item)
            }
        }
    };
}

json_decoder!(table_json, aws_sdk_dynamodb);
json_decoder!(stream_json, aws_sdk_dynamodbstreams);

pub use table_json::item as from_attributes;

pub fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_json_value_an_item_holds_comes_back_the_same() {
        let item = json!({
            "pk": "t1#b1", "sk": "BOOK#1", "price": "19.90", "stock": 9_007_199_254_740_993_i64,
            "big": u64::MAX, "rating": 4.5, "negative": -3, "active": true, "gone": null,
            "tags": ["a", 1, {"deep": [false]}], "address": {"city": "Lima", "lines": []}, "empty": ""
        });
        let Value::Object(item) = item else { unreachable!() };
        let back = from_attributes(&to_attributes(&item)).expect("round trip");
        assert_eq!(back, item);
    }

    #[test]
    fn a_stream_image_reads_back_like_a_table_item() {
        use aws_sdk_dynamodbstreams::types::AttributeValue as StreamValue;
        let image = HashMap::from([
            ("pk".to_owned(), StreamValue::S("t1#b1".into())),
            ("stock".to_owned(), StreamValue::N("3".into())),
            ("tags".to_owned(), StreamValue::L(vec![StreamValue::Bool(true), StreamValue::Null(true)])),
        ]);
        let item = stream_json::item(&image).expect("image");
        assert_eq!(Value::Object(item), json!({"pk": "t1#b1", "stock": 3, "tags": [true, null]}));
    }

    #[test]
    fn integers_travel_as_their_digits() {
        assert_eq!(to_attribute(&json!(9_007_199_254_740_993_i64)), AttributeValue::N("9007199254740993".into()));
        assert_eq!(to_attribute(&json!("0.10")), AttributeValue::S("0.10".into()), "money stays text");
    }

    #[test]
    fn a_number_dynamodb_cannot_hand_back_as_json_is_an_error() {
        assert!(table_json::value(&AttributeValue::N("not a number".into())).is_err());
    }
}
