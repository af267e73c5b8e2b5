//! How request JSON is read where serde's defaults are looser than the documented
//! schema: whole numbers as JSON Schema's `integer` has them (`2` and `2.0`), and
//! objects only (serde's derived structs also take an array of their fields).

use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON number with no fraction, as JSON Schema's `integer` has it: `2` and `2.0` alike.
pub(super) fn whole(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
}

/// Reads a whole number (`2` or `2.0`) that fits `T`, for `#[serde(deserialize_with)]`.
pub fn whole_number<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
    fitting(&serde_json::Value::deserialize(d)?)
}

/// [`whole_number`] for an optional field: `null` or absent is `None`.
pub fn optional_whole_number<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        value => fitting(&value).map(Some),
    }
}

fn fitting<T: TryFrom<i64>, E: serde::de::Error>(value: &serde_json::Value) -> Result<T, E> {
    whole(value)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| E::custom(format!("expected a whole number in range, found {value}")))
}

/// `T` read from a JSON object only: serde's derived structs also take an array of
/// their fields in order, which the documented bodies are not.
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(JsonObject)
    }
}

/// Reads a struct-valued field from a JSON object only, for `#[serde(deserialize_with)]`.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    JsonObject::deserialize(d).map(|JsonObject(value)| value)
}

/// [`object`] for an optional field: `null` or absent is `None`.
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<JsonObject<T>>::deserialize(d).map(|value| value.map(|JsonObject(value)| value))
}
