"""fastText math classifier: training on seed vs negatives, held-out metrics, batched scoring.

The paper's settings are the defaults (dim 256, lr 0.1, word n-grams 3, min count 3, 3 epochs).
Training runs with one thread so the same data and seed give the same model bytes. Scoring loads
a model once per process (`load_model` caches by path), so a Spark executor pays for it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

LABEL_MATH = "__label__math"
LABEL_OTHER = "__label__other"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FastTextParams:
    dim: int = 256
    lr: float = 0.1
    word_ngrams: int = 3
    min_count: int = 3
    epoch: int = 3
    seed: int = 0
    # fastText hashes word n-grams into this many rows of dim floats: its default, 2M, makes a
    # 2 GB model at dim 256. Large crawls want it; the demo and tests use far fewer.
    bucket: int = 2_000_000
    holdout: float = 0.1  # share of positives and of negatives kept out of training, for metrics


def normalize(text: str) -> str:
    """What the classifier sees: lower case, whitespace collapsed to single spaces (fastText reads
    one example per line), LaTeX and punctuation kept, since `\\frac` and `$` are strong signals."""
    return _SPACES.sub(" ", text.lower()).strip()


def is_holdout(key: str, fraction: float, seed: int) -> bool:
    """A stable split: the same document is held out in every run and iteration."""
    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _write_examples(path: str, examples: Sequence[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for label, text in examples:
            fh.write(f"{label} {normalize(text)}\n")


def train(positives: Sequence[tuple[str, str]], negatives: Sequence[tuple[str, str]], params: FastTextParams,
          model_path: str) -> dict[str, Any]:
    """Train on (key, text) positives and negatives minus the held-out share; save the model to
    `model_path`; return held-out metrics (precision, recall, F1 at 0.5, ROC AUC) and counts."""
    train_set: list[tuple[str, str]] = []
    held: list[tuple[int, str]] = []
    for label, rows in ((LABEL_MATH, positives), (LABEL_OTHER, negatives)):
        for key, text in rows:
            if is_holdout(key, params.holdout, params.seed):
                held.append((int(label == LABEL_MATH), text))
            else:
                train_set.append((label, text))
    # A fixed order (by label, then text) so the model does not depend on how rows arrived.
    train_set.sort()
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "train.txt")
        _write_examples(train_file, train_set)
        # fastText keeps state between trainings in one process (a second run gives other bytes,
        # sometimes NaN): a fresh process per model makes the same input give the same model.
        args = json.dumps({"input": train_file, "output": model_path, **asdict(params)})
        child = "from pipeline.classify import _train_main; _train_main()"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        subprocess.run([sys.executable, "-c", child, args], check=True, env=env)
    load_model.cache_clear()
    model = load_model(model_path)
    metrics: dict[str, Any] = {
        "train_positives": sum(1 for label, _ in train_set if label == LABEL_MATH),
        "train_negatives": sum(1 for label, _ in train_set if label == LABEL_OTHER),
        "heldout_positives": sum(y for y, _ in held),
        "heldout_negatives": sum(1 - y for y, _ in held),
    }
    if held:
        scores = score_texts(model, [text for _, text in held])
        truth = np.array([y for y, _ in held], dtype=bool)
        metrics.update(binary_metrics(truth, scores))
    return metrics


def binary_metrics(truth: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    predicted = scores >= threshold
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "auc": round(roc_auc(truth, scores), 4)}


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half: the chance a positive outscores a negative."""
    pos, neg = scores[truth], scores[~truth]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    values = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos_ranks = np.empty(len(values))
    pos_ranks[order] = ranks
    rank_sum = pos_ranks[: len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _train_main() -> None:
    """Child process: train one model from the JSON arguments and save it."""
    import fasttext

    a = json.loads(sys.argv[1])
    model = fasttext.train_supervised(
        input=a["input"], dim=a["dim"], lr=a["lr"], wordNgrams=a["word_ngrams"], minCount=a["min_count"],
        epoch=a["epoch"], bucket=a["bucket"], thread=1, seed=a["seed"], verbose=0,
    )
    model.save_model(a["output"])


@lru_cache(maxsize=4)
def load_model(path: str) -> Any:
    import fasttext

    return fasttext.load_model(path)


def score_texts(model: Any, texts: Sequence[str]) -> np.ndarray:
    """P(math) for each text, one batched predict call."""
    if not texts:
        return np.empty(0, dtype=np.float32)
    labels, probs = model.predict([normalize(t) for t in texts], k=2)
    out = np.empty(len(texts), dtype=np.float32)
    for i, (names, values) in enumerate(zip(labels, probs, strict=True)):
        p = 0.0
        for name, value in zip(names, values, strict=True):
            if name == LABEL_MATH:
                p = float(value)
        out[i] = min(1.0, max(0.0, p))
    return out
