//! Typed values and records of the bookstore. Everything here is parsed at the edge
//! (HTTP, CLI, seed) so an invalid value can never reach the store: constructors
//! return `Err(ValueError)` and nothing else makes these types.

mod book;
mod purchase;
mod user;
mod values;

pub use book::{Book, BookPatch, NewBook, valid_language, valid_publication_year};
pub use purchase::{CartLine, Purchase, PurchaseItem, PurchaseStatus, ShippingAddress};
pub use user::{Preferences, Role, Tenant, User};
pub use values::{
    BookId, Email, Isbn, KeyText, Money, PageLimit, PurchaseId, Quantity, Rating, TenantId, Text, UserId, ValueError,
    WishlistPriority,
};
