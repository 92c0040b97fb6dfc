"""Spark driver: WARC input spec -> `pages` table (one Parquet part per WARC) + _stats.json."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from pipeline import fs, storage
from pipeline.config import Settings
from pipeline.ingest import STATS_FILE, FileStats, ingest_warc, merge_stats, warc_file_name
from pipeline.spark import SessionFactory, run_per_item

log = logging.getLogger(__name__)


def _ingest_task(warc_path: str, out_dir: str, settings: Settings, force: bool,
                 relative_to: str | None = None) -> FileStats:
    try:
        return ingest_warc(warc_path, out_dir, settings, force=force,
                           recorded_as=recorded_path(warc_path, relative_to))
    except Exception as exc:  # a bug or an unforeseen input must not take the other files down
        logging.getLogger(__name__).exception("%s: ingest failed", warc_path)
        return FileStats(warc_path=warc_path, status="failed", failure="internal_error",
                         problems=[{"offset": None, "reason": "internal_error",
                                    "detail": f"{exc.__class__.__name__}: {exc}"[:300]}])


def describe_file(stats: FileStats, done: int, total: int) -> str:
    """The driver's console line for one finished WARC (`run_per_item` prints it as its task ends)."""
    head = f"ingest: [{done}/{total}] {warc_file_name(stats.warc_path)}"
    if stats.status == "failed":
        detail = stats.problems[0]["detail"] if stats.problems else ""
        return f"{head}: FAILED ({stats.failure}{': ' + detail[:200] if detail else ''})"
    counts = f"{stats.records_read:,} records, {stats.pages_kept:,} pages kept"
    if stats.status == "skipped":
        return f"{head}: already done by an earlier run ({counts})"
    return f"{head}: {counts}, {stats.seconds:.1f} s"


def recorded_path(path: str, relative_to: str | None) -> str | None:
    """A WARC inside `relative_to` (the run folder) as recorded in the table: relative to it."""
    if relative_to and path.startswith(relative_to.rstrip("/") + "/"):
        return path[len(relative_to.rstrip("/")) + 1:]
    return None


def run(input_spec: str, out_dir: str, settings: Settings, force: bool = False,
        factory: SessionFactory | None = None, relative_to: str | None = None) -> dict[str, Any]:
    """Ingest every WARC of `input_spec` into the pages table `out_dir` (one part per WARC; WARCs an
    earlier run finished are skipped). WARCs under `relative_to` are recorded relative to it."""
    start = time.monotonic()
    paths = storage.expand_input(input_spec, settings.storage)
    log.info("ingest: %d WARC file(s) -> %s (backend %s)", len(paths), out_dir, settings.extract.backend)
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    try:
        session = factory.get()
        task = partial(_ingest_task, out_dir=out_dir, settings=settings, force=force, relative_to=relative_to)
        files = run_per_item(session, paths, task, describe=describe_file)
    finally:
        if own_factory:
            factory.stop()
    stats = merge_stats(files, settings)
    stats["seconds"] = round(time.monotonic() - start, 2)
    fs.Store(settings.storage).write_json(fs.join(out_dir, STATS_FILE), stats, sort_keys=False)
    return stats


def summary_line(stats: dict[str, Any]) -> str:
    drops = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items() if v)
    failed = ", ".join(f"{k} {v}" for k, v in stats["files_failed"].items())
    return (
        f"ingest: {stats['files']} WARC(s) ({stats['files_skipped']} already done"
        f"{', failed: ' + failed if failed else ''}); {stats['records_read']} records read, "
        f"{stats['html_responses']} HTML responses, {stats['pages_kept']} pages kept "
        f"({stats['math_pages']} with math markup); dropped: {drops or 'none'}; "
        f"corrupt regions {stats['corrupt_regions']}; accounting "
        f"{'balanced' if stats['invariant_holds'] else 'UNBALANCED'}"
    )
