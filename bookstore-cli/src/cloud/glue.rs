//! `bookstore athena tables`: the stage's Glue tables as deployed — columns, partition
//! keys, where the data is and how partitions are found — and every difference from the
//! lake schema in the code (`lake::schema`), so a catalog that drifted (a column changed
//! by hand, a table missing, a location elsewhere) is found before a query fails on it.

use anyhow::{Result, anyhow};
use aws_sdk_glue::types::Table;
use bookstore_runtime::lake::catalog::glue_tables;
use serde::Serialize;

use super::{Clients, describe_sdk_error};

/// One Glue table as deployed.
#[derive(Debug, Clone, Serialize)]
pub struct DeployedTable {
    pub name: String,
    /// `[name, type]`, in Glue's order.
    pub columns: Vec<[String; 2]>,
    pub partition_keys: Vec<[String; 2]>,
    pub location: Option<String>,
    pub serde: Option<String>,
    /// How Athena finds partitions: the projection template, or the partitions Glue holds.
    pub partitions: Partitions,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Partitions {
    /// Partition projection: no partitions in Glue, locations from a template.
    Projected { location_template: Option<String> },
    /// Partitions registered in Glue, with their locations (the first few).
    Registered { count: usize, locations: Vec<String> },
}

/// The catalog and how it differs from the code.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogReport {
    pub database: String,
    pub tables: Vec<DeployedTable>,
    /// Each difference, as a sentence naming the table and column.
    pub drift: Vec<String>,
}

/// Partition locations shown per table.
const LOCATIONS_SHOWN: usize = 5;

fn pairs(columns: &[aws_sdk_glue::types::Column]) -> Vec<[String; 2]> {
    columns.iter().map(|c| [c.name().to_owned(), c.r#type().unwrap_or_default().to_owned()]).collect()
}

/// Reads the stage's Glue database and compares it with the lake schema; `lake_bucket`
/// is where its data must be.
pub async fn catalog_report(
    clients: &Clients,
    database: &str,
    lake_bucket: &str,
    stage: &str,
) -> Result<CatalogReport> {
    let mut found: Vec<Table> = Vec::new();
    let mut pages = clients.glue.get_tables().database_name(database).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| {
            let message = describe_sdk_error(&err);
            if message.contains("EntityNotFound") {
                anyhow!(
                    "Glue database {database} not found (is the stage deployed? run `bookstore deploy --stage {stage}`)"
                )
            } else {
                anyhow!("cannot read the Glue tables of {database}: {message}")
            }
        })?;
        found.extend(page.table_list().iter().cloned());
    }
    let mut tables = Vec::new();
    for table in &found {
        tables.push(deployed(clients, database, table).await?);
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let drift = drift(&tables, lake_bucket);
    Ok(CatalogReport { database: database.to_owned(), tables, drift })
}

async fn deployed(clients: &Clients, database: &str, table: &Table) -> Result<DeployedTable> {
    let descriptor = table.storage_descriptor();
    let parameters = table.parameters();
    let projected =
        parameters.and_then(|p| p.get("projection.enabled")).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let partitions = if projected {
        Partitions::Projected {
            location_template: parameters.and_then(|p| p.get("storage.location.template")).cloned(),
        }
    } else {
        let mut count = 0;
        let mut locations = Vec::new();
        let mut pages =
            clients.glue.get_partitions().database_name(database).table_name(table.name()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                anyhow!("cannot read the partitions of {database}.{}: {}", table.name(), describe_sdk_error(&err))
            })?;
            for partition in page.partitions() {
                count += 1;
                if locations.len() < LOCATIONS_SHOWN
                    && let Some(location) = partition.storage_descriptor().and_then(|d| d.location())
                {
                    locations.push(location.to_owned());
                }
            }
        }
        Partitions::Registered { count, locations }
    };
    Ok(DeployedTable {
        name: table.name().to_owned(),
        columns: descriptor.map(|d| pairs(d.columns())).unwrap_or_default(),
        partition_keys: pairs(table.partition_keys()),
        location: descriptor.and_then(|d| d.location()).map(str::to_owned),
        serde: descriptor.and_then(|d| d.serde_info()).and_then(|s| s.serialization_library()).map(str::to_owned),
        partitions,
    })
}

/// Glue writes types in lower case without spaces; so does the code.
fn same_type(deployed: &str, expected: &str) -> bool {
    let normal = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    normal(deployed) == normal(expected)
}

/// Every difference between the deployed tables and the lake's (`lake::catalog`).
fn drift(tables: &[DeployedTable], lake_bucket: &str) -> Vec<String> {
    let mut drift = Vec::new();
    let bucket = format!("s3://{lake_bucket}/");
    let expected_tables = glue_tables();
    for expected_table in &expected_tables {
        let name = expected_table.name.as_str();
        let Some(table) = tables.iter().find(|t| t.name == name) else {
            drift.push(format!("{name}: no such Glue table (the lake schema has it)"));
            continue;
        };
        let expected = &expected_table.columns;
        for [column, kind] in expected {
            match table.columns.iter().find(|[c, _]| c == column) {
                None => drift.push(format!("{name}.{column}: missing in Glue (the lake schema has {kind})")),
                Some([_, deployed]) if !same_type(deployed, kind) => {
                    drift.push(format!("{name}.{column}: Glue has {deployed}, the lake schema {kind}"))
                }
                Some(_) => {}
            }
        }
        for [column, kind] in &table.columns {
            if !expected.iter().any(|[c, _]| c == column) {
                drift.push(format!("{name}.{column}: {kind} in Glue, not in the lake schema"));
            }
        }
        let keys: Vec<&str> = table.partition_keys.iter().map(|[k, _]| k.as_str()).collect();
        if keys != expected_table.partition_keys {
            drift.push(format!(
                "{name}: partition keys are {keys:?}, the lake's are {:?}",
                expected_table.partition_keys
            ));
        }
        if let Some([key, kind]) = table.partition_keys.iter().find(|[_, kind]| !same_type(kind, "string")) {
            drift.push(format!("{name}: partition key {key} is {kind}, not string"));
        }
        if table.serde.as_deref() != Some(expected_table.format.serde()) {
            drift.push(format!("{name}: SerDe {:?}, the lake writes {}", table.serde, expected_table.format.serde()));
        }
        if !table.location.as_deref().is_some_and(|l| l.starts_with(&bucket)) {
            drift.push(format!("{name}: location {:?} is not in the lake bucket {bucket}", table.location));
        }
        match &table.partitions {
            Partitions::Projected { location_template } => {
                let layout = format!("{bucket}{}", expected_table.location_template);
                if location_template.as_deref() != Some(layout.as_str()) {
                    drift.push(format!("{name}: partition locations {location_template:?}, the lake writes {layout}"));
                }
            }
            Partitions::Registered { locations, .. } => {
                for location in locations.iter().filter(|l| !l.starts_with(&bucket)) {
                    drift.push(format!("{name}: a partition is at {location}, outside the lake bucket {bucket}"));
                }
            }
        }
    }
    for table in tables.iter().filter(|t| !expected_tables.iter().any(|e| e.name == t.name)) {
        drift.push(format!("{}: a Glue table the lake schema does not have", table.name));
    }
    drift
}

#[cfg(test)]
mod tests {
    use bookstore_runtime::lake::catalog::GlueTable;

    use super::*;

    fn as_deployed(table: GlueTable, bucket: &str) -> DeployedTable {
        DeployedTable {
            columns: table.columns,
            partition_keys: table.partition_keys.iter().map(|k| [(*k).to_owned(), "string".to_owned()]).collect(),
            location: Some(format!("s3://{bucket}/")),
            serde: Some(table.format.serde().to_owned()),
            partitions: Partitions::Projected {
                location_template: Some(format!("s3://{bucket}/{}", table.location_template)),
            },
            name: table.name,
        }
    }

    #[test]
    fn a_catalog_as_the_code_has_it_has_no_drift_and_each_change_is_named() {
        let bucket = "s-lake-1";
        let mut tables: Vec<DeployedTable> = glue_tables().into_iter().map(|t| as_deployed(t, bucket)).collect();
        assert_eq!(drift(&tables, bucket), Vec::<String>::new());

        let purchases = tables.iter_mut().find(|t| t.name == "purchases").expect("purchases");
        purchases.columns.iter_mut().find(|[c, _]| c == "total_amount").expect("column")[1] = "double".into();
        purchases.columns.push(["coupon".into(), "string".into()]);
        purchases.columns.retain(|[c, _]| c != "status");
        tables.retain(|t| t.name != "books");
        let found = drift(&tables, bucket);
        assert_eq!(
            found,
            [
                "purchases.total_amount: Glue has double, the lake schema decimal(12,2)",
                "purchases.status: missing in Glue (the lake schema has string)",
                "purchases.coupon: string in Glue, not in the lake schema",
                "books: no such Glue table (the lake schema has it)",
            ],
            "{found:#?}"
        );
    }
}
