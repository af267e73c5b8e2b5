//! Compaction of the local lake: each closed day's newline-delimited JSON batches become
//! one Parquet file (zstd), and a closed month's days one merged file, every record once
//! (by id and version), plus a daily summary of each day's purchases.
//!
//! Atomic for readers: the new day (or month) directory is built aside, under
//! `{tenant}/.compaction/` (outside every table's path), and swapped with the live one in
//! one `renameat2(…, RENAME_EXCHANGE)`. A reader lists either the old files or the new
//! one, never both and never neither. A batch written into the day during compaction is
//! moved back after the swap. Idempotent: a compacted period holds one Parquet file named
//! by its rows, so a second run rewrites the same bytes; leftovers of a killed run are
//! removed first.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::rows::{by_day, daily_summary, fail, once_each, parquet_bytes, rows_digest, select, summary_path, with_day};
use super::{CompactionError, CompactionReport};
use crate::domain::TenantId;
use crate::embedded::sql::tables::{compacted_schema, file_schema};
use crate::lake::Dataset;
use crate::lake::compacted::Period;

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
            let dataset_dir = tenant_dir.join(dataset.name());
            let mut closed_months = BTreeSet::new();
            for (date, day_dir) in days(&dataset_dir)? {
                if date >= before {
                    continue;
                }
                match Period::for_closed_day(date, before) {
                    Period::Month { year, month } => {
                        closed_months.insert((year, month));
                    }
                    Period::Day(_) if needs_compaction(&day_dir)? => {
                        compact_day(&tenant_dir, dataset, date, &day_dir, &mut report)?;
                    }
                    Period::Day(_) => {}
                }
            }
            for (year, month) in closed_months {
                compact_month(&tenant_dir, dataset, year, month, &mut report)?;
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
        batches.extend(read_json(path, dataset)?);
    }
    for path in &parquet_files {
        batches.extend(read_parquet(path)?);
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

/// A closed month's rows (its day directories' batches and files, and any merged file
/// before) merged into one `{YYYY}-{MM}-{digest}.month.parquet` that carries each row's
/// `day`; the month directory is swapped whole, so a reader lists the days or the merged
/// file, never both.
fn compact_month(
    tenant_dir: &Path,
    dataset: Dataset,
    year: i32,
    month: u32,
    report: &mut CompactionReport,
) -> Result<(), CompactionError> {
    let month_dir = tenant_dir.join(format!("{}/year={year:04}/month={month:02}", dataset.name()));
    let merged = files_with(&month_dir, "parquet")?;
    let day_dirs: Vec<(NaiveDate, PathBuf)> = days(&tenant_dir.join(dataset.name()))?
        .into_iter()
        .filter(|(date, _)| chrono::Datelike::year(date) == year && chrono::Datelike::month(date) == month)
        .collect();
    if day_dirs.is_empty() && merged.len() <= 1 {
        return Ok(());
    }
    let mut parts = Vec::new();
    let mut read: Vec<PathBuf> = Vec::new();
    for path in &merged {
        parts.extend(read_parquet(path)?);
        read.push(path.clone());
    }
    for (date, day_dir) in &day_dirs {
        for path in files_with(day_dir, "json")? {
            report.json_bytes += path.metadata().map(|m| m.len()).unwrap_or(0);
            for batch in read_json(&path, dataset)? {
                parts.push(with_day(batch, *date)?);
            }
            read.push(path);
        }
        for path in files_with(day_dir, "parquet")? {
            for batch in read_parquet(&path)? {
                parts.push(with_day(batch, *date)?);
            }
            read.push(path);
        }
    }
    let all = concat_batches(&compacted_schema(dataset), &parts).map_err(|e| fail("cannot merge the month")(&e))?;
    let (rows, dropped) = once_each(&all, dataset)?;
    report.duplicates_dropped += dropped;
    report.records += rows.num_rows();

    let staging = tenant_dir.join(".compaction").join(format!("{}-{year:04}-{month:02}", dataset.name()));
    std::fs::create_dir_all(&staging).map_err(|e| fail("cannot create the staging directory")(&e))?;
    let name = format!("{year:04}-{month:02}-{}.month.parquet", rows_digest(&rows, dataset)?);
    report.parquet_bytes += write_parquet(&staging.join(name), &rows)?;
    renameat_with(CWD, &staging, CWD, &month_dir, RenameFlags::EXCHANGE)
        .map_err(|e| fail(&format!("cannot swap {} in", month_dir.display()))(&e))?;
    // `staging` now holds the old month; a batch that arrived meanwhile goes back.
    for (_, old_day) in &day_dirs {
        let Some(day_name) = old_day.file_name() else { continue };
        let old_day = staging.join(day_name);
        for entry in
            std::fs::read_dir(&old_day).map_err(|e| fail("cannot read the old day")(&e))?.filter_map(Result::ok)
        {
            let late = entry.path();
            let original = month_dir.join(day_name).join(entry.file_name());
            if !is_hidden(&late) && !read.contains(&original) {
                std::fs::create_dir_all(month_dir.join(day_name)).map_err(|e| fail("cannot keep a late batch")(&e))?;
                std::fs::rename(&late, &original).map_err(|e| fail("cannot keep a late batch")(&e))?;
            }
        }
    }
    std::fs::remove_dir_all(&staging).map_err(|e| fail("cannot remove the old month")(&e))?;
    let days = by_day(&rows, Period::Month { year, month })?;
    if dataset == Dataset::Purchases {
        for (date, indices) in &days {
            write_daily_summary(tenant_dir, *date, &select(&rows, indices)?)?;
        }
    }
    report.days += days.len();
    Ok(())
}

fn read_json(path: &Path, dataset: Dataset) -> Result<Vec<RecordBatch>, CompactionError> {
    let file = File::open(path).map_err(|e| fail(&path.display().to_string())(&e))?;
    let reader = ReaderBuilder::new(file_schema(dataset))
        .build(BufReader::new(file))
        .map_err(|e| fail(&path.display().to_string())(&e))?;
    reader.map(|batch| batch.map_err(|e| fail(&path.display().to_string())(&e))).collect()
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, CompactionError> {
    let file = File::open(path).map_err(|e| fail(&path.display().to_string())(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|e| fail(&path.display().to_string())(&e))?;
    reader.map(|batch| batch.map_err(|e| fail(&path.display().to_string())(&e))).collect()
}

fn write_parquet(path: &Path, rows: &RecordBatch) -> Result<u64, CompactionError> {
    let bytes = parquet_bytes(rows)?;
    let file = File::create(path).and_then(|mut file| {
        std::io::Write::write_all(&mut file, &bytes)?;
        file.sync_all()
    });
    file.map_err(|e| fail(&path.display().to_string())(&e))?;
    Ok(bytes.len() as u64)
}

fn write_daily_summary(tenant_dir: &Path, date: NaiveDate, rows: &RecordBatch) -> Result<(), CompactionError> {
    let batch = daily_summary(date, rows)?;
    let path = tenant_dir.join(summary_path(date));
    let dir = path.parent().unwrap_or(tenant_dir);
    std::fs::create_dir_all(dir).map_err(|e| fail(&dir.display().to_string())(&e))?;
    let temporary = dir.join(".summary.parquet.tmp");
    write_parquet(&temporary, &batch)?;
    std::fs::rename(&temporary, &path).map_err(|e| fail("cannot place the summary")(&e))?;
    Ok(())
}
