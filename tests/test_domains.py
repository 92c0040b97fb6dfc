"""Domain statistics, flagging and the annotation queue, on the real URLs of the repackaged WARCs.

Stand-ins for the classifier: bookofproofs' `label_stager == "math"` is the recall rule (its
`/branches` pages are math, its `/history` pages are biographies), every other page (news,
blogs, forums) is not recalled; scores are a fixed hash of the URL, above 0.5 exactly for the
recalled pages. No annotator pattern matches anything unless a test says so.

Rows are `(domain, host, url, path, score, recalled, matched)`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.annotation import Pattern, PatternMatcher, check_pattern
from pipeline.config import load_settings
from pipeline.domains import (
    QUEUE_COLUMNS,
    DomainAccumulator,
    DomainStats,
    PathStats,
    aggregate_domain,
    aggregate_domains,
    arrow_schema,
    domains_table,
    escape_field,
    flag_sql,
    is_flagged,
    is_id_segment,
    iter_sorted_domains,
    open_paths,
    path_prefixes,
    queue_order,
    queue_rows,
    queue_tsv,
    read_queue_tsv,
    suggested_pattern,
    unescape_field,
)
from pipeline.ingest import split_url
from tests.conftest import data_path

BOOK = "bookofproofs.github.io"
DESIGN_COLUMNS = ["domain", "pages", "recalled", "recall_fraction", "flagged", "top_paths"]


def fake_score(url: str, recalled: bool) -> float:
    unit = int(hashlib.sha1(url.encode()).hexdigest()[:8], 16) / 2**32
    return round(0.5 + 0.5 * unit if recalled else 0.5 * unit, 6)


def make_row(url: str, recalled: bool, matched: bool = False) -> tuple:
    host, domain, path = split_url(url)
    return (domain, host, url, path, fake_score(url, recalled), recalled, matched)


def matcher(*globs: str, label: str = "math") -> PatternMatcher:
    return PatternMatcher([Pattern("t.tsv", i, glob, label, "t") for i, glob in enumerate(globs, 1)])


def with_matches(rows: list[tuple], patterns: PatternMatcher) -> list[tuple]:
    """The rows with `matched` set as jobs/loop.py sets it: some math or exclude pattern matches."""
    out = []
    for domain, host, url, path, score, recalled, _ in rows:
        hit = patterns.match_host_path(host, path) is not None or patterns.excluded(host, path)
        out.append((domain, host, url, path, score, recalled, hit))
    return out


@pytest.fixture(scope="module")
def sidecars() -> dict[str, list[dict]]:
    folder = data_path("warc_repackaged")
    found = {}
    for meta in sorted(folder.glob("*/*.meta.jsonl")):
        with meta.open(encoding="utf-8") as fh:
            found[meta.parent.name] = [json.loads(line) for line in fh if line.strip()]
    assert "bookofproofs_pages" in found and len(found) >= 4
    return found


ALGEBRA = f"{BOOK}/branches/algebra/*"  # the one annotator pattern of the fixture


@pytest.fixture(scope="module")
def rows(sidecars) -> list[tuple]:
    out = []
    for name, records in sidecars.items():
        for rec in records:
            recalled = name == "bookofproofs_pages" and rec["label_stager"] == "math"
            out.append(make_row(rec["url"], recalled))
    return with_matches(out, matcher(ALGEBRA))


@pytest.fixture(scope="module")
def stats(rows):
    return aggregate_domains(rows)


def by_domain(stats) -> dict:
    return {s.domain: s for s in stats}


def paths_of(domain_stats) -> dict:
    """prefix -> PathStats, for a domain with a single host."""
    assert len({p.host for p in domain_stats.top_paths}) <= 1
    return {p.prefix: p for p in domain_stats.top_paths}


# --- path prefixes ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    ("/questions/12345/slug", ("/questions", "/questions/*")),
    ("/questions/12345", ("/questions", "/questions")),  # the last segment is a page, not a section
    ("/questions/12345/", ("/questions", "/questions/*")),
    ("/questions/", ("/questions", "/questions")),
    ("/questions", ("/", "/")),
    ("/branches/algebra/0-is-less-than-1-in-ordered-fields.html", ("/branches", "/branches/algebra")),
    ("/history/20th-century/noether.html", ("/history", "/history/20th-century")),
    ("/about.html", ("/", "/")),
    ("/", ("/", "/")),
    ("", ("/", "/")),
    ("//wiki//Main/", ("/", "/")),  # an empty segment ends the directories: `host/wiki/*` misses it
    ("/wiki//Main/x", ("/wiki", "/wiki")),
    ("/2024/05/11/slug", ("/*", "/*/*")),
    ("/a/12345.html", ("/a", "/a")),
    ("/a/12345.html/x", ("/a", "/a/*")),
    ("/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html", ("/*", "/*/*")),
    ("/item/550e8400-e29b-41d4-a716-446655440000/x", ("/item", "/item/*")),
    ("/a/deadbeefcafe/x", ("/a", "/a/deadbeefcafe")),  # letters only: a word, not an id
    ("/a/1a2b3c4d/x", ("/a", "/a/*")),
    # Literal glob signs are stored escaped, so a bare `*` is always an id segment.
    ("/a*b/c?d/x", ("/a[*]b", "/a[*]b/c[?]d")),
    ("/[x]/*/y", ("/[[]x]", "/[[]x]/[*]")),
    ("/*/7/y", ("/[*]", "/[*]/*")),
])
def test_path_prefixes(path, expected):
    assert path_prefixes(path) == expected


def test_id_segments():
    assert all(map(is_id_segment, ["0", "1077347", "26442071.htm", "ab12cd34ef", "550E8400-E29B-41D4-A716-446655440000"]))
    assert not any(map(is_id_segment, ["questions", "20th-century", "c.html", "abc123", "t20240513_15249693.htm"]))


def test_id_collapsing_on_real_urls(sidecars):
    urls = [rec["url"] for recs in sidecars.values() for rec in recs]
    prefixes = {url: path_prefixes(split_url(url)[2]) for url in urls}
    assert prefixes["https://stackoverflow.com/questions/1077347/hello-world-in-python"] == ("/questions", "/questions/*")
    assert prefixes["https://bookofproofs.github.io/branches/algebra/0-is-less-than-1-in-ordered-fields.html"] == (
        "/branches", "/branches/algebra")
    assert prefixes["https://www.zhihu.com/question/586816837/answer/2916374892"] == ("/question", "/question/*")
    assert prefixes["https://www.qidian.com/chapter/1034360760/720619827/"] == ("/chapter", "/chapter/*")
    assert prefixes["http://www.he.news.cn/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html"] == ("/*", "/*/*")
    assert prefixes["https://sportowefakty.wp.pl/zuzel/1120737/zuzel-dominacja-polakow-w-niemczech-dul-i-gala-nie-przegrali-zadnego-wyscigu"] == ("/zuzel", "/zuzel/*")
    # Pages of one section under different ids collapse into one prefix and are counted together.
    questions = [("mathoverflow.net", f"https://mathoverflow.net/questions/{n}/slug-{n}", f"/questions/{n}/slug-{n}",
                  n / 100, n % 2 == 0, False) for n in range(100, 110)]
    questions.append(("mathoverflow.net", "https://mathoverflow.net/users/7/x", "/users/7/x", 0.1, False, False))
    got = aggregate_domain("mathoverflow.net", questions)
    assert [(p.host, p.prefix, p.pages, p.recalled, p.matched) for p in got.top_paths] == [
        ("mathoverflow.net", "/questions", 10, 5, 0), ("mathoverflow.net", "/questions/*", 10, 5, 0),
        ("mathoverflow.net", "/users", 1, 0, 0), ("mathoverflow.net", "/users/*", 1, 0, 0)]


# --- flagging ---------------------------------------------------------------------------------

def test_bookofproofs_is_flagged_branches_high_history_low(stats):
    book = by_domain(stats)[BOOK]
    assert (book.pages, book.recalled, book.flagged) == (2500, 2000, True)
    assert book.recall_fraction == pytest.approx(0.8)
    paths = paths_of(book)
    branches, history = paths["/branches"], paths["/history"]
    assert (branches.pages, branches.recalled) == (2000, 2000) and branches.fraction == 1.0
    assert (history.pages, history.recalled) == (500, 0) and history.fraction == 0.0
    assert [p.prefix for p in book.top_paths[:3]] == ["/branches", "/history", "/branches/geometry"]
    assert paths["/branches/geometry"].pages == 473 and paths["/history/20th-century"].pages == 194
    assert len(book.top_paths) == 20
    assert not book.approximate


def test_news_domains_are_not_flagged(stats):
    domains = by_domain(stats)
    assert len(domains) > 500
    assert [s.domain for s in stats if s.flagged] == [BOOK]
    for name in ("wsj.com", "cnn.com", "wordpress.com", "news.cn", "stackoverflow.com", "zhihu.com"):
        news = domains[name]
        assert (news.recalled, news.flagged, news.top_paths) == (0, False, [])
    assert domains["wordpress.com"].pages >= 10  # one of the bigger non-math domains
    assert "" not in domains  # `hard::` entries have no host: skipped


def test_min_pages_and_min_fraction(sidecars, rows):
    # A classifier that recalls every magic-html page: its domains have 1 to 3 pages each.
    magic = [make_row(rec["url"], True) for rec in sidecars["magic_html_benchmark"]]
    sizes = defaultdict(int)
    for row in magic:
        sizes[row[0]] += 1
    assert max(sizes.values()) < 5
    assert not any(s.flagged for s in aggregate_domains(magic))  # default min_pages=5
    two = by_domain(aggregate_domains(magic, min_pages=2))
    assert {d for d, s in two.items() if s.flagged} == {d for d, n in sizes.items() if n >= 2}
    assert all(s.top_paths for s in two.values() if s.flagged)

    # Exactly 10% recalled (50 of 500 real bookofproofs pages) is not "more than 10%".
    book = [r for r in rows if r[0] == BOOK]
    history = [r for r in book if not r[5]][:450]
    branches = [r for r in book if r[5]][:50]
    (edge,) = aggregate_domains(history + branches)
    assert (edge.pages, edge.recalled, edge.recall_fraction, edge.flagged) == (500, 50, 0.1, False)
    (edge,) = aggregate_domains(history + branches, min_fraction=0.099)
    assert edge.flagged
    (edge,) = aggregate_domains(history + branches, min_fraction=0.099, min_pages=500)
    assert edge.flagged
    (edge,) = aggregate_domains(history + branches, min_fraction=0.099, min_pages=501)
    assert not edge.flagged and edge.top_paths == []


# --- examples ----------------------------------------------------------------------------------

def test_examples_are_bounded_and_the_best_by_score(rows):
    book_rows = [r for r in rows if r[0] == BOOK]
    for k in (0, 1, 3, 5):
        (book,) = aggregate_domains(book_rows, examples=k, top_prefixes=50)
        for path in book.top_paths:
            members = [r for r in book_rows if r[1] == path.host and path.prefix in path_prefixes(r[3])]
            assert len(members) == path.pages
            for recalled, got in ((True, path.recalled_examples), (False, path.unrecalled_examples)):
                pool = sorted((-r[4], r[2]) for r in members if r[5] == recalled)
                assert [(e.url, e.score) for e in got] == [(url, -neg) for neg, url in pool[:k]]
                assert len(got) == min(k, len(pool))


def test_example_ties_and_repeated_urls():
    acc = DomainAccumulator("x.org", examples=2)
    for url, score in [("https://x.org/a/3", 0.9), ("https://x.org/a/1", 0.9), ("https://x.org/a/2", 0.9),
                       ("https://x.org/a/1", 0.95), ("https://x.org/a/1", 0.1), ("https://x.org/a/4", None)]:
        acc.add("x.org", url, "/a/" + url[-1], score, True, matched=False)
    (path,) = [p for p in acc.finish(min_pages=1).top_paths if p.prefix == "/a"]
    assert [(e.url, e.score) for e in path.recalled_examples] == [("https://x.org/a/1", 0.95),
                                                                  ("https://x.org/a/2", 0.9)]


def test_prefix_count_is_bounded(rows):
    book_rows = [r for r in rows if r[0] == BOOK]
    acc = DomainAccumulator(BOOK, examples=2, max_prefixes=10)
    for _, host, url, path, score, recalled, matched in book_rows:
        acc.add(host, url, path, score, recalled, matched)
        assert len(acc.prefixes) <= 20
    got = acc.finish()
    assert got.approximate and (got.pages, got.recalled) == (2500, 2000)  # totals stay exact
    assert (paths_of(got)["/branches"].pages, paths_of(got)["/branches"].recalled) == (2000, 2000)
    # Unique second-level folders under one section: memory stays at the cap, the section is
    # still counted.
    many = DomainAccumulator("big.example", max_prefixes=50)
    for i in range(5000):
        many.add("big.example", f"https://big.example/wiki/Page_{i}", f"/wiki/Page_{i}/", i / 5000, i % 3 == 0,
                 matched=i % 2 == 0)
        assert len(many.prefixes) <= 100
    wiki = paths_of(many.finish())["/wiki"]
    assert (wiki.pages, wiki.recalled, wiki.matched) == (5000, 1667, 2500)
    assert [e.url for e in wiki.recalled_examples] == [f"https://big.example/wiki/Page_{i}" for i in (4998, 4995, 4992)]


# --- determinism and partial aggregation ---------------------------------------------------------

def test_shuffled_input_gives_identical_output(rows, stats, tmp_path):
    shuffled = list(rows)
    random.Random(20240501).shuffle(shuffled)
    again = aggregate_domains(shuffled)
    assert again == stats  # dataclass equality: every count, prefix and example
    assert [s.to_row() for s in again] == [s.to_row() for s in stats]
    (tmp_path / "a.tsv").write_text(queue_tsv(queue_rows(stats)), encoding="utf-8")
    (tmp_path / "b.tsv").write_text(queue_tsv(queue_rows(again)), encoding="utf-8")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()


def test_merged_partials_equal_one_pass(rows, stats):
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)
    parts: list[dict[str, DomainAccumulator]] = []
    for chunk in (shuffled[i::3] for i in range(3)):
        accs: dict[str, DomainAccumulator] = {}
        for domain, host, url, path, score, recalled, matched in chunk:
            if domain:
                accs.setdefault(domain, DomainAccumulator(domain)).add(host, url, path, score, recalled, matched)
        parts.append(pickle.loads(pickle.dumps(accs)))  # as Spark ships them between stages
    merged: dict[str, DomainAccumulator] = {}
    for part in reversed(parts):
        for domain, acc in part.items():
            if domain in merged:
                merged[domain].merge(acc)
            else:
                merged[domain] = acc
    assert [merged[d].finish() for d in sorted(merged)] == stats

    in_order = sorted(rows, key=lambda r: r[0])
    assert list(iter_sorted_domains(in_order)) == stats


def test_flag_sql_is_the_flag_rule(spark_factory):
    """The SQL form of `is_flagged` that the job uses agrees with it on and around its boundaries."""
    spark = spark_factory.get()
    cases = [(p, r) for p in (0, 1, 4, 5, 6, 9, 10, 11, 30, 1000, 10**9) for r in sorted({0, 1, p // 10, p // 10 + 1, p})
             if r <= p]
    for min_fraction, min_pages in ((0.1, 5), (0.0, 1), (1 / 3, 3), (1e-05, 0), (0.5, 2), (0.99, 100)):
        got = spark.createDataFrame(cases, "pages long, recalled long").selectExpr(
            "pages", "recalled", f"{flag_sql(min_fraction, min_pages)} AS flagged").collect()
        assert [(r["pages"], r["recalled"], r["flagged"]) for r in got] == [
            (p, r, is_flagged(p, r, min_fraction, min_pages)) for p, r in cases], (min_fraction, min_pages)


def test_spark_domain_stats_equal_in_process(rows, spark_factory):
    """The iterate job's DataFrame path (groupBy counts, prefixes and examples only for flagged
    domains) gives what the in-process accumulator gives: totals and `flagged` of every domain, and
    the whole DomainStats (top paths, examples, queue rows) of each flagged one. Extra rows cover
    what a window could rank differently from _TopK: missing and NaN scores, one URL twice with two
    scores, score ties broken by URL, `www.` and upper-case hosts, many small domains."""
    from pyspark.sql import types as T

    from jobs.loop import domain_stats

    extra = []
    for i in range(40):
        url = f"https://Www.Tricky.example.org/notes/{i % 7}/p{i}.html"
        score = [None, float("nan"), 0.75, 0.75][i % 4]
        extra.append(("tricky.example.org", "Www.Tricky.example.org", url, split_url(url)[2], score,
                      i % 3 != 0, i % 5 == 0))
    dup = "https://tricky.example.org/notes/0/dup.html"
    extra += [("tricky.example.org", "tricky.example.org", dup, "/notes/0/dup.html", s, True, False)
              for s in (0.2, 0.9, float("nan"))]
    extra += [(f"small{i}.example.com", f"small{i}.example.com", f"https://small{i}.example.com/a/{j}",
               f"/a/{j}", 0.5, (i + j) % 3 == 0, False) for i in range(30) for j in range(i % 4)]
    all_rows = rows + extra
    settings = load_settings(None, ["domains.min_pages=2"])
    d = settings.domains
    schema = T.StructType([T.StructField(n, t) for n, t in (
        ("domain", T.StringType()), ("host", T.StringType()), ("url", T.StringType()), ("path", T.StringType()),
        ("score", T.FloatType()), ("recalled", T.BooleanType()), ("matched", T.BooleanType()))])
    spark = spark_factory.get()
    # scores as float32, as the scores table stores them
    as_float = [(*r[:4], None if r[4] is None else float(np.float32(r[4])), *r[5:]) for r in all_rows]
    expected = aggregate_domains(as_float, d.min_fraction, d.min_pages, d.top_prefixes, d.examples,
                                 d.max_prefixes)
    pages = [r for r in as_float if r[0]]  # jobs.loop.domain_rows leaves out pages without a domain
    totals, flagged = domain_stats(spark.createDataFrame(pages, schema).repartition(3), settings)
    got_totals = sorted((r["domain"], r["pages"], r["recalled"], r["matched"], r["flagged"])
                        for r in totals.collect())
    assert got_totals == [(s.domain, s.pages, s.recalled, s.matched, s.flagged) for s in expected]
    want = [s for s in expected if s.flagged]
    assert {s.domain for s in want} >= {BOOK, "tricky.example.org"} and len(want) > 10
    assert sorted(flagged, key=lambda s: s.domain) == want


# --- table and queue ------------------------------------------------------------------------------

def test_domains_table_schema(rows, stats, tmp_path):
    assert arrow_schema().names == DESIGN_COLUMNS
    row = by_domain(stats)[BOOK].to_row()
    assert list(row) == DESIGN_COLUMNS
    assert list(row["top_paths"][0]) == ["host", "prefix", "pages", "recalled", "matched"]  # DESIGN's + host, matched
    algebra = sum(r[6] for r in rows)
    assert algebra > 0 and all(r[3].startswith("/branches/algebra/") for r in rows if r[6])
    assert row["top_paths"][0] == {"host": BOOK, "prefix": "/branches", "pages": 2000, "recalled": 2000,
                                   "matched": algebra}
    assert {(p["prefix"], p["matched"]) for p in row["top_paths"] if p["matched"]} == {
        ("/branches", algebra), ("/branches/algebra", algebra)}
    table = domains_table(stats)
    assert table.schema == arrow_schema() and table.num_rows == len(stats)
    pq.write_table(table, tmp_path / "domains.parquet", compression="zstd")
    assert pq.read_table(tmp_path / "domains.parquet").to_pylist() == [s.to_row() for s in stats]



def test_queue_is_sorted_as_documented(sidecars, rows, tmp_path):
    # A noisier recall rule: about half of the non-math pages recalled too, so that many small
    # domains are flagged with different counts and fractions.
    noisy = [r if r[0] == BOOK else make_row(r[2], fake_score(r[2], False) < 0.25) for r in rows]
    stats = aggregate_domains(noisy, min_pages=2, top_prefixes=4)
    everything = by_domain(aggregate_domains(noisy, min_pages=2, top_prefixes=10**6))
    flagged = [s for s in stats if s.flagged]
    assert len(flagged) > 20
    rows_out = queue_rows(stats)
    expected = sorted(flagged, key=queue_order)
    seen = [r["domain"] for r in rows_out]
    assert list(dict.fromkeys(seen)) == [s.domain for s in expected]
    assert rows_out[0]["domain"] == BOOK and rows_out[0]["prefix"] == "/branches"
    assert rows_out[0]["host"] == BOOK and rows_out[0]["suggested_pattern"] == f"{BOOK}/branches/*"
    keys = [(-s.recalled, -s.recall_fraction, s.domain) for s in expected]
    assert keys == sorted(keys)
    assert len({s.recalled for s in expected}) > 1 and len({s.recall_fraction for s in expected}) > 1
    for rank, domain in enumerate(expected, start=1):
        mine = [r for r in rows_out if r["domain"] == domain.domain]
        assert {r["priority"] for r in mine} == {rank}
        # The rows are the first 4 uncovered (host, prefix) keys in top_paths order, one per pattern.
        want = open_paths(everything[domain.domain].top_paths, limit=4)
        assert [(r["host"], r["prefix"]) for r in mine] == [(p.host, p.prefix) for p in want]
        assert len({r["suggested_pattern"] for r in mine}) == len(mine)
    assert all(list(r) == list(QUEUE_COLUMNS) for r in rows_out)
    # bookofproofs' /branches/algebra is covered by the fixture's pattern: not in the queue.
    book = [r for r in rows_out if r["domain"] == BOOK]
    assert "/branches/algebra" not in {r["prefix"] for r in book}
    assert "/branches/algebra" in {p.prefix for p in everything[BOOK].top_paths}
    assert int(book[0]["prefix_matched"]) == sum(r[6] for r in rows) > 0

    path = tmp_path / "queue.tsv"
    path.write_text(queue_tsv(rows_out), encoding="utf-8")
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(rows_out) + 1
    back = read_queue_tsv(path)
    assert [{k: str(v) for k, v in r.items()} for r in rows_out] == back
    first = back[0]
    assert first["domain_fraction"] == "0.8000" and first["prefix_fraction"] == "1.0000"
    for entry in first["recalled_examples"].split(" "):
        score, url = entry.split(":", 1)
        assert url.startswith("https://bookofproofs.github.io/branches/") and float(score) > 0.5
    assert first["unrecalled_examples"] == ""
    history = next(r for r in back if r["domain"] == BOOK and r["prefix"] == "/history")
    assert history["recalled_examples"] == "" and len(history["unrecalled_examples"].split(" ")) == 3
    assert history["suggested_pattern"] == f"{BOOK}/history/*" and history["prefix_matched"] == "0"
    # Domains whose every page some pattern matched leave the queue; an empty queue still has its header.
    covered = aggregate_domains([(*r[:6], True) for r in noisy], min_pages=2, top_prefixes=4)
    assert [s.domain for s in covered if s.flagged] == [s.domain for s in flagged]
    assert queue_rows(covered) == []
    (tmp_path / "empty.tsv").write_text(queue_tsv([]), encoding="utf-8")
    assert (tmp_path / "empty.tsv").read_text() == "\t".join(QUEUE_COLUMNS) + "\n"


def test_tsv_cannot_be_broken_by_hostile_urls(rows, tmp_path: Path):
    hostile_url = "https://evil.example/sec\ttion/a b\nc\r\\d\x00?q=1\t2"
    host, domain, path = split_url(hostile_url)
    hostile = [
        (domain, host, hostile_url, path, 0.99, True, False),
        ("evil.example", "evil.example", "https://evil.example/x", "/ta\tb/new\nline\\/", 0.98, True, False),  # raw path
        ("evil.example", "evil.example", "https://evil.example/\u2028z", "/nel\x85/\u2028/", 0.97, True, False),
        ("evil.example", "evil.example", "https://evil.example/y", "/plain/", 0.1, False, False),
        # a second page under /ta\tb, so its sub-section row is not a twin of it (dropped)
        ("evil.example", "evil.example", "https://evil.example/z", "/ta\tb/other/", 0.2, False, False),
        ("evil.example", "evil.example", "https://evil.example/w", "/nel\x85/other/", 0.2, False, False),
    ]
    stats = aggregate_domains([r for r in rows if r[0] == BOOK] + hostile, min_pages=4)
    out = queue_rows(stats)
    assert {r["domain"] for r in out} == {BOOK, "evil.example"}
    target = tmp_path / "queue.tsv"
    target.write_text(queue_tsv(out), encoding="utf-8")
    lines = target.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 2 == len(out)
    assert all(line.count(b"\t") == len(QUEUE_COLUMNS) - 1 for line in lines[:-1])
    text = target.read_text(encoding="utf-8")
    assert text.splitlines() == text.split("\n")[:-1]  # no \r, NEL, U+2028 ... anywhere
    assert "\x00" not in text
    back = read_queue_tsv(target)
    assert back == [{k: str(v) for k, v in r.items()} for r in out]
    evil = {r["prefix"]: r for r in back if r["domain"] == "evil.example"}
    assert "/ta\tb" in evil and "/ta\tb/new\nline\\" in evil
    examples = " ".join(r["recalled_examples"] for r in evil.values())
    assert "0.9900:https://evil.example/sec%09tion/a%20b%0Ac%0D\\d%00?q=1%092" in examples.split(" ")
    assert "/nel\x85/\u2028" in evil
    # Characters a pattern cannot hold become `?` (any one character): still lint-clean, still matching.
    assert evil["/ta\tb/new\nline\\"]["suggested_pattern"] == "evil.example/ta?b/new?line\\/*"
    assert evil["/nel\x85/\u2028"]["suggested_pattern"] == "evil.example/nel?/?/*"
    for row in evil.values():
        assert check_pattern(row["suggested_pattern"]) is None
    for _, host, _url, path, *_ in hostile:
        for prefix in set(path_prefixes(path)):
            assert matcher(suggested_pattern(host, prefix)).match_host_path(host, path) is not None
    for text in ("a\tb", "x\\ty", "new\nline\r", "\\", "plain", "\\x41\x00\x85\u2028\\u2028", "ü\U0001d400"):
        assert unescape_field(escape_field(text)) == text


# --- hosts, patterns and what the queue leaves out ----------------------------------------------------

def site(rows_spec: list[tuple[str, bool, bool]], domain: str = "example.org") -> list[tuple]:
    """Rows of one domain from (url, recalled, matched)."""
    out = []
    for url, recalled, matched in rows_spec:
        host, dom, path = split_url(url)
        assert dom == domain
        out.append((dom, host, url, path, fake_score(url, recalled), recalled, matched))
    return out


@pytest.mark.parametrize(("prefix", "expected"), [
    ("/seg1", "example.org/seg1/*"),
    ("/seg1/seg2", "example.org/seg1/seg2/*"),
    ("/seg1/*", "example.org/seg1/*"),  # an id segment adds nothing to the section
    ("/*/seg2", "example.org/*/seg2/*"),
    ("/*/*", "example.org/*/*"),
    ("/*", "example.org/*"),
    ("/", "example.org/*"),
    ("/a[*]b", "example.org/a[*]b/*"),
    ("/a[*]b/[?]", "example.org/a[*]b/[?]/*"),
    ("/[[]x]/*", "example.org/[[]x]/*"),
    ("/x[?]y/k=v", "example.org/x[?]y/k?v/*"),  # `=` after a `?` would read as a query string
    ("/#top", "example.org/?top/*"),
])
def test_suggested_pattern(prefix, expected):
    assert suggested_pattern("www.Example.org", prefix) == expected
    assert check_pattern(expected) is None


def test_suggested_pattern_without_a_usable_host():
    assert suggested_pattern("", "/a") == ""
    assert suggested_pattern("localhost", "/a") == ""  # a pattern's host needs a dot
    assert suggested_pattern("::1", "/a") == ""
    assert suggested_pattern("bücher.example", "/a") == "bücher.example/a/*"
    assert check_pattern("bücher.example/a/*") is None


def test_literal_glob_signs_in_a_segment_are_escaped():
    urls = ["https://example.org/a*b/c/x", "https://example.org/[x]/y", "https://example.org/*/y",
            "https://example.org/123/y"]
    rows = site([(u, True, False) for u in urls])
    # A `?` cannot be in a URL's path (it starts the query), but the pages table's path is taken as given.
    rows.append(("example.org", "example.org", "https://example.org/q%3Fx/y", "/q?x/y=1/z", 0.9, True, False))
    (stats,) = aggregate_domains(rows, min_pages=1)
    paths = {p.prefix: p for p in stats.top_paths}
    assert {p: paths[p].pattern() for p in paths} == {
        "/a[*]b": "example.org/a[*]b/*", "/a[*]b/c": "example.org/a[*]b/c/*", "/[[]x]": "example.org/[[]x]/*",
        "/[*]": "example.org/[*]/*", "/*": "example.org/*", "/q[?]x": "example.org/q[?]x/*",
        "/q[?]x/y=1": "example.org/q[?]x/y?1/*"}
    for _, host, _url, path, *_ in rows:
        for prefix in set(path_prefixes(path)):
            pattern = paths[prefix].pattern()
            assert check_pattern(pattern) is None
            assert matcher(pattern).match_host_path(host, path) is not None, (pattern, path)
    literal = matcher("example.org/a[*]b/*", "example.org/[*]/*", "example.org/[[]x]/*", "example.org/q[?]x/*")
    assert literal.match("https://example.org/a*b/c") and literal.match("https://example.org/*/z")
    assert literal.match("https://example.org/[x]/z") and literal.match_host_path("example.org", "/q?x/")
    assert not literal.match("https://example.org/aXb/c") and not literal.match("https://example.org/12/z")
    assert not literal.match("https://example.org/x/z") and not literal.match_host_path("example.org", "/qYx/")
    # The `*` that stands for an id segment stays a wildcard.
    ids = matcher(suggested_pattern("example.org", "/*/t"))
    assert ids.match("https://example.org/456/t/y") and ids.match("https://example.org/789/t/")
    (stat,) = aggregate_domains(site([("https://example.org/q/12/a?x=1", True, False)]), min_pages=1)
    assert [(p.prefix, p.pattern()) for p in stat.top_paths] == [("/q", "example.org/q/*"),
                                                                  ("/q/*", "example.org/q/*")]


def test_two_hosts_of_one_domain_are_separate_rows():
    rows = site([(f"https://math.example.org/questions/{n}/s", True, False) for n in range(6)]
                + [(f"https://www.example.org/questions/{n}/s", n < 2, False) for n in range(4)]
                + [(f"https://example.org/questions/{n}/t", False, False) for n in range(4, 7)])
    (stats,) = aggregate_domains(rows)
    assert stats.flagged and (stats.pages, stats.recalled) == (13, 8)
    got = [(p.host, p.prefix, p.pages, p.recalled) for p in stats.top_paths]
    # `www.` is dropped: www.example.org and example.org are one host, as in the pattern syntax.
    assert got == [("example.org", "/questions", 7, 2), ("example.org", "/questions/*", 7, 2),
                   ("math.example.org", "/questions", 6, 6), ("math.example.org", "/questions/*", 6, 6)]
    out = queue_rows([stats])
    assert [(r["host"], r["prefix"], r["suggested_pattern"], r["prefix_pages"]) for r in out] == [
        ("example.org", "/questions", "example.org/questions/*", 7),
        ("math.example.org", "/questions", "math.example.org/questions/*", 6)]
    # Each suggestion matches its own host's pages, and not the other host's.
    for row in out:
        pattern = matcher(row["suggested_pattern"])
        for _, host, url, *_ in rows:
            assert (pattern.match(url) is not None) == (strip(host) == row["host"])


def strip(host: str) -> str:
    return host.removeprefix("www.")


def test_a_prefix_and_its_id_twin_are_one_row():
    rows = site([(f"https://example.org/questions/{n}/slug", True, False) for n in range(5)]
                + [(f"https://example.org/tags/{n}/x", False, False) for n in range(5)]
                + [("https://example.org/tags/algebra/x", False, False)])
    (stats,) = aggregate_domains(rows)
    # The table keeps both levels; the queue shows /questions once, /tags and its twin /tags/*
    # (fewer pages: a different row set) once too, as they suggest the same pattern.
    assert [(p.prefix, p.pages) for p in stats.top_paths] == [
        ("/tags", 6), ("/questions", 5), ("/questions/*", 5), ("/tags/*", 5), ("/tags/algebra", 1)]
    out = queue_rows([stats])
    assert [(r["prefix"], r["suggested_pattern"], r["prefix_pages"]) for r in out] == [
        ("/tags", "example.org/tags/*", 6), ("/questions", "example.org/questions/*", 5),
        ("/tags/algebra", "example.org/tags/algebra/*", 1)]
    assert {r["priority"] for r in out} == {1}
    # Same result for hand-built stats without queue_paths (derived from top_paths).
    hand = DomainStats(stats.domain, stats.pages, stats.recalled, stats.recall_fraction, True, stats.top_paths)
    assert queue_rows([hand]) == out


def test_a_covered_prefix_leaves_the_queue_an_uncovered_one_stays():
    urls = ([(f"https://example.org/questions/{n}/s", True) for n in range(8)]
            + [(f"https://example.org/users/{n}/u", False) for n in range(4)])
    pattern = matcher("example.org/questions/*")
    rows = with_matches(site([(u, r, False) for u, r in urls]), pattern)
    assert sum(r[6] for r in rows) == 8
    (stats,) = aggregate_domains(rows)
    assert stats.matched == 8
    assert {(p.prefix, p.matched) for p in stats.top_paths} == {
        ("/questions", 8), ("/questions/*", 8), ("/users", 0), ("/users/*", 0)}
    out = queue_rows([stats])
    assert [(r["prefix"], r["prefix_matched"], r["suggested_pattern"]) for r in out] == [
        ("/users", 0, "example.org/users/*")]
    # Partly covered stays, with its count: one page of /users matched by an exclude pattern.
    partly = with_matches(rows, matcher("example.org/questions/*", "example.org/users/0/*"))
    (stats,) = aggregate_domains(partly)
    assert [(r["prefix"], r["prefix_matched"], r["prefix_pages"]) for r in queue_rows([stats])] == [("/users", 1, 4)]
    # Pasting the suggestion covers the rest: the domain leaves the queue.
    done = with_matches(rows, matcher("example.org/questions/*", out[0]["suggested_pattern"]))
    assert queue_rows(aggregate_domains(done)) == []


def test_a_pattern_that_matches_nothing_keeps_the_domain():
    rows = site([(f"https://example.org/questions/{n}/s", True, False) for n in range(8)])
    typo = with_matches(rows, matcher("exmaple.org/questions/*"))  # the host misspelt: 0 pages
    assert not any(r[6] for r in typo)
    (stats,) = aggregate_domains(typo)
    assert stats.matched == 0
    out = queue_rows([stats])
    assert [(r["domain"], r["host"], r["prefix"], r["prefix_matched"]) for r in out] == [
        ("example.org", "example.org", "/questions", 0)]
    right = with_matches(rows, matcher(out[0]["suggested_pattern"]))
    assert queue_rows(aggregate_domains(right)) == []


def test_queue_moves_past_covered_top_paths():
    # Three sections, top_prefixes=2: once the two biggest are covered, the third comes up
    # instead of the domain leaving the queue.
    spec = ([(f"https://example.org/a/{n}/", True) for n in range(6)]
            + [(f"https://example.org/b/{n}/", True) for n in range(5)]
            + [(f"https://example.org/c/{n}/", True) for n in range(4)])
    rows = with_matches(site([(u, r, False) for u, r in spec]), matcher("example.org/a/*", "example.org/b/*"))
    (stats,) = aggregate_domains(rows, top_prefixes=2)
    assert [p.prefix for p in stats.top_paths] == ["/a", "/a/*"]
    assert [(r["prefix"], r["suggested_pattern"]) for r in queue_rows([stats])] == [("/c", "example.org/c/*")]


def test_queue_ranks_only_domains_that_still_have_rows():
    big = site([(f"https://big.org/q/{n}/s", True, True) for n in range(9)], "big.org")
    small = site([(f"https://small.org/q/{n}/s", n < 5, False) for n in range(7)], "small.org")
    out = queue_rows(aggregate_domains(big + small))
    assert {(r["domain"], r["priority"]) for r in out} == {("small.org", 1)}


def test_suggested_patterns_on_real_urls_are_clean_and_match(rows):
    # Every domain flagged, every (host, prefix) kept: each suggestion lints clean, and matches
    # its examples and every page counted under its row.
    stats = aggregate_domains(rows, min_fraction=-1.0, min_pages=1, top_prefixes=10**6)
    paths = [(s, p) for s in stats for p in s.top_paths]
    assert len(paths) > 1000 and all(s.flagged for s in stats)
    patterns: dict[tuple[str, str], str] = {}
    for _, path in paths:
        pattern = path.pattern()
        assert pattern and check_pattern(pattern) is None, (path.host, path.prefix, pattern)
        patterns[path.host, path.prefix] = pattern
    matchers = {pattern: matcher(pattern) for pattern in set(patterns.values())}
    for _, path in paths:
        compiled = matchers[patterns[path.host, path.prefix]]
        for example in path.recalled_examples + path.unrecalled_examples:
            assert compiled.match(example.url) is not None, (patterns[path.host, path.prefix], example.url)
    checked = 0
    for domain, host, url, path, *_ in rows:
        if not domain:
            continue
        for prefix in set(path_prefixes(path)):
            compiled = matchers[patterns[strip(host), prefix]]
            assert compiled.match(url) is not None, (patterns[strip(host), prefix], url)
            checked += 1
    assert checked > len(rows) // 2
    # The queue over the same stats: one row per pattern within a domain, all lint-clean.
    out = queue_rows(stats)
    assert all(r["suggested_pattern"] and check_pattern(r["suggested_pattern"]) is None for r in out)
    per_domain = defaultdict(list)
    for r in out:
        per_domain[r["domain"]].append(r["suggested_pattern"])
    assert all(len(set(v)) == len(v) for v in per_domain.values())


def test_path_stats_fields():
    path = PathStats("example.org", "/q", pages=3, recalled=2, matched=1)
    assert (path.fraction, path.covered, path.pattern()) == (2 / 3, False, "example.org/q/*")
    assert path.to_row() == {"host": "example.org", "prefix": "/q", "pages": 3, "recalled": 2, "matched": 1}
