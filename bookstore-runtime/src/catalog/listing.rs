//! Listings whose cost is the page, not the catalogue.
//!
//! - One category's or one author's books with no other filter and no order asked for
//!   come in key order from the store (the index's sort key: the category or author, then
//!   the book id), read with a limit and resumed from the store's own last evaluated key.
//! - Every other listing, and the counts, come from the search index (filters and orders
//!   on its fast fields); the page's books are then read from the store in one batch, so
//!   what a listing shows is the book as stored.
//!
//! The index follows the store through change-data capture: a listing served from it
//! may trail a write by the feed's lag (as it does on AWS), never by more.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Book, BookFilters, BookSort, CategoryCount, Freshness, find_book, find_books};
use crate::domain::{BookId, KeyText, TenantId, UserId};
use crate::error::Result;
use crate::search::{SearchFilters, SearchIndex, SearchOrder, SearchRequest};
use crate::store::{self, Index, Item, Query, SortKeyRange, Store, Table, keys};

/// One page of a listing and how many books the whole listing holds.
#[derive(Debug, Clone)]
pub struct BookPage {
    pub books: Vec<Book>,
    pub total: usize,
}

fn search_order(sort: BookSort) -> SearchOrder {
    match sort {
        BookSort::Title => SearchOrder::Title,
        BookSort::PriceAsc => SearchOrder::PriceAsc,
        BookSort::PriceDesc => SearchOrder::PriceDesc,
        BookSort::Rating => SearchOrder::Rating,
        BookSort::Newest => SearchOrder::Newest,
        BookSort::Year => SearchOrder::Year,
    }
}

fn search_filters(filters: &BookFilters) -> SearchFilters {
    SearchFilters {
        category: filters.category.as_ref().map(ToString::to_string),
        author: filters.author.as_ref().map(ToString::to_string),
        min_price: filters.min_price,
        max_price: filters.max_price,
        min_year: filters.min_year,
        max_year: filters.max_year,
        min_rating: filters.min_rating,
        in_stock: filters.in_stock,
    }
}

/// A page of the tenant's books matching the filters, in the asked order (by title when
/// none): the page's ids and the total from the index, the books from the store in one
/// batch. A book the store no longer has is left out of the page.
pub async fn list_books(
    store: &dyn Store,
    search: &dyn SearchIndex,
    tenant: &TenantId,
    filters: &BookFilters,
    offset: usize,
    limit: usize,
) -> Result<BookPage> {
    let request = SearchRequest {
        text: String::new(),
        fuzzy: false,
        filters: search_filters(filters),
        order: search_order(filters.sort.unwrap_or_default()),
        offset,
        limit,
        facets: false,
    };
    let results = search.search(tenant, &request).await?;
    let wanted: Vec<(BookId, Option<crate::domain::Isbn>)> =
        results.hits.iter().map(|hit| (hit.book_id, hit.isbn.clone())).collect();
    let books = find_books(store, tenant, &wanted, Freshness::Recent)
        .await?
        .into_iter()
        .flatten()
        .filter(|b| b.is_active)
        .collect();
    Ok(BookPage { books, total: results.total })
}

/// Which key-ordered listing to browse.
#[derive(Debug, Clone)]
pub enum Browse {
    Category(KeyText),
    Author(KeyText),
}

impl Browse {
    /// The listing a filter set is, when it is one: a category or an author, nothing else.
    pub fn of(filters: &BookFilters) -> Option<Browse> {
        let only_key = filters.sort.is_none()
            && filters.min_price.is_none()
            && filters.max_price.is_none()
            && filters.min_year.is_none()
            && filters.max_year.is_none()
            && filters.min_rating.is_none()
            && filters.in_stock.is_none();
        match (&filters.author, &filters.category) {
            _ if !only_key => None,
            (Some(author), None) => Some(Browse::Author(author.clone())),
            (None, Some(category)) => Some(Browse::Category(category.clone())),
            _ => None,
        }
    }

    fn query(&self, tenant: &TenantId) -> Query {
        match self {
            Browse::Category(category) => Query::index(
                Table::Books,
                Index::Gsi1,
                keys::books_by_category(tenant),
                SortKeyRange::BeginsWith(keys::category_prefix(category)),
            ),
            Browse::Author(author) => Query::index(
                Table::Books,
                Index::Gsi2,
                keys::books_by_author(tenant),
                SortKeyRange::BeginsWith(keys::author_prefix(author)),
            ),
        }
    }

    fn index(&self) -> Index {
        match self {
            Browse::Category(_) => Index::Gsi1,
            Browse::Author(_) => Index::Gsi2,
        }
    }

    fn filters(&self) -> BookFilters {
        match self {
            Browse::Category(category) => BookFilters { category: Some(category.clone()), ..Default::default() },
            Browse::Author(author) => BookFilters { author: Some(author.clone()), ..Default::default() },
        }
    }
}

/// Where a key-ordered page starts: after (or, going back, before) this item's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyPosition {
    /// The key attributes of the item (table and index keys), as the store resumes from.
    pub key: Item,
    pub backward: bool,
}

/// A key-ordered page: its books, and the positions to read the next and the previous
/// page from.
#[derive(Debug, Clone)]
pub struct BrowsePage {
    pub books: Vec<Book>,
    pub next: Option<KeyPosition>,
    pub previous: Option<KeyPosition>,
}

/// The key attributes of a stored item for `index`: what a store needs to resume after it.
fn key_of(item: &Item, index: Index) -> Item {
    ["pk", "sk", index.pk_attr(), index.sk_attr()]
        .iter()
        .filter_map(|name| item.get(*name).map(|value| ((*name).to_owned(), value.clone())))
        .collect()
}

/// Reads up to `wanted` active books from `start` in the position's direction, each with
/// its key; one item more tells whether there is more. Inactive books are skipped (read,
/// not shown), so a page costs its items plus the inactive ones between them.
async fn read_run(
    store: &dyn Store,
    query: Query,
    index: Index,
    start: Option<&KeyPosition>,
    wanted: usize,
) -> Result<(Vec<(Book, Item)>, bool)> {
    let backward = start.is_some_and(|p| p.backward);
    let mut query = if backward { query.backward() } else { query };
    query.start_after = start.map(|p| p.key.clone());
    let mut run = Vec::with_capacity(wanted + 1);
    loop {
        let page = store.query(query.clone().limit(wanted + 1 - run.len())).await?;
        for item in page.items {
            let key = key_of(&item, index);
            let book: Book = store::item_record(item)?;
            if book.is_active {
                run.push((book, key));
            }
        }
        if run.len() > wanted {
            run.truncate(wanted);
            return Ok((run, true));
        }
        match page.last_evaluated {
            Some(last) => query.start_after = Some(last),
            None => return Ok((run, false)),
        }
    }
}

/// A page of one category's or author's books in key order, from `start` (the first
/// page when `None`), skipping `skip` books first (a page asked for by number walks to
/// it: O(page number × page)).
pub async fn browse_books(
    store: &dyn Store,
    tenant: &TenantId,
    browse: &Browse,
    start: Option<KeyPosition>,
    skip: usize,
    limit: usize,
) -> Result<BrowsePage> {
    let index = browse.index();
    let mut start = start;
    if skip > 0 {
        let (skipped, _) = read_run(store, browse.query(tenant), index, start.as_ref(), skip).await?;
        start = skipped.last().map(|(_, key)| KeyPosition { key: key.clone(), backward: false });
    }
    let backward = start.as_ref().is_some_and(|p| p.backward);
    let (mut run, more) = read_run(store, browse.query(tenant), index, start.as_ref(), limit).await?;
    if backward {
        run.reverse();
    }
    let came_from_somewhere = start.is_some();
    let (has_next, has_previous) = if backward { (true, more) } else { (more, came_from_somewhere) };
    let next = has_next.then(|| run.last().map(|(_, key)| KeyPosition { key: key.clone(), backward: false })).flatten();
    let previous =
        has_previous.then(|| run.first().map(|(_, key)| KeyPosition { key: key.clone(), backward: true })).flatten();
    Ok(BrowsePage { books: run.into_iter().map(|(book, _)| book).collect(), next, previous })
}

/// How many books a key-ordered listing holds, counted by the index.
pub async fn browse_total(search: &dyn SearchIndex, tenant: &TenantId, browse: &Browse) -> Result<usize> {
    let request = SearchRequest {
        text: String::new(),
        fuzzy: false,
        filters: search_filters(&browse.filters()),
        order: SearchOrder::Relevance,
        offset: 0,
        limit: 0,
        facets: false,
    };
    Ok(search.search(tenant, &request).await?.total)
}

/// Every category with its number of active books, from the index's category counts.
pub async fn categories(search: &dyn SearchIndex, tenant: &TenantId) -> Result<Vec<CategoryCount>> {
    let request = SearchRequest {
        text: String::new(),
        fuzzy: false,
        filters: SearchFilters::default(),
        order: SearchOrder::Relevance,
        offset: 0,
        limit: 0,
        facets: true,
    };
    let results = search.search(tenant, &request).await?;
    // Categories that differ only in case or accents are one (as in the store's keys).
    let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for facet in results.categories {
        let key = KeyText::parse(&facet.category).map(|c| c.key_form()).unwrap_or_else(|_| facet.category.clone());
        let entry = counts.entry(key).or_insert_with(|| (facet.category.clone(), 0));
        entry.1 += usize::try_from(facet.count).unwrap_or(usize::MAX);
    }
    Ok(counts.into_values().map(|(category, book_count)| CategoryCount { category, book_count }).collect())
}

/// The categories and authors a recommendation draws on at most.
const MAX_INTERESTS: usize = 5;

/// Books for a user: from the categories and authors of what they bought and favourited
/// (and their preferences), best rated first, in stock, never one they already bought.
/// A user with no history gets the shop's best rated books. Each interest is one index
/// query for `limit` plus what was bought; the books are then read in one batch.
pub async fn recommendations(
    store: &dyn Store,
    search: &dyn SearchIndex,
    tenant: &TenantId,
    user: &UserId,
    limit: usize,
) -> Result<Vec<Book>> {
    let profile = crate::accounts::get_user(store, tenant, user).await?;
    let purchases = crate::orders::user_purchases(store, tenant, user).await?;
    let favorites = crate::accounts::list(store, crate::accounts::BookList::Favorites, tenant, user).await?;

    let bought: HashSet<BookId> = purchases.iter().flat_map(|p| p.items.iter().map(|i| i.book_id)).collect();
    let mut categories: Vec<String> = Vec::new();
    let mut authors: Vec<String> = Vec::new();
    let note = |list: &mut Vec<String>, value: &str| {
        if !list.iter().any(|known| known.eq_ignore_ascii_case(value)) {
            list.push(value.to_owned());
        }
    };
    for purchase in &purchases {
        for line in &purchase.items {
            note(&mut categories, &line.category);
            note(&mut authors, &line.author);
        }
    }
    for favorite in &favorites {
        if let Some(book) = find_book(store, tenant, &favorite.book_id).await? {
            note(&mut categories, book.category.as_str());
            note(&mut authors, book.author.as_str());
        }
    }
    for category in &profile.preferences.categories {
        note(&mut categories, category.as_str());
    }
    for author in &profile.preferences.authors {
        note(&mut authors, author.as_str());
    }

    let wanted = limit + bought.len();
    let best_rated = |filters: SearchFilters| SearchRequest {
        text: String::new(),
        fuzzy: false,
        filters: SearchFilters { in_stock: Some(true), ..filters },
        order: SearchOrder::Rating,
        offset: 0,
        limit: wanted,
        facets: false,
    };
    let mut requests: Vec<SearchRequest> = Vec::new();
    for category in categories.iter().take(MAX_INTERESTS) {
        requests.push(best_rated(SearchFilters { category: Some(category.clone()), ..Default::default() }));
    }
    for author in authors.iter().take(MAX_INTERESTS) {
        requests.push(best_rated(SearchFilters { author: Some(author.clone()), ..Default::default() }));
    }
    let mut related = Vec::new();
    for request in &requests {
        related.extend(search.search(tenant, request).await?.hits);
    }
    if related.iter().all(|hit| bought.contains(&hit.book_id)) {
        related = search.search(tenant, &best_rated(SearchFilters::default())).await?.hits;
    }
    related.sort_by(|a, b| b.rating.cmp(&a.rating).then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase())));
    let mut seen = HashSet::new();
    let picked: Vec<_> = related
        .into_iter()
        .filter(|hit| !bought.contains(&hit.book_id) && seen.insert(hit.book_id))
        .take(limit)
        .map(|hit| (hit.book_id, hit.isbn))
        .collect();
    Ok(find_books(store, tenant, &picked, Freshness::Recent).await?.into_iter().flatten().collect())
}
