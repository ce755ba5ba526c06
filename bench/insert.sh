#!/usr/bin/env bash
# Bulk insert: minyi's bulk path (Store::insert_opinions) against a bare SQLite insert loop
# of the same rows, measured in the same run. Usage: bench/insert.sh [ROWS]
# Ends with: RESULT insert minyi=<rows/s> baseline=<rows/s> ratio=<minyi/baseline>
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
cargo build --release --quiet -p minyi-cli
exec "${CARGO_TARGET_DIR:-target}/release/minyi" bench insert --rows "$rows"
