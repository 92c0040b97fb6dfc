"""Scoring every kept page in Spark with a fastText model trained on real texts (issue 4 building block)."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pyarrow.parquet as pq

from jobs import dedup as dedup_job
from jobs import ingest as ingest_job
from jobs import score as score_job
from pipeline.classify import FastTextParams, load_model, roc_auc, score_texts, train
from pipeline.config import load_settings
from tests.conftest import data_path


def test_scores_sidecar_equals_in_process_scores_and_is_reproducible(tmp_path, spark_factory):
    settings = load_settings(None, ["extract.timeout_s=20", "ingest.log_every_s=600"])
    warcs = [data_path("warc_repackaged", "bookofproofs_pages", "bookofproofs_pages.warc.gz"),
             data_path("warc_repackaged", "trafilatura_eval", "trafilatura_eval.warc.gz")]
    ingest_job.run(",".join(map(str, warcs)), str(tmp_path / "pages"), settings, factory=spark_factory)
    dedup = dedup_job.run(str(tmp_path / "pages"), str(tmp_path / "dedup"), settings, factory=spark_factory)

    # Positives: bookofproofs sources NOT in the WARC (SOURCE.md: disjoint); negatives: news and
    # forum texts whose pages are in other WARCs. Nothing scored here was trained on.
    with gzip.open(data_path("math_text", "bookofproofs_markdown", "bookofproofs_markdown.jsonl.gz"), "rt") as fh:
        positives = [(f"bop:{i}", json.loads(line)["text"]) for i, line in enumerate(fh)]
    negatives = [(r["id"], r["text"]) for r in map(json.loads, data_path(
        "general_text", "web_article_clean_texts.jsonl").read_text().splitlines())]
    model = str(tmp_path / "model.bin")
    train(positives[: len(negatives)], negatives, FastTextParams(bucket=50_000, epoch=20, dim=64), model)

    stats = score_job.run(str(tmp_path / "pages"), str(tmp_path / "dedup"), model, str(tmp_path / "scores"),
                          settings, factory=spark_factory)
    assert stats["pages_scored"] == dedup["kept"]
    scores = pq.read_table(tmp_path / "scores").to_pylist()
    # The Spark job must give exactly what the model gives in this process, page by page.
    pages = {r["id"]: r for r in pq.read_table(tmp_path / "pages", columns=["id", "url", "text"]).to_pylist()}
    expected = score_texts(load_model(model), [pages[r["id"]]["text"] for r in scores])
    assert np.array_equal(np.array([r["score"] for r in scores], dtype=np.float32), expected)
    assert [r["id"] for r in scores] != [] and len({r["id"] for r in scores}) == len(scores)
    # Reported, not asserted: a model trained on a few hundred Markdown sources transfers poorly
    # to rendered pages in other languages (measured AUC 0.74 here, 0.64 without the biographies);
    # held-out quality on the training distribution is asserted in test_classify.py.
    truth = np.array(["bookofproofs.github.io/branches/" in pages[r["id"]]["url"] for r in scores])
    print(f"scored {len(scores)} pages, {truth.sum()} math; AUC {roc_auc(truth, expected):.4f}")

    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "scores").glob("*.parquet")}
    score_job.run(str(tmp_path / "pages"), str(tmp_path / "dedup"), model, str(tmp_path / "scores"),
                  settings, factory=spark_factory)
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (tmp_path / "scores").glob("*.parquet")}
