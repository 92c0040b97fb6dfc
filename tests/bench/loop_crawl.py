"""A labelled crawl of real pages and a simulated annotator, for the loop evaluation (issue 10, item 6).

`build_labelled_crawl` writes `OUT/warc/crawl-0000{0,1,2}.warc.gz` and `OUT/labels.jsonl` from the
real records under `../shared/data` (never copied into the project):

* `warc_repackaged/bookofproofs_pages`: a seeded sample of `math_pages` `branches/*` pages (sidecar
  `label_stager` = `math`) and of about `math_pages / 4` `history/*` biographies
  (`math_history_biography`, counted as NOT math: prose about mathematicians on a math site, the
  hard negatives that a host-wide pattern would wrongly pull in);
* `warc_repackaged/math_markup_variety`: all 11 pages (sidecar `label`: 2 `math`, 9 `non_math`);
* `warc_repackaged/{scrapinghub_article_extraction_benchmark,magic_html_benchmark,trafilatura_eval}`:
  every page; their sidecars carry no label key (SOURCE.md calls them non-math), so they are
  `non_math`. A sidecar `label` / `label_stager` of `math` would be honoured for any source;
* `warc/*/*.warc.gz`: every response record with an http(s) target URI (Heritrix's 38 `dns:`
  records are left out: they are not web pages and the ingest drops them as `bad_url`). Non-HTML
  and non-200 responses stay, as crawl noise that the ingest filters; all are `non_math`
  (warc/SOURCE.md: no math in these WARCs).

Every source file was checked: each has one gzip member per record, so records are copied
byte-exactly (the raw gzip member found with warcio's `get_record_offset()` / `get_record_length()`,
and verified to decompress as exactly one member holding one WARC record). A file that is not
one-member-per-record (warcio refuses it, or a member fails that check) has its response records
re-written with warcio's `WARCWriter` instead (headers and block kept, target URI as written);
with today's data no file needs it, and the summary lists any that did under `rewritten_sources`.

A URL seen twice (dolma's `sample-0001` has `https://allenai.org/` three times) is kept once, the
first in source order, so that `labels.jsonl` matches the records one-to-one by URL (the loop's
evaluation joins on URL); the summary counts what was dropped.

The selected records are shuffled with the seed and dealt round-robin into the output files, so
each file mixes sources as a crawl would. Each file starts with a warcinfo record of our own (fixed
id and date, so the bytes depend on the seed only). Same seed and data -> byte-identical output.

Composition at the defaults (`math_pages=200`, seed 0): 1335 pages, 202 math (15.1%):
bookofproofs 250 (200 math + 50 biographies), math_markup_variety 11 (2 math), scrapinghub 181,
magic_html 130, trafilatura 450, cc_resiliparse_sample 16, cc_whirlwind 1, dolma_wget_samples 35,
heritrix_archive_org_2008 261.

`simulated_annotator` is the fixed rule that stands in for a person reading the annotation queue,
and `write_pattern_file` writes its answer as an `annotation/url_patterns` file.

    python -m tests.bench.loop_crawl OUT [--math-pages N] [--seed S] [--other-fraction F]  # summary as JSON
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import random
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.warcwriter import WARCWriter

from pipeline.domains import _quote_controls
from pipeline.warc import clean_target_uri

DEFAULT_MATH_PAGES = 200
DEFAULT_FILES = 3
HISTORY_PER_MATH = 0.25  # biographies sampled per math page: a few hard negatives on the math host
BOOKOFPROOFS = "bookofproofs_pages"
MATH_LABEL = "math"
NON_MATH_LABEL = "non_math"
# Fixed source order: decides which copy of a duplicated URL is kept (the first).
REPACKAGED_SOURCES = (
    BOOKOFPROOFS, "math_markup_variety", "scrapinghub_article_extraction_benchmark",
    "magic_html_benchmark", "trafilatura_eval",
)
SIDECAR_LABEL_KEYS = ("label_stager", "label")
# Fixed values for our warcinfo records, so that output bytes depend on the seed only.
_WARCINFO_DATE = "2024-05-01T00:00:00Z"
_WARCINFO_NS = uuid.UUID("6f1c58a2-3b64-4d0e-9a51-2d6f0f1e7c10")
ANNOTATOR = "simulated-annotator"


@dataclass(frozen=True)
class SourceRecord:
    """One response record of a source file: its gzip member bytes and what labels it."""

    source: str  # folder name under warc/ or warc_repackaged/
    url: str  # WARC-Target-URI as the pipeline reads it (clean_target_uri)
    record_id: str
    member: bytes  # one gzip member holding exactly this record
    label: str
    is_math: bool
    section: str  # bookofproofs `section` (branches / history); "" elsewhere


def default_data_root() -> Path:
    """The `DATA` folder of tests/conftest.py (MATHMINE_DATA or ../shared/data)."""
    from tests.conftest import DATA

    return DATA


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the labelled crawl is built from the real pages in ../shared/data "
            "(clone it beside the checkout or set MATHMINE_DATA); nothing is copied into the project")
    return path


def _one_member(data: bytes) -> bool:
    """True when `data` is exactly one complete gzip member whose content is a WARC record."""
    inflater = zlib.decompressobj(31)
    try:
        head = inflater.decompress(data, 8)
        inflater.decompress(inflater.unconsumed_tail)
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data and head.startswith(b"WARC/")


def _iter_members(path: Path) -> Iterator[tuple[str, str, str, bytes]] | None:
    """(type, target uri, record id, member bytes) per record, copied byte-exactly; None when the
    file is not one gzip member per record."""
    data = path.read_bytes()
    out: list[tuple[str, str, str, bytes]] = []
    try:
        with open(path, "rb") as fh:
            records = ArchiveIterator(fh, no_record_parse=True)
            for record in records:
                headers = record.rec_headers
                kind = (headers.get_header("WARC-Type") or "").strip().lower()
                uri = headers.get_header("WARC-Target-URI") or ""
                rid = headers.get_header("WARC-Record-ID") or ""
                offset, length = records.get_record_offset(), records.get_record_length()
                member = data[offset:offset + length]
                if not _one_member(member):
                    return None
                out.append((kind, uri, rid, member))
    except ArchiveLoadFailed:  # warcio's answer to a whole-file gzip
        return None
    return iter(out)


def _rewrite_responses(path: Path) -> Iterator[tuple[str, str, str, bytes]]:
    """The fallback for a file that is not one-member-per-record: each response record re-written
    as its own gzip member with warcio's WARCWriter, headers and block unchanged."""
    with gzip.open(path, "rb") as fh:
        for record in ArchiveIterator(fh, no_record_parse=True):
            headers = record.rec_headers
            if (headers.get_header("WARC-Type") or "").strip().lower() != "response":
                continue
            uri = headers.get_header("WARC-Target-URI") or ""
            block = record.raw_stream.read()
            buf = io.BytesIO()
            writer = WARCWriter(buf, gzip=True)
            new = writer.create_warc_record(uri, "response", payload=io.BytesIO(block), length=len(block),
                                            warc_headers=headers)
            # create_warc_record normalises the URI (drops wget's <...>); keep it as the crawler wrote it
            new.rec_headers.replace_header("WARC-Target-URI", uri)
            writer.write_record(new)
            yield "response", uri, headers.get_header("WARC-Record-ID") or "", buf.getvalue()


def _sidecar(warc: Path) -> dict[str, dict]:
    meta = warc.with_name(warc.name.removesuffix(".warc.gz") + ".meta.jsonl")
    if not meta.exists():
        return {}
    with open(meta, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return {row["warc_record_id"]: row for row in rows}


def _label(meta: dict) -> str:
    for key in SIDECAR_LABEL_KEYS:
        if key in meta:
            return str(meta[key])
    return NON_MATH_LABEL


@lru_cache(maxsize=32)
def _load_source_file(path: Path, source: str, size: int, mtime_ns: int) -> tuple[tuple[SourceRecord, ...], bool]:
    """The response records of one WARC and whether they had to be re-written. Cached (keyed by
    size and mtime as well) because reading the sources is most of a build's time and the tests
    build several crawls."""
    del size, mtime_ns  # only part of the cache key
    members = _iter_members(path)
    rewritten = members is None
    if members is None:
        members = _rewrite_responses(path)
    sidecar = _sidecar(path)
    out = []
    for kind, uri, rid, member in members:
        url = clean_target_uri(uri)
        if kind != "response" or not url.lower().startswith(("http://", "https://")):
            continue
        meta = sidecar.get(rid, {})
        if sidecar and not meta:
            raise ValueError(f"{path}: record {rid} is not in its sidecar")
        label = _label(meta)
        out.append(SourceRecord(source=source, url=url, record_id=rid, member=member, label=label,
                                is_math=label == MATH_LABEL, section=str(meta.get("section", ""))))
    return tuple(out), rewritten


def _source_records(path: Path, source: str) -> tuple[tuple[SourceRecord, ...], bool]:
    stat = path.stat()
    return _load_source_file(path.resolve(), source, stat.st_size, stat.st_mtime_ns)


def _sources(data_root: Path) -> list[tuple[str, Path]]:
    """(source, file) in the fixed source order: repackaged folders first, then the real WARCs."""
    files = []
    for name in REPACKAGED_SOURCES:
        folder = _require(data_root / "warc_repackaged" / name)
        files += [(name, f) for f in sorted(folder.glob("*.warc.gz"))]
    warc_dir = _require(data_root / "warc")
    # *.warc.gz leaves out whirlwind's .warc.wet.gz / .warc.wat.gz (conversion, not responses)
    files += [(f.parent.name, f) for f in sorted(warc_dir.glob("*/*.warc.gz"))]
    return files


def _warcinfo(name: str, seed: int, math_pages: int) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    info = {"software": "mathmine tests/bench/loop_crawl.py", "format": "WARC File Format 1.0",
            "description": f"labelled crawl of real pages from ../shared/data, seed={seed}, "
                           f"math_pages={math_pages}; labels in labels.jsonl"}
    record = writer.create_warcinfo_record(name, info)
    record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{uuid.uuid5(_WARCINFO_NS, f'{seed}:{math_pages}:{name}')}>")
    record.rec_headers.replace_header("WARC-Date", _WARCINFO_DATE)
    writer.write_record(record)
    return buf.getvalue()


def build_labelled_crawl(out_dir: str | Path, math_pages: int = DEFAULT_MATH_PAGES, seed: int = 0,
                         data_root: Path | None = None, *, files: int = DEFAULT_FILES,
                         other_fraction: float = 1.0) -> dict:
    """Write the labelled crawl (see the module doc) and return its summary: `files` (paths),
    `pages`, `math_pages`, `non_math_pages`, `math_share`, `per_source` ({source: {pages, math}}),
    `duplicate_urls_dropped`, `rewritten_sources`, `seed`, `other_fraction`.

    `other_fraction` < 1 keeps a seeded sample of that share of the non-math pages of every source
    but bookofproofs (at least one per source file; their few math pages are always kept), so that a small
    `math_pages` with a small `other_fraction` is a smaller crawl with about the same mix.
    """
    root = Path(data_root) if data_root is not None else default_data_root()
    _require(root)
    if files < 1:
        raise ValueError(f"files must be >= 1, got {files}")
    if not 0.0 < other_fraction <= 1.0:
        raise ValueError(f"other_fraction must be in (0, 1], got {other_fraction}")
    out = Path(out_dir)
    rng = random.Random(seed)

    selected: list[SourceRecord] = []
    rewritten: set[str] = set()
    for source, path in _sources(root):
        records, was_rewritten = _source_records(path, source)
        if was_rewritten:
            rewritten.add(source)
        if source == BOOKOFPROOFS:
            branches = [r for r in records if r.section == "branches"]
            history = [r for r in records if r.section == "history"]
            if not 0 <= math_pages <= len(branches):
                raise ValueError(f"math_pages must be in 0..{len(branches)} (bookofproofs branch pages), "
                                 f"got {math_pages}")
            n_history = min(len(history), round(math_pages * HISTORY_PER_MATH))
            # sample from the sidecar order, so the draw depends only on the seed
            selected += rng.sample(branches, math_pages) + rng.sample(history, n_history)
        elif other_fraction < 1.0:
            negatives = [r for r in records if not r.is_math]
            keep = rng.sample(negatives, max(1, round(other_fraction * len(negatives)))) if negatives else []
            kept = {id(r) for r in keep}
            selected += [r for r in records if r.is_math or id(r) in kept]  # file order, not draw order
        else:
            selected += records

    seen: set[str] = set()
    unique: list[SourceRecord] = []
    for record in selected:
        if record.url not in seen:
            seen.add(record.url)
            unique.append(record)
    dropped = len(selected) - len(unique)
    rng.shuffle(unique)

    warc_dir = out / "warc"
    warc_dir.mkdir(parents=True, exist_ok=True)
    for stale in warc_dir.glob("crawl-*.warc.gz"):  # ours from an earlier build with more files
        stale.unlink()
    names = [f"crawl-{i:05d}.warc.gz" for i in range(files)]
    paths = [warc_dir / name for name in names]
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(p, "wb")) for p in paths]
        for name, fh in zip(names, handles, strict=True):
            fh.write(_warcinfo(name, seed, math_pages))
        for i, record in enumerate(unique):
            handles[i % files].write(record.member)

    per_source: dict[str, dict[str, int]] = {}
    with open(out / "labels.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for i in range(files):  # file by file, in record order: the order a reader sees them
            for record in unique[i::files]:
                fh.write(json.dumps({"url": record.url, "is_math": record.is_math, "source": record.source,
                                     "label": record.label}, ensure_ascii=False) + "\n")
    for record in unique:
        counts = per_source.setdefault(record.source, {"pages": 0, "math": 0})
        counts["pages"] += 1
        counts["math"] += record.is_math

    n_math = sum(r.is_math for r in unique)
    return {
        "files": [str(p) for p in paths],
        "pages": len(unique),
        "math_pages": n_math,
        "non_math_pages": len(unique) - n_math,
        "math_share": round(n_math / len(unique), 4) if unique else 0.0,
        "per_source": dict(sorted(per_source.items())),
        "duplicate_urls_dropped": dropped,
        "rewritten_sources": sorted(rewritten),
        "seed": seed,
        "other_fraction": other_fraction,
    }


def read_labels(path: str | Path) -> dict[str, bool]:
    """url -> is_math from a labels.jsonl."""
    with open(path, encoding="utf-8") as fh:
        return {row["url"]: bool(row["is_math"]) for row in map(json.loads, fh) if row}


# ---------------------------------------------------------------------------------------------
# The simulated annotator


def _example_urls(field: str) -> list[str]:
    """URLs of a queue examples field: space-separated `score:url`; the score ends at the first `:`."""
    return [entry.split(":", 1)[1] for entry in field.split() if ":" in entry]


def simulated_annotator(queue_rows: list[dict[str, str]], labels: dict[str, bool],
                        min_math_share: float = 0.5, min_examples: int = 2) -> list[str]:
    """Pattern-file lines for the queue rows a person would mark as math, by a fixed rule.

    The rule, per row in queue order (rows as `pipeline.domains.read_queue_tsv` gives them): take
    the example URLs of `recalled_examples` and `unrecalled_examples` (both: a person looks at what
    the classifier missed as well as what it found); count those that have a label and those
    labelled math. Mark the row's `suggested_pattern` as math when at least `min_examples` examples
    are labelled and more than `min_math_share` of them are math. Rows without a suggested pattern
    are skipped, and a pattern already marked, or inside a marked `.../*` section, is not written
    again. The annotator never writes
    `exclude` lines and never generalises beyond the suggestion: it judges only what it was shown.

    Example URLs are percent-encoded where they hold whitespace or controls
    (`pipeline.domains._quote_controls`), so the labels are looked up by the encoded URL too.
    """
    lookup = dict(labels)
    lookup.update({_quote_controls(url): is_math for url, is_math in labels.items()})
    lines: list[str] = []
    marked: set[str] = set()
    for row in queue_rows:
        pattern = (row.get("suggested_pattern") or "").strip()
        # a section inside one already marked adds nothing (`host/a/*` covers `host/a/b/*`)
        if not pattern or any(pattern.startswith(done.removesuffix("*")) for done in marked):
            continue
        urls = _example_urls(row.get("recalled_examples", "")) + _example_urls(row.get("unrecalled_examples", ""))
        known = [lookup[url] for url in dict.fromkeys(urls) if url in lookup]  # each URL once
        n_math = sum(known)
        if len(known) >= min_examples and n_math > min_math_share * len(known):
            marked.add(pattern)
            note = (f"{n_math}/{len(known)} labelled examples math ({len(urls) - len(known)} unlabelled); "
                    f"rule: >= {min_examples} labelled and > {min_math_share:g} math")
            lines.append(f"{pattern}\tmath\t{ANNOTATOR}\t{note}")
    return lines


def write_pattern_file(lines: list[str], path: Path) -> None:
    """An `annotation/url_patterns` file: a header comment saying where it came from, then `lines`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# Written by tests/bench/loop_crawl.py simulated_annotator: a fixed rule, not a person.\n"
                 "# Columns (TAB-separated): pattern, label, annotator, note. See annotation/README.md.\n")
        for line in lines:
            fh.write(line.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--math-pages", type=int, default=DEFAULT_MATH_PAGES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--other-fraction", type=float, default=1.0)
    args = parser.parse_args(argv)
    summary = build_labelled_crawl(args.out, args.math_pages, args.seed, other_fraction=args.other_fraction)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
