//! The `SearchIndex` port: one index per tenant of its books, fed by change-data
//! capture, queried by the search and autocomplete routes.
//!
//! Guarantees every engine keeps (the conformance suite checks them):
//! - a tenant's queries only ever see that tenant's documents;
//! - changes are order-aware: a change applies only if its `version` is newer than
//!   what the index holds for that book (a delete wins over an upsert of the same
//!   version), so duplicated, replayed or reordered batches converge to one state;
//! - text matching folds case and accents, and stems Spanish; fuzzy matching allows an
//!   edit distance that grows with the word (0 for 1–2 letters, 1 for 3–5, 2 beyond).

pub mod placement;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Book, BookId, Isbn, Money, Rating, TenantId};

/// What the index holds of a book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookDocument {
    pub book_id: BookId,
    /// With the id, the book's store key: a listing served from the index reads its
    /// page's books in one batch.
    pub isbn: Isbn,
    pub title: String,
    pub author: String,
    pub description: String,
    pub category: String,
    pub price: Money,
    pub rating: Rating,
    pub publication_year: i32,
    pub stock_quantity: u32,
    /// Copies sold: ranks autocomplete suggestions.
    pub sales_count: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub version: u64,
}

impl From<&Book> for BookDocument {
    fn from(book: &Book) -> Self {
        Self {
            book_id: book.book_id,
            isbn: book.isbn.clone(),
            title: book.title.to_string(),
            author: book.author.to_string(),
            description: book.description.as_ref().map(ToString::to_string).unwrap_or_default(),
            category: book.category.to_string(),
            price: book.price.money(),
            rating: book.rating,
            publication_year: book.publication_year,
            stock_quantity: book.stock_quantity,
            sales_count: book.sales_count,
            created_at: book.created_at,
            version: book.version,
        }
    }
}

/// One change to apply to a tenant's index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexChange {
    Upsert(BookDocument),
    /// The book is gone as of `version` (its last version).
    Delete {
        book_id: BookId,
        version: u64,
    },
}

impl IndexChange {
    pub fn book_id(&self) -> BookId {
        match self {
            IndexChange::Upsert(doc) => doc.book_id,
            IndexChange::Delete { book_id, .. } => *book_id,
        }
    }

    /// Which of two changes of one book wins: the newer version; a delete on a tie.
    pub fn precedence(&self) -> (u64, u8) {
        match self {
            IndexChange::Upsert(doc) => (doc.version, 0),
            IndexChange::Delete { version, .. } => (*version, 1),
        }
    }
}

/// Filters that narrow a search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilters {
    pub category: Option<String>,
    /// One author's books (case and accents as the store's key form folds them).
    pub author: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub min_year: Option<i32>,
    pub max_year: Option<i32>,
    pub min_rating: Option<Rating>,
    pub in_stock: Option<bool>,
}

/// The order of a search's results. `Title` breaks ties by book id; the numeric orders
/// break them by when the book was added (to the microsecond), oldest first; so a page
/// boundary does not move between two reads of one index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best match first, then best rated (with no text: best rated first).
    #[default]
    Relevance,
    Title,
    PriceAsc,
    PriceDesc,
    /// Best rated first.
    Rating,
    /// Most recently added first.
    Newest,
    /// Most recently published first.
    Year,
}

/// A search: text (may be empty: everything), filters, an order and a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub text: String,
    pub fuzzy: bool,
    pub filters: SearchFilters,
    pub order: SearchOrder,
    pub offset: usize,
    /// Hits wanted; 0 only counts the matches (and their facets when asked).
    pub limit: usize,
    /// Count the matches per category (`SearchResults::categories`). Only a search page
    /// shows them; a listing does not ask, since counting visits every match.
    pub facets: bool,
}

/// One matching book.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchHit {
    pub book_id: BookId,
    /// Absent for a book indexed before the index kept ISBNs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub isbn: Option<Isbn>,
    pub title: String,
    pub author: String,
    pub category: String,
    pub price: Money,
    pub rating: Rating,
    pub publication_year: i32,
    pub stock_quantity: u32,
    pub score: f32,
    /// The title with matched words in `<em>`.
    pub highlight: Option<String>,
}

/// How many matches fall in one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryFacet {
    pub category: String,
    pub count: u64,
}

/// An author of the tenant's books and how many of them the index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuthorFacet {
    pub author: String,
    pub count: u64,
}

/// A page of results, the total, and category counts over all matches.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<SearchHit>,
    pub categories: Vec<CategoryFacet>,
}

/// An autocomplete suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Suggestion {
    pub text: String,
    pub kind: SuggestionKind,
    pub book_id: BookId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuggestionKind {
    Title,
    Author,
}

/// Why an index call failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index unavailable: {0}")]
    Unavailable(String),
    /// Some changes of a batch were refused (by position in the batch); the others applied.
    #[error("search index refused {} change(s): {reason}", failed.len())]
    Refused { failed: Vec<usize>, reason: String },
}

impl From<SearchError> for crate::error::Error {
    fn from(err: SearchError) -> Self {
        crate::error::Error::Internal(err.to_string())
    }
}

/// An author or category as the store's keys fold it (`KeyText::key_form`): what an
/// author filter matches, whatever its case and accents.
pub fn key_form(text: &str) -> String {
    crate::domain::KeyText::parse(text).map(|key| key.key_form()).unwrap_or_else(|_| text.to_lowercase())
}

/// Changes a rebuild writes per call.
pub const REBUILD_CHUNK: usize = 500;

/// The most suggestions autocomplete returns.
pub const MAX_SUGGESTIONS: usize = 9;

/// Edit distance allowed for a word of `chars` characters (Elasticsearch's AUTO).
pub fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The search port.
#[async_trait::async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Applies changes to the tenant's index, order-aware; visible to searches on return.
    async fn apply(&self, tenant: &TenantId, changes: Vec<IndexChange>) -> Result<(), SearchError>;
    async fn search(&self, tenant: &TenantId, request: &SearchRequest) -> Result<SearchResults, SearchError>;
    /// Every author of the tenant's indexed (so active) books, with how many books each;
    /// counted by the index, so an author listing never reads the catalogue.
    async fn authors(&self, tenant: &TenantId) -> Result<Vec<AuthorFacet>, SearchError>;
    /// Up to `MAX_SUGGESTIONS` titles and authors completing `prefix`, best sellers first.
    async fn suggest(&self, tenant: &TenantId, prefix: &str) -> Result<Vec<Suggestion>, SearchError>;
    /// The version the index holds for a book and whether it is deleted (tests, repair).
    async fn version_of(&self, tenant: &TenantId, book: &BookId) -> Result<Option<(u64, bool)>, SearchError>;
    /// Drops every document of the tenant, books and purchases.
    async fn clear(&self, tenant: &TenantId) -> Result<(), SearchError>;
    /// Replaces the tenant's book index with exactly `changes` (a rebuild from the
    /// store), reporting each chunk written to `indexed`. An engine that can fill a new
    /// index beside the live one and swap it in (Elasticsearch's aliases) does, so
    /// searches keep answering from the old index meanwhile; the embedded one clears and
    /// refills (its server is stopped while it rebuilds). Purchases are untouched.
    async fn replace_books(
        &self,
        tenant: &TenantId,
        changes: Vec<IndexChange>,
        indexed: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<(), SearchError>;
    /// Indexes purchases, order-aware by version like books.
    async fn apply_purchases(&self, tenant: &TenantId, purchases: Vec<PurchaseDocument>) -> Result<(), SearchError>;
    async fn search_purchases(
        &self,
        tenant: &TenantId,
        request: &PurchaseSearch,
    ) -> Result<PurchaseResults, SearchError>;
}

/// What the index holds of a purchase (for `/search/{tenant}/purchases`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseDocument {
    pub purchase_id: crate::domain::PurchaseId,
    pub user_id: crate::domain::UserId,
    pub status: crate::domain::PurchaseStatus,
    pub total_amount: Money,
    pub item_count: u32,
    /// Titles of the books bought, searchable.
    pub titles: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub version: u64,
}

impl From<&crate::domain::Purchase> for PurchaseDocument {
    fn from(p: &crate::domain::Purchase) -> Self {
        Self {
            purchase_id: p.purchase_id,
            user_id: p.user_id,
            status: p.status,
            total_amount: p.total_amount,
            item_count: p.items.iter().map(|i| i.quantity.get()).sum(),
            titles: p.items.iter().map(|i| i.title.clone()).collect(),
            created_at: p.created_at,
            version: p.version,
        }
    }
}

/// A search over a tenant's purchases; `user` is forced to the caller for customers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseSearch {
    pub text: String,
    pub user: Option<crate::domain::UserId>,
    pub status: Option<crate::domain::PurchaseStatus>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub min_total: Option<Money>,
    pub max_total: Option<Money>,
    pub offset: usize,
    pub limit: usize,
}

/// A page of purchases, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PurchaseResults {
    pub total: usize,
    pub hits: Vec<PurchaseDocument>,
}
