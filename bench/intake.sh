#!/usr/bin/env bash
# Durable intake over HTTP: POST /api/v1/opinions (API key of the demo city's root unit,
# every request a new opinion) at full load, against the no-op /healthz of the same server
# in the same run (these machines are noisy, so only the ratio travels). The load comes
# from wrk in a second process; wrk2 (constant rate) is used for a p99 at 1,000 req/s when
# it is installed, otherwise the p99 at maximum throughput is reported and labelled so.
# After the run, the 201 answers wrk saw are checked against the opinions stored.
# Usage: bench/intake.sh [SECONDS] [CONCURRENCY]   (defaults: 10, 32)
# Ends with: RESULT intake rps=… p99_ms=… healthz_rps=… ratio=<intake_rps/healthz_rps>
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
secs="${1:-10}"
conc="${2:-32}"
threads=2
bin="${CARGO_TARGET_DIR:-target}/release/minyi"

for tool in curl awk python3; do
    command -v "$tool" >/dev/null || { echo "bench/intake.sh: $tool is required" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
    echo "bench/intake.sh: wrk is not installed; installing it with apt-get (needs root) …" >&2
    apt-get install -y wrk >/dev/null || {
        echo "bench/intake.sh: could not install wrk; install it (apt-get install wrk) and rerun" >&2; exit 2; }
fi
[ "$threads" -le "$conc" ] || threads="$conc"

cargo build --release --quiet -p minyi-cli

work="$(mktemp -d "${TMPDIR:-/tmp}/minyi-bench-intake.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "creating the demo city in $work/data …"
"$bin" demo --data-dir "$work/data" >"$work/demo.log" 2>&1 || {
    echo "bench/intake.sh: minyi demo failed:" >&2; cat "$work/demo.log" >&2; exit 1; }
db="$work/data/minyi.db"
[ -f "$db" ] || { echo "bench/intake.sh: no SQLite file at $db" >&2; exit 1; }

sql() { python3 - "$db" "$1" <<'EOF'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])
EOF
}

# A keyed intake must name an area a station answers for; the root unit's key takes any.
area="$(sql "SELECT code FROM areas WHERE station_id IS NOT NULL ORDER BY id LIMIT 1")"
"$bin" apikey create --unit BS --purpose open311 --data-dir "$work/data" >"$work/key.log" 2>&1 || {
    echo "bench/intake.sh: minyi apikey create failed:" >&2; cat "$work/key.log" >&2; exit 1; }
key="$(tail -n1 "$work/key.log" | tr -d '[:space:]')"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
"$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench/intake.sh: the server exited:" >&2; cat "$work/serve.log" >&2; exit 1
    fi
    sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || { echo "bench/intake.sh: server did not answer /healthz" >&2; exit 1; }

body="{\"text\": \"路口的路灯坏了，晚上很黑，请尽快修理。\", \"area\": \"$area\"}"
status="$(curl -sS -o "$work/probe.json" -w '%{http_code}' -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' --data-binary "$body" "$base/api/v1/opinions")"
if [ "$status" != "201" ]; then
    echo "bench/intake.sh: a probe POST answered $status, not 201:" >&2; cat "$work/probe.json" >&2; exit 1
fi

# wrk's Lua: the request, and a per-thread count of 201 answers summed at the end.
cat >"$work/intake.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0 end
function response(status, headers, body) if status == 201 then created = created + 1 end end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("created") end
  io.write(string.format("CREATED %d\n", n))
end
EOF

# rps FILE, p99 FILE (milliseconds) from wrk --latency output.
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
p99() {
    awk '$1 == "99%" || $1 == "99.000%" {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
        printf "%.2f\n", v; exit }' "$1"
}
errors() { awk '/Socket errors|Non-2xx/ { print "    " $0 }' "$1"; }

echo "healthz: wrk -t$threads -c$conc -d${secs}s …"
wrk -t"$threads" -c"$conc" -d"${secs}s" --latency "$base/healthz" >"$work/healthz.txt"
h_rps="$(rps "$work/healthz.txt")"; h_p99="$(p99 "$work/healthz.txt")"
errors "$work/healthz.txt"

before="$(sql "SELECT count(*) FROM opinions WHERE channel='api'")"
echo "intake:  wrk -t$threads -c$conc -d${secs}s POST /api/v1/opinions (area $area) …"
wrk -t"$threads" -c"$conc" -d"${secs}s" --latency -s "$work/intake.lua" "$base/api/v1/opinions" >"$work/intake.txt"
i_rps="$(rps "$work/intake.txt")"; i_p99="$(p99 "$work/intake.txt")"
created="$(awk '/^CREATED/ { print $2 }' "$work/intake.txt")"
errors "$work/intake.txt"
sleep 1 # requests wrk abandoned at its deadline may still be committing
after="$(sql "SELECT count(*) FROM opinions WHERE channel='api'")"
stored=$((after - before))

fixed=""
if command -v wrk2 >/dev/null; then
    echo "intake at a fixed 1000 req/s: wrk2 -R1000 …"
    wrk2 -t"$threads" -c"$conc" -d"${secs}s" -R1000 --latency -s "$work/intake.lua" \
        "$base/api/v1/opinions" >"$work/fixed.txt"
    fixed="$(p99 "$work/fixed.txt")"
fi

ratio="$(awk -v a="$i_rps" -v b="$h_rps" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }')"
echo
printf '%-28s %12s %10s\n' "" "requests/s" "p99 ms"
printf '%-28s %12s %10s\n' "healthz (no-op baseline)" "$h_rps" "$h_p99"
printf '%-28s %12s %10s\n' "intake (max throughput)" "$i_rps" "$i_p99"
echo "ratio intake/healthz (requests/s): $ratio"
if [ -n "$fixed" ]; then
    echo "intake p99 at a fixed 1000 req/s (wrk2): $fixed ms"
else
    echo "wrk2 is not installed: no fixed-rate run; the intake p99 above is at MAX throughput, not at 1000 req/s"
fi
echo "201 answers seen by wrk: $created; api opinions stored during the run: $stored"
if [ -z "$created" ] || [ "$created" -gt "$stored" ]; then
    echo "bench/intake.sh: FAIL: more 201 answers ($created) than opinions stored ($stored)" >&2; exit 1
elif [ "$stored" -gt $((created + conc)) ]; then
    echo "bench/intake.sh: FAIL: $stored stored but only $created acknowledged (more than $conc in flight at the end)" >&2; exit 1
elif [ "$stored" -ne "$created" ]; then
    echo "counts: every 201 is stored; $((stored - created)) more were committed for requests wrk abandoned at its deadline"
else
    echo "counts: equal"
fi
echo "RESULT intake rps=$i_rps p99_ms=$i_p99 healthz_rps=$h_rps ratio=$ratio"
