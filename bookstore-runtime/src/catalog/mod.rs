//! A tenant's catalogue: books, their ISBN uniqueness, authors; listings, categories and
//! recommendations in `listing`.

mod listing;

pub use listing::{
    BookPage, Browse, BrowsePage, KeyPosition, browse_books, browse_total, categories, list_books, recommendations,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    Book, BookId, BookPatch, Isbn, KeyText, Money, NewBook, Price, Rating, TenantId, valid_language,
    valid_publication_year,
};
use crate::error::{Error, Result};
use crate::search::SearchIndex;
use crate::store::projection::{self, Attribute};
use crate::store::{
    self, Condition, Index, Item, Key, Query, SortKeyRange, Store, StoreError, Table, WriteAction, keys,
};

fn book_key(book: &Book) -> Key {
    keys::book(&book.tenant_id, &book.book_id, &book.isbn)
}

/// The book as an item with its three index entries.
pub fn book_item(book: &Book) -> Result<Item> {
    let tenant = &book.tenant_id;
    let indexes = [
        (Index::Gsi1, keys::books_by_category(tenant), keys::category_sort(&book.category, &book.book_id)),
        (Index::Gsi2, keys::books_by_author(tenant), keys::author_sort(&book.author, &book.book_id)),
        (Index::Gsi3, keys::books_by_isbn(tenant), book.isbn.to_string()),
    ];
    Ok(store::record_item(book, &book_key(book), &indexes)?)
}

fn isbn_claim(tenant: &TenantId, isbn: &Isbn, book: &BookId) -> Item {
    let key = keys::isbn_claim(tenant, isbn);
    let mut claim = Item::new();
    claim.insert("pk".into(), key.pk.into());
    claim.insert("sk".into(), key.sk.into());
    claim.insert("book_id".into(), book.to_string().into());
    claim
}

fn check_book_fields(year: i32, language: &str, now: DateTime<Utc>) -> Result<()> {
    if !valid_publication_year(year, now) {
        return Err(Error::invalid("publication_year", "must be between 1450 and next year"));
    }
    if !valid_language(language) {
        return Err(Error::invalid("language", "must be a two-letter language code like \"es\""));
    }
    Ok(())
}

/// Adds a book; its ISBN must be new in the tenant.
pub async fn create_book(
    store: &dyn Store,
    tenant: &TenantId,
    book_id: BookId,
    new: NewBook,
    now: DateTime<Utc>,
) -> Result<Book> {
    check_book_fields(new.publication_year, &new.language, now)?;
    if new.stock_quantity > 1_000_000 {
        return Err(Error::invalid("stock_quantity", "must be at most 1000000"));
    }
    let book = Book {
        book_id,
        tenant_id: tenant.clone(),
        isbn: new.isbn,
        title: new.title,
        author: new.author,
        editorial: new.editorial,
        category: new.category,
        price: new.price,
        description: new.description,
        cover_image_url: new.cover_image_url,
        stock_quantity: new.stock_quantity,
        publication_year: new.publication_year,
        language: new.language,
        pages: new.pages,
        rating: new.rating,
        is_active: true,
        sales_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let actions = vec![
        WriteAction::Put {
            table: Table::Books,
            item: isbn_claim(tenant, &book.isbn, &book_id),
            condition: Some(Condition::NotExists),
        },
        WriteAction::Put { table: Table::Books, item: book_item(&book)?, condition: Some(Condition::NotExists) },
    ];
    match store.transact_write(actions).await {
        Err(StoreError::TransactionCancelled { .. }) => {
            Err(Error::conflict("isbn_taken", format!("a book with ISBN {} already exists in this shop", book.isbn)))
        }
        other => other.map(|()| book).map_err(Error::from),
    }
}

/// Reads a book of the tenant.
pub async fn get_book(store: &dyn Store, tenant: &TenantId, book: &BookId) -> Result<Book> {
    find_book(store, tenant, book).await?.ok_or_else(|| Error::not_found("book"))
}

/// Reads a book of the tenant, `None` when absent.
pub async fn find_book(store: &dyn Store, tenant: &TenantId, book: &BookId) -> Result<Option<Book>> {
    find_book_as_fresh(store, tenant, book, Freshness::Latest).await
}

/// Reads a book of the tenant as fresh as asked, `None` when absent. A `Recent` read that
/// finds nothing asks again for the latest, so a book created a moment ago is found (a
/// miss costs a second read; a hit half of a consistent one).
pub async fn find_book_as_fresh(
    store: &dyn Store,
    tenant: &TenantId,
    book: &BookId,
    freshness: Freshness,
) -> Result<Option<Book>> {
    Ok(book_item_json(store, tenant, book, freshness).await?.map(|json| store::json_record(&json)).transpose()?)
}

async fn book_item_json(
    store: &dyn Store,
    tenant: &TenantId,
    book: &BookId,
    freshness: Freshness,
) -> Result<Option<Vec<u8>>> {
    if freshness == Freshness::Recent {
        let found = store.query_json(book_query(tenant, book).eventually_consistent()).await?;
        if let Some(json) = found.into_iter().next() {
            return Ok(Some(json));
        }
    }
    Ok(store.query_json(book_query(tenant, book)).await?.into_iter().next())
}

/// How fresh a read of books must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Every acknowledged write (a checkout prices from these).
    Latest,
    /// Possibly a moment behind, at half the cost on DynamoDB (a catalogue page, which
    /// the index already serves a moment behind).
    Recent,
}

/// Books of the tenant by id, in the order asked (`None`: no such book). Those whose ISBN
/// is known (so their whole key) are read in batches (`BatchGetItem`, one round trip per
/// hundred); the others one by one.
pub async fn find_books(
    store: &dyn Store,
    tenant: &TenantId,
    wanted: &[(BookId, Option<Isbn>)],
    freshness: Freshness,
) -> Result<Vec<Option<Book>>> {
    let mut books: Vec<Option<Book>> = vec![None; wanted.len()];
    let keyed: Vec<(usize, Key)> = wanted
        .iter()
        .enumerate()
        .filter_map(|(at, (book, isbn))| isbn.as_ref().map(|isbn| (at, keys::book(tenant, book, isbn))))
        .collect();
    for chunk in keyed.chunks(store::MAX_BATCH_GET) {
        let keys: Vec<Key> = chunk.iter().map(|(_, key)| key.clone()).collect();
        let items = store.batch_get(Table::Books, &keys, freshness == Freshness::Latest).await?;
        for ((at, _), item) in chunk.iter().zip(items) {
            books[*at] = item.map(store::item_record).transpose()?;
        }
    }
    for (at, (book, isbn)) in wanted.iter().enumerate() {
        if isbn.is_none() {
            books[at] = find_book(store, tenant, book).await?;
        }
    }
    Ok(books)
}

/// A book of the tenant as the API serves it: `Book`'s JSON, cut from the stored item
/// without decoding it (the hottest read of the API). Read eventually consistent: a
/// moment behind a write at worst, at half the cost on DynamoDB.
pub async fn book_json(store: &dyn Store, tenant: &TenantId, book: &BookId) -> Result<Vec<u8>> {
    let item = book_item_json(store, tenant, book, Freshness::Recent).await?.ok_or_else(|| Error::not_found("book"))?;
    Ok(projection::project(&item, BOOK_ATTRIBUTES)?)
}

/// `Book`'s fields in its declaration order (`serde_json::to_vec(&book)` order);
/// `book_json_is_the_books_own_json` holds the two together.
const BOOK_ATTRIBUTES: &[Attribute] = &[
    Attribute::required("book_id"),
    Attribute::required("tenant_id"),
    Attribute::required("isbn"),
    Attribute::required("title"),
    Attribute::required("author"),
    Attribute::required("editorial"),
    Attribute::required("category"),
    Attribute::required("price"),
    Attribute::required("description"),
    Attribute::required("cover_image_url"),
    Attribute::required("stock_quantity"),
    Attribute::required("publication_year"),
    Attribute::required("language"),
    Attribute::required("pages"),
    Attribute::required("rating"),
    Attribute::required("is_active"),
    // Books stored before checkout counted sales have none (`#[serde(default)]` on `Book`).
    Attribute::defaulted("sales_count", "0"),
    Attribute::required("version"),
    Attribute::required("created_at"),
    Attribute::required("updated_at"),
];

/// The book's own item (not its ISBN claim), found by id alone.
fn book_query(tenant: &TenantId, book: &BookId) -> Query {
    Query::table(
        Table::Books,
        keys::book_partition(tenant, book),
        SortKeyRange::BeginsWith(keys::BOOK_SK_PREFIX.into()),
    )
    .limit(1)
}

pub async fn book_by_isbn(store: &dyn Store, tenant: &TenantId, isbn: &Isbn) -> Result<Book> {
    let query = Query::index(
        Table::Books,
        Index::Gsi3,
        keys::books_by_isbn(tenant),
        SortKeyRange::Between(isbn.to_string(), isbn.to_string()),
    )
    .limit(1);
    let page = store.query(query).await?;
    page.items.into_iter().next().map(store::item_record).transpose()?.ok_or_else(|| Error::not_found("book"))
}

/// Applies a patch, guarded by the book's version; retried when a checkout or another
/// edit changed the book meanwhile.
pub async fn update_book(
    store: &dyn Store,
    tenant: &TenantId,
    book_id: &BookId,
    patch: BookPatch,
    now: DateTime<Utc>,
) -> Result<Book> {
    for _ in 0..5 {
        let before = get_book(store, tenant, book_id).await?;
        let mut after = before.clone();
        let p = patch.clone();
        if let Some(v) = p.title {
            after.title = v
        }
        if let Some(v) = p.author {
            after.author = v
        }
        if let Some(v) = p.editorial {
            after.editorial = Some(v)
        }
        if let Some(v) = p.category {
            after.category = v
        }
        if let Some(v) = p.price {
            after.price = v
        }
        if let Some(v) = p.description {
            after.description = Some(v)
        }
        if let Some(v) = p.cover_image_url {
            after.cover_image_url = Some(v)
        }
        if let Some(v) = p.stock_quantity {
            after.stock_quantity = v
        }
        if let Some(v) = p.publication_year {
            after.publication_year = v
        }
        if let Some(v) = p.language {
            after.language = v
        }
        if let Some(v) = p.pages {
            after.pages = Some(v)
        }
        if let Some(v) = p.rating {
            after.rating = v
        }
        if let Some(v) = p.is_active {
            after.is_active = v
        }
        check_book_fields(after.publication_year, &after.language, now)?;
        if after.stock_quantity > 1_000_000 {
            return Err(Error::invalid("stock_quantity", "must be at most 1000000"));
        }
        after.version = before.version + 1;
        after.updated_at = now;
        let same_version = Condition::Equals("version".into(), before.version.into());
        match store.put(Table::Books, book_item(&after)?, Some(same_version)).await {
            Ok(()) => return Ok(after),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(Error::conflict("concurrent_update", "the book kept changing; try again"))
}

/// Removes a book and frees its ISBN.
pub async fn delete_book(store: &dyn Store, tenant: &TenantId, book_id: &BookId) -> Result<()> {
    let book = get_book(store, tenant, book_id).await?;
    let actions = vec![
        WriteAction::Delete { table: Table::Books, key: book_key(&book), condition: Some(Condition::Exists) },
        WriteAction::Delete { table: Table::Books, key: keys::isbn_claim(tenant, &book.isbn), condition: None },
    ];
    match store.transact_write(actions).await {
        Err(StoreError::TransactionCancelled { .. }) => Err(Error::not_found("book")),
        other => Ok(other?),
    }
}

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BookSort {
    #[default]
    Title,
    PriceAsc,
    PriceDesc,
    Rating,
    Newest,
    Year,
}

impl BookSort {
    pub const ALLOWED: &'static str = "title, price, -price, rating, newest, year";
    /// Every name `sort` takes, the documented ones and their aliases.
    const NAMES: [(&'static str, BookSort); 11] = [
        ("title", BookSort::Title),
        ("price", BookSort::PriceAsc),
        ("price_asc", BookSort::PriceAsc),
        ("-price", BookSort::PriceDesc),
        ("price_desc", BookSort::PriceDesc),
        ("rating", BookSort::Rating),
        ("-rating", BookSort::Rating),
        ("newest", BookSort::Newest),
        ("-created_at", BookSort::Newest),
        ("year", BookSort::Year),
        ("-year", BookSort::Year),
    ];
    pub fn parse(raw: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(name, _)| *name == raw).map(|(_, sort)| *sort)
    }
}

/// Filters of `GET /api/v1/books`.
#[derive(Debug, Clone, Default)]
pub struct BookFilters {
    pub category: Option<KeyText>,
    pub author: Option<KeyText>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub min_year: Option<i32>,
    pub max_year: Option<i32>,
    pub min_rating: Option<Rating>,
    pub in_stock: Option<bool>,
    /// `None`: none asked for (a listing of one category or author then comes in key
    /// order, any other by title).
    pub sort: Option<BookSort>,
}

/// A category and how many active books it holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CategoryCount {
    pub category: String,
    pub book_count: usize,
}

/// An author and how many active books of theirs the shop has.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthorCount {
    pub author: String,
    pub book_count: usize,
}

/// Every author of the shop's active books with how many each, from the index's author
/// counts (never a read of the catalogue). Names that differ only in case or accents are
/// one author, as in the store's keys, in the order of those keys.
pub async fn authors(search: &dyn SearchIndex, tenant: &TenantId) -> Result<Vec<AuthorCount>> {
    let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for facet in search.authors(tenant).await? {
        let key = KeyText::parse(&facet.author).map(|a| a.key_form()).unwrap_or_else(|_| facet.author.clone());
        let entry = counts.entry(key).or_insert_with(|| (facet.author.clone(), 0));
        entry.1 += usize::try_from(facet.count).unwrap_or(usize::MAX);
    }
    Ok(counts.into_values().map(|(author, book_count)| AuthorCount { author, book_count }).collect())
}

/// Filters every book listing and search takes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookFilterParams {
    /// Only this category (case does not matter).
    #[param(value_type = Option<KeyText>)]
    pub category: Option<String>,
    #[param(value_type = Option<Price>)]
    pub min_price: Option<String>,
    #[param(value_type = Option<Price>)]
    pub max_price: Option<String>,
    /// Published in this year or later.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 9999)]
    pub min_year: Option<String>,
    /// Published in this year or earlier.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 9999)]
    pub max_year: Option<String>,
    #[param(value_type = Option<Rating>)]
    pub min_rating: Option<String>,
    /// Only books with (true) or without (false) copies in stock.
    #[param(value_type = Option<bool>)]
    pub in_stock: Option<String>,
}

/// What only `GET /api/v1/books` takes: one author's books, and an order.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookOrderParams {
    /// Only this author's books (case does not matter).
    #[param(value_type = Option<KeyText>)]
    pub author: Option<String>,
    #[param(value_type = Option<BookSortName>, inline)]
    pub sort: Option<String>,
}

/// The names `sort` takes, for the schema.
pub struct BookSortName;

impl utoipa::PartialSchema for BookSortName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(BookSort::NAMES.iter().map(|(name, _)| *name)))
            .description(Some("the order: title (default), price, -price, rating, newest or year"))
            .into()
    }
}

impl utoipa::ToSchema for BookSortName {
    fn name() -> std::borrow::Cow<'static, str> {
        "BookSort".into()
    }
}

/// How `min_price` and `max_price` must look.
const PRICE: &str = "a price like 9.95, from 0 to 9999999.99";

/// Reads one optional query parameter, naming it and what it allows when it is wrong.
fn query_field<T>(
    name: &str,
    raw: &Option<String>,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>> {
    match raw {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .ok_or_else(|| Error::bad_request("invalid_query", format!("{name}: must be {allowed}"))),
    }
}

fn filter_year(raw: &str) -> Option<i32> {
    raw.parse().ok().filter(|year| (0..=9999).contains(year))
}

impl BookFilterParams {
    /// The filters, and from `order` the author and sort of a listing.
    pub fn parse(&self, order: &BookOrderParams) -> Result<BookFilters> {
        let key_text = |s: &str| KeyText::parse(s).ok();
        let price = |s: &str| Price::parse(s).ok().map(|p| p.money());
        let filters = BookFilters {
            category: query_field("category", &self.category, key_text, "1-100 characters without '#'")?,
            author: query_field("author", &order.author, key_text, "1-100 characters without '#'")?,
            min_price: query_field("min_price", &self.min_price, price, PRICE)?,
            max_price: query_field("max_price", &self.max_price, price, PRICE)?,
            min_year: query_field("min_year", &self.min_year, filter_year, "a year from 0 to 9999")?,
            max_year: query_field("max_year", &self.max_year, filter_year, "a year from 0 to 9999")?,
            min_rating: query_field("min_rating", &self.min_rating, |s| Rating::parse(s).ok(), "a number from 0 to 5")?,
            in_stock: query_field("in_stock", &self.in_stock, |s| s.parse().ok(), "true or false")?,
            sort: query_field("sort", &order.sort, BookSort::parse, BookSort::ALLOWED)?,
        };
        Ok(filters)
    }

    /// The filters as text, for binding cursors to the query.
    pub fn fingerprint(&self) -> String {
        format!("{:?}", self)
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::embedded::EmbeddedStore;

    #[tokio::test]
    async fn book_json_is_the_books_own_json() {
        let store = EmbeddedStore::in_memory().expect("store");
        let tenant = TenantId::parse("shop-a").expect("tenant");
        let now = Utc::now();
        let books = [
            json!({"isbn": "9788437604947", "title": "Cien años de soledad", "author": "Gabriel García Márquez",
                "category": "Novela", "price": "19.90", "stock_quantity": 3, "publication_year": 1967, "language": "es",
                "rating": "4.5"}),
            json!({"isbn": "9780141182803", "title": "A \"quoted\", {braced} [title], \\ with commas",
                "author": "George Orwell", "editorial": "Penguin", "category": "Fiction", "price": "9.99",
                "description": "«una \\ barra», \"comillas\" y \u{1F4DA}", "cover_image_url": "https://example.com/c.jpg",
                "stock_quantity": 0, "publication_year": 1949, "language": "en", "pages": 328, "rating": "5.0"}),
        ];
        for new in books {
            let new: NewBook = serde_json::from_value(new).expect("a valid new book");
            let book = create_book(&store, &tenant, BookId::new_v7(), new, now).await.expect("created");
            let served = book_json(&store, &tenant, &book.book_id).await.expect("found");
            let expected = serde_json::to_vec(&get_book(&store, &tenant, &book.book_id).await.expect("found"));
            assert_eq!(String::from_utf8_lossy(&served), String::from_utf8_lossy(&expected.expect("serialises")));
        }
        let other = TenantId::parse("shop-b").expect("tenant");
        let absent = book_json(&store, &other, &BookId::new_v7()).await;
        assert!(matches!(absent, Err(Error::NotFound(_))), "{absent:?}");
    }
}
