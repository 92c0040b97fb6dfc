"""Training data (packed, mixed, resumable shard batches) and continued pretraining on the synthetic
arithmetic task, through the real shard path (train_bpe, write_shard, write_manifest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from pipeline.tokenize import load_tokenizer, read_manifest, train_bpe, verify_shards  # noqa: E402
from pipeline.train import synthetic as sy  # noqa: E402
from pipeline.train.cpt import CPTConfig, build_model, latest_checkpoint, lr_factor, train_cpt  # noqa: E402
from pipeline.train.data import DataError, DataState, MixtureReader  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def arith(tmp_path_factory) -> dict[str, str]:
    """A tokenizer (BPE 512) and shard folders: train (3 shards, several row groups each), small (a tiny
    corpus that wraps into new epochs quickly), test (held-out problems)."""
    root = tmp_path_factory.mktemp("arith")
    tok = str(root / "tok")
    paths = {"tok": tok, "train": str(root / "train"), "small": str(root / "small"), "test": str(root / "test")}
    sy.write_arithmetic_shards(paths["train"], tok, 30000, seed=1, shard_docs=10000, row_group_rows=3000)
    sy.write_arithmetic_shards(paths["small"], tok, 250, seed=2, shard_docs=100, row_group_rows=30)
    sy.write_arithmetic_shards(paths["test"], tok, 1000, seed=3, shard_docs=1000, split="test")
    return paths


def _stream(folder: str) -> np.ndarray:
    """Reference: every document of the folder, concatenated in manifest order."""
    files = [Path(folder, e["file"]) for e in read_manifest(folder)["shards"]]
    return np.concatenate([np.concatenate(pq.read_table(f)["input_ids"].to_pylist()) for f in files])


# ---- synthetic task ----

def test_synthetic_is_deterministic_and_split_disjoint():
    assert sy.arithmetic_texts(50, 4) == sy.arithmetic_texts(50, 4)
    assert sy.arithmetic_texts(50, 4) != sy.arithmetic_texts(50, 5)
    train = {t.split("=? A:")[0] for t in sy.arithmetic_texts(5000, 1)}
    test = sy.arithmetic_problems(300, 1)
    assert not {f"Q: {p['question']}" for p in test} & train
    for p in test:
        assert eval(p["question"]) == int(p["answer"])  # the answers are right
        assert p["prompt"] == sy.format_prompt(p["question"])
    assert sy.arithmetic_texts(1, 0)[0].startswith("Q: ")
    assert sy.extract_answer(" 3+4=7. 7*5=35. The answer is 35.") == "35"
    assert sy.extract_answer(" 81Q: 1+1=? A: 2") == "81"
    assert sy.extract_answer(" no number") is None


# ---- data ----

def test_packing_equals_reference_concatenation(arith):
    assert all(verify_shards(arith[name]) == [] for name in ("train", "small", "test"))
    seq_len, batch = 37, 5
    reference = _stream(arith["small"])
    n_batches = 3 * len(reference) // ((seq_len + 1) * batch)  # about three epochs
    reader = MixtureReader([(arith["small"], 1.0)], seq_len, batch)
    got = np.concatenate([reader.next_batch().tokens for _ in range(n_batches)])
    assert got.shape == (n_batches * batch, seq_len + 1) and got.dtype == np.int64
    tiled = np.tile(reference, 4)[: got.size].reshape(got.shape)
    assert np.array_equal(got, tiled)
    assert reader.state().positions[0].epoch == 2


def test_mixture_proportions_follow_weights(arith):
    weights = [56, 4, 10, 20, 10, 0]
    corpora = [(arith["small"] if i % 2 else arith["train"], w) for i, w in enumerate(weights)]
    reader = MixtureReader(corpora, seq_len=8, batch_size=32, seed=3)
    counts = np.bincount(np.concatenate([reader.next_batch().corpus for _ in range(500)]), minlength=6)
    share = counts / counts.sum()
    # 16,000 draws: the binomial standard deviation is under 0.004
    assert np.allclose(share, np.array(weights) / 100, atol=0.015), share
    assert counts[5] == 0
    assert np.array_equal(reader.choices(7), MixtureReader(corpora, 8, 32, seed=3).choices(7))


def test_mismatched_tokenizer_is_refused(arith, tmp_path):
    other_tok, other = str(tmp_path / "tok300"), str(tmp_path / "other")
    train_bpe(sy.arithmetic_texts(2000, 0), other_tok, vocab_size=300)
    sy.write_arithmetic_shards(other, other_tok, 50, seed=0, shard_docs=50)
    with pytest.raises(DataError, match=f"{other}: tokenizer sha256 .* differs from {arith['small']}'s"):
        MixtureReader([(arith["small"], 1.0), (other, 1.0)], 16, 2)
    _, info = load_tokenizer(arith["tok"])
    with pytest.raises(DataError, match=f"{other}: .* differs from the model's tokenizer"):
        MixtureReader([(other, 1.0)], 16, 2, tokenizer_sha256=info.sha256)
    # a shard from another tokenizer slipped into a folder: named by its file
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    manifest = read_manifest(arith["small"])
    for entry in manifest["shards"]:
        (mixed / entry["file"]).write_bytes(Path(arith["small"], entry["file"]).read_bytes())
    (mixed / "manifest.json").write_text(json.dumps(manifest))
    first = manifest["shards"][0]["file"]
    (mixed / first).write_bytes(Path(other, read_manifest(other)["shards"][0]["file"]).read_bytes())
    with pytest.raises(DataError, match=f"{first}: tokenizer sha256 .* is not its manifest's"):
        MixtureReader([(str(mixed), 1.0)], 16, 2)


def test_resume_from_data_state_gives_the_same_next_batches(arith):
    corpora = [(arith["small"], 0.7), (arith["train"], 0.3)]
    full = MixtureReader(corpora, seq_len=50, batch_size=6, seed=11)
    expected = [full.next_batch() for _ in range(140)]  # the small corpus wraps about three times

    first = MixtureReader(corpora, seq_len=50, batch_size=6, seed=11)
    for _ in range(53):
        first.next_batch()
    saved = json.loads(json.dumps(first.state().as_dict()))  # as a checkpoint keeps it
    resumed = MixtureReader(corpora, seq_len=50, batch_size=6, seed=11, state=DataState.from_dict(saved))
    for want in expected[53:]:
        got = resumed.next_batch()
        assert np.array_equal(got.tokens, want.tokens) and np.array_equal(got.corpus, want.corpus)
    assert resumed.state() == full.state()
    assert full.state().positions[0].epoch >= 2
    with pytest.raises(DataError, match="data state has 2 corpora, the mixture 1"):
        MixtureReader(corpora[:1], 50, 6, state=DataState.from_dict(saved))


# ---- continued pretraining ----

class _Interrupt(Exception):
    pass


def _load_params(folder: str) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).state_dict()


def test_cpt_resume_is_exact_and_lr_follows_the_paper_schedule(arith, tmp_path):
    cfg = CPTConfig(n_layer=2, n_embd=64, n_head=4, seq_len=64, micro_batch=4, grad_accum=2, lr=2e-3,
                    warmup_steps=4, max_steps=20, save_every=10, logging_steps=1, device="cpu", seed=5)
    corpora = [(arith["train"], 0.8), (arith["small"], 0.2)]
    whole = train_cpt(cfg, corpora, str(tmp_path / "whole"), arith["tok"], log=lambda _: None)
    assert whole["step"] == 20 and whole["resumed_from"] is None and len(whole["history"]) == 20

    def stop_at_13(line: str) -> None:
        if line.startswith("step 13/"):
            raise _Interrupt  # killed between checkpoints: steps 11-13 are lost

    out = tmp_path / "cut"
    with pytest.raises(_Interrupt):
        train_cpt(cfg, corpora, str(out), arith["tok"], log=stop_at_13)
    assert latest_checkpoint(str(out)) == str(out / "checkpoint-10") and not (out / "final").exists()
    # the resumed run in a fresh interpreter: nothing survives but the checkpoint folder
    script = (
        "import json, sys, torch\n"
        "from pipeline.train.cpt import CPTConfig, train_cpt\n"
        "torch.set_num_threads(1)\n"
        "torch.manual_seed(999)\n"  # whatever the RNG holds, the checkpoint's state must replace it
        "cfg, corpora, out, tok = json.loads(sys.argv[1])\n"
        "result = train_cpt(CPTConfig(**cfg), corpora, out, tok, log=lambda _: None)\n"
        "print(json.dumps(result))\n")
    argument = json.dumps([asdict(cfg), corpora, str(out), arith["tok"]])
    done = subprocess.run([sys.executable, "-c", script, argument], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = json.loads(done.stdout.strip().splitlines()[-1])
    assert resumed["resumed_from"] == str(out / "checkpoint-10")
    assert [h["step"] for h in resumed["history"]] == list(range(11, 21))
    # Exact (==, torch.equal): the same float32 CPU kernels on the same inputs in the same order, one thread
    # in both processes. JSON keeps floats exactly (shortest repr round-trips).
    assert resumed["history"] == whole["history"][10:]
    a, b = _load_params(whole["final_dir"]), _load_params(resumed["final_dir"])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["model.embed_tokens.weight"], _load_params(str(out / "checkpoint-10"))[
        "model.embed_tokens.weight"])

    ckpt = out / "checkpoint-20"
    assert {"config.json", "model.safetensors", "tokenizer.json", "trainer_state.pt"} <= set(os.listdir(ckpt))
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporary folders left
    state = torch.load(ckpt / "trainer_state.pt", weights_only=True)
    assert state["step"] == 20 and state["tokens"] == 20 * 2 * 4 * 64

    # lr: warmup 4 steps, then the maximum, 31.6% from 80% of the steps, 10% from 90%
    lrs = [h["lr"] for h in whole["history"]]
    assert lrs == pytest.approx([cfg.lr * lr_factor(s, cfg, 20) for s in range(20)])
    assert lrs[0] == pytest.approx(cfg.lr / 4)           # 0%
    assert lrs[4] == pytest.approx(cfg.lr)               # after warmup
    assert lrs[17] == pytest.approx(0.316 * cfg.lr)      # 85%
    assert lrs[19] == pytest.approx(0.1 * cfg.lr)        # 95%
    assert lrs[15] == pytest.approx(cfg.lr) and lrs[16] == pytest.approx(0.316 * cfg.lr)
    assert CPTConfig(max_tokens=10_000, seq_len=100, micro_batch=2, grad_accum=3).total_steps() == 17


def _heldout_loss(model, folder: str) -> float:
    reader = MixtureReader([(folder, 1.0)], seq_len=128, batch_size=16, seed=0)
    model.eval()
    with torch.no_grad():
        losses = []
        for _ in range(6):
            tokens = torch.from_numpy(reader.next_batch().tokens)
            logits = model(input_ids=tokens[:, :-1]).logits
            losses.append(F.cross_entropy(logits.view(-1, logits.size(-1)), tokens[:, 1:].reshape(-1)).item())
    return float(np.mean(losses))


def _accuracy(model, tokenizer_dir: str, problems: list[dict]) -> float:
    tokenizer, info = load_tokenizer(tokenizer_dir)
    model.eval()
    right = 0
    for problem in problems:
        # EOS first: in training every problem follows an EOS
        ids = [info.eos_id, *tokenizer.encode(problem["prompt"]).ids]
        out = model.generate(torch.tensor([ids]), max_new_tokens=30, do_sample=False,
                             eos_token_id=info.eos_id, pad_token_id=info.pad_id)
        completion = tokenizer.decode(out[0, len(ids):].tolist(), skip_special_tokens=True)
        right += sy.extract_answer(completion) == problem["answer"]
    return right / len(problems)


def test_cpt_learns_the_synthetic_task(arith, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = CPTConfig(n_layer=2, n_embd=64, n_head=4, seq_len=128, micro_batch=16, lr=5e-3, warmup_steps=50,
                    max_steps=500, save_every=0, logging_steps=100, device="cpu")
    _, info = load_tokenizer(arith["tok"])
    before = _heldout_loss(build_model(cfg, info), arith["test"])
    result = train_cpt(cfg, [(arith["train"], 1.0)], str(tmp_path / "run"), arith["tok"], log=print)
    model = AutoModelForCausalLM.from_pretrained(result["final_dir"])
    after = _heldout_loss(model, arith["test"])
    accuracy = _accuracy(model, arith["tok"], sy.arithmetic_problems(200, seed=7))
    print(f"held-out loss {before:.3f} -> {after:.3f}, accuracy {accuracy:.3f}, "
          f"{result['seconds'] / cfg.max_steps * 1000:.0f} ms/step")
    # measured on a 2-core CPU (one thread): 6.28 -> 0.90, accuracy 0.095 (19/200), ~52 ms/step;
    # accuracy rises steeply from here (0.22 at 800 steps, ~0.4 at 2000): the bars leave a 2x margin
    assert before > 5.5 and after < 1.1
    assert accuracy >= 0.04


def test_cpt_prints_loss_lines_when_output_is_not_a_terminal(arith, tmp_path, capsys):
    """Captured output (not a tty: no tqdm bar): the default log still prints a loss and tok/s line after
    the first step, every logging_steps steps and after the last, on stderr, as they happen."""
    cfg = CPTConfig(n_layer=1, n_embd=32, n_head=2, seq_len=32, micro_batch=2, warmup_steps=1, max_steps=7,
                    save_every=0, logging_steps=3, device="cpu")
    assert not sys.stderr.isatty() and not sys.stdout.isatty()
    result = train_cpt(cfg, [(arith["small"], 1.0)], str(tmp_path / "run"), arith["tok"])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["1/7", "3/7", "6/7", "7/7"], captured.err
    for line in lines:
        words = line.split()
        assert words[2] == "loss" and float(words[3]) > 0 and words[6] == "tok/s", line
        assert float(words[7].replace(",", "")) > 0, line
    assert float(lines[-1].split()[3]) == pytest.approx(result["history"][-1]["loss"], abs=1e-4)
    # no step bar off a terminal (transformers' save_pretrained shows its own "Writing model shards" bar)
    assert "step/s" not in captured.err and "s/step" not in captured.err
    assert captured.out == ""


def test_cpt_metrics_jsonl_tensorboard_and_checkpoints_load_with_auto_model(arith, tmp_path):
    """Each logged step is a row of OUT/metrics.jsonl (and TensorBoard scalars with report_to); a run
    resumed from checkpoint-4 keeps the rows up to step 4 and logs the rest once; checkpoints and the
    final folder load with AutoModelForCausalLM.from_pretrained and compute what training left."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pipeline.train.metrics import read_metrics

    report_to = "tensorboard"
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        report_to = "none"
    cfg = CPTConfig(n_layer=1, n_embd=32, n_head=2, seq_len=32, micro_batch=2, warmup_steps=1, max_steps=7,
                    save_every=4, logging_steps=2, device="cpu", report_to=report_to)
    out = tmp_path / "run"

    def stop_at_6(line: str) -> None:
        if line.startswith("step 6/"):
            raise _Interrupt  # after step 6's row was written, before the run ended

    with pytest.raises(_Interrupt):
        train_cpt(cfg, [(arith["small"], 1.0)], str(out), arith["tok"], log=stop_at_6)
    assert [r["step"] for r in read_metrics(out)] == [1, 2, 4]  # step 6's line raised before its row
    result = train_cpt(cfg, [(arith["small"], 1.0)], str(out), arith["tok"], log=lambda _: None)
    rows = read_metrics(out)
    # kept 1, 2, 4 (up to checkpoint-4), then the resumed run: its first step 5, then 6 and the last, 7
    assert [r["step"] for r in rows] == [1, 2, 4, 5, 6, 7]
    for row in rows:
        assert {"step", "loss", "learning_rate", "tokens_per_second", "num_tokens"} <= set(row)
        assert row["loss"] > 0 and row["tokens_per_second"] > 0 and row["num_tokens"] == row["step"] * 2 * 32
    assert rows[-1]["loss"] == result["history"][-1]["loss"]
    if report_to == "tensorboard":
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(out / "runs"))
        events.Reload()
        assert {e.step for e in events.Scalars("train/loss")} == {1, 2, 4, 5, 6, 7}
    logits = {}
    for folder in (out / "checkpoint-4", out / "final"):
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)  # the tokenizer travels along
        ids = tok("12+7=19", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits[folder.name] = model(ids).logits
        assert logits[folder.name].shape[-1] == len(tok) and torch.isfinite(logits[folder.name]).all()
    assert not torch.equal(logits["checkpoint-4"], logits["final"])  # steps 5-7 moved the weights
