//! Tenants (shops) and their users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Email, KeyText, TenantId, Text, UserId};

/// A shop. Only an active tenant can register, log in or be served.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub tenant_id: TenantId,
    pub name: Text<100>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

/// What a user may do inside their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

/// A user's stored record. The password hash never leaves the runtime: API views are
/// built from this, not serialised from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub password_hash: String,
    pub first_name: Text<100>,
    pub last_name: Option<Text<100>>,
    pub role: Role,
    pub preferences: Preferences,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Favourite categories and authors, and the language of the shop's pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    #[serde(default)]
    #[schema(max_items = 20)]
    pub categories: Vec<KeyText>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub authors: Vec<KeyText>,
    #[serde(default = "default_language")]
    #[schema(pattern = "^[a-z]{2}$", example = "es")]
    pub language: String,
    #[serde(default)]
    pub newsletter: bool,
}

/// What a new user starts with: what a `PUT /preferences` of `{}` sets.
impl Default for Preferences {
    fn default() -> Self {
        Self { categories: Vec::new(), authors: Vec::new(), language: default_language(), newsletter: false }
    }
}

fn default_language() -> String {
    "es".to_owned()
}
