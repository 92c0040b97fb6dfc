"""Domain statistics, flagging and the annotation queue, on the real URLs of the repackaged WARCs.

Stand-ins for the classifier: bookofproofs' `label_stager == "math"` is the recall rule (its
`/branches` pages are math, its `/history` pages are biographies), every other page (news,
blogs, forums) is not recalled; scores are a fixed hash of the URL, above 0.5 exactly for the
recalled pages.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.domains import (
    QUEUE_COLUMNS,
    DomainAccumulator,
    aggregate_domain,
    aggregate_domains,
    arrow_schema,
    domains_table,
    escape_field,
    is_id_segment,
    iter_sorted_domains,
    path_prefixes,
    queue_order,
    queue_rows,
    read_queue_tsv,
    spark_combiners,
    unescape_field,
    write_queue_tsv,
)
from pipeline.ingest import split_url
from tests.conftest import data_path

BOOK = "bookofproofs.github.io"
DESIGN_COLUMNS = ["domain", "pages", "recalled", "recall_fraction", "flagged", "top_paths"]


def fake_score(url: str, recalled: bool) -> float:
    unit = int(hashlib.sha1(url.encode()).hexdigest()[:8], 16) / 2**32
    return round(0.5 + 0.5 * unit if recalled else 0.5 * unit, 6)


def make_row(url: str, recalled: bool) -> tuple:
    _, domain, path = split_url(url)
    return (domain, url, path, fake_score(url, recalled), recalled)


@pytest.fixture(scope="module")
def sidecars() -> dict[str, list[dict]]:
    folder = data_path("warc_repackaged")
    found = {}
    for meta in sorted(folder.glob("*/*.meta.jsonl")):
        with meta.open(encoding="utf-8") as fh:
            found[meta.parent.name] = [json.loads(line) for line in fh if line.strip()]
    assert "bookofproofs_pages" in found and len(found) >= 4
    return found


@pytest.fixture(scope="module")
def rows(sidecars) -> list[tuple]:
    out = []
    for name, records in sidecars.items():
        for rec in records:
            recalled = name == "bookofproofs_pages" and rec["label_stager"] == "math"
            out.append(make_row(rec["url"], recalled))
    return out


@pytest.fixture(scope="module")
def stats(rows):
    return aggregate_domains(rows)


def by_domain(stats) -> dict:
    return {s.domain: s for s in stats}


def paths_of(domain_stats) -> dict:
    return {p.prefix: p for p in domain_stats.top_paths}


# --- path prefixes ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    ("/questions/12345/slug", ("/questions", "/questions/*")),
    ("/questions/12345", ("/questions", "/questions/*")),
    ("/branches/algebra/0-is-less-than-1-in-ordered-fields.html", ("/branches", "/branches/algebra")),
    ("/history/20th-century/noether.html", ("/history", "/history/20th-century")),
    ("/about.html", ("/about.html", "/about.html")),
    ("/", ("/", "/")),
    ("", ("/", "/")),
    ("//wiki//Main/", ("/wiki", "/wiki/Main")),
    ("/2024/05/11/slug", ("/*", "/*/*")),
    ("/a/12345.html", ("/a", "/a/*")),
    ("/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html", ("/*", "/*/*")),
    ("/item/550e8400-e29b-41d4-a716-446655440000/x", ("/item", "/item/*")),
    ("/a/deadbeefcafe", ("/a", "/a/deadbeefcafe")),  # letters only: a word, not an id
    ("/a/1a2b3c4d", ("/a", "/a/*")),
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
    assert prefixes["https://www.zhihu.com/question/586816837/answer/2916374892"] == ("/question", "/question/*")
    assert prefixes["https://www.qidian.com/chapter/1034360760/720619827/"] == ("/chapter", "/chapter/*")
    assert prefixes["http://www.he.news.cn/20240515/d59c39d4160a4fe4b3084c3e4abfb450/c.html"] == ("/*", "/*/*")
    assert prefixes["https://sportowefakty.wp.pl/zuzel/1120737/zuzel-dominacja-polakow-w-niemczech-dul-i-gala-nie-przegrali-zadnego-wyscigu"] == ("/zuzel", "/zuzel/*")
    # Pages of one section under different ids collapse into one prefix and are counted together.
    questions = [(f"https://mathoverflow.net/questions/{n}/slug-{n}", f"/questions/{n}/slug-{n}", n / 100, n % 2 == 0)
                 for n in range(100, 110)] + [("https://mathoverflow.net/users/7/x", "/users/7/x", 0.1, False)]
    got = aggregate_domain("mathoverflow.net", questions)
    assert [(p.prefix, p.pages, p.recalled) for p in got.top_paths] == [
        ("/questions", 10, 5), ("/questions/*", 10, 5), ("/users", 1, 0), ("/users/*", 1, 0)]


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
    history = [r for r in book if not r[4]][:450]
    branches = [r for r in book if r[4]][:50]
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
            members = [r for r in book_rows if path.prefix in path_prefixes(r[2])]
            assert len(members) == path.pages
            for recalled, got in ((True, path.recalled_examples), (False, path.unrecalled_examples)):
                pool = sorted((-r[3], r[1]) for r in members if r[4] == recalled)
                assert [(e.url, e.score) for e in got] == [(url, -neg) for neg, url in pool[:k]]
                assert len(got) == min(k, len(pool))


def test_example_ties_and_repeated_urls():
    acc = DomainAccumulator("x.org", examples=2)
    for url, score in [("https://x.org/a/3", 0.9), ("https://x.org/a/1", 0.9), ("https://x.org/a/2", 0.9),
                       ("https://x.org/a/1", 0.95), ("https://x.org/a/1", 0.1), ("https://x.org/a/4", None)]:
        acc.add(url, "/a/" + url[-1], score, True)
    (path,) = [p for p in acc.finish(min_pages=1).top_paths if p.prefix == "/a"]
    assert [(e.url, e.score) for e in path.recalled_examples] == [("https://x.org/a/1", 0.95),
                                                                  ("https://x.org/a/2", 0.9)]


def test_prefix_count_is_bounded(rows):
    book_rows = [r for r in rows if r[0] == BOOK]
    acc = DomainAccumulator(BOOK, examples=2, max_prefixes=10)
    for _, url, path, score, recalled in book_rows:
        acc.add(url, path, score, recalled)
        assert len(acc.prefixes) <= 20
    got = acc.finish()
    assert got.approximate and (got.pages, got.recalled) == (2500, 2000)  # totals stay exact
    assert (paths_of(got)["/branches"].pages, paths_of(got)["/branches"].recalled) == (2000, 2000)
    # Unique slugs under one section: memory stays at the cap, the section is still counted.
    many = DomainAccumulator("big.example", max_prefixes=50)
    for i in range(5000):
        many.add(f"https://big.example/wiki/Page_{i}", f"/wiki/Page_{i}", i / 5000, i % 3 == 0)
        assert len(many.prefixes) <= 100
    wiki = paths_of(many.finish())["/wiki"]
    assert (wiki.pages, wiki.recalled) == (5000, 1667)
    assert [e.url for e in wiki.recalled_examples] == [f"https://big.example/wiki/Page_{i}" for i in (4998, 4995, 4992)]


# --- determinism and partial aggregation ---------------------------------------------------------

def test_shuffled_input_gives_identical_output(rows, stats, tmp_path):
    shuffled = list(rows)
    random.Random(20240501).shuffle(shuffled)
    again = aggregate_domains(shuffled)
    assert again == stats  # dataclass equality: every count, prefix and example
    assert [s.to_row() for s in again] == [s.to_row() for s in stats]
    write_queue_tsv(queue_rows(stats, set()), tmp_path / "a.tsv")
    write_queue_tsv(queue_rows(again, set()), tmp_path / "b.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()


def test_merged_partials_equal_one_pass(rows, stats):
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)
    parts: list[dict[str, DomainAccumulator]] = []
    for chunk in (shuffled[i::3] for i in range(3)):
        accs: dict[str, DomainAccumulator] = {}
        for domain, url, path, score, recalled in chunk:
            if domain:
                accs.setdefault(domain, DomainAccumulator(domain)).add(url, path, score, recalled)
        parts.append(pickle.loads(pickle.dumps(accs)))  # as Spark ships them between stages
    merged: dict[str, DomainAccumulator] = {}
    for part in reversed(parts):
        for domain, acc in part.items():
            if domain in merged:
                merged[domain].merge(acc)
            else:
                merged[domain] = acc
    assert [merged[d].finish() for d in sorted(merged)] == stats

    create, add, merge = spark_combiners()
    halves: list[dict[str, DomainAccumulator]] = [{}, {}]  # combineByKey: two map-side partitions
    for i, row in enumerate(shuffled):
        combined = halves[i % 2]
        if row[0]:
            combined[row[0]] = add(combined[row[0]], row) if row[0] in combined else create(row)
    left, right = halves
    for domain, acc in right.items():
        left[domain] = merge(left[domain], acc) if domain in left else acc
    assert [left[d].finish() for d in sorted(left)] == stats

    in_order = sorted(rows, key=lambda r: r[0])
    assert list(iter_sorted_domains(in_order)) == stats


def test_spark_combine_by_key(rows, stats, spark_factory):
    spark = spark_factory.get()
    create, add, merge = spark_combiners()
    rdd = spark.sparkContext.parallelize(rows, 4).filter(lambda r: r[0]).map(lambda r: (r[0], r))
    got = rdd.combineByKey(create, add, merge, numPartitions=3).map(lambda kv: kv[1].finish()).collect()
    assert sorted(got, key=lambda s: s.domain) == stats


# --- table and queue ------------------------------------------------------------------------------

def test_domains_table_schema(stats, tmp_path):
    assert arrow_schema().names == DESIGN_COLUMNS
    row = by_domain(stats)[BOOK].to_row()
    assert list(row) == DESIGN_COLUMNS
    assert set(row["top_paths"][0]) == {"prefix", "pages", "recalled"}
    table = domains_table(stats)
    assert table.schema == arrow_schema() and table.num_rows == len(stats)
    pq.write_table(table, tmp_path / "domains.parquet", compression="zstd")
    assert pq.read_table(tmp_path / "domains.parquet").to_pylist() == [s.to_row() for s in stats]


def test_queue_is_sorted_as_documented(sidecars, rows, tmp_path):
    # A noisier recall rule: about half of the non-math pages recalled too, so that many small
    # domains are flagged with different counts and fractions.
    noisy = [r if r[0] == BOOK else make_row(r[1], fake_score(r[1], False) < 0.25) for r in rows]
    stats = aggregate_domains(noisy, min_pages=2, top_prefixes=4)
    flagged = [s for s in stats if s.flagged]
    assert len(flagged) > 20
    skip = {flagged[3].domain, flagged[7].domain.upper()}
    rows_out = queue_rows(stats, skip)
    expected = sorted((s for s in flagged if s.domain.lower() not in {d.lower() for d in skip}), key=queue_order)
    seen = [r["domain"] for r in rows_out]
    assert list(dict.fromkeys(seen)) == [s.domain for s in expected]
    assert rows_out[0]["domain"] == BOOK and rows_out[0]["prefix"] == "/branches"
    keys = [(-s.recalled, -s.recall_fraction, s.domain) for s in expected]
    assert keys == sorted(keys)
    assert len({s.recalled for s in expected}) > 1 and len({s.recall_fraction for s in expected}) > 1
    for rank, domain in enumerate(expected, start=1):
        mine = [r for r in rows_out if r["domain"] == domain.domain]
        assert {r["priority"] for r in mine} == {rank}
        assert [r["prefix"] for r in mine] == [p.prefix for p in domain.top_paths]
    assert all(list(r) == list(QUEUE_COLUMNS) for r in rows_out)

    path = tmp_path / "queue.tsv"
    assert write_queue_tsv(rows_out, path) == len(rows_out)
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
    # Annotated domains leave the queue; an empty queue still has its header.
    assert queue_rows(stats, {s.domain for s in flagged}) == []
    write_queue_tsv([], tmp_path / "empty.tsv")
    assert (tmp_path / "empty.tsv").read_text() == "\t".join(QUEUE_COLUMNS) + "\n"


def test_tsv_cannot_be_broken_by_hostile_urls(rows, tmp_path: Path):
    hostile_url = "https://evil.example/sec\ttion/a b\nc\r\\d\x00?q=1\t2"
    _, domain, path = split_url(hostile_url)
    hostile = [
        (domain, hostile_url, path, 0.99, True),
        ("evil.example", "https://evil.example/x", "/ta\tb/new\nline\\", 0.98, True),  # raw path as given
        ("evil.example", "https://evil.example/\u2028z", "/nel\x85/\u2028", 0.97, True),
        ("evil.example", "https://evil.example/y", "/plain", 0.1, False),
    ]
    stats = aggregate_domains([r for r in rows if r[0] == BOOK] + hostile, min_pages=4)
    out = queue_rows(stats, set())
    assert {r["domain"] for r in out} == {BOOK, "evil.example"}
    target = tmp_path / "queue.tsv"
    write_queue_tsv(out, target)
    lines = target.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 2 == len(out)
    assert all(line.count(b"\t") == len(QUEUE_COLUMNS) - 1 for line in lines[:-1])
    text = target.read_text(encoding="utf-8")
    assert text.splitlines() == text.split("\n")[:-1]  # no \r, NEL, U+2028 ... anywhere
    assert "\x00" not in text
    back = read_queue_tsv(target)
    assert back == [{k: str(v) for k, v in r.items()} for r in out]
    evil = [r for r in back if r["domain"] == "evil.example"]
    assert "/ta\tb" in {r["prefix"] for r in evil} and "/ta\tb/new\nline\\" in {r["prefix"] for r in evil}
    examples = " ".join(r["recalled_examples"] for r in evil)
    assert "0.9900:https://evil.example/sec%09tion/a%20b%0Ac%0D\\d%00?q=1%092" in examples.split(" ")
    assert "/nel\x85/\u2028" in {r["prefix"] for r in evil}
    for text in ("a\tb", "x\\ty", "new\nline\r", "\\", "plain", "\\x41\x00\x85\u2028\\u2028", "ü\U0001d400"):
        assert unescape_field(escape_field(text)) == text
