//! A JSON document turned into a tantivy document by an index's mapping.

use serde_json::Value;
use tantivy::TantivyDocument;
use tantivy::schema::Schema;
use tantivy::tokenizer::TokenizerManager;

use crate::analysis::analyze;
use crate::error::EsError;
use crate::mapping::{FieldKind, Mapping, MetaFields, weight_field};

/// The values at a path of a document, arrays flattened, nulls dropped.
pub fn values_at<'a>(source: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut current = vec![source];
    for key in path {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => next.extend(map.get(key)),
                Value::Array(items) => {
                    next.extend(items.iter().filter_map(|item| item.as_object().and_then(|m| m.get(key))))
                }
                _ => {}
            }
        }
        current = next;
    }
    let mut out = Vec::new();
    for value in current {
        match value {
            Value::Array(items) => out.extend(items.iter().filter(|v| !v.is_null())),
            Value::Null => {}
            other => out.push(other),
        }
    }
    out
}

/// A date as epoch milliseconds: RFC 3339, a date, a date-time without zone (UTC), or a number.
pub fn parse_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(text) => {
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
                return Some(at.timestamp_millis());
            }
            if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
                return Some(at.and_utc().timestamp_millis());
            }
            if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                return day.and_hms_opt(0, 0, 0).map(|at| at.and_utc().timestamp_millis());
            }
            text.parse::<i64>().ok()
        }
        _ => None,
    }
}

pub fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)),
        Value::String(text) => {
            text.trim().parse::<i64>().ok().or_else(|| text.trim().parse::<f64>().ok().map(|f| f.trunc() as i64))
        }
        _ => None,
    }
}

pub fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(text) if text == "true" => Some(true),
        Value::String(text) if text == "false" => Some(false),
        _ => None,
    }
}

/// A scalar as the text a keyword or text field indexes.
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A completion field's inputs and weight.
pub fn completion_inputs(values: &[&Value]) -> Option<(Vec<String>, u64)> {
    let mut inputs = Vec::new();
    let mut weight = 0u64;
    for value in values {
        match value {
            Value::String(text) => inputs.push(text.clone()),
            Value::Object(map) => {
                match map.get("input")? {
                    Value::String(text) => inputs.push(text.clone()),
                    Value::Array(items) => {
                        for item in items {
                            inputs.push(item.as_str()?.to_owned());
                        }
                    }
                    _ => return None,
                }
                if let Some(w) = map.get("weight") {
                    weight = weight.max(as_i64(w).filter(|w| *w >= 0)? as u64);
                }
            }
            _ => return None,
        }
    }
    Some((inputs, weight))
}

/// A completion input as the suggester matches it: its tokens joined by single spaces.
pub fn completion_key(tokenizers: &TokenizerManager, analyzer: &str, input: &str) -> String {
    analyze(tokenizers, &crate::analysis::analyzer_name(analyzer), input).join(" ")
}

fn field_error(path: &str, kind: &FieldKind, id: &str, value: &Value) -> EsError {
    let preview: String = value.to_string().chars().take(40).collect();
    EsError::mapper_parsing(format!(
        "failed to parse field [{path}] of type [{}] in document with id '{id}'. Preview of field's value: '{preview}'",
        kind.name()
    ))
}

/// Refuses fields a strict mapping does not declare.
fn check_strict(mapping: &Mapping, source: &Value, prefix: &mut Vec<String>) -> Result<(), EsError> {
    let Value::Object(map) = source else { return Ok(()) };
    for (key, value) in map {
        prefix.push(key.clone());
        let declared = mapping.fields.values().any(|f| f.source_path == *prefix);
        let object =
            mapping.fields.values().any(|f| f.source_path.len() > prefix.len() && f.source_path.starts_with(prefix));
        if declared {
        } else if object {
            check_strict(mapping, value, prefix)?;
        } else {
            let parent = if prefix.len() > 1 { prefix[..prefix.len() - 1].join(".") } else { "_doc".to_owned() };
            return Err(EsError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "strict_dynamic_mapping_exception",
                format!("mapping set to strict, dynamic introduction of [{key}] within [{parent}] is not allowed"),
            ));
        }
        prefix.pop();
    }
    Ok(())
}

/// What an index stores of a live document.
pub struct Stored<'a> {
    pub id: &'a str,
    pub version: u64,
    pub seq_no: u64,
}

pub fn live_document(
    schema: &Schema,
    meta: MetaFields,
    mapping: &Mapping,
    tokenizers: &TokenizerManager,
    stored: Stored<'_>,
    source: &Value,
) -> Result<TantivyDocument, EsError> {
    if !source.is_object() {
        return Err(EsError::mapper_parsing("failed to parse, document is empty or not an object"));
    }
    if mapping.strict {
        check_strict(mapping, source, &mut Vec::new())?;
    }
    let mut doc = TantivyDocument::new();
    doc.add_text(meta.id, stored.id);
    doc.add_bytes(meta.source, serde_json::to_vec(source).map_err(EsError::internal)?.as_slice());
    doc.add_u64(meta.version, stored.version);
    doc.add_u64(meta.seq_no, stored.seq_no);
    doc.add_bool(meta.tombstone, false);
    for field in mapping.fields.values() {
        let values = values_at(source, &field.source_path);
        if values.is_empty() {
            continue;
        }
        let tantivy_field = schema.get_field(&field.path).map_err(EsError::internal)?;
        let bad = |value: &Value| field_error(&field.path, &field.kind, stored.id, value);
        match &field.kind {
            FieldKind::Completion { analyzer } => {
                let (inputs, weight) = completion_inputs(&values).ok_or_else(|| bad(values[0]))?;
                for input in &inputs {
                    doc.add_text(tantivy_field, completion_key(tokenizers, analyzer, input));
                }
                let weight_column = schema.get_field(&weight_field(&field.path)).map_err(EsError::internal)?;
                doc.add_u64(weight_column, weight);
            }
            kind => {
                for value in values {
                    match kind {
                        FieldKind::Text { .. } | FieldKind::Keyword { .. } => {
                            doc.add_text(tantivy_field, as_text(value).ok_or_else(|| bad(value))?)
                        }
                        FieldKind::Long => doc.add_i64(tantivy_field, as_i64(value).ok_or_else(|| bad(value))?),
                        FieldKind::Date => doc.add_i64(tantivy_field, parse_date(value).ok_or_else(|| bad(value))?),
                        FieldKind::Double => doc.add_f64(tantivy_field, as_f64(value).ok_or_else(|| bad(value))?),
                        FieldKind::Boolean => doc.add_bool(tantivy_field, as_bool(value).ok_or_else(|| bad(value))?),
                        FieldKind::Completion { .. } => {}
                    }
                }
            }
        }
        doc.add_text(meta.field_names, &field.path);
    }
    Ok(doc)
}

/// A deleted document's tombstone: its id and the version of the delete.
pub fn tombstone(meta: MetaFields, id: &str, version: u64, seq_no: u64) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(meta.id, id);
    doc.add_u64(meta.version, version);
    doc.add_u64(meta.seq_no, seq_no);
    doc.add_bool(meta.tombstone, true);
    doc
}
