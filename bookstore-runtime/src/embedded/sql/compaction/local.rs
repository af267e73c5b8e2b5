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

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::rows::{daily_summary, fail, once_each, parquet_bytes, rows_digest, summary_path};
use super::{CompactionError, CompactionReport};
use crate::domain::TenantId;
use crate::embedded::sql::tables::file_schema;
use crate::lake::Dataset;

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
