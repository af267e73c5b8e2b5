//! `sort`: the order of a search's hits, and the sort key each hit carries.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::{Value, json};
use tantivy::{DocId, Score, SegmentReader};

use crate::error::EsError;
use crate::index::EsIndex;
use crate::mapping::FieldKind;

#[derive(Debug, Clone)]
pub enum SortKind {
    Score,
    Doc,
    Column { name: String, kind: FieldKind },
}

#[derive(Debug, Clone)]
pub struct SortSpec {
    pub kind: SortKind,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Missing,
    Number(f64),
    Text(String),
}

impl SortValue {
    pub fn json(&self) -> Value {
        match self {
            SortValue::Missing => Value::Null,
            SortValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
            SortValue::Number(n) => json!(n),
            SortValue::Text(t) => json!(t),
        }
    }
}

/// A document's sort values, ordered so that the one to show first is the greatest.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub values: Vec<SortValue>,
    pub descending: Arc<[bool]>,
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        for ((a, b), descending) in self.values.iter().zip(&other.values).zip(self.descending.iter()) {
            let natural = match (a, b) {
                // Missing values go last whatever the direction.
                (SortValue::Missing, SortValue::Missing) => Ordering::Equal,
                (SortValue::Missing, _) => return Some(Ordering::Less),
                (_, SortValue::Missing) => return Some(Ordering::Greater),
                (SortValue::Number(x), SortValue::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
                (SortValue::Text(x), SortValue::Text(y)) => x.cmp(y),
                (SortValue::Number(_), SortValue::Text(_)) => Ordering::Less,
                (SortValue::Text(_), SortValue::Number(_)) => Ordering::Greater,
            };
            let ordering = if *descending { natural } else { natural.reverse() };
            if ordering != Ordering::Equal {
                return Some(ordering);
            }
        }
        Some(Ordering::Equal)
    }
}

pub fn parse_sort(index: &EsIndex, sort: Option<&Value>) -> Result<Vec<SortSpec>, EsError> {
    let entries: Vec<&Value> = match sort {
        None => return Ok(vec![SortSpec { kind: SortKind::Score, descending: true }]),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let mut out = Vec::new();
    for entry in entries {
        let (name, order) = match entry {
            Value::String(name) => match name.split_once(':') {
                Some((name, order)) => (name.to_owned(), Some(order.to_owned())),
                None => (name.clone(), None),
            },
            Value::Object(map) if map.len() == 1 => {
                let (name, spec) = map.iter().next().map(|(k, v)| (k.clone(), v)).unwrap_or_default();
                let order = match spec {
                    Value::String(order) => Some(order.clone()),
                    Value::Object(options) => options.get("order").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
                (name, order)
            }
            other => return Err(EsError::parsing(format!("malformed sort entry {other}"))),
        };
        let kind = match name.as_str() {
            "_score" => SortKind::Score,
            "_doc" => SortKind::Doc,
            path => {
                let mapping = index.mapping.field(path).ok_or_else(|| {
                    EsError::bad_request(
                        "query_shard_exception",
                        format!("No mapping found for [{path}] in order to sort on"),
                    )
                })?;
                if !mapping.kind.has_column() {
                    return Err(EsError::illegal_argument(format!(
                        "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                    )));
                }
                SortKind::Column { name: path.to_owned(), kind: mapping.kind.clone() }
            }
        };
        let descending = match order.as_deref() {
            Some("desc") => true,
            Some("asc") => false,
            None => matches!(kind, SortKind::Score),
            Some(other) => return Err(EsError::parsing(format!("[order] must be asc or desc, not [{other}]"))),
        };
        out.push(SortSpec { kind, descending });
    }
    Ok(out)
}

/// Reads one sort key's value of a document in a segment.
pub enum ColumnReader {
    Score,
    Doc,
    I64(Option<tantivy::columnar::Column<i64>>),
    F64(Option<tantivy::columnar::Column<f64>>),
    Bool(Option<tantivy::columnar::Column<bool>>),
    Str(Option<tantivy::columnar::StrColumn>),
}

impl ColumnReader {
    pub fn open(spec: &SortSpec, segment: &SegmentReader) -> Self {
        let fast = segment.fast_fields();
        match &spec.kind {
            SortKind::Score => ColumnReader::Score,
            SortKind::Doc => ColumnReader::Doc,
            SortKind::Column { name, kind } => match kind {
                FieldKind::Long | FieldKind::Date => ColumnReader::I64(fast.i64(name).ok()),
                FieldKind::Double => ColumnReader::F64(fast.f64(name).ok()),
                FieldKind::Boolean => ColumnReader::Bool(fast.bool(name).ok()),
                _ => ColumnReader::Str(fast.str(name).ok().flatten()),
            },
        }
    }

    pub fn read(&self, doc: DocId, score: Score) -> SortValue {
        match self {
            ColumnReader::Score => SortValue::Number(f64::from(score)),
            // Index order within a segment; segments interleave.
            ColumnReader::Doc => SortValue::Number(f64::from(doc)),
            ColumnReader::I64(column) => {
                column.as_ref().and_then(|c| c.first(doc)).map_or(SortValue::Missing, |v| SortValue::Number(v as f64))
            }
            ColumnReader::F64(column) => {
                column.as_ref().and_then(|c| c.first(doc)).map_or(SortValue::Missing, SortValue::Number)
            }
            ColumnReader::Bool(column) => column
                .as_ref()
                .and_then(|c| c.first(doc))
                .map_or(SortValue::Missing, |v| SortValue::Number(f64::from(u8::from(v)))),
            ColumnReader::Str(column) => {
                let Some(column) = column else { return SortValue::Missing };
                let Some(ord) = column.term_ords(doc).next() else { return SortValue::Missing };
                let mut text = String::new();
                match column.ord_to_str(ord, &mut text) {
                    Ok(true) => SortValue::Text(text),
                    _ => SortValue::Missing,
                }
            }
        }
    }
}
