#!/usr/bin/env bash
# bench/analytics.sh: the lake issue's speed targets, in one run:
#
#   1,000,000 purchases (3 tenants, 2 years) written as the feeds write them (JSON), then
#   `bookstore athena compact`; each example query on the embedded engine and on DuckDB
#   over the same Parquet files (median of 3 runs each, engine time: a fresh session,
#   planning and execution; DuckDB's includes creating its view):
#     each query < 1 s and <= 1.0x DuckDB's time; bytes read for JSON vs Parquet.
#
# Usage: bash bench/analytics.sh [TOTAL]   (after scripts/test installed .tools/venv)
# Env:   BENCH_LAKE=DIR reuses a lake written earlier by bench/analytics/generate_lake.py
#        BENCH_PROFILE=local measures with the `local` profile's build (bytes scanned do not
#        depend on it; the times do, and the targets are for `release`)
# Prints a markdown table and writes it to bench/out/analytics-<date>.md (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOTAL="${1:-1000000}"
TENANT=libreria-sol
PYTHON="$ROOT/.tools/venv/bin/python"
PROFILE="${BENCH_PROFILE:-release}"
BOOKSTORE="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/bookstore"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log() { echo "analytics.sh: $*" >&2; }

"$PYTHON" -c 'import duckdb' 2>/dev/null || { log "run scripts/test first (it installs duckdb)"; exit 2; }
log "building the $PROFILE CLI"
cargo build --profile "$PROFILE" --locked -p bookstore-cli >&2
if [ -n "${BENCH_LAKE:-}" ]; then
    log "copying the lake generated earlier in $BENCH_LAKE"
    cp -r "$BENCH_LAKE" "$WORK/lake"
else
    log "writing $TOTAL purchases"
    "$PYTHON" bench/analytics/generate_lake.py "$WORK/lake" "$TOTAL" >&2
fi
json_bytes=$(du -sb "$WORK/lake" | cut -f1)

# Engine seconds and bytes scanned of one query, from the CLI's summary line.
ours() {
    local file="$1" line
    line=$("$BOOKSTORE" athena query --file "$file" --tenant "$TENANT" --data-dir "$WORK" --output csv 2>&1 >/dev/null | tail -1)
    echo "$line" | sed -E 's/.* in ([0-9.]+) s, (.*) scanned/\1 \2/'
}
median3() { sort -n | sed -n 2p; }

declare -A json_scanned
for file in examples/athena/0*.sql; do
    json_scanned[$file]=$(ours "$file" | cut -d' ' -f2-)
done

log "compacting"
start=$(date +%s%3N)
"$BOOKSTORE" athena compact --data-dir "$WORK" > "$WORK/compaction.json"
compact_ms=$(( $(date +%s%3N) - start ))
parquet_bytes=$(du -sb "$WORK/lake" | cut -f1)

out="$ROOT/bench/out/analytics-$(date +%Y%m%d-%H%M%S).md"
mkdir -p "$ROOT/bench/out"
failed=0
{
    echo "Lake: $TOTAL purchases; $TENANT holds a third. JSON $(( json_bytes / 1048576 )) MiB → Parquet (zstd) $(( parquet_bytes / 1048576 )) MiB; compaction took ${compact_ms} ms ($(cat "$WORK/compaction.json"))."
    echo
    echo "| query | ours (s) | DuckDB (s) | ratio | scanned, JSON | scanned, Parquet | < 1 s and ≤ 1.0× |"
    echo "|---|---|---|---|---|---|---|"
    for file in examples/athena/0*.sql; do
        name=$(basename "$file")
        mine=$(for _ in 1 2 3; do ours "$file" | cut -d' ' -f1; done | median3)
        scanned=$(ours "$file" | cut -d' ' -f2-)
        theirs=$("$PYTHON" bench/analytics/duckdb_timing.py "$WORK/lake" "$TENANT" 3 "$file" \
            | python3 -c 'import json,sys; print("%.3f" % json.loads(sys.stdin.read())["seconds"])')
        ratio=$(python3 -c "print('%.2f' % ($mine / $theirs))")
        verdict=$(python3 -c "print('pass' if $mine < 1 and $mine <= $theirs else '**missed**')")
        [ "$verdict" = pass ] || failed=1
        echo "| $name | $mine | $theirs | ${ratio}× | ${json_scanned[$file]} | $scanned | $verdict |"
    done
} | tee "$out"
log "wrote $out"
exit "$failed"
