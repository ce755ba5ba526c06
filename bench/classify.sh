#!/usr/bin/env bash
# Opinion classification: `minyi text classify` against a Python peer
# (bench/classify_peer.py: jieba + scikit-learn TF-IDF and logistic regression, installed
# from PyPI into a venv under target/) on the same texts and the same held-out split, in
# one run. Usage: bench/classify.sh [LINES]   (default 20000)
#
# Texts: the built-in corpus's texts (crates/text/corpus/*.jsonl: synthetic, hand-written
# for the project, no personal data) repeated in file order to LINES lines. Both sides
# classify them with a model trained on the whole corpus; only classification is timed
# (minyi's --timing excludes model load and JSON/file handling; the peer likewise).
# Accuracy: both trained on the same training part and scored on the same held-out part
# (`minyi model eval --export-split` writes the split the peer reads).
# Ends with: RESULT classify minyi=<texts/s> baseline=<texts/s> ratio=<minyi/baseline>
set -euo pipefail
cd "$(dirname "$0")/.."
lines="${1:-20000}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-classify"
mkdir -p "$work"

cargo build --release --quiet -p minyi-cli
minyi="$target/release/minyi"

# The texts, as {"text": …} lines.
python3 - "$lines" "$work/texts.jsonl" crates/text/corpus/*.jsonl <<'PY'
import json, sys
want, out, files = int(sys.argv[1]), sys.argv[2], sorted(sys.argv[3:])
texts = []
for f in files:
    if f.endswith("pairs.jsonl"):
        continue
    with open(f, encoding="utf-8") as fh:
        texts += [json.loads(l)["text"] for l in fh if l.strip()]
with open(out, "w", encoding="utf-8") as fh:
    for i in range(want):
        fh.write(json.dumps({"id": i, "text": texts[i % len(texts)]}, ensure_ascii=False) + "\n")
print(f"texts: {want} lines from {len(texts)} corpus texts")
PY

echo "== minyi"
"$minyi" model train --output "$work/model.bin"
"$minyi" model eval --format json --export-split "$work/split" > "$work/eval.json"
minyi_acc=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["evaluation"]; print("%.4f" % [h for h in e["heads"] if h["kind"]=="category"][0]["accuracy"])' "$work/eval.json")
echo "minyi held-out category accuracy $minyi_acc"
"$minyi" text classify --input "$work/texts.jsonl" --output "$work/minyi-out.jsonl" \
    --model "$work/model.bin" --timing 2> "$work/classify.err"
cat "$work/classify.err"
minyi_rate=$(sed -n 's/.* \([0-9][0-9]*\) texts\/s classification only.*/\1/p' "$work/classify.err")

echo "== python peer (jieba + scikit-learn)"
venv="$target/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import jieba, sklearn' 2>/dev/null \
    || "$venv/bin/pip" install --quiet --disable-pip-version-check jieba scikit-learn
"$venv/bin/python" -c 'import sklearn, jieba; print("scikit-learn", sklearn.__version__, "jieba", jieba.__version__)'
"$venv/bin/python" bench/classify_peer.py --train "$work/split/train.jsonl" \
    --test "$work/split/test.jsonl" --texts "$work/texts.jsonl" | tee "$work/peer.out"
peer_line=$(grep '^PEER ' "$work/peer.out")
peer_acc=$(sed -n 's/.*accuracy=\([0-9.]*\).*/\1/p' <<< "$peer_line")
peer_rate=$(sed -n 's/.*texts_per_s=\([0-9]*\).*/\1/p' <<< "$peer_line")

echo "== summary"
echo "held-out category accuracy: minyi $minyi_acc, peer $peer_acc"
echo "texts/s (classification only): minyi $minyi_rate, peer $peer_rate"
ratio=$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$minyi_rate" "$peer_rate")
echo "RESULT classify minyi=$minyi_rate baseline=$peer_rate ratio=$ratio"
