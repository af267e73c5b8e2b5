//! Rate budgets: how many uses a tenant (or one of its accounts, or one client address
//! within it) may make of something per window, and the `UsageCounter` port that counts
//! them. Windows are fixed: a budget of `limit` uses per `window_ms` is counted in the
//! window `now / window_ms`, and a refusal says how long until that window ends.
//!
//! A route class's `RateLimit { per_second, burst }` is a budget of `burst` uses per
//! `burst / per_second` seconds: the same average rate, and at most `burst` at once
//! (twice that across a window's edge).
//!
//! Two adapters pass one conformance suite (`tests/it/limits_conformance.rs`):
//! `ProcessCounter` (in memory: one process serves the stage, no round trip) and
//! `SharedCounter` (rows of the store's `rate_limits` table, so every Lambda instance
//! serving the stage counts against the same budgets: one conditional update a request).

mod process;
mod shared;

use std::net::IpAddr;

pub use process::ProcessCounter;
pub use shared::SharedCounter;

use crate::config::{AttemptLimit, RateLimit, RateLimits};
use crate::domain::{Email, TenantId};
use crate::error::Error;

/// The kinds of route that have separate per-tenant budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Read,
    Write,
    Auth,
}

/// What a budget counts, within one tenant. Its key form starts the budget's store key
/// after the tenant; e-mails and addresses cannot contain `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Every request of the tenant in a route class.
    Route(RouteClass),
    /// Sign-in attempts for one e-mail, whether or not it has an account.
    SignInAccount(Email),
    /// Failed sign-ins from one client address.
    SignInAddress(ClientAddress),
    /// Registrations from one client address.
    RegistrationAddress(ClientAddress),
}

impl Subject {
    pub fn key_form(&self) -> String {
        match self {
            Subject::Route(RouteClass::Read) => "route#read".to_owned(),
            Subject::Route(RouteClass::Write) => "route#write".to_owned(),
            Subject::Route(RouteClass::Auth) => "route#auth".to_owned(),
            Subject::SignInAccount(email) => format!("sign-in#account#{email}"),
            Subject::SignInAddress(address) => format!("sign-in#address#{}", address.key_form()),
            Subject::RegistrationAddress(address) => format!("registration#address#{}", address.key_form()),
        }
    }
}

/// Where a request came from: API Gateway's source IP on Lambda, the socket's peer
/// locally; `None` where neither is known (a router called in-process), which all such
/// callers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    fn key_form(&self) -> String {
        match self.0 {
            // IPv6 written in full, so one address has one key; `:` is a safe key character.
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.segments().map(|s| format!("{s:x}")).join(":"),
            },
            Some(IpAddr::V4(v4)) => v4.to_string(),
            None => "unknown".to_owned(),
        }
    }
}

/// A budget: at most `limit` uses of `subject` per window of `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    pub subject: Subject,
    pub limit: u32,
    pub window_ms: u64,
}

impl Budget {
    /// The tenant's budget for a route class.
    pub fn route(class: RouteClass, limits: &RateLimits) -> Budget {
        let rate = match class {
            RouteClass::Read => limits.read,
            RouteClass::Write => limits.write,
            RouteClass::Auth => limits.auth,
        };
        Budget::of_rate(Subject::Route(class), rate)
    }

    pub fn sign_in_account(email: &Email, limits: &RateLimits) -> Budget {
        Budget::of_attempts(Subject::SignInAccount(email.clone()), limits.sign_in_per_account)
    }

    pub fn sign_in_address(address: ClientAddress, limits: &RateLimits) -> Budget {
        Budget::of_attempts(Subject::SignInAddress(address), limits.sign_in_per_address)
    }

    pub fn registration_address(address: ClientAddress, limits: &RateLimits) -> Budget {
        Budget::of_attempts(Subject::RegistrationAddress(address), limits.registrations_per_address)
    }

    fn of_rate(subject: Subject, rate: RateLimit) -> Budget {
        let burst = rate.burst.max(1);
        let window_ms = (u64::from(burst) * 1000 / u64::from(rate.per_second.max(1))).max(1);
        Budget { subject, limit: burst, window_ms }
    }

    fn of_attempts(subject: Subject, attempts: AttemptLimit) -> Budget {
        Budget { subject, limit: attempts.attempts, window_ms: u64::from(attempts.window_seconds.max(1)) * 1000 }
    }

    /// The window holding the instant `now_ms` (milliseconds since the epoch).
    pub fn window(&self, now_ms: u64) -> u64 {
        now_ms / self.window_ms
    }

    /// When the window holding `now_ms` ends, in milliseconds since the epoch.
    pub fn window_end(&self, now_ms: u64) -> u64 {
        (self.window(now_ms) + 1) * self.window_ms
    }

    /// How long a use refused at `now_ms` waits: until the window has ended, in whole
    /// seconds (at least 1), as `Retry-After` says it.
    pub fn retry_after_seconds(&self, now_ms: u64) -> u64 {
        self.window_end(now_ms).saturating_sub(now_ms).div_ceil(1000).max(1)
    }
}

/// One budget of an admission: `Use` counts a use, `Check` only requires one left.
#[derive(Debug, Clone, PartialEq)]
pub enum Charge {
    Use(Budget),
    Check(Budget),
}

impl Charge {
    pub fn budget(&self) -> &Budget {
        match self {
            Charge::Use(budget) | Charge::Check(budget) => budget,
        }
    }
}

/// The refusal of a request whose `refused` budgets are spent: it waits for the one whose
/// window ends last.
pub fn refusal<'a>(refused: impl IntoIterator<Item = &'a Budget>, now_ms: u64) -> Error {
    let wait = refused.into_iter().map(|budget| budget.retry_after_seconds(now_ms)).max().unwrap_or(1);
    Error::RateLimited { retry_after_seconds: wait }
}

/// The rate-budget port. Every instance serving a stage must count against the same
/// budgets, so an adapter is as wide as the deployment: one process, or the store.
#[async_trait::async_trait]
pub trait UsageCounter: Send + Sync + 'static {
    /// Admits a request of the tenant at `now_ms`: every charge's budget has a use left in
    /// its window, and each `Use` takes one; all or none. A refusal is
    /// `Error::RateLimited` with the wait of the budget that ends last.
    async fn admit(&self, tenant: &TenantId, charges: &[Charge], now_ms: u64) -> Result<(), Error>;

    /// Counts one use of each budget in the window of `now_ms` without refusing, past the
    /// limit too: what is only known after the fact (a sign-in that failed), which a
    /// later `admit` checking that budget then meets.
    async fn count(&self, tenant: &TenantId, budgets: &[Budget], now_ms: u64) -> Result<(), Error>;
}

/// Milliseconds since the epoch, the counters' clock.
pub fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits::for_tests()
    }

    #[test]
    fn a_rate_is_a_burst_per_burst_over_rate_seconds() {
        let mut limits = limits();
        limits.read = RateLimit { per_second: 500, burst: 1000 };
        let budget = Budget::route(RouteClass::Read, &limits);
        assert_eq!((budget.limit, budget.window_ms), (1000, 2000));
        limits.read = RateLimit { per_second: 3, burst: 1 };
        assert_eq!(Budget::route(RouteClass::Read, &limits).window_ms, 333);
    }

    #[test]
    fn a_refusal_waits_for_the_window_to_end_in_whole_seconds() {
        let budget = Budget { subject: Subject::Route(RouteClass::Auth), limit: 1, window_ms: 10_000 };
        assert_eq!(budget.retry_after_seconds(20_000), 10);
        assert_eq!(budget.retry_after_seconds(29_001), 1);
        assert_eq!(budget.retry_after_seconds(25_500), 5);
        let longer = Budget { window_ms: 60_000, ..budget.clone() };
        let refused = refusal([&budget, &longer], 25_500);
        assert!(matches!(refused, Error::RateLimited { retry_after_seconds: 35 }), "{refused:?}");
    }

    #[test]
    fn an_address_has_one_key_form() {
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        let v4: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(ClientAddress(Some(mapped)).key_form(), ClientAddress(Some(v4)).key_form());
        let v6: IpAddr = "2001:db8::1".parse().expect("ip");
        assert_eq!(ClientAddress(Some(v6)).key_form(), "2001:db8:0:0:0:0:0:1");
        assert!(!ClientAddress(Some(v6)).key_form().contains('#'));
    }
}
