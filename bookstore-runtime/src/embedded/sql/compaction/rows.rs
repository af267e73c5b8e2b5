//! What both compactions do to a period's rows: keep each record once, name the result by
//! its rows, encode it as Parquet and sum up each day.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Decimal128Type, Int32Type, Int64Type};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use super::CompactionError;
use crate::embedded::sql::tables::{daily_summary_schema, with_day_column};
use crate::lake::Dataset;
use crate::lake::compacted::Period;

pub(super) fn fail(context: &str) -> impl Fn(&dyn std::fmt::Display) -> CompactionError + '_ {
    move |err| CompactionError(format!("{context}: {err}"))
}

fn id_column(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Purchases => "purchase_id",
        Dataset::Books => "book_id",
    }
}

/// Keeps the first row of each (id, version), ordered by id then version.
pub(super) fn once_each(batch: &RecordBatch, dataset: Dataset) -> Result<(RecordBatch, usize), CompactionError> {
    let id_column = id_column(dataset);
    let ids = batch.column_by_name(id_column).ok_or_else(|| CompactionError(format!("no {id_column} column")))?;
    let ids = ids.as_string::<i32>();
    let versions = batch.column_by_name("version").ok_or_else(|| CompactionError("no version column".to_owned()))?;
    let versions = versions.as_primitive::<Int64Type>();
    let mut first: BTreeMap<(String, i64), u32> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let key = (ids.value(row).to_owned(), if versions.is_null(row) { 0 } else { versions.value(row) });
        let index = u32::try_from(row).map_err(|_| CompactionError("a period too large to compact".to_owned()))?;
        first.entry(key).or_insert(index);
    }
    let dropped = batch.num_rows() - first.len();
    let indices = UInt32Array::from(first.into_values().collect::<Vec<_>>());
    Ok((select(batch, &indices)?, dropped))
}

/// The rows at `indices`, in that order.
pub(super) fn select(batch: &RecordBatch, indices: &UInt32Array) -> Result<RecordBatch, CompactionError> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| take(column.as_ref(), indices, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("cannot select the rows")(&e))?;
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| fail("cannot rebuild the rows")(&e))
}

/// A name fixed by the rows: the same rows always make the same file.
pub(super) fn rows_digest(rows: &RecordBatch, dataset: Dataset) -> Result<String, CompactionError> {
    let id_column = id_column(dataset);
    let ids = rows.column_by_name(id_column).ok_or_else(|| CompactionError(format!("no {id_column} column")))?;
    let ids = ids.as_string::<i32>();
    let versions = rows.column_by_name("version").ok_or_else(|| CompactionError("no version".to_owned()))?;
    let versions = versions.as_primitive::<Int64Type>();
    let mut hasher = Sha256::new();
    for row in 0..rows.num_rows() {
        hasher.update(ids.value(row).as_bytes());
        hasher.update(versions.value(row).to_be_bytes());
    }
    Ok(hasher.finalize()[..10].iter().map(|b| format!("{b:02x}")).collect())
}

/// The rows as one zstd-compressed Parquet file.
pub(super) fn parquet_bytes(rows: &RecordBatch) -> Result<Vec<u8>, CompactionError> {
    let level = ZstdLevel::try_new(3).map_err(|e| fail("zstd level")(&e))?;
    let properties = WriterProperties::builder().set_compression(Compression::ZSTD(level)).build();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), rows.schema(), Some(properties)).map_err(|e| fail("parquet")(&e))?;
    writer.write(rows).map_err(|e| fail("parquet")(&e))?;
    writer.into_inner().map_err(|e| fail("parquet")(&e))
}

/// Purchases, revenue, copies sold and the three best sellers of one day's purchases.
pub(super) fn daily_summary(date: NaiveDate, rows: &RecordBatch) -> Result<RecordBatch, CompactionError> {
    let totals = rows.column_by_name("total_amount").ok_or_else(|| CompactionError("no total_amount".to_owned()))?;
    let revenue: i128 = totals.as_primitive::<Decimal128Type>().iter().flatten().sum();
    let items = rows.column_by_name("items").ok_or_else(|| CompactionError("no items".to_owned()))?;
    let mut copies: BTreeMap<(String, String), i64> = BTreeMap::new();
    for lines in items.as_list::<i32>().iter().flatten() {
        let lines = lines.as_struct();
        let (Some(book), Some(title), Some(quantity)) =
            (lines.column_by_name("book_id"), lines.column_by_name("title"), lines.column_by_name("quantity"))
        else {
            continue;
        };
        let (book, title, quantity) =
            (book.as_string::<i32>(), title.as_string::<i32>(), quantity.as_primitive::<Int32Type>());
        for line in 0..lines.len() {
            *copies.entry((book.value(line).to_owned(), title.value(line).to_owned())).or_default() +=
                i64::from(quantity.value(line));
        }
    }
    let items_sold: i64 = copies.values().sum();
    let mut ranked: Vec<_> = copies.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top: Vec<serde_json::Value> = ranked
        .into_iter()
        .take(3)
        .map(|((book_id, title), copies)| serde_json::json!({"book_id": book_id, "title": title, "copies": copies}))
        .collect();
    let summary = serde_json::json!({
        "date": date.to_string(),
        "purchases": rows.num_rows(),
        "revenue": format!("{}.{:02}", revenue / 100, (revenue % 100).abs()),
        "items_sold": items_sold,
        "top_books": top,
    });
    let mut decoder = ReaderBuilder::new(daily_summary_schema()).build_decoder().map_err(|e| fail("summary")(&e))?;
    decoder.serialize(&[summary]).map_err(|e| fail("summary")(&e))?;
    decoder.flush().map_err(|e| fail("summary")(&e))?.ok_or_else(|| CompactionError("empty summary".into()))
}

/// Where a day's summary lives under the tenant: `daily_summaries/year=/month=/day=/summary.parquet`.
pub(super) fn summary_path(date: NaiveDate) -> String {
    format!(
        "{}/year={}/month={:02}/day={:02}/summary.parquet",
        super::DAILY_SUMMARIES,
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date)
    )
}

/// The rows with a `day` column (`DD`) added, as a compacted object holds them.
pub(super) fn with_day(batch: RecordBatch, date: NaiveDate) -> Result<RecordBatch, CompactionError> {
    let day = format!("{:02}", chrono::Datelike::day(&date));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![day.as_str(); batch.num_rows()])));
    RecordBatch::try_new(with_day_column(batch.schema_ref()), columns).map_err(|e| fail(&date.to_string())(&e))
}

/// The rows of each day of the period, as indices, in day order.
pub(super) fn by_day(rows: &RecordBatch, period: Period) -> Result<BTreeMap<NaiveDate, UInt32Array>, CompactionError> {
    let days = rows.column_by_name("day").ok_or_else(|| CompactionError("no day column".to_owned()))?;
    let days = days.as_string::<i32>();
    let (year, month) = period.year_month();
    let mut found: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
    for row in 0..rows.num_rows() {
        let date = days
            .value(row)
            .parse()
            .ok()
            .and_then(|day| NaiveDate::from_ymd_opt(year, month, day))
            .ok_or_else(|| CompactionError(format!("a row of {period} has day {:?}", days.value(row))))?;
        found.entry(date).or_default().push(u32::try_from(row).unwrap_or(u32::MAX));
    }
    Ok(found.into_iter().map(|(date, rows)| (date, UInt32Array::from(rows))).collect())
}
