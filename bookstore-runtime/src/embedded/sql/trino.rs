//! Athena's (Trino's) SQL on DataFusion: the forms DataFusion parses but cannot run are
//! rewritten in the syntax tree, and the functions it lacks are added.
//!
//! - `FROM r [AS a] CROSS JOIN UNNEST(e) AS t(c1, …)` (also `, UNNEST(…)` and
//!   `JOIN UNNEST(…) ON true`) becomes a derived table `(SELECT a.*, unnest(e) … FROM r AS a)
//!   AS a`. As in Trino, an array of rows expands into one column per field (`AS t(f1, …,
//!   fn)`, or no column list); the single-name form `AS t(i)` keeps the row whole, so
//!   `i.quantity` works too (DuckDB's and PostgreSQL's habit).
//! - `from_iso8601_timestamp`, `year`/`month`/`day`/`hour`, `date_add(unit, n, ts)` and
//!   `date_diff(unit, a, b)` behave as Trino's.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::kernels::numeric::add;
use datafusion::arrow::datatypes::{DataType, Int64Type, IntervalMonthDayNano, TimeUnit, TimestampNanosecondType};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast, lit,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    DuplicateTreatment, Expr as SqlExpr, FunctionArguments, Ident, JoinConstraint, JoinOperator, ObjectName, Query,
    Select, SelectItem, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// What the rewrite needs to know of the tables.
pub struct LakeSchema<'a> {
    /// The fields of the rows in an array column (for the row-expanding forms).
    pub row_fields: &'a dyn Fn(&str) -> Option<Vec<String>>,
    /// A table's columns, so expanded fields that share a name with one stay apart.
    pub columns: &'a dyn Fn(&str) -> Option<Vec<String>>,
}

/// Rewrites Trino's `UNNEST` joins in place.
pub fn rewrite_unnest(statement: &mut Statement, schema: &LakeSchema<'_>) -> Result<(), String> {
    let mut rewriter = UnnestRewriter { schema, next_id: 0 };
    match statement.visit(&mut rewriter) {
        ControlFlow::Break(message) => Err(message),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct UnnestRewriter<'a> {
    schema: &'a LakeSchema<'a>,
    next_id: usize,
}

/// A qualified name to rewrite: `alias.column` becomes `base.internal`.
struct Rename {
    alias: String,
    base: String,
    /// Expanded fields whose internal name differs from their name (it collides with a
    /// column of the base table): (name, internal).
    fields: Vec<(String, String)>,
}

fn relation_alias(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table { alias: Some(alias), .. } | TableFactor::Derived { alias: Some(alias), .. } => {
            Some(alias.name.value.clone())
        }
        TableFactor::Table { name, .. } => name.0.last().map(ToString::to_string),
        _ => None,
    }
}

fn is_cross_join(operator: &JoinOperator) -> bool {
    match operator {
        JoinOperator::CrossJoin(JoinConstraint::None) => true,
        JoinOperator::Inner(JoinConstraint::On(SqlExpr::Value(value)))
        | JoinOperator::Join(JoinConstraint::On(SqlExpr::Value(value))) => matches!(value.value, Value::Boolean(true)),
        _ => false,
    }
}

impl UnnestRewriter<'_> {
    /// Folds `unnest` into `left`, remembering that the UNNEST's alias now means `left`'s.
    fn fold(&mut self, left: &mut TableFactor, unnest: TableFactor, renames: &mut Vec<Rename>) -> Result<(), String> {
        let TableFactor::UNNEST { alias, array_exprs, with_offset, with_ordinality, .. } = unnest else {
            return Err("expected UNNEST".to_owned());
        };
        if with_offset || with_ordinality {
            return Err("UNNEST ... WITH ORDINALITY is not supported".to_owned());
        }
        let base = relation_alias(left).ok_or("UNNEST must follow a table or an aliased subquery")?;
        let names: Vec<String> =
            alias.as_ref().map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect()).unwrap_or_default();
        let base_columns = match &*left {
            TableFactor::Table { name, .. } => name.0.last().and_then(|n| (self.schema.columns)(&n.to_string())),
            _ => None,
        }
        .unwrap_or_default();
        let mut rename = Rename {
            alias: alias.as_ref().map(|a| a.name.value.clone()).unwrap_or_default(),
            base: base.clone(),
            fields: Vec::new(),
        };
        let mut inner = Vec::new();
        let mut expanded = Vec::new();
        for (position, expression) in array_exprs.iter().enumerate() {
            let expands_rows = array_exprs.len() == 1 && names.len() != 1;
            if expands_rows {
                let text = expression.to_string();
                let column = text.rsplit('.').next().unwrap_or(&text).to_owned();
                let fields = (self.schema.row_fields)(&column)
                    .ok_or_else(|| format!("UNNEST({expression}): only arrays of rows can expand into columns"))?;
                if !names.is_empty() && names.len() != fields.len() {
                    let table = alias.as_ref().map_or("?", |a| a.name.value.as_str());
                    return Err(format!(
                        "Column alias list has {} entries but '{table}' has {} columns available",
                        names.len(),
                        fields.len()
                    ));
                }
                self.next_id += 1;
                let unnested = format!("__unnest{}", self.next_id);
                inner.push(format!("unnest({expression}) AS {unnested}"));
                for (index, field) in fields.iter().enumerate() {
                    let name = names.get(index).unwrap_or(field);
                    let internal = if base_columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                        let internal = format!("{}__{name}", rename.alias);
                        rename.fields.push((name.clone(), internal.clone()));
                        internal
                    } else {
                        name.clone()
                    };
                    expanded.push(format!("__rows.{unnested}['{field}'] AS \"{internal}\""));
                }
            } else {
                let name = names.get(position).cloned().unwrap_or_else(|| format!("_col{position}"));
                inner.push(format!("unnest({expression}) AS \"{name}\""));
            }
        }
        if !rename.alias.is_empty() {
            renames.push(rename);
        }
        let mut sql = format!("SELECT {base}.*, {} FROM {left}", inner.join(", "));
        if !expanded.is_empty() {
            sql = format!("SELECT __rows.*, {} FROM ({sql}) AS __rows", expanded.join(", "));
        }
        let subquery = Parser::new(&GenericDialect {})
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_query())
            .map_err(|err| format!("cannot rewrite UNNEST: {err}"))?;
        *left = TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(TableAlias { explicit: true, name: Ident::new(base), columns: vec![], at: None }),
            sample: None,
        };
        Ok(())
    }
}

impl VisitorMut for UnnestRewriter<'_> {
    type Break = String;

    /// A query whose body is one SELECT: its ORDER BY may name the UNNEST's alias too.
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<String> {
        let SetExpr::Select(select) = query.body.as_mut() else { return ControlFlow::Continue(()) };
        let renames = match self.fold_select(select) {
            Ok(renames) => renames,
            Err(message) => return ControlFlow::Break(message),
        };
        if let Some(order_by) = &mut query.order_by {
            let _ = visit_expressions_mut(order_by, |expression| {
                rename_reference(expression, &renames);
                ControlFlow::<()>::Continue(())
            });
        }
        ControlFlow::Continue(())
    }

    /// Other SELECTs (the arms of a UNION).
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<String> {
        match self.fold_select(select) {
            Ok(_) => ControlFlow::Continue(()),
            Err(message) => ControlFlow::Break(message),
        }
    }

    /// `approx_distinct(x)` is counted exactly: Trino's estimate is exact for the small
    /// sets a shop has, which DataFusion's HyperLogLog is not.
    fn post_visit_expr(&mut self, expression: &mut SqlExpr) -> ControlFlow<String> {
        if let SqlExpr::Function(function) = expression
            && function.name.to_string().eq_ignore_ascii_case("approx_distinct")
            && let FunctionArguments::List(arguments) = &mut function.args
        {
            function.name = ObjectName::from(vec![Ident::new("count")]);
            arguments.duplicate_treatment = Some(DuplicateTreatment::Distinct);
        }
        ControlFlow::Continue(())
    }
}

/// `t.c` now lives in the folded relation: `a.c` (or `a.t__c` when `a` has a `c`).
fn rename_reference(expression: &mut SqlExpr, renames: &[Rename]) {
    if let SqlExpr::CompoundIdentifier(parts) = expression
        && let Some(rename) = renames.iter().find(|r| parts[0].value.eq_ignore_ascii_case(&r.alias))
    {
        parts[0] = Ident::new(rename.base.clone());
        if let Some(column) = parts.get_mut(1)
            && let Some((_, internal)) = rename.fields.iter().find(|(name, _)| name.eq_ignore_ascii_case(&column.value))
        {
            *column = Ident::new(internal.clone());
        }
    }
}

impl UnnestRewriter<'_> {
    /// Folds the SELECT's UNNEST joins; returns the renames its expressions went through.
    fn fold_select(&mut self, select: &mut Select) -> Result<Vec<Rename>, String> {
        let mut renames = Vec::new();
        let mut from: Vec<TableWithJoins> = Vec::new();
        for mut table in std::mem::take(&mut select.from) {
            // The comma form: `FROM r, UNNEST(…) AS t(…)`.
            if matches!(table.relation, TableFactor::UNNEST { .. }) && table.joins.is_empty() {
                match from.last_mut().filter(|previous| previous.joins.is_empty()) {
                    Some(previous) => {
                        self.fold(&mut previous.relation, table.relation, &mut renames)?;
                        continue;
                    }
                    None => return Err("UNNEST must follow a table in FROM".to_owned()),
                }
            }
            let mut kept = Vec::new();
            for join in std::mem::take(&mut table.joins) {
                let is_unnest = matches!(join.relation, TableFactor::UNNEST { .. });
                if is_unnest && is_cross_join(&join.join_operator) && kept.is_empty() {
                    self.fold(&mut table.relation, join.relation, &mut renames)?;
                } else if is_unnest {
                    return Err("UNNEST is supported as a CROSS JOIN directly after the table it unnests".to_owned());
                } else {
                    kept.push(join);
                }
            }
            table.joins = kept;
            from.push(table);
        }
        select.from = from;
        if renames.is_empty() {
            return Ok(renames);
        }
        // Trino names `i.quantity` "quantity"; DataFusion would call it `p.i[quantity]`.
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expression @ SqlExpr::CompoundIdentifier(_)) = item
                && let SqlExpr::CompoundIdentifier(parts) = &*expression
                && let Some(last) = parts.last().cloned()
            {
                *item = SelectItem::ExprWithAlias { expr: expression.clone(), alias: last };
            }
        }
        let _ = visit_expressions_mut(select, |expression| {
            rename_reference(expression, &renames);
            ControlFlow::<()>::Continue(())
        });
        Ok(renames)
    }
}

/// Adds Trino's functions that DataFusion lacks (or names differently) to `ctx`.
pub fn register_functions(ctx: &SessionContext) {
    let config = ctx.state().config_options().clone();
    let to_timestamp = datafusion::functions::datetime::to_timestamp(&config);
    ctx.register_udf(to_timestamp.as_ref().clone().with_aliases(["from_iso8601_timestamp"]));
    for part in ["year", "month", "day", "hour", "quarter"] {
        ctx.register_udf(ScalarUDF::from(DatePartOf {
            name: part,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    ctx.register_udf(ScalarUDF::from(DateAdd { signature: Signature::user_defined(Volatility::Immutable) }));
    ctx.register_udf(ScalarUDF::from(DateDiff { signature: Signature::user_defined(Volatility::Immutable) }));
}

/// `year(ts)` and friends: `CAST(date_part('year', ts) AS BIGINT)`, as Trino types them.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePartOf {
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for DatePartOf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn simplify(&self, mut args: Vec<Expr>, _: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Some(argument) = args.pop() else { return plan_err!("{}(timestamp) takes one argument", self.name) };
        let part = datafusion::functions::expr_fn::date_part(lit(self.name), argument);
        Ok(ExprSimplifyResult::Simplified(cast(part, DataType::Int64)))
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{} is rewritten to date_part before it runs", self.name)
    }
}

/// Trino's `date_add(unit, value, timestamp)`; month arithmetic clamps to the month's end.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateAdd {
    signature: Signature,
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "date_add"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let [_, _, timestamp] = types else { return plan_err!("date_add(unit, value, timestamp) takes 3 arguments") };
        let timestamp = match timestamp {
            DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Nanosecond, zone.clone()),
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            _ => DataType::Timestamp(TimeUnit::Nanosecond, None),
        };
        Ok(vec![DataType::Utf8, DataType::Int64, timestamp])
    }
    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        Ok(types[2].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let units = args.args[0].to_array(rows)?;
        let values = args.args[1].to_array(rows)?;
        let timestamps = args.args[2].to_array(rows)?;
        let units = units.as_string::<i32>();
        let values = values.as_primitive::<Int64Type>();
        let mut intervals = Vec::with_capacity(rows);
        for row in 0..rows {
            if units.is_null(row) || values.is_null(row) {
                intervals.push(None);
                continue;
            }
            let value = values.value(row);
            let (months, days, nanos): (i64, i64, i64) = match units.value(row).to_ascii_lowercase().as_str() {
                "year" => (12 * value, 0, 0),
                "quarter" => (3 * value, 0, 0),
                "month" => (value, 0, 0),
                "week" => (0, 7 * value, 0),
                "day" => (0, value, 0),
                "hour" => (0, 0, value * 3_600_000_000_000),
                "minute" => (0, 0, value * 60_000_000_000),
                "second" => (0, 0, value * 1_000_000_000),
                "millisecond" => (0, 0, value * 1_000_000),
                unit => return exec_err!("date_add: unknown unit '{unit}'"),
            };
            let (Ok(months), Ok(days)) = (i32::try_from(months), i32::try_from(days)) else {
                return exec_err!("date_add: {value} {} is out of range", units.value(row));
            };
            intervals.push(Some(IntervalMonthDayNano::new(months, days, nanos)));
        }
        let intervals: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(intervals));
        Ok(ColumnarValue::Array(add(&timestamps, &intervals)?))
    }
}

/// Trino's `date_diff(unit, a, b)`: whole units from `a` to `b`, truncated toward zero.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateDiff {
    signature: Signature,
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        if types.len() != 3 {
            return plan_err!("date_diff(unit, timestamp1, timestamp2) takes 3 arguments");
        }
        let timestamp = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        Ok(vec![DataType::Utf8, timestamp.clone(), timestamp])
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let units = args.args[0].to_array(rows)?;
        let starts = args.args[1].to_array(rows)?;
        let ends = args.args[2].to_array(rows)?;
        let units = units.as_string::<i32>();
        let starts = starts.as_primitive::<TimestampNanosecondType>();
        let ends = ends.as_primitive::<TimestampNanosecondType>();
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            if units.is_null(row) || starts.is_null(row) || ends.is_null(row) {
                out.push(None);
                continue;
            }
            let (start, end) = (starts.value(row), ends.value(row));
            let per = |unit_nanos: i64| Some((end - start) / unit_nanos);
            out.push(match units.value(row).to_ascii_lowercase().as_str() {
                "millisecond" => per(1_000_000),
                "second" => per(1_000_000_000),
                "minute" => per(60_000_000_000),
                "hour" => per(3_600_000_000_000),
                "day" => per(86_400_000_000_000),
                "week" => per(7 * 86_400_000_000_000),
                "month" => Some(whole_months(start, end)),
                "quarter" => Some(whole_months(start, end) / 3),
                "year" => Some(whole_months(start, end) / 12),
                unit => return exec_err!("date_diff: unknown unit '{unit}'"),
            });
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}

/// Calendar months from `start` to `end` that have fully passed (negative backwards).
fn whole_months(start: i64, end: i64) -> i64 {
    let (from, to) = (DateTime::<Utc>::from_timestamp_nanos(start), DateTime::<Utc>::from_timestamp_nanos(end));
    let month_index = |at: DateTime<Utc>| i64::from(at.year()) * 12 + i64::from(at.month0());
    let mut months = month_index(to) - month_index(from);
    let shifted = |months: i64| {
        let count = Months::new(u32::try_from(months.unsigned_abs()).unwrap_or(u32::MAX));
        if months >= 0 { from.checked_add_months(count) } else { from.checked_sub_months(count) }
    };
    if months > 0 && shifted(months).is_some_and(|at| at > to) {
        months -= 1;
    }
    if months < 0 && shifted(months).is_some_and(|at| at < to) {
        months += 1;
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(column: &str) -> Option<Vec<String>> {
        (column == "items").then(|| vec!["book_id".to_owned(), "quantity".to_owned()])
    }

    fn columns(table: &str) -> Option<Vec<String>> {
        (table == "purchases").then(|| vec!["purchase_id".to_owned(), "quantity".to_owned(), "items".to_owned()])
    }

    fn rewritten(sql: &str) -> String {
        let mut statement =
            Parser::new(&GenericDialect {}).try_with_sql(sql).and_then(|mut p| p.parse_statement()).expect("sql");
        rewrite_unnest(&mut statement, &LakeSchema { row_fields: &fields, columns: &columns }).expect("rewrite");
        statement.to_string()
    }

    #[test]
    fn a_single_name_keeps_the_row_and_renames_the_alias() {
        let sql = rewritten("SELECT i.quantity FROM purchases p CROSS JOIN UNNEST(p.items) AS t(i)");
        assert!(sql.contains("unnest(p.items) AS \"i\""), "{sql}");
        assert!(sql.contains("i.quantity AS quantity"), "{sql}");
    }

    #[test]
    fn a_column_list_expands_the_rows_as_trino_does() {
        let sql =
            rewritten("SELECT t.book, t.quantity FROM purchases p CROSS JOIN UNNEST(p.items) AS t(book, quantity)");
        assert!(sql.contains("['book_id'] AS \"book\""), "{sql}");
        assert!(sql.contains("p.book AS book"), "{sql}");
        // purchases has its own `quantity`: the item's stays apart, named as asked.
        assert!(sql.contains("p.t__quantity AS quantity"), "{sql}");
    }

    #[test]
    fn a_wrong_column_count_is_trinos_error() {
        let mut statement = Parser::new(&GenericDialect {})
            .try_with_sql("SELECT 1 FROM purchases p CROSS JOIN UNNEST(p.items) AS t(a, b, c)")
            .and_then(|mut p| p.parse_statement())
            .expect("sql");
        let err =
            rewrite_unnest(&mut statement, &LakeSchema { row_fields: &fields, columns: &columns }).expect_err("count");
        assert!(err.contains("has 2 columns available"), "{err}");
    }

    #[test]
    fn whole_months_count_like_trino() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").timestamp_nanos_opt().expect("nanos");
        // Joda's (and so Trino's) rule: Jan 31 plus one month is Feb 28, which is reached.
        assert_eq!(whole_months(at("2026-01-31T00:00:00Z"), at("2026-02-28T00:00:00Z")), 1);
        assert_eq!(whole_months(at("2026-01-31T00:00:00Z"), at("2026-02-27T00:00:00Z")), 0);
        assert_eq!(whole_months(at("2026-01-15T00:00:00Z"), at("2026-03-15T00:00:00Z")), 2);
        assert_eq!(whole_months(at("2026-03-15T00:00:00Z"), at("2026-01-16T00:00:00Z")), -1);
    }
}
