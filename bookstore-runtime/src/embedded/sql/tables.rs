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

use crate::domain::TenantId;
use crate::lake::Dataset;
use crate::lake::catalog::{DAILY_SUMMARIES, daily_summary_columns};
use crate::lake::schema::{self, Column, ColumnType};

fn arrow_type(kind: &ColumnType) -> DataType {
    match kind {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int => DataType::Int32,
        ColumnType::BigInt => DataType::Int64,
        ColumnType::Decimal(precision, scale) => DataType::Decimal128(*precision, *scale as i8),
        ColumnType::Records(columns) => {
            DataType::List(Arc::new(Field::new("item", DataType::Struct(arrow_fields(columns)), true)))
        }
    }
}

fn arrow_fields(columns: &[Column]) -> Fields {
    columns.iter().map(|column| Field::new(column.name, arrow_type(&column.kind), true)).collect()
}

/// The fields of one purchase line (`items` is an array of these).
pub fn purchase_item_fields() -> Fields {
    arrow_fields(&schema::purchase_item_columns())
}

/// The columns stored in a dataset's files (partition columns come from the path): the
/// lake's columns (`lake::schema`) as Arrow types.
pub fn file_schema(dataset: Dataset) -> SchemaRef {
    Arc::new(Schema::new(arrow_fields(&schema::columns(dataset))))
}

/// The columns of a compacted object: the lake's, and the day each row was on (a merged
/// month holds many days; the month comes from its path).
pub fn compacted_schema(dataset: Dataset) -> SchemaRef {
    with_day_column(&file_schema(dataset))
}

/// `schema` and a `day` column (`DD`).
pub fn with_day_column(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("day", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The columns of `daily_summaries` files (the day comes from the partition path).
pub fn daily_summary_schema() -> SchemaRef {
    Arc::new(Schema::new(arrow_fields(&daily_summary_columns())))
}

/// The Hive partition columns under a dataset's directory, strings as in Glue.
pub fn partition_columns() -> Vec<(String, DataType)> {
    ["year", "month", "day"].iter().map(|name| ((*name).to_owned(), DataType::Utf8)).collect()
}

/// Registers `purchases` and `books` over `root/{tenant}/…` only: the newline-delimited
/// JSON that CDC writes, the Parquet of compacted days, and the merged files of closed
/// months (`year=/month=/*.month.parquet`, carrying their rows' `day`).
pub async fn register_tenant_tables(ctx: &SessionContext, root: &Path, tenant: &TenantId) -> Result<()> {
    for dataset in Dataset::ALL {
        let name = dataset.name();
        let dir = root.join(tenant.as_str()).join(name);
        let schema = file_schema(dataset);
        let json_table = format!("{name}_json");
        let parquet_table = format!("{name}_parquet");
        let months_table = format!("{name}_months");
        let month_schema = compacted_schema(dataset);
        if dir.is_dir() {
            let url = format!("{}/", dir.display());
            let json = ListingOptions::new(Arc::new(JsonFormat::default()))
                .with_file_extension(".json")
                .with_table_partition_cols(partition_columns());
            let parquet = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(partition_columns());
            // A merged month file sits beside the day directories, where the day tables'
            // three partition levels never find it.
            let months = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".month.parquet")
                .with_table_partition_cols(partition_columns()[..2].to_vec());
            ctx.register_listing_table(&json_table, &url, json, Some(schema.clone()), None).await?;
            ctx.register_listing_table(&parquet_table, &url, parquet, Some(schema.clone()), None).await?;
            ctx.register_listing_table(&months_table, &url, months, Some(month_schema), None).await?;
        } else {
            ctx.register_table(&json_table, empty_table(&schema)?)?;
            ctx.register_table(&parquet_table, empty_table(&schema)?)?;
            ctx.register_table(&months_table, empty_table(&schema)?)?;
        }
        let mut columns: Vec<String> = schema.fields().iter().map(|f| format!("\"{}\"", f.name())).collect();
        columns.extend(["year", "month", "day"].map(String::from));
        let columns = columns.join(", ");
        ctx.sql(&format!(
            "CREATE VIEW {name} AS SELECT * FROM {json_table} UNION ALL SELECT * FROM {parquet_table} \
             UNION ALL SELECT {columns} FROM {months_table}"
        ))
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
    fn the_engine_reads_every_lake_column_with_its_type() {
        let books = file_schema(Dataset::Books);
        assert_eq!(books.fields().len(), schema::columns(Dataset::Books).len());
        assert_eq!(books.field_with_name("rating").expect("rating").data_type(), &DataType::Decimal128(3, 1));
        let purchases = file_schema(Dataset::Purchases);
        let DataType::List(item) = purchases.field_with_name("items").expect("items").data_type() else {
            panic!("items is a list")
        };
        assert_eq!(item.data_type(), &DataType::Struct(purchase_item_fields()));
    }
}
