//! Per-tenant token buckets, one per route class, refilled continuously. A refused
//! request gets 429 with `Retry-After` (whole seconds, at least 1).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{RateLimit, RateLimits};
use crate::domain::TenantId;
use crate::error::Error;

/// The kinds of route that have separate budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Read,
    Write,
    Auth,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// The limiter shared by all requests of one process.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    /// One bucket per route class (`RouteClass as usize`), per tenant.
    buckets: Mutex<HashMap<TenantId, [Bucket; 3]>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self { limits, buckets: Mutex::new(HashMap::new()) }
    }

    fn limit(&self, class: RouteClass) -> RateLimit {
        match class {
            RouteClass::Read => self.limits.read,
            RouteClass::Write => self.limits.write,
            RouteClass::Auth => self.limits.auth,
        }
    }

    /// Takes one token from the tenant's bucket for the class, or says when to retry.
    pub fn check(&self, tenant: &TenantId, class: RouteClass) -> Result<(), Error> {
        self.check_at(tenant, class, Instant::now())
    }

    fn check_at(&self, tenant: &TenantId, class: RouteClass, now: Instant) -> Result<(), Error> {
        let limit = self.limit(class);
        let rate = f64::from(limit.per_second.max(1));
        let burst = f64::from(limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(tenant) {
            let full = |class| Bucket { tokens: f64::from(self.limit(class).burst.max(1)), refilled_at: now };
            buckets.insert(tenant.clone(), [full(RouteClass::Read), full(RouteClass::Write), full(RouteClass::Auth)]);
        }
        let Some(tenant_buckets) = buckets.get_mut(tenant) else {
            return Ok(());
        };
        let bucket = &mut tenant_buckets[class as usize];
        let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
            Err(Error::RateLimited { retry_after_seconds: wait as u64 })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter() -> RateLimiter {
        let one = RateLimit { per_second: 1, burst: 2 };
        RateLimiter::new(RateLimits { read: one, write: one, auth: one })
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let limiter = limiter();
        let tenant = TenantId::parse("shop-a").expect("valid");
        let start = Instant::now();
        assert!(limiter.check_at(&tenant, RouteClass::Read, start).is_ok());
        assert!(limiter.check_at(&tenant, RouteClass::Read, start).is_ok());
        let refused = limiter.check_at(&tenant, RouteClass::Read, start);
        assert!(matches!(refused, Err(Error::RateLimited { retry_after_seconds: 1 })));
        assert!(limiter.check_at(&tenant, RouteClass::Read, start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn tenants_and_classes_have_separate_budgets() {
        let limiter = limiter();
        let a = TenantId::parse("shop-a").expect("valid");
        let b = TenantId::parse("shop-b").expect("valid");
        let now = Instant::now();
        for _ in 0..2 {
            assert!(limiter.check_at(&a, RouteClass::Read, now).is_ok());
        }
        assert!(limiter.check_at(&a, RouteClass::Read, now).is_err());
        assert!(limiter.check_at(&a, RouteClass::Write, now).is_ok());
        assert!(limiter.check_at(&b, RouteClass::Read, now).is_ok());
    }
}
