#!/usr/bin/env bash
# The browser suite, end to end: builds the release binary (a no-op when it is current),
# starts `minyi serve --demo` on a fresh data directory and a free port, reads the demo
# accounts it prints once, runs suite.mjs against it in Debian's Chromium, and stops the
# server on every exit path. Exits non-zero on any failure; never skips silently.
#
# Screenshots land in target/screenshots/ (override with SCREENSHOT_DIR); the server's
# output is kept in the data directory and printed when something goes wrong.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

die() { echo "browser suite: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is missing (install nodejs, 20 or newer)"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM_PATH" ] || die "no Chromium at $CHROMIUM_PATH (apt-get install chromium, or set CHROMIUM_PATH)"
[ -d "$here/node_modules/playwright-core" ] || die "playwright-core is not installed: run \`npm ci\` in tests/browser"

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
bin="$target_dir/release/minyi"
if [ -z "${MINYI_BIN:-}" ]; then
  echo "==> cargo build --release -p minyi-cli (target dir $target_dir)"
  cargo build --release -p minyi-cli
else
  bin="$MINYI_BIN"
fi
[ -x "$bin" ] || die "the minyi binary is missing at $bin"

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/minyi-browser.XXXXXX")"
server_log="$data_dir/serve.log"
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$server_log" ]; then
    echo "---- last lines of the server's output ($server_log) ----" >&2
    # Passwords of throwaway demo accounts are printed there; hide them anyway.
    tail -n 40 "$server_log" | sed -E 's/^(  password ).*/\1(hidden)/; s/^(  [a-z_]+ +demo_[a-z]+ +)[A-Za-z0-9]+/\1(hidden)/' >&2
  fi
  if [ "$status" -eq 0 ] || [ -z "${KEEP_DATA_DIR:-}" ]; then
    rm -rf "$data_dir"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Eleven or so sign-ins from one address in a minute is this suite, not an attack; the
# per-address limit itself is covered by the web crate's tests.
printf 'login_rate_per_minute = 200\n' >"$data_dir/minyi.toml"

echo "==> minyi serve --demo (data dir $data_dir)"
"$bin" --data-dir "$data_dir" serve --demo --listen 127.0.0.1:0 >"$server_log" 2>&1 &
server_pid=$!

base_url=""
for _ in $(seq 1 600); do
  if line=$(grep -m1 -E '^minyi is serving .* at http://[^ ]+/$' "$server_log" 2>/dev/null); then
    base_url="${line##* at }"
    base_url="${base_url%/}"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || die "the server exited before it was ready"
  sleep 0.5
done
[ -n "$base_url" ] || die "the server did not print its address within 300 s"
echo "serving at $base_url"

# Demo account lines: "  ROLE  USERNAME  PASSWORD  UNIT NAME (UNIT_CODE)".
accounts_json="$data_dir/accounts.json"
awk '
  /^Demo accounts, one per role/ { on = 1; next }
  on && /^  [a-z_]+ +demo_[a-z]+ +[A-Za-z0-9]+ +.* \([A-Za-z0-9_.-]+\)$/ {
    role = $1; user = $2; pass = $3
    unit = $0; sub(/^ *[a-z_]+ +demo_[a-z]+ +[A-Za-z0-9]+ +/, "", unit)
    code = unit; sub(/^.*\(/, "", code); sub(/\)$/, "", code)
    name = unit; sub(/ \([^()]*\)$/, "", name)
    gsub(/\\/, "\\\\", name); gsub(/"/, "\\\"", name)
    printf "%s{\"role\":\"%s\",\"username\":\"%s\",\"password\":\"%s\",\"unit_code\":\"%s\",\"unit_name\":\"%s\"}", (n++ ? "," : "["), role, user, pass, code, name
    next
  }
  on { on = 0 }
  END { if (n) print "]"; else print "[]" }
' "$server_log" >"$accounts_json"
count=$(grep -o '"role"' "$accounts_json" | wc -l)
[ "$count" -ge 7 ] || die "expected seven demo accounts in the server's output, found $count"

export BASE_URL="$base_url"
export ACCOUNTS_FILE="$accounts_json"
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$repo/target/screenshots}"
mkdir -p "$SCREENSHOT_DIR"
echo "==> node tests/browser/suite.mjs (screenshots in $SCREENSHOT_DIR)"
start=$(date +%s)
node "$here/suite.mjs"
echo "browser suite passed in $(( $(date +%s) - start )) s"
