"""The classifier loop end to end on real pages (issue 4): flagging, annotation, iteration 2, corpus."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from jobs import iterate
from pipeline.config import load_settings
from pipeline.domains import read_queue_tsv
from tests.conftest import data_path

WARCS = ("bookofproofs_pages", "scrapinghub_article_extraction_benchmark", "magic_html_benchmark", "trafilatura_eval")


def _labels() -> dict[str, str]:
    """url -> math | math_history_biography | nonmath, from the real pages' meta sidecars."""
    labels = {}
    for name in WARCS:
        for line in data_path("warc_repackaged", name, f"{name}.meta.jsonl").read_text().splitlines():
            row = json.loads(line)
            labels[row["url"]] = row.get("label_stager") or "nonmath"
    return labels


def _recalled_labels(work, n: int, labels: dict[str, str]) -> Counter:
    urls = {r["id"]: r["url"] for r in pq.read_table(work / "pages", columns=["id", "url"]).to_pylist()}
    ids = pq.read_table(work / f"iter-{n:02d}" / "recalled").column("id").to_pylist()
    return Counter(labels.get(urls[i], "other") for i in ids)


def _settings(tmp_path, annotation_dir):
    warcs = ",".join(str(data_path("warc_repackaged", n, f"{n}.warc.gz")) for n in WARCS)
    return load_settings(None, [
        f"input={warcs}", "spark.master=local[2]", "extract.timeout_s=20", "ingest.log_every_s=600",
        f"classify.seed_corpus={data_path('math_text', 'bookofproofs_markdown')}",
        "classify.max_seed_docs=1000", "classify.dim=64", "classify.bucket=50000",
        # The crawl here is 74% one math site, so the paper's "random pages" negatives are mostly
        # math and iteration 1's scores rank poorly; a top-N recall still reaches the math site.
        "recall.rule=top_pages", "recall.top_pages=800",
        f"annotation.dir={annotation_dir}",
        f"decontaminate.benchmarks_root={data_path('benchmarks')}",
    ])


def test_loop_flags_the_math_site_and_annotation_makes_iteration_2_recall_more(tmp_path, spark_factory, capsys):
    spark_factory.stop()  # iterate starts (and stops) its own session
    labels = _labels()
    work, annotation = tmp_path / "work", tmp_path / "annotation"
    settings = _settings(tmp_path, annotation)

    # Iteration 1: no annotation yet.
    first = iterate.run(settings, str(work), iterations=1)
    assert first["last_iteration"] == 1
    state = json.loads((work / "state.json").read_text())
    train = state["steps"]["iter-01/train"]["summary"]
    # Held-out seed (bookofproofs Markdown) vs held-out random crawl pages, measured with these
    # settings: P 0.607, R 1.0 at 0.5 (3 epochs leave the scores close to 0.5), AUC 0.999.
    print("iteration 1 held-out:", {k: train[k] for k in ("precision", "recall", "auc")})
    assert train["precision"] >= 0.55 and train["recall"] >= 0.95 and train["auc"] >= 0.98, train
    domains = {r["domain"]: r for r in pq.read_table(work / "iter-01" / "domains").to_pylist()}
    flagged = {d for d, r in domains.items() if r["flagged"]}
    assert "bookofproofs.github.io" in flagged
    news = {d for d, r in domains.items() if d not in ("bookofproofs.github.io", "unknown-url.invalid")}
    assert not flagged & news, f"non-math domains flagged: {flagged & news}"
    queue = read_queue_tsv(work / "iter-01" / "queue.tsv")
    assert queue[0]["domain"] == "bookofproofs.github.io" and queue[0]["priority"] == "1"
    prefixes = {r["prefix"] for r in queue if r["domain"] == "bookofproofs.github.io"}
    assert {"/branches", "/history"} <= prefixes
    assert (annotation / "queue" / "iter-01.tsv").read_bytes() == (work / "iter-01" / "queue.tsv").read_bytes()
    first_math = _recalled_labels(work, 1, labels)["math"]

    # An annotator marks the math section; the loop picks it up on the next run.
    (annotation / "url_patterns").mkdir(parents=True)
    (annotation / "url_patterns" / "bop.tsv").write_text(
        "# bookofproofs: the branches are math, the history pages are biographies\n"
        "bookofproofs.github.io/branches/*\tmath\ttester\tfrom the iter-01 queue\n")
    second = iterate.run(settings, str(work), iterations=2)
    state = json.loads((work / "state.json").read_text())
    patterns = state["steps"]["iter-01/patterns"]["summary"]
    matches = pq.read_table(work / "iter-01" / "matches").to_pylist()
    urls = {r["id"]: r["url"] for r in pq.read_table(work / "pages", columns=["id", "url"]).to_pylist()}
    assert {urls[m["id"]].split("/")[3] for m in matches} == {"branches"}
    unrecalled = [m for m in matches if not m["recalled"]]
    assert patterns["additions"] == len(unrecalled) > 0
    seed2 = pq.read_table(work / "iter-02" / "seed").to_pylist()
    added = {r["id"] for r in seed2 if r["source"] == "pattern:bop.tsv:2"}
    assert added == {m["id"] for m in unrecalled}
    assert Counter(r["source"] for r in seed2)["initial"] == 1000
    # pattern pages are never sampled as negatives
    negatives = set(pq.read_table(work / "iter-02" / "negatives").column("id").to_pylist())
    assert not negatives & {m["id"] for m in matches}

    second_math = _recalled_labels(work, 2, labels)["math"]
    print(f"true math pages recalled: iteration 1 {first_math}, iteration 2 {second_math}")
    assert second_math > first_math + 100
    assert second["converged"]

    selected = pq.read_table(work / "selected").to_pylist()
    by = Counter(r["selected_by"] for r in selected)
    branch_ids = {m["id"] for m in matches}
    assert branch_ids <= {r["id"] for r in selected}  # every annotated math page is selected
    assert by["score"] + by["pattern"] == len(selected) == second["select"]["pages"]
    assert all(r["source"] == "pattern:bop.tsv:2" for r in selected if r["selected_by"] == "pattern")
    # then decontaminated (real benchmarks) and tokenized
    decontam = state["steps"]["decontaminate"]["summary"]
    assert decontam["invariant_holds"] and decontam["pages_in"] == len(selected)
    corpus_ids = set(pq.read_table(work / "corpus").column("id").to_pylist())
    assert corpus_ids <= {r["id"] for r in selected}
    assert len(corpus_ids) == decontam["pages_out"]
    tokenized = state["steps"]["tokenize"]["summary"]
    assert tokenized["documents"] == len(corpus_ids) and tokenized["tokens"] > 0
    report = (work / "iter-02" / "report.html").read_text()
    assert "bookofproofs.github.io" in report and "pattern:bop.tsv:2" in report


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


@pytest.mark.parametrize("stop_after", ["iter-02/seed"])
def test_killed_loop_resumes_to_the_same_outputs(tmp_path, spark_factory, stop_after):
    spark_factory.stop()
    overrides = ["spark.master=local[2]", "classify.dim=32", "classify.bucket=20000", "classify.epoch=10",
                 f"annotation.dir={tmp_path / 'ann'}"]
    settings = load_settings(None, overrides)
    (tmp_path / "ann" / "url_patterns").mkdir(parents=True)
    (tmp_path / "ann" / "url_patterns" / "forum.tsv").write_text(
        "mathforum.example.org/questions/*\tmath\ttester\n*.example.edu/*\tmath\ttester\n"
        "calc-notes.example.edu/about\texclude\ttester\n")
    whole = iterate.run(settings, str(tmp_path / "whole"), iterations=2)
    with pytest.raises(iterate.StopRequested):
        iterate.run(settings, str(tmp_path / "cut"), iterations=2, stop_after=stop_after)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert stop_after in state["steps"] and "select" not in state["steps"]
    resumed = iterate.run(settings, str(tmp_path / "cut"), iterations=2)
    assert resumed["skipped"] > 0 and resumed["ran"] < whole["ran"]

    def outputs(root):
        # pages/ holds each WARC's absolute path (the two runs' samples live in different
        # folders); everything from dedup on must be byte-identical.
        files = sorted(p for p in root.rglob("*") if p.is_file() and not {"sample", "pages"} & set(p.parts)
                       and p.suffix in (".parquet", ".bin", ".tsv"))
        return {str(p.relative_to(root)): p.read_bytes() for p in files}

    a, b = outputs(tmp_path / "whole"), outputs(tmp_path / "cut")
    assert a.keys() == b.keys() and any(k.startswith("corpus/") for k in a)
    assert any(k.startswith("shards/") for k in a) and any(k.startswith("decontam/") for k in a)
    assert [k for k in a if a[k] != b[k]] == []
    for name in ("iter-01/metrics.json", "iter-02/metrics.json"):
        assert json.loads((tmp_path / "whole" / name).read_text()) == json.loads((tmp_path / "cut" / name).read_text())


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
    from jobs.loop import rank_pages

    session = spark_factory.get()
    rows = [(f"p{i:03d}", float(s), t) for i, (s, t) in enumerate(
        [(0.9, 10), (0.5, 5), (0.9, 7), (0.1, 100), (0.7, 1), (0.5, 3)] * 40)]
    df = session.createDataFrame(rows, "id string, score float, tokens long").repartition(5)
    ranked = {r["id"]: r for r in rank_pages(session, df).collect()}
    expected = sorted(rows, key=lambda r: (-r[1], r[0]))
    before = 0
    for rank, (page_id, _, tokens) in enumerate(expected, 1):
        assert (ranked[page_id]["rank"], ranked[page_id]["tokens_before"]) == (rank, before)
        before += tokens
