"""Domain and URL-path statistics, flagging, and the annotation queue (DeepSeekMath steps 4-5).

After every deduplicated page has a score and a recall rule has marked some pages `recalled`,
pages are grouped by registered domain (the `domain` column of `pages`). A domain is *flagged*
as a math-related candidate when more than `min_fraction` of its pages were recalled and it has
at least `min_pages` pages. For flagged domains the URL paths are summarised per (host, prefix),
so that annotators can mark the math sections (e.g. `mathoverflow.net /questions`): the same
`/questions` on `math.example.org` and on `www.example.org` are two rows. The host is the pages
table's `host` column, lower case, without a trailing dot and without a leading `www.` (the pattern
syntax treats `www.x` and `x` as one host, so they are one row too); a missing host is "".

Rows in: `(domain, host, url, path, score, recalled, matched)`, where `matched` says that some
annotator pattern (math or exclude) matched the page. Per (host, prefix) the matched pages are
counted, so that the queue shows only what no pattern covers yet.

Path prefixes (`path_prefixes`) are the page's first one and first two *directories*: path
segments followed by a `/`. `/questions/12345/slug` gives `/questions` and `/questions/*`, where a
segment that looks like an id (all digits, a long hex string, a UUID, with or without a short file
extension) becomes `*`; `/branches/algebra/x.html` gives `/branches` and `/branches/algebra`. The
last segment of a path is a page, not a section: `/about.html`, `/` and `/questions` count under
`/` (the host's top level); `/questions/` and `/questions/12345` count under `/questions` only. An
empty segment ends the directories (`//wiki/x` is under `/`). A page is counted once per distinct
prefix. Why directories only: a page is counted under a prefix exactly when the prefix's
`suggested_pattern` (`host/questions/*`) matches it, so an annotator who pastes the suggestion
covers every page of the row and the row leaves the queue.

Prefixes are stored in the pattern syntax, so that they are unambiguous: a literal `*`, `?` or `[`
in a segment is written `[*]`, `[?]`, `[[]` (`/a*b/x` is under `/a[*]b`), and a bare `*` is always
an id segment. Everything else is kept as in the URL's path (tabs, line breaks and invisible
characters included; the queue file escapes them, see `escape_field`).

Memory is bounded per domain: a `DomainAccumulator` keeps page / recalled / matched counts per
(host, prefix) and, per (host, prefix), only the best `examples` recalled and `examples`
non-recalled URLs by score (ties: URL ascending). The number of (host, prefix) keys kept is
capped too: past `2 * max_prefixes` distinct keys, the `max_prefixes` biggest are kept (pages desc,
recalled desc, host asc, prefix asc) and the result is marked `approximate` (the domain totals stay
exact; only small prefixes may be lost or undercounted). Below the cap every result is exact and
independent of row order.

Use from Spark (this module never imports pyspark; `jobs/loop.py` `domain_stats` does the wiring):
the counts are DataFrame groupBy work in the JVM, per domain and, for the flagged domains only, per
(host, prefix) over the partials `partial_prefix_stats` folds each partition into (`page_keys`, the one
place a page's path becomes prefixes, and `_PrefixCounts.add` are shared with `DomainAccumulator.add`);
the flagged domains' stats are then built on the driver by
`stats_from_counts`, which runs the same `finish`. In process, or streaming one domain at a time
after `repartition(n, "domain").sortWithinPartitions("domain")`::

      .rdd.mapPartitions(lambda it: iter_sorted_domains(map(tuple, it), ...))

Then `[s.to_row() for s in stats]` are rows of the `domains` table (`arrow_schema()`), and
`queue_rows(flagged_stats)` / `write_queue_tsv` give the annotation queue. The table has the
DESIGN.md columns; its `top_paths` structs are `struct<host, prefix, pages, recalled, matched>`
(DESIGN.md names `prefix, pages, recalled`; `host` and `matched` are additions).

The queue: one row per (host, prefix) of the flagged domains, with the `suggested_pattern` an
annotator can paste. Two rules keep it to what still needs a look:

* a row whose pages were all matched by some pattern (`prefix_matched == prefix_pages`) is left
  out: annotators covered it. A domain leaves the queue only when none of its rows is left, so a
  pattern that matches nothing (a typo in the host) leaves its domain in the queue;
* rows that would suggest the same pattern are one row, the first in `top_paths` order (more
  pages first; on a tie the shorter prefix): `/questions` and its `/questions/*` twin are one.

`DomainAccumulator.finish` picks the queue rows of a flagged domain among all its (host, prefix)
keys (`DomainStats.queue_paths`, at most `top_prefixes`), not only among its `top_paths`: when
the biggest sections are annotated, the next ones move up instead of the domain disappearing.

Queue priority (what an annotator should look at first): flagged domains that still have rows, by
recalled pages descending (the domains that already hold the most math, where patterns pay off
most), then recall fraction descending, then domain name ascending. `priority` is the domain's
1-based rank; a domain's rows share it and follow its `top_paths` order (pages desc, recalled desc,
host asc, prefix asc), so a section comes right before its sub-sections.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.annotation import check_pattern, invisible, strip_www, visible

DEFAULT_MIN_FRACTION = 0.10
DEFAULT_MIN_PAGES = 5
DEFAULT_TOP_PREFIXES = 20
DEFAULT_EXAMPLES = 3
DEFAULT_MAX_PREFIXES = 5000

ID_SEGMENT = "*"
ROOT_PREFIX = "/"
_DIGITS = re.compile(r"\d+")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_GLOB_SPECIAL = {"*": "[*]", "?": "[?]", "[": "[[]"}

QUEUE_COLUMNS = (
    "priority", "domain", "domain_pages", "domain_recalled", "domain_fraction",
    "host", "prefix", "prefix_pages", "prefix_recalled", "prefix_matched", "prefix_fraction",
    "suggested_pattern", "recalled_examples", "unrecalled_examples",
)


# ---------------------------------------------------------------------------------------------
# Path prefixes and patterns


def is_id_segment(segment: str) -> bool:
    """True for a path segment that names one item rather than a section: all digits, a hex
    string of 8+ characters with at least one digit, or a UUID; a short file extension is
    ignored (`12345.html`)."""
    stem = _EXTENSION.sub("", segment) or segment
    if _DIGITS.fullmatch(stem) or _UUID.fullmatch(stem):
        return True
    return bool(_HEX.fullmatch(stem)) and any(ch.isdigit() for ch in stem)


def _glob_segment(segment: str) -> str:
    """A directory segment as it is stored: `*` for an id, else the text with glob signs escaped."""
    if is_id_segment(segment):
        return ID_SEGMENT
    return "".join(_GLOB_SPECIAL.get(ch, ch) for ch in segment)


def path_prefixes(path: str) -> tuple[str, str]:
    """(prefix1, prefix2): the first one and first two directories of a URL path, in the pattern
    syntax (id-like segments as `*`, literal `*`, `?`, `[` as `[*]`, `[?]`, `[[]`).

    A directory is a segment followed by `/`; the directories end at the first empty segment. A
    path with one directory gives it twice; a path with none (`/`, `/about.html`, an empty path)
    gives `("/", "/")`. See the module doc for why the last segment never counts.
    """
    parts = (path or "/").split("/")
    segments: list[str] = []
    if parts[0] == "":  # an absolute path; anything else has no directory a pattern could name
        for segment in parts[1:-1]:
            if not segment or len(segments) == 2:
                break
            segments.append(_glob_segment(segment))
    if not segments:
        return ROOT_PREFIX, ROOT_PREFIX
    first = "/" + segments[0]
    return first, ("/" + "/".join(segments)) if len(segments) > 1 else first


def _normal_host(host: str | None) -> str:
    """The grouping key of a host: lower case, no trailing dot, no leading `www.`."""
    return strip_www((host or "").strip().lower().rstrip("."))


def _lint_safe(path_glob: str) -> str:
    """Characters a pattern cannot hold (whitespace, controls and other invisible characters, `#`)
    become `?`, which matches any one character; so does a `=` after a `?`, which the linter would
    read as a query string."""
    out = []
    seen_qmark = False
    for ch in path_glob:
        if ch.isspace() or invisible(ch) or ch == "#" or (ch == "=" and seen_qmark):
            ch = "?"
        seen_qmark = seen_qmark or ch == "?"
        out.append(ch)
    return "".join(out)


def suggested_pattern(host: str, prefix: str) -> str:
    """The url_patterns line an annotator can paste for a (host, prefix) row: `host/seg1/*` for
    `/seg1`, `host/seg1/seg2/*` for `/seg1/seg2`, `host/seg1/*` for `/seg1/*` (a trailing id
    segment adds nothing), `host/*` for `/` and `/*`.

    `prefix` is in the stored form of `path_prefixes` (glob signs of real segments already
    escaped, `*` an id segment). The pattern matches every page counted under the prefix, and
    passes `pipeline.annotation.check_pattern`; "" when no pattern can be written for the host
    (empty, an IPv6 address, a name without a dot).
    """
    name = _normal_host(host)
    if not name:
        return ""
    body = prefix.strip("/")
    if body == ID_SEGMENT or body.endswith("/" + ID_SEGMENT):
        body = body[: -len(ID_SEGMENT)].rstrip("/")
    glob = f"{name}{_lint_safe('/' + body if body else '')}/*"
    return glob if check_pattern(glob) is None else ""


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Example:
    url: str
    score: float


@dataclass
class PathStats:
    host: str  # grouping form: lower case, no leading www. ("" when the pages had none)
    prefix: str  # stored form of path_prefixes
    pages: int
    recalled: int
    matched: int = 0  # pages some annotator pattern (math or exclude) matched
    recalled_examples: list[Example] = field(default_factory=list)  # best scores first
    unrecalled_examples: list[Example] = field(default_factory=list)  # best scores first

    @property
    def fraction(self) -> float:
        return self.recalled / self.pages if self.pages else 0.0

    @property
    def covered(self) -> bool:
        """Every page of the row was matched by some pattern: nothing left to annotate."""
        return self.matched >= self.pages

    def pattern(self) -> str:
        return suggested_pattern(self.host, self.prefix)

    def to_row(self) -> dict[str, Any]:
        return {"host": self.host, "prefix": self.prefix, "pages": self.pages, "recalled": self.recalled,
                "matched": self.matched}


@dataclass
class DomainStats:
    domain: str
    pages: int
    recalled: int
    recall_fraction: float
    flagged: bool
    top_paths: list[PathStats] = field(default_factory=list)  # flagged domains only
    approximate: bool = False  # prefixes were pruned (more than 2 * max_prefixes distinct)
    matched: int = 0  # pages some annotator pattern matched
    # The queue's rows (see open_paths), chosen by finish() among all (host, prefix) keys; None
    # for stats built by hand, where queue_rows derives them from top_paths.
    queue_paths: list[PathStats] | None = None

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


def flag_sql(min_fraction: float = DEFAULT_MIN_FRACTION, min_pages: int = DEFAULT_MIN_PAGES) -> str:
    """`is_flagged` as a Spark SQL condition over `pages` and `recalled` columns, so the flag of
    millions of domains needs no Python; tests check the two agree, around the boundaries too.
    (`recalled / pages` is a double division in both; repr keeps every bit of the fraction.)"""
    return (f"(pages >= {int(min_pages)} AND pages > 0 AND "
            f"recalled / pages > CAST('{float(min_fraction)!r}' AS DOUBLE))")


def open_paths(paths: Iterable[PathStats], limit: int | None = None) -> list[PathStats]:
    """The rows of `paths` (in their order) that the queue shows: not `covered` by patterns, and
    one per suggested pattern (the first wins); at most `limit`.

    Covered rows are dropped before twins are merged, so an uncovered twin is never hidden
    behind a covered one. A row without a suggestion (no usable host) is its own key. A
    two-level row with exactly its shown parent's pages and recalled pages (`/2021/*` under
    `/2021`, every page one level deeper) says nothing new and is dropped too.
    """
    seen: set[Any] = set()
    shown: dict[tuple[str, str], tuple[int, int]] = {}
    out: list[PathStats] = []
    for path in paths:
        if limit is not None and len(out) >= limit:
            break
        if path.covered:
            continue
        key: Any = path.pattern() or (path.host, path.prefix)
        if key in seen:
            continue
        parent = path.prefix.rsplit("/", 1)[0]
        if parent and shown.get((path.host, parent)) == (path.pages, path.recalled):
            continue
        seen.add(key)
        shown[(path.host, path.prefix)] = (path.pages, path.recalled)
        out.append(path)
    return out


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
    __slots__ = ("matched", "pages", "recalled", "top_other", "top_recalled")

    def __init__(self, k: int) -> None:
        self.pages = 0
        self.recalled = 0
        self.matched = 0
        self.top_recalled = _TopK(k)
        self.top_other = _TopK(k)

    def add(self, url: str, score: float, recalled: bool, matched: bool) -> None:
        """Count one page under this (host, prefix); score already a float (NaN when missing)."""
        self.pages += 1
        self.recalled += recalled
        self.matched += matched
        (self.top_recalled if recalled else self.top_other).add(url, score)

    def __getstate__(self) -> tuple:
        return self.pages, self.recalled, self.matched, self.top_recalled, self.top_other

    def __setstate__(self, state: tuple) -> None:
        self.pages, self.recalled, self.matched, self.top_recalled, self.top_other = state


PrefixKey = tuple[str, str]  # (host, prefix)


def _prefix_order(item: tuple[PrefixKey, _PrefixCounts]) -> tuple[int, int, str, str]:
    (host, prefix), counts = item
    return (-counts.pages, -counts.recalled, host, prefix)


def page_keys(host: str | None, path: str) -> tuple[PrefixKey, ...]:
    """The (host, prefix) rows a page counts under: its grouping host with each distinct prefix of
    `path_prefixes` (one or two)."""
    name = _normal_host(host)
    first, second = path_prefixes(path)
    return ((name, first),) if second == first else ((name, first), (name, second))


PARTIAL_COLUMNS = ("domain", "host", "prefix", "pages", "recalled", "matched", "examples_recalled",
                   "scores_recalled", "examples_other", "scores_other")


def partial_prefix_stats(rows: Iterable[Row], examples: int = DEFAULT_EXAMPLES) -> Iterator[tuple]:
    """Per (domain, host, prefix) of some (domain, host, url, path, score, recalled, matched) pages
    (one Spark partition): pages, recalled, matched and the best `examples` recalled and other
    (url, score), as `PARTIAL_COLUMNS` tuples with the examples as parallel URL and score lists.
    Partials of several partitions add up (counts) and merge through `_TopK` (examples), exactly as
    `DomainAccumulator.merge` does."""
    keyed: dict[tuple[str, str, str], _PrefixCounts] = {}
    for domain, host, url, path, score, recalled, matched in rows:
        recalled, matched = bool(recalled), bool(matched)
        value = _as_score(score)
        for name, prefix in page_keys(host, path):
            counts = keyed.get((domain, name, prefix))
            if counts is None:
                counts = keyed[(domain, name, prefix)] = _PrefixCounts(examples)
            counts.add(url or "", value, recalled, matched)
    for (domain, host, prefix), c in keyed.items():
        best, other = c.top_recalled.examples(), c.top_other.examples()
        yield (domain, host, prefix, c.pages, c.recalled, c.matched, [e.url for e in best],
               [e.score for e in best], [e.url for e in other], [e.score for e in other])


def stats_from_counts(domain: str, totals: tuple[int, int, int],
                      prefixes: Iterable[tuple[str, str, int, int, int]],
                      examples: Iterable[tuple[str, str, bool, str, float]],
                      min_fraction: float = DEFAULT_MIN_FRACTION, min_pages: int = DEFAULT_MIN_PAGES,
                      top_prefixes: int = DEFAULT_TOP_PREFIXES, examples_per_list: int = DEFAULT_EXAMPLES,
                      approximate: bool = False) -> DomainStats:
    """A domain's stats from counts made elsewhere (Spark's groupBy): totals (pages, recalled,
    matched), per (host, prefix) (host, prefix, pages, recalled, matched), and candidate examples
    (host, prefix, recalled, url, score), each list's best `examples_per_list` at least. The same
    `finish` as pages added one by one, so both paths rank, flag and pick queue rows alike."""
    acc = DomainAccumulator(domain, examples_per_list, max_prefixes=1)
    acc.pages, acc.recalled, acc.matched = totals
    acc.approximate = approximate
    for host, prefix, pages, recalled, matched in prefixes:
        counts = acc._counts((host, prefix))
        counts.pages, counts.recalled, counts.matched = pages, recalled, matched
    for host, prefix, recalled, url, score in examples:
        counts = acc.prefixes.get((host, prefix))
        if counts is not None:
            (counts.top_recalled if recalled else counts.top_other).add(url, _as_score(score))
    return acc.finish(min_fraction, min_pages, top_prefixes)  # no _prune: the counts are exact


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
        self.matched = 0
        self.approximate = False
        self.prefixes: dict[PrefixKey, _PrefixCounts] = {}

    def _counts(self, key: PrefixKey) -> _PrefixCounts:
        counts = self.prefixes.get(key)
        if counts is None:
            counts = self.prefixes[key] = _PrefixCounts(self.examples)
        return counts

    def add(self, host: str | None, url: str, path: str, score: float | None, recalled: bool,
            matched: bool) -> DomainAccumulator:
        """Count one page: its URL host (the pages table's `host`), URL, path, classifier score,
        whether the recall rule kept it, and whether some annotator pattern matched it."""
        recalled = bool(recalled)
        matched = bool(matched)
        value = _as_score(score)
        url = url or ""
        self.pages += 1
        self.recalled += recalled
        self.matched += matched
        for key in page_keys(host, path):
            self._counts(key).add(url, value, recalled, matched)
        self._prune()
        return self

    def merge(self, other: DomainAccumulator) -> DomainAccumulator:
        if other.domain != self.domain:
            raise ValueError(f"cannot merge domain {other.domain!r} into {self.domain!r}")
        self.pages += other.pages
        self.recalled += other.recalled
        self.matched += other.matched
        self.approximate = self.approximate or other.approximate
        for key, theirs in other.prefixes.items():
            ours = self._counts(key)
            ours.pages += theirs.pages
            ours.recalled += theirs.recalled
            ours.matched += theirs.matched
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
        top_paths: list[PathStats] = []
        queue_paths: list[PathStats] | None = None
        if flagged:
            ordered = sorted(self.prefixes.items(), key=_prefix_order)
            top_paths = [_path_stats(key, counts) for key, counts in ordered[:top_prefixes]]
            # Lazily: only as many rows are built as the queue keeps.
            queue_paths = open_paths((_path_stats(key, counts) for key, counts in ordered), top_prefixes)
        fraction = self.recalled / self.pages if self.pages else 0.0
        return DomainStats(self.domain, self.pages, self.recalled, fraction, flagged, top_paths,
                           self.approximate, self.matched, queue_paths)


def _path_stats(key: PrefixKey, counts: _PrefixCounts) -> PathStats:
    host, prefix = key
    return PathStats(host, prefix, counts.pages, counts.recalled, counts.matched,
                     counts.top_recalled.examples(), counts.top_other.examples())


Row = Sequence[Any]  # (domain, host, url, path, score, recalled, matched)


def aggregate_domain(domain: str, rows: Iterable[Sequence[Any]],
                     min_fraction: float = DEFAULT_MIN_FRACTION, min_pages: int = DEFAULT_MIN_PAGES,
                     top_prefixes: int = DEFAULT_TOP_PREFIXES, examples: int = DEFAULT_EXAMPLES,
                     max_prefixes: int = DEFAULT_MAX_PREFIXES) -> DomainStats:
    """Stats of one domain from its (host, url, path, score, recalled, matched) rows (e.g. one
    Spark group)."""
    acc = DomainAccumulator(domain, examples, max_prefixes)
    for host, url, path, score, recalled, matched in rows:
        acc.add(host, url, path, score, recalled, matched)
    return acc.finish(min_fraction, min_pages, top_prefixes)


def aggregate_domains(rows: Iterable[Row], min_fraction: float = DEFAULT_MIN_FRACTION,
                      min_pages: int = DEFAULT_MIN_PAGES, top_prefixes: int = DEFAULT_TOP_PREFIXES,
                      examples: int = DEFAULT_EXAMPLES,
                      max_prefixes: int = DEFAULT_MAX_PREFIXES) -> list[DomainStats]:
    """Stats of every domain from (domain, host, url, path, score, recalled, matched) rows, sorted
    by domain.

    Rows with an empty domain (a URL without a host) are skipped: there is nothing to annotate.
    """
    accs: dict[str, DomainAccumulator] = {}
    for domain, host, url, path, score, recalled, matched in rows:
        if not domain:
            continue
        acc = accs.get(domain)
        if acc is None:
            acc = accs[domain] = DomainAccumulator(domain, examples, max_prefixes)
        acc.add(host, url, path, score, recalled, matched)
    return [accs[d].finish(min_fraction, min_pages, top_prefixes) for d in sorted(accs)]


def iter_sorted_domains(rows: Iterable[Row], min_fraction: float = DEFAULT_MIN_FRACTION,
                        min_pages: int = DEFAULT_MIN_PAGES, top_prefixes: int = DEFAULT_TOP_PREFIXES,
                        examples: int = DEFAULT_EXAMPLES,
                        max_prefixes: int = DEFAULT_MAX_PREFIXES) -> Iterator[DomainStats]:
    """Like `aggregate_domains` over (domain, host, url, path, score, recalled, matched) rows
    already grouped by domain (e.g. a Spark partition after `sortWithinPartitions("domain")`),
    holding one domain at a time. Each domain's rows must be contiguous; a domain seen in two runs
    gives two results."""
    for domain, group in groupby(rows, key=lambda row: row[0]):
        if not domain:
            continue
        yield aggregate_domain(domain, (row[1:] for row in group), min_fraction, min_pages, top_prefixes,
                               examples, max_prefixes)


# ---------------------------------------------------------------------------------------------
# The domains table


def arrow_schema() -> pa.Schema:
    """Schema of the `domains` table (DESIGN.md section 4; `top_paths` gains `host`, `matched`)."""
    path = pa.struct([("host", pa.string()), ("prefix", pa.string()), ("pages", pa.int64()),
                      ("recalled", pa.int64()), ("matched", pa.int64())])
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


def queue_rows(stats: Iterable[DomainStats], min_prefix_pages: int = 1) -> list[dict[str, Any]]:
    """One row per (host, prefix) still to annotate of the flagged domains, in priority order (see
    the module doc for which rows are left out and merged); prefixes with fewer than
    `min_prefix_pages` pages are left out (one-page "sections" are noise to an annotator). Values
    are ready for `write_queue_tsv`."""
    todo: list[tuple[DomainStats, list[PathStats]]] = []
    for domain in stats:
        if not domain.flagged:
            continue
        paths = domain.queue_paths if domain.queue_paths is not None else open_paths(domain.top_paths)
        paths = [p for p in paths if p.pages >= min_prefix_pages]
        if paths:
            todo.append((domain, paths))
    todo.sort(key=lambda item: queue_order(item[0]))
    rows: list[dict[str, Any]] = []
    for rank, (domain, paths) in enumerate(todo, start=1):
        for path in paths:
            rows.append({
                "priority": rank, "domain": domain.domain, "domain_pages": domain.pages,
                "domain_recalled": domain.recalled, "domain_fraction": _fraction(domain.recall_fraction),
                "host": path.host, "prefix": path.prefix, "prefix_pages": path.pages,
                "prefix_recalled": path.recalled, "prefix_matched": path.matched,
                "prefix_fraction": _fraction(path.fraction), "suggested_pattern": path.pattern(),
                "recalled_examples": _format_examples(path.recalled_examples),
                "unrecalled_examples": _format_examples(path.unrecalled_examples),
            })
    return rows


_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def escape_field(value: Any) -> str:
    """A TSV field as a person may read it: backslashes doubled, then every character a reader
    cannot see escaped by `pipeline.annotation.visible` (tab, newline, carriage return as \\t, \\n,
    \\r; other controls as \\xHH; bidi controls, zero-width characters, U+2028/U+2029 and the like
    as \\uHHHH or \\UHHHHHHHH). The result has no line break, no raw tab, nothing that reorders or
    hides text (a crawled URL with U+202E shows `\\u202e`), and `unescape_field` reads it back."""
    return visible(str(value).replace("\\", "\\\\"))


def _unescape_one(match: re.Match) -> str:
    token = match.group(1)
    if len(token) > 1:
        code = int(token[1:], 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)
    return _UNESCAPES.get(token, match.group(0))


def unescape_field(text: str) -> str:
    return _UNESCAPE.sub(_unescape_one, text)


def queue_tsv(rows: Iterable[dict[str, Any]]) -> str:
    """The queue as UTF-8 TSV text with a header line (`QUEUE_COLUMNS`).

    Fields are backslash-escaped (`escape_field`), so a row is always exactly one line with
    exactly one tab between fields, whatever the URLs contain, and crawled text shows its
    invisible characters (bidi overrides, zero-width spaces) as escapes.
    """
    lines = ["\t".join(QUEUE_COLUMNS)]
    lines += ["\t".join(escape_field(row[col]) for col in QUEUE_COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def read_queue_tsv(path: str | Path) -> list[dict[str, str]]:
    """Read a queue file back (fields unescaped, values as strings)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    return [dict(zip(header, (unescape_field(v) for v in line.split("\t")), strict=True))
            for line in lines[1:]]
