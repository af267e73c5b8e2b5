//! Identifiers and addresses: tenant ids, UUIDs, ISBNs, e-mails, page sizes. The rule
//! they all keep: a value that reaches a store key can never contain the key separator
//! `#`, so no input can forge another key. Each type's schema states its `parse` exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::{KnownFormat, SchemaFormat};
use uuid::Uuid;

use super::schema;

/// Why a value was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

pub(super) fn refuse(msg: impl Into<String>) -> ValueError {
    ValueError(msg.into())
}

/// Implements `Display`, `FromStr`, and string serde for a type with `parse` and `as_str`.
macro_rules! string_value {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A shop's identifier: 3–32 of `a-z`, `0-9`, `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

value_schema!(
    TenantId,
    schema::string(
        "^[a-z][a-z0-9-]{1,30}[a-z0-9]$",
        (3, 32),
        "a shop's id: a-z, 0-9 and '-', starting with a letter, not ending with '-'",
        "libreria-sol"
    )
);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok_len = (3..=32).contains(&raw.len());
        let ok_chars = raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_start = raw.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if ok_len && ok_chars && ok_start && !raw.ends_with('-') {
            Ok(Self(raw.to_owned()))
        } else {
            Err(refuse("tenant id must be 3-32 characters of a-z, 0-9 and '-', starting with a letter"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(TenantId);

const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Declares a UUID-backed identifier.
macro_rules! uuid_id {
    ($ty:ident, $what:literal) => {
        #[doc = concat!("Identifier of a ", $what, " (a UUID).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(Uuid);

        value_schema!(
            $ty,
            schema::string(
                UUID_PATTERN,
                (36, 36),
                concat!("the id of a ", $what),
                "0192f1c4-3b2a-7c3e-9d4f-5a6b7c8d9e0f"
            )
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        );

        impl $ty {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// Only the hyphenated form (`Uuid::try_parse` also takes braced, URN and bare hex).
            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                let refused = || refuse(concat!($what, " id must be a UUID like 0192f1c4-3b2a-7c3e-9d4f-5a6b7c8d9e0f"));
                if raw.len() != 36 {
                    return Err(refused());
                }
                Uuid::try_parse(raw).map(Self).map_err(|_| refused())
            }
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
        impl FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
uuid_id!(UserId, "user");
uuid_id!(BookId, "book");
uuid_id!(PurchaseId, "purchase");

/// An ISBN-13 (or an ISBN-10, converted), digits only, checksum verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Isbn(String);

// The check digit is beyond a pattern: the format `isbn` names it (the fuzz test teaches
// schemathesis to generate it).
value_schema!(
    Isbn,
    schema::string(
        r"^[- ]*([0-9][- ]*){9}(([0-9][- ]*){3}[0-9]|[0-9X])[- ]*$",
        (10, 64),
        "an ISBN-13, or an ISBN-10 (answered as its ISBN-13); '-' and ' ' are ignored; the check digit must match",
        "978-84-376-0494-7"
    )
    .format(Some(SchemaFormat::Custom("isbn".to_owned())))
);

impl Isbn {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.chars().count() > 64 {
            return Err(refuse("isbn must be 13 digits (or 10 with a valid check digit)"));
        }
        let compact: String = raw.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if !compact.is_ascii() {
            return Err(refuse("isbn must be 13 digits (or 10 with a valid check digit)"));
        }
        match compact.len() {
            13 if compact.bytes().all(|b| b.is_ascii_digit()) => {
                let sum: u32 = compact
                    .bytes()
                    .enumerate()
                    .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
                    .sum();
                if sum.is_multiple_of(10) { Ok(Self(compact)) } else { Err(refuse("isbn checksum does not match")) }
            }
            10 if compact[..9].bytes().all(|b| b.is_ascii_digit())
                && compact[9..].bytes().all(|b| b.is_ascii_digit() || b == b'X') =>
            {
                let sum: u32 = compact
                    .bytes()
                    .enumerate()
                    .map(|(i, b)| {
                        let digit = if b == b'X' { 10 } else { u32::from(b - b'0') };
                        digit * (10 - i as u32)
                    })
                    .sum();
                if !sum.is_multiple_of(11) {
                    return Err(refuse("isbn checksum does not match"));
                }
                Ok(Self::from_isbn10_body(&compact[..9]))
            }
            _ => Err(refuse("isbn must be 13 digits (or 10 with a valid check digit)")),
        }
    }

    fn from_isbn10_body(body9: &str) -> Self {
        let mut digits = format!("978{body9}");
        let sum: u32 =
            digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
        digits.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
        Self(digits)
    }

    /// Builds a valid ISBN-13 from a 12-digit body by computing its check digit.
    pub fn from_body(body12: u64) -> Self {
        let body = format!("{:012}", body12 % 1_000_000_000_000);
        let sum: u32 =
            body.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
        Self(format!("{body}{}", (10 - sum % 10) % 10))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(Isbn);

/// An e-mail address, lower-cased; unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Visible ASCII but for `"`, `#`, `\` and `@`; the domain's ends are not `.` either.
const EMAIL_PATTERN: &str = concat!(
    r"^[\x21\x24-\x3f\x41-\x5b\x5d-\x7e]+@",
    r"[\x21\x24-\x2d\x2f-\x3f\x41-\x5b\x5d-\x7e][\x21\x24-\x3f\x41-\x5b\x5d-\x7e]*\.",
    r"[\x21\x24-\x3f\x41-\x5b\x5d-\x7e]*[\x21\x24-\x2d\x2f-\x3f\x41-\x5b\x5d-\x7e]$"
);

value_schema!(
    Email,
    schema::string(
        EMAIL_PATTERN,
        (5, 254),
        "an e-mail address: name@domain.tld, visible ASCII without '\"', '#' or '\\'; compared lower-cased",
        "ana@example.com"
    )
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let allowed = |c: char| c.is_ascii_graphic() && !matches!(c, '#' | '"' | '\\' | '@');
        let valid = raw.len() <= 254
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.chars().all(allowed)
                    && domain.chars().all(allowed)
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid { Ok(Self(raw.to_ascii_lowercase())) } else { Err(refuse("email must look like name@example.com")) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(Email);

/// A page size: 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(usize);

impl PageLimit {
    pub const MAX: usize = 100;
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw.trim().parse::<usize>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(refuse("limit must be a whole number from 1 to 100")),
        }
    }
    pub fn new(n: usize) -> Result<Self, ValueError> {
        Self::parse(&n.to_string())
    }
    pub fn get(&self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::tests::{samples, schema_accepts};

    #[test]
    fn isbn13_checksum_is_verified() {
        assert!(Isbn::parse("978-84-376-0494-7").is_ok());
        assert!(Isbn::parse("9788437604948").is_err());
        assert!(Isbn::parse("978843760494").is_err());
        assert!(Isbn::parse("97884376049#7").is_err());
        assert!(Isbn::parse("\u{f4}\u{92}\u{9c107}\u{81}").is_err(), "ten bytes of non-ASCII are not sliced");
    }

    #[test]
    fn isbn10_is_converted_to_isbn13() {
        let isbn = Isbn::parse("0-306-40615-2").expect("valid isbn-10");
        assert_eq!(isbn.as_str(), "9780306406157");
        assert!(Isbn::parse("0306406153").is_err());
    }

    #[test]
    fn isbn_from_body_is_always_valid() {
        for body in [0u64, 978_843_760_494, 123_456_789_012] {
            assert!(Isbn::parse(Isbn::from_body(body).as_str()).is_ok());
        }
    }

    #[test]
    fn tenant_ids_never_carry_separators() {
        assert!(TenantId::parse("libreria-sol").is_ok());
        for bad in ["ab", "a#b-shop", "Shop", "1shop", "shop-", "shop/x", ""] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_hyphenated_uuids_only() {
        assert!(BookId::parse("0192f1c4-3b2a-7c3e-9d4f-5a6b7c8d9e0f").is_ok());
        for other_form in ["0192f1c43b2a7c3e9d4f5a6b7c8d9e0f", "{0192f1c4-3b2a-7c3e-9d4f-5a6b7c8d9e0f}"] {
            assert!(BookId::parse(other_form).is_err(), "{other_form}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_refuse_key_separators() {
        assert_eq!(Email::parse("Ana@Example.com").expect("valid").as_str(), "ana@example.com");
        for bad in [
            "ana",
            "ana@example",
            "@example.com",
            "ana@.example.com",
            "ana@example.com.",
            "a#b@example.com",
            "a@b@example.com",
            " ana@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    /// Whether each schema says of a string what its `parse` says, over hand-picked edges
    /// and generated strings of the characters the rule turns on.
    #[test]
    fn schemas_accept_exactly_what_parse_accepts() {
        fn agree<T: utoipa::PartialSchema>(what: &str, parse: impl Fn(&str) -> bool, cases: &[String]) {
            for raw in cases {
                assert_eq!(schema_accepts::<T>(raw), parse(raw), "{what}: {raw:?}");
            }
        }
        let with = |fixed: &[&str], alphabet: &str, max_len| {
            let mut cases: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
            cases.extend(samples(&alphabet.chars().collect::<Vec<_>>(), 3000, max_len));
            cases
        };
        agree::<TenantId>("tenant", |s| TenantId::parse(s).is_ok(), &with(&["abc", "a-b", "ab-"], "ab9-#A ", 34));
        agree::<BookId>(
            "uuid",
            |s| BookId::parse(s).is_ok(),
            &with(&["0192f1c4-3b2a-7c3e-9d4f-5a6b7c8d9e0f", "0192F1C4-3B2A-7C3E-9D4F-5A6B7C8D9E0F"], "0aF-g", 37),
        );
        agree::<Email>(
            "email",
            |s| Email::parse(s).is_ok(),
            &with(&["a@b.c", "a@b..c", "a.@b.c", "!@-.~"], "a.@#\" ~-", 8),
        );
        // A pattern cannot hold the check digit: every ISBN parse accepts matches the
        // pattern, and every pattern match fails in parse only on its check digit.
        for raw in with(&["978-84-376-0494-7", "0-306-40615-2", "030640615X"], "09X- x", 16) {
            match Isbn::parse(&raw) {
                Ok(_) => assert!(schema_accepts::<Isbn>(&raw), "isbn: {raw:?}"),
                Err(e) if schema_accepts::<Isbn>(&raw) => assert!(e.0.contains("checksum"), "isbn: {raw:?}: {e}"),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn page_limit_bounds() {
        assert!(PageLimit::parse("1").is_ok());
        assert!(PageLimit::parse("100").is_ok());
        for bad in ["0", "-1", "1e9", "101", "x"] {
            assert!(PageLimit::parse(bad).is_err(), "{bad}");
        }
    }
}
