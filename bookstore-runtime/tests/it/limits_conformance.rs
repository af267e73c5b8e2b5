//! The `UsageCounter` port's conformance suite, run unchanged on the in-process counter
//! and on the store-backed one (embedded store here, DynamoDB Local in `dynamodb_local.rs`).
//! Time is passed in, so windows never end in the middle of a check.
//!
//! `instances` are two handles a deployment would have: the same counter twice in one
//! process; two counters on two clients of one store across Lambda instances. The budgets
//! must hold across them.

use std::sync::Arc;

use bookstore_runtime::domain::{Email, TenantId};
use bookstore_runtime::embedded::EmbeddedStore;
use bookstore_runtime::error::Error;
use bookstore_runtime::limits::{
    Budget, Charge, ClientAddress, ProcessCounter, RouteClass, SharedCounter, Subject, UsageCounter,
};

/// A window's start, 10 ms in: the suite's "now".
const NOW: u64 = 1_800_000_000_000 + 10;

fn budget(subject: Subject, limit: u32) -> Budget {
    Budget { subject, limit, window_ms: 60_000 }
}

fn address(last: u8) -> Subject {
    Subject::SignInAddress(ClientAddress(Some(std::net::IpAddr::from([10, 0, 0, last]))))
}

fn refused_for(result: Result<(), Error>) -> Option<u64> {
    match result {
        Ok(()) => None,
        Err(Error::RateLimited { retry_after_seconds }) => Some(retry_after_seconds),
        Err(other) => panic!("a counter fails only with RateLimited here: {other}"),
    }
}

pub async fn run_suite(instances: [Arc<dyn UsageCounter>; 2], namespace: &str) {
    let tenant = |name: &str| TenantId::parse(&format!("{namespace}-{name}")).expect("tenant");
    let [one, other] = &instances;
    let (a, b) = (tenant("a"), tenant("b"));

    // A budget's uses, then a refusal until the window ends, then a fresh window.
    let reads = budget(Subject::Route(RouteClass::Read), 3);
    for _ in 0..3 {
        one.admit(&a, &[Charge::Use(reads.clone())], NOW).await.expect("within the budget");
    }
    let refused = refused_for(one.admit(&a, &[Charge::Use(reads.clone())], NOW + 30_000).await);
    assert_eq!(refused, Some(30), "retry when the window ends");
    assert_eq!(refused_for(other.admit(&a, &[Charge::Use(reads.clone())], NOW).await), Some(60), "every instance");
    one.admit(&a, &[Charge::Use(reads.clone())], NOW + 60_000).await.expect("the next window is fresh");

    // Tenants and subjects have budgets of their own.
    one.admit(&b, &[Charge::Use(reads.clone())], NOW).await.expect("another tenant");
    one.admit(&a, &[Charge::Use(budget(Subject::Route(RouteClass::Write), 3))], NOW).await.expect("another class");

    // All or none: a spent budget refuses the request and charges none of the others,
    // and the wait is the longest of the spent ones.
    let spent = budget(address(1), 1);
    one.admit(&a, &[Charge::Use(spent.clone())], NOW).await.expect("first use");
    let spared = budget(address(2), 2);
    let longer = Budget { window_ms: 600_000, ..budget(address(3), 1) };
    other.admit(&a, &[Charge::Use(longer.clone())], NOW).await.expect("first use");
    let both = [Charge::Use(spared.clone()), Charge::Use(spent.clone()), Charge::Use(longer.clone())];
    assert_eq!(refused_for(other.admit(&a, &both, NOW).await), Some(600));
    for _ in 0..2 {
        one.admit(&a, &[Charge::Use(spared.clone())], NOW).await.expect("the refused request took nothing");
    }
    assert!(refused_for(one.admit(&a, &[Charge::Use(spared.clone())], NOW).await).is_some());

    // A check needs a use left and takes none.
    let checked = budget(address(4), 1);
    for _ in 0..3 {
        one.admit(&a, &[Charge::Check(checked.clone()), Charge::Use(reads.clone())], NOW + 120_000)
            .await
            .expect("a check takes nothing");
    }
    other.admit(&a, &[Charge::Use(checked.clone())], NOW).await.expect("its one use");
    assert!(refused_for(one.admit(&a, &[Charge::Check(checked.clone())], NOW).await).is_some());

    // Counting after the fact refuses nothing, past the limit too; an admission then
    // meets the count, on every instance, until the window ends.
    let failures = budget(address(5), 2);
    for _ in 0..3 {
        other.count(&a, std::slice::from_ref(&failures), NOW).await.expect("counted");
    }
    assert_eq!(refused_for(one.admit(&a, &[Charge::Check(failures.clone())], NOW).await), Some(60));
    one.admit(&a, &[Charge::Check(failures)], NOW + 60_000).await.expect("the next window is fresh");
    let several =
        [budget(address(6), 1), budget(Subject::SignInAccount(Email::parse("al@shop.test").expect("email")), 1)];
    one.count(&a, &several, NOW).await.expect("two at once");
    for counted in &several {
        assert!(refused_for(other.admit(&a, &[Charge::Use(counted.clone())], NOW).await).is_some(), "{counted:?}");
    }
    other.admit(&b, &[Charge::Use(several[0].clone())], NOW).await.expect("counted for its tenant only");

    // Racing requests on both instances: exactly the budget's uses are admitted.
    let raced = budget(Subject::Route(RouteClass::Auth), 10);
    let mut racing = tokio::task::JoinSet::new();
    for n in 0..24 {
        let counter = instances[n % 2].clone();
        let (tenant, raced) = (a.clone(), raced.clone());
        racing.spawn(async move { counter.admit(&tenant, &[Charge::Use(raced)], NOW).await.is_ok() });
    }
    let admitted = racing.join_all().await.into_iter().filter(|admitted| *admitted).count();
    assert_eq!(admitted, 10, "racing instances share one budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_counter_passes_the_suite() {
    let counter: Arc<dyn UsageCounter> = Arc::new(ProcessCounter::new());
    run_suite([counter.clone(), counter], "proc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_counter_on_the_embedded_store_passes_the_suite() {
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    let one: Arc<dyn UsageCounter> = Arc::new(SharedCounter::new(store.clone()));
    let other: Arc<dyn UsageCounter> = Arc::new(SharedCounter::new(store));
    run_suite([one, other], "embedded").await;
}
