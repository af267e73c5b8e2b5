//! `bookstore athena query` on an AWS stage, against moto's Athena: the query runs in the
//! stage's workgroup and Glue database, reaches Athena already scoped to the tenant, every
//! result row is printed (NULL kept apart from ""), and Ctrl-C stops it in Athena too.
//!
//! Moto keeps one Athena result queue and one state-transition setting per server, so this
//! is one test, step by step.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::deploy::{TestStage, moto, text};

const TENANT: &str = "libreria-sol";

/// moto's account: the lake bucket's suffix.
const MOTO_ACCOUNT: &str = "123456789012";

/// Held by every test that runs Athena queries on moto: its state transitions (how long
/// an execution stays QUEUED) are one setting for the whole server.
pub(crate) static MOTO_ATHENA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Moto's test-only API (`/moto-api/...`).
async fn moto_api(endpoint: &str, path: &str, body: Value) {
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|err| panic!("moto {path}: {err}"));
    assert!(answer.status().is_success(), "moto {path}: {}", answer.status());
}

/// How many polls an execution stays QUEUED and then RUNNING.
async fn hold_executions_for(endpoint: &str, polls: u32) {
    let transition = json!({ "progression": "manual", "times": polls });
    moto_api(
        endpoint,
        "state-manager/set-transition",
        json!({ "model_name": "athena::execution", "transition": transition }),
    )
    .await;
}

fn executions(stage: &TestStage) -> Vec<Value> {
    executions_in(&stage.prefix, |args| stage.aws(args).expect("aws athena"))
}

/// Every query execution of a workgroup, through `aws` (the AWS CLI against moto).
pub(crate) fn executions_in(workgroup: &str, aws: impl Fn(&[&str]) -> Value) -> Vec<Value> {
    let listed = aws(&["athena", "list-query-executions", "--work-group", workgroup]);
    let ids: Vec<String> = listed["QueryExecutionIds"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    ids.iter()
        .map(|id| aws(&["athena", "get-query-execution", "--query-execution-id", id])["QueryExecution"].clone())
        .collect()
}

/// The stage's lake bucket, as the stack creates it.
fn create_lake_bucket(stage: &TestStage) -> String {
    let bucket = format!("{}-lake-{MOTO_ACCOUNT}", stage.prefix);
    let location = "LocationConstraint=eu-west-1";
    stage
        .aws(&["s3api", "create-bucket", "--bucket", &bucket, "--create-bucket-configuration", location])
        .expect("bucket");
    bucket
}

fn query(stage: &TestStage, sql: &str) -> std::process::Output {
    stage.command(&["athena", "query", sql]).args(["--tenant", TENANT, "--output", "json"]).output().expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_stage_query_runs_in_athena_scoped_to_the_tenant_and_stops_on_ctrl_c() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let _athena = MOTO_ATHENA.lock().await;
    let stage = TestStage::new(endpoint.clone(), aws_cli);
    let database = format!("{}_lake", stage.prefix.replace('-', "_"));

    let undeployed = query(&stage, "SELECT count(*) AS n FROM purchases");
    assert_eq!(undeployed.status.code(), Some(1), "{}", text(&undeployed));
    assert!(text(&undeployed).contains("bookstore deploy --stage test"), "{}", text(&undeployed));

    stage.aws(&["athena", "create-work-group", "--name", &stage.prefix]).expect("workgroup");
    create_lake_bucket(&stage);
    let header =
        json!({ "Data": [{ "VarCharValue": "day" }, { "VarCharValue": "revenue" }, { "VarCharValue": "note" }] });
    let rows = [
        header,
        json!({ "Data": [{ "VarCharValue": "2026-11-01" }, { "VarCharValue": "120.50" }, { "VarCharValue": "" }] }),
        json!({ "Data": [{ "VarCharValue": "2026-11-02" }, {}, { "VarCharValue": "a, \"quoted\" note" }] }),
    ];
    let column = |name: &str, kind: &str| json!({ "Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN" });
    let columns = [column("day", "varchar"), column("revenue", "decimal"), column("note", "varchar")];
    moto_api(
        &endpoint,
        "static/athena/query-results",
        json!({ "region": "eu-west-1", "results": [{ "rows": rows, "column_info": columns }] }),
    )
    .await;
    hold_executions_for(&endpoint, 3).await;

    let sql = "SELECT day, sum(total_amount) AS revenue, '' AS note FROM purchases p \
               WHERE p.tenant_id = 'papiro' OR 1 = 1 GROUP BY day";
    let answered = query(&stage, sql);
    assert!(answered.status.success(), "{}", text(&answered));
    let printed: Value = serde_json::from_slice(&answered.stdout).expect("json rows");
    assert_eq!(
        printed,
        json!([
            { "day": "2026-11-01", "revenue": "120.50", "note": "" },
            { "day": "2026-11-02", "revenue": null, "note": "a, \"quoted\" note" },
        ]),
        "the header row is not data; a missing value is NULL"
    );
    assert!(String::from_utf8_lossy(&answered.stderr).contains("2 row(s)"), "{}", text(&answered));

    let ran = executions(&stage);
    assert_eq!(ran.len(), 1, "one query started: {ran:?}");
    let executed = ran[0]["Query"].as_str().expect("query text");
    assert!(
        executed.contains(&format!(
            "FROM (SELECT * FROM \"{database}\".\"purchases\" WHERE tenant_id = '{TENANT}') p WHERE"
        )),
        "the lake table became the tenant's rows: {executed}"
    );
    assert_eq!(ran[0]["WorkGroup"], stage.prefix.as_str());
    assert_eq!(ran[0]["QueryExecutionContext"]["Database"], database.as_str());

    for refused in [
        "SELECT * FROM other_db.purchases",
        "SELECT * FROM information_schema.tables",
        "WITH purchases AS (SELECT 1) SELECT * FROM purchases",
        "DROP TABLE purchases",
        "SELECT * FROM purchases; SELECT * FROM books",
    ] {
        let out = query(&stage, refused);
        assert_eq!(out.status.code(), Some(1), "{refused}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{refused} printed rows");
    }
    let syntax = query(&stage, "SELECT * FORM purchases");
    assert_eq!(syntax.status.code(), Some(1));
    assert!(text(&syntax).contains("line 1:"), "{}", text(&syntax));
    assert_eq!(executions(&stage).len(), 1, "nothing refused reached Athena");

    // Ctrl-C while Athena runs it: the query is stopped there, not left scanning.
    hold_executions_for(&endpoint, 1_000_000).await;
    let mut child = stage
        .command(&["athena", "query", "SELECT count(*) FROM books"])
        .args(["--tenant", TENANT])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // The CLI says the query started once it listens for Ctrl-C and Athena has the query.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    while !said.contains("started in workgroup") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).expect("stderr") > 0, "the CLI ended before the query started: {said}");
        said.push_str(&line);
    }
    assert_eq!(executions(&stage).len(), 2, "the query runs in Athena");
    let interrupted =
        std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(interrupted.success());
    let out = child.wait_with_output().expect("exits");
    stderr.read_to_string(&mut said).expect("stderr");
    moto_api(&endpoint, "state-manager/unset-transition", json!({ "model_name": "athena::execution" })).await;
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("stopped in Athena"), "{said}");
    let states: Vec<Value> = executions(&stage).iter().map(|e| e["Status"]["State"].clone()).collect();
    assert!(states.contains(&json!("CANCELLED")), "the interrupted query was stopped: {states:?}");
}

/// Batches as the Streams consumer writes them: two days of a closed October, a closed day
/// of November and today's, for `TENANT`.
fn write_batches(stage: &TestStage, bucket: &str) {
    let dir = crate::server::temp_dir("compact-batches");
    let today = chrono::Utc::now().date_naive();
    let days = [
        ("2026-10-03", vec!["p1", "p2"]),
        ("2026-10-20", vec!["p3"]),
        ("2026-11-02", vec!["p4"]),
        (&*today.to_string(), vec!["p5"]),
    ];
    for (day, ids) in days {
        let (year, rest) = day.split_at(4);
        let path = dir.join(format!("{TENANT}/purchases/year={year}/month={}/day={}", &rest[1..3], &rest[4..6]));
        std::fs::create_dir_all(&path).expect("dir");
        let lines: Vec<String> = ids
            .iter()
            .map(|id| {
                json!({"purchase_id": id, "tenant_id": TENANT, "user_id": "u1", "items": [], "subtotal": "10.00",
                       "tax": "2.10", "total_amount": "12.10", "status": "PAYMENT_PROCESSED", "payment_method": "card",
                       "version": 1, "created_at": format!("{day}T10:00:00Z"), "updated_at": format!("{day}T10:00:00Z")})
                .to_string()
            })
            .collect();
        std::fs::write(path.join(format!("batch-{}.json", ids[0])), lines.join("\n") + "\n").expect("batch");
    }
    stage.aws(&["s3", "sync", dir.to_str().expect("path"), &format!("s3://{bucket}/")]).expect("sync");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn athena_compact_on_an_aws_stage_switches_closed_days_to_parquet_and_queries_follow_the_manifest() {
    let Some((endpoint, aws_cli)) = moto() else { return };
    let stage = TestStage::new(endpoint, aws_cli);
    let undeployed = stage.command(&["athena", "compact"]).output().expect("runs");
    assert_eq!(undeployed.status.code(), Some(1), "{}", text(&undeployed));
    assert!(text(&undeployed).contains("bookstore deploy --stage test"), "{}", text(&undeployed));

    let bucket = create_lake_bucket(&stage);
    write_batches(&stage, &bucket);
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
    let open = stage.command(&["athena", "compact", "--before", &tomorrow]).output().expect("runs");
    assert_eq!(open.status.code(), Some(1), "{}", text(&open));
    assert!(text(&open).contains(&format!("--before {tomorrow}: days from today")), "{}", text(&open));
    let bad = stage.command(&["athena", "compact", "--keep-superseded-for", "5 minutes"]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--keep-superseded-for") && text(&bad).contains("`30m`"), "{}", text(&bad));

    // Fixed dates: October closed, and November's days before the 10th.
    let ran = stage.command(&["athena", "compact", "--before", "2026-11-10"]).output().expect("runs");
    assert!(ran.status.success(), "{}", text(&ran));
    let report: Value = serde_json::from_slice(&ran.stdout).expect("json report");
    assert_eq!((report["days"].as_u64(), report["records"].as_u64()), (Some(3), Some(4)), "{report}");

    let manifest = stage
        .aws(&["s3", "cp", &format!("s3://{bucket}/{TENANT}/compacted/manifest.json"), "-"])
        .expect("the manifest");
    let units = manifest["units"].as_array().expect("units");
    let periods: Vec<&str> = units.iter().filter_map(|u| u["period"].as_str()).collect();
    assert_eq!(periods, ["2026-10", "2026-11-02"], "October merged, November's closed day alone: {manifest:#}");
    for unit in units {
        let key = unit["parquet"].as_str().expect("key");
        assert!(key.starts_with(&format!("{TENANT}/compacted/purchases/year=2026/month=")), "{key}");
        stage.aws(&["s3api", "head-object", "--bucket", &bucket, "--key", key]).expect("the named object exists");
    }

    let dry = stage
        .command(&["athena", "query", "SELECT count(*) AS n FROM purchases", "--tenant", TENANT, "--dry-run"])
        .output()
        .expect("runs");
    assert!(dry.status.success(), "{}", text(&dry));
    let sql = String::from_utf8_lossy(&dry.stdout);
    assert!(
        sql.contains(
            "AND NOT (concat(year, '-', month, '-', day) IN ('2026-11-02') OR concat(year, '-', month) IN ('2026-10'))"
        ),
        "{sql}"
    );
    for unit in units {
        assert!(sql.contains(&format!("'s3://{bucket}/{}'", unit["parquet"].as_str().expect("key"))), "{sql}");
    }
    // The daily summaries: written beside the lake for each compacted day, a table on AWS too.
    for day in ["month=10/day=03", "month=10/day=20", "month=11/day=02"] {
        let key = format!("{TENANT}/daily_summaries/year=2026/{day}/summary.parquet");
        stage.aws(&["s3api", "head-object", "--bucket", &bucket, "--key", &key]).expect("a day's summary");
    }
    let summaries = stage
        .command(&["athena", "query", "SELECT sum(purchases) AS n FROM daily_summaries", "--tenant", TENANT])
        .arg("--dry-run")
        .output()
        .expect("runs");
    assert!(summaries.status.success(), "{}", text(&summaries));
    let database = format!("{}_lake", stage.prefix.replace('-', "_"));
    assert!(
        String::from_utf8_lossy(&summaries.stdout)
            .contains(&format!("FROM \"{database}\".\"daily_summaries\" WHERE tenant_id = '{TENANT}'")),
        "{}",
        text(&summaries)
    );

    let other = stage
        .command(&["athena", "query", "SELECT count(*) AS n FROM purchases", "--tenant", "papiro", "--dry-run"])
        .output()
        .expect("runs");
    let other_sql = String::from_utf8_lossy(&other.stdout);
    assert!(!other_sql.contains("compacted") && !other_sql.contains(TENANT), "{other_sql}");

    let again = stage.command(&["athena", "compact", "--before", "2026-11-10"]).output().expect("runs");
    let report: Value = serde_json::from_slice(&again.stdout).expect("json report");
    assert_eq!(report["days"], 0, "a second run has nothing to do: {report}");
}
