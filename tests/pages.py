"""Pages tables for the dedup tests: real texts as rows of the ingest `pages` schema, edited copies,
and the exact Jaccard of every pair (the ground truth the MinHash/LSH output is measured against)."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dedup import MinHasher
from pipeline.ingest import PAGES_SCHEMA

FETCH_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def page_row(page_id: str, url: str, text: str, offset: int = 0) -> dict:
    try:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path or "/"
    except ValueError:  # a malformed URL (the tests feed some on purpose)
        host, path = "", "/"
    return {
        "id": page_id, "url": url, "host": host, "domain": ".".join(host.split(".")[-2:]),
        "path": path, "warc_path": "dedup-test.warc.gz", "warc_offset": offset,
        "fetch_time": FETCH_TIME, "charset": "utf-8", "html_bytes": len(text.encode()) + 200,
        "text": text, "text_chars": len(text), "math_markup": ["tex_delims"] if "$" in text else [],
    }


def write_pages(rows: Sequence[dict], folder: Path, files: int = 1, seed: int = 0) -> Path:
    """Write the rows as `files` Parquet files (rows shuffled across them when seed is set)."""
    folder.mkdir(parents=True, exist_ok=True)
    order = list(rows)
    if seed:
        random.Random(seed).shuffle(order)
    for i in range(files):
        chunk = order[i::files]
        pq.write_table(pa.Table.from_pylist(chunk, PAGES_SCHEMA), folder / f"part-{i:05d}.parquet",
                       row_group_size=500)
    return folder


def edit_words(text: str, fraction: float, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """Replace or delete (half each) `fraction` of the whitespace-separated words."""
    words = text.split()
    count = max(1, round(fraction * len(words)))
    chosen = set(rng.sample(range(len(words)), min(count, len(words))))
    out = []
    for i, word in enumerate(words):
        if i not in chosen:
            out.append(word)
        elif rng.random() < 0.5:
            out.append(rng.choice(vocabulary))
        # else: deleted
    return " ".join(out)


def jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def pair_jaccards(texts: Sequence[str], hasher: MinHasher) -> dict[tuple[int, int], float]:
    """Exact word-n-gram Jaccard of every pair that shares a shingle (all other pairs: 0), through
    an inverted index rather than all n^2 set intersections. Two texts without words count 0."""
    sets = [set(hasher.shingles(t)) for t in texts]
    postings: dict[bytes, list[int]] = defaultdict(list)
    for i, shingles in enumerate(sets):
        for shingle in shingles:
            postings[shingle].append(i)
    shared: Counter = Counter()
    for docs in postings.values():
        for x in range(len(docs)):
            for y in range(x + 1, len(docs)):
                shared[docs[x], docs[y]] += 1
    return {(i, j): n / (len(sets[i]) + len(sets[j]) - n) for (i, j), n in shared.items()}
