//! Cart lines and purchases.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BookId, Isbn, Money, PurchaseId, Quantity, TenantId, UserId};

/// One book in a user's cart. The price is read from the book at checkout, not here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub book_id: BookId,
    /// The book's ISBN (with its id, the book's key): lets checkout read every book of
    /// the cart in one batch. Lines written before it existed lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isbn: Option<Isbn>,
    pub quantity: Quantity,
    pub added_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an order stands in fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PurchaseStatus {
    Pending,
    PaymentProcessed,
    Shipped,
    Delivered,
    Cancelled,
    PaymentFailed,
}

impl PurchaseStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_uppercase())).ok()
    }
}

/// A line of a purchase, priced when the purchase was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseItem {
    pub book_id: BookId,
    pub title: String,
    pub category: String,
    pub author: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub subtotal: Money,
}

/// A completed checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Purchase {
    pub purchase_id: PurchaseId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub items: Vec<PurchaseItem>,
    pub subtotal: Money,
    pub tax: Money,
    pub total_amount: Money,
    pub status: PurchaseStatus,
    pub payment_method: String,
    pub shipping_address: Option<ShippingAddress>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where to send an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: super::Text<100>,
    pub line1: super::Text<200>,
    pub line2: Option<super::Text<200>>,
    pub city: super::Text<100>,
    pub postal_code: super::Text<20>,
    pub country: super::Text<56>,
}
