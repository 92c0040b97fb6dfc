"""What the annotation review page (`mathmine annotate serve`, jobs/annotate.py) shows, read from a
run folder with pyarrow through `pipeline.fs.Store` (local or s3://), never with Spark.

Everything that decides something is the loop's own code, called here on plain rows:

- grouping pages into (host, prefix) sections and flagging: `pipeline.domains.aggregate_domain`,
  `path_prefixes`, `suggested_pattern`, `open_paths`, `queue_order`;
- which pattern matches a page: `pipeline.annotation.PatternMatcher`;
- what a pattern line does (matched, recalled, excluded, added to the next seed):
  `pipeline.loop.tally_patterns` and `pattern_table`, the functions `mathmine annotations preview`
  and the loop's patterns step run inside Spark partitions.

What this module adds is the reading (the latest iteration's kept pages with their score, recalled
and seed flags), per-section score histograms, snippets, the annotators' decisions read back from
their files, agreement between annotators, and the loop's progress per iteration.

A review decision "not math" is not a pattern (the syntax has only `math` and `exclude`): it is
written as a comment line `# not math<TAB>pattern<TAB>annotator<TAB>note`, which the linter and the
loop skip like every comment, so the loop is unchanged and the review remembers the decision.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import fs
from pipeline.annotation import (
    Pattern,
    PatternMatcher,
    load_patterns,
    pattern_files,
    pattern_host,
    strip_www,
)
from pipeline.config import DomainSettings
from pipeline.domains import (
    DomainStats,
    PathStats,
    aggregate_domain,
    escape_field,
    open_paths,
    path_prefixes,
    queue_order,
    suggested_pattern,
)
from pipeline.loop import pattern_table, tally_patterns

STATE_FILE = "state.json"
HISTOGRAM_BINS = 10
MAX_PREFIXES = 400  # sections shown per domain (the biggest first); the queue keeps fewer
NOT_MATH = "not math"
DECISION_LABELS = ("math", "exclude", NOT_MATH)
NOTE_ROW = "; row "  # the note of a line the review page wrote ends with "; row <host><prefix>"
_NOT_MATH_LINE = re.compile(r"#\s*not math\t([^\t]*)\t([^\t]*)(?:\t(.*))?$")
_TEX_OPEN = re.compile(r"\$\$|\$|\\\(|\\\[")
_TEX_CLOSE = {"$$": ("$$", 2000), "$": ("$", 400), "\\(": ("\\)", 2000), "\\[": ("\\]", 2000)}
_TEX_HINT = re.compile(r"\\[A-Za-z]+|[\^_]\{")


class ReviewError(Exception):
    """The run folder cannot be reviewed (no finished iteration); the message says what to run."""


# --------------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Page:
    """A deduplicated page of the run as the latest iteration saw it."""

    id: str
    url: str
    host: str
    domain: str
    path: str
    score: float | None
    recalled: bool
    in_seed: bool


def read_table(store: fs.Store, folder: str, columns: Sequence[str] | None = None,
               filters: Any = None) -> pa.Table:
    """A Parquet table of the run folder: the files its completion marker lists (every `.parquet`
    file below it when it has none, as for `pages`), read with pyarrow."""
    parts = []
    for path in store.files(folder, ".parquet"):
        with store.local_copy(path) as local:
            parts.append(pq.read_table(local, columns=list(columns) if columns else None, filters=filters))
    if not parts:
        raise ReviewError(f"{folder}: no Parquet file (has `mathmine iterate` finished this step?)")
    return pa.concat_tables(parts, promote_options="permissive")


def read_state(store: fs.Store, work: str) -> dict[str, Any]:
    """The run's state.json (which steps finished; where their stats are), or no steps."""
    path = fs.join(work, STATE_FILE)
    return store.read_json(path) if store.exists(path) else {"steps": {}}


def step_stats(store: fs.Store, work: str, state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A finished step's stats (the `_stats.json` its state.json entry names), or None."""
    entry = state.get("steps", {}).get(name)
    if not entry or not store.exists(fs.join(work, entry["stats"])):
        return None
    return store.read_json(fs.join(work, entry["stats"]))


def finished_iterations(store: fs.Store, work: str, state: dict[str, Any]) -> list[int]:
    """Iterations whose domains step finished with a published recall: what the queue is made of."""
    found = []
    for name in state.get("steps", {}):
        if name.startswith("iter-") and name.endswith("/domains"):
            n = int(name.split("/")[0][5:])
            folder = fs.join(work, f"iter-{n:02d}")
            if store.published(fs.join(folder, "recalled")) and store.published(fs.join(folder, "domains")):
                found.append(n)
    return sorted(found)


def host_key(host: str | None) -> str:
    """A page host as sections and patterns see it: lower case, no trailing dot, no `www.`."""
    return strip_www((host or "").strip().lower().rstrip("."))


def section_keys(host: str | None, path: str | None) -> list[tuple[str, str]]:
    """The (host, prefix) sections a page counts in: one or two, as `DomainAccumulator.add` counts
    them (tests check the two agree page for page)."""
    first, second = path_prefixes(path or "/")
    name = host_key(host)
    return [(name, first)] if first == second else [(name, first), (name, second)]


class RunTables:
    """The latest finished iteration of a run folder: its kept pages (no text) with score, recalled
    and seed flags, and the domains table. Texts are read per domain on demand and a few domains'
    are cached. Built once per state.json (the server reloads it when a rerun changes that file)."""

    def __init__(self, store: fs.Store, work: str, text_cache_domains: int = 16) -> None:
        self.store, self.work = store, work
        self.state = read_state(store, work)
        done = finished_iterations(store, work, self.state)
        if not done:
            raise ReviewError(f"{work}: no finished iteration to review "
                              f"(run `mathmine iterate --work {work}`)")
        self.iteration = done[-1]
        self.folder = fs.join(work, f"iter-{self.iteration:02d}")
        self.state_digest = state_digest(store, work)
        kept = read_table(store, fs.join(work, "dedup"), ["id", "keep"])
        kept_ids = {i for i, keep in zip(kept.column("id").to_pylist(), kept.column("keep").to_pylist(),
                                         strict=True) if keep}
        scores_t = read_table(store, fs.join(self.folder, "scores"), ["id", "score"])
        scores = dict(zip(scores_t.column("id").to_pylist(), scores_t.column("score").to_pylist(),
                          strict=True))
        recalled = set(read_table(store, fs.join(self.folder, "recalled"), ["id"]).column("id").to_pylist())
        seed = set(read_table(store, fs.join(self.folder, "seed"), ["id"]).column("id").to_pylist())
        pages_t = read_table(store, fs.join(work, "pages"), ["id", "url", "host", "domain", "path"])
        self.pages: list[Page] = []
        self.by_id: dict[str, Page] = {}
        self.by_domain: dict[str, list[Page]] = {}
        self.by_host: dict[str, list[Page]] = {}
        for row in pages_t.to_pylist():
            if row["id"] not in kept_ids:
                continue
            score = scores.get(row["id"])
            page = Page(row["id"], row["url"] or "", row["host"] or "", row["domain"] or "",
                        row["path"] or "/", None if score is None or math.isnan(score) else float(score),
                        row["id"] in recalled, row["id"] in seed)
            self.pages.append(page)
            self.by_id[page.id] = page
            if page.domain:
                self.by_domain.setdefault(page.domain, []).append(page)
            self.by_host.setdefault(host_key(page.host), []).append(page)
        self.domains = read_table(store, fs.join(self.folder, "domains")).to_pylist()
        self._texts: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._text_cache_domains = text_cache_domains
        self._texts_lock = threading.Lock()  # the server answers requests in threads

    def flagged_domains(self) -> list[str]:
        return sorted(d["domain"] for d in self.domains if d["flagged"])

    def texts(self, domain: str) -> dict[str, str]:
        """id -> extracted text of a domain's pages (read from the pages table, cached)."""
        with self._texts_lock:
            if domain in self._texts:
                self._texts.move_to_end(domain)
                return self._texts[domain]
            table = read_table(self.store, fs.join(self.work, "pages"), ["id", "text"],
                               [("domain", "=", domain)])
            ids, bodies = table.column("id").to_pylist(), table.column("text").to_pylist()
            texts = {k: v or "" for k, v in zip(ids, bodies, strict=True)}
            self._texts[domain] = texts
            while len(self._texts) > self._text_cache_domains:
                self._texts.popitem(last=False)
            return texts

    def text(self, page: Page) -> str:
        return self.texts(page.domain).get(page.id, "") if page.domain else ""

    def candidate_pages(self, pattern: Pattern) -> list[Page]:
        """Every page the pattern could match: those on its host or a subdomain of it. A superset
        only narrows the work; `PatternMatcher` decides."""
        base = pattern_host(pattern)
        if not base.isascii():
            try:
                base = base.encode("idna").decode("ascii")
            except UnicodeError:
                return []
        return [p for host, pages in self.by_host.items()
                if host == base or host.endswith("." + base) for p in pages]


def state_digest(store: fs.Store, work: str) -> str:
    """Changes whenever a run records a step (the server reloads its tables then)."""
    path = fs.join(work, STATE_FILE)
    return hashlib.sha256(store.read_bytes(path)).hexdigest()[:16] if store.exists(path) else ""


# ------------------------------------------------------------------------------ the decisions


@dataclass(frozen=True)
class Decision:
    """One reviewed line of a pattern file: a pattern line (math, exclude) or a `# not math` note."""

    file: str
    line: int
    pattern: str
    label: str  # math | exclude | not math
    annotator: str
    note: str = ""

    @property
    def row(self) -> str:
        """The `<host><prefix>` the review page wrote the line for ("" for a line written by hand)."""
        return self.note.rsplit(NOTE_ROW, 1)[1] if NOTE_ROW in self.note else ""


def read_decisions(folder: Path) -> tuple[list[Decision], list[Pattern]]:
    """(every decision, the lint-clean patterns) of the `*.tsv` files in a folder, by file and line."""
    patterns, _ = load_patterns(folder) if folder.exists() else ([], [])
    decisions = [Decision(p.file, p.line, p.glob, p.label, p.annotator, p.note) for p in patterns]
    for file in pattern_files(folder) if folder.exists() else []:
        for number, raw in enumerate(file.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
            found = _NOT_MATH_LINE.match(raw.rstrip("\r").lstrip())
            if found:
                decisions.append(Decision(file.name, number, found.group(1).strip(), NOT_MATH,
                                          found.group(2).strip(), (found.group(3) or "").strip()))
    return sorted(decisions, key=lambda d: (d.file, d.line)), patterns


def row_key(host: str, prefix: str) -> str:
    """How a section is named in a note: `host/prefix`, escaped to one line."""
    return escape_field(f"{host}{prefix}")


def decision_for(decisions: Iterable[Decision], host: str, prefix: str, annotator: str | None = None
                 ) -> Decision | None:
    """The last decision on a section (of one annotator, or anyone's): a line written for it by the
    review page, or a line whose pattern is the section's suggested pattern."""
    suggestion, key = suggested_pattern(host, prefix), row_key(host, prefix)
    found = None
    for d in decisions:
        if annotator is not None and d.annotator != annotator:
            continue
        if d.row == key or (not d.row and suggestion and d.pattern == suggestion):
            found = d
    return found


# ------------------------------------------------------------------------- sections and tree


@dataclass
class ExamplePage:
    id: str
    url: str
    score: float | None
    recalled: bool
    title: str
    snippet: list[tuple[str, bool]]  # (text, is TeX), to be escaped by the template


@dataclass
class Section:
    """A (host, prefix) section of a domain with what the review page shows about it."""

    host: str
    prefix: str
    pages: int
    recalled: int
    matched: int  # pages some pattern (math or exclude) matches now
    pattern: str  # the suggested pattern ("" when none can be written)
    histogram: list[int]  # pages per score bin, HISTOGRAM_BINS bins over [0, 1]
    unscored: int
    covered_by: list[tuple[str, str, str, int]]  # (file:line, pattern, label, pages matched)
    examples: list[ExamplePage] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    in_queue: bool = False  # still open: the queue would show it

    @property
    def key(self) -> str:
        return row_key(self.host, self.prefix)

    @property
    def fraction(self) -> float:
        return self.recalled / self.pages if self.pages else 0.0

    @property
    def covered(self) -> bool:
        return self.matched >= self.pages

    @property
    def level(self) -> int:
        return 0 if self.prefix == "/" else self.prefix.count("/")


@dataclass
class DomainView:
    domain: str
    stats: DomainStats
    hosts: list[str]  # most pages first
    sections: list[Section]  # tree order: per host, a prefix right before its sub-prefixes
    paths: list[PathStats]  # every section the loop counts, in its order (pages desc, recalled desc, ...)
    open: list[PathStats]  # the sections the queue file would list now

    def section(self, host: str, prefix: str) -> Section | None:
        return next((s for s in self.sections if s.host == host and s.prefix == prefix), None)


def histogram(scores: Iterable[float | None], bins: int = HISTOGRAM_BINS) -> tuple[list[int], int]:
    """(pages per score bin over [0, 1], pages without a score)."""
    counts, unscored = [0] * bins, 0
    for score in scores:
        if score is None:
            unscored += 1
        else:
            counts[min(bins - 1, max(0, int(score * bins)))] += 1
    return counts, unscored


def title_of(text: str) -> str:
    """The first line of the extracted text, as the report shows it."""
    for line in text.split("\n"):
        if line.strip():
            return line.strip()[:160]
    return ""


def formula_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the TeX formulas in a text (`$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`), each
    closing delimiter looked for within a bounded distance (str.find), so a page full of unclosed
    delimiters costs linear time, not a regex's backtracking."""
    spans, at = [], 0
    while True:
        opened = _TEX_OPEN.search(text, at)
        if opened is None:
            return spans
        close, limit = _TEX_CLOSE[opened.group(0)]
        end = text.find(close, opened.end(), opened.end() + limit)
        if end <= opened.end():  # not closed nearby, or empty
            at = opened.end()
            continue
        spans.append((opened.start(), end + len(close)))
        at = end + len(close)


def snippet(text: str, width: int = 360) -> list[tuple[str, bool]]:
    """A window of the text around its first formula, as (text, is TeX) pieces: the template shows
    formulas as TeX source in <code>, everything escaped; nothing from the crawl becomes markup."""
    flat = " ".join(text.split())
    spans = formula_spans(flat[:200_000])
    hint = _TEX_HINT.search(flat, 0, 200_000)
    found = spans[0] if spans else (hint.span() if hint else None)
    start = 0
    if found and found[0] > width // 3:
        start = flat.rfind(" ", 0, found[0] - width // 3) + 1
    end = min(len(flat), start + width)
    if found and found[1] > end and found[1] - start < 2 * width:
        end = found[1]
    if end < len(flat):
        cut = flat.rfind(" ", start, end)
        end = cut if cut > start else end
    window = flat[start:end]
    pieces: list[tuple[str, bool]] = []
    at = 0
    for f_start, f_end in formula_spans(window):
        if f_start > at:
            pieces.append((window[at:f_start], False))
        pieces.append((window[f_start:f_end], True))
        at = f_end
    if at < len(window):
        pieces.append((window[at:], False))
    if start > 0:
        pieces.insert(0, ("… ", False))
    if end < len(flat):
        pieces.append((" …", False))
    return pieces


def domain_view(run: RunTables, domain: str, matcher: PatternMatcher, limits: DomainSettings,
                with_examples: bool = True) -> DomainView:
    """A domain's sections as a tree, with coverage by the current pattern files (not the ones the
    last run had), and the sections the queue would still list."""
    pages = run.by_domain.get(domain, [])
    labels = {p.id: matcher.label(p.host, p.path) for p in pages}

    def aggregate(min_fraction: float, min_pages: int) -> DomainStats:
        rows = ((p.host, p.url, p.path, p.score, p.recalled, labels[p.id] is not None) for p in pages)
        return aggregate_domain(domain, rows, min_fraction, min_pages, MAX_PREFIXES, limits.examples)

    stats = aggregate(limits.min_fraction, limits.min_pages)
    # Sections are listed for flagged domains only; an unflagged one is counted again as if it were.
    paths = stats.top_paths if stats.flagged or not pages else aggregate(0.0, 1).top_paths
    opened = [p for p in open_paths(paths, limits.top_prefixes) if p.pages >= limits.min_prefix_pages]
    open_keys = {(p.host, p.prefix) for p in opened} if stats.flagged else set()
    members: dict[tuple[str, str], list[Page]] = {}
    for p in pages:
        for key in section_keys(p.host, p.path):
            members.setdefault(key, []).append(p)
    by_url = {p.url: p for p in pages}
    texts = run.texts(domain) if with_examples and pages else {}
    sections: dict[tuple[str, str], Section] = {}
    for path in paths:
        inside = members.get((path.host, path.prefix), [])
        counts, unscored = histogram(p.score for p in inside)
        covering: Counter[Pattern] = Counter()
        for p in inside:
            covering.update(matcher.matching(p.host, p.path))
        section = Section(
            path.host, path.prefix, path.pages, path.recalled, path.matched, path.pattern(), counts, unscored,
            [(f"{pat.file}:{pat.line}", pat.glob, pat.label, n)
             for pat, n in sorted(covering.items(), key=lambda kv: (kv[0].file, kv[0].line))],
            in_queue=(path.host, path.prefix) in open_keys,
        )
        if with_examples:
            for ex in path.recalled_examples + path.unrecalled_examples:
                page = by_url.get(ex.url)
                if page is not None:
                    text = texts.get(page.id, "")
                    section.examples.append(ExamplePage(page.id, page.url, page.score, page.recalled,
                                                        title_of(text), snippet(text)))
        sections[(path.host, path.prefix)] = section
    roots: list[Section] = []
    for (host, prefix), section in sections.items():
        parent = sections.get((host, prefix.rsplit("/", 1)[0])) if prefix.count("/") > 1 else None
        if parent is None:
            roots.append(section)
        elif section.pattern != parent.pattern or not section.pattern:
            parent.children.append(section)
        # else: a twin (`/questions/*` under `/questions`): the same pattern decides both, as in
        # the queue, so the tree shows the parent only
    host_pages = Counter(host_key(p.host) for p in pages)
    hosts = sorted(host_pages, key=lambda h: (-host_pages[h], h))
    flat: list[Section] = []

    def walk(nodes: list[Section]) -> None:
        for node in sorted(nodes, key=lambda s: (s.prefix != "/", -s.pages, -s.recalled, s.prefix)):
            flat.append(node)
            walk(node.children)

    for host in hosts:
        walk([s for s in roots if s.host == host])
    return DomainView(domain, stats, hosts, flat, paths, opened)


# ------------------------------------------------------------------------------------ the queue


@dataclass
class QueueDomain:
    priority: int
    domain: str
    pages: int
    recalled: int
    fraction: float
    hosts: list[str]
    matched: int  # pages some pattern matches now
    open_sections: int  # sections not covered by any pattern (what the queue file would list)
    todo: int  # open sections this annotator has not decided on
    suggested: list[str]  # the open sections' suggested patterns, for a glance

    @property
    def covered(self) -> bool:
        return self.open_sections == 0


def queue(run: RunTables, matcher: PatternMatcher, decisions: Sequence[Decision], annotator: str,
          limits: DomainSettings) -> list[QueueDomain]:
    """The latest iteration's flagged domains, most recalled first (`queue_order`), with what the
    current pattern files cover and what this annotator has still to decide."""
    views = [domain_view(run, d, matcher, limits, with_examples=False) for d in run.flagged_domains()]
    views.sort(key=lambda v: queue_order(v.stats))
    out = []
    for rank, view in enumerate(views, start=1):
        todo = [p for p in view.open if decision_for(decisions, p.host, p.prefix, annotator) is None]
        out.append(QueueDomain(
            rank, view.domain, view.stats.pages, view.stats.recalled, view.stats.recall_fraction, view.hosts,
            view.stats.matched, len(view.open), len(todo), [p.pattern() for p in view.open[:4]],
        ))
    return out


# ---------------------------------------------------------------------------------- the preview


@dataclass
class Preview:
    pattern: str
    label: str
    where: str  # file:line the line would get
    matched: int
    recalled: int
    excluded: int
    added: int
    warnings: list[str]
    overlaps: list[dict[str, Any]]  # other lines matching the same pages
    section_pages: int | None = None  # of the section it was asked for: its pages
    section_matched: int | None = None  # and how many of them the pattern matches


def line_effects(run: RunTables, patterns: Sequence[Pattern], shown: Any = None
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """What every pattern line does on the run: exactly `mathmine annotations preview`'s table
    (`tally_patterns` over every kept page, then `pattern_table`)."""
    if not patterns:
        return [], []
    matcher = PatternMatcher(patterns)
    tally = tally_patterns(matcher, ((p.host, p.path, p.recalled, p.in_seed) for p in run.pages))
    return pattern_table(patterns, tally, shown)


def preview(run: RunTables, patterns: Sequence[Pattern], candidate: Pattern, annotator: str,
            section: tuple[str, str] | None = None, shown: Any = None) -> Preview:
    """What a candidate line would do once written (as `candidate.file`:`candidate.line`), next to
    the loop's current lines: the same tally the preview command prints for it, plus the lines it
    overlaps (pages both match; another annotator's are warnings). A current line at the same
    file and line (the one a decision replaces) is left out."""
    others = [p for p in patterns if (p.file, p.line) != (candidate.file, candidate.line)]
    matcher = PatternMatcher([*others, candidate])
    pages = run.candidate_pages(candidate)
    tally = tally_patterns(matcher, ((p.host, p.path, p.recalled, p.in_seed) for p in pages))
    rows, warnings = pattern_table([candidate], tally, shown)
    shared: Counter[Pattern] = Counter()
    for p in pages:
        hits = matcher.matching(p.host, p.path)
        if candidate in hits:
            shared.update(h for h in hits if h != candidate)
    overlaps = []
    for other, n in sorted(shared.items(), key=lambda kv: (kv[0].file, kv[0].line)):
        mine = other.annotator == annotator
        where = f"{shown(other) if shown else other.file}:{other.line}"
        overlaps.append({"where": where, "pattern": other.glob, "label": other.label,
                         "annotator": other.annotator, "pages": n, "mine": mine})
        if not mine:
            clash = " with the other label" if other.label != candidate.label else ""
            warnings.append(f"overlaps {other.annotator}'s line {where} ({other.glob}, {other.label}){clash} "
                            f"on {n} page(s)")
    row = rows[0]
    result = Preview(candidate.glob, candidate.label, row["where"], row["matched"], row["recalled"],
                     row["excluded"], row["added"], warnings, overlaps)
    if section is not None:
        host, prefix = section
        members = [p for p in run.by_host.get(host, []) if (host, prefix) in section_keys(p.host, p.path)]
        only = PatternMatcher([candidate])
        result.section_pages = len(members)
        result.section_matched = sum(bool(only.matching(p.host, p.path)) for p in members)
    return result


# -------------------------------------------------------------------------------- agreement


@dataclass
class Disagreement:
    domain: str
    host: str
    prefix: str
    pages: int
    verdicts: dict[str, str]  # annotator -> what their lines say about the section


def verdict(matcher: PatternMatcher, pages: Sequence[Page], noted: Decision | None) -> str:
    """What one annotator's lines say about a section's pages: math, exclude, `k of n math` (part),
    not math (their `# not math` note), or "" (nothing)."""
    labels = [matcher.label(p.host, p.path) for p in pages]
    math_pages = sum(1 for found in labels if found is not None and found[1] == "math")
    excluded = sum(1 for found in labels if found is not None and found[1] == "exclude")
    if pages and math_pages == len(pages):
        return "math"
    if pages and excluded == len(pages):
        return "exclude"
    if math_pages or excluded:
        parts = [f"{math_pages} of {len(pages)} math"] if math_pages else []
        parts += [f"{excluded} of {len(pages)} excluded"] if excluded else []
        return ", ".join(parts)
    return NOT_MATH if noted is not None and noted.label == NOT_MATH else ""


def agreement(run: RunTables, decisions: Sequence[Decision], patterns: Sequence[Pattern],
              annotators: Sequence[str] | None, limits: DomainSettings
              ) -> tuple[list[str], list[Disagreement], int]:
    """(annotators compared, the sections of the flagged domains where they say different things,
    sections where at least two of them said something). Each annotator's verdict comes from their
    own lines only (a matcher per annotator), so `exclude` wins inside one person's lines as it
    does in the loop."""
    names = sorted({d.annotator for d in decisions}) if annotators is None else list(annotators)
    matchers = {a: PatternMatcher([p for p in patterns if p.annotator == a]) for a in names}
    everyone = PatternMatcher(patterns)
    differ, compared = [], 0
    for domain in run.flagged_domains():
        view = domain_view(run, domain, everyone, limits, with_examples=False)
        members: dict[tuple[str, str], list[Page]] = {}
        for p in run.by_domain.get(domain, []):
            for key in section_keys(p.host, p.path):
                members.setdefault(key, []).append(p)
        for s in view.sections:
            pages = members.get((s.host, s.prefix), [])
            said = {a: verdict(matchers[a], pages, decision_for(decisions, s.host, s.prefix, a))
                    for a in names}
            spoken = {a: v for a, v in said.items() if v}
            if len(spoken) >= 2:
                compared += 1
                if len(set(spoken.values())) > 1:
                    differ.append(Disagreement(domain, s.host, s.prefix, s.pages, said))
    return names, differ, compared


# ------------------------------------------------------------------------------ loop progress


@dataclass
class IterationProgress:
    iteration: int
    seed: int | None
    seed_by_source: dict[str, int]
    auc: float | None
    precision: float | None  # held out, at 0.5
    recall: float | None
    recalled: int | None
    label_precision: float | None  # against the run's labels, when it has them
    label_recall: float | None
    additions: int | None
    patterns: int | None
    overlap: float | None


def loop_progress(store: fs.Store, work: str, state: dict[str, Any] | None = None) -> list[IterationProgress]:
    """Per iteration that recorded its recall: seed, held-out metrics, recalled pages, pattern
    additions and overlap with the previous iteration, from the steps' own stats files."""
    state = state if state is not None else read_state(store, work)
    numbers = sorted({int(k.split("/")[0][5:]) for k in state.get("steps", {})
                      if k.startswith("iter-") and k.endswith("/recall")})
    out = []
    for n in numbers:
        name = f"iter-{n:02d}"
        seed = step_stats(store, work, state, f"{name}/seed") or {}
        train = step_stats(store, work, state, f"{name}/train") or {}
        recall = step_stats(store, work, state, f"{name}/recall") or {}
        pats = step_stats(store, work, state, f"{name}/patterns") or {}
        labels = recall.get("labels") or {}
        out.append(IterationProgress(
            n, seed.get("docs"), dict(seed.get("by_source", {})), train.get("auc"), train.get("precision"),
            train.get("recall"), recall.get("pages"), labels.get("precision"), labels.get("recall"),
            pats.get("additions"), pats.get("patterns"), recall.get("overlap"),
        ))
    return out


def last_run_lines(store: fs.Store, work: str, state: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The pattern lines the last finished patterns step used (its per-line table), or None."""
    numbers = sorted(int(k.split("/")[0][5:]) for k in state.get("steps", {})
                     if k.startswith("iter-") and k.endswith("/patterns"))
    if not numbers:
        return None
    stats = step_stats(store, work, state, f"iter-{numbers[-1]:02d}/patterns")
    return None if stats is None else list(stats.get("per_pattern", []))


def pattern_changes(last: Sequence[dict[str, Any]] | None, current: Sequence[Pattern]
                    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(lines added, lines removed) since the last run, as (file, pattern, label): what the next
    `mathmine iterate` will see differently. Line numbers are left out (moving a line changes
    nothing the loop cares about but the credit of a page)."""
    before = {(Path(r["where"].rsplit(":", 1)[0]).name, r["pattern"], r["label"]) for r in (last or [])}
    now = {(p.file, p.glob, p.label) for p in current}
    return sorted(now - before), sorted(before - now)
