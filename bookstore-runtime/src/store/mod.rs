//! The `Store` port: the seven tables of SPEC §4 (plus idempotency records), their
//! keys and global secondary indexes, conditional writes and transactions. What a write
//! to a streamed table produced is read through the change-feed port (`crate::changes`).
//!
//! Guarantees every adapter keeps (the conformance suite checks them):
//! - every key begins with the tenant (`keys` builds them; nothing else may);
//! - a write whose condition fails changes nothing and says which condition failed;
//! - `transact_write` applies all of its actions or none.

pub mod keys;
pub mod projection;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored item: attribute name → value, including the key and index attributes.
pub type Item = Map<String, Value>;

/// The tables of SPEC §4, plus `Idempotency` (checkout idempotency keys) and `RateLimits`
/// (the uses of each rate budget per window, shared by every instance of the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Users,
    Books,
    UserFavorites,
    UserWishlist,
    ShoppingCart,
    Purchases,
    Tenants,
    Idempotency,
    RateLimits,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::Users,
        Table::Books,
        Table::UserFavorites,
        Table::UserWishlist,
        Table::ShoppingCart,
        Table::Purchases,
        Table::Tenants,
        Table::Idempotency,
        Table::RateLimits,
    ];

    /// The table's place in `Table::ALL`, for per-table arrays.
    pub fn ordinal(self) -> usize {
        // `ALL` lists the variants in declaration order; a test holds the two together.
        self as usize
    }

    /// The table's base name (the stage prefix is added by the deployment).
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Books => "books",
            Table::UserFavorites => "user_favorites",
            Table::UserWishlist => "user_wishlist",
            Table::ShoppingCart => "shopping_cart",
            Table::Purchases => "purchases",
            Table::Tenants => "tenants",
            Table::Idempotency => "idempotency",
            Table::RateLimits => "rate_limits",
        }
    }

    /// The table's name in a stage: `{prefix}-{name}`, as the template renders it.
    pub fn stage_name(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name())
    }

    /// Whether the table has a stream (NEW_AND_OLD_IMAGES) feeding change-data capture.
    pub fn has_stream(self) -> bool {
        matches!(self, Table::Books | Table::Purchases)
    }

    /// The attribute (epoch seconds) after which DynamoDB's TTL may delete an item.
    pub fn ttl_attribute(self) -> Option<&'static str> {
        match self {
            Table::Idempotency | Table::RateLimits => Some(TTL_ATTRIBUTE),
            _ => None,
        }
    }

    /// The global secondary indexes defined on the table.
    pub fn indexes(self) -> &'static [Index] {
        match self {
            Table::Users => &[Index::Gsi1],
            Table::Books => &[Index::Gsi1, Index::Gsi2, Index::Gsi3],
            Table::Purchases => &[Index::Gsi1],
            _ => &[],
        }
    }
}

/// Items carrying this attribute expire (epoch seconds): idempotency and rate-window rows.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// A global secondary index. Its key attributes are `gsiNpk` / `gsiNsk` on the item;
/// an item without them is not in the index (a sparse index, as in DynamoDB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Index {
    Gsi1,
    Gsi2,
    Gsi3,
}

impl Index {
    pub fn pk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
            Index::Gsi3 => "gsi3pk",
        }
    }
    pub fn sk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
            Index::Gsi3 => "gsi3sk",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "GSI1",
            Index::Gsi2 => "GSI2",
            Index::Gsi3 => "GSI3",
        }
    }
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// Reads the key attributes of an item.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key::new(item.get("pk")?.as_str()?, item.get("sk")?.as_str()?))
    }
}

/// A condition on the current item, checked atomically with the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    /// The attribute exists and equals the value.
    Equals(String, Value),
    /// The attribute is a number ≥ the value.
    AtLeast(String, i64),
    /// The attribute, counting an absent one (or an absent item) as 0, is a number below
    /// the value: a counter that `UpdateAction::Add` has not yet taken to the value.
    Below(String, i64),
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    /// Evaluates the condition against the current item (`None` when absent).
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::Exists => current.is_some(),
            Condition::NotExists => current.is_none(),
            Condition::Equals(attr, value) => current.and_then(|i| i.get(attr)) == Some(value),
            Condition::AtLeast(attr, min) => {
                current.and_then(|i| i.get(attr)).and_then(Value::as_i64).is_some_and(|n| n >= *min)
            }
            Condition::Below(attr, max) => match current.and_then(|i| i.get(attr)) {
                None => 0 < *max,
                Some(value) => value.as_i64().is_some_and(|n| n < *max),
            },
            Condition::All(all) => all.iter().all(|c| c.holds(current)),
        }
    }
}

/// One change of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// Set the attribute to the value.
    Set(String, Value),
    /// Add a signed delta to a numeric attribute (absent counts as 0).
    Add(String, i64),
    /// Remove the attribute.
    Remove(String),
}

/// Applies update actions to an item in place. Fails when `Add` meets a non-number.
pub fn apply_update(item: &mut Item, actions: &[UpdateAction]) -> Result<(), StoreError> {
    for action in actions {
        match action {
            UpdateAction::Set(attr, value) => {
                item.insert(attr.clone(), value.clone());
            }
            UpdateAction::Add(attr, delta) => {
                let current = match item.get(attr) {
                    None => 0,
                    Some(v) => {
                        v.as_i64().ok_or_else(|| StoreError::Invalid(format!("attribute {attr} is not an integer")))?
                    }
                };
                let next = current
                    .checked_add(*delta)
                    .ok_or_else(|| StoreError::Invalid(format!("attribute {attr} overflows")))?;
                item.insert(attr.clone(), Value::from(next));
            }
            UpdateAction::Remove(attr) => {
                item.remove(attr);
            }
        }
    }
    Ok(())
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteAction {
    Put {
        table: Table,
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        table: Table,
        key: Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
    },
    Delete {
        table: Table,
        key: Key,
        condition: Option<Condition>,
    },
    /// Only checks a condition; writes nothing.
    Check {
        table: Table,
        key: Key,
        condition: Condition,
    },
}

impl WriteAction {
    pub fn table(&self) -> Table {
        match self {
            WriteAction::Put { table, .. }
            | WriteAction::Update { table, .. }
            | WriteAction::Delete { table, .. }
            | WriteAction::Check { table, .. } => *table,
        }
    }
    pub fn key(&self) -> Option<Key> {
        match self {
            WriteAction::Put { item, .. } => Key::of(item),
            WriteAction::Update { key, .. } | WriteAction::Delete { key, .. } | WriteAction::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// The most actions one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

/// How to select sort keys within a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyRange {
    All,
    BeginsWith(String),
    Between(String, String),
}

impl SortKeyRange {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKeyRange::All => true,
            SortKeyRange::BeginsWith(prefix) => sk.starts_with(prefix.as_str()),
            SortKeyRange::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        }
    }
}

/// A query over one partition of the table or of one of its indexes.
#[derive(Debug, Clone)]
pub struct Query {
    pub table: Table,
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SortKeyRange,
    /// Ascending by sort key when true.
    pub forward: bool,
    pub limit: Option<usize>,
    /// Resume after this item (the `last_evaluated` of the previous page).
    pub start_after: Option<Item>,
    /// A table query reads every acknowledged write when true (the default); false lets
    /// a backend answer from a replica that may trail by a moment, at half the cost on
    /// DynamoDB. Index queries are never consistent there, whatever this says.
    pub consistent: bool,
}

impl Query {
    pub fn table(table: Table, pk: impl Into<String>, sk: SortKeyRange) -> Self {
        Self { table, index: None, pk: pk.into(), sk, forward: true, limit: None, start_after: None, consistent: true }
    }
    pub fn index(table: Table, index: Index, pk: impl Into<String>, sk: SortKeyRange) -> Self {
        Self { index: Some(index), ..Self::table(table, pk, sk) }
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
    /// See `consistent`: for reads where a moment's lag is fine (a catalogue page).
    pub fn eventually_consistent(mut self) -> Self {
        self.consistent = false;
        self
    }
}

/// One page of a query. `last_evaluated` is set when more items may follow.
#[derive(Debug, Clone, Default)]
pub struct QueryPage {
    pub items: Vec<Item>,
    pub last_evaluated: Option<Item>,
}

/// An action of a cancelled transaction whose condition failed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCondition {
    /// The action's place in the transaction.
    pub position: usize,
    /// The item the condition was checked against (`None`: there was none).
    pub current: Option<Item>,
}

/// The most keys one `batch_get` takes (DynamoDB's `BatchGetItem` limit).
pub const MAX_BATCH_GET: usize = 100;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed on {table:?} {key:?}")]
    ConditionFailed { table: Table, key: Key },
    /// Which actions of a transaction failed their condition, each with the item as it
    /// was (DynamoDB's `CancellationReasons` with `ALL_OLD`), so a caller can say why
    /// without reading again.
    #[error("transaction cancelled: conditions failed at {:?}", failed.iter().map(|f| f.position).collect::<Vec<_>>())]
    TransactionCancelled { failed: Vec<FailedCondition> },
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The store port. Handlers hold an `Arc<dyn Store>`; adapters live in `embedded/`
/// (and `aws/` for DynamoDB).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, table: Table, key: &Key) -> Result<Option<Item>, StoreError>;
    async fn put(&self, table: Table, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;
    /// Applies the actions to the item (creating it when absent and the condition allows)
    /// and returns the new image.
    async fn update(
        &self,
        table: Table,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError>;
    /// Deletes the item and returns the old image (`None` when it was absent).
    async fn delete(&self, table: Table, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: Query) -> Result<QueryPage, StoreError>;
    /// One page of `query`, each item as its JSON text, for a reader that decodes straight
    /// into its record (`json_record`): the hot single-book read skips building a map. An
    /// adapter that keeps items as JSON answers with the stored bytes; this default encodes
    /// `query`'s items.
    async fn query_json(&self, query: Query) -> Result<Vec<Vec<u8>>, StoreError> {
        items_json(&self.query(query).await?.items)
    }
    /// The items at `keys` of one table, in the order asked (`None` where there is none):
    /// one round trip where the backend batches reads (`BatchGetItem`). Consistent like
    /// `get` when `consistent`, else possibly a moment behind (half the cost on DynamoDB).
    /// At most `MAX_BATCH_GET` keys; a key may appear twice.
    async fn batch_get(&self, table: Table, keys: &[Key], consistent: bool) -> Result<Vec<Option<Item>>, StoreError>;
    /// Applies every action or none (at most `MAX_TRANSACTION_ACTIONS`, one per item).
    async fn transact_write(&self, actions: Vec<WriteAction>) -> Result<(), StoreError>;
    /// `transact_write` named by `token` (1 to 36 characters, the same for every retry of
    /// one request): where a network may lose the answer to a call that succeeded
    /// (DynamoDB's `ClientRequestToken`), the retry succeeds without applying it again. An
    /// in-process store never loses an answer; this default is `transact_write`.
    async fn transact_write_once(&self, actions: Vec<WriteAction>, token: &str) -> Result<(), StoreError> {
        let _ = token;
        self.transact_write(actions).await
    }
}

/// A shared handle to a store adapter.
pub type SharedStore = Arc<dyn Store>;

/// Reads every page of a query.
pub async fn query_all(store: &dyn Store, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    loop {
        let page = store.query(query.clone()).await?;
        items.extend(page.items);
        match page.last_evaluated {
            Some(last) => query.start_after = Some(last),
            None => return Ok(items),
        }
    }
}

/// Checks a `batch_get` before touching data.
pub fn check_batch_get(keys: &[Key]) -> Result<(), StoreError> {
    if keys.len() > MAX_BATCH_GET {
        return Err(StoreError::Invalid(format!(
            "a batch read takes at most {MAX_BATCH_GET} keys, got {}",
            keys.len()
        )));
    }
    Ok(())
}

/// Checks what every adapter must refuse before touching data.
pub fn check_transaction(actions: &[WriteAction]) -> Result<(), StoreError> {
    if actions.is_empty() || actions.len() > MAX_TRANSACTION_ACTIONS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_ACTIONS} actions, got {}",
            actions.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for action in actions {
        let key = action.key().ok_or_else(|| StoreError::Invalid("item without pk/sk".to_owned()))?;
        if !seen.insert((action.table(), key)) {
            return Err(StoreError::Invalid("a transaction touches an item twice".to_owned()));
        }
    }
    Ok(())
}

/// Serialises a record into an item with its primary key and index keys.
pub fn record_item<T: Serialize>(
    record: &T,
    key: &Key,
    index_keys: &[(Index, String, String)],
) -> Result<Item, StoreError> {
    let Value::Object(mut item) =
        serde_json::to_value(record).map_err(|e| StoreError::Invalid(format!("record does not serialise: {e}")))?
    else {
        return Err(StoreError::Invalid("record is not an object".to_owned()));
    };
    item.insert("pk".to_owned(), Value::from(key.pk.clone()));
    item.insert("sk".to_owned(), Value::from(key.sk.clone()));
    for (index, pk, sk) in index_keys {
        item.insert(index.pk_attr().to_owned(), Value::from(pk.clone()));
        item.insert(index.sk_attr().to_owned(), Value::from(sk.clone()));
    }
    Ok(item)
}

/// Each item as JSON text: `Store::query_json` for adapters that hold items otherwise.
pub fn items_json(items: &[Item]) -> Result<Vec<Vec<u8>>, StoreError> {
    items
        .iter()
        .map(|item| serde_json::to_vec(item).map_err(|e| StoreError::Unavailable(format!("item to JSON: {e}"))))
        .collect()
}

/// A record from an item's JSON text (`Store::query_json`).
pub fn json_record<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(json)
        .map_err(|e| StoreError::Unavailable(format!("stored item does not match its record: {e}")))
}

/// Reads a record back from an item (key and index attributes are ignored).
pub fn item_record<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| StoreError::Unavailable(format!("stored item does not match its record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn a_tables_ordinal_is_its_place_in_all() {
        for (place, table) in Table::ALL.iter().enumerate() {
            assert_eq!(table.ordinal(), place, "{table:?}");
        }
    }
}
