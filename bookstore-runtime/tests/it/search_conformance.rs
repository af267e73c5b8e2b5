//! The `SearchIndex` port's conformance suite: every engine runs it unchanged — the
//! embedded tantivy engine, the Elasticsearch adapter against `bookstore-search` over
//! HTTP, and against a real Elasticsearch at `BOOKSTORE_TEST_ELASTICSEARCH_URL`.

use std::sync::Arc;

use bookstore_runtime::domain::{BookId, Isbn, Money, PurchaseId, PurchaseStatus, Rating, TenantId, UserId};
#[cfg(feature = "elasticsearch")]
use bookstore_runtime::elasticsearch::ElasticsearchSearch;
use bookstore_runtime::embedded::TantivySearch;
use bookstore_runtime::search::{
    BookDocument, IndexChange, PurchaseDocument, PurchaseSearch, SearchFilters, SearchIndex, SearchOrder,
    SearchRequest, SuggestionKind,
};
use rust_decimal::Decimal;

#[cfg(feature = "elasticsearch")]
use crate::support::SearchNode;

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("tenant")
}

/// Price in cents, rating in tenths, publication year, stock.
type Figures = (i64, i64, i32, u32);

fn doc(
    n: u128,
    title: &str,
    author: &str,
    category: &str,
    (price_cents, rating_tenths, year, stock): Figures,
) -> BookDocument {
    BookDocument {
        book_id: BookId::from_uuid(uuid::Uuid::from_u128(n)),
        isbn: Isbn::from_body(978_000_000_000 + n as u64),
        title: title.to_owned(),
        author: author.to_owned(),
        description: format!("Un libro de {category} escrito por {author}."),
        category: category.to_owned(),
        price: Money::new(Decimal::new(price_cents, 2)).expect("money"),
        rating: Rating::new(Decimal::new(rating_tenths, 1)).expect("rating"),
        publication_year: year,
        stock_quantity: stock,
        sales_count: 0,
        created_at: chrono::DateTime::from_timestamp(1_700_000_000 + n as i64 * 86_400, 0).expect("time"),
        version: 1,
    }
}

fn catalogue() -> Vec<BookDocument> {
    vec![
        doc(1, "Cien años de soledad", "Gabriel García Márquez", "Ficción", (1990, 48, 1967, 5)),
        doc(2, "Programación en Rust", "Lucía Fernández", "Programación", (3995, 45, 2021, 3)),
        doc(3, "El amor en los tiempos del cólera", "Gabriel García Márquez", "Ficción", (1750, 46, 1985, 0)),
        doc(4, "Historia de la programación", "José Núñez", "Historia", (2500, 39, 2010, 7)),
        doc(5, "Rayuela", "Julio Cortázar", "Ficción", (1500, 44, 1963, 2)),
        doc(6, "Cien recetas de cocina", "Ana Soler", "Cocina", (1200, 35, 2015, 9)),
    ]
}

fn request(text: &str, fuzzy: bool) -> SearchRequest {
    SearchRequest {
        text: text.to_owned(),
        fuzzy,
        filters: SearchFilters::default(),
        order: SearchOrder::Relevance,
        offset: 0,
        limit: 20,
        facets: true,
    }
}

async fn titles(index: &dyn SearchIndex, tenant_id: &TenantId, request: &SearchRequest) -> Vec<String> {
    index.search(tenant_id, request).await.expect("search").hits.into_iter().map(|h| h.title).collect()
}

/// Every tenant the suite writes, cleared first so an engine that outlives a run (a real
/// Elasticsearch) starts each run empty.
fn suite_tenants() -> Vec<TenantId> {
    let mut tenants =
        vec![tenant("shop-a"), tenant("shop-b"), tenant("shop-order"), tenant("shop-perm"), tenant("shop-rebuild")];
    tenants.extend((0..PERMUTATION_RUNS).map(|run| tenant(&format!("shop-perm-{run}"))));
    tenants
}

/// Every check of the suite.
pub async fn run_suite(index: Arc<dyn SearchIndex>) {
    for shop in suite_tenants() {
        index.clear(&shop).await.expect("clear");
    }
    let shop = tenant("shop-a");
    let changes = catalogue().iter().map(IndexChange::from).collect();
    index.apply(&shop, changes).await.expect("apply");
    let index = index.as_ref();

    // Spanish analysis: accents folded, stems matched, stop words ignored.
    let found = titles(index, &shop, &request("programacion", false)).await;
    assert!(found.contains(&"Programación en Rust".to_owned()), "{found:?}");
    assert!(found.contains(&"Historia de la programación".to_owned()), "{found:?}");
    let found = titles(index, &shop, &request("garcia marquez", false)).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|t| t == "Cien años de soledad" || t == "El amor en los tiempos del cólera"));
    let boosted = titles(index, &shop, &request("programación", false)).await;
    assert_eq!(boosted[0], "Programación en Rust", "a title match outranks others: {boosted:?}");

    // Fuzzy: one typo in a long word matches only with fuzzy on.
    assert_eq!(titles(index, &shop, &request("solidad", true)).await, vec!["Cien años de soledad"]);
    assert!(titles(index, &shop, &request("solidad", false)).await.is_empty());
    assert!(titles(index, &shop, &request("cortazr", true)).await.contains(&"Rayuela".to_owned()));

    // Prefix on the last word.
    assert!(titles(index, &shop, &request("rayu", false)).await.contains(&"Rayuela".to_owned()));

    // Filters and facets.
    let mut filtered = request("", false);
    filtered.filters = SearchFilters { category: Some("ficción".into()), in_stock: Some(true), ..Default::default() };
    let results = index.search(&shop, &filtered).await.expect("search");
    let found: Vec<String> = results.hits.iter().map(|h| h.title.clone()).collect();
    assert_eq!(found, vec!["Cien años de soledad", "Rayuela"], "in stock, best rated first");
    let mut ranges = request("", false);
    ranges.filters = SearchFilters {
        min_price: Some(Money::parse("15").expect("money")),
        max_price: Some(Money::parse("30").expect("money")),
        min_year: Some(1980),
        min_rating: Some(Rating::parse("4").expect("rating")),
        ..Default::default()
    };
    assert_eq!(
        titles(index, &shop, &ranges).await,
        vec!["El amor en los tiempos del cólera"],
        "price, year and rating bounds"
    );
    let everything = index.search(&shop, &request("", false)).await.expect("search");
    assert_eq!(everything.total, 6);
    let fiction = everything.categories.iter().find(|c| c.category == "Ficción").expect("facet");
    assert_eq!(fiction.count, 3);
    let uncounted = SearchRequest { facets: false, ..request("", false) };
    let listing = index.search(&shop, &uncounted).await.expect("search");
    assert_eq!((listing.total, listing.hits.len()), (6, 6), "the same matches without facets");
    assert!(listing.categories.is_empty(), "facets only when asked: {:?}", listing.categories);
    let authors = index.authors(&shop).await.expect("authors");
    let gabo = authors.iter().find(|a| a.author == "Gabriel García Márquez").expect("an author's count");
    assert_eq!(gabo.count, 2, "{authors:?}");
    assert_eq!(authors.iter().map(|a| a.count).sum::<u64>(), 6, "every book once: {authors:?}");
    let counted = index.search(&shop, &SearchRequest { limit: 0, ..request("", false) }).await.expect("search");
    assert_eq!((counted.total, counted.hits.len()), (6, 0), "a request for no hits only counts");
    assert_eq!(counted.categories, everything.categories, "and its facets");
    let ratings: Vec<Rating> = everything.hits.iter().map(|h| h.rating).collect();
    assert!(ratings.windows(2).all(|w| w[0] >= w[1]), "no text: best rated first");
    let mut paged = request("", false);
    paged.offset = 4;
    paged.limit = 10;
    let page = index.search(&shop, &paged).await.expect("search");
    assert_eq!((page.total, page.hits.len()), (6, 2));

    // Orders on fields, ties by title; pages cut in that order; an author's books.
    let ordered = |order: SearchOrder| {
        let mut r = request("", false);
        r.order = order;
        r
    };
    assert_eq!(
        titles(index, &shop, &ordered(SearchOrder::Title)).await,
        vec![
            "Cien años de soledad",
            "Cien recetas de cocina",
            "El amor en los tiempos del cólera",
            "Historia de la programación",
            "Programación en Rust",
            "Rayuela"
        ]
    );
    let cheapest = titles(index, &shop, &ordered(SearchOrder::PriceAsc)).await;
    assert_eq!(cheapest.first().map(String::as_str), Some("Cien recetas de cocina"));
    assert_eq!(cheapest.last().map(String::as_str), Some("Programación en Rust"));
    let dearest = titles(index, &shop, &ordered(SearchOrder::PriceDesc)).await;
    assert_eq!(dearest, cheapest.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(titles(index, &shop, &ordered(SearchOrder::Rating)).await[0], "Cien años de soledad");
    assert_eq!(titles(index, &shop, &ordered(SearchOrder::Newest)).await[0], "Cien recetas de cocina");
    assert_eq!(titles(index, &shop, &ordered(SearchOrder::Year)).await[0], "Programación en Rust");
    let mut second_page = ordered(SearchOrder::PriceAsc);
    (second_page.offset, second_page.limit) = (2, 2);
    assert_eq!(titles(index, &shop, &second_page).await, cheapest[2..4].to_vec());
    let mut by_author = ordered(SearchOrder::Title);
    by_author.filters = SearchFilters { author: Some("GABRIEL García MÁRQUEZ".into()), ..Default::default() };
    let gabo = index.search(&shop, &by_author).await.expect("search");
    assert_eq!(gabo.total, 2, "an author's books, whatever the case");
    assert!(gabo.hits.iter().all(|h| h.isbn.is_some()), "hits carry their ISBN");

    // Highlights mark the matched words of the title.
    let hit = index.search(&shop, &request("soledad", false)).await.expect("search").hits.remove(0);
    assert!(hit.highlight.as_deref().is_some_and(|h| h.contains("<b>soledad</b>")), "{:?}", hit.highlight);

    // Autocomplete.
    let suggestions = index.suggest(&shop, "cien años de sol").await.expect("suggest");
    assert_eq!(suggestions[0].text, "Cien años de soledad");
    let authors = index.suggest(&shop, "garc").await.expect("suggest");
    assert!(
        authors.iter().any(|s| s.kind == SuggestionKind::Author && s.text == "Gabriel García Márquez"),
        "{authors:?}"
    );
    assert!(index.suggest(&shop, "").await.expect("suggest").is_empty());
    let cien = index.suggest(&shop, "cien").await.expect("suggest");
    assert_eq!(cien.len(), 2, "{cien:?}");

    // Tenants never see each other.
    let other = tenant("shop-b");
    assert!(titles(index, &other, &request("soledad", true)).await.is_empty());
    assert!(index.authors(&other).await.expect("authors").is_empty(), "nor each other's authors");
    assert!(index.suggest(&other, "cien").await.expect("suggest").is_empty());
    assert_eq!(index.search(&other, &request("", false)).await.expect("search").total, 0);

    order_awareness(index).await;
    rebuild_replaces_the_books_and_keeps_purchases(index).await;
    any_permutation_of_a_batch_with_duplicates_gives_the_same_index(index).await;
}

async fn order_awareness(index: &dyn SearchIndex) {
    let shop = tenant("shop-order");
    let mut v1 = doc(10, "Versión uno", "Autora", "Ficción", (1000, 40, 2000, 1));
    let mut v2 = v1.clone();
    v2.title = "Versión dos".into();
    v2.version = 2;
    v1.version = 1;
    index.apply(&shop, vec![IndexChange::Upsert(v2.clone())]).await.expect("apply");
    index.apply(&shop, vec![IndexChange::Upsert(v1.clone())]).await.expect("stale apply");
    assert_eq!(
        titles(index, &shop, &request("version", false)).await,
        vec!["Versión dos"],
        "an older image never wins"
    );
    index.apply(&shop, vec![IndexChange::Delete { book_id: v2.book_id, version: 2 }]).await.expect("delete");
    index.apply(&shop, vec![IndexChange::Upsert(v2.clone())]).await.expect("replayed upsert");
    assert!(titles(index, &shop, &request("version", false)).await.is_empty(), "a replay does not resurrect");
    assert!(index.authors(&shop).await.expect("authors").is_empty(), "a deleted book's author is not counted");
    assert_eq!(index.version_of(&shop, &v2.book_id).await.expect("version"), Some((2, true)));
    index.clear(&shop).await.expect("clear");
    assert_eq!(index.version_of(&shop, &v2.book_id).await.expect("version"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tantivy_in_memory_passes_the_search_conformance_suite() {
    run_suite(Arc::new(TantivySearch::in_memory())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tantivy_on_disk_passes_the_suite_and_keeps_its_index_across_reopen() {
    let dir = std::env::temp_dir().join(format!("bookstore-search-{}", uuid::Uuid::new_v4()));
    run_suite(Arc::new(TantivySearch::open(&dir))).await;
    let reopened = TantivySearch::open(&dir);
    let found = titles(&reopened, &tenant("shop-a"), &request("soledad", false)).await;
    assert_eq!(found, vec!["Cien años de soledad"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(feature = "elasticsearch")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_adapter_on_bookstore_search_passes_the_suite() {
    let node = SearchNode::start().await;
    run_suite(Arc::new(ElasticsearchSearch::at(&node.url))).await;
}

#[cfg(feature = "elasticsearch")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_adapter_on_a_real_elasticsearch_passes_the_suite() {
    // No Elasticsearch can run here; where one does, point the variable at it.
    let Ok(url) = std::env::var("BOOKSTORE_TEST_ELASTICSEARCH_URL") else {
        eprintln!("skipped: set BOOKSTORE_TEST_ELASTICSEARCH_URL to an Elasticsearch 8 to run the suite on it");
        return;
    };
    run_suite(Arc::new(ElasticsearchSearch::at(url))).await;
}

/// A tiny deterministic generator for the permutation test.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

async fn rebuild_replaces_the_books_and_keeps_purchases(index: &dyn SearchIndex) {
    let shop = tenant("shop-rebuild");
    let old = [
        doc(20, "Libro viejo", "Autora", "Ficción", (1000, 40, 2000, 1)),
        doc(21, "Libro que queda", "Autora", "Ficción", (1000, 40, 2000, 1)),
    ];
    index.apply(&shop, old.iter().map(IndexChange::from).collect()).await.expect("apply");
    let purchase = PurchaseDocument {
        purchase_id: PurchaseId::from_uuid(uuid::Uuid::from_u128(7)),
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(8)),
        status: PurchaseStatus::Pending,
        total_amount: Money::parse("10.00").expect("money"),
        item_count: 1,
        titles: vec!["Libro viejo".into()],
        created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
        version: 1,
    };
    index.apply_purchases(&shop, vec![purchase]).await.expect("purchase");
    let mut kept = old[1].clone();
    kept.version = 2;
    let fresh = doc(22, "Libro nuevo", "Autor", "Historia", (1500, 45, 2020, 2));
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let changes = vec![IndexChange::Upsert(kept), IndexChange::Upsert(fresh)];
    index
        .replace_books(&shop, changes, &|n| {
            counted.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        })
        .await
        .expect("replace");
    assert_eq!(counted.into_inner(), 2, "every change reported");
    let mut found = titles(index, &shop, &request("", false)).await;
    found.sort();
    assert_eq!(found, vec!["Libro nuevo", "Libro que queda"], "exactly the rebuild's books");
    assert_eq!(index.version_of(&shop, &old[1].book_id).await.expect("version"), Some((2, false)));
    let purchases =
        index.search_purchases(&shop, &PurchaseSearch { limit: 10, ..Default::default() }).await.expect("purchases");
    assert_eq!(purchases.total, 1, "a books rebuild leaves purchases alone");
}

const PERMUTATION_RUNS: usize = 12;

/// Versions 1..=4 of three books, a delete of one, and duplicates of some, applied in
/// order, then shuffled into one tenant per run, in one batch or small ones: every run
/// ends in the same state.
async fn any_permutation_of_a_batch_with_duplicates_gives_the_same_index(index: &dyn SearchIndex) {
    let mut changes = Vec::new();
    for n in 0..3u128 {
        for version in 1..=4u64 {
            let mut d = doc(100 + n, &format!("Libro {n} edición {version}"), "Autor", "Ficción", (1000, 40, 2000, 1));
            d.version = version;
            changes.push(IndexChange::Upsert(d));
        }
    }
    changes.push(IndexChange::Delete { book_id: BookId::from_uuid(uuid::Uuid::from_u128(101)), version: 4 });
    changes.push(changes[2].clone());
    changes.push(changes[7].clone());
    let state = |shop: TenantId| async move {
        let mut versions = Vec::new();
        for n in 0..3u128 {
            let book = BookId::from_uuid(uuid::Uuid::from_u128(100 + n));
            versions.push(index.version_of(&shop, &book).await.expect("version"));
        }
        let mut found = titles(index, &shop, &request("libro", false)).await;
        found.sort();
        (versions, found)
    };
    let ordered = tenant("shop-perm");
    for change in &changes {
        index.apply(&ordered, vec![change.clone()]).await.expect("apply");
    }
    let reference = state(ordered).await;
    assert_eq!(reference.0, vec![Some((4, false)), Some((4, true)), Some((4, false))]);
    let mut rng = Lcg(7);
    for run in 0..PERMUTATION_RUNS {
        let mut shuffled = changes.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i + 1));
        }
        let shop = tenant(&format!("shop-perm-{run}"));
        let batch = 1 + rng.below(4);
        for chunk in shuffled.chunks(if rng.below(2) == 0 { shuffled.len() } else { batch }) {
            index.apply(&shop, chunk.to_vec()).await.expect("apply");
        }
        assert_eq!(state(shop).await, reference, "run {run}");
    }
}
