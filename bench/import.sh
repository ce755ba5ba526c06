#!/usr/bin/env bash
# `minyi import opinions` end to end (process start, CSV read, checks, triage, sealing,
# batched writes, audit) on N generated rows, into a fresh SQLite data dir: once without
# contacts, once with a phone number and name on every row. The baseline is the bare
# SQLite insert loop of `minyi bench insert` on the same number of rows, in the same run.
# Then `minyi import incidents` end to end on INCIDENT_ROWS generated 110 incident rows
# (each with a caller's name and phone, sealed; a `received` event per row and a `closed`
# event for the half that are closed), into a store holding a small city, against the bare
# SQLite insert loop of the same incidents (`minyi bench import-incidents`), same run.
# Usage: bench/import.sh [ROWS] [INCIDENT_ROWS]   (defaults 100000 and 1000000)
#        ONLY=incidents bench/import.sh            (skip the opinion runs)
# Ends with: RESULT import minyi=<rows/s> baseline=<rows/s> ratio=<minyi/baseline>
#       and: RESULT import_contacts minyi=<rows/s> baseline=<rows/s> ratio=<…>
#       and: RESULT import_incidents minyi=<rows/s> baseline=<rows/s> ratio=<…>
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
incident_rows="${2:-1000000}"
only="${ONLY:-}"
cargo build --release --quiet -p minyi-cli
bin="${CARGO_TARGET_DIR:-target}/release/minyi"
work="$(mktemp -d "${TMPDIR:-/tmp}/minyi-bench-import.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Distinct texts and times, so every row is a new opinion.
gen() { # $1 = with contacts (0/1)
  awk -v n="$rows" -v contacts="$1" 'BEGIN {
    split("路灯不亮,夜间噪音扰民,电动车被盗,办证排队时间太长,感谢民警帮忙找回钱包,小区门口乱停车", t, ",");
    if (contacts) print "编号,内容,受理时间,类别,姓名,电话"; else print "编号,内容,受理时间,类别";
    for (i = 0; i < n; i++) {
      d = 1 + i % 28; h = i % 24; m = i % 60;
      line = sprintf("B-%d,第%d号意见：%s，请尽快处理。,2026-03-%02d %02d:%02d,other", i, i, t[1 + i % 6], d, h, m);
      if (contacts) line = line sprintf(",张%d,139%08d", i % 1000, i);
      print line;
    }
  }'
}

run() { # $1 = name, $2 = with contacts
  local dir="$work/$1" csv="$work/$1.csv"
  mkdir -p "$dir"
  gen "$2" > "$csv"
  local start end
  start=$(date +%s%N)
  "$bin" import opinions "$csv" --channel suggestion_box --data-dir "$dir" \
    --database-url "sqlite://$dir/minyi.db" > "$work/$1.out"
  end=$(date +%s%N)
  cat "$work/$1.out" >&2
  awk -v n="$rows" -v ns="$((end - start))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}

if [ "$only" != "incidents" ]; then
base_line="$("$bin" bench insert --rows "$rows" --dir "$work" | tee /dev/stderr | grep '^RESULT')"
baseline="$(sed -E 's/.*baseline=([0-9]+).*/\1/' <<<"$base_line")"
plain="$(run plain 0)"
contacts="$(run contacts 1)"
echo "import: $rows rows without contacts: $plain rows/s; with name and phone: $contacts rows/s (bare SQLite loop: $baseline rows/s)"
ratio() { awk -v a="$1" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }'; }
echo "RESULT import minyi=$plain baseline=$baseline ratio=$(ratio "$plain")"
echo "RESULT import_contacts minyi=$contacts baseline=$baseline ratio=$(ratio "$contacts")"
fi

# 110 incidents: the store, the CSV and the bare loop's rate come from `minyi bench`.
inc="$work/incidents"
"$bin" bench import-incidents --rows "$incident_rows" --dir "$inc" | tee "$work/inc-base.out" >&2
inc_baseline="$(sed -nE 's/^BASELINE incidents rows_per_s=([0-9]+).*/\1/p' "$work/inc-base.out")"
start=$(date +%s%N)
"$bin" import incidents "$inc/incidents.csv" --data-dir "$inc/data" \
  --database-url "sqlite://$inc/data/minyi.db" > "$work/inc.out"
end=$(date +%s%N)
cat "$work/inc.out" >&2
grep -q "created $incident_rows incidents" "$work/inc.out" || { echo "import did not create every incident" >&2; exit 1; }
inc_rate="$(awk -v n="$incident_rows" -v ns="$((end - start))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')"
echo "import incidents: $incident_rows rows with caller contacts: $inc_rate rows/s (bare SQLite loop: $inc_baseline rows/s)"
echo "RESULT import_incidents minyi=$inc_rate baseline=$inc_baseline ratio=$(awk -v a="$inc_rate" -v b="$inc_baseline" 'BEGIN { printf "%.2f", a / b }')"
