//! The one place that spells store keys (SPEC §4). Every partition key starts with the
//! tenant; the typed arguments cannot contain `#`, so no input can reach another
//! tenant's partition or forge a sort key. The one exception is the tenant registry
//! (`TENANT_REGISTRY`), the partition that lists the tenants themselves, which no request
//! of a tenant reads.

use super::Key;
use crate::domain::{BookId, Email, Isbn, KeyText, PurchaseId, TenantId, UserId};

pub fn tenant(tenant: &TenantId) -> Key {
    Key::new(format!("TENANT#{tenant}"), "TENANT")
}

/// Where a tenant's search node runs (its container's host port), beside its tenant row.
pub fn tenant_search_placement(tenant: &TenantId) -> Key {
    Key::new(format!("TENANT#{tenant}"), "SEARCH")
}

/// The partition listing every tenant (one row per tenant, sorted by id): the one key
/// without a tenant prefix, read only by operators' commands.
pub const TENANT_REGISTRY: &str = "TENANTS";

pub fn tenant_registry_row(tenant: &TenantId) -> Key {
    Key::new(TENANT_REGISTRY, tenant.as_str())
}

/// A key no tenant can have (tenant ids are 3-32 characters, `health` is not taken by
/// `TENANT#`), for probing the store.
pub fn health_probe() -> Key {
    Key::new("TENANT#health", "TENANT")
}

pub const USER_SK_PREFIX: &str = "USER#";

pub fn user_partition(tenant: &TenantId, user: &UserId) -> String {
    format!("{tenant}#{user}")
}

pub fn user(tenant: &TenantId, user: &UserId, email: &Email) -> Key {
    Key::new(user_partition(tenant, user), format!("{USER_SK_PREFIX}{email}"))
}

/// Marker row that makes an e-mail unique within a tenant.
pub fn email_claim(tenant: &TenantId, email: &Email) -> Key {
    Key::new(format!("{tenant}#EMAIL#{email}"), "UNIQUE#EMAIL")
}

/// GSI1 of users: log in by e-mail.
pub fn users_by_email(tenant: &TenantId) -> String {
    format!("{tenant}#EMAIL")
}

pub fn book_partition(tenant: &TenantId, book: &BookId) -> String {
    format!("{tenant}#{book}")
}

pub const BOOK_SK_PREFIX: &str = "BOOK#";

pub fn book(tenant: &TenantId, book: &BookId, isbn: &Isbn) -> Key {
    Key::new(book_partition(tenant, book), format!("{BOOK_SK_PREFIX}{isbn}"))
}

/// Marker row that makes an ISBN unique within a tenant.
pub fn isbn_claim(tenant: &TenantId, isbn: &Isbn) -> Key {
    Key::new(format!("{tenant}#ISBN#{isbn}"), "UNIQUE#ISBN")
}

/// GSI1 of books: every book of the tenant, sorted by category.
pub fn books_by_category(tenant: &TenantId) -> String {
    format!("{tenant}#CATEGORY")
}

pub fn category_sort(category: &KeyText, book: &BookId) -> String {
    format!("{}#{book}", category.key_form())
}

pub fn category_prefix(category: &KeyText) -> String {
    format!("{}#", category.key_form())
}

/// GSI2 of books: every book of the tenant, sorted by author.
pub fn books_by_author(tenant: &TenantId) -> String {
    format!("{tenant}#AUTHOR")
}

pub fn author_sort(author: &KeyText, book: &BookId) -> String {
    format!("{}#{book}", author.key_form())
}

pub fn author_prefix(author: &KeyText) -> String {
    format!("{}#", author.key_form())
}

/// GSI3 of books: look a book up by ISBN.
pub fn books_by_isbn(tenant: &TenantId) -> String {
    format!("{tenant}#ISBN")
}

pub const FAVORITE_SK_PREFIX: &str = "FAVORITE#";
pub const WISHLIST_SK_PREFIX: &str = "WISHLIST#";
pub const CART_SK_PREFIX: &str = "CART#";
pub const PURCHASE_SK_PREFIX: &str = "PURCHASE#";

pub fn favorite(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("{FAVORITE_SK_PREFIX}{book}"))
}

pub fn wishlist(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("{WISHLIST_SK_PREFIX}{book}"))
}

pub fn cart_line(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("{CART_SK_PREFIX}{book}"))
}

pub fn purchase(tenant: &TenantId, user: &UserId, purchase: &PurchaseId) -> Key {
    Key::new(user_partition(tenant, user), format!("{PURCHASE_SK_PREFIX}{purchase}"))
}

/// GSI1 of purchases: every purchase of the tenant by creation time.
pub fn purchases_by_time(tenant: &TenantId) -> String {
    format!("{tenant}#PURCHASES")
}

/// GSI1 sort key of a purchase: its creation time (microseconds, so the text sorts as
/// the time), then its id.
pub fn purchase_time_sort(created_at: chrono::DateTime<chrono::Utc>, purchase: &PurchaseId) -> String {
    format!("{}#{purchase}", created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Idempotency keys are hashed so any client string is a safe key component.
pub fn idempotency(tenant: &TenantId, user: &UserId, idempotency_key_sha256: &str) -> Key {
    Key::new(user_partition(tenant, user), format!("IDEMPOTENCY#{idempotency_key_sha256}"))
}

/// The uses of one rate budget of the tenant (`limits::Subject::key_form`) in one window.
pub fn rate_window(tenant: &TenantId, subject: &str, window: u64) -> Key {
    Key::new(format!("{tenant}#LIMIT#{subject}"), format!("WINDOW#{window}"))
}
