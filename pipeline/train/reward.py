"""Rewards for GRPO: a rule-based verifier adapter and a small outcome reward model with replay.

The reward model (RM) is a sequence classifier with one logit: P(correct | prompt + completion) =
sigmoid(logit), trained with binary cross-entropy on completions labelled by the verifier. Iterative RL
(DeepSeekMath 4.2) continues training it each iteration on fresh policy samples plus a replay of 10% of
the historical data, so it tracks the moving policy without forgetting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch


def verifier_reward(check: Callable[[str, str], bool],
                    answer_key: str = "answer") -> Callable[[dict, str], float]:
    """reward_fn for GRPO from an answer checker `check(prediction_text, reference) -> bool`: 1.0 when the
    completion's answer matches question[answer_key], else 0.0."""

    def reward(question: dict, completion: str) -> float:
        return 1.0 if check(completion, question[answer_key]) else 0.0

    return reward


def tiny_gpt2_config(tokenizer: Any, hidden: int = 64, layers: int = 2, heads: int = 2,
                     max_positions: int = 1024) -> Any:
    """The config of the small GPT-2 reward models (outcome and process) over the policy's tokenizer:
    one output logit."""
    from transformers import GPT2Config

    return GPT2Config(vocab_size=len(tokenizer), n_embd=hidden, n_layer=layers, n_head=heads,
                      n_positions=max_positions, num_labels=1, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)


def make_reward_model(tokenizer: Any, hidden: int = 64, layers: int = 2, heads: int = 2,
                      max_positions: int = 1024, seed: int = 0) -> Any:
    """A tiny randomly initialised GPT-2 sequence classifier (one logit) over the policy's tokenizer, for
    the demo and tests; any AutoModelForSequenceClassification with num_labels=1 works the same."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(
        tiny_gpt2_config(tokenizer, hidden, layers, heads, max_positions))


class ReplayBuffer:
    """All past RM training examples; `sample(share)` draws round(share * len) of them without replacement,
    deterministic given the seed and the number of earlier draws."""

    def __init__(self, seed: int = 0):
        self.items: list[dict] = []
        self.seed = seed
        self.draws = 0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, examples: list[dict]) -> None:
        self.items.extend(examples)

    def sample(self, share: float) -> list[dict]:
        k = round(share * len(self.items))
        rng = random.Random(self.seed * 1_000_003 + self.draws)
        self.draws += 1
        return rng.sample(self.items, k)


def _encode(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    device = next(model.parameters()).device
    return tokenizer(texts, return_tensors="pt", padding=True, padding_side="right", truncation=True,
                     max_length=max_length).to(device)


@torch.no_grad()
def score(model: Any, tokenizer: Any, texts: list[str], batch_size: int = 32,
          max_length: int = 2048) -> torch.Tensor:
    """P(correct) for each text, a float32 tensor on the model's device."""
    was_training = model.training
    model.eval()
    out = [torch.sigmoid(model(**_encode(model, tokenizer, texts[i:i + batch_size], max_length)).logits[:, 0])
           for i in range(0, len(texts), batch_size)]
    model.train(was_training)
    return torch.cat(out).float() if out else torch.zeros(0)


def train_reward_model(model: Any, examples: list[dict], replay_buffer: ReplayBuffer,
                       replay_share: float = 0.1, *, tokenizer: Any, lr: float = 1e-5, epochs: int = 1,
                       batch_size: int = 16, max_length: int = 2048, seed: int = 0) -> dict[str, Any]:
    """Continue training the RM on examples ({"text", "label" in [0, 1]}) plus replay_share of the buffer's
    older examples (paper: 10% of historical data), then add the fresh examples to the buffer.
    Returns counts and the mean loss."""
    replayed = replay_buffer.sample(replay_share)
    data = list(examples) + replayed
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        rng.shuffle(data)
        for i in range(0, len(data), batch_size):
            batch = data[i:i + batch_size]
            enc = _encode(model, tokenizer, [ex["text"] for ex in batch], max_length)
            labels = torch.tensor([float(ex["label"]) for ex in batch], device=enc["input_ids"].device)
            logits = model(**enc).logits[:, 0].float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    model.eval()
    replay_buffer.add(examples)
    return {"fresh": len(examples), "replayed": len(replayed), "buffer": len(replay_buffer),
            "loss": sum(losses) / max(len(losses), 1)}
