"""The review page in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium,
installed by `.ci/run`; no browser download) against `mathmine annotate serve`'s app on a free
loopback port, over a copy of the demo run with one hostile page added."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.annotate import CSP, create_app
from pipeline import fs
from pipeline.annotation import lint_report, load_patterns
from pipeline.config import load_settings

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"

HOSTILE_URL = 'https://mathref.example.org/entries/"><img src=x onerror=alert(1)><script>alert(2)</script>'
HOSTILE_TITLE = '<script>window.__pwned=1;alert(3)</script> "><img src=x onerror=alert(4)> Entry'
HOSTILE_TEXT = (HOSTILE_TITLE + "\nThe derivative is $f'(x) = 2x$ and <b>not bold</b> </pre>"
                "<script>window.__pwned=2</script> <iframe src=//evil.example></iframe>\n")


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        # As root (containers, CI) chromium's sandbox cannot start; the pages are ours and local.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


def _append_rows(folder: Path, name: str, rows: list[dict]) -> None:
    """Add a Parquet file to a table of the run folder (and to its completion marker, if it has one)."""
    schema = pq.read_schema(next(p for p in sorted(folder.rglob("*.parquet")) if ".inflight" not in str(p)))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / name)
    marker = folder / fs.MARKER
    if marker.exists():
        listing = fs.Store().read_json(str(marker))
        listing["files"][name] = (folder / name).stat().st_size
        fs.Store().write_json(str(marker), listing)


def add_hostile_page(work: Path) -> str:
    """A recalled page of the flagged domain example.org whose URL, title and text carry markup and
    script; its id."""
    page_id = "hostile.warc.gz:0"
    first = pq.read_table(sorted((work / "pages").glob("*.parquet"))[0]).slice(0, 1).to_pylist()[0]
    row = {**first, "id": page_id, "url": HOSTILE_URL, "host": "mathref.example.org", "domain": "example.org",
           "path": urlsplit(HOSTILE_URL).path, "warc_path": "sample/warc/hostile.warc.gz", "warc_offset": 0,
           "text": HOSTILE_TEXT, "text_chars": len(HOSTILE_TEXT)}
    _append_rows(work / "pages", "zz-hostile.parquet", [row])
    _append_rows(work / "dedup", "part-hostile.parquet", [{"id": page_id, "cluster_id": page_id, "keep": True,
                                                            "reason": "unique"}])
    last = max(int(p.name[5:]) for p in work.glob("iter-*"))
    folder = work / f"iter-{last:02d}"
    _append_rows(folder / "scores", "part-hostile.parquet", [{"id": page_id, "score": 0.999}])
    recalled_schema = pq.read_schema(next((folder / "recalled").glob("*.parquet")))
    extra = {"tokens": 40} if "tokens" in recalled_schema.names else {}
    _append_rows(folder / "recalled", "part-hostile.parquet", [{"id": page_id, "score": 0.999, **extra}])
    return page_id


@pytest.fixture
def served(review_run):
    from werkzeug.serving import make_server

    work, annotation = review_run
    add_hostile_page(work)
    app = create_app(load_settings(None, [f"annotation.dir={annotation}"]), str(work), "alice")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", work, annotation
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["mathmine_cleanup"].close()


def watch(page) -> dict[str, list[str]]:
    """Collect what must never happen: a dialog (alert from crawled script), a script error."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": []}

    def dialog(d) -> None:
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    return seen


def test_an_annotator_reviews_the_queue_with_the_keyboard(browser, served, tmp_path):
    base, _, annotation = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = watch(page)
    response = page.goto(base + "/")
    assert response.headers["content-security-policy"] == CSP
    focused = page.locator("tr.focused")
    assert focused.get_attribute("data-domain") == "example.org"  # most recalled first
    keys = []

    def press(key: str) -> None:
        keys.append(key)
        page.keyboard.press(key)

    press("j")
    assert focused.get_attribute("data-domain") == "example.edu"
    press("k")
    press("Enter")
    page.wait_for_url("**/domain/example.org")
    row = page.locator("tr.section.focused")
    # focus starts on the first open section; its preview is shown before anything is saved
    assert row.get_attribute("data-key") == "mathforum.example.org/"
    page.wait_for_selector("tr.section.focused + tr.detail .preview[data-state]")
    assert "overlaps demo-annotator's line" in page.locator("tr.section.focused + tr.detail .preview").inner_text()
    press("s")  # skip it
    assert row.get_attribute("data-key") == "proofwiki.example.org/wiki"
    page.wait_for_selector("tr.section.focused + tr.detail .preview[data-state='ok']")
    preview = page.locator("tr.section.focused + tr.detail .preview")
    assert preview.locator("[data-field=matched] b").inner_text() == "28"
    # 28 matched, 12 of them recalled already: 16 join the seed (15 before the dedup bands for recall)
    assert preview.locator("[data-field=added] b").inner_text() == "16"
    press("m")
    page.wait_for_selector('tr[data-key="proofwiki.example.org/wiki"][data-decision="math"]')
    assert row.get_attribute("data-key") == "mathref.example.org/"  # on to the next open section
    press("j")
    assert row.get_attribute("data-key") == "mathref.example.org/entries"
    press("m")
    page.wait_for_selector('tr[data-key="mathref.example.org/entries"][data-decision="math"]')
    page.screenshot(path=str(tmp_path / "annotate-domain.png"), full_page=True)
    press("]")
    page.wait_for_url("**/domain/example.edu")
    lines = (annotation / "url_patterns" / "alice.tsv").read_text().splitlines()
    written = [line.split("\t")[:3] for line in lines if not line.startswith("#")]
    assert written == [["proofwiki.example.org/wiki/*", "math", "alice"],
                       ["mathref.example.org/entries/*", "math", "alice"]]
    assert lint_report(annotation / "url_patterns")[0] == []
    assert len(load_patterns(annotation / "url_patterns")[0]) == 2
    # two decisions, one skip, one move: the keys an annotator typed after opening the domain
    assert keys[keys.index("Enter") + 1:] == ["s", "m", "j", "m", "]"]
    assert seen == {"dialogs": [], "errors": []}
    print(f"screenshot of the domain page: {tmp_path / 'annotate-domain.png'}")


def test_crawled_markup_is_shown_as_text_and_no_script_runs(browser, served, tmp_path):
    base = served[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = watch(page)
    response = page.goto(base + "/domain/example.org")
    assert response.headers["content-security-policy"] == CSP
    page.click('tr[data-key="mathref.example.org/entries"] td.prefix')
    detail = page.locator('tr[data-key="mathref.example.org/entries"] + tr.detail')
    assert detail.is_visible()
    example = detail.locator("li.example").filter(has_text="onerror").first
    assert example.locator(".ex-title").inner_text() == HOSTILE_TITLE
    assert example.locator("code.url").inner_text() == HOSTILE_URL
    assert example.locator("code.tex").first.inner_text() == "$f'(x) = 2x$"  # TeX as text
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=False)
    # nothing from the crawl became an element or ran
    assert page.locator("img, iframe").count() == 0
    assert page.locator("b", has_text="not bold").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    # and the CSP is in force: an inline script added to the page does not run either
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
                  " document.body.append(s); }")
    assert page.evaluate("() => window.__inline") is None
    # the full text opens inside the app, as text
    with page.expect_navigation():
        example.locator("a", has_text="full text").click()
    assert page.url.startswith(base + "/page?id=")
    assert page.locator("pre.text").inner_text().strip() == HOSTILE_TEXT.strip()
    assert page.locator("code.url").inner_text() == HOSTILE_URL
    assert page.locator("img, iframe").count() == 0
    assert page.locator("b", has_text="not bold").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    # the queue lists the domain with its hosts, as text too
    page.goto(base + "/")
    assert page.locator("img, iframe").count() == 0
    assert seen == {"dialogs": [], "errors": []}
    assert Path(tmp_path / "hostile.png").exists()
