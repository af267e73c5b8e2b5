//! Compaction on object storage (S3 on an AWS stage; any `LakeObjects`). A closed day, or
//! a whole closed month once it is over, becomes one Parquet object under
//! `{tenant}/compacted/{dataset}/year=/month=/` that holds each record once and carries
//! its `day`; the tenant's manifest (`lake::compacted`) then names that object, and one
//! put of the manifest switches every reader from the period's JSON batches to it.
//!
//! Each step leaves a state a reader can use and the next run can finish: the Parquet
//! object and the day summaries are written before the switch (under keys fixed by their
//! rows, so a rerun writes the same ones); superseded objects and folded batches are
//! deleted only after `keep_superseded_for`, when no query that read the older manifest
//! can still be running, and the manifest forgets them only after they are gone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::json::ReaderBuilder;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::rows::{by_day, daily_summary, fail, once_each, parquet_bytes, rows_digest, select, summary_path, with_day};
use super::{CompactionError, CompactionReport};
use crate::domain::TenantId;
use crate::embedded::sql::tables::{compacted_schema, file_schema};
use crate::lake::compacted::{
    CompactedUnit, CompactionManifest, FoldedBatch, Period, RetiredObject, compacted_prefix, manifest_key,
};
use crate::lake::{Dataset, LakeError, LakeObject, LakeObjects};

/// How one run compacts.
#[derive(Debug, Clone)]
pub struct CompactionOptions {
    /// Days strictly before this one are closed.
    pub before: NaiveDate,
    /// The run's clock: when its units were made and objects retired.
    pub now: DateTime<Utc>,
    /// How long an object no current reader needs is kept for readers of an older
    /// manifest: longer than any query runs (Athena stops a query at 30 minutes by default).
    pub keep_superseded_for: chrono::Duration,
}

impl From<LakeError> for CompactionError {
    fn from(err: LakeError) -> Self {
        CompactionError(err.to_string())
    }
}

/// Compacts the closed days of one tenant, or of every tenant under the root.
pub async fn compact_objects(
    objects: &dyn LakeObjects,
    tenant: Option<&TenantId>,
    options: &CompactionOptions,
) -> Result<CompactionReport, CompactionError> {
    let tenants = match tenant {
        Some(tenant) => vec![tenant.clone()],
        None => objects.children("").await?.iter().filter_map(|name| TenantId::parse(name).ok()).collect(),
    };
    let mut report = CompactionReport::default();
    for tenant in &tenants {
        compact_tenant(objects, tenant, options, &mut report).await?;
    }
    Ok(report)
}

/// The day a batch key names: `{tenant}/{dataset}/year=YYYY/month=MM/day=DD/batch-….json`.
fn day_of(key: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = key.split('/').collect();
    let [_, _, year, month, day, file] = parts.as_slice() else { return None };
    if !file.ends_with(".json") {
        return None;
    }
    let value = |part: &str, name: &str| part.strip_prefix(name)?.strip_prefix('=')?.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(value(year, "year")?).ok()?, value(month, "month")?, value(day, "day")?)
}

async fn compact_tenant(
    objects: &dyn LakeObjects,
    tenant: &TenantId,
    options: &CompactionOptions,
    report: &mut CompactionReport,
) -> Result<(), CompactionError> {
    let key = manifest_key(tenant);
    let manifest = CompactionManifest::parse(objects.get(&key).await?.as_deref(), &key)?;
    let mut run = TenantRun { objects, tenant, options, manifest, report };
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    for dataset in Dataset::ALL {
        let mut periods: BTreeMap<Period, Vec<(LakeObject, NaiveDate)>> = BTreeMap::new();
        for object in objects.list(&format!("{tenant}/{}/", dataset.name())).await? {
            let Some(date) = day_of(&object.key) else { continue };
            listed.insert(object.key.clone(), object.size);
            if date < options.before {
                periods.entry(Period::for_closed_day(date, options.before)).or_default().push((object, date));
            }
        }
        // Days compacted alone whose month has closed since: merged even with nothing new.
        for unit in run.manifest.units_of(dataset) {
            if let Period::Day(date) = unit.period {
                let now_in = Period::for_closed_day(date, options.before);
                if now_in != unit.period {
                    periods.entry(now_in).or_default();
                }
            }
        }
        for (period, batches) in periods {
            let covered: Vec<&CompactedUnit> =
                run.manifest.units_of(dataset).filter(|u| period.covers(u.period)).collect();
            let folded = |object: &LakeObject| {
                covered.iter().any(|unit| unit.folded.iter().any(|f| f.key == object.key && f.size == object.size))
            };
            let has_news = batches.iter().any(|(object, _)| !folded(object));
            let is_whole = matches!(covered.as_slice(), [unit] if unit.period == period);
            if has_news || !is_whole {
                run.compact_period(dataset, period, &batches).await?;
            }
        }
    }
    run.remove_superseded(&listed).await
}

/// One tenant's run: its objects, its manifest as the run changes it, and what it did.
struct TenantRun<'a> {
    objects: &'a dyn LakeObjects,
    tenant: &'a TenantId,
    options: &'a CompactionOptions,
    manifest: CompactionManifest,
    report: &'a mut CompactionReport,
}

impl TenantRun<'_> {
    /// Reads a period's rows (its compacted objects and its batches), writes them once into
    /// one Parquet object, and switches the manifest to it.
    async fn compact_period(
        &mut self,
        dataset: Dataset,
        period: Period,
        batches: &[(LakeObject, NaiveDate)],
    ) -> Result<(), CompactionError> {
        let schema = compacted_schema(dataset);
        let covered: Vec<CompactedUnit> =
            self.manifest.units_of(dataset).filter(|u| period.covers(u.period)).cloned().collect();
        let mut parts = Vec::new();
        for unit in &covered {
            let bytes = self.objects.get(&unit.parquet).await?.ok_or_else(|| {
                CompactionError(format!("the manifest names {} for {}, and it is missing", unit.parquet, unit.period))
            })?;
            parts.extend(read_parquet(bytes, &unit.parquet)?);
        }
        let mut read = Vec::new();
        for (object, date) in batches {
            // Gone since the listing: its rows are in a unit already (a run removed it).
            let Some(bytes) = self.objects.get(&object.key).await? else { continue };
            self.report.json_bytes += bytes.len() as u64;
            read.push(FoldedBatch { key: object.key.clone(), size: bytes.len() as u64 });
            parts.extend(read_json(bytes, &object.key, dataset, *date)?);
        }
        let all = concat_batches(&schema, &parts).map_err(|e| fail("cannot merge the period's rows")(&e))?;
        let (rows, dropped) = once_each(&all, dataset)?;
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let (year, month) = period.year_month();
        let parquet = format!(
            "{}{period}-{}.parquet",
            compacted_prefix(self.tenant, dataset, year, month),
            rows_digest(&rows, dataset)?
        );
        let body = parquet_bytes(&rows)?;
        self.report.parquet_bytes += body.len() as u64;
        self.objects.put(&parquet, body).await?;
        let days = by_day(&rows, period)?;
        if dataset == Dataset::Purchases {
            for (date, indices) in &days {
                let summary = daily_summary(*date, &select(&rows, indices)?)?;
                self.objects.put(&format!("{}/{}", self.tenant, summary_path(*date)), parquet_bytes(&summary)?).await?;
            }
        }

        // The switch: one put of the manifest.
        let mut folded: BTreeMap<String, u64> =
            covered.iter().flat_map(|unit| unit.folded.iter().map(|f| (f.key.clone(), f.size))).collect();
        folded.extend(read.into_iter().map(|f| (f.key, f.size)));
        self.manifest.units.retain(|unit| !(unit.dataset == dataset && period.covers(unit.period)));
        self.manifest.units.push(CompactedUnit {
            dataset,
            period,
            parquet: parquet.clone(),
            rows: rows.num_rows(),
            folded: folded.into_iter().map(|(key, size)| FoldedBatch { key, size }).collect(),
            compacted_at: self.options.now,
        });
        self.manifest.units.sort_by_key(|unit| (unit.dataset, unit.period));
        for unit in covered.iter().filter(|unit| unit.parquet != parquet) {
            self.manifest.retired.push(RetiredObject { key: unit.parquet.clone(), retired_at: self.options.now });
        }
        self.objects.put(&manifest_key(self.tenant), self.manifest.to_bytes()).await?;
        self.report.days += days.len();
        self.report.records += rows.num_rows();
        self.report.duplicates_dropped += dropped;
        Ok(())
    }

    /// Deletes what only readers of an older manifest could need once they are all done:
    /// superseded Parquet objects, and batches folded into a unit (unless rewritten since,
    /// when they are news for the next run). The manifest forgets them after they are gone.
    async fn remove_superseded(&mut self, listed: &BTreeMap<String, u64>) -> Result<(), CompactionError> {
        let cutoff = self.options.now - self.options.keep_superseded_for;
        let mut doomed: BTreeSet<String> =
            self.manifest.retired.iter().filter(|r| r.retired_at <= cutoff).map(|r| r.key.clone()).collect();
        for unit in self.manifest.units.iter().filter(|unit| unit.compacted_at <= cutoff) {
            for batch in &unit.folded {
                if listed.get(&batch.key).is_none_or(|size| *size == batch.size) {
                    doomed.insert(batch.key.clone());
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = doomed.iter().cloned().collect();
        self.objects.delete(&keys).await?;
        self.manifest.retired.retain(|r| !doomed.contains(&r.key));
        for unit in &mut self.manifest.units {
            unit.folded.retain(|batch| !doomed.contains(&batch.key));
        }
        self.objects.put(&manifest_key(self.tenant), self.manifest.to_bytes()).await?;
        Ok(())
    }
}

fn read_parquet(bytes: Vec<u8>, key: &str) -> Result<Vec<RecordBatch>, CompactionError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .and_then(|builder| builder.build())
        .map_err(|e| fail(key)(&e))?;
    reader.map(|batch| batch.map_err(|e| fail(key)(&e))).collect()
}

/// A batch's rows, each with the day its key names.
fn read_json(
    bytes: Vec<u8>,
    key: &str,
    dataset: Dataset,
    date: NaiveDate,
) -> Result<Vec<RecordBatch>, CompactionError> {
    let reader = ReaderBuilder::new(file_schema(dataset)).build(Cursor::new(bytes)).map_err(|e| fail(key)(&e))?;
    reader.map(|batch| with_day(batch.map_err(|e| fail(key)(&e))?, date)).collect()
}
