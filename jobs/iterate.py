"""`mathmine iterate`: the whole loop over a run folder, resuming where it stopped.

Steps so far: build the bundled sample crawl (when no input is configured), ingest, dedup.
Later stages (classifier iterations, decontamination, tokenization) add their steps here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from jobs import dedup as dedup_job
from jobs import ingest as ingest_job
from jobs.common import RunState
from pipeline.config import Settings
from pipeline.spark import SessionFactory

log = logging.getLogger(__name__)


def run(settings: Settings, work_dir: str | None = None, force: bool = False) -> dict[str, Any]:
    work = Path(work_dir or settings.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    state = RunState(str(work))
    summary: dict[str, Any] = {"work_dir": str(work), "steps": {}}
    started = time.monotonic()

    input_spec = settings.input
    if not input_spec:
        from pipeline.sample import build_sample

        sample_dir = work / "sample"
        fingerprint = settings.fingerprint("sample")
        if force or not state.done("sample", fingerprint) or not (sample_dir / "warc").exists():
            log.info("building the bundled sample crawl in %s", sample_dir)
            sample = build_sample(sample_dir, seed=settings.sample.seed)
            state.finish("sample", fingerprint, {k: v for k, v in sample.items() if k != "warc_files"})
        input_spec = str(sample_dir / "warc" / "*.warc.gz")
        summary["steps"]["sample"] = state.data["steps"]["sample"]["summary"]

    factory = SessionFactory(settings)
    try:
        stats = ingest_job.run(input_spec, str(work / "pages"), settings, force=force, factory=factory)
        state.finish("ingest", settings.fingerprint("ingest", "extract"),
                     {k: v for k, v in stats.items() if k != "per_file"})
        summary["steps"]["ingest"] = ingest_job.summary_line(stats)
        # Dedup reads the whole pages table: redo it when ingest or dedup settings changed,
        # or when ingest added WARCs.
        fingerprint = f"{settings.fingerprint('dedup')}:{settings.fingerprint('ingest', 'extract')}:" \
                      f"{stats['pages_kept']}"
        if force or not state.done("dedup", fingerprint) or not (work / "dedup").exists():
            dedup_stats = dedup_job.run(str(work / "pages"), str(work / "dedup"), settings, factory=factory)
            state.finish("dedup", fingerprint, dedup_stats)
        summary["steps"]["dedup"] = dedup_job.summary_line(state.data["steps"]["dedup"]["summary"])
    finally:
        factory.stop()
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\nmathmine iterate: run folder {summary['work_dir']} ({summary['seconds']} s)")
    if "sample" in summary["steps"]:
        s = summary["steps"]["sample"]
        print(f"  sample:  {s.get('pages')} HTML pages in {s.get('records')} records over "
              f"{len(s.get('domains', []))} domains ({s.get('math_pages')} math), "
              f"{s.get('seed_docs')} seed docs")
    print(f"  {summary['steps']['ingest']}")
    print(f"  {summary['steps']['dedup']}")
    print(f"  tables: {summary['work_dir']}/pages, {summary['work_dir']}/dedup  (each with _stats.json)")
