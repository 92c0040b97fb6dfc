"""`mathmine decontaminate` and `mathmine tokenize` on Spark: planted real benchmark problems in real
page texts are removed and reported; shards from the Spark job load with datasets and pyarrow."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cli import main
from tests.conftest import data_path


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_decontaminate_then_tokenize_with_the_cli(tmp_path, spark_factory, capsys):
    spark_factory.stop()
    texts = [r["text"] for r in _rows(data_path("general_text", "web_article_clean_texts.jsonl"))][:60]
    gsm8k = _rows(data_path("benchmarks", "gsm8k", "test.jsonl"))
    cmath = _rows(data_path("benchmarks", "cmath", "cmath_dev.jsonl"))
    planted = {
        "page-003": gsm8k[5]["question"].upper(),          # whole question, case changed
        "page-010": "  ".join(cmath[7]["input"]),           # Chinese, spaces between characters
    }
    rows = []
    for i, text in enumerate(texts):
        page_id = f"page-{i:03d}"
        lines = text.split("\n")
        if page_id in planted:
            lines.insert(1, planted[page_id])
        rows.append({"id": page_id, "url": f"https://news.example/{i}", "domain": "news.example",
                     "text": "\n".join(lines), "selected_by": "score"})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "selected.parquet")
    (tmp_path / "selected").mkdir()
    (tmp_path / "selected.parquet").rename(tmp_path / "selected" / "part-0.parquet")

    args = ["decontaminate", "--corpus", str(tmp_path / "selected"), "--out", str(tmp_path / "dc"),
            "--set", f"decontaminate.benchmarks_root={data_path('benchmarks')}", "--set", "spark.master=local[2]"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "accounting balanced" in out
    hits = pq.read_table(tmp_path / "dc" / "hits").to_pylist()
    by_page = {(h["id"], h["benchmark"], h["problem_id"]) for h in hits}
    assert ("page-003", "gsm8k", "5") in by_page and ("page-010", "cmath", "7") in by_page
    print("hits:", sorted(by_page))
    assert {h["id"] for h in hits} <= {"page-003", "page-010"} | {p for p, _, _ in by_page}
    corpus = {r["id"]: r["text"] for r in pq.read_table(tmp_path / "dc" / "corpus").to_pylist()}
    original = {r["id"]: r["text"] for r in rows}
    for page_id, leak in planted.items():
        assert leak not in corpus[page_id]
        assert corpus[page_id] == original[page_id].replace("\n" + leak, "", 1)
    report = (tmp_path / "dc" / "report.md").read_text()
    assert "| gsm8k |" in report and "news.example (1)" in report
    stats = json.loads((tmp_path / "dc" / "_stats.json").read_text())
    assert stats["pages_in"] == 60 == stats["pages_out"] + stats["pages_dropped"]["decontam_too_short"]

    args = ["tokenize", "--corpus", str(tmp_path / "dc" / "corpus"), "--out", str(tmp_path / "shards"),
            "--set", "tokenize.shard_tokens=5000", "--set", "tokenize.shuffle=true", "--set", "spark.master=local[2]"]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    files = sorted((tmp_path / "shards").glob("train-*.parquet"))
    assert len(files) == manifest["totals"]["shards"] > 1
    assert [f.name for f in files] == [f"train-{i:05d}-of-{len(files):05d}.parquet" for i in range(len(files))]
    from datasets import load_dataset

    loaded = load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    assert len(loaded) == manifest["totals"]["rows"] == len(corpus)
    assert sum(loaded["num_tokens"]) == manifest["totals"]["tokens"]
    meta = pq.read_schema(files[0]).metadata
    assert meta[b"tokenizer_sha256"].decode() == manifest["tokenizer"]["sha256"]
    from pipeline.tokenize import load_tokenizer, verify_shards

    assert verify_shards(str(tmp_path / "shards")) == []
    tok, info = load_tokenizer(str(tmp_path / "shards-tokenizer"))
    first = pq.read_table(files[0]).to_pylist()[0]
    assert first["input_ids"][-1] == info.eos_id
    assert tok.decode(first["input_ids"][:-1], skip_special_tokens=False) == corpus[first["doc_id"]]
