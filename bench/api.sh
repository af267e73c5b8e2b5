#!/usr/bin/env bash
# bench/api.sh: measures the issue's API speed targets in one run, beside a bare axum
# hello-world built with the same release profile, all on loopback:
#
#   GET /api/v1/books/{id}  >= 0.5x hello-world requests/s, p99 < 5 ms   (oha, 64 connections)
#   checkout                >= 1,000/s, no oversell                      (loadgen checkout)
#   bookstore up            answers /health < 1 s after start            (loadgen health-after-start)
#   RSS after demo seed     < 200 MB                                     (VmRSS once the feeds are idle)
#
# Usage: bash bench/api.sh            (from anywhere; ~2.5 min after the build)
# Env:   BENCH_SECONDS (default 10)   seconds of each oha and checkout run
#        BENCH_PROFILE (default release) the cargo profile of every binary; `profiling`
#                                        (release without LTO) builds in minutes, not half an hour
#
# Prints a markdown table and writes it to bench/out/api-<date>.md (gitignored), to paste
# into docs/benchmarks.md. Exit code 0 when every target is met, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OHA_VERSION=1.16.0
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONNECTIONS=64
TENANT=libreria-sol
ADMIN_EMAIL="admin@${TENANT}.example"
ADMIN_PASSWORD="demo-${TENANT}-admin"
PROFILE="${BENCH_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
OHA="$ROOT/.tools/bin/oha"

log() { echo "api.sh: $*" >&2; }

WORK="$(mktemp -d)"
PIDS=()

# stop PID: TERM, then KILL after 5 s; forgets the PID so the trap never signals it again.
stop() {
    local pid="$1" tries kept=()
    if kill -TERM "$pid" 2>/dev/null; then
        for tries in $(seq 50); do
            alive "$pid" || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for tries in "${PIDS[@]}"; do
        [[ "$tries" == "$pid" ]] || kept+=("$tries")
    done
    PIDS=("${kept[@]}")
}

# Stops exactly the processes this script started, also when a step fails.
cleanup() {
    while ((${#PIDS[@]})); do
        stop "${PIDS[0]}"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# alive PID: the process runs (a zombie, exited but not yet reaped, does not count).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL PID SECONDS: polls URL every 20 ms until it answers 200, the process
# PID exits, or SECONDS pass.
wait_http() {
    python3 - "$@" <<'PY'
import os, sys, time, urllib.request
url, pid, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    if state in ("Z", "X", "gone"):
        sys.exit(f"api.sh: process {pid} exited before {url} answered")
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
sys.exit(f"api.sh: {url} did not answer 200 within {limit:g} s")
PY
}

# wait_idle PID SECONDS: waits until the process used under 5 % of a core over each of two
# half-second windows in a row (the change feeds have indexed and written the lake), or
# SECONDS pass; prints the seconds it waited.
wait_idle() {
    python3 - "$@" <<'PY'
import os, sys, time
pid, limit = int(sys.argv[1]), float(sys.argv[2])
ticks = os.sysconf("SC_CLK_TCK")
def cpu():
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks
started = time.monotonic()
quiet, before = 0, cpu()
while quiet < 2 and time.monotonic() - started < limit:
    time.sleep(0.5)
    now = cpu()
    quiet = quiet + 1 if now - before < 0.025 else 0
    before = now
print(f"{time.monotonic() - started:.1f}")
PY
}

# wait_line FILE TEXT PID SECONDS: polls FILE until a line contains TEXT.
wait_line() {
    local file="$1" text="$2" pid="$3" limit="$4" waited=0
    until grep -q -- "$text" "$file" 2>/dev/null; do
        alive "$pid" || { log "process $pid exited while waiting for '$text'"; return 1; }
        if (( waited >= limit * 10 )); then
            log "no '$text' in $file after ${limit} s"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# --- build and tools -------------------------------------------------------------------

log "building $PROFILE binaries"
cargo build --profile "$PROFILE" -p bookstore-cli -p bench-hello-axum -p bench-loadgen
BOOKSTORE="$TARGET_DIR/bookstore"
HELLO="$TARGET_DIR/bench-hello-axum"
LOADGEN="$TARGET_DIR/loadgen"

if [[ -x "$OHA" ]] && "$OHA" --version | grep -q "$OHA_VERSION"; then
    log "using $("$OHA" --version)"
else
    log "installing oha $OHA_VERSION into .tools (a few minutes, once)"
    cargo install --locked --root "$ROOT/.tools" oha --version "$OHA_VERSION"
fi

# Other work on the 2 cores skews every figure below: the report shows the load it began at.
read -r LOAD_AT_START _ </proc/loadavg
((${LOAD_AT_START%%.*} < 1)) || log "warning: load average is $LOAD_AT_START; results will be noisy"

# --- (a) the peer: bare axum hello-world -------------------------------------------------

HELLO_PORT="$(free_port)"
"$HELLO" "$HELLO_PORT" >"$WORK/hello.out" 2>&1 &
HELLO_PID=$!
PIDS+=("$HELLO_PID")
wait_http "http://127.0.0.1:$HELLO_PORT/" "$HELLO_PID" 10
log "hello-world: oha -z ${SECONDS_PER_RUN}s -c $CONNECTIONS"
"$OHA" -z "${SECONDS_PER_RUN}s" -c "$CONNECTIONS" --no-tui --output-format json \
    "http://127.0.0.1:$HELLO_PORT/" >"$WORK/oha-hello.json"
stop "$HELLO_PID"

# --- (b) bookstore: start-up, RSS after the seed, GET a book ----------------------------

HEALTH_PORT="$(free_port)"
log "health after start: bookstore up --seed demo on a fresh data dir"
"$LOADGEN" health-after-start --bin "$BOOKSTORE" --health-url "http://127.0.0.1:$HEALTH_PORT/health" -- \
    up --port "$HEALTH_PORT" --data-dir "$WORK/health-data" --seed demo >"$WORK/health.json"

API_PORT="$(free_port)"
API="http://127.0.0.1:$API_PORT"
log "starting bookstore up --seed demo on $API"
"$BOOKSTORE" up --port "$API_PORT" --data-dir "$WORK/data" --seed demo >"$WORK/bookstore.out" 2>"$WORK/bookstore.err" &
API_PID=$!
PIDS+=("$API_PID")
wait_http "$API/health" "$API_PID" 30
log "waiting for the demo seed to finish"
if ! wait_line "$WORK/bookstore.out" "demo data ready" "$API_PID" 600; then
    cat "$WORK/bookstore.err" >&2
    exit 1
fi
wait_http "$API/health" "$API_PID" 30
grep -o 'demo data ready in [0-9.]* s' "$WORK/bookstore.out" | grep -o '[0-9.]*' >"$WORK/seed-seconds" || true
# The seed's writes are acknowledged before the feeds have indexed them and written the
# lake: RSS and the read load are measured once that background work is done.
log "waiting for the change feeds to go idle"
wait_idle "$API_PID" 60 >"$WORK/settle-seconds"
awk '/^VmRSS:/ { print $2 }' "/proc/$API_PID/status" >"$WORK/rss-kb"

SESSION="$(python3 - "$API" "$TENANT" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" <<'PY'
import json, sys, urllib.request
api, tenant, email, password = sys.argv[1:]
def call(path, body=None, token=None):
    headers = {"Content-Type": "application/json", "X-Tenant-Id": tenant}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(api + path, data=data, headers=headers), timeout=10) as r:
        return json.load(r)
token = call("/api/v1/users/login", {"email": email, "password": password})["token"]
book = call("/api/v1/books?limit=1", token=token)["data"][0]["book_id"]
print(token, book)
PY
)"
read -r TOKEN BOOK_ID <<<"$SESSION"
log "GET /api/v1/books/$BOOK_ID: oha -z ${SECONDS_PER_RUN}s -c $CONNECTIONS"
"$OHA" -z "${SECONDS_PER_RUN}s" -c "$CONNECTIONS" --no-tui --output-format json \
    -H "Authorization: Bearer $TOKEN" "$API/api/v1/books/$BOOK_ID" >"$WORK/oha-book.json"

# --- (c) checkout throughput, (d) no oversell -------------------------------------------

checkout_run() {
    local out="$1" rc=0
    shift
    "$LOADGEN" checkout --url "$API" --tenant "$TENANT" \
        --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" "$@" >"$out" || rc=$?
    ((rc == 0)) || log "loadgen checkout $* exited with $rc"
    [[ -s "$out" ]] || echo '{}' >"$out"
}
log "checkout: 64 users, ${SECONDS_PER_RUN} s, stock 1,000,000"
checkout_run "$WORK/checkout.json" --users 64 --duration-secs "$SECONDS_PER_RUN" --stock 1000000
log "no oversell: 64 users, 5 s, stock 50"
checkout_run "$WORK/oversell.json" --users 64 --duration-secs 5 --stock 50

stop "$API_PID"

# --- the table ---------------------------------------------------------------------------

mkdir -p bench/out
REPORT="bench/out/api-$(date -u +%Y-%m-%d).md"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
set +e
python3 - "$WORK" "$SECONDS_PER_RUN" "$CONNECTIONS" "$("$OHA" --version)" "$COMMIT" "$(nproc) x ${CPU:-unknown CPU}" \
    "$LOAD_AT_START" "$PROFILE" >"$REPORT" <<'PY'
import json, os, sys
work, seconds, connections, oha_version, commit, cpu, load_at_start, profile = sys.argv[1:]

def load(name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

def read(name):
    try:
        with open(os.path.join(work, name)) as f:
            return f.read().strip()
    except OSError:
        return ""

hello, book = load("oha-hello.json"), load("oha-book.json")
checkout, oversell, health = load("checkout.json"), load("oversell.json"), load("health.json")
rss_kb = int(read("rss-kb") or 0)
seed_s = read("seed-seconds")
settle_s = read("settle-seconds")

def rps(run):
    return run.get("summary", {}).get("requestsPerSec") or 0.0

def p99_ms(run):
    return (run.get("latencyPercentiles", {}).get("p99") or 0.0) * 1000

def non_200(run):
    codes = run.get("statusCodeDistribution", {})
    # oha cuts the requests in flight when -z runs out; those are not the server's errors.
    errors = {kind: n for kind, n in run.get("errorDistribution", {}).items() if "deadline" not in kind}
    return sum(n for code, n in codes.items() if code != "200") + sum(errors.values())

rows, failed = [], False
def row(metric, ours, target, ratio, ok):
    """ok=None marks a row that informs and has no target."""
    global failed
    failed |= ok is False
    result = "info" if ok is None else "pass" if ok else "**FAIL**"
    rows.append(f"| {metric} | {ours} | {target} | {ratio} | {result} |")

hello_rps, book_rps = rps(hello), rps(book)
ratio = book_rps / hello_rps if hello_rps else 0.0
row(f"`GET /api/v1/books/{{id}}` req/s ({connections} conn.)", f"{book_rps:,.0f}",
    f"hello-world {hello_rps:,.0f}; ≥ 0.5×", f"{ratio:.2f}×",
    ratio >= 0.5 and non_200(book) == 0 and non_200(hello) == 0)
row("`GET /api/v1/books/{id}` p99", f"{p99_ms(book):.2f} ms", f"< 5 ms (hello-world {p99_ms(hello):.2f} ms)",
    f"{p99_ms(book) / 5:.2f}", 0 < p99_ms(book) < 5)
row("`GET /api/v1/books/{id}` non-200 / errors", f"{non_200(book)}", "0", "—", bool(book) and non_200(book) == 0)
cps = checkout.get("checkouts_per_sec", 0.0)
row(f"checkouts/s (64 users, stock 1,000,000)", f"{cps:,.0f}", "≥ 1,000", f"{cps / 1000:.2f}",
    cps >= 1000 and checkout.get("passed") is True)
row("checkout latency p50 / p99", f"{checkout.get('checkout_p50_ms', 0):.2f} / {checkout.get('checkout_p99_ms', 0):.2f} ms",
    "—", "—", None)
row("stock after checkout run", f"{checkout.get('stock_end')}", f"{checkout.get('stock_expected')} (1,000,000 − sold)",
    "—", checkout.get("passed") is True)
sold = oversell.get("copies_bought")
row("no oversell (stock 50, 64 users, 5 s)", f"sold {sold}, stock left {oversell.get('stock_end')}",
    "sold ≤ 50, stock = 50 − sold, no 5xx", f"{(sold or 0) / 50:.2f} sold",
    oversell.get("passed") is True and oversell.get("oversold") is False)
health_ms = health.get("health_after_start_ms", 0.0)
row("`bookstore up --seed demo` → `/health` 200", f"{health_ms:.0f} ms", "< 1,000 ms", f"{health_ms / 1000:.2f}",
    0 < health_ms < 1000)
rss_mb = rss_kb / 1024
row("RSS after the demo seed (feeds idle)", f"{rss_mb:.0f} MB", "< 200 MB", f"{rss_mb / 200:.2f}", 0 < rss_mb < 200)

print(f"### API speed ({commit}, {cpu}, {oha_version})\n")
command = "bash bench/api.sh" if profile == "release" else f"BENCH_PROFILE={profile} bash bench/api.sh"
print(f"Command: `{command}` ({profile} build of both servers; oha and loadgen on the same 2 cores; "
      f"oha `-z {seconds}s -c {connections} --no-tui --output-format json`; demo seed took {seed_s or '?'} s, "
      f"its feeds went idle {settle_s or '?'} s later; "
      f"load average {load_at_start} at start)\n")
print("| metric | ours | peer / target | ratio | result |")
print("|---|---|---|---|---|")
print("\n".join(rows))
print("\nRaw: checkout " + json.dumps(checkout) + "\n\nRaw: no-oversell " + json.dumps(oversell))
sys.exit(1 if failed else 0)
PY
STATUS=$?
set -e
cat "$REPORT"
log "wrote $REPORT"
exit "$STATUS"
