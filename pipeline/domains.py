"""Domain and URL-path statistics, flagging, and the annotation queue (DeepSeekMath steps 4-5).

After every deduplicated page has a score and a recall rule has marked some pages `recalled`,
pages are grouped by registered domain (the `domain` column of `pages`). A domain is *flagged*
as a math-related candidate when more than `min_fraction` of its pages were recalled and it has
at least `min_pages` pages. For flagged domains the URL paths are summarised by prefix, so that
annotators can mark the math sections (e.g. `mathoverflow.net /questions`).

Path prefixes (`path_prefixes`): the first one and the first two path segments, `/seg1` and
`/seg1/seg2`, where a segment that looks like an id (all digits, a long hex string, a UUID, with
or without a short file extension) becomes `*`: `/questions/12345/slug` gives `/questions` and
`/questions/*`. Both levels are counted in one table per domain (a page with a one-segment path
counts once).

Memory is bounded per domain: a `DomainAccumulator` keeps page / recalled counts per prefix and,
per prefix, only the best `examples` recalled and `examples` non-recalled URLs by score (ties:
URL ascending). The number of prefixes kept is capped too: past `2 * max_prefixes` distinct
prefixes, the `max_prefixes` biggest are kept (pages desc, recalled desc, prefix asc) and the
result is marked `approximate` (the domain totals stay exact; only small prefixes may be lost or
undercounted). Below the cap every result is exact and independent of row order.

Use from Spark (this module never imports pyspark; `jobs/` does the wiring). Either

* partial aggregation, map side, with `combineByKey` (the accumulators pickle)::

      create, add, merge = spark_combiners(examples=3, max_prefixes=5000)
      rows = df.select("domain", "url", "path", "score", "recalled").rdd.map(tuple)
      stats = (rows.filter(lambda r: r[0]).map(lambda r: (r[0], r))
               .combineByKey(create, add, merge)
               .map(lambda kv: kv[1].finish(min_fraction, min_pages, top_prefixes)))

* or streaming one domain at a time, after `repartition(n, "domain").sortWithinPartitions("domain")`::

      .rdd.mapPartitions(lambda it: iter_sorted_domains(map(tuple, it), ...))

Then `[s.to_row() for s in stats]` are rows of the `domains` table (`arrow_schema()`), and
`queue_rows(stats, annotated)` / `write_queue_tsv` give the annotation queue.

Queue priority (what an annotator should look at first): flagged domains not yet annotated, by
recalled pages descending (the domains that already hold the most math, where patterns pay off
most), then recall fraction descending, then domain name ascending. `priority` is the domain's
1-based rank; a domain's rows (one per prefix) share it and follow its `top_paths` order (pages
desc, recalled desc, prefix asc), so a section comes right before its sub-sections.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa

DEFAULT_MIN_FRACTION = 0.10
DEFAULT_MIN_PAGES = 5
DEFAULT_TOP_PREFIXES = 20
DEFAULT_EXAMPLES = 3
DEFAULT_MAX_PREFIXES = 5000

ID_SEGMENT = "*"
_DIGITS = re.compile(r"\d+")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")

QUEUE_COLUMNS = (
    "priority", "domain", "domain_pages", "domain_recalled", "domain_fraction",
    "prefix", "prefix_pages", "prefix_recalled", "prefix_fraction",
    "recalled_examples", "unrecalled_examples",
)


# ---------------------------------------------------------------------------------------------
# Path prefixes


def is_id_segment(segment: str) -> bool:
    """True for a path segment that names one item rather than a section: all digits, a hex
    string of 8+ characters with at least one digit, or a UUID; a short file extension is
    ignored (`12345.html`)."""
    stem = _EXTENSION.sub("", segment) or segment
    if _DIGITS.fullmatch(stem) or _UUID.fullmatch(stem):
        return True
    return bool(_HEX.fullmatch(stem)) and any(ch.isdigit() for ch in stem)


def path_prefixes(path: str) -> tuple[str, str]:
    """(prefix1, prefix2): `/seg1` and `/seg1/seg2` of a URL path, id-like segments as `*`.

    Empty segments are skipped (`//a/` is `/a`); a path with one segment gives it twice, an
    empty path or `/` gives `("/", "/")`.
    """
    segments = [seg for seg in (path or "/").split("/") if seg][:2]
    segments = [ID_SEGMENT if is_id_segment(seg) else seg for seg in segments]
    if not segments:
        return "/", "/"
    first = "/" + segments[0]
    return first, ("/" + "/".join(segments)) if len(segments) > 1 else first


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Example:
    url: str
    score: float


@dataclass
class PathStats:
    prefix: str
    pages: int
    recalled: int
    recalled_examples: list[Example] = field(default_factory=list)  # best scores first
    unrecalled_examples: list[Example] = field(default_factory=list)  # best scores first

    @property
    def fraction(self) -> float:
        return self.recalled / self.pages if self.pages else 0.0

    def to_row(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "pages": self.pages, "recalled": self.recalled}


@dataclass
class DomainStats:
    domain: str
    pages: int
    recalled: int
    recall_fraction: float
    flagged: bool
    top_paths: list[PathStats] = field(default_factory=list)  # flagged domains only
    approximate: bool = False  # prefixes were pruned (more than 2 * max_prefixes distinct)

    def to_row(self) -> dict[str, Any]:
        """A row of the `domains` table: exactly the DESIGN.md columns."""
        return {
            "domain": self.domain, "pages": self.pages, "recalled": self.recalled,
            "recall_fraction": self.recall_fraction, "flagged": self.flagged,
            "top_paths": [path.to_row() for path in self.top_paths],
        }


def is_flagged(pages: int, recalled: int, min_fraction: float = DEFAULT_MIN_FRACTION,
               min_pages: int = DEFAULT_MIN_PAGES) -> bool:
    """The DeepSeekMath rule: more than `min_fraction` recalled, and at least `min_pages` pages."""
    return pages >= min_pages and pages > 0 and recalled / pages > min_fraction


# ---------------------------------------------------------------------------------------------
# Accumulation


def _rank_key(url: str, score: float) -> tuple[float, str]:
    """Sort key, best first: higher score, then URL ascending; a missing/NaN score ranks last."""
    return (-score if not math.isnan(score) else math.inf, url)


def _as_score(score: Any) -> float:
    if score is None:
        return math.nan
    return float(score)


class _TopK:
    """The k best (url, score) by `_rank_key`, one entry per URL (its best score)."""

    __slots__ = ("items", "k")

    def __init__(self, k: int) -> None:
        self.k = k
        self.items: list[tuple[tuple[float, str], float]] = []  # (key, score), sorted by key

    def add(self, url: str, score: float) -> None:
        if self.k <= 0:
            return
        key = _rank_key(url, score)
        if len(self.items) >= self.k and key >= self.items[-1][0]:
            return
        for i, (old_key, _) in enumerate(self.items):
            if old_key[1] == url:
                if key >= old_key:
                    return
                del self.items[i]
                break
        bisect.insort(self.items, (key, score))
        del self.items[self.k:]

    def merge(self, other: _TopK) -> None:
        for key, score in other.items:
            self.add(key[1], score)

    def examples(self) -> list[Example]:
        return [Example(key[1], score) for key, score in self.items]

    def __getstate__(self) -> tuple:
        return self.k, self.items

    def __setstate__(self, state: tuple) -> None:
        self.k, self.items = state


class _PrefixCounts:
    __slots__ = ("pages", "recalled", "top_other", "top_recalled")

    def __init__(self, k: int) -> None:
        self.pages = 0
        self.recalled = 0
        self.top_recalled = _TopK(k)
        self.top_other = _TopK(k)

    def __getstate__(self) -> tuple:
        return self.pages, self.recalled, self.top_recalled, self.top_other

    def __setstate__(self, state: tuple) -> None:
        self.pages, self.recalled, self.top_recalled, self.top_other = state


def _prefix_order(item: tuple[str, _PrefixCounts]) -> tuple[int, int, str]:
    prefix, counts = item
    return (-counts.pages, -counts.recalled, prefix)


class DomainAccumulator:
    """Mergeable partial aggregate of one domain's pages (bounded memory; see the module doc)."""

    def __init__(self, domain: str, examples: int = DEFAULT_EXAMPLES,
                 max_prefixes: int = DEFAULT_MAX_PREFIXES) -> None:
        if max_prefixes < 1:
            raise ValueError(f"max_prefixes must be at least 1, got {max_prefixes}")
        self.domain = domain
        self.examples = examples
        self.max_prefixes = max_prefixes
        self.pages = 0
        self.recalled = 0
        self.approximate = False
        self.prefixes: dict[str, _PrefixCounts] = {}

    def _counts(self, prefix: str) -> _PrefixCounts:
        counts = self.prefixes.get(prefix)
        if counts is None:
            counts = self.prefixes[prefix] = _PrefixCounts(self.examples)
        return counts

    def add(self, url: str, path: str, score: float | None, recalled: bool) -> DomainAccumulator:
        recalled = bool(recalled)
        value = _as_score(score)
        url = url or ""
        self.pages += 1
        self.recalled += recalled
        first, second = path_prefixes(path)
        for prefix in (first,) if second == first else (first, second):
            counts = self._counts(prefix)
            counts.pages += 1
            counts.recalled += recalled
            (counts.top_recalled if recalled else counts.top_other).add(url, value)
        self._prune()
        return self

    def merge(self, other: DomainAccumulator) -> DomainAccumulator:
        if other.domain != self.domain:
            raise ValueError(f"cannot merge domain {other.domain!r} into {self.domain!r}")
        self.pages += other.pages
        self.recalled += other.recalled
        self.approximate = self.approximate or other.approximate
        for prefix, theirs in other.prefixes.items():
            ours = self._counts(prefix)
            ours.pages += theirs.pages
            ours.recalled += theirs.recalled
            ours.top_recalled.merge(theirs.top_recalled)
            ours.top_other.merge(theirs.top_other)
        self._prune()
        return self

    def _prune(self) -> None:
        if len(self.prefixes) <= 2 * self.max_prefixes:
            return
        kept = sorted(self.prefixes.items(), key=_prefix_order)[: self.max_prefixes]
        self.prefixes = dict(kept)
        self.approximate = True

    def finish(self, min_fraction: float = DEFAULT_MIN_FRACTION, min_pages: int = DEFAULT_MIN_PAGES,
               top_prefixes: int = DEFAULT_TOP_PREFIXES) -> DomainStats:
        flagged = is_flagged(self.pages, self.recalled, min_fraction, min_pages)
        top_paths = []
        if flagged:
            for prefix, counts in sorted(self.prefixes.items(), key=_prefix_order)[:top_prefixes]:
                top_paths.append(PathStats(prefix, counts.pages, counts.recalled,
                                           counts.top_recalled.examples(), counts.top_other.examples()))
        fraction = self.recalled / self.pages if self.pages else 0.0
        return DomainStats(self.domain, self.pages, self.recalled, fraction, flagged, top_paths,
                           self.approximate)


Row = Sequence[Any]  # (domain, url, path, score, recalled)


def aggregate_domain(domain: str, rows: Iterable[Sequence[Any]],
                     min_fraction: float = DEFAULT_MIN_FRACTION, min_pages: int = DEFAULT_MIN_PAGES,
                     top_prefixes: int = DEFAULT_TOP_PREFIXES, examples: int = DEFAULT_EXAMPLES,
                     max_prefixes: int = DEFAULT_MAX_PREFIXES) -> DomainStats:
    """Stats of one domain from its (url, path, score, recalled) rows (e.g. one Spark group)."""
    acc = DomainAccumulator(domain, examples, max_prefixes)
    for url, path, score, recalled in rows:
        acc.add(url, path, score, recalled)
    return acc.finish(min_fraction, min_pages, top_prefixes)


def aggregate_domains(rows: Iterable[Row], min_fraction: float = DEFAULT_MIN_FRACTION,
                      min_pages: int = DEFAULT_MIN_PAGES, top_prefixes: int = DEFAULT_TOP_PREFIXES,
                      examples: int = DEFAULT_EXAMPLES,
                      max_prefixes: int = DEFAULT_MAX_PREFIXES) -> list[DomainStats]:
    """Stats of every domain from (domain, url, path, score, recalled) rows, sorted by domain.

    Rows with an empty domain (a URL without a host) are skipped: there is nothing to annotate.
    """
    accs: dict[str, DomainAccumulator] = {}
    for domain, url, path, score, recalled in rows:
        if not domain:
            continue
        acc = accs.get(domain)
        if acc is None:
            acc = accs[domain] = DomainAccumulator(domain, examples, max_prefixes)
        acc.add(url, path, score, recalled)
    return [accs[d].finish(min_fraction, min_pages, top_prefixes) for d in sorted(accs)]


def iter_sorted_domains(rows: Iterable[Row], min_fraction: float = DEFAULT_MIN_FRACTION,
                        min_pages: int = DEFAULT_MIN_PAGES, top_prefixes: int = DEFAULT_TOP_PREFIXES,
                        examples: int = DEFAULT_EXAMPLES,
                        max_prefixes: int = DEFAULT_MAX_PREFIXES) -> Iterator[DomainStats]:
    """Like `aggregate_domains` over rows already grouped by domain (e.g. a Spark partition after
    `sortWithinPartitions("domain")`), holding one domain at a time. Each domain's rows must be
    contiguous; a domain seen in two runs gives two results."""
    for domain, group in groupby(rows, key=lambda row: row[0]):
        if not domain:
            continue
        yield aggregate_domain(domain, (row[1:] for row in group), min_fraction, min_pages, top_prefixes,
                               examples, max_prefixes)


def spark_combiners(examples: int = DEFAULT_EXAMPLES, max_prefixes: int = DEFAULT_MAX_PREFIXES,
                    ) -> tuple[Callable[[Row], DomainAccumulator],
                               Callable[[DomainAccumulator, Row], DomainAccumulator],
                               Callable[[DomainAccumulator, DomainAccumulator], DomainAccumulator]]:
    """(createCombiner, mergeValue, mergeCombiners) for `rdd.combineByKey` over
    (domain, (domain, url, path, score, recalled)) pairs."""

    def create(row: Row) -> DomainAccumulator:
        domain, url, path, score, recalled = row
        return DomainAccumulator(domain, examples, max_prefixes).add(url, path, score, recalled)

    def add(acc: DomainAccumulator, row: Row) -> DomainAccumulator:
        _, url, path, score, recalled = row
        return acc.add(url, path, score, recalled)

    def merge(left: DomainAccumulator, right: DomainAccumulator) -> DomainAccumulator:
        return left.merge(right)

    return create, add, merge


# ---------------------------------------------------------------------------------------------
# The domains table


def arrow_schema() -> pa.Schema:
    """Schema of the `domains` table (DESIGN.md section 4)."""
    path = pa.struct([("prefix", pa.string()), ("pages", pa.int64()), ("recalled", pa.int64())])
    return pa.schema([
        ("domain", pa.string()),
        ("pages", pa.int64()),
        ("recalled", pa.int64()),
        ("recall_fraction", pa.float64()),
        ("flagged", pa.bool_()),
        ("top_paths", pa.list_(path)),
    ])


def domains_table(stats: Iterable[DomainStats]) -> pa.Table:
    return pa.Table.from_pylist([s.to_row() for s in stats], schema=arrow_schema())


# ---------------------------------------------------------------------------------------------
# The annotation queue


def queue_order(stats: DomainStats) -> tuple[int, float, str]:
    """Sort key of a domain in the queue: recalled desc, recall fraction desc, domain asc."""
    return (-stats.recalled, -stats.recall_fraction, stats.domain)


def _format_examples(examples: Sequence[Example]) -> str:
    """`score:url` entries separated by one space; the URL's whitespace and control characters
    are percent-encoded so that the list always splits cleanly on spaces."""
    parts = []
    for ex in examples:
        score = "nan" if math.isnan(ex.score) else f"{ex.score:.4f}"
        parts.append(f"{score}:{_quote_controls(ex.url)}")
    return " ".join(parts)


def _quote_controls(text: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ord(ch) <= 0x20 or ord(ch) == 0x7F else ch for ch in text)


def _fraction(value: float) -> str:
    return f"{value:.4f}"


def queue_rows(stats: Iterable[DomainStats], annotated_domains: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per (domain, prefix) of the flagged domains not in `annotated_domains`, in
    priority order (see the module doc). Values are ready for `write_queue_tsv`."""
    done = {d.strip().lower() for d in annotated_domains}
    todo = sorted((s for s in stats if s.flagged and s.domain.lower() not in done), key=queue_order)
    rows: list[dict[str, Any]] = []
    for rank, domain in enumerate(todo, start=1):
        for path in domain.top_paths:
            rows.append({
                "priority": rank, "domain": domain.domain, "domain_pages": domain.pages,
                "domain_recalled": domain.recalled, "domain_fraction": _fraction(domain.recall_fraction),
                "prefix": path.prefix, "prefix_pages": path.pages, "prefix_recalled": path.recalled,
                "prefix_fraction": _fraction(path.fraction),
                "recalled_examples": _format_examples(path.recalled_examples),
                "unrecalled_examples": _format_examples(path.unrecalled_examples),
            })
    return rows


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", re.DOTALL)
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:  # other C0/C1 controls, DEL (NEL U+0085 among them)
        return f"\\x{code:02x}"
    if code in (0x2028, 0x2029):  # line / paragraph separators: str.splitlines breaks on them
        return f"\\u{code:04x}"
    return ch


def escape_field(value: Any) -> str:
    """A TSV field: backslash, tab, newline and carriage return written as \\\\, \\t, \\n, \\r; other
    control characters and U+2028/U+2029 as \\xHH / \\uHHHH. The result has no line breaks."""
    return "".join(_escape_char(ch) for ch in str(value))


def _unescape_one(match: re.Match) -> str:
    token = match.group(1)
    if len(token) > 1:
        return chr(int(token[1:], 16))
    return _UNESCAPES.get(token, match.group(0))


def unescape_field(text: str) -> str:
    return _UNESCAPE.sub(_unescape_one, text)


def write_queue_tsv(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write the queue as UTF-8 TSV with a header line (`QUEUE_COLUMNS`); return the rows written.

    Fields are backslash-escaped (`escape_field`), so a row is always exactly one line with
    exactly one tab between fields, whatever the URLs contain.
    """
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(QUEUE_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(escape_field(row[col]) for col in QUEUE_COLUMNS) + "\n")
            count += 1
    return count


def read_queue_tsv(path: str | Path) -> list[dict[str, str]]:
    """Read a queue file back (fields unescaped, values as strings)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    return [dict(zip(header, (unescape_field(v) for v in line.split("\t")), strict=True))
            for line in lines[1:]]
