"""fastText math classifier: training on seed vs negatives, held-out metrics, batched scoring.

The paper's settings are the defaults (dim 256, lr 0.1, word n-grams 3, min count 3, 3 epochs).
Training runs with one thread so the same data and seed give the same model bytes. Scoring loads
a model once per process (`load_model` caches by path), so a Spark executor pays for it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.text import collapse_spaces

LABEL_MATH = "__label__math"
LABEL_OTHER = "__label__other"


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
    return collapse_spaces(text.lower())


def is_holdout(key: str, fraction: float, seed: int) -> bool:
    """A stable split: the same document is held out in every run and iteration."""
    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _write_examples(path: str, examples: Sequence[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for label, text in examples:
            fh.write(f"{label} {normalize(text)}\n")


def train(positives: Sequence[tuple[str, str]], negatives: Sequence[tuple[str, str]], params: FastTextParams,
          model_path: str, bins: int = 20) -> dict[str, Any]:
    """Train on (key, text) positives and negatives minus the held-out share; save the model to
    `model_path`; return held-out metrics (precision, recall, F1 at 0.5, ROC AUC) and counts."""
    examples = [(True, key, text) for key, text in positives]
    examples += [(False, key, text) for key, text in negatives]
    # A fixed order (by label, then text) so the model does not depend on how rows arrived.
    examples.sort(key=lambda e: (not e[0], e[2]))
    return train_examples(examples, params, model_path, bins)


def train_examples(examples: Iterable[tuple[bool, str, str]], params: FastTextParams, model_path: str,
                   bins: int = 20) -> dict[str, Any]:
    """Train on (is_math, key, text) examples streamed in the order given (the caller fixes it, so
    the same examples give the same model bytes); the held-out share is chosen by key.

    Returns counts, held-out metrics and `histograms` of held-out scores ("seed" for positives,
    "negatives") over `bins` equal bins of [0, 1]."""
    held: list[tuple[int, str]] = []
    counts = {True: 0, False: 0}
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8") as fh:
            for is_math, key, text in examples:
                if is_holdout(key, params.holdout, params.seed):
                    held.append((int(is_math), text))
                    continue
                fh.write(f"{LABEL_MATH if is_math else LABEL_OTHER} {normalize(text)}\n")
                counts[bool(is_math)] += 1
        if not counts[True] or not counts[False]:
            raise ValueError(f"cannot train: {counts[True]} positive and {counts[False]} negative "
                             "training examples (both are needed)")
        # fastText keeps state between trainings in one process (a second run gives other bytes,
        # sometimes NaN): a fresh process per model makes the same input give the same model.
        args = json.dumps({"input": train_file, "output": model_path, **asdict(params)})
        child = "from pipeline.classify import _train_main; _train_main()"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        subprocess.run([sys.executable, "-c", child, args], check=True, env=env)
    load_model.cache_clear()
    model = load_model(model_path)
    metrics: dict[str, Any] = {
        "train_positives": counts[True],
        "train_negatives": counts[False],
        "heldout_positives": sum(y for y, _ in held),
        "heldout_negatives": sum(1 - y for y, _ in held),
    }
    histograms = {"seed": [0] * bins, "negatives": [0] * bins}
    if held:
        scores = score_texts(model, [text for _, text in held])
        truth = np.array([y for y, _ in held], dtype=bool)
        metrics.update(binary_metrics(truth, scores))
        histograms = {"seed": histogram(scores[truth], bins), "negatives": histogram(scores[~truth], bins)}
    metrics["histograms"] = histograms
    return metrics


def histogram(scores: np.ndarray | Sequence[float], bins: int = 20) -> list[int]:
    """Counts of scores in `bins` equal bins of [0, 1] (1.0 falls in the last bin)."""
    index = np.clip((np.asarray(scores, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(index, minlength=bins).tolist()


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


# ---------------------------------------------------------------------------------------------
# The seed corpus: JSONL (optionally gzipped) or Parquet files of texts

SEED_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet")


def seed_id(row_id: Any, text: str) -> str:
    """A seed row's id: its own `id` when it has one, else a hash of its text (so identical texts
    collapse into one seed document)."""
    if row_id is not None and str(row_id) != "":
        return f"seed:{row_id}"
    return "seed:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def iter_seed_file(path: str, text_field: str, open_file: Any) -> Iterator[tuple[str, str] | str]:
    """(id, text) per document of one seed file; a plain str is a problem, `file:line: reason`
    (the bad line is skipped and reading goes on). `open_file(path)` returns a binary file object."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        with open_file(path) as fh:
            table = pq.read_table(fh)
        if text_field not in table.column_names:
            yield f"{path}:0: no '{text_field}' column (columns: {', '.join(table.column_names)})"
            return
        ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * table.num_rows
        for row, (row_id, text) in enumerate(zip(ids, table.column(text_field).to_pylist(), strict=True)):
            if not isinstance(text, str) or not text.strip():
                yield f"{path}:row {row}: empty or missing '{text_field}'"
                continue
            yield seed_id(row_id, text), text
        return
    import gzip

    with open_file(path) as raw:
        stream = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
        try:
            for number, line in enumerate(stream, 1):
                try:
                    row = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield f"{path}:{number}: not UTF-8 (byte {exc.start})"
                    continue
                except ValueError as exc:
                    if not line.strip():
                        continue
                    yield f"{path}:{number}: not JSON ({exc})"
                    continue
                if not isinstance(row, dict):
                    yield f"{path}:{number}: expected a JSON object, got {type(row).__name__}"
                    continue
                text = row.get(text_field)
                if not isinstance(text, str) or not text.strip():
                    yield f"{path}:{number}: empty or missing '{text_field}'"
                    continue
                yield seed_id(row.get("id"), text), text
        except (OSError, EOFError) as exc:  # a corrupt or truncated gzip: keep what was read
            yield f"{path}: unreadable after the last good line ({exc.__class__.__name__}: {exc})"
