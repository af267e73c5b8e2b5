//! Books of a tenant's catalogue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BookId, Isbn, KeyText, Money, Rating, TenantId, Text};

/// A book as stored and as served. `version` grows by one on every write; change-data
/// capture uses it so an older image never overwrites a newer one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Book {
    pub book_id: BookId,
    pub tenant_id: TenantId,
    pub isbn: Isbn,
    #[schema(value_type = String)]
    pub title: Text<300>,
    #[schema(value_type = String)]
    pub author: KeyText,
    #[schema(value_type = Option<String>)]
    pub editorial: Option<Text<200>>,
    #[schema(value_type = String)]
    pub category: KeyText,
    pub price: Money,
    #[schema(value_type = Option<String>)]
    pub description: Option<Text<5000>>,
    #[schema(value_type = Option<String>)]
    pub cover_image_url: Option<Text<500>>,
    pub stock_quantity: u32,
    pub publication_year: i32,
    pub language: String,
    pub pages: Option<u32>,
    pub rating: Rating,
    pub is_active: bool,
    /// Copies sold so far (raised by checkout, with the stock).
    #[serde(default)]
    pub sales_count: u64,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /api/v1/books`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    pub isbn: Isbn,
    #[schema(value_type = String)]
    pub title: Text<300>,
    #[schema(value_type = String)]
    pub author: KeyText,
    #[schema(value_type = Option<String>)]
    pub editorial: Option<Text<200>>,
    #[schema(value_type = String)]
    pub category: KeyText,
    pub price: Money,
    #[schema(value_type = Option<String>)]
    pub description: Option<Text<5000>>,
    #[schema(value_type = Option<String>)]
    pub cover_image_url: Option<Text<500>>,
    pub stock_quantity: u32,
    pub publication_year: i32,
    #[serde(default = "default_book_language")]
    pub language: String,
    pub pages: Option<u32>,
    #[serde(default)]
    pub rating: Rating,
}

/// The body of `PUT /api/v1/books/{book_id}`: every field optional, ISBN fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    #[schema(value_type = Option<String>)]
    pub title: Option<Text<300>>,
    #[schema(value_type = Option<String>)]
    pub author: Option<KeyText>,
    #[schema(value_type = Option<String>)]
    pub editorial: Option<Text<200>>,
    #[schema(value_type = Option<String>)]
    pub category: Option<KeyText>,
    pub price: Option<Money>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Text<5000>>,
    #[schema(value_type = Option<String>)]
    pub cover_image_url: Option<Text<500>>,
    pub stock_quantity: Option<u32>,
    pub publication_year: Option<i32>,
    pub language: Option<String>,
    pub pages: Option<u32>,
    pub rating: Option<Rating>,
    pub is_active: Option<bool>,
}

fn default_book_language() -> String {
    "es".to_owned()
}

/// Years a book may carry: from Gutenberg to next year.
pub fn valid_publication_year(year: i32, now: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1450..=now.year() + 1).contains(&year)
}

/// Languages the catalogue accepts (ISO 639-1).
pub fn valid_language(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase())
}
