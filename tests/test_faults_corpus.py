"""Hostile corpora for `mathmine decontaminate` and `mathmine tokenize`, built from the real texts under
../shared/data: null and duplicate ids (an error naming the file and rows, for both jobs), the pages
table's tz-aware `fetch_time` column, text that is not valid UTF-8 (lone surrogates and stray bytes
as other writers leave them, a binary `text` column: repaired and counted), and one 5 MB page without
whitespace (the BPE trainer must not stall on it; encoding it must stay near-linear).

The Spark tests share the session of `spark_factory`; the CLI test comes last because the CLI stops
the session it used."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import tokenize as tk
from pipeline.config import load_settings
from pipeline.decontam import BenchmarkSpec, CorpusError
from tests.conftest import ROOT, data_path

UTC = dt.UTC
# How text that is not UTF-8 reaches a Parquet string column: a Java or JSON writer that kept half of
# a surrogate pair (here of U+1F600) as its 3 CESU-8/WTF-8 bytes, and a Latin-1 byte in a UTF-8 page.
LONE_SURROGATE = "\ud83d".encode("utf-8", "surrogatepass")  # b"\xed\xa0\xbd"
LATIN1_E_ACUTE = "é".encode("latin-1")  # b"\xe9"


def _jsonl(*parts: str) -> list[dict]:
    path = data_path(*parts)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def articles() -> list[str]:
    """Real web article texts of at least 400 characters (a few survive removing a leaked line)."""
    return [r["text"] for r in _jsonl("general_text", "web_article_clean_texts.jsonl") if len(r["text"]) >= 400]


@pytest.fixture(scope="module")
def settings():
    return load_settings(None, ["spark.master=local[2]", "tokenize.vocab_size=300",
                                f"decontaminate.benchmarks_root={data_path('benchmarks')}"])


@pytest.fixture(scope="module")
def specs() -> list[tuple[BenchmarkSpec, str]]:
    return [(BenchmarkSpec("gsm8k", "gsm8k/test.jsonl", ("question", "answer"), "en"), str(data_path("benchmarks")))]


def _write(folder: Path, *tables: pa.Table) -> str:
    folder.mkdir(parents=True)
    for i, table in enumerate(tables):
        pq.write_table(table, folder / f"part-{i:05d}.parquet")
    return str(folder)


def _unchecked_strings(raw: list[bytes]) -> pa.Array:
    """A string array holding these bytes as they are, valid UTF-8 or not (what a writer that does
    not validate leaves in a Parquet file; pyarrow's own from-Python path refuses such text)."""
    return pa.array(raw, pa.binary()).view(pa.string())


def _decontaminate(corpus: str, out: Path, settings, specs, factory) -> dict:
    from jobs import decontam

    return decontam.run(corpus, str(out / "corpus"), str(out), settings, specs, [], factory=factory)


def _tokenize(corpus: str, out: Path, settings, factory) -> dict:
    from jobs import shards

    return shards.run(corpus, str(out), settings, tokenizer_dir=str(out) + "-tokenizer", factory=factory)


def _decoded_documents(out: Path) -> dict[str, str]:
    tok, _ = tk.load_tokenizer(str(out) + "-tokenizer")
    rows = [r for f in sorted(out.glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["doc_id"]: tok.decode(r["input_ids"][:-1], skip_special_tokens=False) for r in rows}


# -- 4. null and duplicate ids ------------------------------------------------------------------------
def test_null_and_duplicate_ids_stop_both_jobs_with_one_line_naming_the_rows(
        tmp_path, articles, settings, specs, spark_factory):
    """Before: decontaminate dropped the null-id row and multiplied duplicates in its join, both
    "balanced"; tokenize crashed sorting a None doc_id or wrote a doc_id twice."""
    first = pa.table({"id": ["w-0", None, "w-2", "w-3"], "text": articles[0:4]})
    second = pa.table({"id": ["w-3", "w-5", "w-5", None], "text": articles[4:8]})
    corpus = _write(tmp_path / "corpus", first, second)
    expected = (
        f"{corpus}/part-00000.parquet: 1 row with a null id (at row 1), and 1 more in 1 other file; "
        f"{corpus}/part-00000.parquet: 1 row with a duplicate id ('w-3' at row 3, also in "
        f"{corpus}/part-00001.parquet), and 3 more in 1 other file; a corpus needs one row per id, none null"
    )
    with pytest.raises(CorpusError) as decontam_error:
        _decontaminate(corpus, tmp_path / "dc", settings, specs, spark_factory)
    with pytest.raises(CorpusError) as tokenize_error:
        _tokenize(corpus, tmp_path / "shards", settings, spark_factory)
    assert str(decontam_error.value) == str(tokenize_error.value) == expected  # one rule, one line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # nothing written, no temp folder


# -- 10. the pages table's fetch_time, and text that is not UTF-8 -------------------------------------
def _pages_corpus(folder: Path, texts: list[str], bad: dict[int, bytes]) -> tuple[str, list[dict]]:
    """A corpus as `pages` plus `selected_by` (pipeline.ingest.PAGES_SCHEMA: fetch_time is
    timestamp[us, tz=UTC]), text of the rows in `bad` replaced by those raw bytes."""
    from pipeline.ingest import PAGES_SCHEMA

    rows = []
    for i, text in enumerate(texts):
        rows.append({"id": f"page-{i:03d}", "url": f"https://news.example/{i}", "host": "news.example",
                     "domain": "news.example", "path": f"/{i}", "warc_path": "crawl/x.warc.gz",
                     "warc_offset": 1000 * i, "fetch_time": dt.datetime(2024, 3, 1, 12, i, 7, 123456, tzinfo=UTC),
                     "charset": "utf-8", "html_bytes": 4 * len(text), "text": text, "text_chars": len(text),
                     "math_markup": ["tex"] if i % 2 else []})
    table = pa.Table.from_pylist(rows, PAGES_SCHEMA)
    raw = [bad.get(i, text.encode()) for i, text in enumerate(texts)]
    table = table.set_column(table.schema.get_field_index("text"), "text", _unchecked_strings(raw))
    table = table.append_column("selected_by", pa.array(["score" if i % 3 else "pattern" for i in range(len(texts))]))
    assert table.schema.field("fetch_time").type == pa.timestamp("us", tz="UTC")
    return _write(folder, table), rows


def test_a_pages_table_corpus_with_fetch_time_and_bad_utf8_decontaminates_and_tokenizes(
        tmp_path, articles, settings, specs, spark_factory):
    """Before: decontaminate died with AssertionError converting `fetch_time`, and both jobs died
    in Arrow ("Wrapping ... failed") on the invalid bytes."""
    gsm8k = _jsonl("benchmarks", "gsm8k", "test.jsonl")
    texts = articles[:10]
    lines = texts[3].split("\n")
    texts[3] = "\n".join([lines[0], gsm8k[5]["question"], *lines[1:]])  # a leaked benchmark problem
    bad = {
        1: texts[1][:300].encode() + LONE_SURROGATE + texts[1][300:].encode(),
        6: texts[6][:120].encode() + b"caf" + LATIN1_E_ACUTE + b" " + texts[6][120:].encode(),
    }
    corpus, rows = _pages_corpus(tmp_path / "corpus", texts, bad)
    repaired = {f"page-{i:03d}": raw.decode("utf-8", "replace") for i, raw in bad.items()}
    assert all("\ufffd" in text for text in repaired.values())

    stats = _decontaminate(corpus, tmp_path / "dc", settings, specs, spark_factory)
    assert stats["pages_in"] == len(texts) == stats["pages_out"] + sum(stats["pages_dropped"].values())
    assert stats["invariant_holds"] and stats["text_repaired"] == {"invalid_utf8": 2}
    hits = {(h["id"], h["benchmark"], h["problem_id"]) for h in pq.read_table(tmp_path / "dc" / "hits").to_pylist()}
    assert ("page-003", "gsm8k", "5") in hits
    out = pq.read_table(tmp_path / "dc" / "corpus")
    assert out.column_names == pq.read_schema(Path(corpus) / "part-00000.parquet").names
    by_id = {r["id"]: r for r in out.to_pylist()}
    assert sorted(by_id) == [r["id"] for r in rows]
    for row in rows:  # the same instants (UTC, written as timestamp[us]), every other column as it was
        got = by_id[row["id"]]
        assert got["fetch_time"].replace(tzinfo=UTC) == row["fetch_time"]
        assert (got["url"], got["warc_offset"], got["math_markup"]) == (row["url"], row["warc_offset"],
                                                                     row["math_markup"])
    for page_id, text in repaired.items():
        assert by_id[page_id]["text"] == text and by_id[page_id]["text_chars"] == len(text)
    assert gsm8k[5]["question"] not in by_id["page-003"]["text"]

    stats = _tokenize(corpus, tmp_path / "shards", settings, spark_factory)
    assert stats["documents_in"] == stats["documents"] == len(texts) and stats["invariant_holds"]
    assert stats["text_repaired"] == {"invalid_utf8": 2}
    assert tk.verify_shards(str(tmp_path / "shards")) == []
    documents = _decoded_documents(tmp_path / "shards")
    assert documents == {r["id"]: repaired.get(r["id"], r["text"]) for r in rows}


def test_a_binary_text_column_is_decoded_and_counted(tmp_path, articles, settings, specs, spark_factory):
    """Before: TypeError in both jobs (bytes where text was expected)."""
    raw = [articles[0].encode(), articles[1].encode()[:200] + LONE_SURROGATE + b"!", articles[2].encode()]
    corpus = _write(tmp_path / "corpus", pa.table({"id": ["b-0", "b-1", "b-2"], "text": pa.array(raw, pa.binary())}))
    expected = {f"b-{i}": r.decode("utf-8", "replace") for i, r in enumerate(raw)}
    stats = _decontaminate(corpus, tmp_path / "dc", settings, specs, spark_factory)
    assert stats["pages_in"] == 3 == stats["pages_out"] and stats["text_repaired"] == {"invalid_utf8": 1}
    out = pq.read_table(tmp_path / "dc" / "corpus")
    assert out.schema.field("text").type == pa.string()
    assert {r["id"]: r["text"] for r in out.to_pylist()} == expected
    stats = _tokenize(corpus, tmp_path / "shards", settings, spark_factory)
    assert stats["documents_in"] == stats["documents"] == 3 and stats["text_repaired"] == {"invalid_utf8": 1}
    assert _decoded_documents(tmp_path / "shards") == expected


# -- 7. one page without whitespace -------------------------------------------------------------------
@pytest.fixture(scope="module")
def proofs() -> list[str]:
    return [r["text"] for r in _jsonl("math_text", "bookofproofs_markdown", "bookofproofs_markdown.jsonl.gz")]


@pytest.fixture(scope="module")
def run_page(proofs) -> str:
    """5 MB without whitespace: the letters of the real bookofproofs pages, run together (one run of
    \\p{L}, the longest pre-token byte-level BPE can be handed)."""
    letters = "".join(ch for text in proofs for ch in text if ch.isalpha())
    return (letters * (5_000_000 // len(letters) + 1))[:5_000_000]


def test_training_text_leaves_real_text_alone_and_cuts_long_runs(proofs, articles, run_page):
    assert all(tk.training_text(t) == t for t in proofs + articles)  # real pages train as before
    cut = tk.training_text(run_page)
    assert cut == run_page[:tk.MAX_TRAIN_RUN_CHARS]
    spaced = "intro " + run_page[:10_000] + " \n" + " " * 9_000 + "outro"
    assert tk.training_text(spaced) == ("intro " + run_page[:tk.MAX_TRAIN_RUN_CHARS] + " \n"
                                        + " " * (tk.MAX_TRAIN_RUN_CHARS - 2) + "outro")


TRAIN_SCRIPT = """
import json, sys, time
from pipeline import tokenize as tk
texts = json.load(open(sys.argv[1]))
start = time.monotonic()
info = tk.train_bpe(texts, sys.argv[2], vocab_size=1000)
print(json.dumps({"seconds": time.monotonic() - start, "vocab_size": info.vocab_size}))
"""


def test_a_5mb_page_without_whitespace_trains_in_seconds_and_encodes_near_linearly(tmp_path, proofs, run_page):
    """Before: the trainer is quadratic in the run (200k characters 184 s; 5 MB about 30 hours). In
    a subprocess with a time limit, so that the old behaviour fails the test instead of hanging it."""
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps([*proofs[:100], run_page]))
    folder = tmp_path / "tokenizer"
    result = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(texts), str(folder)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    trained = json.loads(result.stdout.splitlines()[-1])
    assert trained["vocab_size"] == 1000 and trained["seconds"] < 60, trained

    tok, info = tk.load_tokenizer(str(folder))

    def seconds(text: str) -> float:
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            ids = tk.encode_batch(tok, [text], info.eos_id)[0]
            best = min(best, time.perf_counter() - start)
        assert tok.decode(ids[:-1].tolist(), skip_special_tokens=False) == text
        return best

    small, large = seconds(run_page[:150_000]), seconds(run_page[:600_000])
    # 4x the run: ~4x the time when linear, 16x when quadratic (allow noise on a shared machine)
    assert large < 8 * small + 0.5, (small, large)


# -- the CLI: one line, no traceback (last: the CLI stops the shared Spark session) ------------------
def test_cli_says_duplicate_ids_in_one_line(tmp_path, articles, capsys):
    from jobs.cli import main

    conf = tmp_path / "benchmarks.yaml"
    conf.write_text("benchmarks:\n  - name: gsm8k\n    file: gsm8k/test.jsonl\n    fields: [question, answer]\n"
                    "    language: en\n")
    # The same page selected twice (say by a score and by a pattern), as a union of selections makes it.
    corpus = _write(tmp_path / "corpus", pa.table({"id": ["p-1", "p-2", "p-1"], "text": articles[:3],
                                                   "selected_by": ["score", "score", "pattern"]}))
    code = main(["decontaminate", "--corpus", corpus, "--out", str(tmp_path / "dc"), "--benchmarks", str(conf),
                 "--set", f"decontaminate.benchmarks_root={data_path('benchmarks')}",
                 "--set", "spark.master=local[2]"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mathmine")]
    assert code == 1 and "Traceback" not in err, err[-3000:]
    assert lines == [f"mathmine: error: {corpus}/part-00000.parquet: 2 rows with a duplicate id ('p-1' at rows "
                     "0, 2); a corpus needs one row per id, none null"], err[-3000:]
    assert not (tmp_path / "dc").exists()
