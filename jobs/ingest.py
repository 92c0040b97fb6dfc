"""Spark driver: WARC input spec -> `pages` table (one Parquet part per WARC) + _stats.json."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from jobs.common import write_stats
from pipeline import storage
from pipeline.config import Settings
from pipeline.ingest import FileStats, ingest_warc, merge_stats
from pipeline.spark import SessionFactory, run_per_item

log = logging.getLogger(__name__)


def _ingest_task(warc_path: str, out_dir: str, settings: Settings, force: bool) -> FileStats:
    try:
        return ingest_warc(warc_path, out_dir, settings, force=force)
    except Exception as exc:  # a bug or an unforeseen input must not take the other files down
        logging.getLogger(__name__).exception("%s: ingest failed", warc_path)
        return FileStats(warc_path=warc_path, status="failed", failure="internal_error",
                         problems=[{"offset": None, "reason": "internal_error",
                                    "detail": f"{exc.__class__.__name__}: {exc}"[:300]}])


def run(input_spec: str, out_dir: str, settings: Settings, force: bool = False,
        factory: SessionFactory | None = None) -> dict[str, Any]:
    start = time.monotonic()
    paths = storage.expand_input(input_spec, settings.storage)
    log.info("ingest: %d WARC file(s) -> %s (backend %s)", len(paths), out_dir, settings.extract.backend)
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    try:
        session = factory.get()
        files = run_per_item(session, paths, partial(_ingest_task, out_dir=out_dir, settings=settings,
                                                     force=force))
    finally:
        if own_factory:
            factory.stop()
    stats = merge_stats(files, settings)
    stats["seconds"] = round(time.monotonic() - start, 2)
    write_stats(out_dir, stats, settings)
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
