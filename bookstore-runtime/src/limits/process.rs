//! Budgets counted in this process's memory: right where one process serves the stage
//! (`bookstore up` on the embedded store), and free of round trips.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Budget, Charge, Subject, UsageCounter, refusal};
use crate::domain::TenantId;
use crate::error::Error;

/// Past this many counted subjects, the ones whose window has ended are forgotten, so a
/// flood of client addresses cannot grow the map without end.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    index: u64,
    window_ms: u64,
    uses: u32,
}

/// The `UsageCounter` of one process.
#[derive(Debug, Default)]
pub struct ProcessCounter {
    windows: Mutex<HashMap<(TenantId, Subject), Window>>,
}

impl ProcessCounter {
    pub fn new() -> Self {
        Self::default()
    }
}

fn uses_in(
    windows: &HashMap<(TenantId, Subject), Window>,
    key: &(TenantId, Subject),
    budget: &Budget,
    now_ms: u64,
) -> u32 {
    match windows.get(key) {
        Some(window) if window.index == budget.window(now_ms) && window.window_ms == budget.window_ms => window.uses,
        _ => 0,
    }
}

#[async_trait::async_trait]
impl UsageCounter for ProcessCounter {
    async fn admit(&self, tenant: &TenantId, charges: &[Charge], now_ms: u64) -> Result<(), Error> {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = |budget: &Budget| (tenant.clone(), budget.subject.clone());
        let spent: Vec<&Budget> = charges
            .iter()
            .map(Charge::budget)
            .filter(|budget| uses_in(&windows, &key(budget), budget, now_ms) >= budget.limit)
            .collect();
        if !spent.is_empty() {
            return Err(refusal(spent, now_ms));
        }
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, window| (window.index + 1) * window.window_ms > now_ms);
        }
        for charge in charges {
            let Charge::Use(budget) = charge else { continue };
            let key = key(budget);
            let uses = uses_in(&windows, &key, budget, now_ms) + 1;
            windows.insert(key, Window { index: budget.window(now_ms), window_ms: budget.window_ms, uses });
        }
        Ok(())
    }

    async fn give_back(&self, tenant: &TenantId, budgets: &[Budget], now_ms: u64) -> Result<(), Error> {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for budget in budgets {
            if let Some(window) = windows.get_mut(&(tenant.clone(), budget.subject.clone()))
                && window.index == budget.window(now_ms)
                && window.window_ms == budget.window_ms
            {
                window.uses = window.uses.saturating_sub(1);
            }
        }
        Ok(())
    }
}
