"""``build_sample(out_dir, seed)``, the manifest it writes, and the CLI ``python -m sample DEST --seed N``.

``manifest.json`` names, relative to the sample folder, what a run on the sample reads: the
WARC folder and files, the seed and negatives corpora, the labels, the benchmark files and the
demo annotator's URL pattern folder, plus the build summary.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sample.pages import _news_article, _recipe, _review, _sports_report, _travel_post
from sample.problems import _DEFINITIONS, _THEOREMS, _math_doc
from sample.sites import BENCHMARK, _collect_pages
from sample.tex import _blocks_text, _doc_blocks
from sample.text import Rng, data_text
from sample.warc_writer import _other_fetches, _page_fetch, _write_warc

N_WARC_FILES = 4
MANIFEST = "manifest.json"
# The sample's own benchmark file, as a decontamination benchmark spec (fields of BenchmarkSpec).
SAMPLE_BENCHMARK = {"name": "sample_bench", "file": "sample_bench.jsonl", "fields": ["question", "answer"],
                    "language": "en", "id_field": "id"}


def _negatives_corpus(rng: Rng, n: int = 300) -> list[dict]:
    """Known non-math texts from the same generators as the sample's news, recipe, travel, sports
    and review pages: the sample is half math (a focused crawl), so random crawl pages alone are
    poor negatives (`classify.negatives_corpus`)."""
    makers: list[Callable[[Rng], tuple]] = [_news_article, _recipe, _travel_post, _sports_report, _review]
    docs = []
    for i in range(n):
        title, blocks = makers[i % len(makers)](rng)[:2]
        docs.append({"id": f"negative-{i:04d}", "text": title + "\n\n" + _blocks_text(blocks),
                     "source": "sample-negatives"})
    return docs


def _seed_corpus(rng: Rng, n: int = 300) -> list[dict]:
    docs: list[dict] = []
    theorems = _THEOREMS + _DEFINITIONS
    for i in range(n):
        if i % 6 == 5:
            name, text = theorems[(i // 6) % len(theorems)]
            body = name + "\n\n" + _blocks_text(_doc_blocks(text))
        else:
            doc = _math_doc(rng, i)
            body = "\n\n".join([doc.title, _blocks_text(doc.intro), _blocks_text(doc.question),
                                _blocks_text(doc.answer)] + ([_blocks_text(doc.remark)]
                                                            if doc.remark else []))
        docs.append({"id": f"seed-{i:04d}", "text": body, "source": "sample-seed"})
    return docs


def build_sample(out_dir: str | Path, seed: int = 20240501) -> dict:
    """Write the demo crawl under out_dir (and its manifest.json) and return a summary dict."""
    out = Path(out_dir)
    for sub_dir in ("warc", "seed", "benchmarks"):
        (out / sub_dir).mkdir(parents=True, exist_ok=True)
    pages, rng = _collect_pages(seed)
    base = datetime(2024, 4, 12, 3, 0, 0) + timedelta(seconds=(seed * 7919) % (5 * 86400))

    fetches = [_page_fetch(p, rng) for p in pages]
    for f in fetches:
        f.with_request = rng.random() < 0.6
    fetches += _other_fetches(seed, pages[0].url)
    rng.shuffle(fetches)

    warc_files: list[str] = []
    records = 0
    for k in range(N_WARC_FILES):
        path = out / "warc" / f"sample-{k:05d}.warc.gz"
        part = fetches[k::N_WARC_FILES]  # round-robin
        records += _write_warc(path, seed, k, part, base + timedelta(hours=6 * k))
        warc_files.append(str(path))

    labels = []
    for k in range(N_WARC_FILES):
        for f in fetches[k::N_WARC_FILES]:
            if f.page is None:
                continue
            p = f.page
            labels.append({"url": p.url, "domain": p.domain, "is_math": p.is_math,
                           "markup": p.markup, "near_dup_of": p.near_dup_of,
                           "quotes_benchmark": p.quotes_benchmark, "formulas": p.formulas})
    _write_jsonl(out / "labels.jsonl", labels)
    seed_docs = _seed_corpus(random.Random(seed + 1))
    _write_jsonl(out / "seed" / "seed.jsonl", seed_docs)
    (out / "negatives").mkdir(exist_ok=True)
    negatives = _negatives_corpus(random.Random(seed + 2))
    _write_jsonl(out / "negatives" / "negatives.jsonl", negatives)
    # The demo annotator's file: what a person writes after reading iteration 1's queue of the
    # sample (the math sections of the flagged sites). It lives with the sample, so the checkout's
    # annotation/url_patterns/ stays the user's own.
    (out / "annotation" / "url_patterns").mkdir(parents=True, exist_ok=True)
    (out / "annotation" / "url_patterns" / "sample-annotator.tsv").write_text(
        data_text("sample-annotator.tsv"), encoding="utf-8", newline="\n")
    _write_jsonl(out / "benchmarks" / SAMPLE_BENCHMARK["file"],
                 [{"id": i, "question": q, "answer": a} for i, q, a in BENCHMARK])
    summary = {
        "warc_files": warc_files,
        "pages": len(labels),
        "records": records,
        "math_pages": sum(1 for lb in labels if lb["is_math"]),
        "domains": sorted({lb["domain"] for lb in labels}),
        "seed_docs": len(seed_docs),
        "negative_docs": len(negatives),
        "bytes": sum(Path(w).stat().st_size for w in warc_files),
    }
    _write_manifest(out, summary)
    return summary


def _write_manifest(out: Path, summary: dict) -> None:
    manifest = {
        "warc": "warc/",
        "warc_files": [Path(w).relative_to(out).as_posix() for w in summary["warc_files"]],
        "seed_corpus": "seed/seed.jsonl",
        "negatives_corpus": "negatives/negatives.jsonl",
        "labels": "labels.jsonl",
        "benchmarks_root": "benchmarks",
        "benchmarks": [SAMPLE_BENCHMARK],
        "url_patterns": "annotation/url_patterns",
        "summary": {k: v for k, v in summary.items() if k != "warc_files"},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8",
                                newline="\n")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build the deterministic mathmine demo crawl.")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args(argv)
    print(json.dumps(build_sample(args.out_dir, args.seed), indent=2))
