//! What a store's calls cost on DynamoDB: round trips and the capacity units DynamoDB
//! reports (`ReturnConsumedCapacity=TOTAL`), for the cost benchmarks and for tests that
//! hold a page to O(page).

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// Totals since the store was made. Units are kept in thousandths: DynamoDB reports
/// halves (an eventually consistent read) and fractions of transactions.
#[derive(Debug, Default)]
pub struct CostMeter {
    calls: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
}

/// A reading of a `CostMeter`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spend {
    pub calls: u64,
    pub read_units: f64,
    pub write_units: f64,
}

impl std::ops::Sub for Spend {
    type Output = Spend;
    fn sub(self, earlier: Spend) -> Spend {
        Spend {
            calls: self.calls - earlier.calls,
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
        }
    }
}

fn milli(units: f64) -> u64 {
    // Capacity units are small positive numbers; rounding to thousandths loses nothing.
    (units * 1000.0).round().max(0.0) as u64
}

fn units(consumed: Option<&ConsumedCapacity>) -> f64 {
    consumed.and_then(ConsumedCapacity::capacity_units).unwrap_or(0.0)
}

impl CostMeter {
    pub fn read(&self, consumed: Option<&ConsumedCapacity>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.read_milli_units.fetch_add(milli(units(consumed)), Ordering::Relaxed);
    }

    /// One call that read from several tables (a batch read reports each).
    pub fn read_all(&self, consumed: &[ConsumedCapacity]) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let total: f64 = consumed.iter().map(|c| units(Some(c))).sum();
        self.read_milli_units.fetch_add(milli(total), Ordering::Relaxed);
    }

    pub fn write(&self, consumed: Option<&ConsumedCapacity>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.write_milli_units.fetch_add(milli(units(consumed)), Ordering::Relaxed);
    }

    /// One call that wrote to several tables (a transaction reports each).
    pub fn write_all(&self, consumed: &[ConsumedCapacity]) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let total: f64 = consumed.iter().map(|c| units(Some(c))).sum();
        self.write_milli_units.fetch_add(milli(total), Ordering::Relaxed);
    }

    /// Counts a call that failed and passes its error on.
    pub fn failed<E>(&self, err: E) -> E {
        self.calls.fetch_add(1, Ordering::Relaxed);
        err
    }

    pub fn spent(&self) -> Spend {
        Spend {
            calls: self.calls.load(Ordering::Relaxed),
            read_units: self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}
