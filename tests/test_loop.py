"""The classifier loop end to end on real pages (issues 4 and 10): flagging, annotation, iteration 2, corpus."""

from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from jobs import iterate
from pipeline.domains import read_queue_tsv
from tests.bench.loop_crawl import build_labelled_crawl, read_labels
from tests.bench.loop_eval import eval_settings, run_loop
from tests.conftest import data_path, step_stats


def _recalled_math(work, n: int, labels: dict[str, bool]) -> tuple[int, int]:
    """(true math pages, pages) iteration n recalled, by the crawl's labels."""
    urls = {r["id"]: r["url"] for r in pq.read_table(work / "pages", columns=["id", "url"]).to_pylist()}
    ids = pq.read_table(work / f"iter-{n:02d}" / "recalled").column("id").to_pylist()
    return sum(labels.get(urls[i], False) for i in ids), len(ids)


@pytest.fixture(scope="module")
def small_eval(tmp_path_factory, spark_factory):
    """The loop evaluation (`make eval-loop`) on a smaller crawl of the same real pages: 268 pages,
    42 math (15.7%); seed: Stacks Project sections; negatives: real non-math texts and random crawl
    pages; the simulated annotator reads iteration 1's queue."""
    spark_factory.stop()  # iterate starts (and stops) its own session
    data_path("warc_repackaged")  # skips (fails in CI) where ../shared/data is absent
    root = tmp_path_factory.mktemp("loop-eval")
    crawl = root / "crawl"
    built = build_labelled_crawl(crawl, 40, other_fraction=0.2)
    result = run_loop(crawl, root / "work", root / "annotation", rounds=2)
    return root, built, result


def test_annotations_make_iteration_2_recall_more_real_math(small_eval):
    """Measured: iteration 1 recalls 14 of the 42 math pages (precision 25.9%), iteration 2 38 (70.4%)."""
    root, built, result = small_eval
    assert built["math_pages"] == 42 and built["math_share"] < 0.2
    labels = read_labels(root / "crawl" / "labels.jsonl")
    work, annotation = root / "work", root / "annotation"

    # Iteration 1 flagged bookofproofs; the annotator pasted the queue's suggested pattern for its
    # math section, and that row has now left the queue (all its pages are matched).
    domains = {r["domain"]: r for r in pq.read_table(work / "iter-01" / "domains").to_pylist()}
    assert domains["bookofproofs.github.io"]["flagged"]
    assert result["patterns"][0].split("\t")[0] == "bookofproofs.github.io/branches/*"
    queue = read_queue_tsv(annotation / "queue" / "iter-01.tsv")
    assert "bookofproofs.github.io/branches/*" not in {r["suggested_pattern"] for r in queue}

    # The annotator's pattern grows the seed with the unrecalled branch pages, never the biographies.
    patterns = step_stats(work, "iter-01/patterns")
    matches = pq.read_table(work / "iter-01" / "matches").to_pylist()
    urls = {r["id"]: r["url"] for r in pq.read_table(work / "pages", columns=["id", "url"]).to_pylist()}
    assert {urls[m["id"]].split("/")[3] for m in matches} == {"branches"}
    unrecalled = {m["id"] for m in matches if not m["recalled"]}
    assert patterns["additions"] == len(unrecalled) > 0
    assert patterns["per_pattern"][0]["added"] == len(unrecalled)
    seed2 = pq.read_table(work / "iter-02" / "seed").to_pylist()
    assert {r["id"] for r in seed2 if r["source"].startswith("pattern:simulated.tsv:")} == unrecalled
    negatives = set(pq.read_table(work / "iter-02" / "negatives").column("id").to_pylist())
    assert not negatives & {m["id"] for m in matches}  # pattern pages are never negatives again

    first, second = _recalled_math(work, 1, labels), _recalled_math(work, 2, labels)
    print(f"true math pages recalled: iteration 1 {first}, iteration 2 {second}")
    assert first[1] == second[1]  # the same budget (top_pages), so more math is also better precision
    assert second[0] >= first[0] + 10, (first, second)
    assert step_stats(work, "iter-02/recall")["labels"]["recalled_math"] == second[0]
    assert "would train on exactly iteration 2's data" in result["summary"]["converged"]

    # Then selection (recalled + pattern pages), decontamination (real benchmarks), tokenization.
    selected = pq.read_table(work / "selected").to_pylist()
    by = Counter(r["selected_by"] for r in selected)
    assert {m["id"] for m in matches} <= {r["id"] for r in selected}
    assert by["score"] + by["pattern"] == len(selected) == result["summary"]["select"]["pages"]
    decontam = step_stats(work, "decontaminate")
    assert decontam["invariant_holds"] and decontam["pages_in"] == len(selected)
    tokenized = step_stats(work, "tokenize")
    assert tokenized["documents"] == decontam["pages_out"] and tokenized["tokens"] > 0
    report = (work / "iter-01" / "report.html").read_text()
    assert "bookofproofs.github.io" in report and "pattern:simulated.tsv:" in report
    assert "What each pattern line does" in report and "simulated.tsv:3" in report


def test_a_pattern_with_a_typo_is_reported_and_its_domain_stays_queued(small_eval):
    # The same run folder, resumed with only a mistyped pattern: iteration 1's patterns and
    # domains steps are redone (the files changed), nothing before them.
    root, _, _ = small_eval
    annotation = root / "typo-annotation"
    (annotation / "url_patterns").mkdir(parents=True)
    (annotation / "url_patterns" / "typo.tsv").write_text("bookofprofs.github.io/branches/*\tmath\tme\n")
    settings = eval_settings(root / "crawl", annotation, ["recall.rule=top_pages", "recall.top_pages=54"])
    with pytest.raises(iterate.StopRequested):
        iterate.run(settings, str(root / "work"), iterations=1, stop_after="iter-01/domains")
    patterns = step_stats(root / "work", "iter-01/patterns")
    where = f"{annotation / 'url_patterns' / 'typo.tsv'}:1"
    assert patterns["warnings"] == [f"{where}: pattern 'bookofprofs.github.io/branches/*' (math) matches no page "
                                    "of this crawl (a typo in the host or path?)"]
    queue = read_queue_tsv(root / "work" / "iter-01" / "queue.tsv")
    assert "bookofproofs.github.io/branches/*" in {r["suggested_pattern"] for r in queue}  # the typo hides nothing


def test_bad_annotation_file_stops_the_loop_before_it_starts(tmp_path, spark_factory, capsys):
    from jobs.cli import main

    (tmp_path / "ann" / "url_patterns").mkdir(parents=True)
    (tmp_path / "ann" / "url_patterns" / "x.tsv").write_text("example.org/*\tmaths\tme\n")
    code = main(["iterate", "--work", str(tmp_path / "work"), "--set", f"annotation.dir={tmp_path / 'ann'}"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{tmp_path / 'ann' / 'url_patterns' / 'x.tsv'}:1: unknown label" in captured.out
    assert "does not start" in captured.err
    assert not (tmp_path / "work").exists()


def test_seed_file_problems_name_file_and_line_and_the_rest_is_read(tmp_path):
    import gzip

    from pipeline.classify import iter_seed_file, seed_id

    path = tmp_path / "seed.jsonl.gz"
    lines = [b'{"id": 7, "text": "Let $x^2 = 4$."}', b'{"text": "no id here"}', b"not json",
             b'{"title": "no text field"}', b'["a list"]', b'{"text": "caf\xe9"}', b"",
             b'{"text": "   "}', b'{"id": "z", "text": "last good"}']
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    items = list(iter_seed_file(str(path), "text", lambda p: open(p, "rb")))  # noqa: SIM115 - the reader closes it
    good = [i for i in items if not isinstance(i, str)]
    bad = [i for i in items if isinstance(i, str)]
    assert good == [("seed:7", "Let $x^2 = 4$."), (seed_id(None, "no id here"), "no id here"),
                    ("seed:z", "last good")]
    assert [b.split(": ", 1)[0] for b in bad] == [f"{path}:{n}" for n in (3, 4, 5, 6, 8)]
    assert "not JSON" in bad[0] and "missing 'text'" in bad[1] and "JSON object" in bad[2]
    assert "not UTF-8" in bad[3]

    # A truncated gzip keeps the lines before the cut and says where reading stopped.
    data = path.read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) - 20])
    items = list(iter_seed_file(str(tmp_path / "cut.jsonl.gz"), "text", lambda p: open(p, "rb")))  # noqa: SIM115 - the reader closes it
    assert isinstance(items[-1], str) and "unreadable after the last good line" in items[-1]


def test_recall_rules_rank_by_score_then_id(spark_factory):
    from pipeline.spark import ranked_with_totals

    session = spark_factory.get()
    rows = [(f"p{i:03d}", float(s), t) for i, (s, t) in enumerate(
        [(0.9, 10), (0.5, 5), (0.9, 7), (0.1, 100), (0.7, 1), (0.5, 3)] * 40)]
    df = session.createDataFrame(rows, "id string, score float, tokens long").repartition(5)
    ranked = {r["id"]: r for r in ranked_with_totals(df, session).collect()}
    expected = sorted(rows, key=lambda r: (-r[1], r[0]))
    before = 0
    for rank, (page_id, _, tokens) in enumerate(expected, 1):
        assert (ranked[page_id]["rank"], ranked[page_id]["tokens_before"]) == (rank, before)
        before += tokens
