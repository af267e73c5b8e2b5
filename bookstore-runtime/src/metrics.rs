//! Per-tenant business metrics: registrations, logins, purchases, revenue, searches. On
//! Lambda each is one CloudWatch Embedded Metric Format line on standard output, which
//! CloudWatch Logs turns into a metric without an API call (the stack's dashboard plots
//! them); locally nothing is recorded.

use std::time::{SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

use crate::domain::TenantId;

/// The namespace the metrics land in (the dashboard reads it).
pub const NAMESPACE: &str = "Bookstore";

/// Every metric name the functions emit, with a title for the dashboard.
pub const BUSINESS_METRICS: [(&str, &str); 5] = [
    ("Registrations", "Registrations"),
    ("Logins", "Logins"),
    ("Purchases", "Purchases"),
    ("Revenue", "Revenue"),
    ("Searches", "Searches"),
];

/// What happened, with its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BusinessEvent {
    Registration,
    Login,
    /// A new purchase (a replayed checkout is not one) and its total.
    Purchase {
        revenue: Decimal,
    },
    Search,
}

/// Where business events go.
pub trait MetricSink: Send + Sync {
    fn record(&self, tenant: &TenantId, event: BusinessEvent);
}

/// Records nothing (the local server, tests).
pub struct NoMetrics;

impl MetricSink for NoMetrics {
    fn record(&self, _tenant: &TenantId, _event: BusinessEvent) {}
}

/// Embedded Metric Format lines, dimensioned by stage and tenant.
pub struct EmbeddedMetricFormat {
    stage: String,
    write: Box<dyn Fn(String) + Send + Sync>,
}

impl EmbeddedMetricFormat {
    /// Lines on standard output, where Lambda hands them to CloudWatch Logs.
    pub fn to_stdout(stage: impl Into<String>) -> Self {
        Self::new(stage, |line| println!("{line}"))
    }

    pub fn new(stage: impl Into<String>, write: impl Fn(String) + Send + Sync + 'static) -> Self {
        Self { stage: stage.into(), write: Box::new(write) }
    }

    /// The line for one event at `millis` since the epoch.
    pub fn line(&self, tenant: &TenantId, event: BusinessEvent, millis: u128) -> String {
        let (metrics, values): (Vec<serde_json::Value>, Vec<(&str, f64)>) = match event {
            BusinessEvent::Registration => (vec![count("Registrations")], vec![("Registrations", 1.0)]),
            BusinessEvent::Login => (vec![count("Logins")], vec![("Logins", 1.0)]),
            BusinessEvent::Search => (vec![count("Searches")], vec![("Searches", 1.0)]),
            BusinessEvent::Purchase { revenue } => (
                vec![count("Purchases"), json!({"Name": "Revenue", "Unit": "None"})],
                vec![("Purchases", 1.0), ("Revenue", revenue.to_f64().unwrap_or_default())],
            ),
        };
        let mut line = json!({
            "_aws": {
                "Timestamp": u64::try_from(millis).unwrap_or(u64::MAX),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Stage", "Tenant"], ["Stage"]],
                    "Metrics": metrics,
                }],
            },
            "Stage": self.stage,
            "Tenant": tenant.as_str(),
        });
        for (name, value) in values {
            line[name] = json!(value);
        }
        line.to_string()
    }
}

fn count(name: &str) -> serde_json::Value {
    json!({"Name": name, "Unit": "Count"})
}

impl MetricSink for EmbeddedMetricFormat {
    fn record(&self, tenant: &TenantId, event: BusinessEvent) {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        (self.write)(self.line(tenant, event, millis));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purchase_is_a_count_and_its_revenue_for_the_tenant_and_the_stage() {
        let tenant = TenantId::parse("libreria-sol").expect("tenant");
        let emf = EmbeddedMetricFormat::new("prod", |_| {});
        let line: serde_json::Value = serde_json::from_str(&emf.line(
            &tenant,
            BusinessEvent::Purchase { revenue: Decimal::new(4250, 2) },
            1_700_000_000_000,
        ))
        .expect("json");
        assert_eq!(line["Tenant"], "libreria-sol");
        assert_eq!(line["Stage"], "prod");
        assert_eq!(line["Purchases"], 1.0);
        assert_eq!(line["Revenue"], 42.5);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"][0], json!(["Stage", "Tenant"]));
        let names: Vec<&str> =
            directive["Metrics"].as_array().expect("metrics").iter().filter_map(|m| m["Name"].as_str()).collect();
        assert_eq!(names, ["Purchases", "Revenue"]);
    }
}
