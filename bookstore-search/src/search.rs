//! `_search` and `_count`: the query, a page in the requested order, `_source`
//! filtering, highlights, aggregations (tantivy's, which read Elasticsearch's JSON) and
//! completion suggestions.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentReader, TantivyDocument, Term};

use crate::document::{completion_inputs, completion_key, values_at};
use crate::error::EsError;
use crate::index::{EsIndex, source_of};
use crate::mapping::{FieldKind, weight_field};
use crate::query::QueryBuilder;
use crate::sort::{ColumnReader, SortKey, SortKind, SortSpec, SortValue, parse_sort};

/// Elasticsearch's `index.max_result_window`.
const MAX_RESULT_WINDOW: usize = 10_000;
const SEARCH_KEYS: &[&str] = &[
    "query",
    "from",
    "size",
    "sort",
    "_source",
    "highlight",
    "aggs",
    "aggregations",
    "suggest",
    "track_total_hits",
    "track_scores",
    "version",
    "seq_no_primary_term",
    "timeout",
    "min_score",
    "explain",
    "stored_fields",
    "profile",
];

fn integer(body: &Map<String, Value>, key: &str, default: usize) -> Result<usize, EsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .map(|n| n as usize)
            .ok_or_else(|| EsError::parsing(format!("[{key}] must be a non-negative integer, got {value}"))),
    }
}

/// `_source`: `false`, `true`, a pattern, a list of patterns, or `{includes, excludes}`.
#[derive(Debug, Clone, Default)]
struct SourceFilter {
    disabled: bool,
    includes: Vec<String>,
    excludes: Vec<String>,
}

fn patterns(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl SourceFilter {
    fn parse(value: Option<&Value>) -> Result<Self, EsError> {
        Ok(match value {
            None | Some(Value::Bool(true)) => SourceFilter::default(),
            Some(Value::Bool(false)) => SourceFilter { disabled: true, ..Default::default() },
            Some(Value::Object(map)) => SourceFilter {
                disabled: false,
                includes: patterns(map.get("includes").or_else(|| map.get("include"))),
                excludes: patterns(map.get("excludes").or_else(|| map.get("exclude"))),
            },
            Some(other @ (Value::String(_) | Value::Array(_))) => {
                SourceFilter { disabled: false, includes: patterns(Some(other)), excludes: Vec::new() }
            }
            Some(other) => return Err(EsError::parsing(format!("[_source] cannot be {other}"))),
        })
    }

    fn apply(&self, source: Value) -> Option<Value> {
        if self.disabled {
            return None;
        }
        if self.includes.is_empty() && self.excludes.is_empty() {
            return Some(source);
        }
        Some(self.filter(source, ""))
    }

    fn filter(&self, value: Value, prefix: &str) -> Value {
        let Value::Object(map) = value else { return value };
        let mut out = Map::new();
        for (key, inner) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            if self.excludes.iter().any(|p| glob(p, &path)) {
                continue;
            }
            let included = self.includes.is_empty() || self.includes.iter().any(|p| glob(p, &path));
            let leads_to = self.includes.iter().any(|p| p.starts_with(&format!("{path}.")) || p.starts_with('*'));
            if included {
                out.insert(key, if self.excludes.is_empty() { inner } else { self.filter(inner, &path) });
            } else if leads_to && inner.is_object() {
                let kept = self.filter(inner, &path);
                if kept.as_object().is_some_and(|m| !m.is_empty()) {
                    out.insert(key, kept);
                }
            }
        }
        Value::Object(out)
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else { return text.is_empty() };
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = parts.collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i == pieces.len() - 1 {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

struct Highlight {
    field: String,
    generator: SnippetGenerator,
    source_path: Vec<String>,
    pre: String,
    post: String,
}

fn tags(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(|v| v.as_array().and_then(|a| a.first()).or(Some(v)))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn highlighters(
    index: &EsIndex,
    searcher: &tantivy::Searcher,
    query: &dyn Query,
    spec: &Value,
) -> Result<Vec<Highlight>, EsError> {
    let spec = spec.as_object().ok_or_else(|| EsError::parsing("[highlight] must be an object"))?;
    let pre = tags(spec, "pre_tags").unwrap_or_else(|| "<em>".to_owned());
    let post = tags(spec, "post_tags").unwrap_or_else(|| "</em>".to_owned());
    let fields: Vec<(String, Map<String, Value>)> = match spec.get("fields") {
        Some(Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default())).collect()
        }
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default())))
            .collect(),
        _ => return Err(EsError::parsing("[highlight] requires [fields]")),
    };
    let mut out = Vec::new();
    for (path, options) in fields {
        let Some(mapping) = index.mapping.field(&path) else { continue };
        if !matches!(mapping.kind, FieldKind::Text { .. }) {
            continue;
        }
        let field = index.index.schema().get_field(&path).map_err(EsError::internal)?;
        let mut generator = SnippetGenerator::create(searcher, query, field)?;
        let fragments =
            options.get("number_of_fragments").or_else(|| spec.get("number_of_fragments")).and_then(Value::as_u64);
        let size =
            options.get("fragment_size").or_else(|| spec.get("fragment_size")).and_then(Value::as_u64).unwrap_or(100);
        generator.set_max_num_chars(if fragments == Some(0) { usize::MAX / 2 } else { size as usize });
        out.push(Highlight {
            field: path,
            generator,
            source_path: mapping.source_path.clone(),
            pre: tags(&options, "pre_tags").unwrap_or_else(|| pre.clone()),
            post: tags(&options, "post_tags").unwrap_or_else(|| post.clone()),
        });
    }
    Ok(out)
}

fn highlight_hit(highlights: &[Highlight], source: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for h in highlights {
        let mut fragments = Vec::new();
        for value in values_at(source, &h.source_path) {
            let Some(text) = value.as_str() else { continue };
            let snippet = h.generator.snippet(text);
            if snippet.highlighted().is_empty() {
                continue;
            }
            let fragment = snippet.fragment();
            let mut marked = String::with_capacity(fragment.len() + 16);
            let mut at = 0;
            for range in snippet.highlighted() {
                marked.push_str(&fragment[at..range.start]);
                marked.push_str(&h.pre);
                marked.push_str(&fragment[range.clone()]);
                marked.push_str(&h.post);
                at = range.end;
            }
            marked.push_str(&fragment[at..]);
            fragments.push(Value::String(marked));
        }
        if !fragments.is_empty() {
            out.insert(h.field.clone(), Value::Array(fragments));
        }
    }
    out
}

/// Checks every `field` an aggregation names can be aggregated (has a column).
fn check_aggregation_fields(index: &EsIndex, aggs: &Value) -> Result<(), EsError> {
    let Value::Object(map) = aggs else { return Ok(()) };
    for (_, agg) in map {
        let Value::Object(agg) = agg else { continue };
        for (kind, body) in agg {
            if kind == "aggs" || kind == "aggregations" {
                check_aggregation_fields(index, body)?;
                continue;
            }
            if let Some(field) = body.get("field").and_then(Value::as_str) {
                match index.mapping.field(field) {
                    Some(mapping) if !mapping.kind.has_column() => {
                        return Err(EsError::illegal_argument(format!(
                            "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                        )));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The live documents matching `query`.
fn live(index: &EsIndex, query: Box<dyn Query>) -> BooleanQuery {
    let live = TermQuery::new(Term::from_field_bool(index.meta.tombstone, false), IndexRecordOption::Basic);
    BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(live), 0.0)))])
}

fn user_query(index: &EsIndex, body: &Map<String, Value>) -> Result<Box<dyn Query>, EsError> {
    match body.get("query") {
        Some(query) => QueryBuilder::new(index).build(query),
        None => Ok(Box::new(tantivy::query::AllQuery)),
    }
}

pub fn count(index: &EsIndex, body: &Value) -> Result<Value, EsError> {
    let empty = Map::new();
    let body = body.as_object().unwrap_or(&empty);
    if let Some(key) = body.keys().find(|k| k.as_str() != "query") {
        return Err(EsError::parsing(format!("request does not support [{key}]")));
    }
    let query = live(index, user_query(index, body)?);
    let count = index.searcher().search(&query, &Count)?;
    Ok(json!({ "count": count, "_shards": { "total": 1, "successful": 1, "skipped": 0, "failed": 0 } }))
}

pub fn search(index: &EsIndex, body: &Value, started: std::time::Instant) -> Result<Value, EsError> {
    let empty = Map::new();
    let body = body.as_object().unwrap_or(&empty);
    if let Some(key) = body.keys().find(|k| !SEARCH_KEYS.contains(&k.as_str())) {
        return Err(EsError::parsing(format!("Unknown key for a START_OBJECT in [{key}].")));
    }
    let from = integer(body, "from", 0)?;
    let size = integer(body, "size", 10)?;
    if from + size > MAX_RESULT_WINDOW {
        return Err(EsError::illegal_argument(format!(
            "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}].",
            from + size
        )));
    }
    let sort = parse_sort(index, body.get("sort"))?;
    let source_filter = SourceFilter::parse(body.get("_source"))?;
    let searcher = index.searcher();
    let scored_query = user_query(index, body)?;
    let query = live(index, scored_query.box_clone());
    let by_score = sort.len() == 1 && matches!(sort[0].kind, SortKind::Score) && sort[0].descending;
    let shows_score =
        sort.iter().any(|s| matches!(s.kind, SortKind::Score)) || body.get("track_scores") == Some(&Value::Bool(true));

    let (total, page): (usize, Vec<(Option<SortKey>, Score, DocAddress)>) = if size == 0 {
        (searcher.search(&query, &Count)?, Vec::new())
    } else if by_score {
        let top = TopDocs::with_limit(size).and_offset(from).order_by_score();
        let (total, found) = searcher.search(&query, &(Count, top))?;
        (total, found.into_iter().map(|(score, address)| (None, score, address)).collect())
    } else {
        let specs: Arc<[SortSpec]> = sort.clone().into();
        let descending: Arc<[bool]> = sort.iter().map(|s| s.descending).collect();
        let top = TopDocs::with_limit(size).and_offset(from).tweak_score(move |segment: &SegmentReader| {
            let readers: Vec<ColumnReader> = specs.iter().map(|s| ColumnReader::open(s, segment)).collect();
            let descending = descending.clone();
            move |doc: DocId, score: Score| SortKey {
                values: readers.iter().map(|r| r.read(doc, score)).collect(),
                descending: descending.clone(),
            }
        });
        let (total, found) = searcher.search(&query, &(Count, top))?;
        let page = found
            .into_iter()
            .map(|(key, address)| {
                let score =
                    sort.iter().position(|s| matches!(s.kind, SortKind::Score)).and_then(|i| match &key.values[i] {
                        SortValue::Number(n) => Some(*n as f32),
                        _ => None,
                    });
                (Some(key), score.unwrap_or(f32::NAN), address)
            })
            .collect();
        (total, page)
    };

    let highlights = match body.get("highlight") {
        Some(spec) => highlighters(index, &searcher, scored_query.as_ref(), spec)?,
        None => Vec::new(),
    };
    let with_version = body.get("version") == Some(&Value::Bool(true));
    let mut hits = Vec::with_capacity(page.len());
    let mut max_score: Option<f32> = None;
    for (key, score, address) in page {
        let doc: TantivyDocument = searcher.doc(address)?;
        let source = source_of(&doc, index.meta);
        let id = doc
            .get_first(index.meta.id)
            .and_then(|v| tantivy::schema::Value::as_str(&v))
            .unwrap_or_default()
            .to_owned();
        let mut hit = json!({ "_index": index.name, "_id": id });
        if shows_score && score.is_finite() {
            hit["_score"] = json!(score);
            max_score = Some(max_score.map_or(score, |m| m.max(score)));
        } else {
            hit["_score"] = Value::Null;
        }
        if with_version {
            hit["_version"] =
                json!(doc.get_first(index.meta.version).and_then(|v| tantivy::schema::Value::as_u64(&v)).unwrap_or(0));
        }
        if !highlights.is_empty() {
            let marked = highlight_hit(&highlights, &source);
            if !marked.is_empty() {
                hit["highlight"] = Value::Object(marked);
            }
        }
        if let Some(source) = source_filter.apply(source) {
            hit["_source"] = source;
        }
        if let Some(key) = key {
            hit["sort"] = Value::Array(key.values.iter().map(SortValue::json).collect());
        }
        hits.push(hit);
    }
    let mut hits_object = json!({ "max_score": max_score, "hits": hits });
    if body.get("track_total_hits") != Some(&Value::Bool(false)) {
        hits_object["total"] = json!({ "value": total, "relation": "eq" });
    }
    let mut response = json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "_shards": { "total": 1, "successful": 1, "skipped": 0, "failed": 0 },
        "hits": hits_object,
    });
    if let Some(aggs) = body.get("aggs").or_else(|| body.get("aggregations")) {
        check_aggregation_fields(index, aggs)?;
        let request: Aggregations = serde_json::from_value(aggs.clone())
            .map_err(|err| EsError::parsing(format!("cannot read [aggs]: {err}")))?;
        let collector = AggregationCollector::from_aggs(request, AggContextParams::default());
        let results = searcher.search(&query, &collector).map_err(|err| EsError::illegal_argument(err.to_string()))?;
        response["aggregations"] = serde_json::to_value(results).map_err(EsError::internal)?;
    }
    if let Some(suggest) = body.get("suggest") {
        response["suggest"] = suggestions(index, &searcher, suggest, &source_filter)?;
    }
    Ok(response)
}

fn suggestions(
    index: &EsIndex,
    searcher: &tantivy::Searcher,
    spec: &Value,
    source_filter: &SourceFilter,
) -> Result<Value, EsError> {
    let spec = spec.as_object().ok_or_else(|| EsError::parsing("[suggest] must be an object"))?;
    let global_text = spec.get("text").and_then(Value::as_str);
    let mut out = Map::new();
    for (name, suggester) in spec {
        if name == "text" {
            continue;
        }
        let suggester =
            suggester.as_object().ok_or_else(|| EsError::parsing(format!("suggester [{name}] must be an object")))?;
        let prefix = suggester
            .get("prefix")
            .or_else(|| suggester.get("text"))
            .and_then(Value::as_str)
            .or(global_text)
            .ok_or_else(|| EsError::illegal_argument(format!("suggester [{name}] needs a [prefix] or [text]")))?;
        let Some(completion) = suggester.get("completion").and_then(Value::as_object) else {
            return Err(EsError::illegal_argument(format!(
                "suggester [{name}]: only the [completion] suggester is supported"
            )));
        };
        if completion.contains_key("fuzzy") || completion.contains_key("regex") || completion.contains_key("contexts") {
            return Err(EsError::illegal_argument(format!(
                "suggester [{name}]: fuzzy, regex and contexts are not supported"
            )));
        }
        let field_name = completion
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| EsError::illegal_argument("[completion] needs a [field]"))?;
        let size = completion.get("size").and_then(Value::as_u64).unwrap_or(5) as usize;
        let skip_duplicates = completion.get("skip_duplicates").and_then(Value::as_bool).unwrap_or(false);
        let options = complete(index, searcher, field_name, prefix, size, skip_duplicates, source_filter)?;
        out.insert(
            name.clone(),
            json!([{ "text": prefix, "offset": 0, "length": prefix.chars().count(), "options": options }]),
        );
    }
    Ok(Value::Object(out))
}

fn complete(
    index: &EsIndex,
    searcher: &tantivy::Searcher,
    field_name: &str,
    prefix: &str,
    size: usize,
    skip_duplicates: bool,
    source_filter: &SourceFilter,
) -> Result<Vec<Value>, EsError> {
    let mapping = index
        .mapping
        .field(field_name)
        .ok_or_else(|| EsError::illegal_argument(format!("no mapping found for field [{field_name}]")))?;
    let FieldKind::Completion { analyzer } = &mapping.kind else {
        return Err(EsError::illegal_argument(format!("Field [{field_name}] is not a completion suggest field")));
    };
    let key = completion_key(index.index.tokenizers(), analyzer, prefix);
    let field = index.index.schema().get_field(field_name).map_err(EsError::internal)?;
    let mut candidates: Vec<(u64, DocAddress)> = Vec::new();
    for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
        let inverted = segment.inverted_index(field)?;
        let weights = segment.fast_fields().u64(&weight_field(field_name)).ok();
        let mut upper = key.clone().into_bytes();
        upper.push(0xff);
        let mut stream = inverted.terms().range().ge(key.as_bytes()).lt(&upper).into_stream()?;
        let mut seen = std::collections::HashSet::new();
        while stream.advance() {
            let mut postings = inverted.read_postings_from_terminfo(stream.value(), IndexRecordOption::Basic)?;
            let mut doc = postings.doc();
            while doc != tantivy::TERMINATED {
                if !segment.is_deleted(doc) && seen.insert(doc) {
                    let weight = weights.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                    candidates.push((weight, DocAddress::new(segment_ord as u32, doc)));
                }
                doc = postings.advance();
            }
        }
    }
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut options = Vec::new();
    let mut texts = std::collections::HashSet::new();
    for (weight, address) in candidates {
        if options.len() >= size {
            break;
        }
        let doc: TantivyDocument = searcher.doc(address)?;
        let source = source_of(&doc, index.meta);
        let inputs = completion_inputs(&values_at(&source, &mapping.source_path)).map(|(i, _)| i).unwrap_or_default();
        let text = inputs
            .into_iter()
            .find(|input| completion_key(index.index.tokenizers(), analyzer, input).starts_with(&key))
            .unwrap_or_default();
        if skip_duplicates && !texts.insert(text.clone()) {
            continue;
        }
        let id = doc
            .get_first(index.meta.id)
            .and_then(|v| tantivy::schema::Value::as_str(&v))
            .unwrap_or_default()
            .to_owned();
        let mut option = json!({ "text": text, "_index": index.name, "_id": id, "_score": weight as f64 });
        if let Some(source) = source_filter.apply(source) {
            option["_source"] = source;
        }
        options.push(option);
    }
    Ok(options)
}
