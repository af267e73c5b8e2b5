//! The `Store` port on redb: one redb table per store table, one per global secondary
//! index, and a change log, all written in the same redb transaction.
//!
//! Writes go through a single writer thread that commits groups of requests in one
//! redb transaction (group commit): each request still checks its own conditions and
//! applies all or nothing, but many share one fsync, which is what lets checkouts
//! outrun the disk's fsync rate. Reads use redb's MVCC snapshots and never wait for it.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use chrono::Utc;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use tokio::sync::{oneshot, watch};

use super::partition_cache::{self, Partition, PartitionCache, Row};

use super::change_log;
use crate::changes::{ChangeKind, ChangeRecord};
use crate::store::{
    Condition, FailedCondition, Index, Item, Key, Query, QueryPage, SortKeyRange, Store, StoreError, Table,
    UpdateAction, WriteAction, apply_update, check_batch_get, check_transaction, items_json,
};

type ItemTable = TableDefinition<'static, (&'static str, &'static str), &'static [u8]>;
type IndexTable = TableDefinition<'static, (&'static str, &'static str, &'static str, &'static str), ()>;

/// The most requests committed together; bounds the latency one fsync adds to each.
const MAX_GROUP: usize = 512;
/// redb's page cache. Its default (1 GiB) is meant for a dedicated database server;
/// a laptop stage's whole working set fits in a fraction of this.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Sorts after any character a key can hold.
const KEY_END: &str = "\u{10FFFF}";

fn items_table(table: Table) -> ItemTable {
    TableDefinition::new(match table {
        Table::Users => "items:users",
        Table::Books => "items:books",
        Table::UserFavorites => "items:user_favorites",
        Table::UserWishlist => "items:user_wishlist",
        Table::ShoppingCart => "items:shopping_cart",
        Table::Purchases => "items:purchases",
        Table::Tenants => "items:tenants",
        Table::Idempotency => "items:idempotency",
        Table::RateLimits => "items:rate_limits",
    })
}

fn index_table(table: Table, index: Index) -> IndexTable {
    TableDefinition::new(match (table, index) {
        (Table::Users, Index::Gsi1) => "gsi:users:GSI1",
        (Table::Books, Index::Gsi1) => "gsi:books:GSI1",
        (Table::Books, Index::Gsi2) => "gsi:books:GSI2",
        (Table::Books, Index::Gsi3) => "gsi:books:GSI3",
        (Table::Purchases, Index::Gsi1) => "gsi:purchases:GSI1",
        _ => "gsi:undefined",
    })
}

fn check_limit(query: &Query) -> Result<(), StoreError> {
    if query.limit == Some(0) {
        return Err(StoreError::Invalid("query limit must be at least 1".into()));
    }
    Ok(())
}

fn storage(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| storage(format!("corrupt item: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(storage)
}

fn index_entry(item: &Item, index: Index) -> Option<(String, String)> {
    let pk = item.get(index.pk_attr())?.as_str()?;
    let sk = item.get(index.sk_attr())?.as_str()?;
    Some((pk.to_owned(), sk.to_owned()))
}

/// The (old, new) images of each action of a write request.
type Images = Vec<(Option<Item>, Option<Item>)>;

/// A group of writes to commit; `outcome` gets one (old, new) image pair per action.
struct WriteRequest {
    actions: Vec<WriteAction>,
    outcome: oneshot::Sender<Result<Images, StoreError>>,
}

/// The embedded store: a redb file under the data directory, or memory for tests.
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// `None` only while dropping, so the writer thread sees its channel close.
    writer: Option<mpsc::Sender<WriteRequest>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// The sequence number of the newest committed change record.
    committed: Arc<watch::Sender<u64>>,
    latest: Arc<LatestView>,
    partitions: Arc<PartitionCache>,
}

impl Drop for EmbeddedStore {
    /// Waits for the writer to finish what it holds, so the file is closed on return.
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| storage(format!("cannot open {}: {e}", path.display())))?;
        Self::start(db)
    }

    /// A store that lives in memory only.
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).map_err(storage)?;
        Self::start(db)
    }

    fn start(db: Database) -> Result<Self, StoreError> {
        let db = Arc::new(db);
        create_tables(&db)?;
        let last = change_log::last_sequence(&db)?;
        let committed = Arc::new(watch::Sender::new(last));
        let latest = Arc::new(LatestView::default());
        latest.refresh(&db, 0);
        let partitions = Arc::new(PartitionCache::default());
        let (writer, requests) = mpsc::channel::<WriteRequest>();
        let published = Published {
            committed: Arc::clone(&committed),
            latest: Arc::clone(&latest),
            partitions: Arc::clone(&partitions),
        };
        let writer_db = Arc::clone(&db);
        let writer_thread = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || run_writer(&writer_db, requests, last + 1, &published))
            .map_err(storage)?;
        Ok(Self { db, writer: Some(writer), writer_thread: Some(writer_thread), committed, latest, partitions })
    }

    async fn write(&self, actions: Vec<WriteAction>) -> Result<Images, StoreError> {
        let (outcome, answer) = oneshot::channel();
        self.writer
            .as_ref()
            .ok_or_else(|| storage("store is closing"))?
            .send(WriteRequest { actions, outcome })
            .map_err(|_| storage("store writer has stopped"))?;
        answer.await.map_err(|_| storage("store writer has stopped"))?
    }

    fn read_item(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        let view = self.latest.current(&self.db)?;
        if let Partition::Rows(rows) = self.partition(&view, table, &key.pk)? {
            let found = rows.binary_search_by(|row| (*row.sk).cmp(key.sk.as_str())).ok();
            return found.map(|at| decode(&rows[at].json)).transpose();
        }
        let found = view.table(table)?.get((key.pk.as_str(), key.sk.as_str())).map_err(storage)?;
        found.map(|v| decode(v.value())).transpose()
    }

    /// The partition from the cache, or read whole from `view` (and cached when the view
    /// is the shared one).
    fn partition(&self, view: &ItemView, table: Table, pk: &str) -> Result<Partition, StoreError> {
        if let Some(known) = self.partitions.get(table, pk) {
            return Ok(known);
        }
        let mut rows = Vec::new();
        let mut bytes = 0;
        let mut too_large = false;
        for stored in view.table(table)?.range((pk, "")..=(pk, KEY_END)).map_err(storage)? {
            let (key, value) = stored.map_err(storage)?;
            let row = Row { sk: key.value().1.into(), json: value.value().into() };
            bytes += row.sk.len() + row.json.len();
            if rows.len() == partition_cache::MAX_ROWS || bytes > partition_cache::MAX_PARTITION_BYTES {
                too_large = true;
                break;
            }
            rows.push(row);
        }
        let partition = if too_large { Partition::TooLarge } else { Partition::Rows(rows.into()) };
        if let Some(generation) = view.generation {
            self.partitions.fill(generation, table, pk, partition.clone());
        }
        Ok(partition)
    }
}

type ItemReader = redb::ReadOnlyTable<(&'static str, &'static str), &'static [u8]>;

/// One committed state of the store, shared by all readers (item reads, and index queries
/// through `txn`), with each item table opened on first use: a `begin_read` and an
/// `open_table` per read were a third of a book read's store time.
struct ItemView {
    txn: redb::ReadTransaction,
    /// Which commit the shared view shows (counted from the store's opening); `None` for
    /// a view of a reader's own, which never fills the partition cache.
    generation: Option<u64>,
    /// In `Table::ALL` order.
    tables: [std::sync::OnceLock<ItemReader>; Table::ALL.len()],
}

impl ItemView {
    fn open(db: &Database, generation: Option<u64>) -> Result<Self, StoreError> {
        Ok(Self { txn: db.begin_read().map_err(storage)?, generation, tables: Default::default() })
    }

    fn table(&self, table: Table) -> Result<&ItemReader, StoreError> {
        let slot = &self.tables[table.ordinal()];
        if let Some(opened) = slot.get() {
            return Ok(opened);
        }
        let opened = self.txn.open_table(items_table(table)).map_err(storage)?;
        Ok(slot.get_or_init(|| opened))
    }
}

/// The newest `ItemView`. The writer thread replaces it after every commit and before it
/// answers the commit's writers, so a read that starts after a write was acknowledged sees
/// it; `None` (a view that could not be opened) sends readers to a transaction of their own.
#[derive(Default)]
struct LatestView(std::sync::RwLock<Option<Arc<ItemView>>>);

impl LatestView {
    fn refresh(&self, db: &Database, generation: u64) {
        let view = match ItemView::open(db, Some(generation)) {
            Ok(view) => Some(Arc::new(view)),
            Err(err) => {
                tracing::error!(error = %err, "cannot open a read view; reads open their own");
                None
            }
        };
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = view;
    }

    fn current(&self, db: &Database) -> Result<Arc<ItemView>, StoreError> {
        let latest = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        match latest {
            Some(view) => Ok(view),
            None => ItemView::open(db, None).map(Arc::new),
        }
    }
}

fn create_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    for table in Table::ALL {
        txn.open_table(items_table(table)).map_err(storage)?;
        for index in table.indexes() {
            txn.open_table(index_table(table, *index)).map_err(storage)?;
        }
    }
    change_log::create_tables(&txn)?;
    txn.commit().map_err(storage)
}

/// What the writer thread tells readers after a commit.
struct Published {
    committed: Arc<watch::Sender<u64>>,
    latest: Arc<LatestView>,
    partitions: Arc<PartitionCache>,
}

fn run_writer(db: &Database, requests: mpsc::Receiver<WriteRequest>, mut next_sequence: u64, published: &Published) {
    let mut generation = 0;
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let sequence_before = next_sequence;
        match commit_group(db, &group, &mut next_sequence) {
            Ok(Committed { outcomes, written }) => {
                // Drop, then publish: once dropped, no reader finds or caches what the commit
                // replaced; the commit becomes visible with its view.
                generation += 1;
                published.partitions.invalidate(generation, written.iter().map(|(table, pk)| (*table, pk.as_str())));
                published.latest.refresh(db, generation);
                if next_sequence != sequence_before {
                    published.committed.send_replace(next_sequence - 1);
                }
                for (request, outcome) in group.into_iter().zip(outcomes) {
                    let _ = request.outcome.send(outcome);
                }
            }
            Err(err) => {
                next_sequence = sequence_before;
                tracing::error!(error = %err, "store commit failed");
                for request in group {
                    let _ = request.outcome.send(Err(err.clone()));
                }
            }
        }
    }
}

type Outcome = Result<Images, StoreError>;

/// A committed group: one outcome per request, and the partitions it wrote.
struct Committed {
    outcomes: Vec<Outcome>,
    written: Vec<(Table, String)>,
}

/// Applies each request of the group in order inside one redb transaction, then commits.
/// A request whose conditions fail is answered with its error and writes nothing; an
/// I/O error fails the whole group, and nothing of it is committed.
fn commit_group(db: &Database, group: &[WriteRequest], next_sequence: &mut u64) -> Result<Committed, StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut written = Vec::new();
    for request in group {
        let planned = match plan(&txn, &request.actions) {
            Ok(planned) => planned,
            Err(err) => {
                outcomes.push(Err(err));
                continue;
            }
        };
        let now = Utc::now();
        for (action, (old, new)) in request.actions.iter().zip(&planned) {
            if let WriteAction::Check { .. } = action {
                continue;
            }
            let key = action.key().ok_or_else(|| storage("item without key"))?;
            write_item(&txn, action.table(), &key, old.as_ref(), new.as_ref())?;
            written.push((action.table(), key.pk.clone()));
            if action.table().has_stream() && (old.is_some() || new.is_some()) {
                let record = ChangeRecord {
                    sequence: change_log::sequence_text(*next_sequence),
                    table: action.table(),
                    kind: match (old, new) {
                        (None, _) => ChangeKind::Insert,
                        (Some(_), Some(_)) => ChangeKind::Modify,
                        (Some(_), None) => ChangeKind::Remove,
                    },
                    key,
                    old_image: old.clone(),
                    new_image: new.clone(),
                    at: now,
                };
                change_log::append(&txn, *next_sequence, &record)?;
                *next_sequence += 1;
            }
        }
        outcomes.push(Ok(planned));
    }
    txn.commit().map_err(storage)?;
    Ok(Committed { outcomes, written })
}

/// Reads the current images, checks every condition and computes the new images,
/// writing nothing. Single-action requests report `ConditionFailed`; transactions
/// report `TransactionCancelled` with the positions that failed.
fn plan(txn: &WriteTransaction, actions: &[WriteAction]) -> Result<Images, StoreError> {
    check_transaction(actions)?;
    let mut planned = Vec::with_capacity(actions.len());
    let mut failed = Vec::new();
    for (position, action) in actions.iter().enumerate() {
        let key = action.key().ok_or_else(|| StoreError::Invalid("item without pk/sk".into()))?;
        let current = {
            let items = txn.open_table(items_table(action.table())).map_err(storage)?;
            let found = items.get((key.pk.as_str(), key.sk.as_str())).map_err(storage)?;
            found.map(|v| decode(v.value())).transpose()?
        };
        let (condition, new) = match action {
            WriteAction::Put { item, condition, .. } => (condition.as_ref(), Some(item.clone())),
            WriteAction::Update { actions: updates, condition, .. } => {
                let mut item = current.clone().unwrap_or_else(|| key_item(&key));
                apply_update(&mut item, updates)?;
                keep_key(&mut item, &key);
                (condition.as_ref(), Some(item))
            }
            WriteAction::Delete { condition, .. } => (condition.as_ref(), None),
            WriteAction::Check { condition, .. } => (Some(condition), current.clone()),
        };
        if condition.is_some_and(|c| !c.holds(current.as_ref())) {
            failed.push(FailedCondition { position, current: current.clone() });
        }
        planned.push((current, new));
    }
    if failed.is_empty() { Ok(planned) } else { Err(StoreError::TransactionCancelled { failed }) }
}

/// A single write's failed condition, as `put`, `update` and `delete` report it.
fn single_write(table: Table, key: &Key, err: StoreError) -> StoreError {
    match err {
        StoreError::TransactionCancelled { .. } => StoreError::ConditionFailed { table, key: key.clone() },
        other => other,
    }
}

fn key_item(key: &Key) -> Item {
    let mut item = Item::new();
    keep_key(&mut item, key);
    item
}

fn keep_key(item: &mut Item, key: &Key) {
    item.insert("pk".into(), key.pk.clone().into());
    item.insert("sk".into(), key.sk.clone().into());
}

fn write_item(
    txn: &WriteTransaction,
    table: Table,
    key: &Key,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<(), StoreError> {
    {
        let mut items = txn.open_table(items_table(table)).map_err(storage)?;
        let k = (key.pk.as_str(), key.sk.as_str());
        match new {
            Some(item) => {
                items.insert(k, encode(item)?.as_slice()).map_err(storage)?;
            }
            None => {
                items.remove(k).map_err(storage)?;
            }
        }
    }
    for index in table.indexes() {
        let before = old.and_then(|i| index_entry(i, *index));
        let after = new.and_then(|i| index_entry(i, *index));
        if before == after {
            continue;
        }
        let mut entries = txn.open_table(index_table(table, *index)).map_err(storage)?;
        if let Some((gpk, gsk)) = &before {
            entries.remove((gpk.as_str(), gsk.as_str(), key.pk.as_str(), key.sk.as_str())).map_err(storage)?;
        }
        if let Some((gpk, gsk)) = &after {
            entries.insert((gpk.as_str(), gsk.as_str(), key.pk.as_str(), key.sk.as_str()), ()).map_err(storage)?;
        }
    }
    Ok(())
}

fn sort_bounds<'a>(range: &'a SortKeyRange, scratch: &'a mut String) -> (&'a str, &'a str) {
    match range {
        SortKeyRange::All => ("", KEY_END),
        SortKeyRange::BeginsWith(prefix) => {
            scratch.push_str(prefix);
            scratch.push_str(KEY_END);
            (prefix.as_str(), scratch.as_str())
        }
        SortKeyRange::Between(lo, hi) => (lo.as_str(), hi.as_str()),
    }
}

/// The sort keys a table query selects, after `start_after` when it continues a page.
fn sort_key_bounds<'a>(query: &'a Query, scratch: &'a mut String) -> (Bound<&'a str>, Bound<&'a str>) {
    let (lo, hi) = sort_bounds(&query.sk, scratch);
    let mut lower = Bound::Included(lo);
    let mut upper = Bound::Included(hi);
    if let Some(after) = &query.start_after {
        let sk = attr(after, "sk");
        if query.forward {
            lower = Bound::Excluded(sk);
        } else {
            upper = Bound::Excluded(sk);
        }
    }
    (lower, upper)
}

/// An item's stored JSON, borrowed from the partition cache or from redb.
trait StoredJson {
    fn json(&self) -> &[u8];
}

impl StoredJson for &[u8] {
    fn json(&self) -> &[u8] {
        self
    }
}

impl StoredJson for redb::AccessGuard<'_, &'static [u8]> {
    fn json(&self) -> &[u8] {
        self.value()
    }
}

/// Up to `query.limit` of `stored` through `row`, and whether more follow.
fn take_rows<T, J: StoredJson>(
    stored: impl Iterator<Item = Result<J, StoreError>>,
    query: &Query,
    mut row: impl FnMut(&[u8]) -> Result<T, StoreError>,
) -> Result<(Vec<T>, bool), StoreError> {
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut found = Vec::new();
    for json in stored {
        let json = json?;
        if found.len() == limit {
            return Ok((found, true));
        }
        found.push(row(json.json())?);
    }
    Ok((found, false))
}

fn attr<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_str()).unwrap_or("")
}

impl EmbeddedStore {
    fn query_table(&self, query: &Query) -> Result<QueryPage, StoreError> {
        let (items, more) = self.table_rows(query, decode)?;
        let last_evaluated = if more { items.last().cloned() } else { None };
        Ok(QueryPage { items, last_evaluated })
    }

    /// Up to `query.limit` rows of the table's key range, each through `row`, and whether
    /// more rows follow.
    fn table_rows<T>(
        &self,
        query: &Query,
        row: impl FnMut(&[u8]) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, bool), StoreError> {
        let view = self.latest.current(&self.db)?;
        let mut scratch = String::new();
        let (lower, upper) = sort_key_bounds(query, &mut scratch);
        if !bounds_ordered(&lower, &upper) {
            return Ok((Vec::new(), false));
        }
        let pk = query.pk.as_str();
        if let Partition::Rows(rows) = self.partition(&view, query.table, pk)? {
            let selects = |sk: &str| RangeBounds::<str>::contains(&(lower, upper), sk);
            let selected = rows.iter().filter(|stored| selects(&stored.sk)).map(|stored| Ok(&*stored.json));
            return if query.forward { take_rows(selected, query, row) } else { take_rows(selected.rev(), query, row) };
        }
        let range = view
            .table(query.table)?
            .range::<(&str, &str)>((lower.map(|sk| (pk, sk)), upper.map(|sk| (pk, sk))))
            .map_err(storage)?
            .map(|found| found.map(|(_, value)| value).map_err(storage));
        if query.forward { take_rows(range, query, row) } else { take_rows(range.rev(), query, row) }
    }

    fn query_index(&self, query: &Query, index: Index) -> Result<QueryPage, StoreError> {
        // The index entries and the items come from the same committed state.
        let view = self.latest.current(&self.db)?;
        let entries = view.txn.open_table(index_table(query.table, index)).map_err(storage)?;
        let items = view.table(query.table)?;
        let mut scratch = String::new();
        let (lo, hi) = sort_bounds(&query.sk, &mut scratch);
        let gpk = query.pk.as_str();
        let mut lower = Bound::Included((gpk, lo, "", ""));
        let mut upper = Bound::Included((gpk, hi, KEY_END, KEY_END));
        if let Some(after) = &query.start_after {
            let position = (gpk, attr(after, index.sk_attr()), attr(after, "pk"), attr(after, "sk"));
            if query.forward {
                lower = Bound::Excluded(position);
            } else {
                upper = Bound::Excluded(position);
            }
        }
        if !bounds_ordered(&lower, &upper) {
            return Ok(QueryPage::default());
        }
        let range = entries.range::<(&str, &str, &str, &str)>((lower, upper)).map_err(storage)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut page = QueryPage::default();
        let rows: Box<dyn Iterator<Item = _>> = if query.forward { Box::new(range) } else { Box::new(range.rev()) };
        for row in rows {
            let (entry, _) = row.map_err(storage)?;
            if page.items.len() == limit {
                page.last_evaluated = page.items.last().cloned();
                break;
            }
            let (_, _, pk, sk) = entry.value();
            if let Some(value) = items.get((pk, sk)).map_err(storage)? {
                page.items.push(decode(value.value())?);
            }
        }
        Ok(page)
    }
}

fn bounds_ordered<T: PartialOrd>(lower: &Bound<T>, upper: &Bound<T>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l <= u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => l < u,
        _ => true,
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read_item(table, key)
    }

    async fn put(&self, table: Table, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let key = Key::of(&item).unwrap_or_else(|| Key::new("", ""));
        self.write(vec![WriteAction::Put { table, item, condition }])
            .await
            .map(|_| ())
            .map_err(|e| single_write(table, &key, e))
    }

    async fn update(
        &self,
        table: Table,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        let action = WriteAction::Update { table, key: key.clone(), actions, condition };
        let mut images = self.write(vec![action]).await.map_err(|e| single_write(table, key, e))?;
        images.pop().and_then(|(_, new)| new).ok_or_else(|| storage("update produced no image"))
    }

    async fn delete(&self, table: Table, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        let mut images = self
            .write(vec![WriteAction::Delete { table, key: key.clone(), condition }])
            .await
            .map_err(|e| single_write(table, key, e))?;
        Ok(images.pop().and_then(|(old, _)| old))
    }

    async fn query(&self, query: Query) -> Result<QueryPage, StoreError> {
        check_limit(&query)?;
        match query.index {
            None => self.query_table(&query),
            Some(index) if query.table.indexes().contains(&index) => self.query_index(&query, index),
            Some(index) => {
                Err(StoreError::Invalid(format!("table {} has no index {}", query.table.name(), index.name())))
            }
        }
    }

    async fn query_json(&self, query: Query) -> Result<Vec<Vec<u8>>, StoreError> {
        check_limit(&query)?;
        match query.index {
            // Items are stored as JSON: hand the bytes over as they are.
            None => self.table_rows(&query, |json| Ok(json.to_vec())).map(|(rows, _)| rows),
            Some(_) => items_json(&self.query(query).await?.items),
        }
    }

    /// Always consistent: stronger than asked is allowed.
    async fn batch_get(&self, table: Table, keys: &[Key], _consistent: bool) -> Result<Vec<Option<Item>>, StoreError> {
        check_batch_get(keys)?;
        keys.iter().map(|key| self.read_item(table, key)).collect()
    }

    async fn transact_write(&self, actions: Vec<WriteAction>) -> Result<(), StoreError> {
        check_transaction(&actions)?;
        self.write(actions).await.map(|_| ())
    }
}

impl EmbeddedStore {
    /// How many items a table holds (for diagnostics and tests).
    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let items = txn.open_table(items_table(table)).map_err(storage)?;
        items.len().map_err(storage)
    }

    pub(super) fn database(&self) -> &Database {
        &self.db
    }

    /// Follows the newest committed sequence number.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }
}
