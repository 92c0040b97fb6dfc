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
    assert sorted(_folder_bytes(folder)) == ["tokenizer.json", "tokenizer_config.json"]
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
    assert sorted(os.listdir(folder)) == ["tokenizer.json", "tokenizer_config.json"]  # no temp folder left


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
