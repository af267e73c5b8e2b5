"""Times each DuckDB example query over a tenant's lake (median of N runs, in-process,
views included), printing one JSON line per query. Usage: duckdb_timing.py LAKE TENANT RUNS SQL..."""
import json
import statistics
import sys
import time

import duckdb



def connect(lake: str, tenant: str):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for dataset in ("purchases",):
        base = f"{lake}/{tenant}/{dataset}"
        con.execute(f"CREATE VIEW {dataset} AS SELECT * FROM read_parquet('{base}/*/*/*/*.parquet', "
                    "hive_partitioning=true, hive_types_autocast=false)")
    con.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    con.execute("CREATE MACRO approx_distinct(x) AS count(DISTINCT x)")
    con.execute("CREATE OR REPLACE MACRO date_add(u, n, ts) AS ts + (n * ('1 ' || u)::INTERVAL)")
    return con


def main() -> None:
    lake, tenant, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for path in sys.argv[4:]:
        sql = open(path).read()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            con = connect(lake, tenant)
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - started)
        print(json.dumps({"query": path.rsplit("/", 1)[-1], "seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
