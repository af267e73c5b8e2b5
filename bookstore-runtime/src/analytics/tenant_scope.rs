//! Tenant scoping for Athena, where one Glue table holds every tenant's files: each
//! reference to a lake table becomes a subquery that keeps one tenant's partition
//! (`(SELECT * FROM "db"."purchases" WHERE tenant_id = 'T') AS purchases`). The Glue tables
//! project `tenant_id` as an *injected* partition, so that equality is also what lets Athena
//! find the files at all, and it prunes the scan to the tenant's prefix.
//!
//! Only queries pass, and only over the lake's own tables (by their name, or qualified by
//! the stage's database): no DDL, DML or `SET`, no other database, no `information_schema`,
//! no table functions, and no `WITH` that shadows a lake table. Whatever the SQL says of
//! `tenant_id` (another tenant in a `WHERE`, a `UNION`, a subquery) applies inside the
//! tenant's rows only.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Statement, TableAlias, TableFactor, Value, ValueWithSpan, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{QueryError, at_end_if_unplaced, clean, position_in};
use crate::domain::TenantId;
use crate::lake::Dataset;
use crate::lake::catalog::compacted_table;
use crate::lake::compacted::{CompactionManifest, Period};
use crate::lake::schema::glue_columns;

/// Where a stage's lake tables live in Athena's catalog.
#[derive(Debug, Clone)]
pub struct AthenaCatalog<'a> {
    /// The Glue database (`<prefix>_lake`).
    pub database: &'a str,
    /// The lake's tables in that database that a query may name.
    pub tables: &'a [&'a str],
    /// What compaction made of the tenant's lake: a dataset with compacted periods is read
    /// from its JSON table outside them and from its compacted table inside them.
    pub compacted: Option<CompactedLake<'a>>,
}

/// A tenant's compaction manifest, and the URL of the bucket its keys are in (`s3://b`).
#[derive(Debug, Clone, Copy)]
pub struct CompactedLake<'a> {
    pub manifest: &'a CompactionManifest,
    pub bucket_url: &'a str,
}

/// The query `sql`, rewritten to see `tenant`'s rows only; its own errors are the user's,
/// with their position. A query with `$n` parameters needs `scope_with_parameters`.
pub fn scope_for_athena(sql: &str, tenant: &TenantId, catalog: &AthenaCatalog<'_>) -> Result<String, QueryError> {
    Ok(scope_with_parameters(sql, tenant, catalog, &[])?.sql)
}

/// A query as Athena takes it: tenant-scoped SQL with `?` placeholders, and the values of
/// its `ExecutionParameters`, one per `?` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaQuery {
    pub sql: String,
    pub execution_parameters: Vec<String>,
}

/// `scope_for_athena` for a query whose `$1`, `$2`, … bind `parameters` as text. Athena
/// binds `?` by position, so each `$n` becomes a `?` and its value goes to that position
/// (a `$n` used twice is given twice), as a string literal: Athena parses an execution
/// parameter as one literal, never as SQL.
pub fn scope_with_parameters(
    sql: &str,
    tenant: &TenantId,
    catalog: &AthenaCatalog<'_>,
    parameters: &[String],
) -> Result<AthenaQuery, QueryError> {
    let mut statements = Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|err| at_end_if_unplaced(parse_error(&err.to_string()), sql))?;
    let mut statement = match (statements.pop(), statements.is_empty()) {
        (Some(statement), true) => statement,
        (None, _) => return Err(invalid("the SQL text holds no query")),
        (Some(_), false) => return Err(invalid("give one query at a time")),
    };
    let Statement::Query(query) = &mut statement else {
        return Err(invalid("only SELECT queries can run here (no DDL, DML or SET)"));
    };
    let ctes = cte_names(query);
    if let Some(shadowing) = catalog.tables.iter().find(|table| ctes.contains(**table)) {
        return Err(invalid(format!(
            "WITH {shadowing} hides the lake table of that name; name the subquery otherwise"
        )));
    }
    let mut scoper = TenantScoper { tenant, catalog, ctes, parameters, execution_parameters: Vec::new() };
    match statement.visit(&mut scoper) {
        ControlFlow::Break(err) => Err(err),
        ControlFlow::Continue(()) => {
            Ok(AthenaQuery { sql: statement.to_string(), execution_parameters: scoper.execution_parameters })
        }
    }
}

/// A text value as an Athena literal.
fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

struct TenantScoper<'a> {
    tenant: &'a TenantId,
    catalog: &'a AthenaCatalog<'a>,
    /// Names bound by `WITH` anywhere in the query, lower-cased: references to them stay.
    ctes: HashSet<String>,
    /// The values of `$1`, `$2`, …
    parameters: &'a [String],
    /// One literal per `?` written so far.
    execution_parameters: Vec<String>,
}

impl VisitorMut for TenantScoper<'_> {
    type Break = QueryError;

    // Placeholders in text order: the visitor walks a statement as it is written.
    fn pre_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<QueryError> {
        let Value::Placeholder(name) = &value.value else { return ControlFlow::Continue(()) };
        let position = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).filter(|n| *n >= 1);
        let Some(given) = position.and_then(|n| self.parameters.get(n - 1)) else {
            return ControlFlow::Break(invalid(format!(
                "{name}: a parameter must be $1 to ${} here",
                self.parameters.len()
            )));
        };
        self.execution_parameters.push(string_literal(given));
        value.value = Value::Placeholder("?".to_owned());
        ControlFlow::Continue(())
    }

    // After the children, so the subquery put in place is not visited (and wrapped) again.
    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<QueryError> {
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality: _,
            partitions,
            json_path,
            sample,
            index_hints,
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        if let [ObjectNamePart::Identifier(only)] = name.0.as_slice()
            && self.ctes.contains(&only.value.to_lowercase())
        {
            return ControlFlow::Continue(());
        }
        let table = match self.lake_table(name) {
            Ok(table) => table,
            Err(err) => return ControlFlow::Break(err),
        };
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || !partitions.is_empty()
            || json_path.is_some()
            || !index_hints.is_empty()
        {
            return ControlFlow::Break(invalid(format!("{name}: only a plain table reference is allowed here")));
        }
        let alias = alias.take().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::new(&table),
            columns: Vec::new(),
            at: None,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: self.tenant_rows(&table),
            alias: Some(alias),
            sample: sample.take(),
        };
        ControlFlow::Continue(())
    }
}

impl TenantScoper<'_> {
    /// The lake table a reference names: `t`, `db.t` or `awsdatacatalog.db.t`.
    fn lake_table(&self, name: &ObjectName) -> Result<String, QueryError> {
        let parts: Option<Vec<String>> = name
            .0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => Some(ident.value.to_lowercase()),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        let parts = parts.unwrap_or_default();
        let database = self.catalog.database.to_lowercase();
        let table = match parts.as_slice() {
            [table] => Some(table),
            [db, table] if *db == database => Some(table),
            [catalog, db, table] if catalog == "awsdatacatalog" && *db == database => Some(table),
            _ => None,
        };
        table.filter(|table| self.catalog.tables.contains(&table.as_str())).cloned().ok_or_else(|| {
            invalid(format!("no table {name} in this stage's lake; the tables are: {}", self.catalog.tables.join(", ")))
        })
    }

    fn tenant_rows(&self, table: &str) -> Box<Query> {
        let source = format!("{}.{}", quoted(self.catalog.database), quoted(table));
        // A tenant id is lower-case letters, digits and dashes (`TenantId::parse`), so the
        // literal needs no escaping; doubling quotes keeps that true whatever it becomes.
        let tenant = string_literal(self.tenant.as_str());
        let dataset = Dataset::ALL.into_iter().find(|d| d.name() == table);
        let sql = match (dataset, self.catalog.compacted) {
            (Some(dataset), Some(lake)) if lake.manifest.units_of(dataset).next().is_some() => {
                self.json_and_compacted_rows(dataset, lake, &tenant)
            }
            _ => format!("SELECT * FROM {source} WHERE tenant_id = {tenant}"),
        };
        Parser::new(&GenericDialect {})
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_query())
            .expect("the scoping subquery is valid SQL")
    }

    /// A dataset whose closed periods were compacted: its batches outside those periods,
    /// and inside them the one object the manifest names for each (superseded objects
    /// stay in the bucket a while for queries that started before, so they are named out).
    fn json_and_compacted_rows(&self, dataset: Dataset, lake: CompactedLake<'_>, tenant: &str) -> String {
        let database = quoted(self.catalog.database);
        let mut columns: Vec<String> = glue_columns(dataset).into_iter().map(|[name, _]| quoted(&name)).collect();
        columns.extend(["tenant_id", "year", "month", "day"].map(quoted));
        let columns = columns.join(", ");
        let (mut days, mut months, mut objects) = (Vec::new(), Vec::new(), Vec::new());
        for unit in lake.manifest.units_of(dataset) {
            match unit.period {
                Period::Day(_) => days.push(string_literal(&unit.period.to_string())),
                Period::Month { .. } => months.push(string_literal(&unit.period.to_string())),
            }
            objects.push(string_literal(&format!("{}/{}", lake.bucket_url, unit.parquet)));
        }
        let mut compacted_periods = Vec::new();
        if !days.is_empty() {
            compacted_periods.push(format!("concat(year, '-', month, '-', day) IN ({})", days.join(", ")));
        }
        if !months.is_empty() {
            compacted_periods.push(format!("concat(year, '-', month) IN ({})", months.join(", ")));
        }
        format!(
            "SELECT {columns} FROM {database}.{json} WHERE tenant_id = {tenant} AND NOT ({periods}) \
             UNION ALL SELECT {columns} FROM {database}.{parquet} WHERE tenant_id = {tenant} AND \"$path\" IN ({objects})",
            json = quoted(dataset.name()),
            parquet = quoted(&compacted_table(dataset)),
            periods = compacted_periods.join(" OR "),
            objects = objects.join(", "),
        )
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn cte_names(query: &mut Query) -> HashSet<String> {
    struct Collect(HashSet<String>);
    impl VisitorMut for Collect {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                self.0.extend(with.cte_tables.iter().map(|cte| cte.alias.name.value.to_lowercase()));
            }
            ControlFlow::Continue(())
        }
    }
    let mut collect = Collect(HashSet::new());
    let _ = query.visit(&mut collect);
    collect.0
}

fn parse_error(message: &str) -> QueryError {
    let (line, column) = position_in(message).map_or((None, None), |(l, c)| (Some(l), Some(c)));
    QueryError::Invalid { message: clean(message.strip_prefix("sql parser error: ").unwrap_or(message)), line, column }
}

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::Invalid { message: message.into(), line: None, column: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: AthenaCatalog<'static> =
        AthenaCatalog { database: "bookstore_test_lake", tables: &["purchases", "books"], compacted: None };

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).expect("valid tenant")
    }

    fn scoped(sql: &str) -> Result<String, QueryError> {
        scope_for_athena(sql, &tenant("shop-a"), &CATALOG)
    }

    fn message(err: QueryError) -> String {
        err.to_string()
    }

    #[test]
    fn a_table_becomes_the_tenants_rows_under_its_own_name() {
        let sql = scoped("SELECT count(*) FROM purchases").expect("scoped");
        assert_eq!(
            sql,
            "SELECT count(*) FROM (SELECT * FROM \"bookstore_test_lake\".\"purchases\" WHERE tenant_id = 'shop-a') AS purchases"
        );
    }

    #[test]
    fn aliases_qualified_names_and_every_nesting_level_are_scoped() {
        let sql = scoped(
            "SELECT p.purchase_id FROM bookstore_test_lake.purchases p \
             WHERE p.user_id IN (SELECT user_id FROM AwsDataCatalog.bookstore_test_lake.purchases) \
             UNION ALL SELECT b.book_id FROM books AS b JOIN purchases q ON true",
        )
        .expect("scoped");
        assert_eq!(sql.matches("WHERE tenant_id = 'shop-a'").count(), 4, "{sql}");
        assert!(sql.contains(") p WHERE") || sql.contains(") AS p WHERE"), "{sql}");
        assert!(!sql.contains("FROM bookstore_test_lake.purchases"), "{sql}");
    }

    #[test]
    fn unnest_joins_keep_working_on_the_scoped_relation() {
        let sql = scoped("SELECT i.book_id FROM purchases CROSS JOIN UNNEST(items) AS t(i)").expect("scoped");
        assert!(sql.ends_with(") AS purchases CROSS JOIN UNNEST(items) AS t (i)"), "{sql}");
    }

    #[test]
    fn ctes_stay_but_may_not_hide_a_lake_table() {
        let sql = scoped("WITH recent AS (SELECT * FROM purchases) SELECT * FROM recent").expect("scoped");
        assert!(sql.ends_with("SELECT * FROM recent"), "{sql}");
        assert_eq!(sql.matches("tenant_id = 'shop-a'").count(), 1);
        let err = scoped("WITH purchases AS (SELECT 1 AS x) SELECT * FROM purchases").expect_err("refused");
        assert!(message(err).contains("WITH purchases hides the lake table"));
    }

    #[test]
    fn other_databases_catalog_views_and_table_functions_are_refused() {
        for sql in [
            "SELECT * FROM other_db.purchases",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM bookstore_prod_lake.books",
            "SELECT * FROM users",
        ] {
            let err = message(scoped(sql).expect_err("refused"));
            assert!(err.contains("in this stage's lake; the tables are: purchases, books"), "{sql}: {err}");
        }
    }

    #[test]
    fn only_one_query_is_allowed() {
        for sql in [
            "DROP TABLE purchases",
            "CREATE EXTERNAL TABLE x (a int) LOCATION 's3://lake/shop-b/'",
            "INSERT INTO purchases SELECT * FROM purchases",
            "SET SESSION x = 1",
        ] {
            let err = message(scoped(sql).expect_err("refused"));
            assert!(err.contains("only SELECT queries"), "{sql}: {err}");
        }
        assert!(message(scoped("SELECT 1; SELECT 2").expect_err("refused")).contains("one query at a time"));
        assert!(message(scoped("  ").expect_err("refused")).contains("no query"));
    }

    #[test]
    fn another_tenant_named_in_the_sql_stays_inside_the_scope() {
        let sql = scoped("SELECT * FROM purchases WHERE tenant_id = 'shop-b' OR '1'='1'").expect("scoped");
        assert!(sql.contains("WHERE tenant_id = 'shop-a') AS purchases WHERE tenant_id = 'shop-b'"), "{sql}");
    }

    #[test]
    fn parameters_become_positional_literals_in_text_order() {
        let sql = "SELECT * FROM purchases p WHERE ($1 = '' OR p.year = $1) AND p.month = $2";
        let parameters = ["2026".to_owned(), "o'clock".to_owned()];
        let query = scope_with_parameters(sql, &tenant("shop-a"), &CATALOG, &parameters).expect("scoped");
        assert_eq!(query.sql.matches('?').count(), 3, "{}", query.sql);
        assert!(!query.sql.contains('$') && !query.sql.contains("2026"), "no value in the text: {}", query.sql);
        assert_eq!(query.execution_parameters, ["'2026'", "'2026'", "'o''clock'"]);
        let err = scope_with_parameters("SELECT $3 FROM purchases", &tenant("shop-a"), &CATALOG, &parameters);
        assert!(message(err.expect_err("no $3")).contains("$1 to $2"));
        assert!(scoped("SELECT $1 FROM purchases").is_err(), "a placeholder without values is refused");
    }

    #[test]
    fn compacted_periods_are_read_from_the_object_the_manifest_names_and_never_from_their_batches() {
        use crate::lake::compacted::{CompactedUnit, CompactionManifest};
        let unit = |period: &str, parquet: &str| CompactedUnit {
            dataset: Dataset::Purchases,
            period: period.parse().expect("period"),
            parquet: parquet.to_owned(),
            rows: 1,
            folded: Vec::new(),
            compacted_at: chrono::Utc::now(),
        };
        let manifest = CompactionManifest {
            units: vec![
                unit("2026-10", "shop-a/compacted/purchases/year=2026/month=10/2026-10-aa.parquet"),
                unit("2026-11-02", "shop-a/compacted/purchases/year=2026/month=11/2026-11-02-bb.parquet"),
            ],
            retired: Vec::new(),
        };
        let catalog = AthenaCatalog {
            compacted: Some(CompactedLake { manifest: &manifest, bucket_url: "s3://lake" }),
            ..CATALOG.clone()
        };
        let sql = scope_for_athena("SELECT count(*) FROM purchases", &tenant("shop-a"), &catalog).expect("scoped");
        assert!(
            sql.contains(
                "FROM \"bookstore_test_lake\".\"purchases\" WHERE tenant_id = 'shop-a' AND NOT \
                 (concat(year, '-', month, '-', day) IN ('2026-11-02') OR concat(year, '-', month) IN ('2026-10'))"
            ),
            "{sql}"
        );
        assert!(
            sql.contains(
                "FROM \"bookstore_test_lake\".\"purchases_compacted\" WHERE tenant_id = 'shop-a' AND \"$path\" IN \
                 ('s3://lake/shop-a/compacted/purchases/year=2026/month=10/2026-10-aa.parquet', \
                 's3://lake/shop-a/compacted/purchases/year=2026/month=11/2026-11-02-bb.parquet')"
            ),
            "{sql}"
        );
        assert!(sql.ends_with(") AS purchases"), "{sql}");
        let books = scope_for_athena("SELECT * FROM books", &tenant("shop-a"), &catalog).expect("scoped");
        assert!(!books.contains("books_compacted"), "books has no compacted period: {books}");
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let err = scoped("SELECT total_amount\nFROM purchases\nWHERE = 3").expect_err("refused");
        let QueryError::Invalid { line, column, message } = err else { panic!("a user error") };
        assert_eq!((line, column), (Some(3), Some(7)), "{message}");
        assert!(!message.contains("Line:"), "{message}");
        let err = scoped("SELECT * FROM").expect_err("refused");
        assert!(matches!(err, QueryError::Invalid { line: Some(1), .. }), "{err}");
    }
}
