//! Budgets counted in this process's memory: right where one process serves the stage
//! (`bookstore up` on the embedded store), and free of round trips.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Budget, Charge, Subject, UsageCounter, refusal};
use crate::domain::TenantId;
use crate::error::Error;

/// Past this many counted subjects of one tenant (or tenants, as `X-Tenant-Id` names
/// them before the tenant is known to exist), the ones whose windows have all ended are
/// forgotten, so a flood of addresses or names cannot grow the maps without end.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    index: u64,
    window_ms: u64,
    uses: u32,
}

impl Window {
    fn is_open(&self, now_ms: u64) -> bool {
        (self.index + 1) * self.window_ms > now_ms
    }

    /// The uses this window holds for `budget` at `now_ms`: none once it has ended.
    fn uses_at(&self, budget: &Budget, now_ms: u64) -> u32 {
        if self.index == budget.window(now_ms) && self.window_ms == budget.window_ms { self.uses } else { 0 }
    }
}

/// The `UsageCounter` of one process. Tenant first, so the hot path (a route class's
/// budget of a known tenant) looks up by reference and allocates nothing.
#[derive(Debug, Default)]
pub struct ProcessCounter {
    windows: Mutex<HashMap<TenantId, HashMap<Subject, Window>>>,
}

impl ProcessCounter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl UsageCounter for ProcessCounter {
    async fn admit(&self, tenant: &TenantId, charges: &[Charge], now_ms: u64) -> Result<(), Error> {
        let mut tenants = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !tenants.contains_key(tenant) {
            if tenants.len() > PRUNE_ABOVE {
                tenants.retain(|_, windows| windows.values().any(|window| window.is_open(now_ms)));
            }
            tenants.insert(tenant.clone(), HashMap::new());
        }
        let Some(windows) = tenants.get_mut(tenant) else { return Ok(()) };
        let uses = |windows: &HashMap<Subject, Window>, budget: &Budget| {
            windows.get(&budget.subject).map_or(0, |window| window.uses_at(budget, now_ms))
        };
        let spent: Vec<&Budget> =
            charges.iter().map(Charge::budget).filter(|budget| uses(windows, budget) >= budget.limit).collect();
        if !spent.is_empty() {
            return Err(refusal(spent, now_ms));
        }
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, window| window.is_open(now_ms));
        }
        for charge in charges {
            let Charge::Use(budget) = charge else { continue };
            let next =
                Window { index: budget.window(now_ms), window_ms: budget.window_ms, uses: uses(windows, budget) + 1 };
            match windows.get_mut(&budget.subject) {
                Some(window) => *window = next,
                None => {
                    windows.insert(budget.subject.clone(), next);
                }
            }
        }
        Ok(())
    }

    async fn count(&self, tenant: &TenantId, budgets: &[Budget], now_ms: u64) -> Result<(), Error> {
        let mut tenants = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let windows = tenants.entry(tenant.clone()).or_default();
        for budget in budgets {
            let uses = windows.get(&budget.subject).map_or(0, |window| window.uses_at(budget, now_ms));
            let next =
                Window { index: budget.window(now_ms), window_ms: budget.window_ms, uses: uses.saturating_add(1) };
            windows.insert(budget.subject.clone(), next);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::RouteClass;

    fn tenants(counter: &ProcessCounter) -> usize {
        counter.windows.lock().expect("lock").len()
    }

    #[tokio::test]
    async fn a_flood_of_tenant_names_is_forgotten_once_its_windows_end() {
        let counter = ProcessCounter::new();
        let budget = Budget { subject: Subject::Route(RouteClass::Auth), limit: 5, window_ms: 1_000 };
        for n in 0..=PRUNE_ABOVE {
            let tenant = TenantId::parse(&format!("flood-{n}")).expect("tenant");
            counter.admit(&tenant, &[Charge::Use(budget.clone())], 500).await.expect("admitted");
        }
        assert_eq!(tenants(&counter), PRUNE_ABOVE + 1);
        let late = TenantId::parse("late-shop").expect("tenant");
        counter.admit(&late, &[Charge::Use(budget)], 5_000).await.expect("admitted");
        assert_eq!(tenants(&counter), 1, "only the tenant with an open window is left");
    }
}
