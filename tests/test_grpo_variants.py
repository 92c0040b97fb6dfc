"""The GRPO variants people use today (pipeline/train/grpo.py): loss_type, scale_rewards, epsilon_high,
mask_truncated_completions, top_p, zero-variance groups and DAPO's dynamic sampling, and the progress
outputs (metrics.jsonl, TensorBoard, checkpoints loadable with from_pretrained). Formulas against numbers
worked out by hand in the comments; the trainer on tiny real models (nothing mocked, nothing downloaded)."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from pipeline.config import ConfigError
from pipeline.train.grpo import (
    GRPOTrainer,
    aggregate,
    grpo_loss,
    outcome_advantages,
    process_advantages,
    train_grpo,
    zero_std_groups,
)
from pipeline.train.metrics import read_metrics
from tests.test_grpo import char_tokenizer, small_cfg, tiny_llama

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- loss_type, by hand

# Two outputs at ratio 1 (logp = old logp) and beta 0, so every token's term is its advantage A:
#   output 0: 1 token,  A = +2  (short and good)
#   output 1: 3 tokens, A = -1  (long and bad; its 4th position is padding, masked)
# max_completion_length L = 4; N = 2 outputs, T = 4 unmasked tokens.
ADV = torch.tensor([2.0, -1.0])
MASK = torch.tensor([[1.0, 0, 0], [1, 1, 1]])
L = 4
# objective J (the loss is -J) and dJ/dlogp of one token of each output (the term is ratio * A, and
# d ratio / d logp = 1 at ratio 1, so the token gradient is A times the normaliser's weight):
CASES = {
    #         J                         token gradient (output 0, output 1)
    "grpo": ((2 / 1 + -3 / 3) / 2,     (2 / 1 / 2, -1 / 3 / 2)),  # 0.5;    1, -1/6: per output, then mean
    "dr_grpo": ((2 - 3) / (2 * L),     (2 / (2 * L), -1 / (2 * L))),  # -0.125; 0.25, -0.125: / (N * L)
    "dapo": ((2 - 3) / 4,              (2 / 4, -1 / 4)),  # -0.25;  0.5, -0.25: / T over the whole batch
    "bnpo": ((2 - 3) / 4,              (2 / 4, -1 / 4)),  # one micro-batch: its token mean = dapo's
}


@pytest.mark.parametrize("loss_type", list(CASES))
def test_loss_types_by_hand(loss_type):
    objective, (g0, g1) = CASES[loss_type]
    logp = torch.zeros(2, 3, requires_grad=True)
    loss, stats = grpo_loss(logp, logp.detach(), None, ADV, MASK, beta=0.0, loss_type=loss_type,
                            max_completion_length=L)
    assert loss.item() == pytest.approx(-objective)
    loss.backward()
    want = torch.tensor([[g0, 0.0, 0.0], [g1, g1, g1]])  # padding gets no gradient
    assert torch.allclose(-logp.grad, want)
    assert stats["ratio_mean"] == pytest.approx(1.0) and stats["clip_frac"] == 0.0


def test_loss_types_over_micro_batches_match_one_big_batch_by_hand():
    """Gradient accumulation: each output in its own micro-batch, with the batch's N = 2 and T = 4 passed
    down. grpo, dr_grpo and dapo sum to the big batch's loss exactly; dapo must divide by the batch's 4
    tokens, not the micro-batch's (1 and 3: that would give 2/1 - 3/3 = +1, not -0.25). bnpo is by
    definition the micro-batch's token mean, weighted by its share of outputs:
    2/1 * 1/2 + (-3/3) * 1/2 = 0.5 (here, one output per micro-batch, the same as grpo's)."""
    x = ADV[:, None] * MASK
    for loss_type, (objective, _) in CASES.items():
        parts = [aggregate(x[i:i + 1], MASK[i:i + 1], loss_type, max_completion_length=L,
                           batch_outputs=2, batch_tokens=4.0) for i in range(2)]
        want = 0.5 if loss_type == "bnpo" else objective
        assert sum(p.item() for p in parts) == pytest.approx(want), loss_type
    # without the batch's counts, dapo's micro-batch shares would be per-micro-batch token means: wrong
    wrong = sum(aggregate(x[i:i + 1], MASK[i:i + 1], "dapo").item() for i in range(2))
    assert wrong == pytest.approx(2 / 1 - 3 / 3)


def test_dr_grpo_needs_the_constant():
    with pytest.raises(ValueError, match="max_completion_length"):
        aggregate(ADV[:, None] * MASK, MASK, "dr_grpo")
    with pytest.raises(ValueError, match="loss_type 'sum'"):
        aggregate(ADV[:, None] * MASK, MASK, "sum")


def test_epsilon_high_clips_the_ratio_to_an_asymmetric_range_by_hand():
    log = math.log
    # two one-token outputs, old prob 0.5, beta 0, epsilon 0.2, epsilon_high 0.28 (DAPO's clip-higher):
    #   A=+1, ratio 1.5 -> min(1.5, clip(1.5, 0.8, 1.28) = 1.28) = 1.28     (binds at the upper bound)
    #   A=-1, ratio 0.5 -> min(-0.5, -clip(0.5, 0.8, 1.28) = -0.8) = -0.8  (binds at the lower bound)
    # J = (1.28 - 0.8) / 2 = 0.24; with the symmetric default: (1.2 - 0.8) / 2 = 0.2
    logp = torch.tensor([[log(0.75)], [log(0.25)]])
    old = torch.full((2, 1), log(0.5))
    adv = torch.tensor([1.0, -1.0])
    loss, stats = grpo_loss(logp, old, None, adv, torch.ones(2, 1), epsilon=0.2, beta=0.0, epsilon_high=0.28)
    assert loss.item() == pytest.approx(-0.24)
    assert stats["clip_frac"] == pytest.approx(1.0)
    loss, _ = grpo_loss(logp, old, None, adv, torch.ones(2, 1), epsilon=0.2, beta=0.0)
    assert loss.item() == pytest.approx(-0.2)


# ---------------------------------------------------------------- scale_rewards, by hand


def test_scale_rewards_by_hand():
    # group A = [1, 0, 0, 0]: mean 0.25, population std sqrt(0.25 * 0.75) = sqrt(0.1875) = 0.4330127
    # group B = [2, 4, 4, 6]: mean 4,    population std sqrt((4 + 0 + 0 + 4) / 4) = sqrt(2)
    # the batch of all 8: mean 17/8 = 2.125, E[x^2] = 73/8 = 9.125, var = 9.125 - 2.125^2 = 4.609375
    rewards = torch.tensor([1.0, 0, 0, 0, 2, 4, 4, 6])
    centred = [0.75, -0.25, -0.25, -0.25, -2, 0, 0, 2]
    group = [0.75 / math.sqrt(0.1875), -0.25 / math.sqrt(0.1875), -0.25 / math.sqrt(0.1875),
             -0.25 / math.sqrt(0.1875), -math.sqrt(2), 0, 0, math.sqrt(2)]  # 1.7320508, -0.5773503, ...
    batch = [c / math.sqrt(4.609375) for c in centred]  # one std (2.1469) for every group
    assert outcome_advantages(rewards, 4, "group").tolist() == pytest.approx(group)
    assert outcome_advantages(rewards, 4, "batch").tolist() == pytest.approx(batch)
    assert outcome_advantages(rewards, 4, "none").tolist() == pytest.approx(centred)
    # a zero-variance group is exactly 0 under every choice (0.7 * 3 / 3 is not 0.7 in floats)
    for scale in ("group", "batch", "none"):
        adv = outcome_advantages(torch.tensor([0.7, 0.7, 0.7, 1.0, 0.0, 1.0]), 3, scale)
        assert adv[:3].tolist() == [0.0, 0.0, 0.0], scale
        assert outcome_advantages(torch.full((4,), 0.3), 2, scale).tolist() == [0.0] * 4, scale
    with pytest.raises(ValueError, match="scale_rewards"):
        outcome_advantages(rewards, 4, "max")


def test_process_scale_rewards_by_hand():
    # one group of two outputs with step rewards [1, 0, 1] and [0, 0, 1]: all 6 step rewards have mean 0.5
    # and population std 0.5, so "group" normalises them to [1, -1, 1], [-1, -1, 1] and the advantage of
    # step j is the sum of steps j.. : [1, 0, 1], [-1, 0, 1]. "none": centred [.5, -.5, .5], [-.5, -.5, .5]
    # -> suffix sums [.5, 0, .5], [-.5, 0, .5]. "batch" with a second group [5, 5], [5]: the batch's 9 step
    # rewards sum to 18 (mean 2), E[x^2] = (3 + 75) / 9, var = 78/9 - 4 = 14/3; centred on their group's
    # mean as "none" does, divided by sqrt(14/3) = 2.1602; group 2 is constant: 0.
    def flat(rows: list[list[float]]) -> list[float]:
        return [x for row in rows for x in row]

    steps = [[1, 0, 1], [0, 0, 1]]
    assert flat(process_advantages(steps, 2, "group")) == pytest.approx([1, 0, 1, -1, 0, 1])
    assert flat(process_advantages(steps, 2, "none")) == pytest.approx([0.5, 0, 0.5, -0.5, 0, 0.5])
    std = math.sqrt(14 / 3)
    got = process_advantages([*steps, [5, 5], [5]], 2, "batch")
    assert flat(got[:2]) == pytest.approx([0.5 / std, 0, 0.5 / std, -0.5 / std, 0, 0.5 / std])
    assert got[2:] == [[0.0, 0.0], [0.0]]


def test_zero_std_groups():
    assert zero_std_groups(torch.tensor([1.0, 1, 0, 1, 0.5, 0.5]), 2) == [True, False, True]


# ---------------------------------------------------------------- the trainer on a tiny model


def checksum(question: dict, completion: str) -> float:
    """A reward that differs between different completions (a tiny random policy's samples differ), or
    0.5 whatever the completion for a question marked constant: its group has zero variance."""
    if question.get("constant"):
        return 0.5
    return (sum(map(ord, completion)) % 97) / 97


POOL = [{"prompt": f"Q: {i}+{i}=? A:", "answer": str(2 * i), "id": i, "constant": i % 2 == 1} for i in range(6)]


def grads(model) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_gradient_accumulation_gives_the_big_batch_gradient(loss_type):
    """One batch of 2 questions x 4 outputs of different lengths, updated in micro-batches of 1 output and in
    one micro-batch of 8: the same gradient (max_grad_norm huge so clipping leaves it alone). bnpo's
    differs (each micro-batch's own token mean), which shows the comparison can fail."""
    tok = char_tokenizer()
    scale = "none" if loss_type == "dr_grpo" else "group"

    def gradient(loss_type: str, micro_batch: int) -> list[torch.Tensor]:
        cfg = small_cfg(loss_type=loss_type, scale_rewards=scale, micro_batch=micro_batch, max_grad_norm=1e9,
                        max_completion_length=12, rollout_questions=2)
        trainer = GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, cfg, log=lambda s: None)
        trainer.start_iteration()
        torch.manual_seed(3)
        chunks = trainer.sample([POOL[0], POOL[2]])
        assert len(set(chunks[0]["lengths"])) > 1  # lengths differ: the normalisers matter
        trainer.update(trainer.micro_batches(chunks, trainer.score(chunks)["advantages"]))
        return grads(trainer.policy)

    one, many = gradient(loss_type, 8), gradient(loss_type, 1)
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(one, many, strict=True))
    if loss_type == "dapo":
        bnpo = gradient("bnpo", 1)
        assert not all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(one, bnpo, strict=True))


def test_dr_grpo_with_std_scaling_is_refused():
    tok = char_tokenizer()
    with pytest.raises(ValueError, match="scale_rewards none"):
        GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, small_cfg(loss_type="dr_grpo"), log=lambda s: None)


def test_mask_truncated_completions_gives_truncated_outputs_no_loss():
    tok = char_tokenizer()
    cfg = small_cfg(max_completion_length=6, mask_truncated_completions=True)
    trainer = GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, cfg, log=lambda s: None)
    # a random 55-token policy rarely says EOS within 6 tokens: find a draw with both kinds of output
    eos = tok.eos_token_id
    for seed in range(200):
        torch.manual_seed(seed)
        chunks = trainer.sample([POOL[0], POOL[2]])
        flags = [t for ch in chunks for t in ch["truncated"]]
        if any(flags) and not all(flags):
            break
    else:
        pytest.fail("no draw with both truncated and finished outputs")
    for ch in chunks:
        for i, n in enumerate(ch["lengths"]):
            response = ch["seq"][i, ch["start"]:ch["start"] + n].tolist()
            assert ch["truncated"][i] == (eos not in response)  # no EOS: it ran into the limit
            assert not ch["truncated"][i] or ch["seq"].shape[1] - ch["start"] == 6
    micro = trainer.micro_batches(chunks, trainer.score(chunks)["advantages"])
    rows = [row for mb in micro for row in mb["mask"].sum(1).tolist()]
    want = [0.0 if t else m for ch in chunks for t, m in zip(ch["truncated"], ch["mask"].sum(1).tolist(), strict=True)]
    assert rows == want
    # and all truncated: nothing left to learn from (beta 0: no KL term either)
    trainer.cfg = small_cfg(max_completion_length=6, mask_truncated_completions=True, beta=0.0)
    for ch in chunks:
        ch["truncated"] = [True] * len(ch["truncated"])
    trainer.update(trainer.micro_batches(chunks, trainer.score(chunks)["advantages"]))
    assert all(g.abs().max().item() == 0.0 for g in grads(trainer.policy))


def test_top_p_reaches_generation():
    """top_p close to 0 keeps only the most likely token: the G samples of a question become one text."""
    tok = char_tokenizer()
    for top_p, distinct in ((1e-6, 1), (1.0, 4)):
        trainer = GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, small_cfg(top_p=top_p), log=lambda s: None)
        texts = trainer.sample([POOL[0]])[0]["texts"]
        assert len(set(texts)) == distinct, (top_p, texts)


def test_frac_reward_zero_std_is_logged_every_step():
    tok = char_tokenizer()
    lines: list[str] = []
    cfg = small_cfg(steps_per_iteration=2, questions_per_step=2)
    # a pool of one constant and one informative question: each step draws both, half its groups are flat
    history = train_grpo(tiny_llama(tok), tok, [POOL[0], POOL[1]], checksum, cfg, log=lines.append)
    assert [s["frac_reward_zero_std"] for s in history["steps"]] == [0.5, 0.5]
    assert all("zero_std 0.50" in line for line in lines if line.startswith("step "))


def _replay_rule(drawn: list[dict], target: int) -> tuple[int, int, int]:
    """DAPO's rule replayed on the questions the reward_fn saw, in order: (groups kept, dropped, rounds)."""
    kept = dropped = rounds = 0
    taken, want = 0, target
    while True:
        batch = drawn[taken:taken + want]
        taken += len(batch)
        informative = sum(not q["constant"] for q in batch)
        kept, dropped = kept + informative, dropped + len(batch) - informative
        if kept >= target or taken >= len(drawn):
            return kept, dropped, rounds
        rounds += 1
        want = target - kept


def test_dynamic_sampling_drops_flat_groups_and_samples_more():
    tok = char_tokenizer()
    seen: list[dict] = []

    def reward(question: dict, completion: str) -> float:
        seen.append(question)
        return checksum(question, completion)

    cfg = small_cfg(dynamic_sampling=True, max_resample_rounds=4, questions_per_step=2, steps_per_iteration=3,
                    rollout_questions=1)
    lines: list[str] = []
    trainer = GRPOTrainer(tiny_llama(tok), tok, POOL, reward, cfg, log=lines.append)
    trainer.start_iteration()
    for _ in range(3):
        seen.clear()
        out = trainer.step()
        drawn = seen[::4]  # G = 4 calls per question, contiguous
        assert all(q is s for k, q in enumerate(drawn) for s in seen[4 * k:4 * k + 4])
        kept, dropped, rounds = _replay_rule(drawn, 2)
        assert (out["groups_kept"], out["groups_dropped"], out["resample_rounds"]) == (2, dropped, rounds)
        assert kept == 2 and out["resample_short"] is False
        assert out["frac_reward_zero_std"] == pytest.approx(dropped / len(drawn))
    assert any(line.startswith("step ") and "dynamic sampling: 2 groups kept" in line for line in lines)
    # what is trained on: only informative groups, questions_per_step of them
    chunks = trainer.sample([POOL[1], POOL[3]])  # both constant
    trainer.reward(chunks)
    kept_chunks, sampled, stats = trainer.dynamic_sample(chunks, 2)
    assert stats["groups_dropped"] >= 2 and stats["groups_kept"] == 2
    assert all(not q["constant"] for ch in kept_chunks for q in ch["questions"])
    assert sum(len(ch["seq"]) for ch in kept_chunks) == 2 * 4
    assert len(sampled) > len(chunks)


def test_dynamic_sampling_bound_trains_on_what_there_is_and_says_so():
    tok = char_tokenizer()
    lines: list[str] = []
    # pool [informative, constant], 2 per step, no resampling: each step keeps 1 of 2 groups and trains on it
    cfg = small_cfg(dynamic_sampling=True, max_resample_rounds=0, questions_per_step=2, steps_per_iteration=1)
    policy = tiny_llama(tok)
    before = [p.detach().clone() for p in policy.parameters()]
    step = train_grpo(policy, tok, [POOL[0], POOL[1]], checksum, cfg, log=lines.append)["steps"][0]
    assert (step["groups_kept"], step["groups_dropped"], step["resample_rounds"]) == (1, 1, 0)
    assert step["resample_short"] is True and "update_skipped" not in step
    assert not all(torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    assert "max_resample_rounds reached: training on 1 of 2 groups" in lines[0]
    # only constant questions: after 2 extra rounds nothing is informative; the update is skipped, said so
    cfg = small_cfg(dynamic_sampling=True, max_resample_rounds=2, questions_per_step=2, steps_per_iteration=1)
    lines.clear()
    policy = tiny_llama(tok)
    before = [p.detach().clone() for p in policy.parameters()]
    step = train_grpo(policy, tok, [POOL[1], POOL[3]], checksum, cfg, log=lines.append)["steps"][0]
    assert (step["groups_kept"], step["groups_dropped"], step["resample_rounds"]) == (0, 6, 2)
    assert step["update_skipped"] is True and step["frac_reward_zero_std"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    assert "no informative group: update skipped" in lines[0]


def test_dynamic_sampling_with_process_supervision():
    """A group is flat when all its step rewards are equal; the kept groups' step rewards travel with them."""
    tok = char_tokenizer()

    def step_reward(question: dict, steps: list[str]) -> list[float]:
        return [0.5] * len(steps) if question["constant"] else [checksum(question, s) for s in steps]

    cfg = small_cfg(supervision="process", dynamic_sampling=True, questions_per_step=2, steps_per_iteration=1,
                    scale_rewards="batch", max_completion_length=12)
    trainer = GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, cfg, log=lambda s: None,
                          step_reward_fn=step_reward)
    trainer.start_iteration()
    chunks = trainer.sample([POOL[1], POOL[2]])  # constant, informative
    trainer.reward(chunks)
    assert [z for ch in chunks for z in trainer.zero_std(ch)] == [True, False]
    kept, _, stats = trainer.dynamic_sample(chunks, 2)
    assert stats["groups_kept"] == 2 and all(not q["constant"] for ch in kept for q in ch["questions"])
    for ch in kept:
        assert len(ch["step_rewards"]) == len(ch["step_ends"]) == len(ch["seq"]) == len(ch["texts"])
    out = trainer.step()
    assert math.isfinite(out["loss"]) and out["groups_kept"] == 2


# ---------------------------------------------------------------- progress and outputs

METRIC_KEYS = {"step", "loss", "reward", "reward_std", "kl", "frac_reward_zero_std", "completion_length",
               "learning_rate", "tokens_per_second", "grad_norm", "clip_ratio", "clipped_ratio", "num_tokens"}


def test_metrics_jsonl_has_one_row_per_logged_step(tmp_path):
    tok = char_tokenizer()
    lines: list[str] = []
    cfg = small_cfg(steps_per_iteration=5, logging_steps=2, learning_rate=2e-3)
    history = train_grpo(tiny_llama(tok), tok, POOL, checksum, cfg, log=lines.append, output_dir=tmp_path)
    rows = read_metrics(tmp_path)
    # after the first step, every 2 steps and after the last: 1, 2, 4, 5 (one stderr line each, too)
    assert [r["step"] for r in rows] == [1, 2, 4, 5]
    steps = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in steps] == ["1/5", "2/5", "4/5", "5/5"]
    for row, line in zip(rows, steps, strict=True):
        assert set(row) >= METRIC_KEYS, set(row) ^ METRIC_KEYS
        s = history["steps"][row["step"] - 1]
        assert row["loss"] == s["loss"] and row["reward"] == s["reward_mean"] and row["kl"] == s["kl"]
        assert row["learning_rate"] == 2e-3 and row["tokens_per_second"] > 0 and row["completion_length"] > 0
        words = line.split()
        for key, name in (("loss", "loss"), ("reward", "reward"), ("kl", "kl")):
            assert float(words[words.index(name) + 1]) == pytest.approx(row[key], abs=1e-3), (key, line)
        assert float(words[words.index("tok/s") + 1].replace(",", "")) > 0
    # every line is a JSON object on its own (a reader can follow the file as it grows)
    text = (tmp_path / "metrics.jsonl").read_text()
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())


def test_report_to_tensorboard_writes_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tok = char_tokenizer()
    cfg = small_cfg(steps_per_iteration=3, report_to="tensorboard")
    train_grpo(tiny_llama(tok), tok, POOL, checksum, cfg, log=lambda s: None, output_dir=tmp_path)
    events = EventAccumulator(str(tmp_path / "runs"))
    events.Reload()
    rows = read_metrics(tmp_path)
    for key in ("loss", "reward", "kl", "frac_reward_zero_std", "tokens_per_second"):
        scalars = events.Scalars(f"train/{key}")
        assert [e.step for e in scalars] == [1, 2, 3]
        assert [e.value for e in scalars] == pytest.approx([r[key] for r in rows], rel=1e-5, abs=1e-6)


def test_report_to_tensorboard_without_the_package_is_one_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what a missing package looks like
    tok = char_tokenizer()
    cfg = small_cfg(report_to="tensorboard")
    with pytest.raises(ConfigError) as info:
        GRPOTrainer(tiny_llama(tok), tok, POOL, checksum, cfg, log=lambda s: None, output_dir=tmp_path)
    message = str(info.value)
    assert "grpo.report_to" in message and "pip install tensorboard" in message and "\n" not in message
    assert info.value.exit_code == 2
    assert not (tmp_path / "metrics.jsonl").exists()  # refused before anything was written


def _saved_tiny_model(folder) -> str:
    tok = char_tokenizer()
    tiny_llama(tok).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_train_grpo_job_writes_metrics_and_a_model_auto_model_loads(tmp_path):
    """`mathmine train grpo` (jobs/train.py) end to end on a tiny saved model: metrics.jsonl next to the
    model, and the saved folder loads with AutoModelForCausalLM / AutoTokenizer and computes what the
    trained policy computes (the history's last step is the one saved)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from jobs import train
    from pipeline.config import load_settings

    model_dir = _saved_tiny_model(tmp_path / "model")
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"question": "2+3?", "answer": "#### 5"}\n{"question": "7*8?", "answer": "#### 56"}\n')
    # two RL iterations: the job then rewards with a reward model (probabilities, not the verifier's 0/1
    # that a random policy never earns), so the groups carry signal and the weights move
    settings = load_settings(None, ["grpo.num_generations=2", "grpo.questions_per_step=2",
                                    "grpo.steps_per_iteration=1", "grpo.rl_iterations=2",
                                    "grpo.max_completion_length=4",
                                    "grpo.learning_rate=0.01", "grpo.rollout_questions=2",
                                    "evaluate.prompt_template='{question} A:'"])
    out = tmp_path / "out"
    history = train.grpo(settings, model_dir, str(problems), str(out))
    assert [r["step"] for r in read_metrics(out)] == [1, 2]
    loaded = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    ids = tok(["2+3? A: 5"], return_tensors="pt")["input_ids"]
    start = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    with torch.no_grad():
        assert not torch.allclose(loaded(ids).logits, start(ids).logits)  # the trained weights were saved
    assert json.loads((out / "grpo_history.json").read_text())["steps"][-1]["step"] == len(history["steps"])
    # the job's fresh reward model is trained before RL (its scores would be noise for iteration 1) and
    # after iteration 1: two rounds, the second replaying 10% of the first's 4 examples (round(0.4) = 0)
    assert [(r["fresh"], r["replayed"]) for r in history["reward_model"]] == [(4, 0), (4, 0)]


@pytest.mark.parametrize(("content", "where", "what"), [
    ('{"question": "2+3?", "answer": "#### 5"}\n{"question": "7*8?"\n', ":2:", "not JSON"),
    ('{"question": "2+3?", "answer": "#### 5"}\n\n["a list"]\n', ":3:", "not a JSON object"),
    ('{"problem": "2+3?"}\n', ":1:", "no usable answer"),
    ("", "", "no problems"),
])
@pytest.mark.parametrize("command", ["grpo", "eval"])
def test_a_malformed_problems_file_is_one_user_error_line(tmp_path, capsys, command, content, where, what):
    from jobs.cli import main

    model_dir = tmp_path / "model"
    model_dir.mkdir()  # the problems are read before the model is loaded
    problems = tmp_path / "bad.jsonl"
    problems.write_text(content)
    extra = ["--out", str(tmp_path / "out")] if command == "grpo" else []
    code = main(["train", command, "--model", str(model_dir), "--problems", str(problems), *extra])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"mathmine: error: {problems}{where}") and what in err[0], err[0]
    assert not (tmp_path / "out").exists()


def test_a_problems_file_that_is_not_utf8_names_its_line(tmp_path, capsys):
    from jobs.cli import main

    problems = tmp_path / "latin1.jsonl"
    problems.write_bytes(b'{"question": "2+3?", "answer": "#### 5"}\n{"question": "caf\xe9", "answer": "1"}\n')
    (tmp_path / "model").mkdir()
    assert main(["train", "eval", "--model", str(tmp_path / "model"), "--problems", str(problems)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mathmine: error: {problems}:2: not UTF-8 text"]
