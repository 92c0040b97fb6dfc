"""Sampling completions from a causal LM and scoring them: greedy accuracy, pass@k, maj@k, reward.

Used by `mathmine train eval` and the demo before and after GRPO. Sampling is seeded per batch, so
the same model and seed give the same completions on the same device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from pipeline.train.evaluate import evaluate_samples, greedy_accuracy, is_correct


@torch.no_grad()
def sample_completions(model: Any, tokenizer: Any, prompts: Sequence[str], n: int = 1, greedy: bool = False,
                       temperature: float = 1.0, max_new_tokens: int = 64, seed: int = 0,
                       batch_prompts: int = 16) -> list[list[str]]:
    """n completions per prompt (the text after the prompt, special tokens dropped)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # generation continues on the right
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    out: list[list[str]] = []
    try:
        for start in range(0, len(prompts), batch_prompts):
            chunk = list(prompts[start:start + batch_prompts])
            enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            torch.manual_seed(seed + start)
            generated = model.generate(
                **enc, do_sample=not greedy, temperature=temperature if not greedy else None, top_p=None,
                top_k=None, num_return_sequences=1 if greedy else n, max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            texts = tokenizer.batch_decode(generated[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            per = 1 if greedy else n
            out.extend(texts[i * per:(i + 1) * per] for i in range(len(chunk)))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def evaluate_model(model: Any, tokenizer: Any, problems: Sequence[dict], n: int, ks: Sequence[int],
                   temperature: float = 1.0, max_new_tokens: int = 64, seed: int = 0,
                   postprocess: Callable[[str], str] | None = None,
                   check: Callable[[str, str], bool] = is_correct) -> dict[str, Any]:
    """Greedy accuracy, pass@k and maj@k (equivalence voting) from n samples per problem, and the
    mean verifier reward over all samples. `postprocess` trims a completion (e.g. at the next
    question) before its answer is read."""
    prompts = [p.get("prompt") or p["question"] for p in problems]
    trim = postprocess or (lambda text: text)
    greedy = [trim(c[0]) for c in sample_completions(model, tokenizer, prompts, greedy=True,
                                                        max_new_tokens=max_new_tokens, seed=seed)]
    samples = [[trim(c) for c in row] for row in sample_completions(
        model, tokenizer, prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)]
    result = evaluate_samples(list(problems), samples, ks)
    result.pop("per_problem", None)
    result["greedy_accuracy"] = greedy_accuracy(list(problems), greedy)
    rewards = [float(check(text, p["answer"]))
               for p, row in zip(problems, samples, strict=True) for text in row]
    result["mean_reward"] = sum(rewards) / len(rewards) if rewards else 0.0
    result["n_samples"] = n
    return result
