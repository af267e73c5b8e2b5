//! Free text: `KeyText` (category, author: part of index keys, so never `#`) and
//! `Text<MAX>` (titles, names, descriptions). Both count their length as sent, refuse
//! control characters and text that is only white space, and keep the text trimmed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema;
use super::values::{ValueError, refuse};

/// Free text that becomes part of an index key (category, author): 1–100 characters,
/// no `#` and no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyText(String);

value_schema!(
    KeyText,
    schema::string(
        &schema::text_pattern(r"#\x00-\x1f\x7f-\x9f"),
        (1, KeyText::MAX),
        "1-100 characters, not all white space, without '#' or control characters (kept trimmed)",
        "Ficción"
    )
);

impl KeyText {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() || raw.chars().count() > Self::MAX {
            return Err(refuse("must be 1-100 characters"));
        }
        if raw.chars().any(|c| c == '#' || c.is_control()) {
            return Err(refuse("must not contain '#' or control characters"));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form used inside index keys, so "Ficción" and "ficción" agree.
    pub fn key_form(&self) -> String {
        self.0.to_lowercase()
    }
}

string_value!(KeyText);

/// Human text of 1 to `MAX` characters (as sent), not all white space, without control
/// characters other than newlines; kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() || raw.chars().count() > MAX {
            return Err(refuse(format!("must be 1-{MAX} characters")));
        }
        if raw.chars().any(|c| c.is_control() && c != '\n') {
            return Err(refuse("must not contain control characters"));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> utoipa::PartialSchema for Text<MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::string(
            &schema::text_pattern(r"\x00-\x09\x0b-\x1f\x7f-\x9f"),
            (1, MAX),
            &format!("1-{MAX} characters, not all white space, without control characters but newlines (kept trimmed)"),
            "Cien años de soledad",
        )
        .into()
    }
}

/// Named by its bound: every `Text<MAX>` is its own schema.
impl<const MAX: usize> utoipa::ToSchema for Text<MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Text{MAX}").into()
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl<const MAX: usize> Serialize for Text<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::tests::{samples, schema_accepts};

    #[test]
    fn key_text_refuses_separator() {
        assert!(KeyText::parse("Ficción").is_ok());
        assert!(KeyText::parse("a#b").is_err());
        assert!(KeyText::parse("  ").is_err());
    }

    #[test]
    fn length_is_counted_as_sent() {
        assert!(Text::<3>::parse(" ab").is_ok());
        assert!(Text::<3>::parse(" abc").is_err(), "four characters sent");
    }

    #[test]
    fn schemas_accept_exactly_what_parse_accepts() {
        let alphabet: Vec<char> = "a#\n\t\r \u{a0}\u{3000}\u{85}\u{7f}\u{1}ñ".chars().collect();
        let mut cases = samples(&alphabet, 5000, 6);
        cases.extend(["a", " a ", "\n", "a\nb", "\u{a0}", "\u{200b}"].map(String::from));
        for raw in cases {
            assert_eq!(schema_accepts::<KeyText>(&raw), KeyText::parse(&raw).is_ok(), "key text {raw:?}");
            assert_eq!(schema_accepts::<Text<5>>(&raw), Text::<5>::parse(&raw).is_ok(), "text {raw:?}");
        }
    }
}
