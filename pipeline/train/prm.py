"""A process reward model (PRM) for process-supervised GRPO, trained on Math-Shepherd labels.

Process supervision (DeepSeekMath, arXiv 2402.03300, section 4.1.3) rewards each reasoning step instead of
only the final answer; the paper's reward-model data follow Math-Shepherd (section 4.2; Wang et al., arXiv
2312.08935), which needs no human step labels. A step is judged by what the policy can still reach from it:

    solution s_1 .. s_K of question q (split after each step separator, as grpo.find_step_ends does)
    for each step i < K: sample N completions of  q + s_1 .. s_i  and check each with the verifier
        -> the rollout tree: per step, the list of its completions' rewards
    the last step is a complete solution: its one "completion" is the solution itself
    label_i = 1 if at least one completion is correct      hard estimation (HE), Math-Shepherd's default
              share of correct completions                 soft estimation (SE), a soft BCE target

Math-Shepherd samples N = 8 completions per step and trains on HE labels; `min_share` generalises HE to
"at least this share correct" (0, the default, is HE: any correct completion makes the step good).

The model is a token classifier with one logit per token, read only at step ends (Math-Shepherd puts a
step tag there; here the step's last token plays that role): the input is the prompt followed by the
steps, each tokenized on its own so a step's end is an exact token position, and step i's score is
sigmoid(logit at the last token of step i), P(a correct answer is still reachable after step i). Training
is binary cross-entropy at those positions only, every step weighing the same.

Like the outcome reward model (reward.py), the PRM follows the policy in iterative RL (DeepSeekMath
4.1.4): each iteration it samples solutions from the current policy, labels their steps by the rule above
and continues training on the fresh examples plus a replay of 10% of all earlier ones (reward.ReplayBuffer;
one example is one solution with all its step labels). `ProcessRewardModel.step_rewards` has the shape
of GRPOTrainer's `step_reward_fn(question, step_texts) -> list[float]`. GRPOTrainer builds one with
`supervision: process` and no step_reward_fn (settings grpo.prm_*), trains it before RL and after each
iteration but the last (GRPOTrainer.retrain_process_reward_model), and scores its rollouts with it.

Labelling costs K x N sampled completions per solution: a real run budgets `solutions_per_question`,
`completions` and `max_new_tokens` accordingly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch

from pipeline.train import reward as rwd
from pipeline.train.generate import sample_completions
from pipeline.train.grpo import find_step_ends, separator_ids, step_texts

RewardFn = Callable[[dict, str], float]
RolloutTree = list[list[float]]  # per step, the verifier rewards of the completions continued from it

MATH_SHEPHERD_COMPLETIONS = 8  # N, completions per step in Math-Shepherd


# ---------------------------------------------------------------- Math-Shepherd labels


def step_labels(tree: Sequence[Sequence[float]], min_share: float = 0.0, soft: bool = False,
                correct_at: float = 0.5) -> list[float]:
    """One label per step of a rollout tree (per step, the rewards of the completions continued from it).
    A completion is correct when its reward is >= correct_at. soft=False: 1.0 when at least one completion
    is correct and the share correct is >= min_share, else 0.0 (min_share 0, the default, is Math-Shepherd's
    hard estimation); soft=True: the share correct (Math-Shepherd's soft estimation)."""
    labels = []
    for i, rewards in enumerate(tree):
        if not rewards:
            raise ValueError(f"step {i}: no completions to estimate it from")
        share = sum(float(r) >= correct_at for r in rewards) / len(rewards)
        labels.append(share if soft else float(share > 0 and share >= min_share))
    return labels


def split_steps(tokenizer: Any, text: str, sep_ids: set[int]) -> list[str]:
    """The steps of a completion text, split after each separator token as GRPOTrainer.reward splits
    sampled ids (so the PRM is trained on the same step boundaries it later scores)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return step_texts(tokenizer, ids, find_step_ends(ids, sep_ids))  # an empty text has no step


def build_rollout_trees(policy: Any, tokenizer: Any, solutions: Sequence[tuple[dict, Sequence[str]]],
                        reward_fn: RewardFn, *, completions: int = MATH_SHEPHERD_COMPLETIONS,
                        max_new_tokens: int = 64, temperature: float = 1.0, seed: int = 0,
                        batch_prompts: int = 16) -> list[RolloutTree]:
    """The rollout tree of each (question, steps) solution: for every step but the last, the rewards of
    `completions` continuations the policy samples from question["prompt"] + steps[:i+1] (reward_fn sees
    the whole completion, prefix steps included); for the last step, the solution's own reward. All
    prefixes go through one batched sample_completions call: the same solutions in the same order with
    the same seed give the same trees (a solution's draws depend on the batch it is sampled in)."""
    prefixes, owners = [], []
    for s, (question, steps) in enumerate(solutions):
        for i in range(len(steps) - 1):
            prefixes.append(question["prompt"] + "".join(steps[:i + 1]))
            owners.append((s, i))
    sampled = sample_completions(policy, tokenizer, prefixes, n=completions, temperature=temperature,
                                 max_new_tokens=max_new_tokens, seed=seed,
                                 batch_prompts=batch_prompts) if prefixes else []
    trees: list[RolloutTree] = [[[] for _ in steps] for _, steps in solutions]
    for (s, i), continuations in zip(owners, sampled, strict=True):
        question, steps = solutions[s]
        done = "".join(steps[:i + 1])
        trees[s][i] = [float(reward_fn(question, done + c)) for c in continuations]
    for s, (question, steps) in enumerate(solutions):
        if steps:  # a complete solution needs no rollout: its last step is as good as its answer
            trees[s][-1] = [float(reward_fn(question, "".join(steps)))]
    return trees


def build_rollout_tree(policy: Any, tokenizer: Any, question: dict, steps: Sequence[str], reward_fn: RewardFn,
                       **kwargs: Any) -> RolloutTree:
    """The rollout tree of one solution (see build_rollout_trees for the arguments)."""
    return build_rollout_trees(policy, tokenizer, [(question, steps)], reward_fn, **kwargs)[0]


# ---------------------------------------------------------------- the model


def make_token_classifier(tokenizer: Any, hidden: int = 64, layers: int = 2, heads: int = 2,
                          max_positions: int = 1024, seed: int = 0) -> Any:
    """A tiny randomly initialised GPT-2 token classifier (one logit per token) over the policy's
    tokenizer, as reward.make_reward_model builds the outcome RM; any AutoModelForTokenClassification with
    num_labels=1 works the same."""
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(seed)
    return AutoModelForTokenClassification.from_config(
        rwd.tiny_gpt2_config(tokenizer, hidden, layers, heads, max_positions))


class ProcessRewardModel:
    """A token-classification PRM with its replay buffer. `step_rewards(question, step_texts)` scores steps
    (GRPOTrainer's step_reward_fn); `retrain(policy, tokenizer, questions, reward_fn)` samples solutions,
    labels them by Math-Shepherd's rule and continues training on them plus replayed older examples.

    An example is {"prompt": str, "steps": [str], "labels": [float in [0, 1]]}."""

    def __init__(self, model: Any, tokenizer: Any, *, separator: str = "\n", lr: float = 1e-3,
                 epochs: int = 1, batch_size: int = 16, replay_share: float = 0.1,
                 completions: int = MATH_SHEPHERD_COMPLETIONS, min_share: float = 0.0, soft: bool = False,
                 max_length: int | None = None, seed: int = 0):
        self.model, self.tokenizer = model, tokenizer
        self.separator, self.lr, self.epochs, self.batch_size = separator, lr, epochs, batch_size
        self.replay_share, self.completions = replay_share, completions
        self.min_share, self.soft = min_share, soft
        # the longest input the model takes (GPT-2: n_positions); longer ones keep their tail, see _encode
        config = model.config
        self.max_length = (max_length or getattr(config, "n_positions", None)
                           or getattr(config, "max_position_embeddings", None) or 2048)
        self.seed, self.rounds = seed, 0
        self.replay = rwd.ReplayBuffer(seed=seed)
        self._sep_ids: dict[int, set[int]] = {}
        if tokenizer.pad_token_id is None:  # Llama-style tokenizers have none; pads are masked anyway
            tokenizer.pad_token = tokenizer.eos_token
        model.eval()  # scoring is the common call; fit() switches to train mode and back

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _encode(self, items: Sequence[tuple[str, Sequence[str]]]
                ) -> tuple[dict[str, torch.Tensor], list[list[int]]]:
        """Right-padded ids of prompt + steps, and each item's step-end positions (the last token of each
        step; an empty step shares the previous end). Pieces are tokenized separately so that no BPE merge
        crosses a step boundary. Inputs over max_length keep their last max_length tokens (a step end
        cut off with the head scores the first kept token)."""
        pieces = [p for prompt, steps in items for p in (prompt, *steps)]
        ids = self.tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
        rows, ends, k = [], [], 0
        for _, steps in items:
            row = list(ids[k])
            k += 1
            pos = []
            for _ in steps:
                row.extend(ids[k])
                k += 1
                pos.append(len(row) - 1)
            if not row:  # nothing at all to read: give the model one token
                row, pos = [self.tokenizer.eos_token_id], [0] * len(steps)
            cut = max(len(row) - self.max_length, 0)
            rows.append(row[cut:])
            ends.append([max(p - cut, 0) for p in pos])
        width = max((len(r) for r in rows), default=0)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
        attn = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
        return {"input_ids": input_ids.to(self.device), "attention_mask": attn.to(self.device)}, ends

    def _step_logits(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[torch.Tensor]:
        enc, ends = self._encode(items)
        logits = self.model(**enc).logits[..., 0].float()
        return [logits[i, torch.tensor(e, dtype=torch.long, device=logits.device)]
                for i, e in enumerate(ends)]

    @torch.no_grad()
    def score_steps(self, items: Sequence[tuple[dict, Sequence[str]]]) -> list[list[float]]:
        """Per (question, step_texts): one sigmoid score per step, in batches of batch_size."""
        was_training = self.model.training
        self.model.eval()
        out: list[list[float]] = []
        try:
            for b in range(0, len(items), self.batch_size):
                batch = [(q["prompt"], list(steps)) for q, steps in items[b:b + self.batch_size]]
                out.extend(torch.sigmoid(x).tolist() for x in self._step_logits(batch))
        finally:
            self.model.train(was_training)
        return out

    def step_rewards(self, question: dict, step_texts: list[str]) -> list[float]:
        """GRPOTrainer's step_reward_fn: P(good) for each step of one output, one float per step."""
        if not step_texts:
            return []
        return self.score_steps([(question, step_texts)])[0]

    def _batch_loss(self, batch: Sequence[dict]) -> torch.Tensor:
        """Mean BCE over all step ends of the batch (each step weighs the same, whatever its solution)."""
        logits = torch.cat(self._step_logits([(ex["prompt"], ex["steps"]) for ex in batch]))
        labels = torch.tensor([float(y) for ex in batch for y in ex["labels"]], device=logits.device)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)

    @torch.no_grad()
    def loss(self, examples: Sequence[dict]) -> float:
        """Mean BCE per step over the examples, in eval mode (no dropout)."""
        was_training = self.model.training
        self.model.eval()
        total, steps = 0.0, 0
        try:
            for b in range(0, len(examples), self.batch_size):
                batch = [ex for ex in examples[b:b + self.batch_size] if ex["steps"]]
                n = sum(len(ex["steps"]) for ex in batch)
                if n:
                    total += self._batch_loss(batch).item() * n
                    steps += n
        finally:
            self.model.train(was_training)
        return total / steps if steps else 0.0

    def fit(self, examples: Sequence[dict], seed: int | None = None) -> dict[str, Any]:
        """Continue training on the examples plus replay_share of the buffer's older examples (paper: 10% of
        historical data), then add the fresh ones to the buffer. Returns counts, the share of fresh steps
        labelled good (the mean label), and the per-step loss on the training data before and after."""
        fresh = [ex for ex in examples if ex["steps"]]
        if any(len(ex["steps"]) != len(ex["labels"]) for ex in fresh):
            raise ValueError("every example needs one label per step")
        replayed = self.replay.sample(self.replay_share)
        data = fresh + replayed
        loss_before = self.loss(data)
        rng = random.Random(self.seed if seed is None else seed)
        # a fresh optimizer each round, as reward.train_reward_model does: rounds are independent fits
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr)
        self.model.train()
        losses = []
        try:
            for _ in range(self.epochs):
                rng.shuffle(data)
                for b in range(0, len(data), self.batch_size):
                    loss = self._batch_loss(data[b:b + self.batch_size])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
        finally:
            self.model.eval()
        self.replay.add(fresh)
        labels = [y for ex in fresh for y in ex["labels"]]
        return {"examples": len(fresh), "replayed": len(replayed), "buffer": len(self.replay),
                "steps": len(labels), "share_good": sum(labels) / len(labels) if labels else 0.0,
                "loss_before": loss_before, "loss_after": self.loss(data),
                "loss": sum(losses) / len(losses) if losses else 0.0}

    def label(self, policy: Any, tokenizer: Any, questions: Sequence[dict], reward_fn: RewardFn, *,
              solutions_per_question: int = 4, max_new_tokens: int = 64, temperature: float = 1.0,
              seed: int = 0) -> list[dict]:
        """Sample solutions_per_question solutions per question from the policy and label their steps (see
        label_completions)."""
        texts = sample_completions(policy, tokenizer, [q["prompt"] for q in questions],
                                   n=solutions_per_question, temperature=temperature,
                                   max_new_tokens=max_new_tokens, seed=seed)
        pairs = [(q, t) for q, row in zip(questions, texts, strict=True) for t in row]
        return self.label_completions(policy, tokenizer, pairs, reward_fn, max_new_tokens=max_new_tokens,
                                      temperature=temperature, seed=seed + 1)

    def label_completions(self, policy: Any, tokenizer: Any, pairs: Sequence[tuple[dict, str]],
                          reward_fn: RewardFn, *, max_new_tokens: int = 64, temperature: float = 1.0,
                          seed: int = 0) -> list[dict]:
        """Examples from (question, completion text) pairs already sampled (e.g. a GRPO step's rollouts):
        each completion split into steps at the separator, as GRPOTrainer splits them, and every step
        labelled by Math-Shepherd's rule from self.completions policy continuations. Empty completions
        (no step) are dropped."""
        key = id(tokenizer)
        if key not in self._sep_ids:  # decoding the whole vocabulary once per tokenizer, not per round
            self._sep_ids[key] = separator_ids(tokenizer, self.separator)
        solutions = [(q, split_steps(tokenizer, t, self._sep_ids[key])) for q, t in pairs]
        solutions = [(q, steps) for q, steps in solutions if steps]
        trees = build_rollout_trees(policy, tokenizer, solutions, reward_fn, completions=self.completions,
                                    max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
        return [{"prompt": q["prompt"], "steps": list(steps),
                 "labels": step_labels(tree, self.min_share, self.soft)}
                for (q, steps), tree in zip(solutions, trees, strict=True)]

    def retrain(self, policy: Any, tokenizer: Any, questions: Sequence[dict], reward_fn: RewardFn, *,
                solutions_per_question: int = 4, max_new_tokens: int = 64, temperature: float = 1.0,
                seed: int | None = None) -> dict[str, Any]:
        """One round of iterative RL for the PRM: label fresh policy solutions (see label) and fit on them
        plus the replay. Seeds differ per round unless given. Returns fit's stats."""
        seed = self.seed + 1_000 * self.rounds if seed is None else seed
        self.rounds += 1
        examples = self.label(policy, tokenizer, questions, reward_fn,
                              solutions_per_question=solutions_per_question, max_new_tokens=max_new_tokens,
                              temperature=temperature, seed=seed)
        return self.fit(examples, seed=seed)


def make_process_reward_model(tokenizer: Any, hidden: int = 64, layers: int = 2, heads: int = 2,
                              max_positions: int = 1024, seed: int = 0, device: Any = None,
                              **kwargs: Any) -> ProcessRewardModel:
    """A ProcessRewardModel around a tiny fresh GPT-2 token classifier over the policy's tokenizer (moved to
    `device` when given); kwargs go to ProcessRewardModel (separator, lr, epochs, batch_size, replay_share,
    completions, min_share, soft)."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = make_token_classifier(tokenizer, hidden, layers, heads, max_positions, seed)
    if device is not None:
        model = model.to(device)
    return ProcessRewardModel(model, tokenizer, seed=seed, **kwargs)
