//! The lake's tables as the embedded engine sees them: the Glue schemas, over one
//! tenant's directories only.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::common::Result;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;

use super::compaction::{DAILY_SUMMARIES, daily_summary_schema};
use crate::domain::TenantId;
use crate::lake::Dataset;

/// Money, as `decimal(12,2)` (the lake writes it as a JSON string such as "12.50").
fn money() -> DataType {
    DataType::Decimal128(12, 2)
}

/// The fields of one purchase line (`items` is an array of these).
pub fn purchase_item_fields() -> Fields {
    Fields::from(vec![
        Field::new("book_id", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("author", DataType::Utf8, true),
        Field::new("quantity", DataType::Int32, true),
        Field::new("unit_price", money(), true),
        Field::new("subtotal", money(), true),
    ])
}

/// The columns stored in a dataset's files (partition columns come from the path).
pub fn file_schema(dataset: Dataset) -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let fields = match dataset {
        Dataset::Purchases => vec![
            text("purchase_id"),
            text("tenant_id"),
            text("user_id"),
            Field::new(
                "items",
                DataType::List(Arc::new(Field::new("item", DataType::Struct(purchase_item_fields()), true))),
                true,
            ),
            Field::new("subtotal", money(), true),
            Field::new("tax", money(), true),
            Field::new("total_amount", money(), true),
            text("status"),
            text("payment_method"),
            Field::new("version", DataType::Int64, true),
            text("created_at"),
            text("updated_at"),
        ],
        Dataset::Books => vec![
            text("book_id"),
            text("tenant_id"),
            text("isbn"),
            text("title"),
            text("author"),
            text("editorial"),
            text("category"),
            Field::new("price", money(), true),
            text("description"),
            Field::new("stock_quantity", DataType::Int64, true),
            Field::new("publication_year", DataType::Int32, true),
            text("language"),
            Field::new("pages", DataType::Int32, true),
            Field::new("rating", DataType::Decimal128(3, 1), true),
            Field::new("is_active", DataType::Boolean, true),
            Field::new("sales_count", DataType::Int64, true),
            Field::new("version", DataType::Int64, true),
            text("created_at"),
            text("updated_at"),
            text("snapshot_at"),
        ],
    };
    Arc::new(Schema::new(fields))
}

/// A dataset's columns as its Glue table declares them (`[name, Hive type]`): the types the
/// embedded engine reads, so the laptop and Athena see the same table. `tenant_id` is left
/// out: in Glue it is the partition key (and Athena refuses a column declared twice).
pub fn glue_columns(dataset: Dataset) -> Vec<[String; 2]> {
    file_schema(dataset)
        .fields()
        .iter()
        .filter(|field| field.name() != "tenant_id")
        .map(|field| [field.name().clone(), hive_type(field.data_type())])
        .collect()
}

fn hive_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 => "string".to_owned(),
        DataType::Boolean => "boolean".to_owned(),
        DataType::Int32 => "int".to_owned(),
        DataType::Int64 => "bigint".to_owned(),
        DataType::Float64 => "double".to_owned(),
        DataType::Decimal128(precision, scale) => format!("decimal({precision},{scale})"),
        DataType::List(item) => format!("array<{}>", hive_type(item.data_type())),
        DataType::Struct(fields) => {
            let fields: Vec<String> =
                fields.iter().map(|field| format!("{}:{}", field.name(), hive_type(field.data_type()))).collect();
            format!("struct<{}>", fields.join(","))
        }
        // The lake's schema is this file's; a test walks every column through here.
        other => unreachable!("no Hive type for the lake column type {other}"),
    }
}

/// The Hive partition columns under a dataset's directory, strings as in Glue.
pub fn partition_columns() -> Vec<(String, DataType)> {
    ["year", "month", "day"].iter().map(|name| ((*name).to_owned(), DataType::Utf8)).collect()
}

/// Registers `purchases` and `books` over `root/{tenant}/…` only: both the newline-
/// delimited JSON that CDC writes and the Parquet that compaction leaves.
pub async fn register_tenant_tables(ctx: &SessionContext, root: &Path, tenant: &TenantId) -> Result<()> {
    for dataset in Dataset::ALL {
        let name = dataset.name();
        let dir = root.join(tenant.as_str()).join(name);
        let schema = file_schema(dataset);
        let json_table = format!("{name}_json");
        let parquet_table = format!("{name}_parquet");
        if dir.is_dir() {
            let url = format!("{}/", dir.display());
            let json = ListingOptions::new(Arc::new(JsonFormat::default()))
                .with_file_extension(".json")
                .with_table_partition_cols(partition_columns());
            let parquet = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(partition_columns());
            ctx.register_listing_table(&json_table, &url, json, Some(schema.clone()), None).await?;
            ctx.register_listing_table(&parquet_table, &url, parquet, Some(schema), None).await?;
        } else {
            ctx.register_table(&json_table, empty_table(&schema)?)?;
            ctx.register_table(&parquet_table, empty_table(&schema)?)?;
        }
        ctx.sql(&format!("CREATE VIEW {name} AS SELECT * FROM {json_table} UNION ALL SELECT * FROM {parquet_table}"))
            .await?;
    }
    // Per-day summaries, written by compaction (Parquet only).
    let dir = root.join(tenant.as_str()).join(DAILY_SUMMARIES);
    let schema = daily_summary_schema();
    if dir.is_dir() {
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_columns());
        ctx.register_listing_table(DAILY_SUMMARIES, format!("{}/", dir.display()), options, Some(schema), None).await?;
    } else {
        ctx.register_table(DAILY_SUMMARIES, empty_table(&schema)?)?;
    }
    Ok(())
}

/// A table with the columns (and partition columns) of one that has no files yet.
fn empty_table(file_schema: &Schema) -> Result<Arc<MemTable>> {
    let mut fields: Vec<Field> = file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(partition_columns().into_iter().map(|(name, kind)| Field::new(name, kind, false)));
    Ok(Arc::new(MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_columns_are_the_engine_schema_in_hive_types() {
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
        assert_eq!(books.len() + 1, file_schema(Dataset::Books).fields().len());
    }
}
