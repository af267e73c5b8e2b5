#!/usr/bin/env bash
# bench/deploy.sh: measures the infrastructure issue's speed targets in one run:
#
#   render every stage (dev, test, prod, local)       < 200 ms in all   (median of 20 runs each)
#   deploy with nothing changed, against moto          < 5 s             (median of 5; with the
#                                                                          prebuilt zips, and with
#                                                                          the default build step)
#   zip of each function                               api < 5 MB
#
# Usage: bash bench/deploy.sh   (after scripts/test has installed .tools/venv)
# Prints a markdown table and writes it to bench/out/deploy-<date>.md (gitignored).
# Exit code 0 when every target is met, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.tools/venv"
BOOKSTORE="${CARGO_TARGET_DIR:-$ROOT/target}/release/bookstore"
WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() { [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "deploy.sh: $*" >&2; }

[ -x "$VENV/bin/moto_server" ] || { log "run scripts/test first (it installs moto, cargo-zigbuild, ziglang)"; exit 2; }
log "building the release CLI"
cargo build --release --locked -p bookstore-cli >&2

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Times `$@` N times; prints the median in milliseconds.
time_runs() {
    local n="$1"; shift
    for _ in $(seq "$n"); do
        local start; start=$(now_ms)
        "$@" > /dev/null 2>&1 || { log "failed: $*"; "$@" >&2 || true; exit 1; }
        echo $(( $(now_ms) - start ))
    done | median
}

log "rendering every stage"
render_total=0
declare -A render_ms
for stage in dev test prod local; do
    render_ms[$stage]=$(time_runs 20 "$BOOKSTORE" render --stage "$stage")
    render_total=$(( render_total + render_ms[$stage] ))
done

log "starting moto"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" > "$WORK/moto.log" 2>&1 &
MOTO_PID=$!
deadline=$((SECONDS + 60))
until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
    (( SECONDS < deadline )) || { log "moto did not start"; exit 1; }
    sleep 0.2
done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export ZIG_GLOBAL_CACHE_DIR="$ROOT/.tools/zig-cache" CARGO_ZIGBUILD_CACHE_DIR="$ROOT/.tools/zigbuild-cache"
endpoint="http://127.0.0.1:$port"

log "packaging the functions"
"$BOOKSTORE" package --stage test --out "$WORK/zips" --output json > "$WORK/packages.json"
log "first deploy (creates the stack)"
"$BOOKSTORE" deploy --stage test --yes --artifacts "$WORK/zips" --endpoint-url "$endpoint" > /dev/null 2>&1
log "deploys with nothing changed"
nochange_prebuilt=$(time_runs 5 "$BOOKSTORE" deploy --stage test --yes --artifacts "$WORK/zips" --endpoint-url "$endpoint")
nochange_build=$(time_runs 5 "$BOOKSTORE" deploy --stage test --yes --endpoint-url "$endpoint")

verdict() { if (( $1 < $2 )); then echo pass; else echo "**missed**"; fi; }
failed=0
out="$ROOT/bench/out/deploy-$(date +%Y%m%d-%H%M%S).md"
mkdir -p "$ROOT/bench/out"
{
    echo "| metric | result | target | result |"
    echo "|---|---|---|---|"
    for stage in dev test prod local; do
        echo "| render --stage $stage (median of 20) | ${render_ms[$stage]} ms | — | info |"
    done
    echo "| render all four stages | ${render_total} ms | < 200 ms | $(verdict "$render_total" 200) |"
    echo "| deploy, nothing changed, prebuilt zips (median of 5) | ${nochange_prebuilt} ms | < 5,000 ms | $(verdict "$nochange_prebuilt" 5000) |"
    echo "| deploy, nothing changed, with the build step (median of 5) | ${nochange_build} ms | < 5,000 ms | $(verdict "$nochange_build" 5000) |"
    python3 - "$WORK/packages.json" <<'PY'
import json, sys
for p in json.load(open(sys.argv[1])):
    target = "< 5 MB" if p["function"] == "api" else "—"
    ok = "pass" if p["function"] != "api" or p["bytes"] < 5_000_000 else "**missed**"
    print(f"| zip of {p['function']} | {p['bytes']:,} bytes | {target} | {ok if p['function'] == 'api' else 'info'} |")
PY
} | tee "$out"
grep -q "missed" "$out" && failed=1
log "wrote $out"
exit "$failed"
