"""Tokenize benchmark: tokens per CPU-second of our encode_batch against the tokenizer's own, then shard
writing and BPE training.

1. Tokens/s/core (CPU time of this one process, all its threads) on the same texts: the real bookofproofs
   pages and web articles repeated to ~20 MB, batches of 1000, our byte-level BPE (8192, trained here):
   mathmine `encode_batch` (what a Spark task runs: ids as int32 arrays with EOS) against
   `tokenizers.Tokenizer.encode_batch` (the ceiling: no conversion out of the Encoding objects), its
   `encode_batch_fast`, and transformers' AutoTokenizer call; each with the rayon pool (all cores) and with
   TOKENIZERS_PARALLELISM=false (one core: the setting for one Spark task per core).
2. write_shard (build the Arrow table, zstd Parquet, sha256) in tokens/s.
3. train_bpe wall and CPU time on the real texts (once each, vocab 8192 and 32768).

    python -m tests.bench.tokenize [--mb 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from pipeline import tokenize as tk
from tests.bench.dedup import best_of, read_texts  # one CPU-time harness for every bench

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BATCH = 1000



def load_texts() -> list[str]:
    return (read_texts(DATA / "math_text" / "bookofproofs_markdown" / "bookofproofs_markdown.jsonl.gz")
            + read_texts(DATA / "general_text" / "web_article_clean_texts.jsonl"))


def batches(texts: list[str]) -> list[list[str]]:
    return [texts[i:i + BATCH] for i in range(0, len(texts), BATCH)]


def encode_bench(texts: list[str], tokenizer_dir: str, repeat: int) -> None:
    from transformers import AutoTokenizer

    tokenizer, info = tk.load_tokenizer(tokenizer_dir)
    auto = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    chunks = batches(texts)
    ours = [a for chunk in chunks for a in tk.encode_batch(tokenizer, chunk, info.eos_id)]
    tokens = sum(len(a) - 1 for a in ours)  # without the EOS we add, as the other rows count
    print(f"encode benchmark: {len(texts)} docs, {sum(map(len, texts)) / 1e6:.1f} M chars, "
          f"{tokens / 1e6:.2f} M tokens; {info.name} ({info.sha256[:12]}); batches of {BATCH}; "
          f"CPU time of this process (all threads), best of {repeat} (d: once); {os.cpu_count()} cores")
    print(f"{'what':66} {'cpu s':>7} {'wall s':>7} {'Mtok/s/core':>12} {'Mtok/s':>8}")
    # Every row drops its results batch by batch (as a Spark task hands them on), so none pays for
    # keeping millions of Python objects alive.
    runs = {
        "a": ("mathmine encode_batch (int32 arrays + EOS)",
              lambda: [len(tk.encode_batch(tokenizer, c, info.eos_id)) for c in chunks]),
        "b": ("tokenizers Tokenizer.encode_batch (the ceiling)",
              lambda: [len(tokenizer.encode_batch(c, add_special_tokens=False)) for c in chunks]),
        "c": ("tokenizers Tokenizer.encode_batch_fast (no offsets)",
              lambda: [len(tokenizer.encode_batch_fast(c, add_special_tokens=False)) for c in chunks]),
        "d": ("transformers AutoTokenizer(texts)['input_ids'] (lists; once)",
              lambda: [len(auto(c, add_special_tokens=False)["input_ids"]) for c in chunks]),
    }
    rates: dict[str, float] = {}
    for parallel in ("true", "false"):  # tokenizers reads this variable at every batch call
        os.environ["TOKENIZERS_PARALLELISM"] = parallel
        suffix = "1" if parallel == "false" else ""
        label = "rayon pool, all cores" if parallel == "true" else "TOKENIZERS_PARALLELISM=false, one core"
        print(f"-- {label}")
        for key, (name, work) in runs.items():
            cpu, wall, _ = best_of(1 if key == "d" else repeat, work)
            rates[key + suffix] = tokens / cpu
            print(f"({key + suffix:2}) {name:61} {cpu:7.2f} {wall:7.2f} {tokens / cpu / 1e6:12.2f} "
                  f"{tokens / wall / 1e6:8.2f}", flush=True)
    os.environ.pop("TOKENIZERS_PARALLELISM")
    print("\nratio of mathmine (a) to each (tokens/s/core; 1.0 = as fast):")
    for ours_key, others in (("a", "bcd"), ("a1", ("b1", "c1", "d1"))):
        for key in others:
            print(f"  ({ours_key}) / ({key}) = {rates[ours_key] / rates[key]:5.2f}x")
    verdict = {True: "met", False: "NOT met"}
    print(f"target (a1) >= 0.9 x the ceiling (b1), one core: {verdict[rates['a1'] >= 0.9 * rates['b1']]}")

    with tempfile.TemporaryDirectory(prefix="bench-tokenize-") as tmp:
        doc_ids = [f"doc-{i:09d}" for i in range(len(ours))]
        sources = ["bench"] * len(ours)
        cpu, wall, entry = best_of(repeat, lambda: tk.write_shard(
            str(Path(tmp, tk.shard_name(0, 1))), doc_ids, ours, sources, info))
        print(f"\nwrite_shard: {entry['rows']} rows, {entry['tokens'] / 1e6:.2f} M tokens -> "
              f"{entry['bytes'] / 1e6:.1f} MB ({entry['bytes'] / entry['tokens']:.2f} bytes/token), "
              f"cpu {cpu:.2f}s wall {wall:.2f}s, {entry['tokens'] / cpu / 1e6:.1f} M tokens/s/core")


def train_bench(texts: list[str], out: str, vocab_sizes: list[int]) -> str:
    print(f"train_bpe on the real texts once ({len(texts)} docs, {sum(map(len, texts)) / 1e6:.1f} M chars; "
          f"wall includes saving the folder and loading it back through AutoTokenizer)")
    print(f"{'vocab':>7} {'cpu s':>7} {'wall s':>7}")
    first = ""
    for vocab in vocab_sizes:
        folder = str(Path(out, f"bpe-{vocab}"))
        cpu, wall, _ = best_of(1, lambda f=folder, v=vocab: tk.train_bpe(texts, f, vocab_size=v))
        print(f"{vocab:7d} {cpu:7.2f} {wall:7.2f}", flush=True)
        first = first or folder
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=20, help="repeat the texts to about this many M chars")
    parser.add_argument("--repeat", type=int, default=2, help="encode rows: best of N")
    parser.add_argument("--vocab", default="8192,32768", help="train_bpe vocab sizes (the first one encodes)")
    args, _ = parser.parse_known_args()  # make bench passes every bench the same ARGS
    texts = load_texts()
    copies = max(1, round(args.mb * 1e6 / sum(map(len, texts))))
    with tempfile.TemporaryDirectory(prefix="bench-bpe-") as tmp:
        folder = train_bench(texts, tmp, [int(v) for v in args.vocab.split(",")])
        print()
        encode_bench(texts * copies, folder, args.repeat)


if __name__ == "__main__":
    main()
