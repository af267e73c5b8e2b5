"""Times each example query on DuckDB over a tenant's Parquet (median of N runs,
in-process, its views included), one JSON line per query, with the tests' oracle's
spelling of Athena's SQL. Usage: duckdb_timing.py LAKE TENANT RUNS QUERY.sql..."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bookstore-cli", "tests", "oracle"))
from duckdb_query import connect, duckdb_spelling  # noqa: E402


def main() -> None:
    lake, tenant, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for path in sys.argv[4:]:
        sql = duckdb_spelling(open(path).read())
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            connect(lake, tenant, parquet_only=True).execute(sql).fetchall()
            times.append(time.perf_counter() - started)
        print(json.dumps({"query": os.path.basename(path), "seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
