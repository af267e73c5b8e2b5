"""What a reader of one tenant's lake sees, as the tenant's compaction manifest says, read
with boto3 and DuckDB (no Bookstore code): each dataset's batches outside its compacted
periods, and inside them the one Parquet object the manifest names. Prints JSON:
{"rows": {dataset: [[id, version, "json" | "parquet"], ...]}, "missing": [keys the
manifest names that do not exist], "summaries": {date: purchases}}.

Usage: lake_reader.py SOURCE TENANT, where SOURCE is a directory or s3://BUCKET (the
endpoint in BOOKSTORE_TEST_MOTO_URL).
"""

import json
import os
import sys
import tempfile

import duckdb

IDS = {"purchases": "purchase_id", "books": "book_id"}


def fetch(bucket, tenant):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["BOOKSTORE_TEST_MOTO_URL"],
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    root = tempfile.mkdtemp(prefix="lake-reader-")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=tenant + "/"):
        for item in page.get("Contents", []):
            path = os.path.join(root, item["Key"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, item["Key"], path)
    return root


def day_of(path):
    parts = dict(p.split("=", 1) for p in path.split(os.sep) if "=" in p)
    return "{}-{}-{}".format(parts["year"], parts["month"], parts["day"])


def main():
    source, tenant = sys.argv[1], sys.argv[2]
    root = fetch(source[len("s3://"):], tenant) if source.startswith("s3://") else source
    manifest_path = os.path.join(root, tenant, "compacted", "manifest.json")
    manifest = {"units": []}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    out = {"rows": {}, "missing": [], "summaries": {}}
    for dataset, id_column in IDS.items():
        units = [u for u in manifest["units"] if u["dataset"] == dataset]
        periods = {u["period"] for u in units}
        rows = []
        for directory, _, files in os.walk(os.path.join(root, tenant, dataset)):
            for name in sorted(files):
                if not name.endswith(".json") or name.startswith("."):
                    continue
                day = day_of(directory)
                if day in periods or day[:7] in periods:
                    continue
                found = duckdb.sql(
                    "SELECT {0}, version FROM read_json(?, format = 'newline_delimited', "
                    "columns = {{'{0}': 'VARCHAR', 'version': 'BIGINT'}})".format(id_column),
                    params=[os.path.join(directory, name)],
                ).fetchall()
                rows.extend([i, v, "json"] for i, v in found)
        for unit in units:
            path = os.path.join(root, unit["parquet"])
            if not os.path.exists(path):
                out["missing"].append(unit["parquet"])
                continue
            found = duckdb.sql(
                "SELECT {0}, version FROM read_parquet(?)".format(id_column), params=[path]
            ).fetchall()
            rows.extend([i, v, "parquet"] for i, v in found)
        out["rows"][dataset] = rows
    for directory, _, files in os.walk(os.path.join(root, tenant, "daily_summaries")):
        if "summary.parquet" in files:
            path = os.path.join(directory, "summary.parquet")
            (date, purchases), = duckdb.sql("SELECT date, purchases FROM read_parquet(?)", params=[path]).fetchall()
            out["summaries"][date] = purchases
    print(json.dumps(out))


if __name__ == "__main__":
    main()
