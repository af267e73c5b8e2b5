//! `bookstore athena query` on the local stage: the example queries give DuckDB's rows on
//! the same files, a tenant's query never sees another tenant, and wrong SQL is named with
//! its position.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{Server, run, service, temp_dir};

const TENANTS: [&str; 3] = ["libreria-sol", "book-haven", "papiro"];
const DEMO_PURCHASES: u64 = 500;

/// A data directory holding the demo seed and, once the change feeds caught up, its lake.
fn demo_data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("athena-demo");
        let mut server = Server::start(&dir, &["--seed", "demo"]);
        server.wait_for_line("demo data ready", Duration::from_secs(300));
        let deadline = Instant::now() + Duration::from_secs(120);
        for tenant in TENANTS {
            while purchases_in_lake(&dir, tenant) < DEMO_PURCHASES {
                assert!(Instant::now() < deadline, "the lake of {tenant} did not fill");
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        server.kill();
        dir
    })
}

fn query(data: &Path, tenant: &str, sql: &str) -> Output {
    run(&["athena", "query", sql, "--tenant", tenant, "--output", "json", "--data-dir", data.to_str().expect("path")])
}

fn rows(out: &Output) -> Vec<serde_json::Map<String, Value>> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json rows");
    rows.into_iter().map(|row| row.as_object().expect("object").clone()).collect()
}

fn purchases_in_lake(data: &Path, tenant: &str) -> u64 {
    let out = query(data, tenant, "SELECT count(*) AS n FROM purchases");
    if !out.status.success() {
        return 0;
    }
    rows(&out)[0]["n"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/athena");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/athena")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// Two answers agree: the same columns, and row by row the same text, or numbers within
/// a cent (engines type averages differently: decimal(16,6) here, double in DuckDB).
fn assert_same_rows(example: &Path, ours: &Value, theirs: &Value) {
    let name = example.file_name().expect("name").to_string_lossy();
    assert_eq!(ours["columns"], theirs["columns"], "{name}: columns");
    let (ours, theirs) = (ours["rows"].as_array().expect("rows"), theirs["rows"].as_array().expect("rows"));
    assert!(!ours.is_empty(), "{name}: no rows, so nothing is compared");
    assert_eq!(ours.len(), theirs.len(), "{name}: row count");
    for (index, (a, b)) in ours.iter().zip(theirs).enumerate() {
        for (x, y) in a.as_array().expect("row").iter().zip(b.as_array().expect("row")) {
            let same = match (x.as_str().map(str::parse::<f64>), y.as_str().map(str::parse::<f64>)) {
                (Some(Ok(x)), Some(Ok(y))) => (x - y).abs() < 0.005,
                _ => x == y,
            };
            assert!(same, "{name}: row {index}: {a} vs DuckDB's {b}");
        }
    }
}

#[test]
fn every_example_query_gives_duckdbs_rows_on_the_same_files() {
    let Some(python) = service("BOOKSTORE_TEST_DUCKDB_PYTHON", "a Python with duckdb installed") else { return };
    let data = demo_data();
    let examples = examples();
    assert!(examples.len() >= 8, "the examples are there");
    for example in examples {
        let out = run(&[
            "athena",
            "query",
            "--file",
            example.to_str().expect("path"),
            "--tenant",
            "libreria-sol",
            "--output",
            "json",
            "--data-dir",
            data.to_str().expect("path"),
        ]);
        let ours = rows(&out);
        let columns: Vec<Value> = match ours.first() {
            Some(first) => first.keys().map(|k| Value::from(k.clone())).collect(),
            None => Vec::new(),
        };
        let theirs = duckdb(&python, &data.join("lake"), "libreria-sol", &example, None);
        // JSON objects lose the column order; compare by DuckDB's column order.
        let order: Vec<String> = theirs["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c.as_str().expect("name").to_owned())
            .collect();
        let mut sorted_ours = columns.iter().map(|c| c.as_str().expect("name").to_owned()).collect::<Vec<_>>();
        sorted_ours.sort();
        let mut sorted_theirs = order.clone();
        sorted_theirs.sort();
        assert_eq!(sorted_ours, sorted_theirs, "{}: columns", example.display());
        let ours_in_order = serde_json::json!({
            "columns": order,
            "rows": ours.iter().map(|row| order.iter().map(|c| row[c].clone()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        });
        assert_same_rows(&example, &ours_in_order, &theirs);
    }
}

/// DuckDB's answer to the query in `sql_file` over `tenant`'s files (`*`: every tenant's),
/// its tables in `schema` when given.
fn duckdb(python: &str, lake: &Path, tenant: &str, sql_file: &Path, schema: Option<&str>) -> Value {
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/duckdb_query.py");
    let mut command = Command::new(python);
    command.arg(&oracle).arg(lake).arg(tenant).arg(sql_file).args(schema);
    let out = command.output().expect("python runs");
    assert!(out.status.success(), "duckdb on {}: {}", sql_file.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("duckdb json")
}

/// On AWS one Glue table holds every tenant's files, and the SQL itself is what keeps a
/// tenant to its own rows: each example, as `--dry-run` prints it for Athena, run by DuckDB
/// over all three tenants, answers what the example answers over one tenant's files.
#[test]
fn athenas_scoped_sql_over_every_tenants_files_gives_one_tenants_rows() {
    let Some(python) = service("BOOKSTORE_TEST_DUCKDB_PYTHON", "a Python with duckdb installed") else { return };
    // The scoped SQL follows the stage's compaction manifests, so the stage's lake bucket
    // must answer (on moto, with no manifest: nothing compacted).
    let Some((endpoint, aws_cli)) = crate::deploy::moto() else { return };
    let mut create = Command::new(aws_cli);
    create.args(["--endpoint-url", &endpoint, "--region", "eu-west-1", "s3api", "create-bucket"]).args([
        "--bucket",
        "bookstore-test-lake-123456789012",
        "--create-bucket-configuration",
        "LocationConstraint=eu-west-1",
    ]);
    let created = crate::deploy::with_aws_env(&mut create).output().expect("aws runs");
    let said = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success() || said.contains("BucketAlreadyOwnedByYou"), "{said}");
    let lake = demo_data().join("lake");
    let stages = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages");
    let scratch = temp_dir("athena-scoped");
    let sql_for_athena = |label: &str, sql_file: &Path| -> PathBuf {
        let mut command = crate::server::bookstore();
        command.args(["athena", "query", "--file", sql_file.to_str().expect("path"), "--stage", "test"]).args([
            "--stages-dir",
            stages.to_str().expect("path"),
            "--tenant",
            "libreria-sol",
            "--dry-run",
            "--endpoint-url",
            &endpoint,
        ]);
        let out = crate::deploy::with_aws_env(&mut command).output().expect("bookstore runs");
        assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
        let scoped = scratch.join(label);
        std::fs::write(&scoped, &out.stdout).expect("write");
        scoped
    };
    for example in examples() {
        let name = example.file_name().expect("name").to_string_lossy().into_owned();
        let scoped = sql_for_athena(&name, &example);
        let text = std::fs::read_to_string(&scoped).expect("scoped");
        assert!(text.contains("\"bookstore_test_lake\"."), "{name}: tables are the stage's: {text}");
        let one_tenant = duckdb(&python, &lake, "libreria-sol", &example, None);
        let every_tenant = duckdb(&python, &lake, "*", &scoped, Some("bookstore_test_lake"));
        assert_same_rows(&example, &every_tenant, &one_tenant);
    }
    // The attack queries of the local test, by SQL alone.
    let attacks = [
        ("where.sql", "SELECT count(*) AS n FROM purchases WHERE tenant_id = 'papiro'", "0"),
        ("or.sql", "SELECT count(*) AS n FROM purchases WHERE tenant_id = 'papiro' OR 1 = 1", "500"),
        (
            "union.sql",
            "SELECT count(*) AS n FROM (SELECT tenant_id FROM books UNION ALL SELECT tenant_id FROM purchases) \
          WHERE tenant_id <> 'libreria-sol'",
            "0",
        ),
        (
            "subquery.sql",
            "SELECT (SELECT count(DISTINCT tenant_id) FROM purchases p2 WHERE p2.tenant_id IN ('papiro', \
          'book-haven')) AS n",
            "0",
        ),
    ];
    for (label, sql, expected) in attacks {
        let file = scratch.join(format!("raw-{label}"));
        std::fs::write(&file, sql).expect("write");
        let scoped = sql_for_athena(label, &file);
        let answer = duckdb(&python, &lake, "*", &scoped, Some("bookstore_test_lake"));
        assert_eq!(answer["rows"], serde_json::json!([[expected]]), "{label}");
    }
    let _ = std::fs::remove_dir_all(scratch);
}

#[test]
fn a_tenants_query_never_reaches_another_tenant() {
    let data = demo_data();
    let lake = data.join("lake");
    let count = |sql: &str| rows(&query(data, "libreria-sol", sql))[0]["n"].as_str().expect("n").to_owned();
    assert_eq!(count("SELECT count(*) AS n FROM purchases"), DEMO_PURCHASES.to_string());
    assert_eq!(count("SELECT count(*) AS n FROM purchases WHERE tenant_id = 'papiro'"), "0");
    assert_eq!(count("SELECT count(*) AS n FROM purchases WHERE tenant_id <> 'libreria-sol'"), "0");
    assert_eq!(
        count("SELECT (SELECT count(*) FROM books WHERE tenant_id IN ('papiro', 'book-haven')) AS n"),
        "0",
        "a subquery sees the same tenant"
    );
    let other = lake.join("papiro").join("purchases");
    for sql in [
        format!("SELECT count(*) AS n FROM '{}/'", other.display()),
        format!("CREATE EXTERNAL TABLE stolen STORED AS JSON LOCATION '{}/'", other.display()),
        "SET datafusion.catalog.information_schema = true".to_owned(),
        "INSERT INTO purchases SELECT * FROM purchases".to_owned(),
    ] {
        let out = query(data, "libreria-sol", &sql);
        assert_eq!(out.status.code(), Some(1), "{sql} must fail: {}", String::from_utf8_lossy(&out.stdout));
        assert!(out.stdout.is_empty(), "{sql} printed rows");
    }
}

#[test]
fn wrong_sql_is_named_with_its_position_and_exit_code_1() {
    let data = demo_data();
    let cases = [
        ("SELECT * FROM purchases WHERE", "line 1:30", "Expected: an expression"),
        ("SELECT purchase_idd FROM purchases", "line 1:8", "purchase_idd"),
        ("SELECT 1 FROM purchases p CROSS JOIN UNNEST(p.items) AS t(a, b)", "", "has 7 columns available"),
        ("SELECT * FROM no_such_table", "line 1:15", "no_such_table"),
    ];
    for (sql, position, hint) in cases {
        let out = query(data, "libreria-sol", sql);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sql}: {stderr}");
        assert!(stderr.contains(position) && stderr.contains(hint), "{sql}: {stderr}");
    }
    let unknown_tenant = run(&["athena", "query", "SELECT 1", "--tenant", "Not A Tenant"]);
    assert_eq!(unknown_tenant.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown_tenant.stderr).contains("--tenant"));
}

/// A copy of the demo data, for a test that changes the lake.
fn demo_copy(label: &str) -> PathBuf {
    let copy = temp_dir(label);
    crate::render::copy_dir(demo_data(), &copy);
    copy
}

fn compact(data: &Path) -> Command {
    let mut command = crate::server::bookstore();
    command.args(["athena", "compact", "--data-dir", data.to_str().expect("path")]);
    command
}

/// Files under `dir` whose names end in `suffix`, outside compaction's staging directories.
fn files_named(dir: &Path, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != ".compaction")
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_named(&path, suffix)
            } else {
                usize::from(path.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}

/// Every `{tenant}/{dataset}/year=/month=` directory under the lake.
fn month_directories(lake: &Path) -> Vec<PathBuf> {
    let children = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for tenant in children(lake) {
        for dataset in ["purchases", "books"] {
            for year in children(&tenant.join(dataset)) {
                found.extend(children(&year));
            }
        }
    }
    found
}

#[test]
fn compaction_killed_half_way_then_run_again_leaves_every_record_once() {
    let data = demo_copy("compaction");
    let answers = |data: &Path| -> Vec<String> {
        examples()
            .iter()
            .map(|example| {
                let out = run(&[
                    "athena",
                    "query",
                    "--file",
                    example.to_str().expect("path"),
                    "--tenant",
                    "book-haven",
                    "--output",
                    "json",
                    "--data-dir",
                    data.to_str().expect("path"),
                ]);
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                String::from_utf8(out.stdout).expect("utf-8")
            })
            .collect()
    };
    let before = answers(&data);

    // Killed once its first day is swapped in: some days are Parquet, the rest still JSON.
    let lake = data.join("lake");
    let mut child = compact(&data).stdout(std::process::Stdio::null()).spawn().expect("compaction starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while files_named(&lake, ".parquet") == 0 {
        assert!(child.try_wait().expect("wait").is_none(), "compaction ended before a day was swapped in");
        assert!(Instant::now() < deadline, "compaction swapped in no day");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill");
    let killed = child.wait().expect("wait");
    assert!(!killed.success(), "the first run was stopped before it finished");
    assert!(files_named(&lake, ".json") > 0, "the first run left days to do");

    let finished = compact(&data).output().expect("compaction runs");
    assert!(finished.status.success(), "{}", String::from_utf8_lossy(&finished.stderr));
    assert_eq!(files_named(&lake, ".json"), 0, "every closed day is Parquet now");
    for tenant in TENANTS {
        assert!(!lake.join(tenant).join(".compaction").exists(), "no leftovers");
        let counts =
            rows(&query(&data, tenant, "SELECT count(*) AS n, count(DISTINCT purchase_id) AS d FROM purchases"));
        assert_eq!(counts[0]["n"], DEMO_PURCHASES.to_string(), "{tenant}: every purchase");
        assert_eq!(counts[0]["d"], DEMO_PURCHASES.to_string(), "{tenant}: each once");
    }
    assert_eq!(answers(&data), before, "the example queries answer the same after compaction");
    let report: Value = serde_json::from_slice(&finished.stdout).expect("report");
    assert!(files_named(&lake, ".month.parquet") > 0, "closed months are merged: {report}");
    for month_dir in month_directories(&lake) {
        let names: Vec<String> = std::fs::read_dir(&month_dir)
            .expect("month")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.iter().any(|n| n.ends_with(".month.parquet")) {
            assert_eq!(names.len(), 1, "{}: a merged month holds its one file: {names:?}", month_dir.display());
        }
    }

    let again = compact(&data).output().expect("compaction runs");
    let report: Value = serde_json::from_slice(&again.stdout).expect("report");
    assert_eq!(report["days"], 0, "a second run finds nothing to do");
    let summary = rows(&query(&data, "papiro", "SELECT sum(purchases) AS n FROM daily_summaries"));
    assert_eq!(summary[0]["n"], DEMO_PURCHASES.to_string(), "the daily summaries count every purchase");
    let _ = std::fs::remove_dir_all(data);
}
