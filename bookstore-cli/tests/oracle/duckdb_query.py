"""Runs one query with DuckDB over one tenant's part of a local lake and prints
{"columns": [...], "rows": [[text or null, ...], ...]} as JSON: the independent answer the
tests compare the embedded engine with.

Usage: duckdb_query.py LAKE TENANT QUERY.sql [SCHEMA]. TENANT `*` reads every tenant's
files, as one Glue table does on AWS; SCHEMA also names the tables `SCHEMA.purchases` …,
as the Glue database qualifies them in the SQL `bookstore athena query --dry-run` prints.

QUERY.sql is Athena's SQL (examples/athena/); `duckdb_spelling` turns the two forms DuckDB
spells differently into its own, nothing else.
"""
import glob
import json
import re
import sys

import duckdb

ITEM = ("STRUCT(book_id VARCHAR, title VARCHAR, category VARCHAR, author VARCHAR, quantity INTEGER, "
        "unit_price DECIMAL(12,2), subtotal DECIMAL(12,2))[]")
MONEY = "DECIMAL(12,2)"
COLUMNS = {
    "purchases": {
        "purchase_id": "VARCHAR", "tenant_id": "VARCHAR", "user_id": "VARCHAR", "items": ITEM,
        "subtotal": MONEY, "tax": MONEY, "total_amount": MONEY, "status": "VARCHAR",
        "payment_method": "VARCHAR", "version": "BIGINT", "created_at": "VARCHAR", "updated_at": "VARCHAR",
    },
    "books": {
        "book_id": "VARCHAR", "tenant_id": "VARCHAR", "isbn": "VARCHAR", "title": "VARCHAR", "author": "VARCHAR",
        "editorial": "VARCHAR", "category": "VARCHAR", "price": MONEY, "description": "VARCHAR",
        "stock_quantity": "BIGINT", "publication_year": "INTEGER", "language": "VARCHAR", "pages": "INTEGER",
        "rating": "DECIMAL(3,1)", "is_active": "BOOLEAN", "sales_count": "BIGINT", "version": "BIGINT",
        "created_at": "VARCHAR", "updated_at": "VARCHAR", "snapshot_at": "VARCHAR",
    },
}


def duckdb_spelling(sql: str) -> str:
    """Athena's row-expanding `CROSS JOIN UNNEST(x) AS t(<the item fields>)` is DuckDB's
    `, LATERAL (SELECT unnest(x, max_depth := 2)) AS t` (DuckDB would bind the whole row to
    the first name); Trino's `date_diff` counts whole units, as DuckDB's `date_sub` does."""
    fields = ", ".join(re.findall(r"(\w+) [A-Z]", ITEM[len("STRUCT("):]))
    sql = re.sub(r"CROSS JOIN UNNEST\(([\w.]+)\) AS (\w+) ?\(" + re.escape(fields) + r"\)",
                 r", LATERAL (SELECT unnest(\1, max_depth := 2)) AS \2", sql)
    return re.sub(r"\bdate_diff\(", "date_sub(", sql)


def connect(lake: str, tenant: str, parquet_only: bool = False, schema: str | None = None):
    """A connection with the tenant's `purchases` and `books` and Trino's function names."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if schema:
        con.execute(f'CREATE SCHEMA "{schema}"')
    for dataset, columns in COLUMNS.items():
        base = f"{lake}/{tenant}/{dataset}"
        parts = []
        if glob.glob(f"{base}/*/*/*/*.json") and not parquet_only:
            spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
            parts.append(
                f"SELECT * FROM read_json('{base}/*/*/*/*.json', format='newline_delimited', columns={spec}, "
                "hive_partitioning=true, hive_types_autocast=false)")
        if glob.glob(f"{base}/*/*/*/*.parquet"):
            parts.append(f"SELECT * FROM read_parquet('{base}/*/*/*/*.parquet', hive_partitioning=true, "
                         "hive_types_autocast=false)")
        # A closed month merged into one file beside its (then gone) day directories; its
        # rows carry their `day`, the path gives year and month.
        if glob.glob(f"{base}/*/*/*.month.parquet"):
            parts.append(f"SELECT * FROM read_parquet('{base}/*/*/*.month.parquet', hive_partitioning=true, "
                         "hive_types_autocast=false)")
        if not parts:
            casts = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items())
            parts.append(f"SELECT {casts}, '' AS year, '' AS month, '' AS day WHERE false")
        view = f'"{schema}".{dataset}' if schema else dataset
        con.execute(f"CREATE VIEW {view} AS " + " UNION ALL BY NAME ".join(parts))
    # Trino's names for what DuckDB calls otherwise.
    con.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    # Exact, as the engine under test counts (DuckDB's estimate is off by several on small sets).
    con.execute("CREATE MACRO approx_distinct(x) AS count(DISTINCT x)")
    con.execute("CREATE OR REPLACE MACRO date_add(u, n, ts) AS ts + (n * ('1 ' || u)::INTERVAL)")
    return con


def main() -> None:
    lake, tenant, query_file = sys.argv[1:4]
    schema = sys.argv[4] if len(sys.argv) > 4 else None
    result = connect(lake, tenant, schema=schema).execute(duckdb_spelling(open(query_file).read()))
    columns = [d[0] for d in result.description]
    rows = [[None if value is None else str(value) for value in row] for row in result.fetchall()]
    print(json.dumps({"columns": columns, "rows": rows}))


if __name__ == "__main__":
    main()
