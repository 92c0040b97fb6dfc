"""GRPO (pipeline/train/grpo.py) and its reward model (reward.py): the formulas against numbers worked out by
hand in each test, then real torch steps on tiny models built from configs (nothing downloaded)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.train import grpo
from pipeline.train.grpo import (
    GRPOConfig,
    GRPOTrainer,
    find_step_ends,
    grpo_loss,
    k3_kl,
    outcome_advantages,
    process_advantages,
    response_mask,
    sequence_logps,
    token_process_advantages,
    train_grpo,
)
from pipeline.train.reward import ReplayBuffer, make_reward_model, score, train_reward_model, verifier_reward

CHARS = "0123456789+-*/=()., \nabcdefghijklmnopqrstuvwxyz?:QA"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def char_tokenizer():
    """One token per character plus <pad>=0, <eos>=1, <unk>=2; decoding concatenates."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(CHARS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def tiny_llama(tokenizer, hidden: int = 32, layers: int = 2, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None))


def tiny_gpt2(tokenizer, hidden: int = 32, layers: int = 2, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_embd=hidden, n_layer=layers, n_head=2, n_positions=256,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id))


QUESTIONS = [{"prompt": "Q: 2+3=? A:", "answer": "5"}, {"prompt": "Q: (1+2)*3=? A:", "answer": "9"},
             {"prompt": "Q: 7*8=? A:", "answer": "56"}]


def digit_share(question: dict, completion: str) -> float:
    """A toy reward that varies within a group even for a random policy (a 0/1 reward would be all zeros)."""
    return sum(c.isdigit() for c in completion) / max(len(completion), 1)


# ---------------------------------------------------------------- advantages


def test_outcome_advantages_by_hand():
    # [1, 0, 0, 0]: mean 1/4, population std sqrt(1/4 * 3/4) = sqrt(3)/4 -> sqrt(3), then -1/sqrt(3) x3
    # [2, 4, 4, 6]: mean 4, variance (4 + 0 + 0 + 4) / 4 = 2 -> -sqrt(2), 0, 0, sqrt(2)
    adv = outcome_advantages(torch.tensor([1.0, 0, 0, 0, 2, 4, 4, 6]), group_size=4)
    s3, s2 = math.sqrt(3), math.sqrt(2)
    assert adv.dtype == torch.float32
    assert torch.allclose(adv, torch.tensor([s3, -1 / s3, -1 / s3, -1 / s3, -s2, 0, 0, s2]), atol=1e-6)
    # the groups are independent: changing the second leaves the first alone
    other = outcome_advantages(torch.tensor([1.0, 0, 0, 0, 9, 9, 9, 8]), group_size=4)
    assert torch.equal(other[:4], adv[:4])


def test_equal_rewards_give_exactly_zero():
    for rewards, g in [([1.0] * 4, 4), ([0.0] * 4, 4), ([0.1] * 64, 64), ([0.7] * 3, 3)]:
        # float64 std of three 0.7s is 1.1e-16, not 0: the guard is max == min, not std > 0
        adv = outcome_advantages(torch.tensor(rewards), group_size=g)
        assert (adv == 0).all(), adv
    mixed = outcome_advantages(torch.tensor([0.7, 0.7, 0.7, 1.0, 0.0, 1.0]), group_size=3)
    assert (mixed[:3] == 0).all() and mixed[3:].abs().sum() > 0


def test_outcome_advantages_g64_against_numpy():
    rng = np.random.default_rng(7)
    rewards = rng.random(128)
    ref = []
    for group in rewards.reshape(2, 64):
        ref.extend((group - group.mean()) / group.std(ddof=0))
    adv = outcome_advantages(torch.tensor(rewards, dtype=torch.float32), group_size=64)
    assert np.allclose(adv.numpy(), np.array(ref), atol=1e-5)


def test_process_advantages_by_hand():
    # G=2, three steps each: all six rewards [1,0,1, 0,0,1] have mean 1/2, population std 1/2,
    # so they normalize to [1,-1,1] and [-1,-1,1]; a step's advantage sums it and the later steps
    assert process_advantages([[1, 0, 1], [0, 0, 1]], group_size=2) == [[1, 0, 1], [-1, 0, 1]]
    # uneven steps: [1,0,1] and [0,1], mean 3/5, std sqrt(6)/5 -> 1 -> sqrt(2/3), 0 -> -sqrt(3/2)
    a, b = math.sqrt(2 / 3), -math.sqrt(3 / 2)
    got = process_advantages([[1, 0, 1], [0, 1]], group_size=2)
    want = [[a + b + a, b + a, a], [b + a, a]]
    assert np.allclose(np.concatenate([np.array(x) for x in got]), np.concatenate([np.array(x) for x in want]))
    assert np.isclose(want[0][0], 1 / math.sqrt(6))
    # groups normalize separately; an all-equal group is exactly 0
    two = process_advantages([[1, 0, 1], [0, 0, 1], [5, 5], [5]], group_size=2)
    assert two[:2] == [[1, 0, 1], [-1, 0, 1]] and two[2:] == [[0, 0], [0]]


def test_token_process_advantages_by_hand():
    # output 0: steps end at 2, 5, 6 -> tokens [0,1] step 0, [2,3,4] step 1, [5] step 2
    # output 1: steps end at 1, 3, 4 and its length is 4 -> position 4 and 5 are beyond it
    adv = token_process_advantages([[1, 0, 1], [0, 0, 1]], [[2, 5, 6], [1, 3, 4]], [6, 4], group_size=2)
    assert adv.tolist() == [[1, 1, 0, 0, 0, 1], [-1, 0, 0, 1, 0, 0]]


def test_find_step_ends():
    nl, eos = 20, 1
    assert find_step_ends([5, 6, nl, 7, nl, 8, eos], {nl}, {eos}) == [3, 5, 7]
    assert find_step_ends([5, nl, 7, nl, eos], {nl}, {eos}) == [2, 5]  # the EOS joins the last step
    assert find_step_ends([5, 6, 7], {nl}, {eos}) == [3]  # truncated, no separator: one step
    assert find_step_ends([eos], {nl}, {eos}) == [1]
    assert find_step_ends([], {nl}, {eos}) == []


# ---------------------------------------------------------------- objective


def test_k3_kl_by_hand():
    kl = k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]))
    assert torch.allclose(kl, torch.tensor([0.5 - math.log(0.5) - 1]))  # 0.19314718
    assert k3_kl(torch.tensor([-1.3]), torch.tensor([-1.3])).item() == 0.0


def test_clipped_objective_by_hand():
    log = math.log
    # four one-token outputs, beta 0, eps 0.2:
    #   A=+1 ratio 1.5 -> min(1.5, 1.2) = 1.2 (clip binds)     A=-1 ratio 0.5 -> min(-0.5, -0.8) = -0.8 (binds)
    #   A=+1 ratio 0.5 -> min(0.5, 0.8) = 0.5                  A=-1 ratio 1.5 -> min(-1.5, -1.2) = -1.5
    logp = torch.tensor([[log(0.75)], [log(0.25)], [log(0.25)], [log(0.75)]])
    old = torch.full((4, 1), log(0.5))
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, stats = grpo_loss(logp, old, None, adv, torch.ones(4, 1), epsilon=0.2, beta=0.0)
    assert loss.item() == pytest.approx(-(1.2 - 0.8 + 0.5 - 1.5) / 4)
    assert stats["clip_frac"] == pytest.approx(0.5)
    assert stats["ratio_mean"] == pytest.approx((1.5 + 0.5 + 0.5 + 1.5) / 4)
    # the KL term: A=0, logp=log 0.5, ref=log 0.25 -> loss = beta * (0.5 - log 0.5 - 1)
    loss, stats = grpo_loss(torch.tensor([[log(0.5)]]), torch.tensor([[log(0.5)]]), torch.tensor([[log(0.25)]]),
                            torch.tensor([0.0]), torch.ones(1, 1), beta=0.04)
    assert loss.item() == pytest.approx(0.04 * (0.5 - log(0.5) - 1))
    assert stats["kl"] == pytest.approx(0.5 - log(0.5) - 1)


def test_gradient_is_advantage_times_score():
    # at ratio 1 the objective's gradient wrt logp of one token is A / |o_i| / G: 2/2/2 and -1/3/2
    logp = torch.zeros(2, 3, requires_grad=True)
    loss, _ = grpo_loss(logp, logp.detach(), None, torch.tensor([2.0, -1.0]),
                        torch.tensor([[1.0, 1, 0], [1, 1, 1]]), beta=0.0)
    loss.backward()
    assert torch.allclose(-logp.grad, torch.tensor([[0.5, 0.5, 0.0], [-1 / 6, -1 / 6, -1 / 6]]))


def test_mean_per_output_then_over_outputs():
    # output 0 has one token worth 2, output 1 three tokens worth 0, 0, 3 (and padding worth 100):
    # per output 2 and 1, objective (2 + 1) / 2 = 1.5 (a flat token mean would give 5/4)
    adv = torch.tensor([[2.0, 100, 100], [0, 0, 3]])
    mask = torch.tensor([[1.0, 0, 0], [1, 1, 1]])
    zeros = torch.zeros(2, 3)
    loss, _ = grpo_loss(zeros, zeros, None, adv, mask, beta=0.0)
    assert loss.item() == pytest.approx(-1.5)


def test_response_mask():
    pad, eos = 0, [1, 9]
    seqs = torch.tensor([
        [5, 6, 7, 8, 9, 4, 0, 0],  # EOS 9 kept, what follows masked
        [0, 6, 7, 8, 8, 1, 1, 0],  # left pad in the prompt, two EOS: only the first is kept
        [5, 6, 7, 4, 4, 4, 4, 4],  # no EOS (truncated): all response tokens
        [1, 9, 7, 4, 0, 0, 0, 0],  # EOS ids inside the prompt do not count; padding masked
    ])
    want = [[0, 0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 0, 0, 0]]
    assert response_mask(seqs, 3, eos, pad).tolist() == want
    # per-row response starts
    assert response_mask(seqs, [3, 3, 2, 3], eos, pad)[2].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    # pad id == EOS id (GPT-2 style): the first one is the EOS, the rest padding
    assert response_mask(torch.tensor([[5, 6, 7, 4, 1, 1, 1]]), 3, [1], 1).tolist() == [[0, 0, 0, 1, 1, 0, 0]]


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2])
def test_left_padding_scores_like_unpadded(build):
    tok = char_tokenizer()
    model = build(tok).eval()
    enc = tok(["Q: 7*8=? A: 56", "Q: 1+1=? A: 2"], return_tensors="pt", padding=True, padding_side="left")
    start = 8
    padded = sequence_logps(model, enc["input_ids"], enc["attention_mask"], start)
    alone = tok(["Q: 1+1=? A: 2"], return_tensors="pt")["input_ids"]
    shift = enc["input_ids"].shape[1] - alone.shape[1]
    single = sequence_logps(model, alone, torch.ones_like(alone), start - shift)
    assert torch.allclose(padded[1], single[0], atol=1e-5)
    # and the log-probs we train on are those generate() sampled from (left-padded prompts, after-EOS pads)
    prompts = tok(["Q: 2+3=? A:", "Q: (12+7)*3=? A:"], return_tensors="pt", padding=True, padding_side="left")
    torch.manual_seed(1)
    out = model.generate(**prompts, do_sample=True, top_k=0, top_p=1.0, max_new_tokens=8, num_return_sequences=2,
                         eos_token_id=[1], pad_token_id=0, output_logits=True, return_dict_in_generate=True)
    seq, p = out.sequences, prompts["input_ids"].shape[1]
    sampled = torch.stack(out.logits, 1).float().log_softmax(-1).gather(-1, seq[:, p:, None]).squeeze(-1)
    attn = torch.cat([prompts["attention_mask"].repeat_interleave(2, 0), torch.ones_like(seq[:, p:])], 1)
    assert torch.allclose(sequence_logps(model, seq, attn, p), sampled, atol=1e-5)


# ---------------------------------------------------------------- trainer on a tiny model


def small_cfg(**kw) -> GRPOConfig:
    base = {"num_generations": 4, "questions_per_step": 2, "steps_per_iteration": 2, "max_completion_length": 10,
            "learning_rate": 1e-3, "micro_batch": 3, "rollout_questions": 2, "seed": 0}
    return GRPOConfig(**{**base, **kw})


def params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_mu_one_ratio_is_exactly_one_and_mu_two_moves_it():
    tok = char_tokenizer()
    trainer = GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, digit_share, small_cfg(num_iterations=1), log=lambda s: None)
    trainer.start_iteration()
    out = trainer.step()
    assert len(out["inner"]) == 1 and out["inner"][0]["ratio_mean"] == 1.0 and out["clip_frac"] == 0.0
    trainer = GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, digit_share, small_cfg(num_iterations=2), log=lambda s: None)
    trainer.start_iteration()
    inner = trainer.step()["inner"]
    assert inner[0]["ratio_mean"] == 1.0
    assert inner[1]["ratio_mean"] != 1.0 and abs(inner[1]["ratio_mean"] - 1) < 0.5
    # pi_old is the policy as sampled: the stored old log-probs equal a separate pass before any update,
    # and stay fixed through the inner steps
    chunks = trainer.sample(QUESTIONS[:2])
    micro = trainer.micro_batches(chunks, trainer.score(chunks)["advantages"])
    with torch.no_grad():
        before = [sequence_logps(trainer.policy, mb["seq"], mb["attn"], mb["start"]) for mb in micro]
    trainer.update(micro)
    assert all(torch.equal(mb["old_logp"], b) for mb, b in zip(micro, before, strict=True))


def test_reference_fixed_within_iteration_and_reset_after():
    tok = char_tokenizer()
    trainer = GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, digit_share, small_cfg(), log=lambda s: None)
    start = params(trainer.policy)
    trainer.start_iteration()
    ref0 = params(trainer.ref)
    assert same(ref0, start)
    losses = [trainer.step()["loss"] for _ in range(2)]
    assert all(math.isfinite(x) for x in losses)
    assert not same(params(trainer.policy), start)  # the policy moved
    assert same(params(trainer.ref), ref0)          # the reference did not
    assert not any(p.requires_grad for p in trainer.ref.parameters())
    trainer.start_iteration()
    assert same(params(trainer.ref), params(trainer.policy))


def test_train_grpo_two_iterations_with_reward_model():
    tok = char_tokenizer()
    policy = tiny_llama(tok)
    start = params(policy)
    rm = make_reward_model(tok, hidden=32, layers=1)
    lines = []
    cfg = small_cfg(rl_iterations=3, steps_per_iteration=1, rm_lr=1e-3)
    history = train_grpo(policy, tok, QUESTIONS, digit_share, cfg, log=lines.append, reward_model=rm)
    assert [s["iteration"] for s in history["steps"]] == [0, 1, 2]
    assert all(math.isfinite(s["loss"]) for s in history["steps"])
    assert not same(params(policy), start)
    # the RM retrains after iterations 0 and 1 on 2 questions x 4 fresh samples; the second round replays
    # 10% of the 8 older examples (round(0.8) = 1)
    assert [(r["fresh"], r["replayed"], r["buffer"]) for r in history["reward_model"]] == [(8, 0, 8), (8, 1, 16)]
    assert any(line.startswith("reward model:") for line in lines)
    # RL rewards came from the RM: probabilities, not the digit share
    assert all(0 < s["reward_mean"] < 1 for s in history["steps"])


def test_same_seed_same_run():
    tok = char_tokenizer()
    runs = [train_grpo(tiny_llama(tok), tok, QUESTIONS, digit_share, small_cfg(steps_per_iteration=1),
                       log=lambda s: None)["steps"][0] for _ in range(2)]
    for key in ("reward_mean", "loss", "kl", "response_len"):
        assert runs[0][key] == runs[1][key]


def test_process_supervision_step():
    tok = char_tokenizer()
    seen = []

    def step_reward(question: dict, steps: list[str]) -> list[float]:
        seen.append(steps)
        return [float(any(c.isdigit() for c in s)) for s in steps]

    cfg = small_cfg(supervision="process", steps_per_iteration=1, max_completion_length=16)
    history = train_grpo(tiny_llama(tok), tok, QUESTIONS, digit_share, cfg, log=lambda s: None,
                         step_reward_fn=step_reward)
    assert math.isfinite(history["steps"][0]["loss"])
    assert len(seen) == 8 and all(len(steps) >= 1 for steps in seen)
    assert all(s.endswith("\n") for steps in seen for s in steps[:-1])  # steps split after newlines


def test_replay_buffer_share_and_determinism():
    tok = char_tokenizer()
    rm = make_reward_model(tok, hidden=16, layers=1)
    buffer = ReplayBuffer(seed=3)
    old = [{"text": f"Q: {i}+1=? A: {i + 1}", "label": 1.0, "id": i} for i in range(50)]
    buffer.add(old)
    fresh = [{"text": f"Q: {i}*2=? A: {i}", "label": 0.0, "id": 100 + i} for i in range(20)]
    stats = train_reward_model(rm, fresh, buffer, replay_share=0.1, tokenizer=tok, lr=1e-3, batch_size=8)
    assert stats == {"fresh": 20, "replayed": 5, "buffer": 70, "loss": stats["loss"]}  # 10% of the 50 old ones
    again = ReplayBuffer(seed=3)
    again.add(old)
    first = again.sample(0.1)
    assert [x["id"] for x in first] == [x["id"] for x in ReplayBuffer.sample(_fresh_copy(old, 3), 0.1)]
    assert len(first) == 5 and all(x in old for x in first)
    probs = score(rm, tok, ["Q: 1+1=? A: 2", "Q: 2*2=? A: 2"])
    assert probs.shape == (2,) and ((probs > 0) & (probs < 1)).all()


def _fresh_copy(items, seed) -> ReplayBuffer:
    buf = ReplayBuffer(seed=seed)
    buf.add(items)
    return buf


def test_verifier_reward_adapter():
    reward = verifier_reward(lambda text, ref: text.strip().endswith(ref))
    assert reward({"answer": "56"}, " 56") == 1.0
    assert reward({"answer": "56"}, " 55") == 0.0


def test_separator_ids_find_merged_newlines():
    tok = char_tokenizer()
    assert grpo.separator_ids(tok, "\n") == {tok.convert_tokens_to_ids("\n")}


def test_grpo_raises_a_toy_reward():
    """End to end sign check: 20 steps push the share of digits in completions up; the KL to the reference
    grows within an iteration and is exactly 0 again at the first step of the next (reference reset)."""
    tok = char_tokenizer()
    cfg = small_cfg(num_generations=8, steps_per_iteration=10, rl_iterations=2, max_completion_length=12,
                    learning_rate=3e-3, micro_batch=16)
    steps = train_grpo(tiny_llama(tok), tok, QUESTIONS, digit_share, cfg, log=lambda s: None)["steps"]
    rewards = [s["reward_mean"] for s in steps]
    assert np.mean(rewards[-5:]) > np.mean(rewards[:5]) + 0.1, rewards  # measured: 0.22 -> 0.42
    assert steps[9]["kl"] > 0 and steps[10]["kl"] == 0.0 and steps[0]["kl"] == 0.0
