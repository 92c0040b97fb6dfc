"""GRPO, Group Relative Policy Optimization (DeepSeekMath, arXiv 2402.03300, section 4.1 and Algorithm 1).

Per step: sample G outputs per question from the old policy, reward them, turn rewards into advantages
relative to the group (no value model), then take `mu` gradient steps on the clipped objective

    J = mean over questions, 1/G sum_i 1/|o_i| sum_t [ min(r_t A_it, clip(r_t, 1-eps, 1+eps) A_it)
                                                       - beta * KL_k3(pi || pi_ref)_t ],   r_t = pi/pi_old

Iterative RL: each iteration sets the reference model to the current policy, runs its steps, then
retrains the reward model on fresh policy samples plus a replay of older data (reward.py).

The old policy is the policy's own weights at the start of a step: outputs are sampled with them and
their log-probs are taken on the first inner pass, before any optimizer step, so no third model copy is
kept; with mu=1 the ratio is exactly 1 and only mu > 1 moves it. Dropout stays off (eval mode) so the
ratio compares one deterministic function. Runs on CPU or CUDA unchanged (the device is the model's);
bf16 autocast only on CUDA that supports it.

Questions are dicts with a "prompt" (the text the policy completes) plus whatever `reward_fn(question,
completion_text) -> float` reads (e.g. "answer"). Process supervision splits a completion into steps at
tokens whose text contains `cfg.step_separator` (a newline by default) and asks
`step_reward_fn(question, step_texts) -> list[float]` for one reward per step.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from typing import Any

import torch

from pipeline.train import reward as rwd
from pipeline.train.cpt import progress_line
from pipeline.train.settings import GRPOConfig

RewardFn = Callable[[dict, str], float]
StepRewardFn = Callable[[dict, list[str]], list[float]]




# ---------------------------------------------------------------- advantages


def _normalize(r: torch.Tensor) -> torch.Tensor:
    """(r - mean) / std along the last dim, population std; a row whose values are all equal gives exactly 0.
    Equality is tested with max == min: the float std of equal values can come out as 1e-9, not 0."""
    mean = r.mean(-1, keepdim=True)
    std = r.std(-1, unbiased=False, keepdim=True)
    spread = (r.amax(-1, keepdim=True) > r.amin(-1, keepdim=True)) & (std > 0)
    safe_std = torch.where(spread, std, torch.ones_like(std))  # never divide by 0, even in the unused branch
    return torch.where(spread, (r - mean) / safe_std, torch.zeros_like(r))


def outcome_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """One advantage per output: (r_i - mean(group)) / std(group), std the population std (ddof 0,
    unbiased=False); a group whose rewards are all equal gets exactly 0.0. rewards is flat (B*G,) with
    each group's G outputs contiguous. Computed in float64, returned as float32."""
    r = rewards.detach().to(torch.float64).reshape(-1, group_size)
    return _normalize(r).reshape(-1).float()


def process_advantages(step_rewards: list[list[float]], group_size: int) -> list[list[float]]:
    """Process supervision: step_rewards[i] holds output i's per-step rewards (groups contiguous). Each
    reward is normalized by the mean and population std of ALL step rewards of its group (all equal: 0),
    and step j's advantage is the sum of the normalized rewards of steps j, j+1, ... of that output."""
    if len(step_rewards) % group_size:
        raise ValueError(f"{len(step_rewards)} outputs is not a multiple of group_size {group_size}")
    out: list[list[float]] = []
    for g in range(0, len(step_rewards), group_size):
        group = step_rewards[g:g + group_size]
        flat = torch.tensor([x for steps in group for x in steps], dtype=torch.float64)
        norm = _normalize(flat) if flat.numel() else flat
        offset = 0
        for steps in group:
            x = norm[offset:offset + len(steps)]
            offset += len(steps)
            out.append(x.flip(0).cumsum(0).flip(0).tolist())  # suffix sums
    return out


def token_process_advantages(step_rewards: list[list[float]], step_ends: list[list[int]],
                             lengths: Sequence[int], group_size: int) -> torch.Tensor:
    """(N, max(lengths)) float32 token advantages: token t of output i, in step j (step_ends[i][j-1] <= t <
    step_ends[i][j], ends exclusive and relative to the response start), gets process_advantages' step j
    value. Tokens at or past lengths[i] or past the last step end get 0."""
    step_adv = process_advantages(step_rewards, group_size)
    adv = torch.zeros(len(lengths), max(lengths, default=0))
    for i, (values, ends) in enumerate(zip(step_adv, step_ends, strict=True)):
        if len(values) != len(ends):
            raise ValueError(f"output {i}: {len(values)} step rewards for {len(ends)} steps")
        start = 0
        for value, end in zip(values, ends, strict=True):
            adv[i, start:min(end, lengths[i])] = value
            start = end
    return adv


def find_step_ends(ids: Sequence[int], sep_ids: Collection[int], eos_ids: Collection[int] = ()) -> list[int]:
    """Exclusive end positions of the steps of one response: a step ends after each token in sep_ids; the
    last step ends at len(ids) whether or not it has a separator; a final EOS joins the last step."""
    n = len(ids)
    if n == 0:
        return []
    body = n - 1 if ids[-1] in eos_ids else n
    ends = [i + 1 for i in range(body) if ids[i] in sep_ids]
    if not ends or ends[-1] < body:
        ends.append(n)
    else:
        ends[-1] = n
    return ends


def separator_ids(tokenizer: Any, separator: str = "\n") -> set[int]:
    """Ids of every vocabulary token whose text contains the separator (BPE merges '\\n' into '.\\n' etc.)."""
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return {i for i, text in enumerate(texts) if separator in text}


# ---------------------------------------------------------------- objective


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(pi || pi_ref): pi_ref/pi - log(pi_ref/pi) - 1 (>= 0, unbiased)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def response_mask(sequences: torch.Tensor, prompt_lengths: int | Sequence[int] | torch.Tensor,
                  eos_ids: Sequence[int], pad_id: int | None) -> torch.Tensor:
    """(N, T) float mask: 1 for response tokens up to and including the first EOS (any of eos_ids), 0 for
    prompt tokens, tokens after that EOS, and padding. prompt_lengths is where each row's response starts
    (after left-padded generate: the padded prompt width, one int for all rows). A pad id that is also an
    EOS id counts as that EOS where it comes first."""
    n, t = sequences.shape
    pos = torch.arange(t, device=sequences.device).expand(n, t)
    start = torch.as_tensor(prompt_lengths, device=sequences.device).reshape(-1, 1)
    response = pos >= start
    is_eos = torch.isin(sequences, torch.as_tensor(list(eos_ids), device=sequences.device)) & response
    first_eos = torch.where(is_eos, pos, t).amin(1, keepdim=True)
    not_pad = sequences != pad_id if pad_id is not None else torch.ones_like(response)
    return (response & (pos <= first_eos) & (not_pad | (pos == first_eos))).float()


def _per_output_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each output's masked tokens (1/|o_i|), then over the outputs (1/G)."""
    return ((x * mask).sum(1) / mask.sum(1).clamp_min(1)).mean()


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor | None,
              advantages: torch.Tensor, mask: torch.Tensor, clip_eps: float = 0.2,
              beta: float = 0.04) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative GRPO objective for (N, T) per-token log-probs; advantages (N,) outcome or (N, T) process.
    Per token min(ratio*A, clip(ratio, 1-eps, 1+eps)*A) - beta*k3_kl, averaged over each output's masked
    tokens, then over the outputs. Stats: kl, clip_frac (tokens where the clipped term binds), ratio_mean."""
    adv = advantages if advantages.dim() == 2 else advantages[:, None]
    ratio = torch.exp(logp - old_logp)
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    per_token = torch.min(ratio * adv, clipped * adv)
    kl = k3_kl(logp, ref_logp) if ref_logp is not None else torch.zeros_like(logp)
    objective = _per_output_mean(per_token - beta * kl, mask)
    with torch.no_grad():
        stats = {"kl": _per_output_mean(kl, mask).item(),
                 "clip_frac": _per_output_mean((clipped * adv < ratio * adv).float(), mask).item(),
                 "ratio_mean": _per_output_mean(ratio, mask).item()}
    return -objective, stats


def sequence_logps(model: Any, seq: torch.Tensor, attn: torch.Tensor, start: int,
                   temperature: float = 1.0) -> torch.Tensor:
    """(N, T-start) log-probs of seq[:, start:] under the model at the sampling temperature. Positions come
    from the attention mask, so left-padded rows score as if unpadded; only response logits are kept."""
    pos = (attn.cumsum(-1) - 1).clamp_min(0)
    kwargs = {"logits_to_keep": seq.shape[1] - start + 1} if _accepts_logits_to_keep(model) else {}
    logits = model(input_ids=seq, attention_mask=attn, position_ids=pos, **kwargs).logits
    logits = logits[:, -(seq.shape[1] - start + 1):-1].float() / temperature
    target = seq[:, start:]
    return logits.gather(-1, target[..., None]).squeeze(-1) - logits.logsumexp(-1)


def _accepts_logits_to_keep(model: Any) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


# ---------------------------------------------------------------- trainer


class GRPOTrainer:
    """Holds the policy, the frozen reference, the optimizer and (optionally) a reward model with its
    replay buffer. `train()` runs cfg.iterations x cfg.steps_per_iteration steps; `step()` is one step
    (rollout + mu updates); `start_iteration()` resets the reference to the policy."""

    def __init__(self, policy: Any, tokenizer: Any, questions: list[dict], reward_fn: RewardFn,
                 cfg: GRPOConfig, log: Callable[[str], Any] = progress_line, *, reward_model: Any = None,
                 reward_tokenizer: Any = None, step_reward_fn: StepRewardFn | None = None):
        if cfg.supervision not in ("outcome", "process"):
            raise ValueError(f"supervision {cfg.supervision!r}: outcome or process")
        if cfg.supervision == "process" and step_reward_fn is None:
            raise ValueError("process supervision needs a step_reward_fn")
        self.policy, self.tok, self.questions, self.reward_fn, self.cfg, self.log = (
            policy, tokenizer, questions, reward_fn, cfg, log)
        self.reward_model, self.step_reward_fn = reward_model, step_reward_fn
        self.reward_tok = reward_tokenizer or tokenizer
        self.replay = rwd.ReplayBuffer(seed=cfg.seed)
        self.device = next(policy.parameters()).device
        eos = {tokenizer.eos_token_id, *_as_list(policy.generation_config.eos_token_id)} - {None}
        self.eos_ids = sorted(eos)
        if tokenizer.pad_token_id is None:  # Llama-style tokenizers have none; pads are masked anyway
            tokenizer.pad_token = tokenizer.eos_token
        self.pad_id = tokenizer.pad_token_id
        self.sep_ids = separator_ids(tokenizer, cfg.step_separator) if cfg.supervision == "process" else set()
        self.opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=0.0)
        self.ref: Any = None
        self.rng = random.Random(cfg.seed)
        self.order: list[int] = []
        self.step_count = 0
        torch.manual_seed(cfg.seed)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.bf16 and self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _next_questions(self, n: int) -> list[dict]:
        """The next n questions of a seeded shuffle, reshuffled at each pass over the set."""
        out = []
        while len(out) < n:
            if not self.order:
                self.order = list(range(len(self.questions)))
                self.rng.shuffle(self.order)
            out.append(self.questions[self.order.pop()])
        return out

    def start_iteration(self) -> None:
        """Iterative RL: the reference becomes a frozen copy of the current policy."""
        self.ref = None
        if self.cfg.beta > 0:
            self.ref = copy.deepcopy(self.policy).requires_grad_(False).eval()

    @torch.no_grad()
    def sample(self, questions: list[dict]) -> list[dict]:
        """G sampled outputs per question from the current (= old) policy, in chunks of rollout_questions
        questions: each chunk holds seq (n, P+L), attn, start P, mask (n, L), texts, lengths."""
        cfg, chunks = self.cfg, []
        self.policy.eval()
        for c in range(0, len(questions), cfg.rollout_questions):
            qs = questions[c:c + cfg.rollout_questions]
            enc = self.tok([q["prompt"] for q in qs], return_tensors="pt", padding=True,
                           padding_side="left").to(self.device)
            with self._autocast():
                seq = self.policy.generate(
                    **enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                    max_new_tokens=cfg.max_new_tokens, num_return_sequences=cfg.group_size,
                    eos_token_id=self.eos_ids, pad_token_id=self.pad_id)
            start = enc["input_ids"].shape[1]
            attn = torch.cat([enc["attention_mask"].repeat_interleave(cfg.group_size, 0),
                              torch.ones_like(seq[:, start:])], 1)
            mask = response_mask(seq, start, self.eos_ids, self.pad_id)[:, start:]
            lengths = mask.sum(1).long().tolist()
            texts = [self.tok.decode(seq[i, start:start + n], skip_special_tokens=True)
                     for i, n in enumerate(lengths)]
            chunks.append({"questions": [q for q in qs for _ in range(cfg.group_size)], "seq": seq,
                           "attn": attn, "start": start, "mask": mask, "texts": texts, "lengths": lengths})
        return chunks

    @torch.no_grad()
    def score(self, chunks: list[dict]) -> dict[str, Any]:
        """Rewards and advantages for sampled chunks (groups contiguous, in question order). Rewards come
        from the reward model when there is one (reward_fn then only labels its training data)."""
        cfg = self.cfg
        if cfg.supervision == "outcome":
            pairs = [(q, t) for ch in chunks for q, t in zip(ch["questions"], ch["texts"], strict=True)]
            if self.reward_model is not None:
                texts = [q["prompt"] + t for q, t in pairs]
                rewards = rwd.score(self.reward_model, self.reward_tok, texts).cpu()
            else:
                rewards = torch.tensor([float(self.reward_fn(q, t)) for q, t in pairs])
            adv = outcome_advantages(rewards, cfg.group_size)
            per_chunk = list(adv.split([len(ch["seq"]) for ch in chunks]))
        else:
            step_rewards, ends, lengths = [], [], []
            for ch in chunks:
                for i, n in enumerate(ch["lengths"]):
                    ids = ch["seq"][i, ch["start"]:ch["start"] + n].tolist()
                    e = find_step_ends(ids, self.sep_ids, self.eos_ids)
                    steps = [self.tok.decode(ids[a:b], skip_special_tokens=True)
                             for a, b in zip([0, *e[:-1]], e, strict=True)]
                    step_rewards.append([float(x) for x in self.step_reward_fn(ch["questions"][i], steps)])
                    ends.append(e)
                    lengths.append(n)
            adv = token_process_advantages(step_rewards, ends, lengths, cfg.group_size)
            per_chunk, row = [], 0
            for ch in chunks:
                per_chunk.append(adv[row:row + len(ch["seq"]), :ch["mask"].shape[1]])
                row += len(ch["seq"])
            rewards = torch.tensor([sum(s) for s in step_rewards])  # logged only: the sum of step rewards
        return {"rewards": rewards, "advantages": per_chunk}

    @torch.no_grad()
    def micro_batches(self, chunks: list[dict], advantages: list[torch.Tensor]) -> list[dict]:
        """Split chunks into micro-batches of at most cfg.micro_batch rows, trimmed to their longest response,
        with the reference log-probs (fixed for the whole step) computed once."""
        out = []
        for ch, adv in zip(chunks, advantages, strict=True):
            for r in range(0, len(ch["seq"]), self.cfg.micro_batch):
                rows = slice(r, r + self.cfg.micro_batch)
                width = max(ch["lengths"][rows])
                end = ch["start"] + width
                mb = {"seq": ch["seq"][rows, :end], "attn": ch["attn"][rows, :end],
                      "start": ch["start"], "mask": ch["mask"][rows, :width],
                      "adv": (adv[rows, :width] if adv.dim() == 2 else adv[rows]).to(self.device),
                      "ref_logp": None}
                if self.ref is not None:
                    with self._autocast():
                        mb["ref_logp"] = sequence_logps(self.ref, mb["seq"], mb["attn"], mb["start"],
                                                        self.cfg.temperature)
                out.append(mb)
        return out

    def update(self, micro: list[dict]) -> list[dict[str, float]]:
        """mu gradient steps on one sampled batch; returns each inner step's weighted stats."""
        cfg, total = self.cfg, sum(len(mb["seq"]) for mb in micro)
        inner = []
        for k in range(cfg.mu):
            self.opt.zero_grad(set_to_none=True)
            agg = {"loss": 0.0, "kl": 0.0, "clip_frac": 0.0, "ratio_mean": 0.0}
            for mb in micro:
                with self._autocast():
                    logp = sequence_logps(self.policy, mb["seq"], mb["attn"], mb["start"], cfg.temperature)
                if k == 0:
                    mb["old_logp"] = logp.detach()  # no optimizer step yet: these are pi_old's log-probs
                loss, stats = grpo_loss(logp, mb["old_logp"], mb["ref_logp"], mb["adv"], mb["mask"],
                                        cfg.clip_eps, cfg.beta)
                if not torch.isfinite(loss):  # stop before a NaN reaches the weights
                    raise FloatingPointError(f"non-finite GRPO loss at step {self.step_count + 1}")
                w = len(mb["seq"]) / total  # micro-batch means -> the mean over all outputs
                (loss * w).backward()
                for key, value in [("loss", loss.item()), *stats.items()]:
                    agg[key] += value * w
            norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
            agg["grad_norm"] = norm.item()
            self.opt.step()
            inner.append(agg)
        return inner

    def step(self, questions: list[dict] | None = None) -> dict[str, Any]:
        """One GRPO step: sample from the old policy, reward, advantages, mu updates."""
        t0 = time.perf_counter()
        questions = questions or self._next_questions(self.cfg.questions_per_step)
        chunks = self.sample(questions)
        scored = self.score(chunks)
        inner = self.update(self.micro_batches(chunks, scored["advantages"]))
        self.step_count += 1
        rewards = scored["rewards"]
        result = {"step": self.step_count, "reward_mean": rewards.mean().item(),
                  "reward_std": rewards.std(unbiased=False).item(),
                  "response_len": sum(sum(ch["lengths"]) for ch in chunks) / len(rewards),
                  **inner[-1], "inner": inner, "time_s": time.perf_counter() - t0}
        if self._log_due():
            total = self.cfg.iterations * self.cfg.steps_per_iteration
            self.log(f"step {self.step_count}/{total} reward {result['reward_mean']:.3f} "
                     f"loss {result['loss']:.4f} kl {result['kl']:.4f} clip {result['clip_frac']:.3f} "
                     f"ratio {result['ratio_mean']:.4f} len {result['response_len']:.1f} "
                     f"{result['time_s']:.1f}s")
        return result

    def _log_due(self) -> bool:
        """A step line after the first step, every cfg.log_every steps, and after the last one."""
        every, step = self.cfg.log_every, self.step_count
        last = self.cfg.iterations * self.cfg.steps_per_iteration
        return step in (1, last) or (every > 0 and step % every == 0)

    def retrain_reward_model(self) -> dict[str, Any]:
        """Continue training the RM on fresh policy samples, labelled by reward_fn, plus replayed old data."""
        chunks = self.sample(self._next_questions(self.cfg.questions_per_step))
        examples = [{"text": q["prompt"] + t, "label": float(self.reward_fn(q, t))}
                    for ch in chunks for q, t in zip(ch["questions"], ch["texts"], strict=True)]
        cfg = self.cfg
        stats = rwd.train_reward_model(self.reward_model, examples, self.replay, cfg.replay_share,
                                       tokenizer=self.reward_tok, lr=cfg.rm_lr, epochs=cfg.rm_epochs,
                                       batch_size=cfg.rm_batch_size, seed=cfg.seed + self.step_count)
        self.log(f"reward model: {stats['fresh']} fresh + {stats['replayed']} replayed, "
                 f"loss {stats['loss']:.4f}")
        return stats

    def train(self) -> dict[str, Any]:
        """Algorithm 1: per iteration, reference <- policy, steps, then the RM retrains (not after the last:
        nothing would use it). Restores the policy's train/eval mode at the end."""
        was_training = self.policy.training
        history: dict[str, Any] = {"config": asdict(self.cfg), "steps": [], "reward_model": []}
        for it in range(self.cfg.iterations):
            self.start_iteration()
            for _ in range(self.cfg.steps_per_iteration):
                history["steps"].append({"iteration": it, **self.step()})
            if self.reward_model is not None and it + 1 < self.cfg.iterations:
                history["reward_model"].append(self.retrain_reward_model())
        self.policy.train(was_training)
        return history


def train_grpo(policy: Any, tokenizer: Any, questions: list[dict], reward_fn: RewardFn, cfg: GRPOConfig,
               log: Callable[[str], Any] = progress_line, *, reward_model: Any = None,
               reward_tokenizer: Any = None, step_reward_fn: StepRewardFn | None = None) -> dict[str, Any]:
    """Train `policy` in place with GRPO; returns the history: config, per-step stats, reward-model rounds.
    With a reward_model, RL rewards are its P(correct) and reward_fn labels its training data."""
    trainer = GRPOTrainer(policy, tokenizer, questions, reward_fn, cfg, log, reward_model=reward_model,
                          reward_tokenizer=reward_tokenizer, step_reward_fn=step_reward_fn)
    return trainer.train()


def _as_list(x: Any) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]
