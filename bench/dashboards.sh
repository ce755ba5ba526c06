#!/usr/bin/env bash
# Dashboards over HTTP on the full demo city (SQLite): the city, a county and a station
# dashboard, each as the demo account of that level, against /healthz of the same server
# in the same run (these machines are noisy, so only the ratio travels).
# Usage: bench/dashboards.sh [RUNS] [PAGE_PREFIX]   (defaults: 20, /dashboard)
# PAGE_PREFIX lets the script run against another per-unit page, e.g. /units.
# Ends with: RESULT dashboards city_p95_ms=… county_p95_ms=… station_p95_ms=… max_p95_ms=… healthz_p95_ms=… ratio=<max_p95/healthz_p95>
# Target (DESIGN.md / issue 4): every dashboard under 300 ms server time on this city.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
runs="${1:-20}"
prefix="${2:-/dashboard}"
warmups=2
bin="${CARGO_TARGET_DIR:-target}/release/minyi"

for tool in curl awk sort; do
    command -v "$tool" >/dev/null || { echo "bench/dashboards.sh: $tool is required" >&2; exit 2; }
done

cargo build --release --quiet -p minyi-cli

work="$(mktemp -d "${TMPDIR:-/tmp}/minyi-bench-dash.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "creating the full demo city in $work/data …"
"$bin" demo --data-dir "$work/data" >"$work/demo.log" 2>&1 || {
    echo "bench/dashboards.sh: minyi demo failed:" >&2; cat "$work/demo.log" >&2; exit 1; }

# A free port: ask the kernel, then hand it to the server (a race is unlikely and loud).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18431)"
base="http://127.0.0.1:$port"
"$bin" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --demo >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench/dashboards.sh: the server exited:" >&2; cat "$work/serve.log" >&2; exit 1
    fi
    sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || { echo "bench/dashboards.sh: server did not answer /healthz" >&2; exit 1; }

# Demo account lines: "  ROLE  USERNAME  PASSWORD  UNIT NAME (CODE)".
account() { # USERNAME -> "PASSWORD CODE"
    awk -v u="$1" '$2 == u { code = $NF; gsub(/[()]/, "", code); print $3, code; exit }' "$work/serve.log"
}

sign_in() { # USERNAME PASSWORD JAR
    local user="$1" pass="$2" jar="$3" csrf status
    csrf="$(curl -fsS -c "$jar" -b "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)"
    [ -n "$csrf" ] || { echo "bench/dashboards.sh: no csrf field on /login" >&2; exit 1; }
    status="$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        --data-urlencode "csrf=$csrf" --data-urlencode "username=$user" --data-urlencode "password=$pass" \
        "$base/login")"
    if [ "$status" != "303" ] || ! grep -q minyi_session "$jar"; then
        echo "bench/dashboards.sh: sign-in of $user answered $status without a session" >&2; exit 1
    fi
}

# time_page NAME PATH JAR: warm-ups, then RUNS timed requests; every answer must be 200.
# Prints "NAME p50 p95 max" in milliseconds.
time_page() {
    local name="$1" path="$2" jar="$3" out="$work/times.$1" i line status
    : >"$out"
    for i in $(seq 1 $((warmups + runs))); do
        line="$(curl -sS -o /dev/null -b "$jar" -w '%{http_code} %{time_total}' "$base$path")"
        status="${line%% *}"
        if [ "$status" != "200" ]; then
            echo "bench/dashboards.sh: GET $path answered $status, not 200 (does the page exist? is the account allowed?)" >&2
            exit 1
        fi
        if [ "$i" -gt "$warmups" ]; then echo "${line#* }" >>"$out"; fi
    done
    sort -g "$out" | awk -v name="$name" '
        { t[NR] = $1 * 1000 }
        END {
            i50 = int((NR + 1) * 0.50); if (i50 < 1) i50 = 1
            i95 = int(NR * 0.95 + 0.999); if (i95 > NR) i95 = NR
            printf "%s %.1f %.1f %.1f\n", name, t[i50], t[i95], t[NR]
        }'
}

read -r city_pass city_code <<<"$(account demo_city)"
read -r county_pass county_code <<<"$(account demo_county)"
read -r station_pass station_code <<<"$(account demo_station)"
for v in city_pass city_code county_pass county_code station_pass station_code; do
    [ -n "${!v:-}" ] || { echo "bench/dashboards.sh: no demo account line for ${v%_*} in the serve output" >&2; cat "$work/serve.log" >&2; exit 1; }
done

sign_in demo_city "$city_pass" "$work/jar.city"
sign_in demo_county "$county_pass" "$work/jar.county"
sign_in demo_station "$station_pass" "$work/jar.station"

printf '%-30s %9s %9s %9s\n' "page (ms, curl time_total)" p50 p95 max
results=""
for spec in "healthz:/healthz:city" "city:$prefix/$city_code:city" "county:$prefix/$county_code:county" "station:$prefix/$station_code:station"; do
    IFS=: read -r name path who <<<"$spec"
    r="$(time_page "$name" "$path" "$work/jar.$who")"
    read -r _ p50 p95 max <<<"$r"
    printf '%-30s %9s %9s %9s\n' "$name $path" "$p50" "$p95" "$max"
    results="$results $name=$p95"
done

echo "$results" | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    worst = v["city"]; if (v["county"] > worst) worst = v["county"]; if (v["station"] > worst) worst = v["station"]
    base = v["healthz"]; if (base <= 0) base = 0.001
    printf "ratio of the slowest dashboard p95 to /healthz p95: %.1f\n", worst / base
    printf "RESULT dashboards city_p95_ms=%s county_p95_ms=%s station_p95_ms=%s max_p95_ms=%s healthz_p95_ms=%s ratio=%.1f target_ms=300 %s\n",
        v["city"], v["county"], v["station"], worst, base, worst / base, (worst < 300 ? "ok" : "SLOW")
}'
