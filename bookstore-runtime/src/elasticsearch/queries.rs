//! The port's requests as Elasticsearch request bodies, and their answers read back.

use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::domain::{BookId, Money, Rating};
use crate::search::{
    AuthorFacet, BookDocument, CategoryFacet, IndexChange, MAX_SUGGESTIONS, PurchaseDocument, PurchaseResults,
    PurchaseSearch, SearchError, SearchHit, SearchOrder, SearchRequest, SearchResults, Suggestion, SuggestionKind,
    key_form,
};

/// Categories a search page counts at most.
const MAX_CATEGORIES: usize = 1_000;
/// Authors an author listing counts at most.
const MAX_AUTHORS: usize = 10_000;
/// Word suffixes of a title or author offered to the completion suggester, so a prefix
/// of any word (`garc` → "Gabriel García Márquez") completes.
const MAX_SUGGEST_INPUTS: usize = 12;

fn cents(money: Money) -> i64 {
    (money.amount() * rust_decimal::Decimal::from(100)).to_i64().unwrap_or(0)
}

fn tenths(rating: Rating) -> i64 {
    (rating.value() * rust_decimal::Decimal::from(10)).to_i64().unwrap_or(0)
}

fn unreadable(what: &str, err: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(format!("unreadable {what} from the search endpoint: {err}"))
}

/// "Cien años de soledad" → ["Cien años de soledad", "años de soledad", "de soledad", "soledad"].
fn word_suffixes(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    (0..words.len()).take(MAX_SUGGEST_INPUTS).map(|start| words[start..].join(" ")).collect()
}

/// What the books index holds for a change: the document with its keys, or a tombstone.
pub fn book_source(change: &IndexChange) -> Value {
    match change {
        IndexChange::Upsert(book) => {
            let weight = book.sales_count.min(i32::MAX as u64);
            let mut source = serde_json::to_value(book).unwrap_or_else(|_| json!({}));
            source["deleted"] = json!(false);
            source["title_key"] = json!(book.title.to_lowercase());
            source["author_key"] = json!(key_form(&book.author));
            source["category_key"] = json!(book.category.to_lowercase());
            source["price_cents"] = json!(cents(book.price));
            source["rating_tenths"] = json!(tenths(book.rating));
            source["created_micros"] = json!(book.created_at.timestamp_micros());
            source["title_suggest"] = json!({ "input": word_suffixes(&book.title), "weight": weight });
            source["author_suggest"] = json!({ "input": word_suffixes(&book.author), "weight": weight });
            source
        }
        IndexChange::Delete { book_id, version } => json!({ "book_id": book_id, "deleted": true, "version": version }),
    }
}

fn folded_fields() -> Value {
    json!(["title.folded^1.5", "author.folded", "description.folded^0.5"])
}

/// Every word must match: stemmed across title (×3), author (×2) and description (a word
/// found in several fields counts in each: `tie_breaker` 1, as the embedded engine
/// scores); or folded with the last word as a prefix; or (fuzzy) each word of three or
/// more letters within AUTO edits in any folded field (shorter words, mostly stop words,
/// only add to the score), so a typo'd title word beside an author's name still matches.
fn text_query(text: &str, fuzzy: bool) -> Value {
    let mut should = vec![
        json!({ "multi_match": { "query": text, "type": "cross_fields", "operator": "and", "tie_breaker": 1.0,
                                  "fields": ["title^3", "author^2", "description"] } }),
        json!({ "multi_match": { "query": text, "type": "bool_prefix", "operator": "and", "fields": folded_fields() } }),
    ];
    if fuzzy {
        let word = |word: &str| json!({ "multi_match": { "query": word, "type": "best_fields", "fuzziness": "AUTO", "fields": folded_fields() } });
        let (long, short): (Vec<&str>, Vec<&str>) = text.split_whitespace().partition(|w| w.chars().count() >= 3);
        if !long.is_empty() {
            let must: Vec<Value> = long.into_iter().map(word).collect();
            let optional: Vec<Value> = short.into_iter().map(word).collect();
            should.push(json!({ "bool": { "must": must, "should": optional } }));
        }
    }
    json!({ "bool": { "should": should, "minimum_should_match": 1 } })
}

/// A `range` filter with inclusive bounds, or none when both are open.
fn inclusive_range(field: &str, low: Option<i64>, high: Option<i64>) -> Option<Value> {
    let mut bounds = serde_json::Map::new();
    if let Some(low) = low {
        bounds.insert("gte".into(), json!(low));
    }
    if let Some(high) = high {
        bounds.insert("lte".into(), json!(high));
    }
    (!bounds.is_empty()).then(|| json!({ "range": { field: bounds } }))
}

fn filters(request: &SearchRequest) -> Vec<Value> {
    let f = &request.filters;
    let mut out = vec![json!({ "term": { "deleted": false } })];
    if let Some(category) = &f.category {
        out.push(json!({ "term": { "category_key": category.to_lowercase() } }));
    }
    if let Some(author) = &f.author {
        out.push(json!({ "term": { "author_key": key_form(author) } }));
    }
    let mut range = |field: &str, low, high| out.extend(inclusive_range(field, low, high));
    range("price_cents", f.min_price.map(cents), f.max_price.map(cents));
    range("rating_tenths", f.min_rating.map(tenths), None);
    range("publication_year", f.min_year.map(i64::from), f.max_year.map(i64::from));
    match f.in_stock {
        Some(true) => range("stock_quantity", Some(1), None),
        Some(false) => range("stock_quantity", Some(0), Some(0)),
        None => {}
    }
    out
}

/// The request's order, with ties broken as the port says (title by id, numbers by arrival).
fn sort(request: &SearchRequest, scored: bool) -> Value {
    let arrival = json!({ "created_micros": "asc" });
    let id = json!({ "book_id": "asc" });
    match request.order {
        SearchOrder::Relevance if scored => json!(["_score", { "rating_tenths": "desc" }, arrival, id]),
        SearchOrder::Relevance | SearchOrder::Rating => json!([{ "rating_tenths": "desc" }, arrival, id]),
        SearchOrder::Title => json!([{ "title_key": "asc" }, id]),
        SearchOrder::PriceAsc => json!([{ "price_cents": "asc" }, arrival, id]),
        SearchOrder::PriceDesc => json!([{ "price_cents": "desc" }, arrival, id]),
        SearchOrder::Newest => json!([{ "created_micros": "desc" }, id]),
        SearchOrder::Year => json!([{ "publication_year": "desc" }, arrival, id]),
    }
}

pub fn book_search(request: &SearchRequest) -> Value {
    let scored = !request.text.trim().is_empty();
    let mut query = json!({ "bool": { "filter": filters(request) } });
    if scored {
        query["bool"]["must"] = json!([text_query(request.text.trim(), request.fuzzy)]);
    }
    let mut body = json!({
        "query": query,
        "from": request.offset,
        "size": request.limit,
        "track_total_hits": true,
        "sort": sort(request, scored),
    });
    if scored {
        body["highlight"] =
            json!({ "pre_tags": ["<b>"], "post_tags": ["</b>"], "fields": { "title": { "number_of_fragments": 0 } } });
    }
    if request.facets {
        body["aggs"] = json!({ "categories": { "terms": { "field": "category", "size": MAX_CATEGORIES } } });
    }
    body
}

fn total_of(answer: &Value) -> usize {
    answer.pointer("/hits/total/value").and_then(Value::as_u64).unwrap_or(0) as usize
}

fn hits_of(answer: &Value) -> &[Value] {
    answer.pointer("/hits/hits").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn buckets(answer: &Value, name: &str) -> Vec<(String, u64)> {
    answer
        .pointer(&format!("/aggregations/{name}/buckets"))
        .and_then(Value::as_array)
        .map(|buckets| {
            buckets
                .iter()
                .filter_map(|b| Some((b.get("key")?.as_str()?.to_owned(), b.get("doc_count")?.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn book_results(answer: &Value, request: &SearchRequest) -> Result<SearchResults, SearchError> {
    let mut hits = Vec::new();
    for hit in hits_of(answer) {
        let book: BookDocument = serde_json::from_value(hit["_source"].clone()).map_err(|e| unreadable("book", e))?;
        hits.push(SearchHit {
            book_id: book.book_id,
            isbn: Some(book.isbn),
            title: book.title,
            author: book.author,
            category: book.category,
            price: book.price,
            rating: book.rating,
            publication_year: book.publication_year,
            stock_quantity: book.stock_quantity,
            score: hit.get("_score").and_then(Value::as_f64).unwrap_or(0.0) as f32,
            highlight: hit.pointer("/highlight/title/0").and_then(Value::as_str).map(str::to_owned),
        });
    }
    let mut categories: Vec<CategoryFacet> = if request.facets {
        buckets(answer, "categories").into_iter().map(|(category, count)| CategoryFacet { category, count }).collect()
    } else {
        Vec::new()
    };
    categories.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
    Ok(SearchResults { total: total_of(answer), hits, categories })
}

pub fn authors() -> Value {
    json!({
        "size": 0,
        "query": { "bool": { "filter": [{ "term": { "deleted": false } }] } },
        "aggs": { "authors": { "terms": { "field": "author.keyword", "size": MAX_AUTHORS } } }
    })
}

pub fn author_facets(answer: &Value) -> Vec<AuthorFacet> {
    let mut authors: Vec<AuthorFacet> =
        buckets(answer, "authors").into_iter().map(|(author, count)| AuthorFacet { author, count }).collect();
    authors.sort_by(|a, b| a.author.cmp(&b.author));
    authors
}

pub fn suggestions(prefix: &str) -> Value {
    let completion = |field: &str| json!({ "prefix": prefix, "completion": { "field": field, "size": MAX_SUGGESTIONS * 4, "skip_duplicates": true } });
    json!({
        "size": 0,
        "_source": ["book_id", "title", "author", "sales_count", "rating_tenths"],
        "suggest": { "titles": completion("title_suggest"), "authors": completion("author_suggest") }
    })
}

/// Titles and authors, best sellers first (then best rated, then alphabetical), each text once.
pub fn suggestion_list(answer: &Value) -> Result<Vec<Suggestion>, SearchError> {
    let mut found: Vec<(u64, u64, Suggestion)> = Vec::new();
    for (name, kind, field) in
        [("titles", SuggestionKind::Title, "title"), ("authors", SuggestionKind::Author, "author")]
    {
        let options = answer.pointer(&format!("/suggest/{name}/0/options")).and_then(Value::as_array);
        for option in options.into_iter().flatten() {
            let source = &option["_source"];
            let Some(text) = source.get(field).and_then(Value::as_str) else { continue };
            let book_id: BookId =
                serde_json::from_value(source["book_id"].clone()).map_err(|e| unreadable("suggestion", e))?;
            let sales = source.get("sales_count").and_then(Value::as_u64).unwrap_or(0);
            let rating = source.get("rating_tenths").and_then(Value::as_u64).unwrap_or(0);
            found.push((sales, rating, Suggestion { text: text.to_owned(), kind, book_id }));
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.text.cmp(&b.2.text)));
    let mut seen = std::collections::HashSet::new();
    Ok(found
        .into_iter()
        .map(|(_, _, s)| s)
        .filter(|s| seen.insert(s.text.to_lowercase()))
        .take(MAX_SUGGESTIONS)
        .collect())
}

pub fn purchase_source(purchase: &PurchaseDocument) -> Value {
    let mut source = serde_json::to_value(purchase).unwrap_or_else(|_| json!({}));
    source["total_cents"] = json!(cents(purchase.total_amount));
    source["created_micros"] = json!(purchase.created_at.timestamp_micros());
    source
}

pub fn purchase_search(request: &PurchaseSearch) -> Value {
    let mut filter = Vec::new();
    if let Some(user) = request.user {
        filter.push(json!({ "term": { "user_id": user.to_string() } }));
    }
    if let Some(status) = request.status {
        filter.push(json!({ "term": { "status": serde_json::to_value(status).unwrap_or(Value::Null) } }));
    }
    let mut range = |field: &str, low, high| filter.extend(inclusive_range(field, low, high));
    range("created_micros", request.from.map(|at| at.timestamp_micros()), request.to.map(|at| at.timestamp_micros()));
    range("total_cents", request.min_total.map(cents), request.max_total.map(cents));
    let mut query = json!({ "bool": { "filter": filter } });
    if !request.text.trim().is_empty() {
        query["bool"]["must"] = json!([{ "match": { "titles": { "query": request.text, "operator": "and" } } }]);
    }
    json!({
        "query": query,
        "from": request.offset,
        "size": request.limit,
        "track_total_hits": true,
        "sort": [{ "created_micros": "desc" }, { "purchase_id": "asc" }]
    })
}

pub fn purchase_results(answer: &Value) -> Result<PurchaseResults, SearchError> {
    let hits = hits_of(answer)
        .iter()
        .map(|hit| serde_json::from_value(hit["_source"].clone()).map_err(|e| unreadable("purchase", e)))
        .collect::<Result<Vec<PurchaseDocument>, _>>()?;
    Ok(PurchaseResults { total: total_of(answer), hits })
}
