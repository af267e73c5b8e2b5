//! Amounts: `Money` (any sum the shop computes), `Price` (what a book may cost),
//! `Rating`, `Quantity`, `WishlistPriority`. Decimals travel as strings ("19.90"): a JSON
//! number is a binary float to most clients, and money is never a float.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::json::whole;
use super::schema;
use super::values::{ValueError, refuse};

/// Reads a decimal written as `digits[.fraction]`, at most `int_digits` before the point
/// and `frac_digits` after: the grammar the schemas state, nothing looser
/// (`Decimal::from_str_exact` also takes signs, exponents' absence aside, and ".5").
fn decimal_text(raw: &str, int_digits: usize, frac_digits: usize) -> Option<Decimal> {
    let (int, frac) = raw.split_once('.').map_or((raw, None), |(int, frac)| (int, Some(frac)));
    let digits = |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int, int_digits) || frac.is_some_and(|frac| !digits(frac, frac_digits)) {
        return None;
    }
    Decimal::from_str_exact(raw).ok()
}

/// Reads a JSON string through `parse`; any other JSON type is refused with `what`.
fn from_json_string<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl Fn(&str) -> Result<T, ValueError>,
    what: &str,
) -> Result<T, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => parse(&s).map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom(format!("{what} must be a string like {}", example_of(what)))),
    }
}

fn example_of(what: &str) -> &'static str {
    if what == "rating" { "\"4.5\"" } else { "\"19.90\"" }
}

/// An amount of money in the shop's currency: a decimal with at most 2 places, ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

value_schema!(
    Money,
    schema::string(
        r"^[0-9]{1,20}(\.[0-9]{1,2})?$",
        (1, 23),
        "an amount: a decimal string with at most 2 places, answered with exactly 2",
        "19.90"
    )
);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn new(amount: Decimal) -> Result<Self, ValueError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(refuse("amount must not be negative"));
        }
        if amount.scale() > 2 && amount.normalize().scale() > 2 {
            return Err(refuse("amount must have at most 2 decimal places"));
        }
        Ok(Self(amount.round_dp(2)))
    }
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        decimal_text(raw, 20, 2)
            .map(Self)
            .ok_or_else(|| refuse("amount must be a decimal number like 19.90 (at most 2 decimal places)"))
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
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_string(d, Money::parse, "amount")
    }
}

/// What a book may cost: an amount from 0.00 to 9,999,999.99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(Money);

value_schema!(
    Price,
    schema::string(
        r"^[0-9]{1,7}(\.[0-9]{1,2})?$",
        (1, 10),
        "a price from 0 to 9999999.99: a decimal string with at most 2 places, answered with exactly 2",
        "19.90"
    )
);

impl Price {
    pub fn new(amount: Money) -> Result<Self, ValueError> {
        if amount.amount() >= Decimal::from(10_000_000) {
            return Err(refuse("price must be at most 9999999.99"));
        }
        Ok(Self(amount))
    }
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        decimal_text(raw, 7, 2)
            .map(|amount| Self(Money(amount)))
            .ok_or_else(|| refuse("price must be a decimal number like 19.90, from 0 to 9999999.99"))
    }
    pub fn money(&self) -> Money {
        self.0
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_string(d, Price::parse, "price")
    }
}

/// How many copies: a whole number 1–99 per cart line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

value_schema!(Quantity, schema::integer(1, i64::from(Quantity::MAX), "how many copies: 1-99"));

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
            whole(&value).ok_or_else(|| serde::de::Error::custom("quantity must be a whole number from 1 to 99"))?;
        Quantity::new(n).map_err(serde::de::Error::custom)
    }
}

/// A rating from 0.0 to 5.0 in steps of 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rating(Decimal);

value_schema!(
    Rating,
    schema::string(r"^([0-4](\.[0-9])?|5(\.0)?)$", (1, 3), "a rating from 0 to 5 in steps of 0.1, as a string", "4.5")
);

impl Rating {
    pub fn new(value: Decimal) -> Result<Self, ValueError> {
        if value < Decimal::ZERO || value > Decimal::from(5) {
            return Err(refuse("rating must be between 0 and 5"));
        }
        Ok(Self(value.round_dp(1)))
    }
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let value = decimal_text(raw, 1, 1).ok_or_else(|| refuse("rating must be a number like 4.5, from 0 to 5"))?;
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
        from_json_string(d, Rating::parse, "rating")
    }
}

/// Wishlist priority, 1 (highest) to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WishlistPriority(u8);

value_schema!(WishlistPriority, schema::integer(1, 5, "wishlist priority: 1 (highest) to 5"));

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
        let n = whole(&value).ok_or_else(|| serde::de::Error::custom("priority must be a whole number from 1 to 5"))?;
        WishlistPriority::new(n).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::tests::{samples, schema_accepts};

    #[test]
    fn money_refuses_negative_and_sub_cent_amounts() {
        assert_eq!(Money::parse("19.9").expect("valid").to_string(), "19.90");
        for bad in ["-1", "1.001", "1e3", ".5", "5.", "+5", " 5", ""] {
            assert!(Money::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Money::rounded(Decimal::new(1005, 3)).to_string(), "1.01");
    }

    #[test]
    fn prices_are_bounded_and_sums_are_not() {
        assert!(Price::parse("9999999.99").is_ok());
        assert!(Price::parse("10000000").is_err());
        assert!(Money::parse("10000000").is_ok(), "a month's revenue may be more than one price");
    }

    #[test]
    fn decimals_come_as_strings_only() {
        assert!(serde_json::from_str::<Price>("\"19.90\"").is_ok());
        assert!(serde_json::from_str::<Price>("19.9").is_err());
        assert!(serde_json::from_str::<Rating>("4.5").is_err());
    }

    #[test]
    fn quantity_is_a_whole_number_in_range() {
        let parse = |json: &str| serde_json::from_str::<Quantity>(json);
        assert!(parse("1").is_ok());
        assert_eq!(parse("2.0").expect("JSON Schema's integer").get(), 2);
        for bad in ["0", "-1", "1.5", "100", "\"2\"", "1e9"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schemas_accept_exactly_what_parse_accepts() {
        let alphabet: Vec<char> = "0159.-+e ".chars().collect();
        let mut cases = samples(&alphabet, 5000, 11);
        cases.extend(["5.0", "5.1", "0", "9999999.99", "10000000", "00000000000000000001.5"].map(String::from));
        for raw in cases {
            assert_eq!(schema_accepts::<Money>(&raw), Money::parse(&raw).is_ok(), "money {raw:?}");
            assert_eq!(schema_accepts::<Price>(&raw), Price::parse(&raw).is_ok(), "price {raw:?}");
            assert_eq!(schema_accepts::<Rating>(&raw), Rating::parse(&raw).is_ok(), "rating {raw:?}");
        }
    }
}
