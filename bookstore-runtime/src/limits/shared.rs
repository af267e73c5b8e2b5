//! Budgets counted in the store's `rate_limits` table, one row per budget and window, so
//! every instance serving the stage (each Lambda instance has its own memory) counts
//! against the same uses. A request costs one round trip: one conditional update, or one
//! transaction when it charges several budgets at once (a failed sign-in one more, to
//! count it). Rows expire by TTL once their
//! window has ended.

use super::{Budget, Charge, UsageCounter, refusal};
use crate::domain::TenantId;
use crate::error::Error;
use crate::store::{Condition, SharedStore, StoreError, TTL_ATTRIBUTE, Table, UpdateAction, WriteAction, keys};

/// The attribute counting a window's uses.
const USES: &str = "uses";
/// How long a window's row outlives the window (TTL deletes lazily in any case).
const KEEP_AFTER_WINDOW_SECONDS: u64 = 60;

/// The `UsageCounter` on the store shared by every instance of the stage.
pub struct SharedCounter {
    store: SharedStore,
}

impl SharedCounter {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }
}

fn window_key(tenant: &TenantId, budget: &Budget, now_ms: u64) -> crate::store::Key {
    keys::rate_window(tenant, &budget.subject.key_form(), budget.window(now_ms))
}

fn counted(budget: &Budget, now_ms: u64) -> Vec<UpdateAction> {
    let expires_at = budget.window_end(now_ms).div_ceil(1000) + KEEP_AFTER_WINDOW_SECONDS;
    vec![UpdateAction::Add(USES.to_owned(), 1), UpdateAction::Set(TTL_ATTRIBUTE.to_owned(), expires_at.into())]
}

fn has_a_use_left(budget: &Budget) -> Condition {
    Condition::Below(USES.to_owned(), i64::from(budget.limit))
}

#[async_trait::async_trait]
impl UsageCounter for SharedCounter {
    async fn admit(&self, tenant: &TenantId, charges: &[Charge], now_ms: u64) -> Result<(), Error> {
        let table = Table::RateLimits;
        if let [Charge::Use(budget)] = charges {
            let key = window_key(tenant, budget, now_ms);
            return match self.store.update(table, &key, counted(budget, now_ms), Some(has_a_use_left(budget))).await {
                Ok(_) => Ok(()),
                Err(StoreError::ConditionFailed { .. }) => Err(refusal([budget], now_ms)),
                Err(err) => Err(err.into()),
            };
        }
        let actions = charges
            .iter()
            .map(|charge| {
                let budget = charge.budget();
                let key = window_key(tenant, budget, now_ms);
                match charge {
                    Charge::Use(_) => WriteAction::Update {
                        table,
                        key,
                        actions: counted(budget, now_ms),
                        condition: Some(has_a_use_left(budget)),
                    },
                    Charge::Check(_) => WriteAction::Check { table, key, condition: has_a_use_left(budget) },
                }
            })
            .collect();
        match self.store.transact_write(actions).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCancelled { failed }) => {
                Err(refusal(failed.iter().filter_map(|f| charges.get(f.position)).map(Charge::budget), now_ms))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn count(&self, tenant: &TenantId, budgets: &[Budget], now_ms: u64) -> Result<(), Error> {
        let table = Table::RateLimits;
        let result = match budgets {
            [] => return Ok(()),
            [budget] => {
                let key = window_key(tenant, budget, now_ms);
                self.store.update(table, &key, counted(budget, now_ms), None).await.map(drop)
            }
            _ => {
                let updates = budgets.iter().map(|budget| WriteAction::Update {
                    table,
                    key: window_key(tenant, budget, now_ms),
                    actions: counted(budget, now_ms),
                    condition: None,
                });
                self.store.transact_write(updates.collect()).await
            }
        };
        result.map_err(Error::from)
    }
}
