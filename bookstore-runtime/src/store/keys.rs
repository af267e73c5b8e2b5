//! The one place that spells store keys (SPEC §4). Every partition key starts with the
//! tenant; the typed arguments cannot contain `#`, so no input can reach another
//! tenant's partition or forge a sort key.

use super::Key;
use crate::domain::{BookId, Email, Isbn, KeyText, PurchaseId, TenantId, UserId};

pub fn tenant(tenant: &TenantId) -> Key {
    Key::new(format!("TENANT#{tenant}"), "TENANT")
}

pub fn user_partition(tenant: &TenantId, user: &UserId) -> String {
    format!("{tenant}#{user}")
}

pub fn user(tenant: &TenantId, user: &UserId, email: &Email) -> Key {
    Key::new(user_partition(tenant, user), format!("USER#{email}"))
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

pub fn favorite(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("FAVORITE#{book}"))
}

pub fn wishlist(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("WISHLIST#{book}"))
}

pub fn cart_line(tenant: &TenantId, user: &UserId, book: &BookId) -> Key {
    Key::new(user_partition(tenant, user), format!("CART#{book}"))
}

pub fn purchase(tenant: &TenantId, user: &UserId, purchase: &PurchaseId) -> Key {
    Key::new(user_partition(tenant, user), format!("PURCHASE#{purchase}"))
}

/// GSI1 of purchases: every purchase of the tenant by creation time.
pub fn purchases_by_time(tenant: &TenantId) -> String {
    format!("{tenant}#PURCHASES")
}

/// Idempotency keys are hashed so any client string is a safe key component.
pub fn idempotency(tenant: &TenantId, user: &UserId, idempotency_key_sha256: &str) -> Key {
    Key::new(user_partition(tenant, user), format!("IDEMPOTENCY#{idempotency_key_sha256}"))
}
