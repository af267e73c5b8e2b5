//! Books of a tenant's catalogue.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BookId, Isbn, KeyText, Price, Rating, TenantId, Text, optional_whole_number, whole_number};

/// A book as stored and as served. `version` grows by one on every write; change-data
/// capture uses it so an older image never overwrites a newer one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Book {
    pub book_id: BookId,
    pub tenant_id: TenantId,
    pub isbn: Isbn,
    pub title: Text<300>,
    pub author: KeyText,
    pub editorial: Option<Text<200>>,
    pub category: KeyText,
    pub price: Price,
    pub description: Option<Text<5000>>,
    pub cover_image_url: Option<Text<500>>,
    #[schema(maximum = 1_000_000)]
    pub stock_quantity: u32,
    #[schema(schema_with = publication_year_schema)]
    pub publication_year: i32,
    #[schema(pattern = "^[a-z]{2}$", example = "es")]
    pub language: String,
    #[schema(format = Int64, maximum = 4_294_967_295_u64)]
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
    pub title: Text<300>,
    pub author: KeyText,
    pub editorial: Option<Text<200>>,
    pub category: KeyText,
    pub price: Price,
    pub description: Option<Text<5000>>,
    pub cover_image_url: Option<Text<500>>,
    #[serde(deserialize_with = "whole_number")]
    #[schema(maximum = 1_000_000)]
    pub stock_quantity: u32,
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = publication_year_schema)]
    pub publication_year: i32,
    #[serde(default = "default_book_language")]
    #[schema(pattern = "^[a-z]{2}$", example = "es")]
    pub language: String,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(format = Int64, maximum = 4_294_967_295_u64)]
    pub pages: Option<u32>,
    #[serde(default)]
    pub rating: Rating,
}

/// The body of `PUT /api/v1/books/{book_id}`: every field optional, ISBN fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    pub title: Option<Text<300>>,
    pub author: Option<KeyText>,
    pub editorial: Option<Text<200>>,
    pub category: Option<KeyText>,
    pub price: Option<Price>,
    pub description: Option<Text<5000>>,
    pub cover_image_url: Option<Text<500>>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(maximum = 1_000_000)]
    pub stock_quantity: Option<u32>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(schema_with = optional_publication_year_schema)]
    pub publication_year: Option<i32>,
    #[schema(pattern = "^[a-z]{2}$", example = "es")]
    pub language: Option<String>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(format = Int64, maximum = 4_294_967_295_u64)]
    pub pages: Option<u32>,
    pub rating: Option<Rating>,
    pub is_active: Option<bool>,
}

fn default_book_language() -> String {
    "es".to_owned()
}

/// Years a book may carry: from Gutenberg to next year.
pub fn valid_publication_year(year: i32, now: DateTime<Utc>) -> bool {
    (FIRST_PUBLICATION_YEAR..=now.year() + 1).contains(&year)
}

const FIRST_PUBLICATION_YEAR: i32 = 1450;

/// The schema of a publication year, as of the moment the document is made.
fn publication_year_schema() -> utoipa::openapi::schema::Object {
    year_schema(utoipa::openapi::schema::Type::Integer.into())
}

/// A publication year or `null`, for a patch.
fn optional_publication_year_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    year_schema(SchemaType::from_iter([Type::Integer, Type::Null]))
}

fn year_schema(schema_type: utoipa::openapi::schema::SchemaType) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(schema_type)
        .minimum(Some(f64::from(FIRST_PUBLICATION_YEAR)))
        .maximum(Some(f64::from(Utc::now().year() + 1)))
        .description(Some("from 1450 to next year"))
        .build()
}

/// Languages the catalogue accepts (ISO 639-1).
pub fn valid_language(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase())
}
