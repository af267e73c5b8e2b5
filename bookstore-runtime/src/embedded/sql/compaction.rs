//! Compaction of the local lake: each closed day's newline-delimited JSON batches become
//! one Parquet file (zstd), every record once (by id and version), plus a daily summary
//! of the day's purchases.
//!
//! Atomic for readers: the new day directory is built aside, under `{tenant}/.compaction/`
//! (outside every table's path), and swapped with the live one in one `renameat2(…,
//! RENAME_EXCHANGE)`. A reader lists either the old files or the new one, never both and
//! never neither. A batch written into the day during compaction is moved back after
//! the swap. Idempotent: a compacted day holds one Parquet file named by its rows, so a
//! second run rewrites the same bytes; leftovers of a killed run are removed first.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use rustix::fs::{CWD, RenameFlags, renameat_with};
use sha2::{Digest, Sha256};

use super::tables::file_schema;
use crate::domain::TenantId;
use crate::lake::Dataset;

/// Where a dataset's per-day summaries live, beside `purchases` and `books`.
pub const DAILY_SUMMARIES: &str = "daily_summaries";

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionReport {
    pub days: usize,
    pub records: usize,
    pub duplicates_dropped: usize,
    pub json_bytes: u64,
    pub parquet_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompactionError(String);

fn fail(context: &str) -> impl Fn(&dyn std::fmt::Display) -> CompactionError + '_ {
    move |err| CompactionError(format!("{context}: {err}"))
}

/// Compacts every closed day (strictly before `before`) of the given tenants (all when
/// `None`) under the lake root.
pub fn compact(root: &Path, tenant: Option<&TenantId>, before: NaiveDate) -> Result<CompactionReport, CompactionError> {
    let tenants: Vec<PathBuf> = match tenant {
        Some(tenant) => vec![root.join(tenant.as_str())],
        None => subdirectories(root)?.into_iter().filter(|dir| !is_hidden(dir)).collect(),
    };
    let mut report = CompactionReport::default();
    for tenant_dir in tenants {
        if !tenant_dir.is_dir() {
            continue;
        }
        let staging = tenant_dir.join(".compaction");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| fail("cannot clear a killed run's leftovers")(&e))?;
        }
        for dataset in Dataset::ALL {
            for (date, day_dir) in days(&tenant_dir.join(dataset.name()))? {
                if date >= before || !needs_compaction(&day_dir)? {
                    continue;
                }
                compact_day(&tenant_dir, dataset, date, &day_dir, &mut report)?;
            }
        }
        let _ = std::fs::remove_dir(&staging);
    }
    Ok(report)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, CompactionError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(&dir.display().to_string())(&e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The `year=/month=/day=` directories under a dataset, with their dates.
fn days(dataset_dir: &Path) -> Result<Vec<(NaiveDate, PathBuf)>, CompactionError> {
    let value = |path: &Path, key: &str| -> Option<u32> {
        path.file_name()?.to_str()?.strip_prefix(key)?.strip_prefix('=')?.parse().ok()
    };
    let mut found = Vec::new();
    for year in subdirectories(dataset_dir)? {
        for month in subdirectories(&year)? {
            for day in subdirectories(&month)? {
                let date = (|| {
                    let year = i32::try_from(value(&year, "year")?).ok()?;
                    NaiveDate::from_ymd_opt(year, value(&month, "month")?, value(&day, "day")?)
                })();
                if let Some(date) = date {
                    found.push((date, day));
                }
            }
        }
    }
    Ok(found)
}

fn files_with(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, CompactionError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(&dir.display().to_string())(&e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| !is_hidden(path) && path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

/// A day needs work while it has JSON batches or more than one Parquet file.
fn needs_compaction(day_dir: &Path) -> Result<bool, CompactionError> {
    Ok(!files_with(day_dir, "json")?.is_empty() || files_with(day_dir, "parquet")?.len() > 1)
}

fn compact_day(
    tenant_dir: &Path,
    dataset: Dataset,
    date: NaiveDate,
    day_dir: &Path,
    report: &mut CompactionReport,
) -> Result<(), CompactionError> {
    let schema = file_schema(dataset);
    let json_files = files_with(day_dir, "json")?;
    let parquet_files = files_with(day_dir, "parquet")?;
    let mut batches = Vec::new();
    for path in &json_files {
        report.json_bytes += path.metadata().map(|m| m.len()).unwrap_or(0);
        let file = File::open(path).map_err(|e| fail(&path.display().to_string())(&e))?;
        let reader = ReaderBuilder::new(schema.clone())
            .build(BufReader::new(file))
            .map_err(|e| fail(&path.display().to_string())(&e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| fail(&path.display().to_string())(&e))?);
        }
    }
    for path in &parquet_files {
        let file = File::open(path).map_err(|e| fail(&path.display().to_string())(&e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|builder| builder.build())
            .map_err(|e| fail(&path.display().to_string())(&e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| fail(&path.display().to_string())(&e))?);
        }
    }
    let all = concat_batches(&schema, &batches).map_err(|e| fail("cannot merge the day's rows")(&e))?;
    let (rows, dropped) = once_each(&all, dataset)?;
    report.duplicates_dropped += dropped;
    report.records += rows.num_rows();

    // The new day: one Parquet file, built aside, then swapped in.
    let staging = tenant_dir.join(".compaction").join(format!("{}-{date}", dataset.name()));
    std::fs::create_dir_all(&staging).map_err(|e| fail("cannot create the staging directory")(&e))?;
    let parquet_name = format!("part-{}.parquet", rows_digest(&rows, dataset)?);
    let written = write_parquet(&staging.join(&parquet_name), &rows)?;
    report.parquet_bytes += written;
    renameat_with(CWD, &staging, CWD, day_dir, RenameFlags::EXCHANGE)
        .map_err(|e| fail(&format!("cannot swap {} in", day_dir.display()))(&e))?;
    // `staging` now holds the old files; a batch that arrived meanwhile goes back.
    let read: Vec<&std::ffi::OsStr> = json_files.iter().chain(&parquet_files).filter_map(|p| p.file_name()).collect();
    for entry in std::fs::read_dir(&staging).map_err(|e| fail("cannot read the old day")(&e))?.filter_map(Result::ok) {
        let name = entry.file_name();
        if !read.contains(&name.as_os_str()) && !is_hidden(&entry.path()) {
            std::fs::rename(entry.path(), day_dir.join(&name)).map_err(|e| fail("cannot keep a late batch")(&e))?;
        }
    }
    std::fs::remove_dir_all(&staging).map_err(|e| fail("cannot remove the old day")(&e))?;
    if dataset == Dataset::Purchases {
        write_daily_summary(tenant_dir, date, &rows)?;
    }
    report.days += 1;
    Ok(())
}

/// Keeps the first row of each (id, version), ordered by id then version.
fn once_each(batch: &RecordBatch, dataset: Dataset) -> Result<(RecordBatch, usize), CompactionError> {
    let id_column = match dataset {
        Dataset::Purchases => "purchase_id",
        Dataset::Books => "book_id",
    };
    let ids = batch.column_by_name(id_column).ok_or_else(|| CompactionError(format!("no {id_column} column")))?;
    let ids = ids.as_string::<i32>();
    let versions = batch.column_by_name("version").ok_or_else(|| CompactionError("no version column".to_owned()))?;
    let versions = versions.as_primitive::<Int64Type>();
    let mut first: BTreeMap<(String, i64), u32> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let key = (ids.value(row).to_owned(), if versions.is_null(row) { 0 } else { versions.value(row) });
        let index = u32::try_from(row).map_err(|_| CompactionError("a day too large to compact".to_owned()))?;
        first.entry(key).or_insert(index);
    }
    let dropped = batch.num_rows() - first.len();
    let indices = datafusion::arrow::array::UInt32Array::from(first.into_values().collect::<Vec<_>>());
    let columns = batch
        .columns()
        .iter()
        .map(|column| take(column.as_ref(), &indices, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("cannot select the rows")(&e))?;
    let rows = RecordBatch::try_new(batch.schema(), columns).map_err(|e| fail("cannot rebuild the rows")(&e))?;
    Ok((rows, dropped))
}

/// A name fixed by the rows: the same rows always make the same file.
fn rows_digest(rows: &RecordBatch, dataset: Dataset) -> Result<String, CompactionError> {
    let id_column = match dataset {
        Dataset::Purchases => "purchase_id",
        Dataset::Books => "book_id",
    };
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

fn write_parquet(path: &Path, rows: &RecordBatch) -> Result<u64, CompactionError> {
    let level = ZstdLevel::try_new(3).map_err(|e| fail("zstd level")(&e))?;
    let properties = WriterProperties::builder().set_compression(Compression::ZSTD(level)).build();
    let file = File::create(path).map_err(|e| fail(&path.display().to_string())(&e))?;
    let mut writer = ArrowWriter::try_new(file, rows.schema(), Some(properties))
        .map_err(|e| fail(&path.display().to_string())(&e))?;
    writer.write(rows).map_err(|e| fail(&path.display().to_string())(&e))?;
    let file = writer.into_inner().map_err(|e| fail(&path.display().to_string())(&e))?;
    file.sync_all().map_err(|e| fail(&path.display().to_string())(&e))?;
    Ok(path.metadata().map(|m| m.len()).unwrap_or(0))
}

/// The columns of `daily_summaries` (the date comes from the partition path).
pub fn daily_summary_schema() -> SchemaRef {
    let top_book = Fields::from(vec![
        Field::new("book_id", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("copies", DataType::Int64, true),
    ]);
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Utf8, false),
        Field::new("purchases", DataType::Int64, false),
        Field::new("revenue", DataType::Decimal128(22, 2), false),
        Field::new("items_sold", DataType::Int64, false),
        Field::new("top_books", DataType::List(Arc::new(Field::new("item", DataType::Struct(top_book), true))), true),
    ]))
}

/// Purchases, revenue, copies sold and the three best sellers of one day.
fn write_daily_summary(tenant_dir: &Path, date: NaiveDate, rows: &RecordBatch) -> Result<(), CompactionError> {
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
    let schema = daily_summary_schema();
    let mut decoder = ReaderBuilder::new(schema).build_decoder().map_err(|e| fail("summary")(&e))?;
    decoder.serialize(&[summary]).map_err(|e| fail("summary")(&e))?;
    let batch =
        decoder.flush().map_err(|e| fail("summary")(&e))?.ok_or_else(|| CompactionError("empty summary".into()))?;
    let dir = tenant_dir.join(format!(
        "{DAILY_SUMMARIES}/year={}/month={:02}/day={:02}",
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| fail(&dir.display().to_string())(&e))?;
    let temporary = dir.join(".summary.parquet.tmp");
    write_parquet(&temporary, &batch)?;
    std::fs::rename(&temporary, dir.join("summary.parquet")).map_err(|e| fail("cannot place the summary")(&e))?;
    Ok(())
}
