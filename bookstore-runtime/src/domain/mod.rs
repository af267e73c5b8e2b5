//! Typed values and records of the bookstore. Everything here is parsed at the edge
//! (HTTP, CLI, seed) so an invalid value can never reach the store: constructors
//! return `Err(ValueError)` and nothing else makes these types. Each value type's
//! OpenAPI schema states its rule exactly (`schema`).

#[macro_use]
mod schema;
#[macro_use]
mod values;
mod amounts;
mod book;
mod json;
mod purchase;
mod text;
mod user;

pub use amounts::{Money, Price, Quantity, Rating, WishlistPriority};
pub use book::{Book, BookPatch, NewBook, valid_language, valid_publication_year};
pub use json::{JsonObject, object, optional_object, optional_whole_number, whole_number};
pub use purchase::{CartLine, Purchase, PurchaseItem, PurchaseStatus, ShippingAddress};
pub use text::{KeyText, Text};
pub use user::{Preferences, Role, Tenant, User};
pub use values::{BookId, Email, Isbn, PageLimit, PurchaseId, TenantId, UserId, ValueError};
