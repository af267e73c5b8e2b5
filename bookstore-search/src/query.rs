//! Elasticsearch's query DSL (the subset SPEC §7 needs) as tantivy queries: `bool`,
//! `match`, `match_phrase`, `match_phrase_prefix`, `match_bool_prefix`, `multi_match`
//! (`best_fields`, `most_fields`, `cross_fields`, `phrase`, `phrase_prefix`,
//! `bool_prefix`), `prefix`, `term`, `terms`, `range`, `exists`, `ids`, `fuzzy`,
//! `constant_score`, `dis_max`, `match_all`, `match_none`. A query on a field the
//! mapping lacks matches nothing, as in Elasticsearch.

use std::ops::Bound;

use serde_json::{Map, Value};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, FuzzyTermQuery, Occur,
    PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::analysis::{analyze, analyzer_name, normalizer_name};
use crate::document::{as_bool, as_f64, as_i64, as_text, parse_date};
use crate::error::EsError;
use crate::index::EsIndex;
use crate::mapping::{FieldKind, FieldMapping};

type Boxed = Box<dyn Query>;

/// Turns a query object into a tantivy query over one index.
pub struct QueryBuilder<'a> {
    index: &'a EsIndex,
}

fn single_entry<'v>(value: &'v Value, what: &str) -> Result<(&'v String, &'v Value), EsError> {
    let map =
        value.as_object().ok_or_else(|| EsError::parsing(format!("[{what}] query malformed, no start_object")))?;
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some(entry), None) => Ok(entry),
        (None, _) => Err(EsError::parsing(format!("[{what}] query malformed, empty clause found"))),
        (Some(_), Some((second, _))) => Err(EsError::parsing(format!(
            "[{what}] query doesn't support multiple fields, found [{}] and [{second}]",
            map.keys().next().map(String::as_str).unwrap_or_default()
        ))),
    }
}

fn boost_of(map: &Map<String, Value>) -> f32 {
    map.get("boost").and_then(Value::as_f64).map_or(1.0, |b| b as f32)
}

fn boosted(query: Boxed, boost: f32) -> Boxed {
    if (boost - 1.0).abs() < f32::EPSILON { query } else { Box::new(BoostQuery::new(query, boost)) }
}

/// Elasticsearch's `fuzziness`: `AUTO` (`AUTO:3,6`), or 0, 1, 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fuzziness {
    None,
    Fixed(u8),
    Auto { low: usize, high: usize },
}

impl Fuzziness {
    pub fn parse(value: Option<&Value>) -> Result<Self, EsError> {
        let Some(value) = value else { return Ok(Fuzziness::None) };
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(EsError::parsing("[fuzziness] must be a number or AUTO")),
        };
        let upper = text.to_ascii_uppercase();
        if upper == "AUTO" {
            return Ok(Fuzziness::Auto { low: 3, high: 6 });
        }
        if let Some(bounds) = upper.strip_prefix("AUTO:") {
            let mut parts = bounds.split(',').map(|p| p.trim().parse::<usize>());
            if let (Some(Ok(low)), Some(Ok(high)), None) = (parts.next(), parts.next(), parts.next()) {
                return Ok(Fuzziness::Auto { low, high });
            }
        }
        match text.parse::<f64>() {
            Ok(0.0) => Ok(Fuzziness::None),
            Ok(n @ (1.0 | 2.0)) => Ok(Fuzziness::Fixed(n as u8)),
            _ => Err(EsError::parsing(format!("failed to parse [fuzziness] value [{text}]: use AUTO, 0, 1 or 2"))),
        }
    }

    pub fn distance(self, term: &str) -> u8 {
        let chars = term.chars().count();
        match self {
            Fuzziness::None => 0,
            Fuzziness::Fixed(n) => n,
            Fuzziness::Auto { low, high } => {
                if chars < low {
                    0
                } else if chars < high {
                    1
                } else {
                    2
                }
            }
        }
    }
}

/// How the terms of one analyzed text combine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Combine {
    Any,
    All,
}

fn operator(map: &Map<String, Value>) -> Result<Combine, EsError> {
    match map.get("operator").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        None | Some("or") => Ok(Combine::Any),
        Some("and") => Ok(Combine::All),
        Some(other) => Err(EsError::parsing(format!("[operator] must be `and` or `or`, not [{other}]"))),
    }
}

fn combine(mut queries: Vec<Boxed>, how: Combine, minimum: Option<usize>) -> Boxed {
    match queries.len() {
        0 => Box::new(EmptyQuery),
        1 if minimum.is_none_or(|m| m <= 1) => queries.remove(0),
        _ => {
            let occur = if how == Combine::All { Occur::Must } else { Occur::Should };
            let clauses = queries.into_iter().map(|q| (occur, q)).collect();
            match minimum {
                Some(m) if how == Combine::Any => Box::new(BooleanQuery::with_minimum_required_clauses(clauses, m)),
                _ => Box::new(BooleanQuery::new(clauses)),
            }
        }
    }
}

/// `minimum_should_match` against `clauses` optional clauses: `2`, `"2"`, `"-1"`, `"75%"`.
fn minimum_should_match(value: Option<&Value>, clauses: usize) -> Result<Option<usize>, EsError> {
    let Some(value) = value else { return Ok(None) };
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return Err(EsError::parsing("[minimum_should_match] must be a number or a percentage")),
    };
    let bad = || EsError::parsing(format!("[minimum_should_match] cannot read [{text}]"));
    let wanted = if let Some(percent) = text.strip_suffix('%') {
        let p: i64 = percent.parse().map_err(|_| bad())?;
        let n = (clauses as i64 * p.abs()) / 100;
        if p < 0 { clauses as i64 - n } else { n }
    } else {
        let n: i64 = text.parse().map_err(|_| bad())?;
        if n < 0 { clauses as i64 + n } else { n }
    };
    Ok(Some(wanted.clamp(0, clauses as i64) as usize))
}

fn clauses_of(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

/// A field named in a query, with an optional `^boost` (`title^3`).
fn field_and_boost(spec: &str) -> (&str, f32) {
    match spec.rsplit_once('^') {
        Some((name, boost)) => (name, boost.parse().unwrap_or(1.0)),
        None => (spec, 1.0),
    }
}

impl<'a> QueryBuilder<'a> {
    pub fn new(index: &'a EsIndex) -> Self {
        Self { index }
    }

    fn mapped(&self, path: &str) -> Option<(&'a FieldMapping, Field)> {
        let mapping = self.index.mapping.field(path)?;
        let field = self.index.index.schema().get_field(path).ok()?;
        Some((mapping, field))
    }

    fn search_tokens(&self, mapping: &FieldMapping, analyzer: Option<&str>, text: &str) -> Vec<String> {
        let tokenizers = self.index.index.tokenizers();
        match &mapping.kind {
            FieldKind::Text { search_analyzer, .. } => {
                analyze(tokenizers, &analyzer_name(analyzer.unwrap_or(search_analyzer)), text)
            }
            FieldKind::Keyword { normalizer } => {
                analyze(tokenizers, &normalizer_name(normalizer.as_deref()), text).into_iter().take(1).collect()
            }
            _ => vec![text.to_owned()],
        }
    }

    /// The term a field holds for a value (`term`, `terms`, ranges on keywords).
    fn exact_term(&self, mapping: &FieldMapping, field: Field, value: &Value) -> Result<Option<Term>, EsError> {
        let bad = || {
            EsError::bad_request(
                "query_shard_exception",
                format!(
                    "failed to create query: cannot parse [{value}] for field [{}] of type [{}]",
                    mapping.path,
                    mapping.kind.name()
                ),
            )
        };
        Ok(Some(match &mapping.kind {
            FieldKind::Text { .. } | FieldKind::Completion { .. } => {
                Term::from_field_text(field, &as_text(value).ok_or_else(bad)?)
            }
            FieldKind::Keyword { .. } => {
                let text = as_text(value).ok_or_else(bad)?;
                match self.search_tokens(mapping, None, &text).pop() {
                    Some(token) => Term::from_field_text(field, &token),
                    None => return Ok(None),
                }
            }
            FieldKind::Long => Term::from_field_i64(field, as_i64(value).ok_or_else(bad)?),
            FieldKind::Date => Term::from_field_i64(field, date_value(value).ok_or_else(bad)?),
            FieldKind::Double => Term::from_field_f64(field, as_f64(value).ok_or_else(bad)?),
            FieldKind::Boolean => Term::from_field_bool(field, as_bool(value).ok_or_else(bad)?),
        }))
    }

    pub fn build(&self, value: &Value) -> Result<Boxed, EsError> {
        let (kind, body) = single_entry(value, "query")?;
        match kind.as_str() {
            "match_all" => Ok(boosted(Box::new(AllQuery), body.as_object().map_or(1.0, boost_of))),
            "match_none" => Ok(Box::new(EmptyQuery)),
            "bool" => self.boolean(body),
            "match" => self.field_query(body, "match", |b, m, f, q| b.match_query(m, f, q)),
            "match_phrase" => self.field_query(body, "match_phrase", |b, m, f, q| b.phrase(m, f, q, false)),
            "match_phrase_prefix" => {
                self.field_query(body, "match_phrase_prefix", |b, m, f, q| b.phrase(m, f, q, true))
            }
            "match_bool_prefix" => self.field_query(body, "match_bool_prefix", |b, m, f, q| b.bool_prefix(m, f, q)),
            "multi_match" => self.multi_match(body),
            "term" => self.field_query(body, "term", |b, m, f, q| {
                let value = q.get("value").ok_or_else(|| EsError::parsing("[term] query needs a value"))?;
                Ok(b.exact_term(m, f, value)?.map_or_else(|| Box::new(EmptyQuery) as Boxed, |t| b.term_query(m, t)))
            }),
            "prefix" => self.field_query(body, "prefix", |b, m, f, q| {
                let value =
                    q.get("value").and_then(as_text).ok_or_else(|| EsError::parsing("[prefix] query needs a value"))?;
                let value = if q.get("case_insensitive").and_then(Value::as_bool) == Some(true) {
                    value.to_lowercase()
                } else {
                    value
                };
                let value = match &m.kind {
                    FieldKind::Keyword { .. } => b.search_tokens(m, None, &value).pop().unwrap_or_default(),
                    _ => value,
                };
                Ok(Box::new(FuzzyTermQuery::new_prefix(Term::from_field_text(f, &value), 0, true)))
            }),
            "fuzzy" => self.field_query(body, "fuzzy", |b, m, f, q| {
                let value =
                    q.get("value").and_then(as_text).ok_or_else(|| EsError::parsing("[fuzzy] query needs a value"))?;
                let fuzziness = match Fuzziness::parse(q.get("fuzziness"))? {
                    Fuzziness::None if q.get("fuzziness").is_none() => Fuzziness::Auto { low: 3, high: 6 },
                    other => other,
                };
                let term = Term::from_field_text(f, &value);
                Ok(b.fuzzy_or_term(m, term, &value, fuzziness))
            }),
            "terms" => self.terms(body),
            "range" => self.field_query(body, "range", |b, m, f, q| b.range(m, f, q)),
            "exists" => {
                let field = body
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| EsError::parsing("[exists] needs a [field]"))?;
                let term = Term::from_field_text(self.index.meta.field_names, field);
                Ok(Box::new(ConstScoreQuery::new(Box::new(TermQuery::new(term, IndexRecordOption::Basic)), 1.0)))
            }
            "ids" => {
                let values = body
                    .get("values")
                    .and_then(Value::as_array)
                    .ok_or_else(|| EsError::parsing("[ids] needs [values]"))?;
                let terms =
                    values.iter().filter_map(Value::as_str).map(|id| Term::from_field_text(self.index.meta.id, id));
                Ok(Box::new(ConstScoreQuery::new(Box::new(TermSetQuery::new(terms)), 1.0)))
            }
            "constant_score" => {
                let filter = body
                    .get("filter")
                    .ok_or_else(|| EsError::parsing("[constant_score] requires a 'filter' element"))?;
                let boost = body.as_object().map_or(1.0, boost_of);
                Ok(Box::new(ConstScoreQuery::new(self.build(filter)?, boost)))
            }
            "dis_max" => {
                let queries = body
                    .get("queries")
                    .and_then(Value::as_array)
                    .ok_or_else(|| EsError::parsing("[dis_max] requires 'queries'"))?;
                let tie = body.get("tie_breaker").and_then(Value::as_f64).unwrap_or(0.0) as f32;
                let built = queries.iter().map(|q| self.build(q)).collect::<Result<Vec<_>, _>>()?;
                Ok(boosted(
                    Box::new(DisjunctionMaxQuery::with_tie_breaker(built, tie)),
                    body.as_object().map_or(1.0, boost_of),
                ))
            }
            other => Err(EsError::parsing(format!("unknown query [{other}]"))),
        }
    }

    /// `{"kind": {"field": value}}` or `{"kind": {"field": {"query"|"value": …, …}}}`.
    fn field_query(
        &self,
        body: &Value,
        kind: &str,
        build: impl Fn(&Self, &FieldMapping, Field, &Map<String, Value>) -> Result<Boxed, EsError>,
    ) -> Result<Boxed, EsError> {
        let (path, spec) = single_entry(body, kind)?;
        let params = match spec {
            Value::Object(map) => map.clone(),
            scalar => {
                let key = if matches!(kind, "term" | "prefix" | "fuzzy") { "value" } else { "query" };
                Map::from_iter([(key.to_owned(), scalar.clone())])
            }
        };
        let Some((mapping, field)) = self.mapped(path) else { return Ok(Box::new(EmptyQuery)) };
        let query = build(self, mapping, field, &params)?;
        Ok(boosted(query, boost_of(&params)))
    }

    fn term_query(&self, mapping: &FieldMapping, term: Term) -> Boxed {
        let option = if matches!(mapping.kind, FieldKind::Text { .. }) {
            IndexRecordOption::WithFreqs
        } else {
            IndexRecordOption::Basic
        };
        let query = TermQuery::new(term, option);
        if matches!(mapping.kind, FieldKind::Text { .. }) {
            Box::new(query)
        } else {
            Box::new(ConstScoreQuery::new(Box::new(query), 1.0))
        }
    }

    fn fuzzy_or_term(&self, mapping: &FieldMapping, term: Term, text: &str, fuzziness: Fuzziness) -> Boxed {
        match fuzziness.distance(text) {
            0 => self.term_query(mapping, term),
            distance => Box::new(FuzzyTermQuery::new(term, distance, true)),
        }
    }

    fn query_text(params: &Map<String, Value>, kind: &str) -> Result<String, EsError> {
        params.get("query").and_then(as_text).ok_or_else(|| EsError::parsing(format!("[{kind}] requires a [query]")))
    }

    fn match_query(&self, mapping: &FieldMapping, field: Field, params: &Map<String, Value>) -> Result<Boxed, EsError> {
        let text = Self::query_text(params, "match")?;
        let fuzziness = Fuzziness::parse(params.get("fuzziness"))?;
        let tokens = self.search_tokens(mapping, params.get("analyzer").and_then(Value::as_str), &text);
        if !matches!(mapping.kind, FieldKind::Text { .. } | FieldKind::Keyword { .. }) {
            return Ok(self
                .exact_term(mapping, field, &Value::String(text))?
                .map_or_else(|| Box::new(EmptyQuery) as Boxed, |t| self.term_query(mapping, t)));
        }
        let queries: Vec<Boxed> = tokens
            .iter()
            .map(|token| self.fuzzy_or_term(mapping, Term::from_field_text(field, token), token, fuzziness))
            .collect();
        let minimum = minimum_should_match(params.get("minimum_should_match"), queries.len())?;
        Ok(combine(queries, operator(params)?, minimum))
    }

    fn phrase(
        &self,
        mapping: &FieldMapping,
        field: Field,
        params: &Map<String, Value>,
        prefix: bool,
    ) -> Result<Boxed, EsError> {
        let text = Self::query_text(params, "match_phrase")?;
        let tokens = self.search_tokens(mapping, params.get("analyzer").and_then(Value::as_str), &text);
        let terms: Vec<Term> = tokens.iter().map(|t| Term::from_field_text(field, t)).collect();
        Ok(match (terms.len(), prefix) {
            (0, _) => Box::new(EmptyQuery),
            (1, false) => self.term_query(mapping, terms[0].clone()),
            (1, true) => Box::new(FuzzyTermQuery::new_prefix(terms[0].clone(), 0, true)),
            (_, false) => Box::new(PhraseQuery::new(terms)),
            (_, true) => {
                let mut query = PhrasePrefixQuery::new(terms);
                query.set_max_expansions(params.get("max_expansions").and_then(Value::as_u64).unwrap_or(50) as u32);
                Box::new(query)
            }
        })
    }

    fn bool_prefix(&self, mapping: &FieldMapping, field: Field, params: &Map<String, Value>) -> Result<Boxed, EsError> {
        let text = Self::query_text(params, "match_bool_prefix")?;
        let fuzziness = Fuzziness::parse(params.get("fuzziness"))?;
        let tokens = self.search_tokens(mapping, params.get("analyzer").and_then(Value::as_str), &text);
        let last = tokens.len().saturating_sub(1);
        let queries: Vec<Boxed> = tokens
            .iter()
            .enumerate()
            .map(|(position, token)| {
                let term = Term::from_field_text(field, token);
                if position == last {
                    Box::new(FuzzyTermQuery::new_prefix(term, 0, true)) as Boxed
                } else {
                    self.fuzzy_or_term(mapping, term, token, fuzziness)
                }
            })
            .collect();
        let minimum = minimum_should_match(params.get("minimum_should_match"), queries.len())?;
        Ok(combine(queries, operator(params)?, minimum))
    }

    fn multi_match(&self, body: &Value) -> Result<Boxed, EsError> {
        let params = body.as_object().ok_or_else(|| EsError::parsing("[multi_match] malformed"))?;
        let text = Self::query_text(params, "multi_match")?;
        let kind = params.get("type").and_then(Value::as_str).unwrap_or("best_fields");
        let tie = params.get("tie_breaker").and_then(Value::as_f64).unwrap_or(0.0) as f32;
        let specs: Vec<String> = match params.get("fields") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => self
                .index
                .mapping
                .fields
                .values()
                .filter(|f| matches!(f.kind, FieldKind::Text { .. }))
                .map(|f| f.path.clone())
                .collect(),
        };
        if (kind == "phrase_prefix" || kind == "phrase") && params.contains_key("fuzziness") {
            return Err(EsError::parsing(format!("Fuzziness not allowed for type [{kind}]")));
        }
        let mut per_field: Vec<(Boxed, &FieldMapping, Field, f32)> = Vec::new();
        for spec in &specs {
            let (path, boost) = field_and_boost(spec);
            let Some((mapping, field)) = self.mapped(path) else { continue };
            let mut field_params = params.clone();
            field_params.remove("fields");
            field_params.remove("type");
            field_params.remove("tie_breaker");
            field_params.remove("boost");
            let query = match kind {
                "best_fields" | "most_fields" | "cross_fields" => self.match_query(mapping, field, &field_params)?,
                "phrase" => self.phrase(mapping, field, &field_params, false)?,
                "phrase_prefix" => self.phrase(mapping, field, &field_params, true)?,
                "bool_prefix" => self.bool_prefix(mapping, field, &field_params)?,
                other => return Err(EsError::parsing(format!("[multi_match] query does not support type [{other}]"))),
            };
            per_field.push((boosted(query, boost), mapping, field, boost));
        }
        let query: Boxed = match kind {
            "most_fields" => combine(per_field.into_iter().map(|(q, ..)| q).collect(), Combine::Any, None),
            "cross_fields" => self.cross_fields(&text, params, per_field, tie)?,
            _ => Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field.into_iter().map(|(q, ..)| q).collect(), tie)),
        };
        Ok(boosted(query, boost_of(params)))
    }

    /// Each term may match in any of the fields (the best one counts); the operator
    /// applies across terms. Fields analysed differently fall back to `most_fields`.
    fn cross_fields(
        &self,
        text: &str,
        params: &Map<String, Value>,
        per_field: Vec<(Boxed, &FieldMapping, Field, f32)>,
        tie: f32,
    ) -> Result<Boxed, EsError> {
        if params.contains_key("fuzziness") {
            return Err(EsError::parsing("Fuzziness not allowed for type [cross_fields]"));
        }
        let analyzers: Vec<Option<&String>> = per_field
            .iter()
            .map(|(_, m, ..)| match &m.kind {
                FieldKind::Text { search_analyzer, .. } => Some(search_analyzer),
                _ => None,
            })
            .collect();
        let shared = analyzers.first().copied().flatten().filter(|first| analyzers.iter().all(|a| *a == Some(*first)));
        let Some(_) = shared else {
            return Ok(combine(per_field.into_iter().map(|(q, ..)| q).collect(), Combine::Any, None));
        };
        let (_, first_mapping, _, _) = &per_field[0];
        let tokens = self.search_tokens(first_mapping, None, text);
        let per_term: Vec<Boxed> = tokens
            .iter()
            .map(|token| {
                let alternatives = per_field
                    .iter()
                    .map(|(_, mapping, field, boost)| {
                        boosted(self.term_query(mapping, Term::from_field_text(*field, token)), *boost)
                    })
                    .collect();
                Box::new(DisjunctionMaxQuery::with_tie_breaker(alternatives, tie)) as Boxed
            })
            .collect();
        let minimum = minimum_should_match(params.get("minimum_should_match"), per_term.len())?;
        Ok(combine(per_term, operator(params)?, minimum))
    }

    fn terms(&self, body: &Value) -> Result<Boxed, EsError> {
        let map = body.as_object().ok_or_else(|| EsError::parsing("[terms] query malformed"))?;
        let boost = boost_of(map);
        let mut entries = map.iter().filter(|(k, _)| k.as_str() != "boost");
        let Some((path, values)) = entries.next() else { return Err(EsError::parsing("[terms] query needs a field")) };
        let values =
            values.as_array().ok_or_else(|| EsError::parsing(format!("[terms] query for [{path}] needs an array")))?;
        let Some((mapping, field)) = self.mapped(path) else { return Ok(Box::new(EmptyQuery)) };
        let mut terms = Vec::new();
        for value in values {
            terms.extend(self.exact_term(mapping, field, value)?);
        }
        Ok(Box::new(ConstScoreQuery::new(Box::new(TermSetQuery::new(terms)), boost)))
    }

    fn range(&self, mapping: &FieldMapping, field: Field, params: &Map<String, Value>) -> Result<Boxed, EsError> {
        let mut lower = Bound::Unbounded;
        let mut upper = Bound::Unbounded;
        for (key, value) in params {
            let term = || -> Result<Term, EsError> {
                match &mapping.kind {
                    FieldKind::Date => date_value(value).map(|v| Term::from_field_i64(field, v)).ok_or_else(|| {
                        EsError::parsing(format!("failed to parse date field [{value}] of [{}]", mapping.path))
                    }),
                    _ => self.exact_term(mapping, field, value)?.ok_or_else(|| EsError::parsing("empty range bound")),
                }
            };
            match key.as_str() {
                "gte" | "from" => lower = Bound::Included(term()?),
                "gt" => lower = Bound::Excluded(term()?),
                "lte" | "to" => upper = Bound::Included(term()?),
                "lt" => upper = Bound::Excluded(term()?),
                "boost" | "format" | "time_zone" | "relation" | "include_lower" | "include_upper" => {}
                other => return Err(EsError::parsing(format!("[range] query does not support [{other}]"))),
            }
        }
        if matches!(mapping.kind, FieldKind::Text { .. } | FieldKind::Completion { .. }) {
            return Err(EsError::illegal_argument(format!(
                "[range] queries on [text] fields are not supported: [{}]",
                mapping.path
            )));
        }
        Ok(Box::new(ConstScoreQuery::new(Box::new(RangeQuery::new(lower, upper)), 1.0)))
    }

    fn boolean(&self, body: &Value) -> Result<Boxed, EsError> {
        let map = body.as_object().ok_or_else(|| EsError::parsing("[bool] query malformed"))?;
        if let Some(key) = map.keys().find(|k| {
            !matches!(
                k.as_str(),
                "must" | "filter" | "should" | "must_not" | "minimum_should_match" | "boost" | "_name"
            )
        }) {
            return Err(EsError::parsing(format!("[bool] query does not support [{key}]")));
        }
        let mut clauses: Vec<(Occur, Boxed)> = Vec::new();
        for q in clauses_of(map.get("must")) {
            clauses.push((Occur::Must, self.build(q)?));
        }
        for q in clauses_of(map.get("filter")) {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(self.build(q)?, 0.0))));
        }
        let required = clauses.len();
        let shoulds = clauses_of(map.get("should"));
        let should_count = shoulds.len();
        for q in shoulds {
            clauses.push((Occur::Should, self.build(q)?));
        }
        let mut must_nots = Vec::new();
        for q in clauses_of(map.get("must_not")) {
            must_nots.push((Occur::MustNot, self.build(q)?));
        }
        if clauses.is_empty() {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0))));
        }
        clauses.extend(must_nots);
        let minimum = match minimum_should_match(map.get("minimum_should_match"), should_count)? {
            Some(m) => m,
            None if required == 0 && should_count > 0 => 1,
            None => 0,
        };
        let query = if minimum > 1 || (minimum == 1 && required > 0) {
            BooleanQuery::with_minimum_required_clauses(clauses, minimum)
        } else {
            BooleanQuery::new(clauses)
        };
        Ok(boosted(Box::new(query), boost_of(map)))
    }
}

fn date_value(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) if text == "now" => Some(chrono::Utc::now().timestamp_millis()),
        other => parse_date(other),
    }
}
