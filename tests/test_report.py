"""The per-iteration report: hostile crawled text stays inert, output is deterministic, empty input renders."""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import pytest

from pipeline.report import IterationReport, render_html, render_markdown, write_report

JS_URL = "javascript:alert(1)"
QUOTE_URL = 'https://x.org/"><script>alert(1)</script>'
IMG_TITLE = "<img src=x onerror=alert(1)>"
TABLE_SNIPPET = "</table><script>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hostile_report() -> IterationReport:
    bad_example = {"url": QUOTE_URL, "score": 0.99, "title": IMG_TITLE, "snippet": TABLE_SNIPPET}
    return IterationReport(
        iteration=3,
        metrics={"precision": 0.95123, "recall": 0.8834, "f1": 0.916, "auc": 0.98714, "threshold": 0.5,
                 "train_positives": 500000, "train_negatives": 500000,
                 "heldout_positives": 12000, "heldout_negatives": 11876},
        histograms={"seed": [0] * 15 + [10, 20, 40, 80, 160],
                    "negatives": [5000, 3000, 1000, 500, 200] + [0] * 15,
                    "crawl": [10**7 // (i + 1) for i in range(20)]},
        recall={"rule": "top_pages", "value": 40000, "pages": 40000, "tokens": 123456789, "min_score": 0.8123},
        flagged_domains=[
            {"domain": "evil<b>$x$|.com", "pages": 1000, "recalled": 500, "recall_fraction": 0.5, "annotated": False,
             "top_paths": [{"prefix": "/q|`*_[x]", "pages": 300, "recalled": 250, "examples": [
                 bad_example,
                 {"url": JS_URL, "score": 0.95, "title": "t|x\nnext", "snippet": "s"},
                 {"url": " JaVaScRiPt:alert(2)", "score": 0.9, "title": "", "snippet": ""},
             ]}]},
            {"domain": "mathoverflow.net", "pages": 200, "recalled": 180, "recall_fraction": 0.9, "annotated": True,
             "top_paths": [{"prefix": "/questions", "pages": 150, "recalled": 149,
                            "examples": [{"url": "https://mathoverflow.net/questions/1", "score": 0.999,
                                          "title": "Q", "snippet": "x"}]}]},
        ],
        pattern_additions={"pages": 1234,
                           "by_source": [{"source": "pattern:annotation/url_patterns/a.tsv:3", "pages": 1234}],
                           "examples": [{"url": "data:text/html,<script>alert(1)</script>", "source": "pattern:a.tsv:3",
                                         "title": IMG_TITLE, "snippet": TABLE_SNIPPET + " | x" * 200},
                                        {"url": "vbscript:msgbox", "source": "s", "title": "a" * 500, "snippet": "line\nnext\u2028next\rnext"},
                                        {"url": "java\tscript:alert(3)", "source": "s", "title": "t", "snippet": ""}]},
        convergence=[{"iteration": 1, "recalled": 30000, "overlap": None},
                     {"iteration": 2, "recalled": 38000, "overlap": 0.91},
                     {"iteration": 3, "recalled": 40000, "overlap": 0.975}],
        steps=[{"step": "ingest", "pages": 12345678, "tokens": None},
               {"step": "score", "pages": 12000000, "tokens": 9876543210}],
    )


@pytest.fixture(scope="module")
def rendered() -> tuple[str, str]:
    """(html, markdown) of the hostile report, rendered once: a render draws three plots."""
    report = hostile_report()
    return render_html(report), render_markdown(report)


def md_cells(line: str) -> int:
    """Columns of a Markdown table row, splitting on `|` that is not backslash-escaped."""
    assert line.startswith("|") and line.endswith("|"), line
    return len(re.findall(r"(?:\\.|[^\\|])*\|", line[1:]))


def test_html_hostile_text_is_inert(rendered: tuple[str, str]) -> None:
    page = rendered[0]
    lower = page.lower()
    assert "<script" not in lower
    assert "<img src=x" not in lower
    assert re.search(r"<[^>]*\son\w+\s*=", page) is None  # no event-handler attribute on any tag
    assert 'href="javascript:' not in lower and "href='javascript:" not in lower
    assert 'href="data:' not in lower and 'href="vbscript:' not in lower
    # Every link is an absolute http(s) URL with the rel attribute.
    hrefs = re.findall(r'<a href="([^"]*)" rel="noopener noreferrer nofollow">', page)
    assert len(hrefs) == page.count("<a "), "a link without the rel attribute"
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    # The https URL with a quote is a link, its quote escaped in href and text.
    escaped = html.escape(QUOTE_URL, quote=True)
    assert f'<a href="{escaped}" rel="noopener noreferrer nofollow">{escaped}</a>' in page
    # Non-http URLs are still shown, as escaped text.
    assert html.escape(JS_URL) in page and "vbscript:msgbox" in page
    assert html.escape(IMG_TITLE, quote=True) in page and html.escape(TABLE_SNIPPET, quote=True) in page
    # The CSP meta comes before any content.
    csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert csp in page and page.index(csp) < page.index("<body>")
    # No external resources at all.
    assert re.search(r'\ssrc="(?!data:image/png;base64,)', page) is None
    assert "<link" not in lower and "@import" not in lower and "url(" not in lower


def test_html_truncates_untrusted_text(rendered: tuple[str, str]) -> None:
    page = rendered[0]
    assert "a" * 119 + "…" in page and "a" * 121 not in page  # title ~120 chars
    assert " | x" * 60 not in page  # snippet ~200 chars


def test_markdown_hostile_text_is_inert_and_rows_keep_columns(rendered: tuple[str, str]) -> None:
    md = rendered[1]
    assert "<script" not in md.lower() and "<img" not in md.lower() and "</table" not in md.lower()
    assert "](javascript" not in md.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\|" in md and "\\`" in md and "\\*" in md and "\\_" in md and "\\[x\\]" in md and "\\$" in md
    tables = 0
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            tables += 1
            width = md_cells(line)
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                assert md_cells(lines[j]) == width, lines[j]
                j += 1
    assert tables >= 8
    # The newline inside a snippet did not end the row.
    assert not any(line.startswith("next") for line in lines)


def test_pngs_inline_and_valid(rendered: tuple[str, str]) -> None:
    page = rendered[0]
    blobs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(blobs) == 3  # histograms, domains, convergence
    for blob in blobs:
        data = base64.b64decode(blob, validate=True)
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
        assert b"Software" not in data and b"tIME" not in data


def test_numbers_are_formatted(rendered: tuple[str, str]) -> None:
    for text in rendered:
        assert "95.1%" in text and "88.3%" in text and "91.6%" in text and "0.9871" in text
        assert "500,000" in text and "11,876" in text and "12,345,678" in text and "9,876,543,210" in text
        assert "top 40,000 pages by score" in text and "123,456,789" in text
        assert "97.5%" in text and "50.0%" in text and "83.3%" in text and "99.3%" in text  # 149/150


def test_deterministic(rendered: tuple[str, str]) -> None:
    # A fresh report object, rendered again: byte-identical.
    assert render_html(hostile_report()).encode() == rendered[0].encode()
    assert render_markdown(hostile_report()).encode() == rendered[1].encode()


def test_empty_report_renders() -> None:
    report = IterationReport(iteration=1, metrics={"precision": 0.5, "auc": math.nan}, histograms={},
                             recall={}, flagged_domains=[], pattern_additions={},
                             convergence=[{"iteration": 1, "recalled": 10, "overlap": None}], steps=[])
    page, md = render_html(report), render_markdown(report)
    for text in (page, md):
        assert "50.0%" in text and "n/a" in text and "No flagged domains." in text and "No pattern additions." in text
        assert "nan" not in text.lower().replace("nano", "")
    assert "data:image/png" not in page  # nothing to plot: zero histograms, no overlap yet
    # All-zero histograms and odd types do not crash either.
    odd = IterationReport(iteration=2, metrics=None, histograms={"seed": [0] * 20, "crawl": [1, "x"]},  # type: ignore[arg-type]
                          recall={"rule": "threshold", "value": 0.7}, flagged_domains=[{"domain": None}],
                          pattern_additions={"by_source": [{"source": "p", "pages": 3}]}, convergence=[None],  # type: ignore[list-item]
                          steps=[{"step": "x"}])
    page, md = render_html(odd), render_markdown(odd)
    assert "score ≥ 0.7000" in page and "score ≥ 0.7000" in md
    assert "Pages added: 3" in md


@pytest.mark.parametrize("url", [JS_URL, " javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\nscript:alert(1)",
                                 "data:text/html,x", "vbscript:x", "/relative/path", "//evil.org/x",
                                 "https:evil.org", "https://\x00evil.org/", "\u202ehttps://evil.org",
                                 "javascript://evil.org/%0aalert(1)", "ftp://evil.org/x"])
def test_non_http_urls_are_not_links(url: str) -> None:
    report = IterationReport(iteration=1, pattern_additions={"pages": 1, "examples": [{"url": url, "source": "s"}]})
    assert "<a " not in render_html(report)


def test_http_urls_are_links() -> None:
    report = IterationReport(iteration=1, pattern_additions={"pages": 1, "examples": [
        {"url": " HTTP://Example.org/a?b=1&c=2 ", "source": "s"}]})
    assert '<a href="HTTP://Example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">' in render_html(report)


def test_write_report(tmp_path, rendered: tuple[str, str]) -> None:
    out = tmp_path / "iter-03"
    html_path, md_path = (Path(p) for p in write_report(hostile_report(), str(out)))
    assert (html_path, md_path) == (out / "report.html", out / "report.md")
    assert html_path.read_bytes() == rendered[0].encode() and md_path.read_bytes() == rendered[1].encode()
    empty = IterationReport(iteration=1)
    write_report(empty, str(out))  # overwrites in place, leaves no temporary file
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]
    assert md_path.read_text(encoding="utf-8") == render_markdown(empty)


def test_warnings_per_pattern_table_and_stop_reason_are_shown_escaped() -> None:
    report = IterationReport(
        iteration=2,
        warnings=["scores collapsed: <b>flat</b>"],
        per_pattern=[{"where": "annotation/url_patterns/a.tsv:3", "pattern": "example.org/<x>/*", "label": "math",
                      "annotator": "me", "matched": 0, "recalled": 0, "excluded": 0, "added": 0}],
        stopped="converged: iteration 3 would train on exactly iteration 2's data",
        convergence=[{"iteration": 1, "recalled": 10, "overlap": None, "precision": 0.5, "recall": 0.25},
                     {"iteration": 2, "recalled": 12, "overlap": 0.75, "precision": 0.75, "recall": 0.5}],
    )
    page, md = render_html(report), render_markdown(report)
    assert "<h2>Warnings</h2>" in page and "scores collapsed: &lt;b&gt;flat&lt;/b&gt;" in page and "<b>flat" not in page
    assert "What each pattern line does" in page and "example.org/&lt;x&gt;/*" in page
    assert "a.tsv:3" in page and "would train on exactly iteration 2&#x27;s data" in page
    assert "Precision (labels)" in page and "75.0%" in page
    assert "## Warnings" in md and "## What each pattern line does" in md and "Recall (labels)" in md
    assert "<h2>Warnings</h2>" not in render_html(IterationReport(iteration=1))
