"""Baseline: datatrove's MinHash signature stage (MinhashDedupSignature.run), signatures/s on one core.

Run with the bench venv, from tests/bench/datatrove:
    .venv/bin/python run_minhash_baseline.py TEXTS.jsonl [--repeat N] [--num-perm 128]
TEXTS.jsonl: one {"text": ...} per line (tests/bench/dedup.py writes it, so both sides hash the same texts).
Prints one JSON line on stdout; datatrove's (loguru) logs go to stderr, WARNING and above only.

What is timed is the whole stage as datatrove runs it (datatrove 0.10.1): per document simplify_text ->
spaCy blank("en") word tokenizer (datatrove's English tokenizer) -> word 5-grams hashed with xxhash64 ->
(a*h+b) mod 2^61-1 for every permutation -> min; each signature is struct-packed into one file per bucket;
then every bucket file is read back, sorted, rewritten and verified. The files go to a fresh temporary folder,
so that I/O is included. MinhashConfig defaults (5-grams, 64-bit, xxhash) except the number of
permutations: num_buckets x hashes_per_bucket = --num-perm (default 16 x 8 = 128, to compare with
128-permutation signatures; datatrove's default is 14 x 8 = 112). The tokenizer is loaded before the clock
starts (a one-off cost).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.logging import logger


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(texts: list[str], config: MinhashConfig) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dt-minhash-") as out:
        step = MinhashDedupSignature(output_folder=out, config=config)
        step.get_shingles("load the tokenizer before timing")
        docs = (Document(text=text, id=str(i)) for i, text in enumerate(texts))
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        step.run(docs)
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        sig_bytes = sum(p.stat().st_size for p in Path(out).rglob("*.minhash.sig"))
    return {"wall_s": wall, "cpu_s": cpu, "sig_bytes": sig_bytes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("texts", type=Path, help='JSONL file, one {"text": ...} per line')
    ap.add_argument("--repeat", type=int, default=1, help="run N times, report the fastest (min cpu) run")
    ap.add_argument("--num-perm", type=int, default=128,
                    help="permutations; a multiple of 8 (hashes per bucket)")
    args = ap.parse_args()

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    texts = [json.loads(line)["text"] for line in args.texts.open(encoding="utf-8")]
    config = MinhashConfig(n_grams=5, num_buckets=args.num_perm // 8, hashes_per_bucket=8)
    best = min((run_once(texts, config) for _ in range(args.repeat)), key=lambda r: r["cpu_s"])
    print(
        json.dumps(
            {
                "tool": "datatrove",
                "datatrove_version": version("datatrove"),
                "spacy_version": version("spacy"),
                "config": str(config),
                "docs": len(texts),
                "wall_s": round(best["wall_s"], 3),
                "cpu_s": round(best["cpu_s"], 3),
                "sigs_per_s_cpu": round(len(texts) / best["cpu_s"], 2),
                "sig_bytes": best["sig_bytes"],
                "repeat": args.repeat,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
