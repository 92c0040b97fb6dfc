"""A synthetic arithmetic task for tests and the CPU demo: pretraining text, RL/eval problems, real shards.

    Q: 23+58=? A: 81
    Q: (3+4)*5=? A: 3+4=7. 7*5=35. The answer is 35.

Problems are deterministic given a seed. Each distinct question belongs to exactly one split ("train" or
"test"), fixed by a hash of the question, so held-out problems never appear in pretraining text whatever
the seeds; the seed only picks which problems of a split are drawn.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

from pipeline.tokenize import (
    TokenizerInfo,
    encode_batch,
    load_tokenizer,
    shard_name,
    train_bpe,
    write_manifest,
    write_shard,
)

SOURCE = "synthetic-arithmetic"
TEST_PERCENT = 10  # share of distinct questions held out
_ANSWER = re.compile(r"The answer is (-?\d+)")
_NUMBER = re.compile(r"-?\d+")


def format_prompt(question: str) -> str:
    """The text a model completes: 'Q: 12+7=? A:' (its answer follows after a space)."""
    return f"Q: {question}=? A:"


def _split(question: str) -> str:
    digest = hashlib.sha256(question.encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") % 100 < TEST_PERCENT else "train"


def _draw(rng: random.Random) -> tuple[str, str, int]:
    """(question, worked solution, answer) of one random problem: one-step or two-step."""
    kind = rng.choice(("add", "add", "sub", "mul", "add_mul", "mul_add"))
    if kind == "add":
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        return f"{a}+{b}", str(a + b), a + b
    if kind == "sub":
        a = rng.randint(0, 99)
        b = rng.randint(0, a)
        return f"{a}-{b}", str(a - b), a - b
    if kind == "mul":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        return f"{a}*{b}", str(a * b), a * b
    if kind == "add_mul":
        a, b, c = rng.randint(1, 20), rng.randint(1, 20), rng.randint(2, 9)
        s = a + b
        return f"({a}+{b})*{c}", f"{a}+{b}={s}. {s}*{c}={s * c}. The answer is {s * c}.", s * c
    a, b, c = rng.randint(2, 12), rng.randint(2, 12), rng.randint(1, 50)
    p = a * b
    return f"{a}*{b}+{c}", f"{a}*{b}={p}. {p}+{c}={p + c}. The answer is {p + c}.", p + c


def _problems(n: int, seed: int, split: str) -> list[tuple[str, str, int]]:
    if split not in ("train", "test"):
        raise ValueError(f"split {split!r}: train or test")
    rng = random.Random(f"arithmetic:{seed}:{split}")
    out: list[tuple[str, str, int]] = []
    while len(out) < n:
        problem = _draw(rng)
        if _split(problem[0]) == split:
            out.append(problem)
    return out


def arithmetic_texts(n: int, seed: int, split: str = "train") -> list[str]:
    """n pretraining documents 'Q: ...=? A: <solution>' (repeats possible: the problem space is finite)."""
    return [f"{format_prompt(q)} {solution}" for q, solution, _ in _problems(n, seed, split)]


def arithmetic_problems(n: int, seed: int, split: str = "test") -> list[dict[str, Any]]:
    """n problems {id, question, prompt, answer} for RL and evaluation; answer is the integer as text."""
    return [{"id": f"arith-{split}-{seed}-{i}", "question": q, "prompt": format_prompt(q), "answer": str(ans)}
            for i, (q, _, ans) in enumerate(_problems(n, seed, split))]


def extract_answer(completion: str) -> str | None:
    """The answer a completion gives: 'The answer is N' if present, else its first number (one-step problems
    answer bare). Only text before a newline or a next 'Q:' counts. None when there is none."""
    text = completion.split("Q:", 1)[0].split("\n", 1)[0]
    found = _ANSWER.search(text)
    if found:
        return found.group(1)
    found = _NUMBER.search(text)
    return found.group(0) if found else None


def write_arithmetic_shards(out_dir: str, tokenizer_dir: str, n_docs: int, seed: int, shard_docs: int,
                            split: str = "train", vocab_size: int = 512,
                            row_group_rows: int = 1000) -> dict[str, Any]:
    """Write n_docs arithmetic documents as a tokenized shard folder, through the same functions as the
    Spark tokenize job (`write_shard`, `write_manifest`). The tokenizer is trained with `train_bpe` on the
    train split when tokenizer_dir has no tokenizer.json, else reused (a held-out folder then shares it).
    Returns the manifest's totals plus the tokenizer info."""
    info: TokenizerInfo
    if Path(tokenizer_dir, "tokenizer.json").exists():
        info = load_tokenizer(tokenizer_dir)[1]
    else:
        info = train_bpe(arithmetic_texts(20000, seed=0), tokenizer_dir, vocab_size=vocab_size)
    tokenizer = load_tokenizer(tokenizer_dir)[0]
    texts = arithmetic_texts(n_docs, seed, split)
    count = max(1, -(-n_docs // shard_docs))
    entries = []
    for index in range(count):
        chunk = texts[index * shard_docs:(index + 1) * shard_docs]
        ids = encode_batch(tokenizer, chunk, info.eos_id)
        doc_ids = [f"arith-{split}-{seed}-{index * shard_docs + i}" for i in range(len(chunk))]
        entries.append(write_shard(str(Path(out_dir, shard_name(index, count))), doc_ids, ids,
                                   [SOURCE] * len(chunk), info, row_group_rows=row_group_rows))
    write_manifest(out_dir, entries, info, {"generator": SOURCE, "seed": seed, "split": split})
    return {"shards": count, "rows": sum(e["rows"] for e in entries),
            "tokens": sum(e["tokens"] for e in entries), "tokenizer": info.as_dict()}
