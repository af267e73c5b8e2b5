//! The lake's columns: what a lake row carries, what the Glue tables declare, and what
//! the embedded engine reads (`embedded/sql` turns these into Arrow). No engine here, so
//! rendering a template or running a Lambda compiles none.

use super::Dataset;

/// A column's type, as Glue (Hive) and the embedded engine both read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Boolean,
    Int,
    BigInt,
    /// Exact decimal: precision, scale. Written to the lake as a JSON string ("12.50").
    Decimal(u8, u8),
    /// An array of structs with these columns.
    Records(Vec<Column>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
}

const fn column(name: &'static str, kind: ColumnType) -> Column {
    Column { name, kind }
}

/// Money, as `decimal(12,2)`.
const MONEY: ColumnType = ColumnType::Decimal(12, 2);

/// The columns of one purchase line (`items` is an array of these).
pub fn purchase_item_columns() -> Vec<Column> {
    vec![
        column("book_id", ColumnType::Text),
        column("title", ColumnType::Text),
        column("category", ColumnType::Text),
        column("author", ColumnType::Text),
        column("quantity", ColumnType::Int),
        column("unit_price", MONEY),
        column("subtotal", MONEY),
    ]
}

/// The columns stored in a dataset's files (partition columns come from the path). A
/// lake row carries exactly these: what no column reads (a shipping address, say) is
/// personal data the lake has no reason to hold.
pub fn columns(dataset: Dataset) -> Vec<Column> {
    use ColumnType::{BigInt, Boolean, Int, Text};
    match dataset {
        Dataset::Purchases => vec![
            column("purchase_id", Text),
            column("tenant_id", Text),
            column("user_id", Text),
            column("items", ColumnType::Records(purchase_item_columns())),
            column("subtotal", MONEY),
            column("tax", MONEY),
            column("total_amount", MONEY),
            column("status", Text),
            column("payment_method", Text),
            column("version", BigInt),
            column("created_at", Text),
            column("updated_at", Text),
        ],
        Dataset::Books => vec![
            column("book_id", Text),
            column("tenant_id", Text),
            column("isbn", Text),
            column("title", Text),
            column("author", Text),
            column("editorial", Text),
            column("category", Text),
            column("price", MONEY),
            column("description", Text),
            column("stock_quantity", BigInt),
            column("publication_year", Int),
            column("language", Text),
            column("pages", Int),
            column("rating", ColumnType::Decimal(3, 1)),
            column("is_active", Boolean),
            column("sales_count", BigInt),
            column("version", BigInt),
            column("created_at", Text),
            column("updated_at", Text),
            column("snapshot_at", Text),
        ],
    }
}

/// A column type as Glue (Hive) spells it.
pub fn hive_type(kind: &ColumnType) -> String {
    match kind {
        ColumnType::Text => "string".to_owned(),
        ColumnType::Boolean => "boolean".to_owned(),
        ColumnType::Int => "int".to_owned(),
        ColumnType::BigInt => "bigint".to_owned(),
        ColumnType::Decimal(precision, scale) => format!("decimal({precision},{scale})"),
        ColumnType::Records(fields) => {
            let fields: Vec<String> = fields.iter().map(|f| format!("{}:{}", f.name, hive_type(&f.kind))).collect();
            format!("array<struct<{}>>", fields.join(","))
        }
    }
}

/// The Glue tables' partition keys, all strings: the tenant (an injected projection, so
/// every query names it) and the day, as the object keys spell them.
pub const PARTITION_KEYS: [&str; 4] = ["tenant_id", "year", "month", "day"];

/// A dataset's columns as its Glue table declares them (`[name, Hive type]`). `tenant_id`
/// is left out: in Glue it is the partition key (and Athena refuses a column declared
/// twice).
pub fn glue_columns(dataset: Dataset) -> Vec<[String; 2]> {
    columns(dataset)
        .iter()
        .filter(|column| column.name != "tenant_id")
        .map(|column| [column.name.to_owned(), hive_type(&column.kind)])
        .collect()
}

/// Keeps only the members `columns` name, nested records included.
pub fn keep_columns(fields: &mut serde_json::Map<String, serde_json::Value>, columns: &[Column]) {
    fields.retain(|name, _| columns.iter().any(|column| column.name == name));
    for column in columns {
        if let (ColumnType::Records(inner), Some(serde_json::Value::Array(records))) =
            (&column.kind, fields.get_mut(column.name))
        {
            for record in records.iter_mut() {
                if let serde_json::Value::Object(record) = record {
                    keep_columns(record, inner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_columns_are_the_lake_columns_in_hive_types() {
        let purchases = glue_columns(Dataset::Purchases);
        assert!(purchases.iter().all(|[name, _]| name != "tenant_id"));
        let items = purchases.iter().find(|[name, _]| name == "items").map(|[_, kind]| kind.as_str());
        assert_eq!(
            items,
            Some(
                "array<struct<book_id:string,title:string,category:string,author:string,quantity:int,\
                 unit_price:decimal(12,2),subtotal:decimal(12,2)>>"
            )
        );
        let books = glue_columns(Dataset::Books);
        let kind_of = |column: &str| books.iter().find(|[name, _]| name == column).map(|[_, kind]| kind.clone());
        assert_eq!(kind_of("rating").as_deref(), Some("decimal(3,1)"));
        assert_eq!(kind_of("stock_quantity").as_deref(), Some("bigint"));
        assert_eq!(kind_of("is_active").as_deref(), Some("boolean"));
        assert_eq!(books.len() + 1, columns(Dataset::Books).len());
    }
}
