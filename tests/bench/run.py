"""`make bench`: ingest throughput against baselines measured in the same run.

Prints pages per CPU-second (= pages/s/core) for: raw WARC iteration (the ceiling: fastwarc and
warcio), our ingest (read + extract) with each backend, and datatrove's WarcReader + Trafilatura
(in its own venv, tests/bench/datatrove); then the ratio of ours to datatrove, the share of
bookofproofs formulas each backend keeps, formulas per markup family on every real math page
(tests/bench/formulas.py, also runnable alone), and Spark local[1] vs local[2] on the ingest job.

    python -m tests.bench.run [--repeat N] [--skip-spark] [--skip-datatrove] [--skip-formulas]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "warc_repackaged"
DATATROVE_PY = ROOT / "tests" / "bench" / "datatrove" / ".venv" / "bin" / "python"


def cpu_seconds() -> float:
    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def best_of(repeat: int, work: Callable[[], int]) -> tuple[int, float, float]:
    """(pages, cpu_s, wall_s) of the fastest of `repeat` runs."""
    best = None
    for _ in range(repeat):
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        pages = work()
        result = (pages, cpu_seconds() - cpu0, time.perf_counter() - wall0)
        if best is None or result[1] < best[1]:
            best = result
    assert best is not None
    return best


def iterate_fastwarc(warcs: list[Path]) -> int:
    from fastwarc.warc import ArchiveIterator

    pages = 0
    for path in warcs:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh, parse_http=False):
                if record.headers.get("WARC-Type") == "response":
                    record.reader.read()
                    pages += 1
    return pages


def iterate_warcio(warcs: list[Path]) -> int:
    from warcio.archiveiterator import ArchiveIterator

    pages = 0
    for path in warcs:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    record.content_stream().read()
                    pages += 1
    return pages


def ingest_pages(warcs: list[Path], backend: str, guarded: bool, keep: dict | None = None) -> int:
    from pipeline.config import load_settings
    from pipeline.extract import GuardedExtractor
    from pipeline.ingest import FileStats, iter_pages

    timeout = "10" if guarded else "0"
    settings = load_settings(None, [f"extract.backend={backend}", f"extract.timeout_s={timeout}",
                                    "ingest.log_every_s=100000"])
    pages = 0
    with GuardedExtractor(settings.extract) as extractor:  # closed here, so its CPU is counted
        for path in warcs:
            stats = FileStats(warc_path=str(path))
            for row in iter_pages(str(path), settings, stats, extractor):
                if keep is not None:
                    keep[row["url"]] = row["text"]
            pages += stats.html_responses
    return pages


def formula_retention(texts: dict[str, str]) -> tuple[int, int]:
    """(kept, total) \\(..\\)/\\[..\\] formulas of the bookofproofs math pages."""
    from fastwarc.warc import ArchiveIterator

    from pipeline.warc import parse_http_response
    from tests.test_extract import page_formulas

    kept = total = 0
    path = DATA / "bookofproofs_pages" / "bookofproofs_pages.warc.gz"
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, parse_http=False):
            url = record.headers.get("WARC-Target-URI") or ""
            if record.headers.get("WARC-Type") != "response" or "/branches/" not in url:
                continue
            text = re.sub(r"\s+", "", texts.get(url, ""))
            for formula in page_formulas(parse_http_response(record.reader.read()).body):
                total += 1
                kept += re.sub(r"\s+", "", formula) in text
    return kept, total


def datatrove(warcs: list[Path], repeat: int) -> dict | None:
    if not DATATROVE_PY.exists():
        print("datatrove venv missing: run `bash tests/bench/datatrove/setup.sh`", file=sys.stderr)
        return None
    out = subprocess.run(
        [str(DATATROVE_PY), str(ROOT / "tests" / "bench" / "datatrove" / "run_baseline.py"),
         *map(str, warcs), "--repeat", str(repeat)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def spark_speedup(warcs: list[Path]) -> dict[str, float]:
    from jobs import ingest as ingest_job
    from pipeline.config import load_settings

    times = {}
    for master in ("local[1]", "local[2]"):
        settings = load_settings(None, [f"spark.master={master}", "ingest.log_every_s=100000"])
        with tempfile.TemporaryDirectory() as out:
            # Each run starts its own JVM and Python workers: the time includes that start-up.
            start = time.perf_counter()
            stats = ingest_job.run(",".join(map(str, warcs)), out, settings)
            times[master] = time.perf_counter() - start
            assert stats["invariant_holds"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-datatrove", action="store_true")
    parser.add_argument("--skip-formulas", action="store_true")
    args, _ = parser.parse_known_args()  # `make bench ARGS=...` passes the dedup bench's options too
    warcs = sorted(DATA.glob("*/*.warc.gz"))
    if not warcs:
        sys.exit(f"no WARCs under {DATA}")
    print(f"ingest benchmark: {len(warcs)} WARCs from {DATA} ({sum(p.stat().st_size for p in warcs) >> 20} MB)")
    print(f"{'what':48} {'pages':>6} {'cpu s':>7} {'wall s':>7} {'pages/s/core':>13}")
    rows: dict[str, float] = {}

    def show(name: str, pages: int, cpu: float, wall: float) -> None:
        rows[name] = pages / cpu
        print(f"{name:48} {pages:6d} {cpu:7.2f} {wall:7.2f} {pages / cpu:13.1f}", flush=True)

    show("ceiling: fastwarc iteration (read only)", *best_of(args.repeat, lambda: iterate_fastwarc(warcs)))
    show("ceiling: warcio iteration (read only)", *best_of(args.repeat, lambda: iterate_warcio(warcs)))
    texts: dict[str, dict[str, str]] = {}
    for backend in ("resiliparse", "trafilatura"):
        for guarded in (False, True):
            name = f"mathmine {backend}{' + 10s guard (default)' if guarded else ' in-process'}"
            keep: dict[str, str] = {}
            show(name, *best_of(1 if backend == "trafilatura" else args.repeat,
                                lambda b=backend, g=guarded, k=keep: ingest_pages(warcs, b, g, k)))
            texts[backend] = keep
    dt = None if args.skip_datatrove else datatrove(warcs, args.repeat)
    if dt:
        show(f"datatrove {dt['datatrove_version']} WarcReader+Trafilatura {dt['trafilatura_version']}",
             dt["docs_in"], dt["cpu_s"], dt["wall_s"])
        base = rows[next(k for k in rows if k.startswith("datatrove"))]
        print("\nratio to datatrove (pages/s/core; target >= 5x with the math kept):")
        for name, value in rows.items():
            if name.startswith("mathmine"):
                print(f"  {name:46} {value / base:6.1f}x")
    print("\nmath kept (bookofproofs \\(..\\)/\\[..\\] formulas found in the extracted text):")
    for backend, keep in texts.items():
        kept, total = formula_retention(keep)
        print(f"  {backend:12} {kept}/{total} = {kept / total:.4f}")
    if not args.skip_formulas:
        from tests.bench import formulas

        print("\nformulas per markup family (markup vs extracted text; python -m tests.bench.formulas):")
        print(formulas.table(formulas.measure()))
    if not args.skip_spark:
        times = spark_speedup(warcs)
        print(f"\nSpark ingest job, {len(warcs)} WARCs (one task each), wall incl. JVM start: "
              f"local[1] {times['local[1]']:.1f}s, local[2] {times['local[2]']:.1f}s, "
              f"speedup {times['local[1]'] / times['local[2]']:.2f}x")


if __name__ == "__main__":
    main()
