//! Small partitions of the item tables (a book, a tenant, a user's cart), kept in memory
//! between the commits that change them. A book read through redb walks two B-tree paths
//! under page-cache locks; from here it is one hash lookup.
//!
//! Staleness is ruled out by generations, not by timeouts. Every read view carries the
//! generation of the commit it shows. After each commit the writer thread drops the
//! partitions the commit wrote and raises the cache to the commit's generation, then
//! publishes the commit's view, and only then answers the writers. A reader fills the
//! cache only while the cache is at its own view's generation: what it read is no older
//! than the last drop, and the next commit that writes the partition drops it again.
//! Between a drop and its view, readers see the old state from redb, never a newer one
//! followed by an older one from here.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::store::Table;

/// Partitions with more rows than this are read from redb every time (a customer's
/// purchase history, an index-sized scan): they are rarely read whole.
pub(super) const MAX_ROWS: usize = 32;
/// Nor are partitions larger than this.
pub(super) const MAX_PARTITION_BYTES: usize = 64 * 1024;
/// Past this, the cache starts over empty: the demo's 3,000 books take about 4 MB.
const MAX_CACHED_BYTES: usize = 16 * 1024 * 1024;
/// Accounting per row beyond its keys and value (allocation headers, the row itself).
const ROW_OVERHEAD: usize = 64;

/// One stored item of a partition: its sort key and its JSON, as redb holds them.
#[derive(Debug, PartialEq)]
pub(super) struct Row {
    pub sk: Box<str>,
    pub json: Box<[u8]>,
}

/// A partition as the cache knows it.
#[derive(Debug, Clone)]
pub(super) enum Partition {
    /// Every row, in sort-key order.
    Rows(Arc<[Row]>),
    /// More than `MAX_ROWS` rows or `MAX_PARTITION_BYTES`: read it from redb.
    TooLarge,
}

impl Partition {
    fn bytes(&self, pk: &str) -> usize {
        let rows = match self {
            Partition::Rows(rows) => rows.iter().map(|row| row.sk.len() + row.json.len() + ROW_OVERHEAD).sum(),
            Partition::TooLarge => 0,
        };
        pk.len() + ROW_OVERHEAD + rows
    }
}

#[derive(Default)]
struct Cached {
    /// The generation of the newest commit whose writes have been dropped.
    generation: u64,
    /// In `Table::ALL` order, keyed by partition key.
    tables: [HashMap<Box<str>, Partition>; Table::ALL.len()],
    bytes: usize,
}

impl Cached {
    fn table(&mut self, table: Table) -> &mut HashMap<Box<str>, Partition> {
        &mut self.tables[table.ordinal()]
    }
}

#[derive(Default)]
pub(super) struct PartitionCache(RwLock<Cached>);

impl PartitionCache {
    fn read(&self) -> RwLockReadGuard<'_, Cached> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Cached> {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, table: Table, pk: &str) -> Option<Partition> {
        self.read().tables[table.ordinal()].get(pk).cloned()
    }

    /// Keeps `partition`, read from the view of `generation`, unless a later commit has
    /// dropped partitions since (its writes may not be in what was read).
    pub fn fill(&self, generation: u64, table: Table, pk: &str, partition: Partition) {
        let mut cached = self.write();
        if cached.generation != generation {
            return;
        }
        let bytes = partition.bytes(pk);
        if cached.bytes + bytes > MAX_CACHED_BYTES {
            cached.tables.iter_mut().for_each(HashMap::clear);
            cached.bytes = 0;
        }
        cached.bytes += bytes;
        if let Some(replaced) = cached.table(table).insert(pk.into(), partition) {
            cached.bytes -= replaced.bytes(pk);
        }
    }

    /// Called by the writer after the commit of `generation`, before its view is
    /// published: drops every partition that commit wrote. A `TooLarge` mark stays: it
    /// holds no data that could go stale, and a busy customer's history would otherwise be
    /// scanned again after each of their checkouts.
    pub fn invalidate<'a>(&self, generation: u64, written: impl IntoIterator<Item = (Table, &'a str)>) {
        let mut cached = self.write();
        cached.generation = generation;
        for (table, pk) in written {
            let partitions = cached.table(table);
            if matches!(partitions.get(pk), Some(Partition::Rows(_)))
                && let Some(dropped) = partitions.remove(pk)
            {
                cached.bytes -= dropped.bytes(pk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(json: &str) -> Partition {
        Partition::Rows(Arc::from(vec![Row { sk: "BOOK#1".into(), json: json.as_bytes().into() }]))
    }

    fn json_of(partition: Option<Partition>) -> Option<String> {
        match partition? {
            Partition::Rows(rows) => Some(String::from_utf8(rows[0].json.to_vec()).expect("test rows are text")),
            Partition::TooLarge => None,
        }
    }

    #[test]
    fn a_fill_from_an_older_view_than_the_last_commit_is_refused() {
        let cache = PartitionCache::default();
        cache.invalidate(1, [(Table::Books, "t#b")]);
        cache.fill(0, Table::Books, "t#b", rows("old"));
        assert!(cache.get(Table::Books, "t#b").is_none());
        cache.fill(1, Table::Books, "t#b", rows("new"));
        assert_eq!(json_of(cache.get(Table::Books, "t#b")).as_deref(), Some("new"));
    }

    #[test]
    fn a_commit_drops_only_the_partitions_it_wrote() {
        let cache = PartitionCache::default();
        cache.fill(0, Table::Books, "t#a", rows("a"));
        cache.fill(0, Table::Books, "t#b", rows("b"));
        cache.fill(0, Table::Users, "t#a", rows("user"));
        cache.invalidate(1, [(Table::Books, "t#a")]);
        assert!(cache.get(Table::Books, "t#a").is_none());
        assert_eq!(json_of(cache.get(Table::Books, "t#b")).as_deref(), Some("b"));
        assert_eq!(json_of(cache.get(Table::Users, "t#a")).as_deref(), Some("user"));
    }

    #[test]
    fn a_partition_too_large_to_hold_stays_marked_across_writes() {
        let cache = PartitionCache::default();
        cache.fill(0, Table::Purchases, "t#u", Partition::TooLarge);
        cache.invalidate(1, [(Table::Purchases, "t#u")]);
        assert!(matches!(cache.get(Table::Purchases, "t#u"), Some(Partition::TooLarge)));
    }

    #[test]
    fn the_cache_starts_over_when_full_and_keeps_its_count() {
        let cache = PartitionCache::default();
        let big = "x".repeat(MAX_PARTITION_BYTES);
        let count = MAX_CACHED_BYTES / MAX_PARTITION_BYTES + 1;
        let pks: Vec<String> = (0..count).map(|n| format!("t#{n}")).collect();
        for pk in &pks {
            cache.fill(0, Table::Books, pk, rows(&big));
        }
        assert!(cache.get(Table::Books, &pks[0]).is_none(), "the first partition went when the cache filled");
        assert!(cache.get(Table::Books, &pks[count - 1]).is_some());
        let held = cache.read().bytes;
        assert!(held <= MAX_CACHED_BYTES, "{held} bytes held");
        cache.invalidate(1, pks.iter().map(|pk| (Table::Books, pk.as_str())));
        assert_eq!(cache.read().bytes, 0);
    }
}
