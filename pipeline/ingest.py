"""Ingest one WARC file into one Parquet part of the `pages` table (plain Python, no Spark).

Every record read is counted exactly once: kept, or dropped with a reason, so that
`records_read == pages_kept + sum(dropped.values())` always holds (tests check it). The part
is built in memory and published whole through `pipeline.fs.Store` (mode 0644 less
the umask on a shared disk, one PUT on an object store), then a small `_parts/<part stem>.json`
file records that the WARC is done; a rerun skips WARCs with that file (or with the
`_parts/<part>.parquet.json` name earlier runs wrote).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import fs, storage
from pipeline.config import ExtractSettings, Settings
from pipeline.extract import DecodeError, ExtractError, ExtractTimeout, GuardedExtractor
from pipeline.warc import CorruptRegion, iter_warc, parse_http_response

log = logging.getLogger(__name__)

PAGES_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("url", pa.string()),
    ("host", pa.string()),
    ("domain", pa.string()),
    ("path", pa.string()),
    ("warc_path", pa.string()),
    ("warc_offset", pa.int64()),
    ("fetch_time", pa.timestamp("us", tz="UTC")),
    ("charset", pa.string()),
    ("html_bytes", pa.int32()),
    ("text", pa.string()),
    ("text_chars", pa.int32()),
    ("math_markup", pa.list_(pa.string())),
])

# Drop reasons, in the order the checks run. Stable names: they are keys of _stats.json.
DROP_REASONS = (
    "not_response", "corrupt_record", "truncated", "not_http", "bad_url", "non_200", "non_html",
    "too_large", "decode_error", "extract_timeout", "extract_error", "empty_text",
)
MAX_PROBLEMS_PER_FILE = 50
# A finished file that held no record: nothing in it (no bytes, or an empty gzip stream), or bytes
# that are no WARC at all. Its part is written (empty) so reruns skip it; `--strict` fails on it.
FILE_EMPTY = "empty"
FILE_NOT_WARC = "not_warc"
# Ingest's own files beside the parts: a `__` folder, which Spark, pyarrow and Hugging Face
# `datasets` (load_dataset("parquet", data_dir=...)) all skip, so WORK/pages holds only the table.
BOOKKEEPING_DIR = "__ingest__"
STATS_FILE = f"{BOOKKEEPING_DIR}/stats.json"
PARTS_DIR = f"{BOOKKEEPING_DIR}/parts"
OLD_PARTS_DIR = "_parts"  # where runs before the move wrote their markers (still honoured)


@dataclass
class FileStats:
    warc_path: str
    status: str = "done"  # done | skipped (finished by an earlier run) | failed
    part: str = ""
    records_read: int = 0
    html_responses: int = 0
    pages_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    math_pages: int = 0
    markups: Counter = field(default_factory=Counter)
    formulas: Counter = field(default_factory=Counter)  # formulas rewritten to TeX, per markup family
    mathml_converted: int = 0  # of them, MathML without TeX that the converter wrote as TeX
    corrupt_regions: int = 0
    retries: int = 0  # remote reads retried (throttling, 5xx, dropped connections)
    # File-level reason: with status failed, why no part was written (missing_file, read_error); with
    # status done, what was wrong with a file that still got its (empty) part: FILE_EMPTY, FILE_NOT_WARC.
    failure: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def drop(self, reason: str, offset: int | None = None, detail: str = "") -> None:
        self.dropped[reason] += 1
        if offset is not None and reason not in ("not_response", "non_200", "non_html", "not_http"):
            self.problem(reason, offset, detail)

    def problem(self, reason: str, offset: int, detail: str) -> None:
        log.warning("%s@%d: %s %s", self.warc_path, offset, reason, detail)
        if len(self.problems) < MAX_PROBLEMS_PER_FILE:
            self.problems.append({"offset": offset, "reason": reason, "detail": detail[:300]})

    def to_dict(self) -> dict[str, Any]:
        return {
            "warc_path": self.warc_path, "status": self.status, "part": self.part,
            "records_read": self.records_read, "html_responses": self.html_responses,
            "pages_kept": self.pages_kept, "dropped": dict(sorted(self.dropped.items())),
            "math_pages": self.math_pages, "markups": dict(sorted(self.markups.items())),
            "formulas": dict(sorted(self.formulas.items())), "mathml_converted": self.mathml_converted,
            "corrupt_regions": self.corrupt_regions, "retries": self.retries, "failure": self.failure,
            "problems": self.problems, "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileStats:
        data = dict(data)
        data["dropped"] = Counter(data.get("dropped", {}))
        data["markups"] = Counter(data.get("markups", {}))
        data["formulas"] = Counter(data.get("formulas", {}))  # absent in parts written before it
        return cls(**data)


@lru_cache(maxsize=1)
def _tld_extractor() -> Any:
    import tldextract

    # suffix_list_urls=() uses the snapshot bundled with the package: never a network fetch.
    # Private suffixes (github.io, blogspot.com) count, so each hosted site is its own domain.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def split_url(url: str) -> tuple[str, str, str]:
    """(host, registered domain, path) of a URL; host lower-cased, no port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    extracted = _tld_extractor()(host)
    domain = extracted.top_domain_under_public_suffix or host
    return host, domain, parts.path or "/"


def warc_file_name(warc_path: str) -> str:
    """The last path component of a local path or URL: the first half of every page id."""
    return PurePosixPath(urlsplit(warc_path).path if "://" in warc_path else warc_path).name


def part_name(warc_path: str) -> str:
    """Output part for a WARC: its file name (suffixes off) plus a hash of the whole file name.

    Only the file name counts, as in the page ids (`<file name>:<offset>`): a WARC moved or copied
    elsewhere, or a run folder moved with its WARCs, is the same input and is not ingested twice.
    (Runs before this hashed the full path; `earlier_parts` still finds their parts.)"""
    file_name = warc_file_name(warc_path)
    name = file_name
    for suffix in (".gz", ".warc"):
        name = name.removesuffix(suffix)
    digest = hashlib.sha1(file_name.encode()).hexdigest()[:8]
    return f"{name}-{digest}.parquet"


def duplicate_file_names(paths: Iterable[str]) -> dict[str, list[str]]:
    """Inputs that share a file name (their page ids would collide): file name -> their paths."""
    by_name: dict[str, list[str]] = {}
    for path in paths:
        by_name.setdefault(warc_file_name(path), []).append(path)
    return {name: found for name, found in sorted(by_name.items()) if len(found) > 1}


def earlier_parts(store: fs.Store, out_dir: str, paths: Iterable[str]) -> dict[str, str]:
    """For inputs finished under another part name (by a run that hashed the full path into it):
    input path -> that part. One listing of the marker folders; a marker is read only when its
    name starts like the input's part name, so the usual case costs no reads."""
    markers: dict[str, str] = {}  # marker stem -> marker path relative to out_dir
    for folder in (PARTS_DIR, OLD_PARTS_DIR):
        if store.exists(fs.join(out_dir, folder)):
            for name in store.listing(fs.join(out_dir, folder)):
                if "/" not in name and name.endswith(".json"):
                    stem = name.removesuffix(".json").removesuffix(".parquet")
                    markers.setdefault(stem, f"{folder}/{name}")
    found: dict[str, str] = {}
    for path in paths:
        stem = part_name(path).removesuffix(".parquet")
        if stem in markers:
            continue
        prefix = stem.rsplit("-", 1)[0] + "-"
        for other in sorted(m for m in markers if m.startswith(prefix)):
            recorded = store.read_json(fs.join(out_dir, markers[other]))
            if warc_file_name(recorded.get("warc_path", "")) == warc_file_name(path):
                found[path] = f"{other}.parquet"
                break
    return found


def _is_html(content_type: str, identified: str, body: bytes, settings: Settings) -> bool:
    types = settings.ingest.html_types
    if content_type:
        return content_type in types
    if identified:
        return identified.split(";", 1)[0].strip().lower() in types
    if not settings.ingest.sniff_untyped:
        return False
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


_extractors: dict[str, GuardedExtractor] = {}


def get_extractor(settings: ExtractSettings) -> GuardedExtractor:
    """One child extractor per Python worker and settings, reused by every task it runs."""
    key = json.dumps(settings.__dict__, sort_keys=True)
    if key not in _extractors:
        _extractors[key] = GuardedExtractor(settings)
    return _extractors[key]


def iter_pages(warc_path: str, settings: Settings, stats: FileStats,
               extractor: GuardedExtractor | None = None,
               recorded_as: str | None = None) -> Iterable[dict[str, Any]]:
    """Yield `pages` rows of one WARC, counting every record in `stats`."""
    extractor = extractor or get_extractor(settings.extract)
    name = warc_file_name(warc_path)
    last_log = time.monotonic()

    def open_at(offset: int) -> Any:
        return storage.open_at(warc_path, settings.storage, offset)

    for item in iter_warc(open_at, read_limit=settings.ingest.max_html_bytes):
        if isinstance(item, CorruptRegion):
            stats.corrupt_regions += 1
            where = f"resumed at {item.resumed_at}" if item.resumed_at is not None else "nothing after it"
            stats.problem("corrupt_region", item.offset, f"{item.detail}; {where}")
            continue
        stats.records_read += 1
        if time.monotonic() - last_log > settings.ingest.log_every_s:
            last_log = time.monotonic()
            log.info("%s: %d records, %d pages kept", warc_path, stats.records_read, stats.pages_kept)
        # Damage first, whatever the record type: a cut record is counted as cut, not as a request.
        if item.error:
            stats.drop("corrupt_record", item.offset, item.error)
            continue
        if item.truncated:
            stats.drop("truncated", item.offset, item.detail or f"block has {len(item.block or b'')} of "
                       f"{item.content_length} bytes")
            continue
        if item.record_type != "response":
            stats.drop("not_response")
            continue
        # Bounded decoding: a small compressed body must not inflate past the page size limit.
        response = parse_http_response(item.block or b"", max_body=settings.ingest.max_html_bytes)
        if response is None:
            stats.drop("not_http")
            continue
        url = item.target_uri
        host = domain = path = ""
        if url.lower().startswith(("http://", "https://")):
            with contextlib.suppress(ValueError):  # urlsplit rejects e.g. a broken IPv6 host
                host, domain, path = split_url(url)
        if not host:
            stats.drop("bad_url", item.offset, repr(url[:200]))
            continue
        if response.status not in settings.ingest.keep_status:
            stats.drop("non_200")
            continue
        identified = item.headers.get("WARC-Identified-Payload-Type", "")
        if not _is_html(response.content_type, identified, response.body, settings):
            stats.drop("non_html")
            continue
        stats.html_responses += 1
        if item.oversized:
            stats.drop("too_large", item.offset, f"{item.content_length} bytes")
            continue
        if response.oversized:
            codings = [response.headers.get(h, "") for h in ("transfer-encoding", "content-encoding")]
            stats.drop("too_large", item.offset, f"{' + '.join(c for c in codings if c)} body decodes to "
                       f"more than {settings.ingest.max_html_bytes} bytes")
            continue
        if response.body_error:
            stats.drop("decode_error", item.offset, response.body_error)
            continue
        try:
            extraction = extractor.extract(response.body, url, response.charset)
        except ExtractTimeout as exc:
            stats.drop("extract_timeout", item.offset, str(exc))
            continue
        except ExtractError as exc:
            # The extractor runs in a child process: its DecodeError comes back as a message.
            undecodable = isinstance(exc, DecodeError) or str(exc).startswith(f"{DecodeError.__name__}:")
            stats.drop("decode_error" if undecodable else "extract_error", item.offset, str(exc))
            continue
        if len(extraction.text) < max(1, settings.extract.min_text_chars):
            stats.drop("empty_text")
            continue
        stats.pages_kept += 1
        if extraction.math_markup:
            stats.math_pages += 1
            stats.markups.update(extraction.math_markup)
        stats.formulas.update(extraction.formulas)
        stats.mathml_converted += extraction.converted
        yield {
            "id": f"{name}:{item.offset}",
            "url": url,
            "host": host,
            "domain": domain,
            "path": path,
            "warc_path": recorded_as or warc_path,
            "warc_offset": item.offset,
            "fetch_time": item.date,
            "charset": extraction.charset,
            "html_bytes": len(response.body),
            "text": extraction.text,
            "text_chars": len(extraction.text),
            "math_markup": extraction.math_markup,
        }
    _note_unreadable_file(stats)


def _note_unreadable_file(stats: FileStats) -> None:
    """A file that gave no record at all is said to be so (a silent 0 looks like a quiet crawl).
    Its entry goes first in `problems`, so the console line and `--strict` name it with its offset."""
    if stats.records_read:
        return
    if stats.corrupt_regions:
        # The corrupt region was logged as it was met (one line, with its offset): not again here.
        stats.failure = FILE_NOT_WARC
        first = next((p for p in stats.problems if p["reason"] == "corrupt_region"), None)
        offset, detail = (first["offset"], first["detail"]) if first else (0, "")
    else:
        stats.failure = FILE_EMPTY
        offset, detail = 0, "no WARC record: the file has no bytes, or only an empty gzip stream"
        log.warning("%s@%d: %s %s", stats.warc_path, offset, FILE_EMPTY, detail)
    stats.problems.insert(0, {"offset": offset, "reason": stats.failure, "detail": detail[:300]})


def marker_names(part: str) -> tuple[str, str]:
    """(the done marker a run writes, the older name earlier runs wrote) for a part, relative to
    the output folder. The new name ends in `.json` only, never `.parquet.json`."""
    stem = part.removesuffix(".parquet")
    return f"{PARTS_DIR}/{stem}.json", f"{OLD_PARTS_DIR}/{part}.json"


def _write_part(rows: Iterable[dict[str, Any]], dest: str, settings: Settings, store: fs.Store) -> None:
    """Build the part in memory (a part is tens of MB at most: one WARC's extracted text, compressed),
    then publish it whole at `dest`: nothing is written beside it, nothing half-written is seen."""
    compression = settings.ingest.parquet_compression
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, PAGES_SCHEMA, compression=None if compression == "none" else compression,
                          write_statistics=True) as writer:
        batch: list[dict[str, Any]] = []
        written = False
        for row in rows:
            batch.append(row)
            if len(batch) >= settings.ingest.row_group_rows:
                writer.write_table(pa.Table.from_pylist(batch, PAGES_SCHEMA))
                batch, written = [], True
        if batch or not written:  # a WARC with no pages still gets a part with the schema
            writer.write_table(pa.Table.from_pylist(batch, PAGES_SCHEMA))
    store.write_bytes(dest, sink.getvalue().to_pybytes())


def _finished(store: fs.Store, out_dir: str, part: str) -> tuple[FileStats, str] | None:
    """(the stats, the run id) an earlier run recorded for `part` (under either marker name)."""
    for name in marker_names(part):
        marker = fs.join(out_dir, name)
        if store.exists(marker):
            data = store.read_json(marker)
            run_id = data.pop("run_id", "")
            return FileStats.from_dict(data), run_id
    return None


def ingest_warc(warc_path: str, out_dir: str, settings: Settings, force: bool = False,
                extractor: GuardedExtractor | None = None, recorded_as: str | None = None,
                part: str | None = None, run_id: str = "") -> FileStats:
    """Turn one WARC into `out_dir/<part>.parquet`; skip it if an earlier run finished it.

    `recorded_as` is the path written into the table (`warc_path`) when it differs from where the
    bytes are read: a WARC inside a run folder is recorded relative to it, so the table is the same
    wherever the run folder lives (a local disk, a bucket). `part` overrides `part_name` (an older
    run's name for this WARC, from `earlier_parts`). `run_id` is recorded in the done marker: a
    Spark task retried after its first attempt finished the file finds its own run's marker, and
    the file counts as done by this run, not as skipped."""
    store = fs.Store(settings.storage)
    recorded = recorded_as or warc_path
    part = part or part_name(recorded)
    dest = fs.join(out_dir, part)
    previous = None if force else _finished(store, out_dir, part)
    if previous is not None:
        earlier, earlier_run = previous
        earlier.status = "done" if run_id and earlier_run == run_id else "skipped"
        return earlier
    stats = FileStats(warc_path=recorded, part=part)
    start = time.monotonic()
    retries_before = storage.RetryStats.retries
    try:
        _write_part(iter_pages(warc_path, settings, stats, extractor, recorded), dest, settings, store)
    except storage.StorageError as exc:
        # Missing or unreadable file: counted, logged, no part; the other files go on.
        log.error("%s: %s", warc_path, exc)
        stats.status = "failed"
        stats.failure = exc.kind
        stats.retries = storage.RetryStats.retries - retries_before
        stats.problems.append({"offset": None, "reason": exc.kind, "detail": exc.detail[:300]})
        stats.seconds = time.monotonic() - start
        return stats
    stats.seconds = time.monotonic() - start
    stats.retries = storage.RetryStats.retries - retries_before
    marker, old_marker = marker_names(part)
    recorded_stats = {**stats.to_dict(), "run_id": run_id} if run_id else stats.to_dict()
    store.write_bytes(fs.join(out_dir, marker), json.dumps(recorded_stats, sort_keys=True).encode())
    if force:  # a forced redo must not leave an older run's marker saying something else
        store.remove(fs.join(out_dir, old_marker))
    return stats


def merge_stats(files: list[FileStats], settings: Settings) -> dict[str, Any]:
    """The `_stats.json` of an ingest run: totals, drop reasons, failed files, and the invariant."""
    dropped: Counter = Counter()
    markups: Counter = Counter()
    formulas: Counter = Counter()
    failed: Counter = Counter()
    unreadable: Counter = Counter()
    for f in files:
        dropped.update(f.dropped)
        markups.update(f.markups)
        formulas.update(f.formulas)
        if f.status == "failed":
            failed[f.failure] += 1
        elif f.failure:
            unreadable[f.failure] += 1
    totals = {
        key: sum(getattr(f, key) for f in files)
        for key in ("records_read", "html_responses", "pages_kept", "math_pages", "corrupt_regions",
                    "retries", "mathml_converted")
    }
    balanced = totals["records_read"] == totals["pages_kept"] + sum(dropped.values())
    return {
        "stage": "ingest",
        "files": len(files),
        "files_done": sum(f.status == "done" for f in files),
        "files_skipped": sum(f.status == "skipped" for f in files),
        "files_failed": dict(sorted(failed.items())),
        "files_empty": unreadable[FILE_EMPTY],  # done, but no WARC record in them (see per_file failure)
        "files_not_warc": unreadable[FILE_NOT_WARC],
        **totals,
        "dropped": {reason: dropped.get(reason, 0) for reason in DROP_REASONS},
        "markups": dict(sorted(markups.items())),
        "formulas": dict(sorted(formulas.items())),
        "invariant": "records_read == pages_kept + sum(dropped)",
        "invariant_holds": balanced,
        "backend": settings.extract.backend,
        "config_fingerprint": settings.fingerprint("ingest", "extract"),
        "per_file": [f.to_dict() for f in sorted(files, key=lambda f: f.warc_path)],
    }
