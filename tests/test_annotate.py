"""The annotation review page (`mathmine annotate serve`, jobs/annotate.py) through Flask's test
client, on a copy of the demo run (`review_run`): queue, domain page, decide, undo, the preview
against `mathmine annotations preview`, names, CSRF, remote binds, agreement, progress, a run
folder on S3, and one rerun of the loop that picks the written lines up."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from pathlib import Path

import pytest

from jobs import annotate
from jobs.annotate import AnnotatorNameError, create_app
from pipeline import fs
from pipeline.annotation import lint_report, load_patterns
from pipeline.config import load_settings
from pipeline.domains import read_queue_tsv
from pipeline.review import RunTables, section_keys
from tests.conftest import step_stats

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def settings_for(annotation: Path, *more: str):
    return load_settings(None, [f"annotation.dir={annotation}", *more])


def client_for(work: Path, annotation: Path, annotator: str = "alice", **kwargs):
    app = create_app(settings_for(annotation), str(work), annotator, **kwargs)
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    return app, client, token


def decide(client, token, pattern: str, label: str, host: str = "", prefix: str = ""):
    return client.post("/api/decide", json={"pattern": pattern, "label": label, "host": host, "prefix": prefix},
                       headers={"X-CSRF-Token": token})


def queue_rows(annotation: Path, n: int = 2) -> list[dict[str, str]]:
    return read_queue_tsv(annotation / "queue" / f"iter-{n:02d}.tsv")


def cli(*argv: str) -> tuple[int, str, str]:
    from jobs.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_queue_lists_the_flagged_domains_most_recalled_first_with_filters(review_run):
    work, annotation = review_run
    app, client, _ = client_for(work, annotation)
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"] == annotate.CSP
    assert "script-src 'self'" in annotate.CSP and "default-src 'none'" in annotate.CSP
    # no inline script: one script element, from this server, and no event-handler attributes
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/annotate.js" defer>']
    assert "</script>" in html and not re.search(r"<[^>]+\son[a-z]+=", html)
    shown = re.findall(r'data-domain="([^"]+)"', html)
    # The queue file's domains in its priority order (covered flagged domains are listed too)
    in_file = list(dict.fromkeys(r["domain"] for r in queue_rows(annotation)))
    assert [d for d in shown if d in in_file] == in_file
    run = RunTables(app.extensions["mathmine_workspace"].store, str(work))
    assert sorted(shown) == run.flagged_domains()
    # each row: pages, recalled share, hosts, and how much patterns cover
    first = in_file[0]
    row = re.search(rf'data-domain="{re.escape(first)}">(.*?)</tr>', html, re.S).group(1)
    hosts = {r["host"] for r in queue_rows(annotation) if r["domain"] == first}
    assert all(f"<code>{h}</code>" in row for h in hosts)
    domains = {d["domain"]: d for d in run.domains}
    assert f">{domains[first]['pages']}<" in row and f">{domains[first]['recalled']}<" in row
    assert f"{domains[first]['recall_fraction'] * 100:.0f}%" in row
    # filters: by host, by recalled share, and not yet reviewed
    only = client.get("/", query_string={"host": "mathref."}).get_data(as_text=True)
    assert re.findall(r'data-domain="([^"]+)"', only) == ["example.org"]
    share = client.get("/", query_string={"min_share": "62"}).get_data(as_text=True)
    assert set(re.findall(r'data-domain="([^"]+)"', share)) == {
        d for d, row in domains.items() if row["flagged"] and row["recall_fraction"] >= 0.62}
    todo = client.get("/", query_string={"todo": "1"}).get_data(as_text=True)
    assert set(re.findall(r'data-domain="([^"]+)"', todo)) == set(in_file)


def test_domain_page_shows_the_tree_scores_examples_and_full_text_inside_the_app(review_run):
    work, annotation = review_run
    app, client, _ = client_for(work, annotation)
    page = client.get("/domain/example.org")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = re.findall(r'<tr class="section[^"]*" data-nav-row\s+data-key="([^"]+)" data-host="([^"]+)" '
                      r'data-prefix="([^"]+)"', html)
    sections = {(host, prefix) for _, host, prefix in rows}
    for r in queue_rows(annotation):  # every queue row of the domain is a section of the tree
        if r["domain"] == "example.org":
            assert (r["host"], r["prefix"]) in sections
    # a prefix comes right before its sub-prefixes; a twin (the same suggested pattern) is not shown
    order = [(h, p) for _, h, p in rows]
    assert ("mathforum.example.org", "/questions/*") not in order
    html_edu = client.get("/domain/example.edu").get_data(as_text=True)
    edu = re.findall(r'data-host="([^"]+)" data-prefix="([^"]+)"', html_edu)
    assert edu.index(("math.example.edu", "/~hartmann")) + 1 == edu.index(("math.example.edu", "/~hartmann/notes"))
    # a score histogram per section, and the section's pages in it
    hists = re.findall(r'aria-label="scores per bin: ([0-9, ]+)', html)
    assert len(hists) == len(rows)
    ws = app.extensions["mathmine_workspace"]
    run = ws.run()
    questions = [p for p in run.by_domain["example.org"]
                 if ("mathforum.example.org", "/questions") in section_keys(p.host, p.path)]
    index = order.index(("mathforum.example.org", "/questions"))
    # 36 kept pages (38 before the dedup bands were chosen for recall: 16 x 6 finds 2 more near copies)
    assert sum(int(c) for c in hists[index].split(",")) == len(questions) == 36
    # examples: title, URL as text (never a link into the crawl), score, snippet, full text here
    assert not re.findall(r'href="https?://', html)
    links = re.findall(r'href="(/page\?id=[^"]+)"', html)
    assert links
    full = client.get(links[0].replace("&amp;", "&"))
    assert full.status_code == 200 and '<pre class="text">' in full.get_data(as_text=True)
    assert client.get("/domain/no-such.example").status_code == 404
    assert client.get("/page", query_string={"id": "nope"}).status_code == 404


def test_decide_writes_lint_clean_lines_and_undo_takes_them_back(review_run):
    work, annotation = review_run
    _app, client, token = client_for(work, annotation)
    mine = annotation / "url_patterns" / "alice.tsv"
    r = decide(client, token, "proofwiki.example.org/wiki/*", "math", "proofwiki.example.org", "/wiki")
    assert r.status_code == 200, r.json
    assert r.json["line"] == 2 and r.json["before"] is None
    r2 = decide(client, token, "mathref.example.org/entries/*", "exclude", "mathref.example.org", "/entries")
    r3 = decide(client, token, "mathref.example.org/*", "not math", "mathref.example.org", "/")
    assert r2.status_code == r3.status_code == 200
    lines = mine.read_text().splitlines()
    assert lines[0].startswith("# URL patterns of alice")
    assert lines[1].startswith("proofwiki.example.org/wiki/*\tmath\talice\tmathmine annotate 20")
    assert lines[1].endswith("; 28 pages, 12 recalled; row proofwiki.example.org/wiki")
    assert lines[2].startswith("mathref.example.org/entries/*\texclude\talice\t")
    assert lines[3].startswith("# not math\tmathref.example.org/*\talice\t")
    bad, summary = lint_report(annotation / "url_patterns")
    assert bad == [] and summary.startswith("annotations OK: 2 pattern(s) (1 math, 1 exclude)")
    patterns, errors = load_patterns(mine)
    assert not errors and [(p.line, p.glob, p.label, p.annotator) for p in patterns] == [
        (2, "proofwiki.example.org/wiki/*", "math", "alice"), (3, "mathref.example.org/entries/*", "exclude", "alice")]
    # the section is covered now (the response says so for the page)
    coverage = {c["key"]: c for c in r2.json["coverage"]}
    assert coverage["mathref.example.org/entries"]["covered"] and not coverage["mathref.example.org/entries"]["in_queue"]
    # changing my mind on a section replaces my line; undo restores it
    r4 = decide(client, token, "mathref.example.org/entries/*", "math", "mathref.example.org", "/entries")
    assert r4.status_code == 200 and r4.json["line"] == 3 and r4.json["before"] == r2.json["text"]
    assert mine.read_text().splitlines()[2].startswith("mathref.example.org/entries/*\tmath\t")
    u = client.post("/api/undo", json={"line": 3, "text": r4.json["text"], "before": r4.json["before"]},
                    headers={"X-CSRF-Token": token})
    assert u.status_code == 200 and u.json["restored"] == r2.json["text"]
    assert mine.read_text().splitlines()[2] == r2.json["text"]
    # undo of a plain decision removes its line; a line that is gone cannot be undone twice
    u = client.post("/api/undo", json={"line": 2, "text": r.json["text"]}, headers={"X-CSRF-Token": token})
    assert u.status_code == 200
    assert all("proofwiki" not in line for line in mine.read_text().splitlines())
    again = client.post("/api/undo", json={"line": 2, "text": r.json["text"]}, headers={"X-CSRF-Token": token})
    assert again.status_code == 409
    assert lint_report(annotation / "url_patterns")[0] == []
    # the domain page shows my decisions, and the queue counts them as reviewed
    html = client.get("/domain/example.org").get_data(as_text=True)
    assert re.search(r'data-key="mathref.example.org/entries"[^>]*data-decision="exclude"', html)
    assert re.search(r'data-key="mathref.example.org/"[^>]*data-decision="not math"', html)


def test_a_line_lint_would_reject_is_never_written(review_run):
    work, annotation = review_run
    folder = annotation / "url_patterns"
    (folder / "bob.tsv").write_text("proofwiki.example.org/wiki/*\tmath\tbob\n")
    _app, client, token = client_for(work, annotation)
    for pattern in ("https://proofwiki.example.org/wiki/*", "proofwiki.example.org", "proofwiki example.org/*",
                    "proofwiki.example.org/**", "*.co.uk/*", "proofwiki.example.org/a#b"):
        r = decide(client, token, pattern, "math")
        assert r.status_code == 409, (pattern, r.json)
        preview = client.get("/api/preview", query_string={"pattern": pattern}).json
        assert preview["ok"] is False and preview["lint"]
    # the same pattern as bob's with the other label: lint says "conflicts with", nothing is written
    r = decide(client, token, "proofwiki.example.org/wiki/*", "exclude", "proofwiki.example.org", "/wiki")
    assert r.status_code == 409 and "bob.tsv:1: conflicts with alice.tsv:2" in r.json["error"]
    preview = client.get("/api/preview", query_string={"pattern": "proofwiki.example.org/wiki/*", "label": "exclude"}).json
    assert preview["ok"] is False
    assert not (folder / "alice.tsv").exists()
    assert client.post("/api/decide", json={"pattern": "x.org/*", "label": "maybe"},
                       headers={"X-CSRF-Token": token}).status_code == 409
    assert lint_report(folder)[0] == []


def test_preview_counts_are_the_ones_mathmine_annotations_preview_prints(review_run):
    work, annotation = review_run
    _app, client, token = client_for(work, annotation)
    asked = {}
    for pattern, label, host, prefix in [
        ("proofwiki.example.org/wiki/*", "math", "proofwiki.example.org", "/wiki"),
        ("math.example.edu/~hartmann/*", "math", "math.example.edu", "/~hartmann"),
        ("calc-notes.example.edu/news/*", "exclude", "calc-notes.example.edu", "/news"),
        ("mathforum.example.org/*", "math", "mathforum.example.org", "/"),  # overlaps the demo annotator
        ("nosuch.example.org/*", "math", "", ""),  # matches nothing
    ]:
        shown = client.get("/api/preview", query_string={"pattern": pattern, "label": label, "host": host,
                                                           "prefix": prefix}).json
        assert shown["ok"], shown
        written = decide(client, token, pattern, label, host, prefix)
        assert written.status_code == 200, written.json
        assert shown["where"] == f"{annotation / 'url_patterns' / 'alice.tsv'}:{written.json['line']}"
        asked[shown["where"]] = shown
    overlapping = asked[f"{annotation / 'url_patterns' / 'alice.tsv'}:5"]
    assert any("overlaps demo-annotator's line" in w and "with the other label" in w
               for w in overlapping["warnings"])
    assert any("matches no page" in w for w in asked[f"{annotation / 'url_patterns' / 'alice.tsv'}:6"]["warnings"])
    code, out, err = cli("annotations", "preview", "--work", str(work), "--set", f"annotation.dir={annotation}")
    assert code == 0, err[-3000:]
    printed = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"\s+(\S+)\s+(math|exclude)\s+matched\s+(\d+)\s+recalled\s+(\d+)\s+excluded\s+(\d+)\s+"
                     r"added\s+(\d+)\s+(\S+)$", line)
        if m:
            printed[m.group(1)] = (m.group(2), *map(int, m.group(3, 4, 5, 6)), m.group(7))
    for where, shown in asked.items():  # what the page showed before saving is what the CLI prints
        assert printed[where] == (shown["label"], shown["matched"], shown["recalled"], shown["excluded"],
                                  shown["added"], shown["pattern"]), where
    # and the progress page's table of every line is the CLI's table, line for line
    html = client.get("/progress").get_data(as_text=True)
    table = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(math|exclude)</td><td class=\"num\">(\d+)</td>"
                       r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>"
                       r"<td><code>([^<]+)</code></td>", html)
    assert {w: (label, int(a), int(b), int(c), int(d), p) for w, label, a, b, c, d, p in table} == printed
    for warning in re.findall(r"^warning: (.*)$", out, re.M):
        assert f"warning: {warning}".replace("'", "&#39;") in html


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "", "two words", "tab\tbed", "x" * 65,
                                  "café", "name.", "a..b", "nul\0"])
def test_bad_annotator_names_are_refused(review_run, name):
    work, annotation = review_run
    with pytest.raises(AnnotatorNameError):
        create_app(settings_for(annotation), str(work), name)
    assert list((annotation / "url_patterns").iterdir()) == []


def test_the_cli_refuses_bad_names_a_clashing_name_and_remote_binds_without_the_flag(review_run, capsys):
    work, annotation = review_run
    parser = argparse.ArgumentParser()
    annotate.add_parser(parser.add_subparsers(dest="command"))
    settings = settings_for(annotation)

    def run(*argv: str) -> tuple[int, str]:
        code = annotate.command(parser.parse_args(["annotate", "serve", "--work", str(work), *argv]), settings)
        return code, capsys.readouterr().err

    code, err = run("--annotator", "../../etc/passwd")
    assert code == 2 and "bad annotator name" in err
    # the sample's demo annotator file is read by the loop too: a second file of that name is refused
    code, err = run("--annotator", "sample-annotator")
    assert code == 2 and "already reads" in err
    code, err = run("--annotator", "alice", "--host", "0.0.0.0")
    assert code == 2 and "refusing to listen on 0.0.0.0" in err and "--allow-remote" in err
    assert annotate.is_loopback("127.0.0.1") and annotate.is_loopback("::1") and annotate.is_loopback("localhost")
    assert not annotate.is_loopback("0.0.0.0") and not annotate.is_loopback("192.168.1.2")
    assert list((annotation / "url_patterns").iterdir()) == []


def test_state_changes_are_posts_with_a_csrf_token(review_run):
    work, annotation = review_run
    app, client, token = client_for(work, annotation)
    body = {"pattern": "proofwiki.example.org/wiki/*", "label": "math"}
    assert client.post("/api/decide", json=body).status_code == 403
    assert client.post("/api/decide", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/undo", json={"line": 1, "text": "x"}).status_code == 403
    # another origin is refused even with the token (a page elsewhere cannot drive this one)
    assert client.post("/api/decide", json=body, headers={"X-CSRF-Token": token,
                                                          "Origin": "http://evil.example"}).status_code == 403
    assert client.get("/api/decide").status_code == 405
    # a fresh browser (no session cookie) with a token from someone else's page is refused too
    other = app.test_client()
    assert other.post("/api/decide", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    assert not (annotation / "url_patterns" / "alice.tsv").exists()
    assert decide(client, token, "proofwiki.example.org/wiki/*", "math").status_code == 200
    # DNS rebinding: a Host header that is not loopback is refused
    assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 400
    for page in ("/", "/domain/example.org", "/progress", "/agreement", "/static/annotate.js"):
        response = client.get(page)
        assert response.headers["Content-Security-Policy"] == annotate.CSP, page
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_remote_server_asks_for_the_token(review_run):
    work, annotation = review_run
    app = create_app(settings_for(annotation), str(work), "alice", access_token="s3cret-token",
                     trusted_hosts=[])
    client = app.test_client()
    page = client.get("/", headers={"Host": "review.lab:8765"})
    assert page.status_code == 401 and 'name="token"' in page.get_data(as_text=True)
    assert client.get("/api/preview?pattern=x.org/*", headers={"Host": "review.lab"}).status_code == 401
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    wrong = client.post("/login", data={"token": "guess", "csrf_token": token, "next": "/"},
                        headers={"Host": "review.lab"})
    assert wrong.status_code == 401
    right = client.post("/login", data={"token": "s3cret-token", "csrf_token": token, "next": "/progress"},
                        headers={"Host": "review.lab"})
    assert right.status_code == 302 and right.headers["Location"].endswith("/progress")
    assert client.get("/", headers={"Host": "review.lab"}).status_code == 200
    # the printed link (?token=...) works once and sets the cookie
    fresh = app.test_client()
    link = fresh.get("/domain/example.org?token=s3cret-token", headers={"Host": "review.lab"})
    assert link.status_code == 302 and "token" not in link.headers["Location"]
    assert fresh.get("/domain/example.org", headers={"Host": "review.lab"}).status_code == 200
    with pytest.raises(PermissionError):
        annotate.serve(settings_for(annotation), str(work), "alice", host="0.0.0.0", port=0)


def test_agreement_lists_where_two_annotators_differ_side_by_side(review_run):
    work, annotation = review_run
    _, alice, a_token = client_for(work, annotation, "alice")
    _, bob, b_token = client_for(work, annotation, "bob")
    assert decide(alice, a_token, "proofwiki.example.org/wiki/*", "math", "proofwiki.example.org", "/wiki").status_code == 200
    assert decide(bob, b_token, "mathref.example.org/entries/*", "math", "mathref.example.org", "/entries").status_code == 200
    assert decide(alice, a_token, "mathref.example.org/entries/*", "not math", "mathref.example.org",
                  "/entries").status_code == 200
    # bob edits the suggested pattern into a narrower one: only the definitions of /wiki are math
    assert decide(bob, b_token, "proofwiki.example.org/wiki/Definition:*", "math").status_code == 200
    html = alice.get("/agreement").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td><a [^>]+>([^<]+)</a></td>\s*<td><code>([^<]+)</code></td>\s*"
                      r"<td class=\"num\">(\d+)</td>(.*?)</tr>", html, re.S)
    found = {section: re.findall(r'class="tag [^"]+">([^<]+)</span>|<td>(–)</td>', cells)
             for _, section, _, cells in rows}
    by_name = {}
    for section, cells in found.items():
        by_name[section] = [a or b for a, b in cells]
    head = html.split('<table class="agreement">')[1].split("</thead>")[0]
    names = re.findall(r"<th>([a-z-]+)</th>", head.split("pages</th>")[1])
    assert names == ["alice", "bob", "demo-annotator"]
    assert by_name["mathref.example.org/entries"] == ["not math", "math", "–"]
    wiki = by_name["proofwiki.example.org/wiki"]
    assert wiki[0] == "math" and re.fullmatch(r"\d+ of 28 math", wiki[1]) and wiki[2] == "–"
    # choosing two annotators compares only them
    two = alice.get("/agreement", query_string=[("a", "alice"), ("a", "bob")]).get_data(as_text=True)
    assert "demo-annotator</th>" not in two.split("</thead>")[0].split('<table class="agreement">')[-1]


def test_progress_shows_each_iteration_the_changes_and_the_next_command(review_run):
    work, annotation = review_run
    _app, client, token = client_for(work, annotation, rerun_command="mathmine iterate --work W")
    html = client.get("/progress").get_data(as_text=True)
    assert "No pattern line changed since the last run" in html
    assert "<code class=\"command\">mathmine iterate --work W</code>" in html
    for n in (1, 2):
        recall = step_stats(work, f"iter-{n:02d}/recall")
        seed = step_stats(work, f"iter-{n:02d}/seed")
        row = re.search(rf'<tr>\s*<td class="num">{n}</td>(.*?)</tr>', html, re.S).group(1)
        assert f'<td class="num">{seed["docs"]}</td>' in row and f'<td class="num">{recall["pages"]}</td>' in row
    assert html.count("<polyline") == 3 + 3  # pages per iteration, and rates
    decide(client, token, "proofwiki.example.org/wiki/*", "math", "proofwiki.example.org", "/wiki")
    decide(client, token, "mathref.example.org/*", "not math", "mathref.example.org", "/")
    html = client.get("/progress").get_data(as_text=True)
    assert "Your pattern files changed since the last run" in html
    added = html.split("<h3>Lines added</h3>")[1].split("</ul>")[0]
    assert "proofwiki.example.org/wiki/*</code> math" in added and "mathref" not in added


def test_a_run_folder_on_s3_is_reviewed_through_the_storage_layer(review_run, monkeypatch):
    from tests.servers import S3_CREDENTIALS, moto_s3

    work, annotation = review_run
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with moto_s3() as s3:
        s3.client.create_bucket(Bucket="annotate-review")
        for path in work.rglob("*"):
            rel = path.relative_to(work).as_posix()
            if path.is_file() and not rel.endswith(".bin") and not rel.startswith(("shards", "tokenizer")):
                s3.client.upload_file(str(path), "annotate-review", f"run/{rel}")
        remote = create_app(settings_for(annotation, f"storage.s3_endpoint_url={s3.endpoint}"),
                            "s3://annotate-review/run", "alice")
        local = create_app(settings_for(annotation), str(work), "alice")
        for page in ("/", "/domain/example.org", "/progress"):
            got, want = remote.test_client().get(page), local.test_client().get(page)
            assert got.status_code == want.status_code == 200
            strip = lambda html: re.sub(r'content="[^"]+"|/tmp/\S+|s3://\S+|' + re.escape(str(work)), "", html)  # noqa: E731
            assert strip(got.get_data(as_text=True)) == strip(want.get_data(as_text=True)), page
        remote.extensions["mathmine_cleanup"].close()


def test_the_written_lines_make_the_next_iterate_add_those_pages_to_the_seed(review_run):
    """The one rerun of the loop in this file: two math decisions and one exclude, then `mathmine
    iterate` on the same run folder, up to iteration 2's seed, which is what the lines change. (A
    copied run folder reruns from dedup on: ingest's declared input is the absolute path of
    WORK/sample/warc/, so this is most of a demo run: about a minute with Spark warm from the demo
    run, a few on a loaded machine.)"""
    import pyarrow.parquet as pq

    work, annotation = review_run
    _, client, token = client_for(work, annotation)
    chosen = [("proofwiki.example.org/wiki/*", "math", "proofwiki.example.org", "/wiki"),
              ("math.example.edu/~hartmann/*", "math", "math.example.edu", "/~hartmann"),
              ("tutor.example.com/worksheets/*", "exclude", "tutor.example.com", "/worksheets")]
    lines = {}
    for pattern, label, host, prefix in chosen:
        r = decide(client, token, pattern, label, host, prefix)
        assert r.status_code == 200
        lines[pattern] = f"pattern:alice.tsv:{r.json['line']}"
    assert cli("annotations", "lint", str(annotation / "url_patterns"))[0] == 0
    recalled_before = step_stats(work, "iter-01/recall")["pages"]
    code, out, err = cli("iterate", "--work", str(work), "--stop-after", "iter-02/seed",
                         "--set", f"annotation.dir={annotation}")
    assert code == 0 and "stopped after iter-02/seed" in out, err[-5000:]
    patterns = step_stats(work, "iter-01/patterns")
    assert patterns["patterns"] == 5 + 3  # the demo annotator's and ours
    # iteration 2's seed holds the pages of the two math lines that iteration 1 did not recall
    seed = pq.read_table(work / "iter-02" / "seed").to_pylist()
    for pattern, label, _, _ in chosen:
        got = sum(r["source"] == lines[pattern] for r in seed)
        if label == "math":
            assert got == patterns["additions_by_source"][lines[pattern]] > 0, pattern
        else:
            assert got == 0 and lines[pattern] not in patterns["additions_by_source"]
    # the exclude line's pages are labelled exclude, so the corpus leaves them out
    ids = {p.id for p in RunTables(fs.Store(), str(work)).pages
           if p.host == "tutor.example.com" and p.path.startswith("/worksheets/")}
    matches = {r["id"]: r["label"] for r in pq.read_table(work / "iter-01" / "matches").to_pylist()}
    assert ids and all(matches[i] == "exclude" for i in ids)
    assert recalled_before == step_stats(work, "iter-01/recall")["pages"]  # iteration 1's model is the same


def test_sections_are_counted_as_the_loop_counts_them_and_snippets_keep_tex_as_text(review_run):
    from pipeline.domains import aggregate_domain
    from pipeline.review import formula_spans, snippet

    work, annotation = review_run
    run = RunTables(create_app(settings_for(annotation), str(work), "alice").extensions[
        "mathmine_workspace"].store, str(work))
    for domain, pages in run.by_domain.items():
        ours: dict[tuple[str, str], int] = {}
        for p in pages:
            for key in section_keys(p.host, p.path):
                ours[key] = ours.get(key, 0) + 1
        # every page "recalled", so that every domain is flagged and lists all its sections
        loop = aggregate_domain(domain, ((p.host, p.url, p.path, p.score, True, False) for p in pages),
                                0.0, 1, 10_000, 0)
        assert {(s.host, s.prefix): s.pages for s in loop.top_paths} == ours, domain
    pieces = snippet("Intro.\nLet $x^2 + y^2 = 1$ and \\(z\\) be <b>given</b>; then \\[a\\] holds.")
    assert [text for text, tex in pieces if tex] == ["$x^2 + y^2 = 1$", "\\(z\\)", "\\[a\\]"]
    assert "".join(text for text, _ in pieces) == "Intro. Let $x^2 + y^2 = 1$ and \\(z\\) be <b>given</b>; then \\[a\\] holds."
    long = "word " * 400 + "the formula $e^{i\\pi} = -1$ here " + "tail " * 400
    shown = snippet(long)
    assert shown[0] == ("… ", False) and shown[-1] == (" …", False)
    assert ("$e^{i\\pi} = -1$", True) in shown
    assert formula_spans("\\( " * 20000) == []  # unclosed: found quickly, nothing kept
