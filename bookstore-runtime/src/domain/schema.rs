//! The JSON Schemas of the value types, for the OpenAPI document. Each states exactly
//! what the type's `parse` accepts, so a client generated from the document sends what
//! the server takes, and a request the document calls valid is never refused for its
//! shape. The patterns use only what ECMA-262, Python's `re` and Rust's `regex` read
//! alike (no `\s`, no class arithmetic), because all three check them.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

/// Gives a value type its schema (`PartialSchema`) and a component of its own name.
macro_rules! value_schema {
    ($ty:ty, $schema:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema.into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

/// The characters Rust's `char::is_whitespace` (and so `str::trim`) removes, for "at
/// least one character that is not white space".
pub(super) const SPACES: &str = r"\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A string schema: pattern, lengths in characters, a description and an example.
pub(super) fn string(pattern: &str, length: (usize, usize), description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(length.0))
        .max_length(Some(length.1))
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
}

/// A whole number from `min` to `max`.
pub(super) fn integer(min: i64, max: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .description(Some(description))
        .into()
}

/// Text without the characters of `refused` (a character class's body), at least one
/// of them not white space: what `parse` keeps after trimming is never empty.
pub(super) fn text_pattern(refused: &str) -> String {
    format!("^[^{refused}]*[^{refused}{SPACES}][^{refused}]*$")
}

#[cfg(test)]
pub(crate) mod tests {
    use utoipa::PartialSchema;

    use super::*;

    /// The pattern and length bounds of a string schema.
    pub(crate) fn rule_of<T: PartialSchema>() -> (regex::Regex, usize, usize) {
        let RefOr::T(Schema::Object(object)) = T::schema() else { panic!("a string schema") };
        let pattern = object.pattern.expect("a pattern");
        let regex = regex::Regex::new(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        (regex, object.min_length.unwrap_or(0), object.max_length.unwrap_or(usize::MAX))
    }

    /// Whether the schema of `T` calls `raw` valid.
    pub(crate) fn schema_accepts<T: PartialSchema>(raw: &str) -> bool {
        let (regex, min, max) = rule_of::<T>();
        let n = raw.chars().count();
        regex.is_match(raw) && (min..=max).contains(&n)
    }

    /// Deterministic strings over an alphabet of the characters rules turn on, for
    /// checking a schema against its `parse` beyond hand-picked cases.
    pub(crate) fn samples(alphabet: &[char], count: usize, max_len: usize) -> Vec<String> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % (max_len as u64 + 1)) as usize;
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            })
            .collect()
    }
}
