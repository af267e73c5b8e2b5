//! What compaction made of one tenant's lake on object storage (S3), as its manifest
//! says: which periods (closed days, closed months) are read from one Parquet object
//! instead of their JSON batches. The manifest is one object, replaced whole, so one put
//! moves a period from JSON to Parquet for every reader at once; `docs/lake-compaction.md`
//! says why (Athena reads one format per table) and what a reader does with it.
//!
//! No engine here: the Athena adapter reads the manifest to scope a query, and compaction
//! (`embedded::compact_objects`) writes it.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::domain::TenantId;

/// The manifest's key under the tenant.
pub fn manifest_key(tenant: &TenantId) -> String {
    format!("{tenant}/compacted/manifest.json")
}

/// The prefix of a dataset's compacted objects for one month:
/// `{tenant}/compacted/{dataset}/year=YYYY/month=MM/` (the Glue table's partition).
pub fn compacted_prefix(tenant: &TenantId, dataset: Dataset, year: i32, month: u32) -> String {
    format!("{tenant}/compacted/{}/year={year:04}/month={month:02}/", dataset.name())
}

/// A span of days compaction turns into one object: a closed day of a month still open,
/// or a whole closed month (its small days merged). Ordered by time, a month before its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day(NaiveDate),
    Month { year: i32, month: u32 },
}

impl Period {
    pub fn month_of(date: NaiveDate) -> Self {
        Period::Month { year: date.year(), month: date.month() }
    }

    pub fn year_month(self) -> (i32, u32) {
        match self {
            Period::Day(date) => (date.year(), date.month()),
            Period::Month { year, month } => (year, month),
        }
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        match self {
            Period::Day(day) => day == date,
            Period::Month { year, month } => date.year() == year && date.month() == month,
        }
    }

    /// Whether `other` lies inside this period (a period contains itself).
    pub fn covers(self, other: Period) -> bool {
        match (self, other) {
            (Period::Day(a), Period::Day(b)) => a == b,
            (Period::Month { .. }, Period::Day(day)) => self.contains(day),
            (Period::Month { .. }, Period::Month { .. }) => self == other,
            (Period::Day(_), Period::Month { .. }) => false,
        }
    }

    /// The unit a day compacts into when days before `before` are closed: its month once
    /// the whole month is, else the day alone.
    pub fn for_closed_day(date: NaiveDate, before: NaiveDate) -> Self {
        let next_month = if date.month() == 12 {
            NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
        };
        match next_month {
            Some(first) if first <= before => Period::month_of(date),
            _ => Period::Day(date),
        }
    }
}

impl Period {
    fn sort_key(self) -> (i32, u32, u32) {
        match self {
            Period::Day(date) => (date.year(), date.month(), date.day()),
            Period::Month { year, month } => (year, month, 0),
        }
    }
}

impl Ord for Period {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(date) => write!(f, "{date}"),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Period::Day(date));
        }
        let month = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
            .map_err(|_| format!("{text:?} is neither a day (YYYY-MM-DD) nor a month (YYYY-MM)"))?;
        Ok(Period::month_of(month))
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A JSON batch folded into a unit, as it was when read: a batch at this key with
/// another size was rewritten since, and is news for the next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldedBatch {
    pub key: String,
    pub size: u64,
}

/// One period of one dataset, read from one Parquet object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactedUnit {
    pub dataset: Dataset,
    pub period: Period,
    /// The Parquet object's key (named by its rows: the same rows make the same key).
    pub parquet: String,
    pub rows: usize,
    /// The batches read into it that still exist; deleted once no reader can need them.
    pub folded: Vec<FoldedBatch>,
    pub compacted_at: DateTime<Utc>,
}

/// An object no reader of the current manifest reads (a superseded Parquet object),
/// deleted once no reader of an older manifest can still be running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredObject {
    pub key: String,
    pub retired_at: DateTime<Utc>,
}

/// A tenant's compaction manifest (`{tenant}/compacted/manifest.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionManifest {
    pub units: Vec<CompactedUnit>,
    #[serde(default)]
    pub retired: Vec<RetiredObject>,
}

impl CompactionManifest {
    /// The manifest in an object's bytes; a missing object is an empty manifest.
    pub fn parse(bytes: Option<&[u8]>, key: &str) -> Result<Self, super::LakeError> {
        match bytes {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|err| super::LakeError::Unavailable(format!("{key}: not a compaction manifest: {err}"))),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data: always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The units of one dataset.
    pub fn units_of(&self, dataset: Dataset) -> impl Iterator<Item = &CompactedUnit> {
        self.units.iter().filter(move |unit| unit.dataset == dataset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn a_day_compacts_alone_until_its_whole_month_is_closed() {
        assert_eq!(Period::for_closed_day(day("2026-11-30"), day("2026-12-01")), Period::month_of(day("2026-11-01")));
        assert_eq!(Period::for_closed_day(day("2026-12-01"), day("2026-12-03")), Period::Day(day("2026-12-01")));
        assert_eq!(Period::for_closed_day(day("2025-12-31"), day("2026-01-01")).to_string(), "2025-12");
    }

    #[test]
    fn periods_read_back_as_written() {
        for text in ["2026-03", "2026-03-05"] {
            let period: Period = text.parse().expect("period");
            assert_eq!(period.to_string(), text);
        }
        assert!("2026-13".parse::<Period>().is_err());
        let month: Period = "2026-03".parse().expect("month");
        assert!(month.covers(Period::Day(day("2026-03-31"))));
        assert!(!month.covers(Period::Day(day("2026-04-01"))));
        assert!(!Period::Day(day("2026-03-05")).covers(month));
    }
}
