"""Per-iteration report of the classifier loop: one self-contained HTML page plus a Markdown summary.

The HTML embeds its PNG plots as base64 data URIs and loads nothing else (no CDN, fonts or script);
a Content-Security-Policy meta tag forbids everything but inline styles and data: images, so a
mistake in escaping still cannot run script. Everything that comes from crawled pages (URLs,
titles, snippets, domains, path prefixes, pattern sources) is untrusted:

* HTML: escaped with `html.escape(..., quote=True)` on output. Cells are escaped unless they are
  a `_Safe` fragment this module built itself, so forgetting to escape fails safe (visible
  entities, not markup). Only http(s) URLs become links, with `rel="noopener noreferrer nofollow"`.
* Markdown: `&`, `<`, `>` become entities (no raw HTML reaches a viewer), the other characters
  that change rendering or split a table row are backslash-escaped, newlines collapse to spaces.

Output is deterministic: no timestamps, plots drawn with the object API (`Figure` +
`FigureCanvasAgg`, never pyplot, so no global backend is selected) and saved at a fixed dpi
without the PNG `Software` tag. The same `IterationReport` gives byte-identical files.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
TITLE_CHARS = 120
SNIPPET_CHARS = 200
URL_CHARS = 200
LABEL_CHARS = 80       # domains, prefixes, sources, step names
MAX_DOMAINS = 25
MAX_PATHS = 5          # per flagged domain
MAX_EXAMPLES = 3       # per path
MAX_PATTERN_EXAMPLES = 20
PAPER_STOP_OVERLAP = 0.98  # DeepSeekMath stopped when an iteration recalled 98% of the previous one

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
LINK_REL = "noopener noreferrer nofollow"
HIST_SERIES = (("seed", "seed (held-out positives)", "#1f77b4"),
               ("negatives", "negatives (held-out)", "#d62728"),
               ("crawl", "crawl (all scored)", "#7f7f7f"))


@dataclass
class IterationReport:
    """What one iteration of the loop reports; every part may be empty or partly missing.

    metrics: metrics.json (precision, recall, f1, auc, threshold, train_/heldout_ positives and
    negatives). histograms: "seed", "negatives", "crawl" counts in `bins` equal-width score bins
    over [0, 1]. recall: rule (threshold | top_pages | top_tokens), value, pages, tokens, min_score.
    flagged_domains: sorted, {domain, pages, recalled, recall_fraction, annotated, top_paths:
    [{prefix, pages, recalled, examples: [{url, score, title, snippet}]}]}. pattern_additions:
    {pages, by_source: [{source, pages}], examples: [{url, source, title, snippet}]}.
    convergence: [{iteration, recalled, overlap (None for iteration 1), precision, recall (against
    labels, when known)}]. steps: [{step, pages, tokens}]. per_pattern: [{where, pattern, label,
    annotator, matched, recalled, excluded, added}].
    """

    iteration: int                                     # 1-based
    metrics: dict[str, Any] = field(default_factory=dict)
    histograms: dict[str, list[int]] = field(default_factory=dict)
    recall: dict[str, Any] = field(default_factory=dict)
    flagged_domains: list[dict[str, Any]] = field(default_factory=list)
    pattern_additions: dict[str, Any] = field(default_factory=dict)
    convergence: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # reasons not to trust this iteration's ranking
    per_pattern: list[dict[str, Any]] = field(default_factory=list)  # pipeline.loop.pattern_table rows
    stopped: str = ""  # why the loop stopped after this iteration ("" when it went on)
    bins: int = 20
    title: str = "mathmine"


# ---------------------------------------------------------------------------------------------
# Values: numbers that may be missing or NaN, untrusted text


def _num(value: Any) -> float | None:
    """A finite number (numpy scalars included), or None for missing, NaN, infinite, bool or
    non-numeric values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        value = float(value)
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _yes(value: Any) -> str:
    return "yes" if value in (True,) else "no"  # True or numpy's True_, not a truthy string


def _count(value: Any) -> str:
    n = _num(value)
    if n is None:
        return "n/a"
    return f"{n:,.0f}" if n.is_integer() else f"{n:,.2f}"


def _pct(value: Any) -> str:
    n = _num(value)
    return "n/a" if n is None else f"{n * 100:.1f}%"


def _score(value: Any) -> str:
    n = _num(value)
    return "n/a" if n is None else f"{n:.4f}"


def _ratio(part: Any, whole: Any) -> float | None:
    p, w = _num(part), _num(whole)
    return p / w if p is not None and w else None


# Bidi overrides and isolates can make a URL read differently from what it is.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean(value: Any, limit: int | None) -> str:
    """Display text: control and bidi characters dropped, whitespace collapsed, truncated."""
    if value is None:
        return ""
    text = "".join(" " if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch for ch in str(value))
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _link_target(url: Any) -> str | None:
    """The URL to put in an href, or None: only absolute http(s) URLs with a host and no control
    characters or whitespace inside (browsers silently drop some of those, which hides a scheme)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(ch.isspace() or unicodedata.category(ch) == "Cc" or ch in _BIDI for ch in url):
        return None
    scheme, sep, _ = url.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    try:
        return url if urlsplit(url).netloc else None
    except ValueError:  # e.g. an invalid IPv6 host
        return None


def _items(value: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """The dict entries of a list-like input (anything else ignored), at most `limit`."""
    if not isinstance(value, list | tuple):
        return []
    rows = [item for item in value if isinstance(item, dict)]
    return rows if limit is None else rows[:limit]


def _counts(value: Any) -> list[float] | None:
    """Histogram counts, or None when missing or invalid (a negative or non-numeric count)."""
    if value is None or isinstance(value, str | bytes | dict):
        return None
    try:
        counts = [_num(v) for v in value]  # a list, or a numpy array straight from np.histogram
    except TypeError:
        return None
    if not counts:
        return None
    return None if any(c is None or c < 0 for c in counts) else counts  # type: ignore[return-value]


def _rule_text(recall: dict[str, Any]) -> str:
    rule, value = recall.get("rule"), recall.get("value")
    if rule == "threshold":
        return f"score ≥ {_score(value)}"
    if rule == "top_pages":
        return f"top {_count(value)} pages by score"
    if rule == "top_tokens":
        return f"top-scored pages up to {_count(value)} tokens"
    if rule is None:
        return "n/a"
    return f"{_clean(rule, LABEL_CHARS)} = {_clean(value, LABEL_CHARS)}"


def _bin_label(i: int, n: int) -> str:
    return f"{i / n:.2f}-{(i + 1) / n:.2f}"


def _domain_fraction(d: dict[str, Any]) -> float | None:
    frac = _num(d.get("recall_fraction"))
    return frac if frac is not None else _ratio(d.get("recalled"), d.get("pages"))


def _sorted_convergence(report: IterationReport) -> list[dict[str, Any]]:
    rows = _items(report.convergence)
    return sorted(rows, key=lambda r: (_num(r.get("iteration")) is None, _num(r.get("iteration")) or 0))


def _metric_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Precision", _pct(m.get("precision"))),
        ("Recall", _pct(m.get("recall"))),
        ("F1", _pct(m.get("f1"))),
        ("AUC", "n/a" if _num(m.get("auc")) is None else f"{_num(m.get('auc')):.4f}"),
        ("Threshold", _score(m.get("threshold"))),
        ("Train positives / negatives",
         f"{_count(m.get('train_positives'))} / {_count(m.get('train_negatives'))}"),
        ("Held-out positives / negatives", f"{_count(m.get('heldout_positives'))} / "
                                           f"{_count(m.get('heldout_negatives'))}"),
    ]


def _recall_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Rule", _rule_text(r)),
        ("Pages recalled", _count(r.get("pages"))),
        ("Tokens recalled", _count(r.get("tokens"))),
        ("Lowest recalled score", _score(r.get("min_score"))),
    ]


def _hist_table(report: IterationReport) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, one row per bin (none when no series has data), and notes on the series left out."""
    n = report.bins if isinstance(report.bins, int) and report.bins > 0 else 20
    cols, notes = [], []
    for key, _, _ in HIST_SERIES:
        counts = _counts(_hist(report, key))
        if counts is None:
            notes.append(f"{key}: none")
        elif len(counts) != n:  # plotted over its own bins, but the rows here are `bins` wide
            notes.append(f"{key}: {len(counts)} bins, expected {n}; not tabulated")
            counts = None
        cols.append(counts)
    if all(c is None for c in cols):
        return [], [], notes
    rows = [[_bin_label(i, n), *("n/a" if c is None else _count(c[i]) for c in cols)] for i in range(n)]
    return ["Score bin", *(key for key, _, _ in HIST_SERIES)], rows, notes


def _hist(report: IterationReport, key: str) -> Any:
    return report.histograms.get(key) if isinstance(report.histograms, dict) else None


def _pattern_pages(pa: dict[str, Any], by_source: list[dict[str, Any]]) -> str:
    if _num(pa.get("pages")) is not None:
        return _count(pa.get("pages"))
    counts = [_num(s.get("pages")) for s in by_source]
    if by_source and None not in counts:
        return _count(sum(counts))  # type: ignore[arg-type]
    return "n/a" if by_source else "none"


# ---------------------------------------------------------------------------------------------
# Plots (PNG, base64)


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    # Labels come from crawled domains: a glyph missing from the bundled font is not an error.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _plot_histograms(report: IterationReport) -> str | None:
    # All-zero series are left out: nothing to draw on a log scale.
    series = [(label, color, c) for key, label, color in HIST_SERIES
              if any(c := _counts(_hist(report, key)) or [])]
    if not series:
        return None
    fig, ax = _new_figure(7.5, 3.4)
    for label, color, counts in series:
        edges = [i / len(counts) for i in range(len(counts) + 1)]
        # Zero bins are drawn at 0.5 so the log scale keeps a visible floor instead of dropping them.
        ax.stairs([c or 0.5 for c in counts], edges, baseline=0.5, label=f"{label}: {sum(counts):,.0f}",
                  color=color, linewidth=1.6)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("classifier score P(math)")
    ax.set_ylabel("pages (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    return _png(fig)


def _plot_domains(domains: list[dict[str, Any]]) -> str | None:
    rows = [(d, f) for d in domains if (f := _domain_fraction(d)) is not None]
    if not rows:
        return None
    fig, ax = _new_figure(7.5, 0.8 + 0.28 * len(rows))
    ys = list(range(len(rows)))
    colors = ["#2ca02c" if _yes(d.get("annotated")) == "yes" else "#ff7f0e" for d, _ in rows]
    bars = ax.barh(ys, [f * 100 for _, f in rows], color=colors, height=0.7)
    ax.bar_label(bars, labels=[_pct(f) for _, f in rows], padding=3, fontsize=7)
    ax.set_yticks(ys, labels=[_clean(d.get("domain"), 40) or "?" for d, _ in rows], fontsize=8)
    for label in ax.get_yticklabels():
        label.set_parse_math(False)  # a `$` in a domain must not start mathtext
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("recalled pages, % of the domain (orange: not annotated, green: annotated)")
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)


def _plot_convergence(rows: list[dict[str, Any]]) -> str | None:
    points = [(it, ov) for r in rows
              if (it := _num(r.get("iteration"))) is not None and (ov := _num(r.get("overlap"))) is not None]
    if not points:
        return None
    fig, ax = _new_figure(6, 3)
    xs, ys = [p[0] for p in points], [p[1] * 100 for p in points]
    ax.plot(xs, ys, marker="o", color="#1f77b4")
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.1f}%", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(PAPER_STOP_OVERLAP * 100, color="#7f7f7f", linestyle="--", linewidth=1)
    ax.annotate(f"{PAPER_STOP_OVERLAP:.0%}: DeepSeekMath stopped", (0.01, PAPER_STOP_OVERLAP * 100),
                xycoords=("axes fraction", "data"), xytext=(0, -11), textcoords="offset points", fontsize=7,
                color="#555")
    ax.set_xticks(xs)
    ax.set_ylim(0, 110)
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_xlabel("iteration")
    ax.set_ylabel("% of previous recall kept")
    ax.grid(True, alpha=0.3)
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# Tables shared by both renderers: (header, rows, numeric columns). Untrusted text is cleaned and
# truncated here; escaping is the renderer's job. URL and example cells are formatted by callbacks
# because only HTML makes links.

Table = tuple[list[str], list[list[Any]], tuple[int, ...]]


def _domain_table(domains: list[dict[str, Any]]) -> Table:
    rows = [[i, _clean(d.get("domain"), LABEL_CHARS), _count(d.get("pages")), _count(d.get("recalled")),
             _pct(_domain_fraction(d)), _yes(d.get("annotated"))]
            for i, d in enumerate(domains, 1)]
    return ["#", "Domain", "Pages", "Recalled", "Recalled %", "Annotated"], rows, (0, 2, 3, 4)


def _path_table(domains: list[dict[str, Any]], examples: Callable[[list[dict[str, Any]]], Any]) -> Table:
    rows = [[_clean(d.get("domain"), LABEL_CHARS), _clean(p.get("host"), LABEL_CHARS),
             _clean(p.get("prefix"), LABEL_CHARS),
             _count(p.get("pages")), _count(p.get("recalled")),
             _pct(_ratio(p.get("recalled"), p.get("pages"))),
             examples(_items(p.get("examples"), MAX_EXAMPLES))]
            for d in domains for p in _items(d.get("top_paths"), MAX_PATHS)]
    head = ["Domain", "Host", "Path prefix", "Pages", "Recalled", "Recalled %", "Examples (score)"]
    return head, rows, (3, 4, 5)


def _source_table(by_source: list[dict[str, Any]]) -> Table:
    rows = [[_clean(s.get("source"), LABEL_CHARS), _count(s.get("pages"))] for s in by_source]
    return ["Source", "Pages"], rows, (1,)


def _pattern_example_table(examples: list[dict[str, Any]], url: Callable[[Any], Any]) -> Table:
    rows = [[url(ex.get("url")), _clean(ex.get("source"), LABEL_CHARS), _clean(ex.get("title"), TITLE_CHARS),
             _clean(ex.get("snippet"), SNIPPET_CHARS)] for ex in examples]
    return ["URL", "Source", "Title", "Snippet"], rows, ()


def _convergence_table(rows: list[dict[str, Any]]) -> Table:
    cells = [[_count(r.get("iteration")), _count(r.get("recalled")), _pct(r.get("overlap")),
              _pct(r.get("precision")), _pct(r.get("recall"))] for r in rows]
    head = ["Iteration", "Recalled pages", "Overlap with previous", "Precision (labels)", "Recall (labels)"]
    return head, cells, (0, 1, 2, 3, 4)


def _per_pattern_table(rows: list[dict[str, Any]]) -> Table:
    cells = [[_clean(r.get("where"), LABEL_CHARS), _clean(r.get("pattern"), LABEL_CHARS),
              _clean(r.get("label"), LABEL_CHARS), _count(r.get("matched")), _count(r.get("recalled")),
              _count(r.get("excluded")), _count(r.get("added"))] for r in rows]
    head = ["File:line", "Pattern", "Label", "Pages matched", "Recalled", "Excluded", "Added to next seed"]
    return head, cells, (3, 4, 5, 6)


def _steps_table(steps: list[dict[str, Any]]) -> Table:
    rows = [[_clean(s.get("step"), LABEL_CHARS), _count(s.get("pages")), _count(s.get("tokens"))]
            for s in steps]
    return ["Step", "Pages", "Tokens"], rows, (1, 2)


@dataclass
class _Parts:
    """The report's inputs, normalised once: wrong types become empty, lists are capped."""

    metrics: dict[str, Any]
    recall: dict[str, Any]
    domains: list[dict[str, Any]]
    patterns: dict[str, Any]
    by_source: list[dict[str, Any]]
    pattern_examples: list[dict[str, Any]]
    convergence: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    heading: str
    domains_heading: str
    warnings: list[str]
    per_pattern: list[dict[str, Any]]
    stopped: str


def _parts(report: IterationReport) -> _Parts:
    def as_dict(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    patterns = as_dict(report.pattern_additions)
    domains, total = _items(report.flagged_domains, MAX_DOMAINS), len(_items(report.flagged_domains))
    return _Parts(
        metrics=as_dict(report.metrics), recall=as_dict(report.recall),
        domains=domains, patterns=patterns,
        by_source=_items(patterns.get("by_source")),
        pattern_examples=_items(patterns.get("examples"), MAX_PATTERN_EXAMPLES),
        convergence=_sorted_convergence(report), steps=_items(report.steps),
        warnings=[_clean(w, None) for w in report.warnings if isinstance(w, str)],
        per_pattern=_items(report.per_pattern), stopped=_clean(report.stopped or "", None),
        heading=f"{_clean(report.title, TITLE_CHARS)}: iteration {_count(report.iteration)}",
        domains_heading=f"Flagged domains ({_count(total) if total else 'none'})" if total <= len(domains)
        else f"Flagged domains (top {_count(len(domains))} of {_count(total)})")


# ---------------------------------------------------------------------------------------------
# HTML


class _Safe(str):
    """An HTML fragment built here; every other value is escaped when written out. String
    operations on it return plain `str`, so a fragment built carelessly gets escaped (fails safe)."""


def _e(value: Any) -> str:
    return value if isinstance(value, _Safe) else html.escape(str(value), quote=True)


def _join(parts: Iterable[Any], sep: str = "") -> _Safe:
    return _Safe(sep.join(_e(p) for p in parts))


def _link(url: Any) -> _Safe:
    text = html.escape(_clean(url, URL_CHARS) or "(no url)", quote=True)
    target = _link_target(url)
    if target is None:
        return _Safe(f'<span class="url">{text}</span>')
    return _Safe(f'<a href="{html.escape(target, quote=True)}" rel="{LINK_REL}">{text}</a>')


def _html_table(head: Sequence[Any], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = ()) -> _Safe:
    num = set(numeric)

    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f"<{tag}{' class=num' if i in num else ''}>{_e(v)}</{tag}>"
                       for i, v in enumerate(values))

    body = "".join(f"\n<tr>{cells('td', row)}</tr>" for row in rows)
    return _Safe(f"<table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}\n</tbody></table>")


def _muted(text: str) -> _Safe:
    return _Safe(f'<p class="muted">{_e(text)}</p>')


def _img(b64: str | None, alt: str) -> _Safe:
    if b64 is None:
        return _muted(f"{alt}: no data to plot.")
    return _Safe(f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">')


def _examples_html(examples: list[dict[str, Any]]) -> _Safe:
    lines = []
    for ex in examples:
        line = [_link(ex.get("url")), _Safe(f' <span class="score">{_e(_score(ex.get("score")))}</span>')]
        if title := _clean(ex.get("title"), TITLE_CHARS):
            tip = _clean(ex.get("snippet"), SNIPPET_CHARS)
            line.append(_Safe(f'<br><span class="muted" title="{_e(tip)}">{_e(title)}</span>'))
        lines.append(_join(line))
    return _join(lines, "<br>")


def _domains_html(domains: list[dict[str, Any]]) -> _Safe:
    if not domains:
        return _muted("No flagged domains.")
    _, paths, _ = table = _path_table(domains, _examples_html)
    return _join([_img(_plot_domains(domains), "Recall fraction of the top flagged domains"),
                  _html_table(*_domain_table(domains)), _Safe("<h3>Top paths</h3>"),
                  _html_table(*table) if paths else _muted("No path statistics.")])


def _patterns_html(p: _Parts) -> _Safe:
    parts = [_Safe(f"<p>Pages added to the seed by annotated URL patterns: "
                   f"<b>{_e(_pattern_pages(p.patterns, p.by_source))}</b></p>"),
             _html_table(*_source_table(p.by_source)) if p.by_source else _muted("No pattern additions.")]
    if p.pattern_examples:
        parts.append(_html_table(*_pattern_example_table(p.pattern_examples, _link)))
    return _join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td{overflow-wrap:anywhere;max-width:40em}img{max-width:100%;display:block;margin:.6em 0}
.muted{color:#666}.score{color:#555;font-variant-numeric:tabular-nums}.url{color:#555}
"""


def render_html(report: IterationReport) -> str:
    """The report as one self-contained HTML page (inline CSS and PNGs, no external resources)."""
    p = _parts(report)
    hist_head, hist_rows, notes = _hist_table(report)
    sections = [
        ("Warnings", _join([_Safe("<ul>"), *(_Safe(f"<li>{_e(w)}</li>") for w in p.warnings),
                            _Safe("</ul>")])),
        ("Classifier on the held-out set", _html_table(["Metric", "Value"], _metric_rows(p.metrics), (1,))),
        ("Score distributions", _join([
            _img(_plot_histograms(report), "Score histograms of seed, negatives and crawl"),
            _Safe("<details><summary>Bin counts</summary>"),
            _html_table(hist_head, hist_rows, range(1, len(hist_head))) if hist_rows else _Safe(""),
            *map(_muted, notes), _Safe("</details>")])),
        ("Recall", _html_table(["", "Value"], _recall_rows(p.recall))),
        (p.domains_heading, _domains_html(p.domains)),
        ("Pages added by annotated patterns", _patterns_html(p)),
        ("What each pattern line does", _html_table(*_per_pattern_table(p.per_pattern)) if p.per_pattern
         else _muted("No URL patterns.")),
        ("Convergence", _join([
            _Safe(f"<p><b>{_e(p.stopped)}</b></p>") if p.stopped else _Safe(""),
            _img(_plot_convergence(p.convergence), "Overlap with the previous iteration's recall"),
            _html_table(*_convergence_table(p.convergence)) if p.convergence
            else _muted("No iterations yet."),
            _muted(f"DeepSeekMath stopped at {PAPER_STOP_OVERLAP:.0%} overlap (dashed line).")])),
        ("Pages and tokens per step",
         _html_table(*_steps_table(p.steps)) if p.steps else _muted("No steps recorded.")),
    ]
    if not p.warnings:
        sections = sections[1:]
    body = "\n".join(f"<section><h2>{_e(name)}</h2>\n{_e(content)}</section>" for name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'  # a constant, no `"` in it
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(p.heading)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_e(p.heading)}</h1>\n{body}\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters that start emphasis, code, links, images, strikethrough, math or split a table cell.
_MD_BACKSLASH = frozenset("\\`*_[]|~$!#")


def markdown_text(value: Any, limit: int | None = None) -> str:
    """Markdown-safe inline text: entities for HTML characters, backslash escapes, one line (the
    one escaping rule for every Markdown report: this one and decontamination's)."""
    return "".join(_MD_ENTITIES.get(ch) or ("\\" + ch if ch in _MD_BACKSLASH else ch)
                   for ch in _clean(value, limit))


def _md_table(head: Sequence[Any], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = ()) -> list[str]:
    """Every cell is escaped, so a hostile value cannot add a column or markup (cells come truncated)."""
    num = set(numeric)
    lines = ["| " + " | ".join(markdown_text(h) for h in head) + " |",
             "|" + "|".join("---:" if i in num else "---" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(markdown_text(c) or " " for c in row) + " |" for row in rows]
    return lines


def _examples_md(examples: list[dict[str, Any]]) -> str:
    # Raw text: the table escapes it.
    return "; ".join(f"{_clean(ex.get('url'), URL_CHARS)} ({_score(ex.get('score'))})" for ex in examples)


def render_markdown(report: IterationReport) -> str:
    """A Markdown summary of the same report (tables instead of plots)."""
    p = _parts(report)
    hist_head, hist_rows, notes = _hist_table(report)
    out = [f"# {markdown_text(p.heading)}", ""]
    if p.warnings:
        out += ["## Warnings", "", *(f"- {markdown_text(w)}" for w in p.warnings), ""]
    out += ["## Classifier on the held-out set", "",
           *_md_table(["Metric", "Value"], _metric_rows(p.metrics), (1,)), "",
           "## Score distributions", ""]
    if hist_rows:
        out += [*_md_table(hist_head, hist_rows, range(1, len(hist_head))), ""]
    if notes:
        out += [*(f"- {markdown_text(n)}" for n in notes), ""]
    out += ["## Recall", "", *_md_table(["", "Value"], _recall_rows(p.recall)), ""]

    out += [f"## {markdown_text(p.domains_heading)}", ""]
    if p.domains:
        out += [*_md_table(*_domain_table(p.domains)), ""]
        _, paths, _ = table = _path_table(p.domains, _examples_md)
        if paths:
            out += ["### Top paths", "", *_md_table(*table), ""]
    else:
        out += ["No flagged domains.", ""]

    out += ["## Pages added by annotated patterns", "",
            f"Pages added: {markdown_text(_pattern_pages(p.patterns, p.by_source))}", ""]
    out += [*_md_table(*_source_table(p.by_source)), ""] if p.by_source else ["No pattern additions.", ""]
    if p.pattern_examples:
        url = partial(_clean, limit=URL_CHARS)
        out += [*_md_table(*_pattern_example_table(p.pattern_examples, url)), ""]

    out += ["## What each pattern line does", ""]
    out += [*_md_table(*_per_pattern_table(p.per_pattern)), ""] if p.per_pattern else ["No URL patterns.", ""]
    out += ["## Convergence", ""]
    if p.stopped:
        out += [f"**{markdown_text(p.stopped)}**", ""]
    out += ([*_md_table(*_convergence_table(p.convergence)), ""] if p.convergence
            else ["No iterations yet.", ""])
    out += ["## Pages and tokens per step", ""]
    out += [*_md_table(*_steps_table(p.steps)), ""] if p.steps else ["No steps recorded.", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Files


def write_report(report: IterationReport, out_dir: str, store: Any = None) -> tuple[str, str]:
    """Write `report.html` and `report.md` into `out_dir` (local or on an object store, through
    `pipeline.fs.Store`); returns both paths."""
    from pipeline import fs

    store = store or fs.Store()
    # Render both before writing either, so a rendering error leaves the old files untouched.
    html_text, md_text = render_html(report), render_markdown(report)
    html_path, md_path = fs.join(str(out_dir), "report.html"), fs.join(str(out_dir), "report.md")
    store.write_text(html_path, html_text)
    store.write_text(md_path, md_text)
    return html_path, md_path
