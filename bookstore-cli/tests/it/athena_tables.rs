//! `bookstore athena tables` against moto's Glue: the tables the rendered stack declares,
//! created as CloudFormation would create them, match the lake schema; a column changed by
//! hand is reported (exit code 1); a stage never deployed is told to deploy.

use serde_json::Value;

use crate::deploy::{TestStage, moto, text};

/// moto's account, which `${AWS::AccountId}` resolves to there.
const ACCOUNT: &str = "123456789012";

/// `Fn::Sub` strings resolved as CloudFormation would (`${!x}` is the literal `${x}`).
fn resolve(value: &mut Value) {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            let text = map["Fn::Sub"].as_str().expect("a plain Fn::Sub").to_owned();
            *value = Value::from(text.replace("${AWS::AccountId}", ACCOUNT).replace("${!", "${"));
        }
        Value::Object(map) => map.values_mut().for_each(resolve),
        Value::Array(items) => items.iter_mut().for_each(resolve),
        _ => {}
    }
}

/// The Glue database and tables of the rendered stack, created in moto with the AWS CLI.
fn create_rendered_catalog(stage: &TestStage) -> String {
    let rendered = crate::server::bookstore()
        .args(["render", "--stage", "test", "--stages-dir"])
        .arg(stage.stages_dir())
        .output()
        .expect("render runs");
    assert!(rendered.status.success(), "{}", text(&rendered));
    let stack: Value = serde_yaml::from_slice(&rendered.stdout).expect("the stack is YAML");
    let resources = stack["Resources"].as_object().expect("resources");
    let database = resources["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"].as_str().expect("name").to_owned();
    stage.aws(&["glue", "create-database", "--database-input", &format!("{{\"Name\": \"{database}\"}}")]).expect("db");
    for (id, resource) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Glue::Table") {
        let mut input = resource["Properties"]["TableInput"].clone();
        resolve(&mut input);
        stage
            .aws(&["glue", "create-table", "--database-name", &database, "--table-input", &input.to_string()])
            .unwrap_or_else(|err| panic!("{id}: {err}"));
    }
    database
}

fn tables(stage: &TestStage) -> std::process::Output {
    stage.command(&["athena", "tables", "--output", "json"]).output().expect("bookstore runs")
}

#[test]
fn athena_tables_finds_the_deployed_catalog_as_the_code_has_it_and_a_column_changed_by_hand() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);

    let undeployed = tables(&stage);
    assert_eq!(undeployed.status.code(), Some(1), "{}", text(&undeployed));
    assert!(text(&undeployed).contains("bookstore deploy --stage test"), "{}", text(&undeployed));

    let database = create_rendered_catalog(&stage);
    let clean = tables(&stage);
    assert!(clean.status.success(), "{}", text(&clean));
    let report: Value = serde_json::from_slice(&clean.stdout).expect("json report");
    assert_eq!(report["database"], database.as_str());
    assert_eq!(report["drift"], serde_json::json!([]), "{report:#}");
    let names: Vec<&str> =
        report["tables"].as_array().expect("tables").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["books", "books_compacted", "daily_summaries", "purchases", "purchases_compacted"]);
    let table_named = |name: &str| {
        report["tables"].as_array().expect("tables").iter().find(|t| t["name"] == name).expect("table").clone()
    };
    let purchases = table_named("purchases");
    let columns: Vec<[String; 2]> = serde_json::from_value(purchases["columns"].clone()).expect("columns");
    assert_eq!(columns, bookstore_runtime::lake::glue_columns(bookstore_runtime::lake::Dataset::Purchases));
    assert_eq!(purchases["partitions"]["kind"], "projected");
    let template = purchases["partitions"]["location_template"].as_str().expect("template");
    assert!(
        template.starts_with(&format!("s3://{}-lake-{ACCOUNT}/${{tenant_id}}/purchases/", stage.prefix)),
        "{template}"
    );
    let compacted = table_named("purchases_compacted");
    assert_eq!(compacted["serde"], "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    let template = compacted["partitions"]["location_template"].as_str().expect("template");
    assert!(template.ends_with("/${tenant_id}/compacted/purchases/year=${year}/month=${month}/"), "{template}");

    // Someone changes a column's type in the console.
    let mut table =
        stage.aws(&["glue", "get-table", "--database-name", &database, "--name", "purchases"]).expect("get")["Table"]
            .clone();
    let input = table.as_object_mut().expect("table");
    input.retain(|key, _| {
        ["Name", "Description", "TableType", "Parameters", "PartitionKeys", "StorageDescriptor"].contains(&key.as_str())
    });
    for column in input["StorageDescriptor"]["Columns"].as_array_mut().expect("columns") {
        if column["Name"] == "total_amount" {
            column["Type"] = Value::from("double");
        }
    }
    stage
        .aws(&[
            "glue",
            "update-table",
            "--database-name",
            &database,
            "--table-input",
            &Value::Object(input.clone()).to_string(),
        ])
        .expect("update");
    let drifted = tables(&stage);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    let report: Value = serde_json::from_slice(&drifted.stdout).expect("json report");
    assert_eq!(
        report["drift"],
        serde_json::json!(["purchases.total_amount: Glue has double, the lake schema decimal(12,2)"]),
        "{report:#}"
    );
    assert!(text(&drifted).contains("differs from the lake schema in 1 place"), "{}", text(&drifted));

    let table_view = stage.command(&["athena", "tables"]).output().expect("runs");
    let printed = String::from_utf8_lossy(&table_view.stdout);
    assert!(printed.contains("drift (1):") && printed.contains("purchases.total_amount"), "{printed}");
}
