"""Spark driver: WARC input spec -> `pages` table (one Parquet part per WARC) + _stats.json."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from functools import partial
from typing import Any

from pipeline import fs, storage
from pipeline.config import Settings, UserError
from pipeline.ingest import (
    FILE_EMPTY,
    FILE_NOT_WARC,
    MAX_PROBLEMS_PER_FILE,
    STATS_FILE,
    FileStats,
    duplicate_file_names,
    earlier_parts,
    ingest_warc,
    merge_stats,
    warc_file_name,
)
from pipeline.spark import SessionFactory, progress, run_per_item

log = logging.getLogger(__name__)


class StrictInputError(UserError):
    """`mathmine ingest --strict`: an input file was empty, no WARC, or unreadable (exit 1)."""


def _ingest_task(item: tuple[str, str | None], out_dir: str, settings: Settings, force: bool,
                 relative_to: str | None = None, run_id: str = "") -> FileStats:
    warc_path, part = item
    try:
        return ingest_warc(warc_path, out_dir, settings, force=force,
                           recorded_as=recorded_path(warc_path, relative_to), part=part, run_id=run_id)
    except Exception as exc:  # a bug or an unforeseen input must not take the other files down
        logging.getLogger(__name__).exception("%s: ingest failed", warc_path)
        return FileStats(warc_path=warc_path, status="failed", failure="internal_error",
                         problems=[{"offset": None, "reason": "internal_error",
                                    "detail": f"{exc.__class__.__name__}: {exc}"[:300]}])


def describe_file(stats: FileStats, done: int, total: int) -> str:
    """The driver's console line for one finished WARC (`run_per_item` prints it as its task ends):
    counts, and what was wrong with the file (the first problem, with its offset) if anything."""
    head = f"ingest: [{done}/{total}] {warc_file_name(stats.warc_path)}"
    if stats.status == "failed":
        detail = stats.problems[0]["detail"] if stats.problems else ""
        return f"{head}: FAILED ({stats.failure}{': ' + detail[:200] if detail else ''})"
    counts = f"{stats.records_read:,} records, {stats.pages_kept:,} pages kept"
    if stats.status == "skipped":
        return f"{head}: already done by an earlier run ({counts}){_file_note(stats)}"
    return f"{head}: {counts}, {stats.seconds:.1f} s{_file_note(stats)}"


def _first_problem(stats: FileStats, reason: str = "") -> dict[str, Any] | None:
    return next((p for p in stats.problems if p["reason"] == reason), None) or (
        stats.problems[0] if stats.problems else None)


def _file_note(stats: FileStats) -> str:
    if stats.failure == FILE_EMPTY:
        return "; EMPTY: no WARC record in it"
    first = _first_problem(stats, stats.failure)
    if first is None:
        return ""
    where = f"offset {first['offset']}" if first["offset"] is not None else "the file"
    if stats.failure == FILE_NOT_WARC:
        return f"; NOT A WARC ({where}: {first['detail'][:160]})"
    count = f"{len(stats.problems)}{'+' if len(stats.problems) >= MAX_PROBLEMS_PER_FILE else ''}"
    return f"; {count} problem(s), first at {where}: {first['reason']} ({first['detail'][:160]})"


def strict_problems(stats: dict[str, Any]) -> list[str]:
    """What `--strict` refuses, one entry per file: unreadable, empty, or no WARC at all."""
    out = []
    for f in stats["per_file"]:
        if f["status"] != "failed" and f["failure"] not in (FILE_EMPTY, FILE_NOT_WARC):
            continue
        first = next((p for p in f["problems"] if p["reason"] == f["failure"]), None)
        where = f" at offset {first['offset']}" if first and first["offset"] is not None else ""
        out.append(f"{f['warc_path']}: {f['failure']}{where}{': ' + first['detail'][:200] if first else ''}")
    return out


def check_strict(stats: dict[str, Any]) -> None:
    """Raise StrictInputError (one line: the file, the offset, why) if any input was no usable WARC."""
    problems = strict_problems(stats)
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise StrictInputError(f"ingest --strict: {problems[0]}{more}")


def recorded_path(path: str, relative_to: str | None) -> str | None:
    """A WARC inside `relative_to` (the run folder) as recorded in the table: relative to it."""
    if relative_to and path.startswith(relative_to.rstrip("/") + "/"):
        return path[len(relative_to.rstrip("/")) + 1:]
    return None


def run(input_spec: str, out_dir: str, settings: Settings, force: bool = False,
        factory: SessionFactory | None = None, relative_to: str | None = None,
        hold_lock: bool = True) -> dict[str, Any]:
    """Ingest every WARC of `input_spec` into the pages table `out_dir` (one part per WARC; WARCs an
    earlier run finished are skipped). WARCs under `relative_to` are recorded relative to it."""
    start = time.monotonic()
    store = fs.Store(settings.storage)
    paths = storage.expand_input(input_spec, settings.storage)
    clashes = duplicate_file_names(paths)
    if clashes:
        name, found = next(iter(clashes.items()))
        more = f" (and {len(clashes) - 1} more file name(s))" if len(clashes) > 1 else ""
        raise UserError(f"ingest: {len(found)} inputs are named {name} ({', '.join(found[:3])}): page ids "
                        f"are <file name>:<offset>, so they would collide; rename or drop one{more}")
    log.info("ingest: %d WARC file(s) -> %s (backend %s)", len(paths), out_dir, settings.extract.backend)
    with contextlib.ExitStack() as stack:
        if hold_lock:  # `mathmine iterate` holds the whole run folder's lock already
            stack.enter_context(store.lock(out_dir))
            swept = store.sweep_leftovers(out_dir)
            if swept:
                progress(f"removed {swept} temp file(s) left by an interrupted run in {out_dir}")
        # This run's id in each done marker: a retried task that finds its own first attempt's
        # marker counts the file as done now, not as skipped (and the stats match a clean run).
        run_id = secrets.token_hex(8)
        renamed = earlier_parts(store, out_dir, paths)
        items = [(path, renamed.get(path)) for path in paths]
        own_factory = factory is None
        factory = factory or SessionFactory(settings)
        try:
            session = factory.get()
            task = partial(_ingest_task, out_dir=out_dir, settings=settings, force=force,
                           relative_to=relative_to, run_id=run_id)
            files = run_per_item(session, items, task, describe=describe_file)
        finally:
            if own_factory:
                factory.stop()
        stats = merge_stats(files, settings)
        stats["seconds"] = round(time.monotonic() - start, 2)
        store.write_json(fs.join(out_dir, STATS_FILE), stats, sort_keys=False)
    return stats


def summary_line(stats: dict[str, Any]) -> str:
    drops = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items() if v)
    failed = ", ".join(f"{k} {v}" for k, v in stats["files_failed"].items())
    unreadable = "".join(f", {stats[key]} {what}" for key, what in
                         (("files_empty", "empty"), ("files_not_warc", "not a WARC")) if stats.get(key))
    return (
        f"ingest: {stats['files']} WARC(s) ({stats['files_skipped']} already done{unreadable}"
        f"{', failed: ' + failed if failed else ''}); {stats['records_read']} records read, "
        f"{stats['html_responses']} HTML responses, {stats['pages_kept']} pages kept "
        f"({stats['math_pages']} with math markup); dropped: {drops or 'none'}; "
        f"corrupt regions {stats['corrupt_regions']}; accounting "
        f"{'balanced' if stats['invariant_holds'] else 'UNBALANCED'}"
    )
