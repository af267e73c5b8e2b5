//! Small validated values. The rule they all keep: a value that reaches a store key
//! can never contain the key separator `#`, so no input can forge another key.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

/// Why a value was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn refuse(msg: impl Into<String>) -> ValueError {
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, example = "libreria-sol")]
pub struct TenantId(String);

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

/// Declares a UUID-backed identifier.
macro_rules! uuid_id {
    ($ty:ident, $what:literal) => {
        #[doc = concat!("Identifier of a ", $what, " (a UUID).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
        #[schema(value_type = String, format = "uuid")]
        pub struct $ty(Uuid);

        impl $ty {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                Uuid::try_parse(raw).map(Self).map_err(|_| refuse(concat!($what, " id must be a UUID")))
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "9788437604947")]
pub struct Isbn(String);

impl Isbn {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
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

/// An e-mail address, trimmed and lower-cased; unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, format = "email")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && email.chars().all(|c| c.is_ascii_graphic() && c != '#' && c != '"' && c != '\\');
        if valid { Ok(Self(email)) } else { Err(refuse("email must look like name@example.com")) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(Email);

/// Free text that becomes part of an index key (category, author): 1–100 characters,
/// no `#` and no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String)]
pub struct KeyText(String);

impl KeyText {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > 100 {
            return Err(refuse("must be 1-100 characters"));
        }
        if text.chars().any(|c| c == '#' || c.is_control()) {
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

/// An amount of money in the shop's currency: a decimal with at most 2 places, ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, ToSchema)]
#[schema(value_type = String, example = "19.90")]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);
    const MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 2);

    pub fn new(amount: Decimal) -> Result<Self, ValueError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(refuse("amount must not be negative"));
        }
        if amount.scale() > 2 && amount.normalize().scale() > 2 {
            return Err(refuse("amount must have at most 2 decimal places"));
        }
        if amount > Self::MAX {
            return Err(refuse("amount must be at most 10000000.00"));
        }
        Ok(Self(amount.round_dp(2)))
    }
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let amount =
            Decimal::from_str_exact(raw.trim()).map_err(|_| refuse("amount must be a decimal number like 19.90"))?;
        Self::new(amount)
    }
    /// Rounds any computed amount to cents, half away from zero (commercial rounding).
    pub fn rounded(amount: Decimal) -> Self {
        Self(amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
    }
    pub fn amount(&self) -> Decimal {
        self.0
    }
    pub fn times(&self, quantity: Quantity) -> Money {
        Money(self.0 * Decimal::from(quantity.get()))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Accepts `"19.90"` or `19.90`; a JSON number is read through its text, never as a float.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom("amount must be a decimal string like \"19.90\""));
            }
        };
        Money::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How many copies: a whole number 1–99 per cart line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ToSchema)]
#[schema(value_type = u32)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 99;
    pub fn new(n: i64) -> Result<Self, ValueError> {
        if (1..=i64::from(Self::MAX)).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(refuse("quantity must be a whole number from 1 to 99"))
        }
    }
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let n =
            value.as_i64().ok_or_else(|| serde::de::Error::custom("quantity must be a whole number from 1 to 99"))?;
        Quantity::new(n).map_err(serde::de::Error::custom)
    }
}

/// A rating from 0.0 to 5.0 in steps of 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, ToSchema)]
#[schema(value_type = String, example = "4.5")]
pub struct Rating(Decimal);

impl Rating {
    pub fn new(value: Decimal) -> Result<Self, ValueError> {
        if value < Decimal::ZERO || value > Decimal::from(5) {
            return Err(refuse("rating must be between 0 and 5"));
        }
        Ok(Self(value.round_dp(1)))
    }
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let value =
            Decimal::from_str_exact(raw.trim()).map_err(|_| refuse("rating must be a number between 0 and 5"))?;
        Self::new(value)
    }
    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl Serialize for Rating {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Rating {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom("rating must be a number between 0 and 5"));
            }
        };
        Rating::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Wishlist priority, 1 (highest) to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(value_type = u8)]
pub struct WishlistPriority(u8);

impl WishlistPriority {
    pub fn new(n: i64) -> Result<Self, ValueError> {
        if (1..=5).contains(&n) {
            Ok(Self(n as u8))
        } else {
            Err(refuse("priority must be a whole number from 1 to 5"))
        }
    }
    pub fn get(&self) -> u8 {
        self.0
    }
}

impl Default for WishlistPriority {
    fn default() -> Self {
        Self(3)
    }
}

impl<'de> Deserialize<'de> for WishlistPriority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let n =
            value.as_i64().ok_or_else(|| serde::de::Error::custom("priority must be a whole number from 1 to 5"))?;
        WishlistPriority::new(n).map_err(serde::de::Error::custom)
    }
}

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
    fn money_refuses_negative_and_sub_cent_amounts() {
        assert_eq!(Money::parse("19.9").expect("valid").to_string(), "19.90");
        assert!(Money::parse("-1").is_err());
        assert!(Money::parse("1.001").is_err());
        assert!(Money::parse("1e3").is_err());
        assert!(Money::parse("99999999999").is_err());
        assert_eq!(Money::rounded(Decimal::new(1005, 3)).to_string(), "1.01");
    }

    #[test]
    fn quantity_is_a_whole_number_in_range() {
        let parse = |json: &str| serde_json::from_str::<Quantity>(json);
        assert!(parse("1").is_ok());
        for bad in ["0", "-1", "1.5", "100", "\"2\"", "1e9"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_text_refuses_separator() {
        assert!(KeyText::parse("Ficción").is_ok());
        assert!(KeyText::parse("a#b").is_err());
        assert!(KeyText::parse("  ").is_err());
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

/// Human text of 1 to `MAX` characters (after trimming), without control characters
/// other than newlines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > MAX {
            return Err(refuse(format!("must be 1-{MAX} characters")));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(refuse("must not contain control characters"));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
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
