//! Rebuilding a tenant's book index from the store, for when the index cannot be
//! caught up from the stream: a new index format (a new directory, empty), a lost disk,
//! or a stream whose records have aged out.

use crate::domain::{Book, TenantId};
use crate::error::{Error, Result};
use crate::search::{BookDocument, IndexChange, SearchIndex, SearchOrder, SearchRequest};
use crate::store::{self, Index, Query, SortKeyRange, Store, Table, keys};

/// Whether the tenant's index holds no book while the store holds some: an index that
/// must be rebuilt (one store read of at most one item and one count to tell).
pub async fn index_is_missing(store: &dyn Store, search: &dyn SearchIndex, tenant: &TenantId) -> Result<bool> {
    let count = SearchRequest {
        text: String::new(),
        fuzzy: false,
        filters: Default::default(),
        order: SearchOrder::Relevance,
        offset: 0,
        limit: 0,
        facets: false,
    };
    if search.search(tenant, &count).await?.total > 0 {
        return Ok(false);
    }
    let any_book = books_query(tenant).limit(1);
    Ok(!store.query(any_book).await?.items.is_empty())
}

fn books_query(tenant: &TenantId) -> Query {
    Query::index(Table::Books, Index::Gsi1, keys::books_by_category(tenant), SortKeyRange::All)
}

/// Indexes every book of the store again in place of the tenant's book index (a book
/// off sale as a deletion, so a late stream record cannot bring it back); `indexed` hears
/// how many went in with each chunk. Returns how many books were read.
pub async fn rebuild_index(
    store: &dyn Store,
    search: &dyn SearchIndex,
    tenant: &TenantId,
    indexed: impl Fn(usize) + Send + Sync,
) -> Result<usize> {
    let books: Vec<Book> = store::query_all(store, books_query(tenant))
        .await?
        .into_iter()
        .map(store::item_record)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Internal(format!("a stored book of {tenant} does not read back: {e}")))?;
    let changes = books
        .iter()
        .map(|book| {
            if book.is_active {
                IndexChange::Upsert(BookDocument::from(book))
            } else {
                IndexChange::Delete { book_id: book.book_id, version: book.version }
            }
        })
        .collect();
    search.replace_books(tenant, changes, &indexed).await?;
    Ok(books.len())
}
