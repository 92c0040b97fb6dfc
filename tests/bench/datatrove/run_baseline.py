"""Baseline: datatrove WarcReader -> Trafilatura extractor, pages/s on one core (see README.md).

Run with the bench venv: tests/bench/datatrove/.venv/bin/python run_baseline.py WARC [WARC...] [--repeat N]
Prints one JSON line on stdout; datatrove's (loguru) logs go to stderr, WARNING and above only.

How datatrove's extractor handles timeouts (datatrove 0.10.1, BaseExtractor.run -> ExtractorSandbox):
every document is sent over a Pipe to ONE long-lived forked child process (multiprocessing.Process,
"fork" start method on Linux) which runs trafilatura.extract; the parent polls for the answer for `timeout`
seconds (default 1 s, wall clock). On timeout or child death the child is terminated, the document is dropped
(stat "timeout"/"broken_process") and a fresh child is forked for the next document. The extraction CPU
time is therefore spent in a child: it is counted through RUSAGE_CHILDREN, which covers it once the child is
reaped, i.e. after the extractor generator is exhausted (the sandbox's __exit__ terminates and joins it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import trafilatura  # noqa: F401  # imported before the fork so the sandbox child does not pay for it
from datatrove.data import Document
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader
from datatrove.utils.logging import logger


def cpu_seconds() -> float:
    """User+system CPU of this process and of all its reaped children (the extractor sandbox)."""
    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def make_reader(warc: Path) -> WarcReader:
    reader = WarcReader(data_folder=str(warc.parent), glob_pattern=warc.name, recursive=False)
    # datatrove prefixes a glob without wildcards with "*", so check that it selects exactly this file
    found = reader.data_folder.list_files(recursive=False, glob_pattern=warc.name)
    if found != [warc.name]:
        sys.exit(f"glob {warc.name!r} in {warc.parent} selects {found}, expected exactly that file")
    return reader


def run_once(warcs: list[Path], timeout: float) -> dict[str, float]:
    readers = [make_reader(w) for w in warcs]
    extractor = Trafilatura(favour_precision=True, timeout=timeout)  # datatrove's defaults, timeout explicit
    docs_in = 0

    def read_all() -> Iterator[Document]:
        nonlocal docs_in
        for reader in readers:
            for doc in reader.run():
                docs_in += 1
                yield doc

    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    docs_out = sum(1 for doc in extractor.run(read_all()) if doc.text.strip())
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    return {
        "docs_in": docs_in,
        "docs_out": docs_out,
        "timeouts": int(extractor.stats["timeout"].total),
        "errors": int(extractor.stats["clean_error"].total + extractor.stats["broken_process"].total),
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("warcs", nargs="+", type=Path, help="WARC files (.warc / .warc.gz)")
    ap.add_argument("--repeat", type=int, default=1, help="run N times, report the fastest (min wall) run")
    ap.add_argument(
        "--timeout", type=float, default=1.0, help="per-document extraction timeout (datatrove: 1 s)"
    )
    ap.add_argument("--core", type=int, default=min(os.sched_getaffinity(0)), help="CPU core to pin to")
    args = ap.parse_args()

    os.sched_setaffinity(0, {args.core})  # one core for us and the forked sandbox child (inherits affinity)
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    warcs = [w.resolve() for w in args.warcs]
    best = min((run_once(warcs, args.timeout) for _ in range(args.repeat)), key=lambda r: r["wall_s"])
    print(
        json.dumps(
            {
                "tool": "datatrove",
                "datatrove_version": version("datatrove"),
                "trafilatura_version": version("trafilatura"),
                "docs_in": best["docs_in"],
                "docs_out": best["docs_out"],
                "wall_s": round(best["wall_s"], 3),
                "cpu_s": round(best["cpu_s"], 3),
                "pages_per_s_wall": round(best["docs_in"] / best["wall_s"], 2),
                "pages_per_s_cpu": round(best["docs_in"] / best["cpu_s"], 2),
                "timeouts": best["timeouts"],
                "errors": best["errors"],
                "repeat": args.repeat,
                "files": len(warcs),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
