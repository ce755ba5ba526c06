"""Python peer for bench/classify.sh: jieba + scikit-learn TF-IDF and logistic regression.

It does what `minyi text classify` does, the ordinary Python way:
- features: TF-IDF of jieba words plus TF-IDF of character 1-3 grams (minyi also uses
  jieba words plus character n-grams);
- one LogisticRegression per head (category, sentiment, urgency; department only for
  texts predicted non_police), class-balanced like minyi's training;
- held-out accuracy: trained on --train, scored on --test (the split minyi's
  `model eval --export-split` wrote, so both sides test the same examples);
- throughput: trained on --train plus --test (the whole corpus, as minyi's bench model
  is), then classifies every text of --texts. Timed: from raw text to the four labels
  and the category probability (segmentation included); not timed: jieba's dictionary
  load, training, reading and writing files, like minyi's --timing.

Prints a human summary and one machine line:
PEER accuracy=<held-out category accuracy> texts_per_s=<texts/s> texts=<n>
"""

import argparse
import json
import time

import jieba
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

HEADS = ("category", "sentiment", "urgency")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def words(text):
    return jieba.lcut(text)


class Peer:
    def __init__(self):
        # Tokens come pre-split by jieba; the identity analyzer keeps sklearn from
        # re-tokenising them.
        self.word_vec = TfidfVectorizer(analyzer=lambda toks: toks, sublinear_tf=True, min_df=1)
        self.char_vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self.models = {}

    def features(self, texts, fit=False):
        toks = [words(t) for t in texts]
        if fit:
            w = self.word_vec.fit_transform(toks)
            c = self.char_vec.fit_transform(texts)
        else:
            w = self.word_vec.transform(toks)
            c = self.char_vec.transform(texts)
        return sp.hstack([w, c], format="csr")

    def fit(self, examples):
        texts = [e["text"] for e in examples]
        x = self.features(texts, fit=True)
        for head in HEADS:
            y = [e[head] for e in examples]
            self.models[head] = LogisticRegression(
                max_iter=2000, C=10.0, class_weight="balanced"
            ).fit(x, y)
        rows = [i for i, e in enumerate(examples) if e.get("department")]
        self.models["department"] = LogisticRegression(
            max_iter=2000, C=10.0, class_weight="balanced"
        ).fit(x[rows], [examples[i]["department"] for i in rows])

    def predict(self, texts):
        x = self.features(texts)
        proba = self.models["category"].predict_proba(x)
        best = proba.argmax(axis=1)
        category = self.models["category"].classes_[best]
        confidence = proba[np.arange(len(texts)), best]
        sentiment = self.models["sentiment"].predict(x)
        urgency = self.models["urgency"].predict(x)
        department = [None] * len(texts)
        rows = np.flatnonzero(category == "non_police")
        if len(rows):
            for i, d in zip(rows, self.models["department"].predict(x[rows])):
                department[i] = d
        return category, sentiment, urgency, department, confidence


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--texts", required=True)
    args = ap.parse_args()

    jieba.setLogLevel(60)
    jieba.initialize()
    train, test = read_jsonl(args.train), read_jsonl(args.test)

    peer = Peer()
    peer.fit(train)
    category = peer.predict([e["text"] for e in test])[0]
    accuracy = float(np.mean([c == e["category"] for c, e in zip(category, test)]))
    print(f"peer held-out category accuracy {accuracy:.3f} ({len(test)} tested, {len(train)} trained)")

    full = Peer()
    full.fit(train + test)
    texts = [row["text"] for row in read_jsonl(args.texts)]
    started = time.perf_counter()
    full.predict(texts)
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed if elapsed > 0 else 0.0
    print(f"peer classified {len(texts)} texts in {elapsed:.3f} s: {rate:.0f} texts/s (classification only)")
    print(f"PEER accuracy={accuracy:.4f} texts_per_s={rate:.0f} texts={len(texts)}")


if __name__ == "__main__":
    main()
