//! An index's mappings: which fields a document's JSON holds, their types, and the
//! tantivy schema they become. Field names are the Elasticsearch paths (`title`,
//! `title.keyword`); the node's own fields start with `_`, which mappings may not use.
//!
//! Types: `text` (`analyzer`, `search_analyzer`, `fields`), `keyword` (`normalizer`),
//! `long`/`integer`/`short`/`byte`, `double`/`float`/`half_float`/`scaled_float`, `date`
//! (ISO 8601 or epoch milliseconds), `boolean`, `completion` (`analyzer`), and `object`
//! (`properties`). Unmapped fields stay in `_source` but are not indexed (as with
//! `"dynamic": false`); `"dynamic": "strict"` refuses them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, NumericOptions, STORED, STRING, Schema, SchemaBuilder, TextFieldIndexing,
    TextOptions,
};

use crate::analysis::{Analysis, analyzer_name, normalizer_name};
use crate::error::EsError;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text { analyzer: String, search_analyzer: String },
    Keyword { normalizer: Option<String> },
    Long,
    Double,
    Date,
    Boolean,
    Completion { analyzer: String },
}

impl FieldKind {
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Keyword { .. } => "keyword",
            FieldKind::Long => "long",
            FieldKind::Double => "double",
            FieldKind::Date => "date",
            FieldKind::Boolean => "boolean",
            FieldKind::Completion { .. } => "completion",
        }
    }

    /// Whether sorts and aggregations can read the field (a column per document).
    pub fn has_column(&self) -> bool {
        !matches!(self, FieldKind::Text { .. } | FieldKind::Completion { .. })
    }
}

/// One indexed field.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    /// The field's name in queries (`title.keyword`).
    pub path: String,
    /// Where its values sit in a document (`title` for `title.keyword`).
    pub source_path: Vec<String>,
    pub kind: FieldKind,
}

/// The node's own fields of every document.
#[derive(Debug, Clone, Copy)]
pub struct MetaFields {
    pub id: Field,
    pub source: Field,
    pub version: Field,
    pub seq_no: Field,
    /// A deleted document's version stays as a tombstone, so external versions keep
    /// ordering writes after the delete (Elasticsearch forgets them after `gc_deletes`).
    pub tombstone: Field,
    /// The paths a document has values for (`exists`).
    pub field_names: Field,
}

/// An index's parsed mappings.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub fields: BTreeMap<String, FieldMapping>,
    pub strict: bool,
    /// The mappings as given, served by `_mapping`.
    pub declared: Value,
}

const SUPPORTED_PARAMETERS: &[&str] = &[
    "type",
    "analyzer",
    "search_analyzer",
    "normalizer",
    "fields",
    "index",
    "doc_values",
    "store",
    "format",
    "scaling_factor",
    "ignore_above",
    "null_value",
    "coerce",
    "boost",
    "norms",
    "preserve_separators",
    "preserve_position_increments",
    "max_input_length",
];

impl Mapping {
    pub fn parse(mappings: Option<&Value>, analysis: &Analysis) -> Result<Self, EsError> {
        let empty = json!({});
        let mappings = mappings.unwrap_or(&empty);
        let root = mappings.as_object().ok_or_else(|| EsError::mapper_parsing("[mappings] must be an object"))?;
        if let Some(key) = root.keys().find(|k| !matches!(k.as_str(), "properties" | "dynamic" | "_source")) {
            return Err(EsError::mapper_parsing(format!(
                "Root mapping definition has unsupported parameters:  [{key}]"
            )));
        }
        let strict = root.get("dynamic").is_some_and(|d| d == "strict");
        let mut fields = BTreeMap::new();
        if let Some(properties) = root.get("properties") {
            parse_properties(properties, &[], analysis, &mut fields)?;
        }
        Ok(Mapping { fields, strict, declared: mappings.clone() })
    }

    pub fn field(&self, path: &str) -> Option<&FieldMapping> {
        self.fields.get(path)
    }

    /// The tantivy schema these fields become.
    pub fn schema(&self) -> Schema {
        let mut builder = Schema::builder();
        add_meta_fields(&mut builder);
        for mapping in self.fields.values() {
            let name = mapping.path.as_str();
            let numeric = NumericOptions::default().set_indexed().set_fast();
            match &mapping.kind {
                FieldKind::Text { analyzer, .. } => {
                    let indexing = TextFieldIndexing::default()
                        .set_tokenizer(&analyzer_name(analyzer))
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
                    builder.add_text_field(name, TextOptions::default().set_indexing_options(indexing));
                }
                FieldKind::Keyword { normalizer } => {
                    let normalizer = normalizer_name(normalizer.as_deref());
                    let indexing = TextFieldIndexing::default()
                        .set_tokenizer(&normalizer)
                        .set_index_option(IndexRecordOption::Basic);
                    let options = TextOptions::default().set_indexing_options(indexing).set_fast(&normalizer);
                    builder.add_text_field(name, options);
                }
                FieldKind::Long | FieldKind::Date => {
                    builder.add_i64_field(name, numeric);
                }
                FieldKind::Double => {
                    builder.add_f64_field(name, numeric);
                }
                FieldKind::Boolean => {
                    builder.add_bool_field(name, numeric);
                }
                FieldKind::Completion { .. } => {
                    let indexing = TextFieldIndexing::default()
                        .set_tokenizer(&normalizer_name(None))
                        .set_index_option(IndexRecordOption::Basic);
                    builder.add_text_field(name, TextOptions::default().set_indexing_options(indexing));
                    builder.add_u64_field(&weight_field(name), NumericOptions::default().set_fast());
                }
            }
        }
        builder.build()
    }
}

/// The column holding a completion field's weight.
pub fn weight_field(path: &str) -> String {
    format!("{path}#weight")
}

fn add_meta_fields(builder: &mut SchemaBuilder) {
    builder.add_text_field("_id", STRING | STORED | tantivy::schema::FAST);
    builder.add_bytes_field("_source", STORED);
    builder.add_u64_field("_version", NumericOptions::default().set_stored().set_fast());
    builder.add_u64_field("_seq_no", NumericOptions::default().set_stored().set_fast());
    builder.add_bool_field("_tombstone", INDEXED | STORED);
    builder.add_text_field("_field_names", STRING);
}

impl MetaFields {
    pub fn of(schema: &Schema) -> Result<Self, EsError> {
        let field = |name: &str| schema.get_field(name).map_err(EsError::internal);
        Ok(MetaFields {
            id: field("_id")?,
            source: field("_source")?,
            version: field("_version")?,
            seq_no: field("_seq_no")?,
            tombstone: field("_tombstone")?,
            field_names: field("_field_names")?,
        })
    }
}

fn parse_properties(
    properties: &Value,
    parent: &[String],
    analysis: &Analysis,
    out: &mut BTreeMap<String, FieldMapping>,
) -> Result<(), EsError> {
    let properties = properties.as_object().ok_or_else(|| EsError::mapper_parsing("[properties] must be an object"))?;
    for (name, definition) in properties {
        if name.starts_with('_') || name.is_empty() || name.contains('#') {
            return Err(EsError::mapper_parsing(format!(
                "Field [{name}] is a metadata field name or is not allowed: names may not start with `_` or hold `#`"
            )));
        }
        let mut path = parent.to_vec();
        path.extend(name.split('.').map(str::to_owned));
        let definition = definition
            .as_object()
            .ok_or_else(|| EsError::mapper_parsing(format!("Expected map for property [{name}]")))?;
        let kind = definition.get("type").and_then(Value::as_str).unwrap_or("object");
        if kind == "object" {
            if let Some(inner) = definition.get("properties") {
                parse_properties(inner, &path, analysis, out)?;
            }
            continue;
        }
        let mapping = parse_field(&path.join("."), path.clone(), kind, definition, analysis)?;
        out.insert(mapping.path.clone(), mapping);
        if let Some(fields) = definition.get("fields") {
            let fields = fields.as_object().ok_or_else(|| EsError::mapper_parsing("[fields] must be an object"))?;
            for (sub_name, sub_definition) in fields {
                let sub_definition = sub_definition
                    .as_object()
                    .ok_or_else(|| EsError::mapper_parsing(format!("Expected map for property [{sub_name}]")))?;
                let sub_kind = sub_definition.get("type").and_then(Value::as_str).unwrap_or("object");
                if sub_definition.contains_key("fields") {
                    return Err(EsError::mapper_parsing(format!(
                        "multi-field [{sub_name}] may not have fields of its own"
                    )));
                }
                let sub_path = format!("{}.{sub_name}", path.join("."));
                let sub = parse_field(&sub_path, path.clone(), sub_kind, sub_definition, analysis)?;
                out.insert(sub_path, sub);
            }
        }
    }
    Ok(())
}

fn parse_field(
    path: &str,
    source_path: Vec<String>,
    kind: &str,
    definition: &Map<String, Value>,
    analysis: &Analysis,
) -> Result<FieldMapping, EsError> {
    if let Some(key) = definition.keys().find(|k| !SUPPORTED_PARAMETERS.contains(&k.as_str())) {
        return Err(EsError::mapper_parsing(format!("unknown parameter [{key}] on mapper [{path}] of type [{kind}]")));
    }
    let analyzer_of = |key: &str, default: &str| -> Result<String, EsError> {
        let name = definition.get(key).and_then(Value::as_str).unwrap_or(default).to_owned();
        if analysis.has_analyzer(&name) {
            Ok(name)
        } else {
            Err(EsError::mapper_parsing(format!(
                "Failed to parse mapping: analyzer [{name}] has not been configured in mappings"
            )))
        }
    };
    let kind = match kind {
        "text" => {
            let analyzer = analyzer_of("analyzer", "standard")?;
            let search_analyzer = analyzer_of("search_analyzer", &analyzer)?;
            FieldKind::Text { analyzer, search_analyzer }
        }
        "keyword" => {
            let normalizer = definition.get("normalizer").and_then(Value::as_str).map(str::to_owned);
            if let Some(name) = &normalizer
                && !analysis.has_normalizer(name)
            {
                return Err(EsError::mapper_parsing(format!("normalizer [{name}] not found for field [{path}]")));
            }
            FieldKind::Keyword { normalizer }
        }
        "long" | "integer" | "short" | "byte" | "unsigned_long" => FieldKind::Long,
        "double" | "float" | "half_float" | "scaled_float" => FieldKind::Double,
        "date" => FieldKind::Date,
        "boolean" => FieldKind::Boolean,
        "completion" => FieldKind::Completion { analyzer: analyzer_of("analyzer", "simple")? },
        other => {
            return Err(EsError::mapper_parsing(format!("No handler for type [{other}] declared on field [{path}]")));
        }
    };
    Ok(FieldMapping { path: path.to_owned(), source_path, kind })
}
