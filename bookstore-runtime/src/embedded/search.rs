//! The `SearchIndex` port on tantivy: one index per tenant (a directory under the data
//! directory, or memory for tests), created on first use.
//!
//! Text fields are indexed twice: stemmed for Spanish (lower-cased, accent-folded,
//! Spanish stop words removed) for relevance, and only folded for fuzzy and prefix
//! matching. Deleted books stay as tombstones carrying their version, so a late,
//! older upsert cannot bring them back.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rust_decimal::prelude::ToPrimitive;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term, doc};

use super::search_order::{Matches, ordered_search};
use crate::domain::{BookId, Isbn, Money, Rating, TenantId};
use crate::search::{
    AuthorFacet, BookDocument, CategoryFacet, IndexChange, MAX_SUGGESTIONS, PurchaseDocument, PurchaseResults,
    PurchaseSearch, REBUILD_CHUNK, SearchError, SearchHit, SearchIndex, SearchRequest, SearchResults, Suggestion,
    SuggestionKind, fuzzy_distance, key_form,
};

const STEMMED: &str = "es_stemmed";
const FOLDED: &str = "es_folded";
/// Memory for one tenant's writer (tantivy's minimum is 15 MB).
const WRITER_BYTES: usize = 15_000_000;

pub(super) fn unavailable(err: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(err.to_string())
}

#[derive(Clone, Copy)]
struct Fields {
    book_id: Field,
    isbn: Field,
    deleted: Field,
    version: Field,
    title: Field,
    title_folded: Field,
    author: Field,
    author_folded: Field,
    description: Field,
    description_folded: Field,
    category: Field,
    category_key: Field,
    category_facet: Field,
    author_facet: Field,
    author_key: Field,
    /// The title folded to lower case, as a fast field: listings sort by it.
    title_key: Field,
    created_micros: Field,
    price_cents: Field,
    rating_tenths: Field,
    year: Field,
    stock: Field,
    sales: Field,
}

fn text(tokenizer: &str, stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(tokenizer)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored { options.set_stored() } else { options }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        book_id: builder.add_text_field("book_id", STRING | STORED | FAST),
        isbn: builder.add_text_field("isbn", STORED),
        deleted: builder.add_u64_field("deleted", INDEXED | STORED),
        version: builder.add_u64_field("version", STORED),
        title: builder.add_text_field("title", text(STEMMED, true)),
        title_folded: builder.add_text_field("title_folded", text(FOLDED, false)),
        author: builder.add_text_field("author", text(STEMMED, true)),
        author_folded: builder.add_text_field("author_folded", text(FOLDED, false)),
        description: builder.add_text_field("description", text(STEMMED, false)),
        description_folded: builder.add_text_field("description_folded", text(FOLDED, false)),
        category: builder.add_text_field("category", STORED),
        category_key: builder.add_text_field("category_key", STRING),
        category_facet: builder.add_facet_field("category_facet", FacetOptions::default()),
        author_facet: builder.add_facet_field("author_facet", FacetOptions::default()),
        author_key: builder.add_text_field("author_key", STRING),
        title_key: builder.add_text_field("title_key", STRING | FAST),
        created_micros: builder.add_i64_field("created_micros", FAST | STORED),
        price_cents: builder.add_u64_field("price_cents", INDEXED | FAST | STORED),
        rating_tenths: builder.add_u64_field("rating_tenths", INDEXED | FAST | STORED),
        year: builder.add_i64_field("year", INDEXED | FAST | STORED),
        stock: builder.add_u64_field("stock", INDEXED | FAST | STORED),
        sales: builder.add_u64_field("sales", FAST | STORED),
    };
    (builder.build(), fields)
}

fn register_analyzers(index: &Index) {
    let stemmed = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::new(Language::Spanish).unwrap_or_else(|| StopWordFilter::remove(Vec::new())))
        .filter(Stemmer::new(Language::Spanish))
        .build();
    let folded = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    index.tokenizers().register(STEMMED, stemmed);
    index.tokenizers().register(FOLDED, folded);
}

/// Runs text through one of the index's analyzers.
fn tokens(index: &Index, analyzer: &str, text: &str) -> Vec<String> {
    let Some(mut analyzer) = index.tokenizers().get(analyzer) else {
        return Vec::new();
    };
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

fn cents(money: Money) -> u64 {
    (money.amount() * rust_decimal::Decimal::from(100)).to_u64().unwrap_or(0)
}

fn tenths(rating: Rating) -> u64 {
    (rating.value() * rust_decimal::Decimal::from(10)).to_u64().unwrap_or(0)
}

/// Opens (or creates) an index in `directory`, or in memory, with our analyzers, its
/// single writer and a reader reloaded after each commit.
fn open_index(
    directory: Option<PathBuf>,
    schema: Schema,
) -> Result<(Index, Mutex<IndexWriter>, IndexReader), SearchError> {
    let index = match directory {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(unavailable)?;
            let mmap = tantivy::directory::MmapDirectory::open(&dir).map_err(unavailable)?;
            Index::open_or_create(mmap, schema).map_err(unavailable)?
        }
        None => Index::create_in_ram(schema),
    };
    register_analyzers(&index);
    let options = tantivy::indexer::IndexWriterOptions::builder()
        .memory_budget_per_thread(WRITER_BYTES)
        .num_worker_threads(1)
        .num_merge_threads(1)
        .build();
    let writer = index.writer_with_options(options).map_err(unavailable)?;
    let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(unavailable)?;
    Ok((index, Mutex::new(writer), reader))
}

fn clear_index(writer: &Mutex<IndexWriter>, reader: &IndexReader) -> Result<(), SearchError> {
    let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
    writer.delete_all_documents().map_err(unavailable)?;
    writer.commit().map_err(unavailable)?;
    reader.reload().map_err(unavailable)
}

/// One tenant's index, its writer (one at a time) and a reader.
struct TenantIndex {
    index: Index,
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
}

impl TenantIndex {
    fn open(directory: Option<PathBuf>) -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        let (index, writer, reader) = open_index(directory, schema)?;
        Ok(Self { index, fields, writer, reader })
    }

    fn stored_version(&self, searcher: &Searcher, book: &BookId) -> Result<Option<(u64, bool)>, SearchError> {
        let term = Term::from_field_text(self.fields.book_id, &book.to_string());
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).map_err(unavailable)?;
        let Some((_, address)) = found.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*address).map_err(unavailable)?;
        let version = doc.get_first(self.fields.version).and_then(|v| v.as_u64()).unwrap_or(0);
        let deleted = doc.get_first(self.fields.deleted).and_then(|v| v.as_u64()).unwrap_or(0) == 1;
        Ok(Some((version, deleted)))
    }

    fn document(&self, change: &IndexChange) -> TantivyDocument {
        let f = self.fields;
        match change {
            IndexChange::Upsert(book) => doc!(
                f.book_id => book.book_id.to_string(),
                f.isbn => book.isbn.to_string(),
                f.deleted => 0u64,
                f.version => book.version,
                f.title => book.title.clone(),
                f.title_folded => book.title.clone(),
                f.author => book.author.clone(),
                f.author_folded => book.author.clone(),
                f.description => book.description.clone(),
                f.description_folded => book.description.clone(),
                f.category => book.category.clone(),
                f.category_key => book.category.to_lowercase(),
                f.category_facet => Facet::from_path([book.category.as_str()]),
                f.author_facet => Facet::from_path([book.author.as_str()]),
                f.author_key => key_form(&book.author),
                f.title_key => book.title.to_lowercase(),
                f.created_micros => book.created_at.timestamp_micros(),
                f.price_cents => cents(book.price),
                f.rating_tenths => tenths(book.rating),
                f.year => i64::from(book.publication_year),
                f.stock => u64::from(book.stock_quantity),
                f.sales => book.sales_count,
            ),
            IndexChange::Delete { book_id, version } => doc!(
                f.book_id => book_id.to_string(),
                f.deleted => 1u64,
                f.version => *version,
            ),
        }
    }

    fn apply(&self, changes: Vec<IndexChange>) -> Result<(), SearchError> {
        // Within the batch, keep only each book's winning change.
        let mut winners: HashMap<BookId, IndexChange> = HashMap::new();
        for change in changes {
            match winners.get(&change.book_id()) {
                Some(kept) if kept.precedence() >= change.precedence() => {}
                _ => {
                    winners.insert(change.book_id(), change);
                }
            }
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let searcher = self.reader.searcher();
        let mut changed = false;
        for (book, change) in winners {
            let newer = match self.stored_version(&searcher, &book)? {
                None => true,
                Some((version, deleted)) => change.precedence() > (version, u8::from(deleted)),
            };
            if newer {
                writer.delete_term(Term::from_field_text(self.fields.book_id, &book.to_string()));
                writer.add_document(self.document(&change)).map_err(unavailable)?;
                changed = true;
            }
        }
        if changed {
            writer.commit().map_err(unavailable)?;
            self.reader.reload().map_err(unavailable)?;
        }
        Ok(())
    }

    /// Clauses that each word of the text adds: stemmed terms with field boosts, and
    /// (fuzzy) folded terms within the word's edit distance, and a prefix for the last.
    fn text_query(&self, text: &str, fuzzy: bool) -> Option<Box<dyn Query>> {
        let f = self.fields;
        let words = tokens(&self.index, FOLDED, text);
        let last = words.len().saturating_sub(1);
        let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (position, word) in words.iter().enumerate() {
            let stems = tokens(&self.index, STEMMED, word);
            let is_stop_word = stems.is_empty();
            if is_stop_word && words.len() > 1 && position != last {
                continue;
            }
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, folded_field, boost) in [
                (f.title, f.title_folded, 3.0),
                (f.author, f.author_folded, 2.0),
                (f.description, f.description_folded, 1.0),
            ] {
                for stem in &stems {
                    let term = TermQuery::new(Term::from_field_text(field, stem), IndexRecordOption::WithFreqs);
                    alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term), boost))));
                }
                let folded_term = Term::from_field_text(folded_field, word);
                let distance = fuzzy_distance(word.chars().count());
                if fuzzy && distance > 0 {
                    let query = FuzzyTermQuery::new(folded_term.clone(), distance, true);
                    alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(query), boost * 0.5))));
                }
                if position == last {
                    let query = FuzzyTermQuery::new_prefix(folded_term, 0, true);
                    alternatives.push((Occur::Should, Box::new(BoostQuery::new(Box::new(query), boost * 0.5))));
                }
            }
            per_word.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        (!per_word.is_empty()).then(|| Box::new(BooleanQuery::new(per_word)) as Box<dyn Query>)
    }

    fn filter_clauses(&self, request: &SearchRequest) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let filters = &request.filters;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(TermQuery::new(Term::from_field_u64(f.deleted, 0), IndexRecordOption::Basic)))];
        let u64_range = |field: Field, low: Option<u64>, high: Option<u64>| -> Box<dyn Query> {
            let bound =
                |v: Option<u64>| v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_u64(field, v)));
            Box::new(RangeQuery::new(bound(low), bound(high)))
        };
        if let Some(category) = &filters.category {
            let term = Term::from_field_text(f.category_key, &category.to_lowercase());
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        if let Some(author) = &filters.author {
            let term = Term::from_field_text(f.author_key, &key_form(author));
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        if filters.min_price.is_some() || filters.max_price.is_some() {
            clauses.push((
                Occur::Must,
                u64_range(f.price_cents, filters.min_price.map(cents), filters.max_price.map(cents)),
            ));
        }
        if let Some(rating) = filters.min_rating {
            clauses.push((Occur::Must, u64_range(f.rating_tenths, Some(tenths(rating)), None)));
        }
        match filters.in_stock {
            Some(true) => clauses.push((Occur::Must, u64_range(f.stock, Some(1), None))),
            Some(false) => clauses.push((Occur::Must, u64_range(f.stock, Some(0), Some(0)))),
            None => {}
        }
        if filters.min_year.is_some() || filters.max_year.is_some() {
            let bound = |v: Option<i32>| {
                v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.year, i64::from(v))))
            };
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(filters.min_year), bound(filters.max_year)))));
        }
        clauses
    }

    fn authors(&self) -> Result<Vec<AuthorFacet>, SearchError> {
        let searcher = self.reader.searcher();
        let live = TermQuery::new(Term::from_field_u64(self.fields.deleted, 0), IndexRecordOption::Basic);
        let mut collector = FacetCollector::for_field("author_facet");
        collector.add_facet(Facet::root());
        let counts = searcher.search(&live, &collector).map_err(unavailable)?;
        Ok(counts
            .get(Facet::root())
            .map(|(facet, count)| AuthorFacet {
                author: facet.to_path().last().map(|s| (*s).to_owned()).unwrap_or_default(),
                count,
            })
            .collect())
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let searcher = self.reader.searcher();
        let text = self.text_query(&request.text, request.fuzzy);
        let mut clauses = self.filter_clauses(request);
        let scored = text.is_some();
        clauses.push((Occur::Must, text.unwrap_or_else(|| Box::new(AllQuery))));
        let query = BooleanQuery::new(clauses);

        let Matches { page: found, total, facets: facet_counts } = ordered_search(&searcher, &query, request, scored)?;
        let snippets = scored.then(|| SnippetGenerator::create(&searcher, &query, self.fields.title).ok()).flatten();
        let mut hits = Vec::with_capacity(request.limit);
        for (score, address) in found {
            hits.push(self.hit(&searcher, address, score, snippets.as_ref())?);
        }
        let mut categories: Vec<CategoryFacet> = facet_counts
            .iter()
            .flat_map(|counts| counts.get(Facet::root()))
            .map(|(facet, count)| CategoryFacet {
                category: facet.to_path().last().map(|s| (*s).to_owned()).unwrap_or_default(),
                count,
            })
            .collect();
        categories.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
        Ok(SearchResults { total, hits, categories })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        score: f32,
        snippets: Option<&SnippetGenerator>,
    ) -> Result<SearchHit, SearchError> {
        let f = self.fields;
        let doc: TantivyDocument = searcher.doc(address).map_err(unavailable)?;
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let book_id = BookId::parse(&text(f.book_id)).map_err(unavailable)?;
        let highlight = snippets
            .map(|generator| generator.snippet_from_doc(&doc))
            .filter(|snippet| !snippet.highlighted().is_empty())
            .map(|snippet| snippet.to_html());
        Ok(SearchHit {
            book_id,
            isbn: doc.get_first(f.isbn).and_then(|v| v.as_str()).and_then(|raw| Isbn::parse(raw).ok()),
            title: text(f.title),
            author: text(f.author),
            category: text(f.category),
            price: Money::new(rust_decimal::Decimal::new(number(f.price_cents) as i64, 2)).unwrap_or_default(),
            rating: Rating::new(rust_decimal::Decimal::new(number(f.rating_tenths) as i64, 1)).unwrap_or_default(),
            publication_year: doc.get_first(f.year).and_then(|v| v.as_i64()).unwrap_or(0) as i32,
            stock_quantity: number(f.stock) as u32,
            score,
            highlight,
        })
    }

    /// Titles and authors whose words start with the typed words, the last one as a prefix.
    fn suggest(&self, prefix: &str) -> Result<Vec<Suggestion>, SearchError> {
        let f = self.fields;
        let words = tokens(&self.index, FOLDED, prefix);
        let Some((last, complete)) = words.split_last() else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let mut suggestions: Vec<(u64, u64, Suggestion)> = Vec::new();
        for (field, kind) in [(f.title_folded, SuggestionKind::Title), (f.author_folded, SuggestionKind::Author)] {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_u64(f.deleted, 0), IndexRecordOption::Basic)),
            )];
            for word in complete {
                let term = Term::from_field_text(field, word);
                clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
            }
            let prefix_term = FuzzyTermQuery::new_prefix(Term::from_field_text(field, last), 0, true);
            clauses.push((Occur::Must, Box::new(prefix_term)));
            let top = TopDocs::with_limit(MAX_SUGGESTIONS * 4).tweak_score(|segment: &tantivy::SegmentReader| {
                let sales = segment.fast_fields().u64("sales").ok();
                let ratings = segment.fast_fields().u64("rating_tenths").ok();
                move |doc: tantivy::DocId, _score: tantivy::Score| {
                    let read =
                        |c: &Option<tantivy::columnar::Column<u64>>| c.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                    (read(&sales), read(&ratings))
                }
            });
            for ((sales, rating), address) in searcher.search(&BooleanQuery::new(clauses), &top).map_err(unavailable)? {
                let doc: TantivyDocument = searcher.doc(address).map_err(unavailable)?;
                let shown = if kind == SuggestionKind::Title { f.title } else { f.author };
                let text = doc.get_first(shown).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let id = doc.get_first(f.book_id).and_then(|v| v.as_str()).unwrap_or_default();
                let book_id = BookId::parse(id).map_err(unavailable)?;
                suggestions.push((sales, rating, Suggestion { text, kind, book_id }));
            }
        }
        suggestions.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.text.cmp(&b.2.text)));
        let mut seen = std::collections::HashSet::new();
        Ok(suggestions
            .into_iter()
            .map(|(_, _, s)| s)
            .filter(|s| seen.insert(s.text.to_lowercase()))
            .take(MAX_SUGGESTIONS)
            .collect())
    }

    fn clear(&self) -> Result<(), SearchError> {
        clear_index(&self.writer, &self.reader)
    }
}

/// A tenant's two indexes.
struct TenantIndexes {
    books: TenantIndex,
    purchases: PurchaseIndex,
}

/// The embedded search engine: per-tenant tantivy indexes.
pub struct TantivySearch {
    /// `None`: every index lives in memory.
    root: Option<PathBuf>,
    tenants: Mutex<HashMap<TenantId, Arc<TenantIndexes>>>,
}

impl TantivySearch {
    /// Indexes under `root/<tenant>/`.
    pub fn open(root: impl Into<PathBuf>) -> Self {
        Self { root: Some(root.into()), tenants: Mutex::new(HashMap::new()) }
    }

    pub fn in_memory() -> Self {
        Self { root: None, tenants: Mutex::new(HashMap::new()) }
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Arc<TenantIndexes>, SearchError> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = tenants.get(tenant) {
            return Ok(Arc::clone(index));
        }
        let dir = |kind: &str| self.root.as_ref().map(|root| root.join(tenant.as_str()).join(kind));
        let indexes = Arc::new(TenantIndexes {
            // The schema of v2 (ISBN, sort keys) cannot open a v1 index: `bookstore reindex`
            // rebuilds one from the store.
            books: TenantIndex::open(dir("books-v3"))?,
            purchases: PurchaseIndex::open(dir("purchases"))?,
        });
        tenants.insert(tenant.clone(), Arc::clone(&indexes));
        Ok(indexes)
    }

    async fn with_tenant<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        work: impl FnOnce(&TenantIndexes) -> Result<T, SearchError> + Send + 'static,
    ) -> Result<T, SearchError> {
        let indexes = self.tenant(tenant)?;
        tokio::task::spawn_blocking(move || work(&indexes)).await.map_err(unavailable)?
    }
}

#[async_trait::async_trait]
impl SearchIndex for TantivySearch {
    async fn apply(&self, tenant: &TenantId, changes: Vec<IndexChange>) -> Result<(), SearchError> {
        self.with_tenant(tenant, move |index| index.books.apply(changes)).await
    }

    async fn search(&self, tenant: &TenantId, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let request = request.clone();
        self.with_tenant(tenant, move |index| index.books.search(&request)).await
    }

    async fn authors(&self, tenant: &TenantId) -> Result<Vec<AuthorFacet>, SearchError> {
        self.with_tenant(tenant, |index| index.books.authors()).await
    }

    async fn suggest(&self, tenant: &TenantId, prefix: &str) -> Result<Vec<Suggestion>, SearchError> {
        let prefix = prefix.to_owned();
        self.with_tenant(tenant, move |index| index.books.suggest(&prefix)).await
    }

    async fn version_of(&self, tenant: &TenantId, book: &BookId) -> Result<Option<(u64, bool)>, SearchError> {
        let book = *book;
        self.with_tenant(tenant, move |index| index.books.stored_version(&index.books.reader.searcher(), &book)).await
    }

    async fn clear(&self, tenant: &TenantId) -> Result<(), SearchError> {
        self.with_tenant(tenant, |index| {
            index.books.clear()?;
            index.purchases.clear()
        })
        .await
    }

    async fn replace_books(
        &self,
        tenant: &TenantId,
        changes: Vec<IndexChange>,
        indexed: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<(), SearchError> {
        self.with_tenant(tenant, |index| index.books.clear()).await?;
        for chunk in changes.chunks(REBUILD_CHUNK) {
            self.apply(tenant, chunk.to_vec()).await?;
            indexed(chunk.len());
        }
        Ok(())
    }

    async fn apply_purchases(&self, tenant: &TenantId, purchases: Vec<PurchaseDocument>) -> Result<(), SearchError> {
        self.with_tenant(tenant, move |index| index.purchases.apply(purchases)).await
    }

    async fn search_purchases(
        &self,
        tenant: &TenantId,
        request: &PurchaseSearch,
    ) -> Result<PurchaseResults, SearchError> {
        let request = request.clone();
        self.with_tenant(tenant, move |index| index.purchases.search(&request)).await
    }
}

/// A tenant's purchases: filters on user, status, time and amount; words of the titles.
struct PurchaseIndex {
    index: Index,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    purchase_id: Field,
    user_id: Field,
    status: Field,
    created_micros: Field,
    total_cents: Field,
    titles: Field,
    version: Field,
    document: Field,
}

impl PurchaseIndex {
    fn open(directory: Option<PathBuf>) -> Result<Self, SearchError> {
        let mut builder = Schema::builder();
        let purchase_id = builder.add_text_field("purchase_id", STRING | STORED);
        let user_id = builder.add_text_field("user_id", STRING);
        let status = builder.add_text_field("status", STRING);
        let created_micros = builder.add_i64_field("created_micros", INDEXED | FAST);
        let total_cents = builder.add_u64_field("total_cents", INDEXED | FAST);
        let titles = builder.add_text_field("titles", text(STEMMED, false));
        let version = builder.add_u64_field("version", STORED);
        let document = builder.add_text_field("document", STORED);
        let (index, writer, reader) = open_index(directory, builder.build())?;
        Ok(Self {
            index,
            writer,
            reader,
            purchase_id,
            user_id,
            status,
            created_micros,
            total_cents,
            titles,
            version,
            document,
        })
    }

    fn stored_version(&self, searcher: &Searcher, id: &str) -> Result<Option<u64>, SearchError> {
        let query = TermQuery::new(Term::from_field_text(self.purchase_id, id), IndexRecordOption::Basic);
        let found = searcher.search(&query, &TopDocs::with_limit(1).order_by_score()).map_err(unavailable)?;
        let Some((_, address)) = found.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*address).map_err(unavailable)?;
        Ok(doc.get_first(self.version).and_then(|v| v.as_u64()))
    }

    fn apply(&self, purchases: Vec<PurchaseDocument>) -> Result<(), SearchError> {
        let mut newest: HashMap<String, PurchaseDocument> = HashMap::new();
        for purchase in purchases {
            let id = purchase.purchase_id.to_string();
            if newest.get(&id).is_none_or(|kept| kept.version < purchase.version) {
                newest.insert(id, purchase);
            }
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let searcher = self.reader.searcher();
        let mut changed = false;
        for (id, purchase) in newest {
            if self.stored_version(&searcher, &id)?.is_some_and(|stored| stored >= purchase.version) {
                continue;
            }
            let status = serde_json::to_value(purchase.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let document = serde_json::to_string(&purchase).map_err(unavailable)?;
            writer.delete_term(Term::from_field_text(self.purchase_id, &id));
            writer
                .add_document(doc!(
                    self.purchase_id => id,
                    self.user_id => purchase.user_id.to_string(),
                    self.status => status,
                    self.created_micros => purchase.created_at.timestamp_micros(),
                    self.total_cents => cents(purchase.total_amount),
                    self.titles => purchase.titles.join(" · "),
                    self.version => purchase.version,
                    self.document => document,
                ))
                .map_err(unavailable)?;
            changed = true;
        }
        if changed {
            writer.commit().map_err(unavailable)?;
            self.reader.reload().map_err(unavailable)?;
        }
        Ok(())
    }

    fn search(&self, request: &PurchaseSearch) -> Result<PurchaseResults, SearchError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
        let term = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
        };
        if let Some(user) = request.user {
            clauses.push((Occur::Must, term(self.user_id, &user.to_string())));
        }
        if let Some(status) = request.status {
            let status =
                serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            clauses.push((Occur::Must, term(self.status, &status)));
        }
        if request.from.is_some() || request.to.is_some() {
            let bound = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map_or(Bound::Unbounded, |at| {
                    Bound::Included(Term::from_field_i64(self.created_micros, at.timestamp_micros()))
                })
            };
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(request.from), bound(request.to)))));
        }
        if request.min_total.is_some() || request.max_total.is_some() {
            let bound = |m: Option<Money>| {
                m.map_or(Bound::Unbounded, |m| Bound::Included(Term::from_field_u64(self.total_cents, cents(m))))
            };
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(request.min_total), bound(request.max_total)))));
        }
        for word in tokens(&self.index, STEMMED, &request.text) {
            let query = TermQuery::new(Term::from_field_text(self.titles, &word), IndexRecordOption::Basic);
            clauses.push((Occur::Must, Box::new(query)));
        }
        let searcher = self.reader.searcher();
        let wanted = request.offset.saturating_add(request.limit).max(1);
        let newest_first =
            TopDocs::with_limit(wanted).order_by_fast_field::<i64>("created_micros", tantivy::Order::Desc);
        let (found, total) =
            searcher.search(&BooleanQuery::new(clauses), &(newest_first, Count)).map_err(unavailable)?;
        let mut hits = Vec::new();
        for (_, address) in found.into_iter().skip(request.offset) {
            let doc: TantivyDocument = searcher.doc(address).map_err(unavailable)?;
            let json = doc.get_first(self.document).and_then(|v| v.as_str()).unwrap_or_default();
            hits.push(serde_json::from_str(json).map_err(unavailable)?);
        }
        Ok(PurchaseResults { total, hits })
    }

    fn clear(&self) -> Result<(), SearchError> {
        clear_index(&self.writer, &self.reader)
    }
}

impl From<&BookDocument> for IndexChange {
    fn from(doc: &BookDocument) -> Self {
        IndexChange::Upsert(doc.clone())
    }
}
