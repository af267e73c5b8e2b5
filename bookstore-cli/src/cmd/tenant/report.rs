//! How `tenant add|list|show|remove` print search placements.

use bookstore_runtime::domain::Tenant;
use bookstore_runtime::tenancy::TenantSearchReport;
use serde_json::{Value, json};

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

pub fn print_reports(reports: &[TenantSearchReport]) {
    if reports.is_empty() {
        return;
    }
    println!(
        "{:<20} {:<28} {:<9} {:<10} {:>5} {:>9} {:>10}",
        "TENANT", "CONTAINER", "STATE", "HEALTH", "PORT", "DOCS", "DISK"
    );
    for r in reports {
        let dash = || "-".to_owned();
        println!(
            "{:<20} {:<28} {:<9} {:<10} {:>5} {:>9} {:>10}",
            r.tenant.as_str(),
            r.container.clone().unwrap_or_else(dash),
            r.state,
            r.health,
            r.port.map_or_else(dash, |p| p.to_string()),
            r.documents.map_or_else(dash, |d| d.to_string()),
            r.disk_bytes.map_or_else(dash, bytes),
        );
    }
}

/// Tenants with their search placements, for `--output json`.
pub fn reports_json(tenants: &[Tenant], reports: &[TenantSearchReport]) -> Value {
    let rows: Vec<Value> = tenants
        .iter()
        .map(|t| {
            let search = reports.iter().find(|r| r.tenant == t.tenant_id);
            json!({ "tenant": t.tenant_id, "name": t.name, "active": t.is_active, "search": search })
        })
        .collect();
    Value::Array(rows)
}
