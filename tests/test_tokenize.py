"""Tokenizer training/loading and tokenized shards on real text (bookofproofs pages, web articles, MGSM
questions in Chinese, Russian, Japanese, Thai, Bengali) plus hand-made odd strings."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import fs
from pipeline import tokenize as tk
from tests.conftest import ROOT, data_path

ODD = [
    "  two leading spaces\r\nCRLF line\tand a tab\t\t\n\n trailing space ",
    "数学是研究数量、结构以及空间等概念的学科。设 $f(x)=x^2$，求 $f'(x)$。",
    "Теорема Пифагора: $a^2 + b^2 = c^2$ для прямоугольного треугольника.",
    "emoji 😀 family 👨‍👩‍👧 flags 🇫🇷🇯🇵 skin 👍🏽 and ∑_{i=1}^{n} i = \\frac{n(n+1)}{2} ∎",
    "a page that writes <|endoftext|> and <|begin|> literally must stay one document",
    "combining e\u0301 vs \u00e9, zero width\u200bspace, NUL \x00, BOM \ufeff, RTL \u202eabc",
    "\\begin{align} \\int_0^1 x\\,dx &= \\tfrac12 \\\\ e^{i\\pi} + 1 &= 0 \\end{align}",
    "",
    " ",
    "\n",
]


def _jsonl(path: Path, field: str) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line)[field] for line in fh]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    """The training texts: ~3,400 real pages (bookofproofs markdown and web articles)."""
    texts = _jsonl(data_path("math_text", "bookofproofs_markdown", "bookofproofs_markdown.jsonl.gz"), "text")
    return texts + _jsonl(data_path("general_text", "web_article_clean_texts.jsonl"), "text")


@pytest.fixture(scope="module")
def multilingual() -> list[str]:
    path = data_path("benchmarks", "mgsm", "mgsm_all.jsonl")
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r["question"] for r in rows if r["lang"] in ("zh", "ru", "ja", "th", "bn")]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> tk.TokenizerInfo:
    return tk.train_bpe(corpus, str(tmp_path_factory.mktemp("bpe") / "tokenizer"), vocab_size=8192)


def _folder_bytes(folder: str | Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_train_bpe_loads_offline_and_is_deterministic(corpus, trained, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    folder = Path(trained.path)
    # a published folder: its completion marker lists the two files
    assert sorted(_folder_bytes(folder)) == [fs.MARKER, "tokenizer.json", "tokenizer_config.json"]
    assert sorted(fs.Store().files(str(folder))) == [str(folder / "tokenizer.json"),
                                                      str(folder / "tokenizer_config.json")]
    auto = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    assert (auto.eos_token, auto.pad_token, auto.bos_token) == (tk.EOS_TOKEN, tk.EOS_TOKEN, tk.BOS_TOKEN)
    assert (trained.eos_id, trained.pad_id, trained.bos_id) == (auto.eos_token_id, auto.pad_token_id,
                                                                 auto.bos_token_id) == (0, 0, 1)
    assert trained.vocab_size == len(auto) == 8192
    assert trained.name == "mathmine-bpe-8192"
    assert trained.sha256 == hashlib.sha256((folder / "tokenizer.json").read_bytes()).hexdigest()

    tokenizer, info = tk.load_tokenizer(str(folder))
    assert info == trained
    assert tk.load_tokenizer(str(folder))[0] is tokenizer  # cached: a Spark worker loads it once
    # The AutoTokenizer a training job would use gives the same ids (these texts hold no special tokens).
    sample = corpus[:50] + corpus[-50:]
    ours = tk.encode_batch(tokenizer, sample, info.eos_id)
    assert [ids[:-1].tolist() for ids in ours] == auto(sample, add_special_tokens=False)["input_ids"]

    # Same texts, another process with one rayon thread instead of all cores: the same bytes.
    again = tmp_path / "again"
    script = ("import json, sys; from pipeline.tokenize import train_bpe; "
              "texts = [json.loads(line)['text'] for line in open(sys.argv[1], encoding='utf-8')]; "
              "train_bpe(texts, sys.argv[2])")
    lines = tmp_path / "texts.jsonl"
    lines.write_text("".join(json.dumps({"text": t}) + "\n" for t in corpus), encoding="utf-8")
    subprocess.run([sys.executable, "-c", script, str(lines), str(again)], cwd=ROOT, check=True,
                   env={**os.environ, "RAYON_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    assert _folder_bytes(again) == _folder_bytes(folder)


def test_retraining_a_folder_is_seen_by_the_cache(corpus, tmp_path):
    folder = str(tmp_path / "tok")
    first = tk.train_bpe(corpus[:300], folder, vocab_size=512)
    assert tk.load_tokenizer(folder)[1] == first
    second = tk.train_bpe(corpus[:300], folder, vocab_size=600)
    assert tk.load_tokenizer(folder)[1] == second
    assert (second.vocab_size, second.name) == (600, "mathmine-bpe-600")
    # no temp folder left beside it or in it
    assert sorted(os.listdir(folder)) == [fs.MARKER, "tokenizer.json", "tokenizer_config.json"]
    assert sorted(os.listdir(tmp_path)) == ["tok"]


def test_round_trip_is_exact(corpus, multilingual, trained):
    tokenizer, info = tk.load_tokenizer(trained.path)
    texts = ODD + multilingual + corpus
    encoded = tk.encode_batch(tokenizer, texts, info.eos_id)
    assert len(encoded) == len(texts)
    assert all(ids.dtype == np.int32 and ids[-1] == info.eos_id for ids in encoded)
    # EOS only at the end, even for the page that writes "<|endoftext|>"; no BOS anywhere.
    assert not any(np.isin(ids[:-1], [info.eos_id, info.bos_id]).any() for ids in encoded)
    decoded = tokenizer.decode_batch([ids[:-1].tolist() for ids in encoded], skip_special_tokens=False)
    mismatched = [t for t, d in zip(texts, decoded, strict=True) if t != d]
    assert mismatched == []
    assert encoded[ODD.index("")].tolist() == [info.eos_id]


def _reference_shards(counts: list[int], target: int) -> list[int]:
    out, shard, filled = [], 0, 0
    for count in counts:
        if filled >= target:
            shard, filled = shard + 1, 0
        out.append(shard)
        filled += count
    return out


def test_assign_shards_matches_the_rule():
    rng = np.random.default_rng(7)
    for _ in range(200):
        counts = rng.integers(1, 500, size=rng.integers(0, 60)).tolist()
        target = int(rng.integers(1, 3000))
        assert tk.assign_shards(counts, target) == _reference_shards(counts, target)
    assert tk.assign_shards([], 10) == []
    assert tk.assign_shards([10, 1, 9, 5, 100, 1], 10) == [0, 1, 1, 2, 2, 3]
    assert tk.assign_shards(np.array([3, 3, 3]), 100) == [0, 0, 0]
    with pytest.raises(tk.TokenizeError):
        tk.assign_shards([1], 0)


def test_continue_shards_piece_by_piece_is_assign_shards():
    """The job's partition-by-partition assignment: any split into pieces (empty ones too) gives exactly
    assign_shards of the whole sequence."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        counts = rng.integers(0 if rng.random() < 0.2 else 1, 400, size=rng.integers(0, 80)).tolist()
        target = int(rng.integers(1, 1500))
        cuts = sorted(rng.integers(0, len(counts) + 1, size=rng.integers(0, 6)).tolist())
        pieces = [counts[a:b] for a, b in zip([0, *cuts], [*cuts, len(counts)], strict=True)]
        got, state = [], None
        for piece in pieces:
            shards, state = tk.continue_shards(piece, target, state)
            got += shards
        expected = tk.assign_shards(counts, target)
        assert got == expected
        if counts:
            last = expected[-1]
            assert state == (last, sum(c for c, s in zip(counts, expected, strict=True) if s == last))
        else:
            assert state is None
    assert tk.continue_shards([8, 8], 10, (0, 8)) == ([0, 1], (1, 8))
    assert tk.continue_shards([8], 10, (3, 12)) == ([4], (4, 8))


def _write_all(out: Path, texts: list[str], info: tk.TokenizerInfo, target: int) -> list[dict]:
    tokenizer, _ = tk.load_tokenizer(info.path)
    ids = tk.encode_batch(tokenizer, texts, info.eos_id)
    doc_ids = [f"doc-{i:05d}" for i in range(len(texts))]
    sources = ["math" if "$" in t else "web" for t in texts]
    shard_of = np.array(tk.assign_shards([len(a) for a in ids], target))
    count = int(shard_of.max()) + 1
    entries = []
    for index in range(count):
        rows = np.flatnonzero(shard_of == index)
        entries.append(tk.write_shard(str(out / tk.shard_name(index, count)), [doc_ids[i] for i in rows],
                                      [ids[i] for i in rows], [sources[i] for i in rows], info,
                                      row_group_rows=200))
    tk.write_manifest(str(out), entries, info, {"order": "doc_id", "target_tokens": target})
    return entries


def test_shards_manifest_verify_and_readers(corpus, multilingual, trained, tmp_path, monkeypatch):
    texts = ODD + multilingual[::5] + corpus
    first, second = tmp_path / "a", tmp_path / "b"
    entries = _write_all(first, texts, trained, target=300_000)
    _write_all(second, texts, trained, target=300_000)
    assert _folder_bytes(first) == _folder_bytes(second)  # byte-identical shards and manifest
    assert len(entries) > 3

    manifest = tk.read_manifest(str(first))
    assert manifest["target_tokens"] == 300_000 and manifest["order"] == "doc_id"
    assert manifest["tokenizer"] == trained.as_dict() and manifest["schema_version"] == "1"
    assert [s["file"] for s in manifest["shards"]] == [tk.shard_name(i, len(entries)) for i in range(len(entries))]
    assert tk.verify_shards(str(first)) == []

    # The files hold what the manifest says; every shard but the last reaches the target.
    tables = [pq.read_table(first / s["file"]) for s in manifest["shards"]]
    assert sum(t.num_rows for t in tables) == manifest["totals"]["rows"] == len(texts)
    tokens = [sum(t["num_tokens"].to_pylist()) for t in tables]
    assert sum(tokens) == manifest["totals"]["tokens"]
    assert all(n >= 300_000 for n in tokens[:-1])
    meta = tk.parse_shard_metadata(tables[0].schema.metadata)
    assert meta == {"schema_version": "1", "tokenizer_name": "mathmine-bpe-8192",
                    "tokenizer_sha256": trained.sha256, "vocab_size": 8192, "bos_id": 1, "eos_id": 0, "pad_id": 0}
    assert tables[0].schema.remove_metadata().equals(tk.shard_schema())
    assert pq.ParquetFile(first / manifest["shards"][0]["file"]).metadata.row_group(0).num_rows == 200
    tokenizer, _ = tk.load_tokenizer(trained.path)
    row = tables[0].slice(0, 1).to_pylist()[0]
    assert tokenizer.decode(row["input_ids"][:-1], skip_special_tokens=False) == texts[0]
    assert row["num_tokens"] == len(row["input_ids"]) and row["doc_id"] == "doc-00000"

    # Hugging Face datasets reads the shards as they are.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    files = [str(first / s["file"]) for s in manifest["shards"]]
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == len(texts)
    assert ds[0]["input_ids"] == row["input_ids"] and ds[len(texts) - 1]["doc_id"] == f"doc-{len(texts) - 1:05d}"
    assert sum(ds["num_tokens"]) == manifest["totals"]["tokens"]


def test_verify_shards_finds_problems(corpus, trained, tmp_path):
    out = tmp_path / "shards"
    entries = _write_all(out, corpus[:600], trained, target=50_000)
    assert len(entries) >= 3 and tk.verify_shards(str(out)) == []
    tampered = out / entries[1]["file"]
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    (out / entries[2]["file"]).unlink()
    (out / "train-00099-of-00100.parquet").write_bytes(b"stray")
    problems = tk.verify_shards(str(out))
    assert f"{entries[1]['file']}: sha256 differs from the manifest" in problems
    assert f"{entries[2]['file']}: missing" in problems
    assert "train-00099-of-00100.parquet: in the folder, not in the manifest" in problems

    # A manifest whose counts do not match the files.
    manifest = tk.read_manifest(str(out))
    manifest["shards"][0]["tokens"] += 1
    (out / tk.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert any(p.startswith(f"{entries[0]['file']}: ") and "tokens, manifest says" in p
               for p in tk.verify_shards(str(out)))
    assert any(p.startswith("manifest.json: totals.tokens") for p in tk.verify_shards(str(out)))


def test_bad_tokenizer_folders_and_inputs(trained, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(tk.TokenizeError, match=f"^{re.escape(str(empty))}: no tokenizer.json$"):
        tk.load_tokenizer(str(empty))

    # A folder AutoTokenizer loads, but whose tokenizer has no EOS.
    from transformers import PreTrainedTokenizerFast

    tokenizer, info = tk.load_tokenizer(trained.path)
    no_eos = tmp_path / "no-eos"
    PreTrainedTokenizerFast(tokenizer_object=tokenizer).save_pretrained(str(no_eos))
    with pytest.raises(tk.TokenizeError, match=f"^{re.escape(str(no_eos))}: no EOS token$"):
        tk.load_tokenizer(str(no_eos))

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(tk.TokenizeError, match=f"^{re.escape(str(broken))}: cannot load tokenizer"):
        tk.load_tokenizer(str(broken))

    ids = tk.encode_batch(tokenizer, ["x + y", "z"], info.eos_id)
    shard = str(tmp_path / "s" / tk.shard_name(0, 1))
    with pytest.raises(tk.TokenizeError, match="does not end with EOS"):
        tk.write_shard(shard, ["a", "b"], [ids[0], ids[1][:-1]], ["s", "s"], info)
    with pytest.raises(tk.TokenizeError, match="outside"):
        tk.write_shard(shard, ["a"], [np.array([9000, info.eos_id], np.int32)], ["s"], info)
    with pytest.raises(tk.TokenizeError, match="1 doc_ids, 2 input_ids"):
        tk.write_shard(shard, ["a"], ids, ["s", "s"], info)
    assert not Path(shard).parent.exists() or not any(Path(shard).parent.iterdir())  # nothing half-written
    with pytest.raises(tk.TokenizeError, match=r"no manifest\.json"):
        tk.read_manifest(str(tmp_path))
    with pytest.raises(tk.TokenizeError, match="reserved"):
        tk.write_manifest(str(tmp_path), [], info, {"shards": 1})
    with pytest.raises(tk.TokenizeError):
        tk.shard_name(3, 3)


# ---- the Spark job (jobs/shards.py) ----

def _job_settings(*overrides: str):
    from pipeline.config import load_settings

    # vocab 258: the 256 bytes and the 2 special tokens, no merges: a text of n ASCII bytes is n tokens + EOS
    return load_settings(None, ["tokenize.vocab_size=258", *overrides])


def _corpus(store: fs.Store, folder: str, texts: dict[str, str]) -> str:
    import pyarrow as pa

    from pipeline.spark import parquet_bytes

    table = pa.table({"id": list(texts), "text": list(texts.values())})
    store.write_bytes(fs.join(folder, "part-00000.parquet"), parquet_bytes(table))
    return folder


def _published_shards(store: fs.Store, out: str) -> tuple[list[str], list[int], list[int]]:
    """(doc_id, num_tokens, shard index) of every row, shard after shard, each in file order."""
    import pyarrow as pa

    manifest = tk.read_manifest(out, store)
    count = manifest["totals"]["shards"]
    doc_ids, tokens, shards = [], [], []
    for index, entry in enumerate(manifest["shards"]):
        assert entry["file"] == tk.shard_name(index, count)
        table = pq.read_table(pa.BufferReader(store.read_bytes(fs.join(out, entry["file"]))))
        doc_ids += table["doc_id"].to_pylist()
        tokens += table["num_tokens"].to_pylist()
        shards += [index] * table.num_rows
    return doc_ids, tokens, shards


def test_job_gives_the_shards_assign_shards_gives(tmp_path, spark_factory):
    """Four 8-token documents, 10 tokens a shard: assign_shards says [0, 0, 1, 1], and so does the job."""
    from jobs import shards as shards_job

    store = fs.Store()
    corpus = _corpus(store, str(tmp_path / "corpus"), {f"d{i}": "abcdefg" for i in range(4)})
    out = str(tmp_path / "shards")
    stats = shards_job.run(corpus, out, _job_settings("tokenize.shard_tokens=10"),
                           tokenizer_dir=str(tmp_path / "tok"), factory=spark_factory)
    doc_ids, tokens, shards = _published_shards(store, out)
    assert (doc_ids, tokens) == (["d0", "d1", "d2", "d3"], [8, 8, 8, 8])
    assert shards == tk.assign_shards(tokens, 10) == [0, 0, 1, 1]
    assert stats["shards"] == 2 and stats["documents"] == 4 and stats["tokens"] == 32
    assert tk.verify_shards(out) == []
    assert store.published(out) and store.published(str(tmp_path / "tok"))
    assert sorted(os.listdir(tmp_path)) == ["corpus", "shards", "tok"]  # no temp folder left
    assert stats["tokenizer"]["name"] == "mathmine-bpe-258"


@pytest.mark.parametrize("shuffle", [False, True])
def test_job_over_several_partitions_is_assign_shards_of_the_global_order(tmp_path, spark_factory, shuffle):
    from jobs import shards as shards_job

    session = spark_factory.get()
    saved = {key: session.conf.get(key, None) for key in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")}
    session.conf.set("spark.sql.shuffle.partitions", "5")
    session.conf.set("spark.sql.adaptive.enabled", "false")  # keep the 5 range partitions
    try:
        rng = np.random.default_rng(3)
        texts = {f"doc-{i:03d}": "x" * int(rng.integers(0, 40)) for i in range(120)}
        store = fs.Store()
        corpus = _corpus(store, str(tmp_path / "corpus"), texts)
        out = str(tmp_path / "shards")
        settings = _job_settings("tokenize.shard_tokens=57", f"tokenize.shuffle={str(shuffle).lower()}")
        shards_job.run(corpus, out, settings, tokenizer_dir=str(tmp_path / "tok"), factory=spark_factory)

        # The partition-by-partition plan itself, on the same kind of ordered, checkpointed frame.
        counts = [len(t) + 1 for t in texts.values()]
        frame = (session.createDataFrame(list(zip(texts, counts, strict=True)), "doc_id string, num_tokens int")
                 .orderBy("doc_id").localCheckpoint())
        assert frame.rdd.getNumPartitions() > 1
        plan, count = shards_job.shard_plan(frame, 57)
        assert len(plan) > 1
        sizes = dict(frame.rdd.mapPartitionsWithIndex(lambda i, rows: [(i, sum(1 for _ in rows))]).collect())
        planned = []
        for index in sorted(plan):  # runs (first row, shard) back to one shard per row
            starts, numbers = plan[index]
            for start, end, number in zip(starts, [*starts[1:], sizes[index]], numbers, strict=True):
                planned += [number] * (end - start)
        assert planned == tk.assign_shards(counts, 57) and count == planned[-1] + 1
    finally:
        for key, value in saved.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)
    doc_ids, tokens, shards = _published_shards(store, out)
    assert sorted(doc_ids) == sorted(texts) and (doc_ids == sorted(texts)) != shuffle
    assert tokens == [len(texts[d]) + 1 for d in doc_ids]
    assert shards == tk.assign_shards(tokens, 57)
    if not shuffle:  # doc_id order: the plan above
        assert shards == planned and max(shards) + 1 == count
    assert tk.verify_shards(out) == []


def test_job_reads_and_writes_an_object_store(tmp_path, spark_factory, monkeypatch):
    """Corpus, trained tokenizer and shards on moto's S3 server: the same shards as a local run."""
    from jobs import shards as shards_job
    from tests.servers import S3_CREDENTIALS, moto_s3

    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    sc = spark_factory.get().sparkContext
    saved_env = dict(sc.environment)
    sc.environment.update(S3_CREDENTIALS)  # the Python workers' environment
    texts = {f"p{i:02d}": f"page {i}: " + "y = x^2 + 1 " * (i % 7) for i in range(30)}
    try:
        with moto_s3() as s3:
            s3.client.create_bucket(Bucket="mathmine-tokenize")
            settings = _job_settings("tokenize.shard_tokens=60", f"storage.s3_endpoint_url={s3.endpoint}",
                                     "storage.retry_base_s=0.01", "storage.retry_max_s=0.05")
            store = fs.Store(settings.storage)
            base = "s3://mathmine-tokenize/run"
            corpus = _corpus(store, f"{base}/corpus", texts)
            stats = shards_job.run(corpus, f"{base}/shards", settings, tokenizer_dir=f"{base}/tokenizer",
                                   factory=spark_factory)
            assert tk.verify_shards(f"{base}/shards", store) == []
            remote = tk.read_manifest(f"{base}/shards", store)
            rows = _published_shards(store, f"{base}/shards")
            tokenizer, info = tk.load_tokenizer(f"{base}/tokenizer", store)
            assert info.path == f"{base}/tokenizer" and info.name == "mathmine-bpe-258"
            assert stats["tokenizer"]["sha256"] == info.sha256 == remote["tokenizer"]["sha256"]
            assert sorted(store.listing(f"{base}/tokenizer")) == [fs.MARKER, "tokenizer.json",
                                                                   "tokenizer_config.json"]
            assert not [n for n in store.listing(base) if fs.INFLIGHT in n]
    finally:
        sc.environment.clear()
        sc.environment.update(saved_env)
    local = fs.Store()
    corpus = _corpus(local, str(tmp_path / "corpus"), texts)
    shards_job.run(corpus, str(tmp_path / "shards"), _job_settings("tokenize.shard_tokens=60"),
                   tokenizer_dir=str(tmp_path / "tok"), factory=spark_factory)
    assert tk.read_manifest(str(tmp_path / "shards"))["shards"] == remote["shards"]  # byte-identical shards
    assert _published_shards(local, str(tmp_path / "shards")) == rows
    assert tokenizer.encode("y = x^2").ids == tk.load_tokenizer(str(tmp_path / "tok"))[0].encode("y = x^2").ids
