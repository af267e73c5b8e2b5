//! The Glue tables over the lake, as the stack declares them, `athena tables` checks them
//! and the Athena adapter names them: one JSON table per dataset over the batches, one
//! Parquet table per dataset over what compaction made of closed days and months, and
//! the daily summaries. Athena reads one format per table (a partition cannot switch from
//! JSON to Parquet), hence two tables per dataset; the manifest says which one holds a
//! period (`lake::compacted`).

use super::Dataset;
use super::schema::{Column, ColumnType, PARTITION_KEYS, glue_columns, hive_type};

/// How a table's objects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    Json,
    Parquet,
}

impl TableFormat {
    /// Glue's SerDe for the format.
    pub const fn serde(self) -> &'static str {
        match self {
            TableFormat::Json => "org.openx.data.jsonserde.JsonSerDe",
            TableFormat::Parquet => "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        }
    }
}

/// One Glue table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlueTable {
    pub name: String,
    pub format: TableFormat,
    /// `[name, Hive type]`; `tenant_id` is a partition key, never a column.
    pub columns: Vec<[String; 2]>,
    /// All strings; `tenant_id` first (injected: every query names its tenant).
    pub partition_keys: Vec<&'static str>,
    /// A partition's prefix in the lake bucket, each key written `${key}`.
    pub location_template: String,
}

/// What a query names (the tables a tenant may read); the compacted tables are read
/// through these (see `analytics::tenant_scope`).
pub const QUERY_TABLES: [&str; 3] = ["purchases", "books", DAILY_SUMMARIES];

/// The daily summaries' table, and their directory under the tenant.
pub const DAILY_SUMMARIES: &str = "daily_summaries";

/// The compacted table of a dataset.
pub fn compacted_table(dataset: Dataset) -> String {
    format!("{}_compacted", dataset.name())
}

/// The columns of a day's summary.
pub fn daily_summary_columns() -> Vec<Column> {
    let top_book = vec![
        Column { name: "book_id", kind: ColumnType::Text },
        Column { name: "title", kind: ColumnType::Text },
        Column { name: "copies", kind: ColumnType::BigInt },
    ];
    vec![
        Column { name: "date", kind: ColumnType::Text },
        Column { name: "purchases", kind: ColumnType::BigInt },
        Column { name: "revenue", kind: ColumnType::Decimal(22, 2) },
        Column { name: "items_sold", kind: ColumnType::BigInt },
        Column { name: "top_books", kind: ColumnType::Records(top_book) },
    ]
}

fn day_template(directory: &str) -> String {
    format!("${{tenant_id}}/{directory}/year=${{year}}/month=${{month}}/day=${{day}}/")
}

/// Every Glue table of a stage's lake.
pub fn glue_tables() -> Vec<GlueTable> {
    let mut tables = Vec::new();
    for dataset in Dataset::ALL {
        tables.push(GlueTable {
            name: dataset.name().to_owned(),
            format: TableFormat::Json,
            columns: glue_columns(dataset),
            partition_keys: PARTITION_KEYS.to_vec(),
            location_template: day_template(dataset.name()),
        });
    }
    for dataset in Dataset::ALL {
        let mut columns = glue_columns(dataset);
        columns.push(["day".to_owned(), "string".to_owned()]);
        tables.push(GlueTable {
            name: compacted_table(dataset),
            format: TableFormat::Parquet,
            columns,
            partition_keys: PARTITION_KEYS[..3].to_vec(),
            location_template: format!("${{tenant_id}}/compacted/{}/year=${{year}}/month=${{month}}/", dataset.name()),
        });
    }
    tables.push(GlueTable {
        name: DAILY_SUMMARIES.to_owned(),
        format: TableFormat::Parquet,
        columns: daily_summary_columns().iter().map(|c| [c.name.to_owned(), hive_type(&c.kind)]).collect(),
        partition_keys: PARTITION_KEYS.to_vec(),
        location_template: day_template(DAILY_SUMMARIES),
    });
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dataset_has_a_json_and_a_parquet_table_and_every_key_starts_with_the_tenant() {
        let tables = glue_tables();
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["purchases", "books", "purchases_compacted", "books_compacted", "daily_summaries"]);
        for table in &tables {
            assert!(table.location_template.starts_with("${tenant_id}/"), "{}", table.name);
            assert_eq!(table.partition_keys[0], "tenant_id");
            assert!(table.columns.iter().all(|[name, _]| name != "tenant_id"));
        }
        let compacted = &tables[2];
        assert_eq!(compacted.columns.last().map(|[n, _]| n.as_str()), Some("day"));
        assert_eq!(compacted.partition_keys, ["tenant_id", "year", "month"]);
    }
}
