//! The indices a tenant has on Elasticsearch: their names (the tenant first), and the
//! settings and mappings they are created with — seed 001's (`spanish_custom`, the title's
//! `keyword` and `suggest` sub-fields, numeric fields) plus what the port needs: folded
//! sub-fields for fuzzy and prefix matching, exact keys for filters and sorts, and weighted
//! completion fields for titles and authors.

use serde_json::{Value, json};

use crate::domain::TenantId;

/// One of a tenant's indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexKind {
    Books,
    Purchases,
}

impl IndexKind {
    fn suffix(self) -> &'static str {
        match self {
            IndexKind::Books => "books",
            IndexKind::Purchases => "purchases",
        }
    }

    /// The alias reads and writes go through: `{tenant}-books`.
    pub fn alias(self, tenant: &TenantId) -> String {
        format!("{}-{}", tenant.as_str(), self.suffix())
    }

    /// A concrete index behind the alias: `{tenant}-books-{generation}`; a rebuild fills
    /// the next generation, then swaps the alias.
    pub fn generation(self, tenant: &TenantId, generation: u32) -> String {
        format!("{}-{}-{generation}", tenant.as_str(), self.suffix())
    }

    /// A new index's settings and mappings, and for the first generation the alias (a
    /// rebuild's generation gets it only when complete).
    pub fn body(self, tenant: &TenantId, generation: u32) -> Value {
        let mut body = match self {
            IndexKind::Books => books_index(),
            IndexKind::Purchases => purchases_index(),
        };
        if generation == 1 {
            body["aliases"] = json!({ self.alias(tenant): {} });
        }
        body
    }
}

/// Seed 001's analyzer, and a folding one for typo-tolerant and prefix matching.
fn analysis() -> Value {
    json!({
        "analyzer": {
            "spanish_custom": { "type": "spanish", "stopwords": ["el", "la", "de", "que", "y", "a"] },
            "folded": { "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"] }
        }
    })
}

fn spanish_text(sub_fields: Value) -> Value {
    let mut field = json!({ "type": "text", "analyzer": "spanish_custom" });
    let mut fields = json!({ "folded": { "type": "text", "analyzer": "folded" } });
    if let (Some(extra), Some(all)) = (sub_fields.as_object(), fields.as_object_mut()) {
        all.extend(extra.clone());
    }
    field["fields"] = fields;
    field
}

fn books_index() -> Value {
    let keyword = json!({ "type": "keyword" });
    let long = json!({ "type": "long" });
    let suggest = json!({ "type": "completion", "analyzer": "folded" });
    json!({
        "settings": { "number_of_shards": 1, "analysis": analysis() },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "book_id": keyword, "isbn": keyword, "deleted": { "type": "boolean" }, "version": long,
                "title": spanish_text(json!({ "keyword": { "type": "keyword" }, "suggest": { "type": "completion" } })),
                "author": spanish_text(json!({ "keyword": { "type": "keyword" } })),
                "description": spanish_text(json!({})),
                "category": keyword,
                "price": { "type": "double" }, "rating": { "type": "double" },
                "publication_year": { "type": "integer" },
                "stock_quantity": { "type": "integer" }, "sales_count": long,
                "created_at": { "type": "date" },
                "title_key": keyword, "author_key": keyword, "category_key": keyword,
                "price_cents": long, "rating_tenths": long, "created_micros": long,
                "title_suggest": suggest, "author_suggest": suggest
            }
        }
    })
}

fn purchases_index() -> Value {
    let keyword = json!({ "type": "keyword" });
    let long = json!({ "type": "long" });
    json!({
        "settings": { "number_of_shards": 1, "analysis": analysis() },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "purchase_id": keyword, "user_id": keyword, "status": keyword,
                "total_amount": { "type": "double" }, "total_cents": long,
                "item_count": { "type": "integer" },
                "titles": { "type": "text", "analyzer": "spanish_custom" },
                "created_at": { "type": "date" }, "created_micros": long, "version": long
            }
        }
    })
}
