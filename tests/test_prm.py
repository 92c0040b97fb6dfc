"""The process reward model (pipeline/train/prm.py): Math-Shepherd labels from hand-made rollout trees, the
token-classification PRM learning step labels, rollout trees from a real tiny policy, retraining with
replay, and process-supervised GRPO driven by the PRM. Real torch on CPU, tiny models built from configs."""

from __future__ import annotations

import math
import random
import re

import pytest
import torch

from pipeline.train import grpo
from pipeline.train.grpo import GRPOTrainer
from pipeline.train.prm import (
    ProcessRewardModel,
    build_rollout_tree,
    build_rollout_trees,
    make_process_reward_model,
    split_steps,
    step_labels,
)
from tests.test_grpo import QUESTIONS, char_tokenizer, small_cfg, tiny_llama

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def last_number_is_answer(question: dict, completion: str) -> float:
    """A verifier: 1.0 when the completion's last number is the question's answer."""
    numbers = re.findall(r"\d+", completion)
    return float(bool(numbers) and numbers[-1] == question["answer"])


def stepwise_policy(tok, steps: int = 60, seed: int = 0):
    """A tiny Llama taught for a moment to answer in newline-separated steps ("2+3\\n=5\\n"), right or wrong,
    so that its samples have several steps and both kinds of answer (a random one rarely writes a newline)."""
    policy = tiny_llama(tok, seed=seed)
    texts = ["Q: 2+3=? A: 2+3\n=5\n", "Q: 2+3=? A: 2+3\n=6\n", "Q: (1+2)*3=? A: 1+2\n=3\n3*3\n=9\n",
             "Q: (1+2)*3=? A: 1+2\n=4\n4*3\n=12\n", "Q: 7*8=? A: 7*8\n=56\n", "Q: 7*8=? A: 7*8\n=54\n"]
    enc = tok([t + tok.eos_token for t in texts], return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2)
    policy.train()
    for _ in range(steps):
        loss = policy(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy.eval()


# ---------------------------------------------------------------- labels


def test_labels_from_a_hand_made_tree():
    # per step, the verifier rewards of the completions continued from it; the last step is the solution
    # itself (one reward). Shares correct: 1/4, 0, 3/4, 1.
    tree = [[0, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 0], [1]]
    assert step_labels(tree) == [1.0, 0.0, 1.0, 1.0]                 # hard estimation: any correct
    assert step_labels(tree, soft=True) == [0.25, 0.0, 0.75, 1.0]    # soft estimation: the share
    assert step_labels(tree, min_share=0.5) == [0.0, 0.0, 1.0, 1.0]  # at least half correct
    assert step_labels(tree, min_share=1.0) == [0.0, 0.0, 0.0, 1.0]
    # a wrong final answer after a good start: Math-Shepherd's case of a step that still could succeed
    assert step_labels([[1, 0], [0, 0], [0]]) == [1.0, 0.0, 0.0]
    # rewards that are not 0/1: correct means >= correct_at (0.5 by default)
    assert step_labels([[0.7, 0.2], [0.4, 0.49]]) == [1.0, 0.0]
    assert step_labels([[0.7, 0.2], [0.4, 0.1]], correct_at=0.3, soft=True) == [0.5, 0.5]
    with pytest.raises(ValueError, match="step 1"):
        step_labels([[1], []])


def test_split_steps_like_the_trainer():
    tok = char_tokenizer()
    sep = grpo.separator_ids(tok, "\n")
    assert split_steps(tok, "1+2\n=3\n3*3\n=9\n", sep) == ["1+2\n", "=3\n", "3*3\n", "=9\n"]
    assert split_steps(tok, "a\nbc", sep) == ["a\n", "bc"]
    assert split_steps(tok, "abc", sep) == ["abc"]
    assert split_steps(tok, "", sep) == []


# ---------------------------------------------------------------- the model learns step labels


def marked_solutions(n: int, seed: int) -> list[dict]:
    """1-4 steps each, every step good or bad on its own (a 'y' or an 'n' somewhere in the step, between
    noise), so the label is a property of the step, not of the solution or of the position."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        steps, labels = [], []
        for _ in range(rng.randint(1, 4)):
            good = rng.random() < 0.5
            noise = "".join(rng.choice("abcdefghij0123456789+") for _ in range(rng.randint(0, 4)))
            steps.append(f"{noise}{'y' if good else 'n'}{rng.randint(0, 99)}.\n")
            labels.append(float(good))
        out.append({"prompt": "Q: ok? A:", "steps": steps, "labels": labels})
    return out


def test_prm_learns_step_labels():
    tok = char_tokenizer()
    prm = make_process_reward_model(tok, hidden=32, layers=1, lr=5e-3, epochs=15, batch_size=16)
    assert isinstance(prm, ProcessRewardModel)
    train, held_out = marked_solutions(160, seed=0), marked_solutions(60, seed=1)
    stats = prm.fit(train)
    assert stats["examples"] == 160 and stats["replayed"] == 0 and stats["buffer"] == 160
    assert stats["steps"] == sum(len(ex["steps"]) for ex in train)
    assert 0.4 < stats["share_good"] < 0.6
    assert stats["loss_before"] == pytest.approx(math.log(2), abs=0.05)  # a fresh model knows nothing
    assert stats["loss_after"] < 0.2  # measured 0.025
    scores = prm.score_steps([({"prompt": ex["prompt"]}, ex["steps"]) for ex in held_out])
    pairs = [(s, y) for ex, row in zip(held_out, scores, strict=True) for s, y in zip(row, ex["labels"], strict=True)]
    accuracy = sum((s > 0.5) == (y > 0.5) for s, y in pairs) / len(pairs)
    assert accuracy > 0.85, accuracy  # measured 0.987 here (0.97-0.99 over four data/model seeds)
    # step_rewards: GRPOTrainer's step_reward_fn, one probability per step, the same as the batched scores
    ex = held_out[0]
    one = prm.step_rewards({"prompt": ex["prompt"]}, ex["steps"])
    assert len(one) == len(ex["steps"]) and all(0 < s < 1 for s in one)
    assert one == pytest.approx(scores[0], abs=1e-6)
    assert prm.step_rewards({"prompt": "Q: ok? A:"}, []) == []
    # scores are per step: in a solution good, bad, good the bad step scores below both good ones
    mixed = prm.step_rewards({"prompt": "Q: ok? A:"}, ["ab y3.\n", "cd n5.\n", "ef y7.\n"])
    assert mixed[1] < 0.5 < min(mixed[0], mixed[2]), mixed


def test_inputs_longer_than_the_model_keep_their_tail():
    tok = char_tokenizer()
    prm = make_process_reward_model(tok, hidden=16, layers=1, max_positions=16)
    steps = ["abcdefgh\n", "0123456789\n", "y1.\n"]  # 9 + 11 + 4 tokens after the prompt: over 16
    scores = prm.step_rewards({"prompt": "Q: ok? A:"}, steps)
    assert len(scores) == 3 and all(0 < s < 1 for s in scores)
    # only the last 16 tokens are read, so another prompt changes nothing
    assert scores == pytest.approx(prm.step_rewards({"prompt": "Q:"}, steps), abs=1e-6)
    full = make_process_reward_model(tok, hidden=16, layers=1)  # while one that reads it all sees the prompt
    assert full.step_rewards({"prompt": "Q: ok? A:"}, steps) != pytest.approx(
        full.step_rewards({"prompt": "Q:"}, steps), abs=1e-6)


# ---------------------------------------------------------------- rollout trees from a real policy


def test_rollout_tree_from_a_tiny_policy():
    tok = char_tokenizer()
    policy = stepwise_policy(tok)
    question = {"prompt": "Q: (1+2)*3=? A:", "answer": "9"}
    steps = [" 1+2\n", "=3\n", "3*3\n", "=9\n"]
    seen = []

    def verifier(q: dict, completion: str) -> float:
        seen.append(completion)
        return last_number_is_answer(q, completion)

    tree = build_rollout_tree(policy, tok, question, steps, verifier, completions=6, max_new_tokens=12, seed=3)
    assert [len(r) for r in tree] == [6, 6, 6, 1]
    assert tree[-1] == [1.0]  # the last step is the solution itself, whose answer is right
    # every completion was checked as a whole: the steps it continues, then the policy's continuation
    assert len(seen) == 6 * 3 + 1
    assert all(c.startswith("".join(steps[:i + 1])) for i in range(3) for c in seen[6 * i:6 * i + 6])
    assert all(r in (0.0, 1.0) for rewards in tree for r in rewards)
    # a fixed seed gives the same tree and labels again
    again = build_rollout_tree(policy, tok, question, steps, last_number_is_answer, completions=6,
                               max_new_tokens=12, seed=3)
    assert again == tree and step_labels(again) == step_labels(tree)
    assert len(step_labels(tree)) == 4


def test_label_completions_by_the_rule():
    tok = char_tokenizer()
    policy = stepwise_policy(tok)
    question = {"prompt": "Q: (1+2)*3=? A:", "answer": "9"}
    right, wrong = " 1+2\n=3\n3*3\n=9\n", " 1+2\n=4\n4*3\n=12\n"
    hard = make_process_reward_model(tok, hidden=16, layers=1, completions=4)
    ex_right, ex_wrong = hard.label_completions(policy, tok, [(question, right), (question, wrong), (question, "")],
                                                last_number_is_answer, max_new_tokens=12, seed=0)
    assert ex_right["steps"] == [" 1+2\n", "=3\n", "3*3\n", "=9\n"] and len(ex_wrong["steps"]) == 4
    assert ex_right["labels"][-1] == 1.0 and ex_wrong["labels"][-1] == 0.0  # the solutions' own answers
    # the labels are exactly the rule applied to the policy's rollout trees of the solutions (sampled in one
    # batch, so the same solutions with the same seed give the same trees)
    trees = build_rollout_trees(policy, tok, [(question, ex_right["steps"]), (question, ex_wrong["steps"])],
                                last_number_is_answer, completions=4, max_new_tokens=12, seed=0)
    assert [ex_right["labels"], ex_wrong["labels"]] == [step_labels(t) for t in trees]
    soft = make_process_reward_model(tok, hidden=16, layers=1, completions=4, soft=True)
    (ex_soft,) = soft.label_completions(policy, tok, [(question, wrong)], last_number_is_answer,
                                        max_new_tokens=12, seed=0)
    tree = build_rollout_tree(policy, tok, question, ex_soft["steps"], last_number_is_answer, completions=4,
                              max_new_tokens=12, seed=0)
    assert ex_soft["labels"] == step_labels(tree, soft=True)
    assert all(y in (0.0, 0.25, 0.5, 0.75, 1.0) for y in ex_soft["labels"])


def test_retrain_labels_policy_solutions_with_replay():
    tok = char_tokenizer()
    policy = stepwise_policy(tok)
    prm = make_process_reward_model(tok, hidden=32, layers=1, lr=3e-3, epochs=3, completions=4)
    examples = prm.label(policy, tok, QUESTIONS, last_number_is_answer, solutions_per_question=4,
                         max_new_tokens=16, seed=0)
    assert 0 < len(examples) <= 12
    assert all(len(ex["labels"]) == len(ex["steps"]) >= 1 for ex in examples)
    assert all(s.endswith("\n") for ex in examples for s in ex["steps"][:-1])  # split after each newline
    assert any(len(ex["steps"]) > 1 for ex in examples)  # the policy writes several steps
    labels = [y for ex in examples for y in ex["labels"]]
    assert set(labels) <= {0.0, 1.0} and 0 < sum(labels) < len(labels)  # hard labels, both kinds
    first = prm.retrain(policy, tok, QUESTIONS, last_number_is_answer, solutions_per_question=4,
                        max_new_tokens=16)
    assert first["replayed"] == 0 and first["buffer"] == first["examples"] > 0
    assert 0 < first["share_good"] < 1
    assert first["loss_after"] < first["loss_before"]
    second = prm.retrain(policy, tok, QUESTIONS, last_number_is_answer, solutions_per_question=4,
                         max_new_tokens=16)
    # 10% of the first round's examples come back
    assert second["replayed"] == round(0.1 * first["examples"])
    assert second["buffer"] == first["examples"] + second["examples"]


# ---------------------------------------------------------------- process-supervised GRPO driven by the PRM


def test_process_grpo_with_the_prm():
    tok = char_tokenizer()
    policy = stepwise_policy(tok)
    prm = make_process_reward_model(tok, hidden=32, layers=1, lr=3e-3, epochs=2, completions=4)
    # as the trainer will: train the PRM on the initial policy's labelled solutions before RL
    prm.retrain(policy, tok, QUESTIONS, last_number_is_answer, solutions_per_question=4, max_new_tokens=16)
    calls = []

    def step_reward_fn(question: dict, steps: list[str]) -> list[float]:
        scores = prm.step_rewards(question, steps)
        calls.append((steps, scores))
        return scores

    cfg = small_cfg(supervision="process", max_completion_length=16, micro_batch=8)
    trainer = GRPOTrainer(policy, tok, QUESTIONS, last_number_is_answer, cfg, log=lambda s: None,
                          step_reward_fn=step_reward_fn)
    trainer.start_iteration()
    chunks = trainer.sample(QUESTIONS[:2])
    adv = torch.cat(trainer.score(chunks)["advantages"])
    g = cfg.num_generations
    assert len(calls) == 2 * g and all(len(scores) == len(steps) for steps, scores in calls)
    assert all(0 < s < 1 for _, scores in calls for s in scores)
    # the advantages are the PRM's scores normalized over the group and summed over later steps, token by
    # token: recompute them from the recorded scores and the same step ends
    want = grpo.process_advantages([scores for _, scores in calls], g, cfg.scale_rewards)
    rows = [(ch, r) for ch in chunks for r in range(len(ch["seq"]))]  # score() asks in this order
    multi = 0
    for i, ((ch, row), (steps, _)) in enumerate(zip(rows, calls, strict=True)):
        ids = ch["seq"][row, ch["start"]:ch["start"] + ch["lengths"][row]].tolist()
        ends = grpo.find_step_ends(ids, trainer.sep_ids, trainer.eos_ids)
        assert len(ends) == len(steps)
        for j, (a, b) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
            assert torch.allclose(adv[i, a:b], torch.tensor(want[i][j]), atol=1e-5)
        if len(steps) > 1:
            multi += 1
            # the PRM's per-step scores make steps of one output differ
            assert len({round(v, 6) for v in want[i]}) > 1, want[i]
    assert multi > 0
    losses = [trainer.step()["loss"] for _ in range(2)]
    assert all(math.isfinite(x) for x in losses)


# ---------------------------------------------------------------- GRPOTrainer builds, trains and uses a PRM


def test_process_supervision_without_a_step_reward_fn_builds_a_prm():
    tok = char_tokenizer()
    cfg = small_cfg(supervision="process", prm_lr=2e-3, prm_epochs=5, prm_batch_size=8, prm_completions=3,
                    prm_min_share=0.5, prm_soft=True, replay_share=0.2, step_separator=";")
    trainer = GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, last_number_is_answer, cfg, log=lambda s: None)
    prm = trainer.prm  # once a ValueError ("process supervision needs a step_reward_fn")
    assert isinstance(prm, ProcessRewardModel) and prm.rounds == 0 and len(prm.replay) == 0
    assert (prm.lr, prm.epochs, prm.batch_size) == (2e-3, 5, 8)
    assert (prm.completions, prm.min_share, prm.soft) == (3, 0.5, True)
    assert (prm.replay_share, prm.separator, prm.seed) == (0.2, ";", cfg.seed)
    assert prm.device == trainer.device
    assert trainer.step_reward_fn == prm.step_rewards
    # a hand-written step_reward_fn still wins, and outcome supervision builds nothing
    given = GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, last_number_is_answer, cfg, log=lambda s: None,
                        step_reward_fn=lambda q, steps: [0.0] * len(steps))
    assert given.prm is None
    assert GRPOTrainer(tiny_llama(tok), tok, QUESTIONS, last_number_is_answer, small_cfg(),
                       log=lambda s: None).prm is None


def test_the_trainers_prm_trains_and_drives_process_grpo():
    tok = char_tokenizer()
    policy = stepwise_policy(tok)
    lines: list[str] = []
    # the prm_* defaults (lr 3e-3, 3 epochs) with fewer continuations: 3 questions x 4 solutions a round
    cfg = small_cfg(supervision="process", rl_iterations=2, steps_per_iteration=2, questions_per_step=3,
                    max_completion_length=16, micro_batch=8, rollout_questions=3, prm_completions=4)
    trainer = GRPOTrainer(policy, tok, QUESTIONS, last_number_is_answer, cfg, log=lines.append)
    prm = trainer.prm
    scored: list[int] = []
    batched = prm.score_steps

    def spy(items):
        scored.append(len(items))
        return batched(items)

    prm.score_steps = spy  # every output RL trains on is scored by this PRM, in one call per chunk
    history = trainer.train()

    first, second = history["process_reward_model"]  # before RL and after iteration 1, not after the last
    assert prm.rounds == 2
    assert (first["round"], first["after_iteration"]) == (1, None)
    assert (second["round"], second["after_iteration"]) == (2, 0)
    assert first["replayed"] == 0 and 0 < first["examples"] <= 12 and 0 < first["share_good"] < 1
    assert first["loss_after"] < first["loss_before"]
    assert second["replayed"] == round(0.1 * first["examples"]) >= 1  # 10% of the earlier examples
    assert second["buffer"] == first["examples"] + second["examples"]
    assert all(math.isfinite(r[k]) for r in (first, second) for k in ("loss_before", "loss_after"))
    # one line per round, the first before any RL step, the second between iterations 1 and 2
    prm_lines = [i for i, line in enumerate(lines) if line.startswith("process reward model")]
    step_lines = [i for i, line in enumerate(lines) if line.startswith("step ")]
    assert len(prm_lines) == 2 and len(step_lines) == 4
    assert prm_lines[0] < step_lines[0] and step_lines[1] < prm_lines[1] < step_lines[2]
    head = f"process reward model (before RL): {first['examples']} examples + 0 replayed, "
    assert lines[prm_lines[0]].startswith(head) and " -> " in lines[prm_lines[0]]
    assert "(after iteration 1)" in lines[prm_lines[1]]
    assert sum(scored) == 4 * cfg.questions_per_step * cfg.num_generations
    losses = [s["loss"] for s in history["steps"]]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)

    # the per-token advantages are the PRM's step scores (each output scored on its own here, not batched),
    # normalized over the group and summed over later steps
    chunks = trainer.sample(QUESTIONS[:2])
    adv = torch.cat(trainer.score(chunks)["advantages"])
    g = cfg.num_generations
    rows = [(ch, r) for ch in chunks for r in range(len(ch["seq"]))]
    steps_of, ends_of = [], []
    for ch, row in rows:
        ids = ch["seq"][row, ch["start"]:ch["start"] + ch["lengths"][row]].tolist()
        ends = grpo.find_step_ends(ids, trainer.sep_ids, trainer.eos_ids)
        steps_of.append([tok.decode(ids[a:b], skip_special_tokens=True)
                         for a, b in zip([0, *ends[:-1]], ends, strict=True)])
        ends_of.append(ends)
    scores = [prm.step_rewards(ch["questions"][row], steps)
              for (ch, row), steps in zip(rows, steps_of, strict=True)]
    assert [s for ch in chunks for s in ch["step_rewards"]] == [pytest.approx(s, abs=1e-5) for s in scores]
    want = grpo.process_advantages(scores, g, cfg.scale_rewards)
    multi = 0
    for i, ends in enumerate(ends_of):
        for j, (a, b) in enumerate(zip([0, *ends[:-1]], ends, strict=True)):
            assert torch.allclose(adv[i, a:b], torch.tensor(want[i][j]), atol=1e-4)
        if len(ends) > 1:
            multi += 1
            values = {round(adv[i, a].item(), 5) for a in [0, *ends[:-1]]}
            assert len(values) > 1, (steps_of[i], scores[i])  # the steps of one output differ
    assert multi > 0


def test_train_grpo_job_with_process_supervision_builds_and_saves_the_prm(tmp_path, capsys):
    """`mathmine train grpo --set grpo.supervision=process`: once refused for want of a step_reward_fn, now
    trained with the stage's PRM (and no outcome reward model, which nothing would read); the PRM is saved
    next to the policy and loads with AutoModelForTokenClassification."""
    import json

    from transformers import AutoModelForTokenClassification

    from jobs.cli import main

    tok = char_tokenizer()
    model_dir = tmp_path / "model"
    tiny_llama(tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"question": "2+3?", "answer": "#### 5"}\n'
                        '{"question": "7*8?", "answer": "#### 56"}\n')
    out = tmp_path / "out"
    sets = ["grpo.supervision=process", "grpo.num_generations=2", "grpo.questions_per_step=2",
            "grpo.steps_per_iteration=1", "grpo.rl_iterations=2", "grpo.max_completion_length=6",
            "grpo.rollout_questions=2", "grpo.prm_completions=2", "grpo.prm_solutions_per_question=2",
            "evaluate.prompt_template='{question} A:'"]
    args = ["train", "grpo", "--model", str(model_dir), "--problems", str(problems), "--out", str(out)]
    assert main([*args, *[x for s in sets for x in ("--set", s)]]) == 0
    history = json.loads((out / "grpo_history.json").read_text())
    assert history["reward_model"] == [] and len(history["process_reward_model"]) == 2
    assert len(history["steps"]) == 2 and all(math.isfinite(s["loss"]) for s in history["steps"])
    assert "train grpo: process reward model (before RL):" in capsys.readouterr().err
    prm = AutoModelForTokenClassification.from_pretrained(out / "prm", local_files_only=True)
    assert prm.config.num_labels == 1
