"""GRPO, Group Relative Policy Optimization (DeepSeekMath, arXiv 2402.03300, section 4.1 and Algorithm 1).

Per step: sample G (`num_generations`) outputs per question from the old policy, reward them, turn
rewards into advantages relative to the group (no value model), then take mu (`num_iterations`)
gradient steps on the clipped objective

    J = mean over questions, 1/G sum_i 1/|o_i| sum_t [ min(r_t A_it, clip(r_t, 1-eps, 1+eps) A_it)
                                                       - beta * KL_k3(pi || pi_ref)_t ],   r_t = pi/pi_old

Config names are TRL's GRPOConfig names where the concept is the same (settings.py lists the paper's
symbol beside each). The variants people use today are choices:

- `loss_type`: how the token terms are averaged. "grpo" is the formula above (mean over each output's
  tokens, then over outputs); "dr_grpo" sums each output's tokens and divides by the constant
  max_completion_length (Dr. GRPO, arXiv 2503.20783: no length bias); "dapo" divides the sum over all
  tokens of the step's batch by the batch's token count (DAPO, arXiv 2503.14476: every token weighs the
  same); "bnpo" is the token mean of each micro-batch. Gradient accumulation over micro-batches gives the
  gradient of one big batch for grpo, dr_grpo and dapo (the batch's output and token counts are
  passed down); bnpo is by definition a per-micro-batch mean (as TRL's).
- `scale_rewards`: "group" divides (r - group mean) by the group's std (the paper), "batch" by the std
  of the whole batch's rewards, "none" leaves r - group mean (Dr. GRPO).
- `epsilon_high`: the upper clip bound (DAPO's clip-higher): the ratio is clipped to
  [1 - epsilon, 1 + epsilon_high].
- `mask_truncated_completions`: an output that reached max_completion_length without an EOS gets no
  loss (DAPO's overlong filtering); its reward still counts in its group's advantages.
- `dynamic_sampling`: a group whose rewards are all equal has all advantages 0 and carries no signal;
  DAPO's rule drops such groups and samples more questions until the batch holds questions_per_step
  informative groups, at most `max_resample_rounds` extra rounds (then it trains on what there is and
  the step stats say so). The share of such groups is logged every step (`frac_reward_zero_std`).

Iterative RL (`rl_iterations`): each iteration sets the reference model to the current policy, runs its
steps, then retrains the reward model on fresh policy samples plus a replay of older data (reward.py), and
the process reward model likewise (prm.py).

The old policy is the policy's own weights at the start of a step: outputs are sampled with them and
their log-probs are taken on the first inner pass, before any optimizer step, so no third model copy is
kept; with mu=1 the ratio is exactly 1 and only mu > 1 moves it. Dropout stays off (eval mode) so the
ratio compares one deterministic function. Runs on CPU or CUDA unchanged (the device is the model's);
bf16 autocast only on CUDA that supports it.

Questions are dicts with a "prompt" (the text the policy completes) plus whatever `reward_fn(question,
completion_text) -> float` reads (e.g. "answer"). Process supervision splits a completion into steps at
tokens whose text contains `cfg.step_separator` (a newline by default) and asks
`step_reward_fn(question, step_texts) -> list[float]` for one reward per step; without one, the trainer
builds a process reward model (prm.py, the `prm_*` settings), trains it on Math-Shepherd labels of the
policy's own solutions before RL and after each iteration but the last, and its scores are the step
rewards.

Progress: a line (loss, reward, KL, tokens per second, ...) after the first step, every `logging_steps`
and after the last; with an output_dir the same metrics go to output_dir/metrics.jsonl (metrics.py), and
to TensorBoard with `report_to: tensorboard`.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from pipeline.train import reward as rwd
from pipeline.train.cpt import progress_line
from pipeline.train.metrics import MetricsLog
from pipeline.train.settings import (
    LOSS_TYPES,
    SCALE_REWARDS,
    GRPOConfig,
    dr_grpo_consistent,
)

RewardFn = Callable[[dict, str], float]
StepRewardFn = Callable[[dict, list[str]], list[float]]

# settings.dr_grpo_consistent refused for a GRPOConfig built in code (pipeline/config.py's message
# names the config keys)
DR_GRPO_SCALING = ("loss_type dr_grpo is Dr. GRPO, which also drops the std scaling of rewards: "
                   "set scale_rewards none with it")



# ---------------------------------------------------------------- advantages


def _normalize(r: torch.Tensor) -> torch.Tensor:
    """(r - mean) / std along the last dim, population std; a row whose values are all equal gives exactly 0.
    Equality is tested with max == min: the float std of equal values can come out as 1e-9, not 0."""
    mean = r.mean(-1, keepdim=True)
    std = r.std(-1, unbiased=False, keepdim=True)
    spread = (r.amax(-1, keepdim=True) > r.amin(-1, keepdim=True)) & (std > 0)
    safe_std = torch.where(spread, std, torch.ones_like(std))  # never divide by 0, even in the unused branch
    return torch.where(spread, (r - mean) / safe_std, torch.zeros_like(r))


def _centred(r: torch.Tensor) -> torch.Tensor:
    """r - mean along the last dim; exactly 0 for a row whose values are all equal (the float mean of
    three 0.7s is not 0.7, and a zero-variance group must carry no signal whatever the scaling)."""
    constant = r.amax(-1, keepdim=True) <= r.amin(-1, keepdim=True)
    return torch.where(constant, torch.zeros_like(r), r - r.mean(-1, keepdim=True))


def _population_std(values: torch.Tensor) -> float:
    """The std (ddof 0) of all values, 0.0 when they are all equal or there are none."""
    if values.numel() == 0 or values.amax() <= values.amin():
        return 0.0
    return values.std(unbiased=False).item()


def _scale(r: torch.Tensor, scale_rewards: str, batch_std: float) -> torch.Tensor:
    """Advantages of the rows (groups) of r under a scale_rewards choice; batch_std is the std of every
    reward of the batch (used by "batch" only)."""
    if scale_rewards == "group":
        return _normalize(r)
    centred = _centred(r)
    if scale_rewards == "none":
        return centred
    if scale_rewards == "batch":
        # batch_std is 0 only when every reward is equal, and then every centred value is 0 already
        return centred / batch_std if batch_std > 0 else centred
    raise ValueError(f"scale_rewards {scale_rewards!r}: one of {', '.join(SCALE_REWARDS)}")


def outcome_advantages(rewards: torch.Tensor, group_size: int, scale_rewards: str = "group") -> torch.Tensor:
    """One advantage per output; rewards is flat (B*G,) with each group's G outputs contiguous.
    scale_rewards "group" (the paper): (r_i - mean(group)) / std(group); "batch": divided by the std of
    all B*G rewards instead; "none": r_i - mean(group). Stds are population stds (ddof 0); a group whose
    rewards are all equal gets exactly 0.0 under every choice. Computed in float64, returned as float32."""
    r = rewards.detach().to(torch.float64).reshape(-1, group_size)
    return _scale(r, scale_rewards, _population_std(r)).reshape(-1).float()


def process_advantages(step_rewards: list[list[float]], group_size: int,
                       scale_rewards: str = "group") -> list[list[float]]:
    """Process supervision: step_rewards[i] holds output i's per-step rewards (groups contiguous). Each
    reward is centred on the mean of ALL step rewards of its group and divided by their population std
    ("group", the paper), by the std of every step reward of the batch ("batch"), or not at all ("none");
    a group whose step rewards are all equal gets 0. Step j's advantage is the sum of the scaled rewards
    of steps j, j+1, ... of that output."""
    if len(step_rewards) % group_size:
        raise ValueError(f"{len(step_rewards)} outputs is not a multiple of group_size {group_size}")
    every = torch.tensor([x for steps in step_rewards for x in steps], dtype=torch.float64)
    batch_std = _population_std(every)
    out: list[list[float]] = []
    for g in range(0, len(step_rewards), group_size):
        group = step_rewards[g:g + group_size]
        flat = torch.tensor([x for steps in group for x in steps], dtype=torch.float64)
        norm = _scale(flat, scale_rewards, batch_std) if flat.numel() else flat
        offset = 0
        for steps in group:
            x = norm[offset:offset + len(steps)]
            offset += len(steps)
            out.append(x.flip(0).cumsum(0).flip(0).tolist())  # suffix sums
    return out


def token_process_advantages(step_rewards: list[list[float]], step_ends: list[list[int]],
                             lengths: Sequence[int], group_size: int,
                             scale_rewards: str = "group") -> torch.Tensor:
    """(N, max(lengths)) float32 token advantages: token t of output i, in step j (step_ends[i][j-1] <= t <
    step_ends[i][j], ends exclusive and relative to the response start), gets process_advantages' step j
    value. Tokens at or past lengths[i] or past the last step end get 0."""
    step_adv = process_advantages(step_rewards, group_size, scale_rewards)
    adv = torch.zeros(len(lengths), max(lengths, default=0))
    for i, (values, ends) in enumerate(zip(step_adv, step_ends, strict=True)):
        if len(values) != len(ends):
            raise ValueError(f"output {i}: {len(values)} step rewards for {len(ends)} steps")
        start = 0
        for value, end in zip(values, ends, strict=True):
            adv[i, start:min(end, lengths[i])] = value
            start = end
    return adv


def zero_std_groups(rewards: torch.Tensor, group_size: int) -> list[bool]:
    """Per group of a flat (B*G,) reward tensor: whether all its rewards are equal (no learning signal)."""
    r = rewards.detach().reshape(-1, group_size)
    return (r.amax(1) <= r.amin(1)).tolist()


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


def step_texts(tokenizer: Any, ids: Sequence[int], ends: Sequence[int]) -> list[str]:
    """The text of each step of a response's ids, given its step ends (find_step_ends)."""
    starts = [0, *ends][:len(ends)]  # no step: no text
    return [tokenizer.decode(ids[a:b], skip_special_tokens=True) for a, b in zip(starts, ends, strict=True)]


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


def aggregate(x: torch.Tensor, mask: torch.Tensor, loss_type: str = "grpo", *,
              max_completion_length: int | None = None, batch_outputs: int | None = None,
              batch_tokens: float | None = None) -> torch.Tensor:
    """This (micro-)batch's share of the batch mean of per-token values x (N, T) under `loss_type`, so the
    shares of a batch's micro-batches sum to the mean one pass over the whole batch would give. N_b =
    batch_outputs and T_b = batch_tokens (the whole batch's outputs and unmasked tokens; default: this
    micro-batch's own, i.e. the micro-batch is the batch):
      grpo     sum_i (sum_t x_it / |o_i|) / N_b                 mean per output, then over outputs (paper)
      dr_grpo  sum_i sum_t x_it / (N_b * max_completion_length) a constant per output (Dr. GRPO)
      dapo     sum_i sum_t x_it / T_b                           every token of the batch weighs the same
      bnpo     (sum_i sum_t x_it / T_mb) * N / N_b              the micro-batch's token mean (TRL's bnpo),
                                                                weighted by its share of the outputs
    An output with no unmasked token contributes 0 but still counts in N_b (as in TRL)."""
    n = x.shape[0]
    outputs = n if batch_outputs is None else batch_outputs
    masked = x * mask
    if loss_type == "grpo":
        return (masked.sum(1) / mask.sum(1).clamp_min(1)).sum() / outputs
    if loss_type == "dr_grpo":
        if not max_completion_length:
            raise ValueError("loss_type dr_grpo divides by max_completion_length: pass it")
        return masked.sum() / (outputs * max_completion_length)
    if loss_type == "dapo":
        tokens = mask.sum() if batch_tokens is None else torch.as_tensor(batch_tokens, dtype=masked.dtype)
        return masked.sum() / tokens.clamp_min(1)
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp_min(1) * (n / outputs)
    raise ValueError(f"loss_type {loss_type!r}: one of {', '.join(LOSS_TYPES)}")


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor | None,
              advantages: torch.Tensor, mask: torch.Tensor, epsilon: float = 0.2,
              beta: float = 0.04, *, epsilon_high: float | None = None, loss_type: str = "grpo",
              max_completion_length: int | None = None, batch_outputs: int | None = None,
              batch_tokens: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative GRPO objective for (N, T) per-token log-probs; advantages (N,) outcome or (N, T) process.
    Per token min(ratio*A, clip(ratio, 1-epsilon, 1+epsilon_high)*A) - beta*k3_kl (epsilon_high None: =
    epsilon), aggregated by `aggregate` under loss_type (default: the paper's mean per output, then over
    outputs). With batch_outputs / batch_tokens the loss is this micro-batch's share of the batch loss.
    Stats (per-output means, whatever the loss_type, so runs of different types compare): kl, clip_frac
    (tokens where the clipped term binds), ratio_mean."""
    adv = advantages if advantages.dim() == 2 else advantages[:, None]
    ratio = torch.exp(logp - old_logp)
    high = epsilon if epsilon_high is None else epsilon_high
    clipped = ratio.clamp(1 - epsilon, 1 + high)
    per_token = torch.min(ratio * adv, clipped * adv)
    kl = k3_kl(logp, ref_logp) if ref_logp is not None else torch.zeros_like(logp)
    objective = aggregate(per_token - beta * kl, mask, loss_type, max_completion_length=max_completion_length,
                          batch_outputs=batch_outputs, batch_tokens=batch_tokens)
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
    replay buffer, or for process supervision without a step_reward_fn its own process reward model
    (`self.prm`). `train()` runs cfg.rl_iterations x cfg.steps_per_iteration steps; `step()` is one step
    (rollout, rewards, dynamic sampling if on, num_iterations updates); `start_iteration()` resets the
    reference to the policy. With an output_dir, logged steps also go to output_dir/metrics.jsonl (and
    TensorBoard with cfg.report_to "tensorboard"); call close() (train() does) to flush them."""

    def __init__(self, policy: Any, tokenizer: Any, questions: list[dict], reward_fn: RewardFn,
                 cfg: GRPOConfig, log: Callable[[str], Any] = progress_line, *, reward_model: Any = None,
                 reward_tokenizer: Any = None, step_reward_fn: StepRewardFn | None = None,
                 output_dir: str | Path | None = None, train_reward_model_first: bool = False):
        if cfg.supervision not in ("outcome", "process"):
            raise ValueError(f"supervision {cfg.supervision!r}: outcome or process")
        if cfg.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type {cfg.loss_type!r}: one of {', '.join(LOSS_TYPES)}")
        if cfg.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards {cfg.scale_rewards!r}: one of {', '.join(SCALE_REWARDS)}")
        if not dr_grpo_consistent(cfg.loss_type, cfg.scale_rewards):
            raise ValueError(DR_GRPO_SCALING)
        if cfg.report_to == "tensorboard" and output_dir is None:
            raise ValueError("report_to tensorboard writes under an output_dir: pass one")
        self.policy, self.tok, self.questions, self.reward_fn, self.cfg, self.log = (
            policy, tokenizer, questions, reward_fn, cfg, log)
        self.reward_model, self.step_reward_fn = reward_model, step_reward_fn
        # a freshly initialised reward model (the CLI's) is trained before RL: its P(correct) would be
        # noise for the whole first iteration; a trained one passed in is used as it is
        self.train_reward_model_first = train_reward_model_first and reward_model is not None
        self.reward_tok = reward_tokenizer or tokenizer
        self.replay = rwd.ReplayBuffer(seed=cfg.seed)
        self.device = next(policy.parameters()).device
        # Process supervision without a hand-written step_reward_fn: the stage trains its own PRM, as the
        # paper does (train() fits it before RL and after each iteration); it has its own replay buffer
        self.prm: Any = None
        if cfg.supervision == "process" and step_reward_fn is None:
            from pipeline.train.prm import make_process_reward_model  # prm.py imports this module

            self.prm = make_process_reward_model(
                tokenizer, seed=cfg.seed, device=self.device, separator=cfg.step_separator, lr=cfg.prm_lr,
                epochs=cfg.prm_epochs, batch_size=cfg.prm_batch_size, replay_share=cfg.replay_share,
                completions=cfg.prm_completions, min_share=cfg.prm_min_share, soft=cfg.prm_soft)
            self.step_reward_fn = self.prm.step_rewards
        eos = {tokenizer.eos_token_id, *_as_list(policy.generation_config.eos_token_id)} - {None}
        self.eos_ids = sorted(eos)
        if tokenizer.pad_token_id is None:  # Llama-style tokenizers have none; pads are masked anyway
            tokenizer.pad_token = tokenizer.eos_token
        self.pad_id = tokenizer.pad_token_id
        self.sep_ids = separator_ids(tokenizer, cfg.step_separator) if cfg.supervision == "process" else set()
        self.opt = torch.optim.AdamW(policy.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
        self.ref: Any = None
        self.rng = random.Random(cfg.seed)
        self.order: list[int] = []
        self.step_count = 0
        self.iteration = 0
        # opened last: a missing tensorboard fails here, before anything is trained
        self.metrics = (MetricsLog(output_dir, cfg.report_to, key="grpo.report_to")
                        if output_dir is not None else None)
        torch.manual_seed(cfg.seed)

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

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
        questions: each chunk holds seq (n, P+L), attn, start P, mask (n, L), texts, lengths, truncated
        (per output: no EOS within max_completion_length)."""
        cfg, chunks = self.cfg, []
        self.policy.eval()
        eos = torch.as_tensor(self.eos_ids, device=self.device)
        for c in range(0, len(questions), cfg.rollout_questions):
            qs = questions[c:c + cfg.rollout_questions]
            enc = self.tok([q["prompt"] for q in qs], return_tensors="pt", padding=True,
                           padding_side="left").to(self.device)
            with self._autocast():
                seq = self.policy.generate(
                    **enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=cfg.top_p,
                    max_new_tokens=cfg.max_completion_length, num_return_sequences=cfg.num_generations,
                    eos_token_id=self.eos_ids, pad_token_id=self.pad_id)
            start = enc["input_ids"].shape[1]
            attn = torch.cat([enc["attention_mask"].repeat_interleave(cfg.num_generations, 0),
                              torch.ones_like(seq[:, start:])], 1)
            mask = response_mask(seq, start, self.eos_ids, self.pad_id)[:, start:]
            # a response's length is its extent, up to its last unmasked token: a pad id the policy sampled
            # mid-response is masked (response_mask) but the tokens after it are real, and micro-batches
            # trimmed to a token count would cut them off (and change the gradient with micro_batch)
            positions = torch.arange(1, mask.shape[1] + 1, device=mask.device)
            lengths = (mask * positions).amax(1).long().tolist() if mask.numel() else [0] * len(seq)
            texts = [self.tok.decode(seq[i, start:start + n], skip_special_tokens=True)
                     for i, n in enumerate(lengths)]
            # generation only stops early at an EOS, so an output without one ran into the length limit
            truncated = (~(torch.isin(seq[:, start:], eos) & (mask > 0)).any(1)).tolist()
            chunks.append({"questions": [q for q in qs for _ in range(cfg.num_generations)], "seq": seq,
                           "attn": attn, "start": start, "mask": mask, "texts": texts, "lengths": lengths,
                           "truncated": truncated})
        return chunks

    @torch.no_grad()
    def reward(self, chunks: list[dict]) -> None:
        """Reward each output of the chunks, in place: "rewards" (n,) per chunk, and for process supervision
        "step_rewards" and "step_ends" per output ("rewards" is then the sum of the step rewards, logged
        only). Rewards come from the reward model when there is one (reward_fn then labels its data)."""
        for ch in chunks:
            if "rewards" in ch:
                continue
            if self.cfg.supervision == "outcome":
                pairs = list(zip(ch["questions"], ch["texts"], strict=True))
                if self.reward_model is not None:
                    texts = [q["prompt"] + t for q, t in pairs]
                    ch["rewards"] = rwd.score(self.reward_model, self.reward_tok, texts).cpu().float()
                else:
                    ch["rewards"] = torch.tensor([float(self.reward_fn(q, t)) for q, t in pairs])
                continue
            ch["step_ends"], items = [], []
            for i, n in enumerate(ch["lengths"]):
                ids = ch["seq"][i, ch["start"]:ch["start"] + n].tolist()
                e = find_step_ends(ids, self.sep_ids, self.eos_ids)
                items.append((ch["questions"][i], step_texts(self.tok, ids, e)))
                ch["step_ends"].append(e)
            if self.prm is not None:  # the same scores as step_rewards, in batches instead of one per output
                scores = self.prm.score_steps(items)
            else:
                scores = [self.step_reward_fn(q, steps) for q, steps in items]
            ch["step_rewards"] = [[float(x) for x in row] for row in scores]
            ch["rewards"] = torch.tensor([sum(s) for s in ch["step_rewards"]], dtype=torch.float32)

    def zero_std(self, chunk: dict) -> list[bool]:
        """Per group of a rewarded chunk: whether all its rewards (process: all its step rewards) are equal,
        so every advantage of the group is 0 and it carries no learning signal."""
        g = self.cfg.num_generations
        if self.cfg.supervision == "outcome":
            return zero_std_groups(chunk["rewards"], g)
        out = []
        for start in range(0, len(chunk["seq"]), g):
            flat = [x for steps in chunk["step_rewards"][start:start + g] for x in steps]
            out.append(not flat or max(flat) == min(flat))
        return out

    def advantages(self, chunks: list[dict]) -> list[torch.Tensor]:
        """Per chunk, (n,) outcome or (n, L) process advantages over all the chunks' groups (scale_rewards
        "batch" takes the std over all of them)."""
        cfg = self.cfg
        if not chunks:
            return []
        if cfg.supervision == "outcome":
            rewards = torch.cat([ch["rewards"] for ch in chunks])
            adv = outcome_advantages(rewards, cfg.num_generations, cfg.scale_rewards)
            return list(adv.split([len(ch["seq"]) for ch in chunks]))
        step_rewards = [s for ch in chunks for s in ch["step_rewards"]]
        ends = [e for ch in chunks for e in ch["step_ends"]]
        lengths = [n for ch in chunks for n in ch["lengths"]]
        adv = token_process_advantages(step_rewards, ends, lengths, cfg.num_generations, cfg.scale_rewards)
        per_chunk, row = [], 0
        for ch in chunks:
            per_chunk.append(adv[row:row + len(ch["seq"]), :ch["mask"].shape[1]])
            row += len(ch["seq"])
        return per_chunk

    @torch.no_grad()
    def score(self, chunks: list[dict]) -> dict[str, Any]:
        """Rewards and advantages for sampled chunks (groups contiguous, in question order)."""
        self.reward(chunks)
        return {"rewards": torch.cat([ch["rewards"] for ch in chunks]), "advantages": self.advantages(chunks)}

    def _take_groups(self, chunk: dict, groups: list[int]) -> dict:
        """The chunk restricted to the given groups (their G rows each), every per-row field sliced alike."""
        g = self.cfg.num_generations
        rows = [k * g + j for k in groups for j in range(g)]
        index = torch.tensor(rows, dtype=torch.long, device=chunk["seq"].device)
        out = {**chunk, "seq": chunk["seq"][index], "attn": chunk["attn"][index],
               "mask": chunk["mask"][index], "rewards": chunk["rewards"][index.cpu()]}
        for key in ("questions", "texts", "lengths", "truncated", "step_rewards", "step_ends"):
            if key in chunk:
                out[key] = [chunk[key][r] for r in rows]
        return out

    def _informative(self, chunks: list[dict]) -> tuple[list[dict], int, int]:
        """The chunks with their zero-variance groups dropped: (chunks, groups kept, groups dropped)."""
        kept, n_kept, n_dropped = [], 0, 0
        for ch in chunks:
            keep = [k for k, flat in enumerate(self.zero_std(ch)) if not flat]
            n_dropped += len(ch["seq"]) // self.cfg.num_generations - len(keep)
            n_kept += len(keep)
            if keep:
                kept.append(self._take_groups(ch, keep))
        return kept, n_kept, n_dropped

    def dynamic_sample(self, chunks: list[dict],
                       target: int) -> tuple[list[dict], list[dict], dict[str, Any]]:
        """DAPO's dynamic sampling: drop the zero-variance groups of `chunks` (rewarded), then sample and
        reward as many new questions as groups are missing, up to cfg.max_resample_rounds extra rounds,
        until `target` informative groups are kept. Returns (kept chunks, every chunk sampled this step
        including the first ones, stats); stats say how many groups were dropped, how many rounds ran, and
        whether the bound stopped it short of the target (the step then trains on what there is)."""
        kept, n_kept, dropped = self._informative(chunks)
        sampled = list(chunks)
        rounds = 0
        while n_kept < target and rounds < self.cfg.max_resample_rounds:
            rounds += 1
            more = self.sample(self._next_questions(target - n_kept))
            self.reward(more)
            sampled += more
            k, nk, d = self._informative(more)
            kept, n_kept, dropped = kept + k, n_kept + nk, dropped + d
        return kept, sampled, {"groups_kept": n_kept, "groups_dropped": dropped, "resample_rounds": rounds,
                               "resample_short": n_kept < target}

    @torch.no_grad()
    def micro_batches(self, chunks: list[dict], advantages: list[torch.Tensor]) -> list[dict]:
        """Split chunks into micro-batches of at most cfg.micro_batch rows, trimmed to their longest response,
        with the reference log-probs (fixed for the whole step) computed once. With
        mask_truncated_completions, truncated outputs' rows of the loss mask are zeroed."""
        out = []
        for ch, adv in zip(chunks, advantages, strict=True):
            for r in range(0, len(ch["seq"]), self.cfg.micro_batch):
                rows = slice(r, r + self.cfg.micro_batch)
                width = max(ch["lengths"][rows])
                end = ch["start"] + width
                mask = ch["mask"][rows, :width]
                if self.cfg.mask_truncated_completions and "truncated" in ch:
                    keep = torch.tensor([not t for t in ch["truncated"][rows]], dtype=mask.dtype,
                                        device=mask.device)
                    mask = mask * keep[:, None]
                mb = {"seq": ch["seq"][rows, :end], "attn": ch["attn"][rows, :end],
                      "start": ch["start"], "mask": mask,
                      "adv": (adv[rows, :width] if adv.dim() == 2 else adv[rows]).to(self.device),
                      "ref_logp": None}
                if self.ref is not None:
                    with self._autocast():
                        mb["ref_logp"] = sequence_logps(self.ref, mb["seq"], mb["attn"], mb["start"],
                                                        self.cfg.temperature)
                out.append(mb)
        return out

    def update(self, micro: list[dict]) -> list[dict[str, float]]:
        """num_iterations (mu) gradient steps on one sampled batch; returns each inner step's stats. Each
        micro-batch's loss is its share of the whole batch's (the batch's output and token counts are
        passed down), so the accumulated gradient is that of one pass over the whole batch."""
        cfg = self.cfg
        total = sum(len(mb["seq"]) for mb in micro)
        tokens = float(sum(mb["mask"].sum().item() for mb in micro))
        inner = []
        for k in range(cfg.num_iterations):
            self.opt.zero_grad(set_to_none=True)
            agg = {"loss": 0.0, "kl": 0.0, "clip_frac": 0.0, "ratio_mean": 0.0}
            for mb in micro:
                with self._autocast():
                    logp = sequence_logps(self.policy, mb["seq"], mb["attn"], mb["start"], cfg.temperature)
                if k == 0:
                    mb["old_logp"] = logp.detach()  # no optimizer step yet: these are pi_old's log-probs
                loss, stats = grpo_loss(logp, mb["old_logp"], mb["ref_logp"], mb["adv"], mb["mask"],
                                        cfg.epsilon, cfg.beta, epsilon_high=cfg.epsilon_high,
                                        loss_type=cfg.loss_type,
                                        max_completion_length=cfg.max_completion_length,
                                        batch_outputs=total, batch_tokens=tokens)
                if not torch.isfinite(loss):  # stop before a NaN reaches the weights
                    raise FloatingPointError(f"non-finite GRPO loss at step {self.step_count + 1}")
                loss.backward()
                agg["loss"] += loss.item()
                w = len(mb["seq"]) / total  # per-output stats of the micro-batches -> over all outputs
                for key, value in stats.items():
                    agg[key] += value * w
            norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
            agg["grad_norm"] = norm.item()
            self.opt.step()
            inner.append(agg)
        return inner

    def step(self, questions: list[dict] | None = None) -> dict[str, Any]:
        """One GRPO step: sample from the old policy, reward, (dynamic sampling), advantages, updates.
        Returns the step's stats: reward_mean, reward_std (the mean of the groups' stds, as TRL logs it),
        frac_reward_zero_std, completion_length, loss, kl, ..., and with dynamic sampling groups_kept,
        groups_dropped, resample_rounds, resample_short. Reward stats cover every output sampled in the
        step (resampled ones too); loss and KL the outputs trained on."""
        t0 = time.perf_counter()
        cfg = self.cfg
        questions = questions or self._next_questions(cfg.questions_per_step)
        chunks = self.sample(questions)
        self.reward(chunks)
        sampled, ds = chunks, {}
        if cfg.dynamic_sampling:
            chunks, sampled, ds = self.dynamic_sample(chunks, len(questions))
        if chunks:
            inner = self.update(self.micro_batches(chunks, self.advantages(chunks)))
        else:  # every group was constant and the bound was hit: nothing carries a gradient (DAPO skips)
            inner = [{"loss": 0.0, "kl": 0.0, "clip_frac": 0.0, "ratio_mean": 1.0, "grad_norm": 0.0}]
            ds["update_skipped"] = True
        self.step_count += 1
        g = cfg.num_generations
        rewards = torch.cat([ch["rewards"] for ch in sampled]).double()
        flat = [z for ch in sampled for z in self.zero_std(ch)]
        tokens = sum(sum(ch["lengths"]) for ch in sampled)
        seconds = time.perf_counter() - t0
        truncated = [t for ch in sampled for t in ch["truncated"]]
        result = {"step": self.step_count, "reward_mean": rewards.mean().item(),
                  "reward_std": rewards.reshape(-1, g).std(1, unbiased=False).mean().item(),
                  "frac_reward_zero_std": sum(flat) / len(flat),
                  "completion_length": tokens / len(rewards),
                  "truncated_frac": sum(truncated) / len(truncated),
                  "response_len": tokens / len(rewards),  # the older name, kept for existing readers
                  **inner[-1], "learning_rate": self.opt.param_groups[0]["lr"], "inner": inner,
                  "completion_tokens": tokens, "tokens_per_second": tokens / max(seconds, 1e-9),
                  "time_s": seconds, **ds}
        if self._log_due():
            self._report(result)
        return result

    def _report(self, r: dict[str, Any]) -> None:
        """The step's line on the log, and its metrics row (TRL-like keys) in metrics.jsonl / TensorBoard."""
        total = self.cfg.rl_iterations * self.cfg.steps_per_iteration
        line = (f"step {r['step']}/{total} loss {r['loss']:.4f} reward {r['reward_mean']:.3f} "
                f"kl {r['kl']:.4f} tok/s {r['tokens_per_second']:,.0f} "
                f"zero_std {r['frac_reward_zero_std']:.2f} "
                f"clip {r['clip_frac']:.3f} ratio {r['ratio_mean']:.4f} len {r['completion_length']:.1f} "
                f"{r['time_s']:.1f}s")
        if self.cfg.dynamic_sampling:
            line += (f" | dynamic sampling: {r['groups_kept']} groups kept, {r['groups_dropped']} dropped, "
                     f"{r['resample_rounds']} resample rounds")
            if r["resample_short"]:
                line += (f" (max_resample_rounds reached: training on {r['groups_kept']} of "
                         f"{self.cfg.questions_per_step} groups)")
            if r.get("update_skipped"):
                line += " (no informative group: update skipped)"
        self.log(line)
        if self.metrics is not None:
            # TRL's names where it logs the same quantity (clipped_ratio: its completions/clipped_ratio,
            # the share of outputs cut at max_completion_length; clip_ratio: tokens where the clip binds)
            row = {"step": r["step"], "iteration": self.iteration, "loss": r["loss"],
                   "reward": r["reward_mean"], "reward_std": r["reward_std"], "kl": r["kl"],
                   "frac_reward_zero_std": r["frac_reward_zero_std"],
                   "completion_length": r["completion_length"], "clipped_ratio": r["truncated_frac"],
                   "clip_ratio": r["clip_frac"], "grad_norm": r["grad_norm"],
                   "learning_rate": r["learning_rate"], "tokens_per_second": r["tokens_per_second"],
                   "num_tokens": r["completion_tokens"], "step_time": r["time_s"]}
            for key in ("groups_kept", "groups_dropped", "resample_rounds", "resample_short"):
                if key in r:
                    row[key] = r[key]
            self.metrics.log(row)

    def _log_due(self) -> bool:
        """A step line after the first step, every cfg.logging_steps steps, and after the last one."""
        every, step = self.cfg.logging_steps, self.step_count
        last = self.cfg.rl_iterations * self.cfg.steps_per_iteration
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

    def retrain_process_reward_model(self, after_iteration: int | None = None) -> dict[str, Any]:
        """One PRM round (prm.ProcessRewardModel.retrain): prm_solutions_per_question solutions of the current
        policy for each of questions_per_step questions, their steps labelled by Math-Shepherd's rule from
        prm_completions continuations each, then a fit on them plus replay_share of the earlier examples.
        after_iteration: the (0-based, as history["steps"]) iteration just finished, None before RL.
        Returns the round's stats (round, after_iteration, examples, replayed, share_good, loss_before,
        loss_after, ...)."""
        cfg = self.cfg
        questions = self._next_questions(cfg.questions_per_step)
        # labelling reseeds torch's global generator (generate.sample_completions): keep the RL rollouts'
        # random stream where it was, not restarted from the PRM's fixed seed after every round
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            stats = self.prm.retrain(self.policy, self.tok, questions, self.reward_fn,
                                     solutions_per_question=cfg.prm_solutions_per_question,
                                     max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature)
        when = "before RL" if after_iteration is None else f"after iteration {after_iteration + 1}"
        self.log(f"process reward model ({when}): {stats['examples']} examples + "
                 f"{stats['replayed']} replayed, {stats['share_good']:.2f} of {stats['steps']} steps good, "
                 f"loss {stats['loss_before']:.4f} -> {stats['loss_after']:.4f}")
        return {"round": self.prm.rounds, "after_iteration": after_iteration, **stats}

    def train(self) -> dict[str, Any]:
        """Algorithm 1: per iteration, reference <- policy, steps, then the RM retrains (not after the last:
        nothing would use it). A PRM the trainer built (process supervision without a step_reward_fn) is
        trained once before RL and retrained where the RM is; its rounds are history["process_reward_model"].
        Restores the policy's train/eval mode at the end; closes the metrics log."""
        was_training = self.policy.training
        history: dict[str, Any] = {"config": asdict(self.cfg), "steps": [], "reward_model": [],
                                   "process_reward_model": []}
        try:
            if self.prm is not None:  # a random PRM's step scores would be noise for the first iteration
                history["process_reward_model"].append(self.retrain_process_reward_model())
            if self.train_reward_model_first:
                history["reward_model"].append(self.retrain_reward_model())
            for it in range(self.cfg.rl_iterations):
                self.iteration = it
                self.start_iteration()
                for _ in range(self.cfg.steps_per_iteration):
                    history["steps"].append({"iteration": it, **self.step()})
                if it + 1 < self.cfg.rl_iterations:
                    if self.reward_model is not None:
                        history["reward_model"].append(self.retrain_reward_model())
                    if self.prm is not None:
                        history["process_reward_model"].append(self.retrain_process_reward_model(it))
        finally:
            self.close()
        self.policy.train(was_training)
        return history


def train_grpo(policy: Any, tokenizer: Any, questions: list[dict], reward_fn: RewardFn, cfg: GRPOConfig,
               log: Callable[[str], Any] = progress_line, *, reward_model: Any = None,
               reward_tokenizer: Any = None, step_reward_fn: StepRewardFn | None = None,
               output_dir: str | Path | None = None,
               train_reward_model_first: bool = False) -> dict[str, Any]:
    """Train `policy` in place with GRPO; returns the history: config, per-step stats, reward-model and
    process-reward-model rounds. With a reward_model, RL rewards are its P(correct) and reward_fn labels its
    training data; process supervision without a step_reward_fn trains a PRM whose labels reward_fn
    verifies. With an output_dir, the logged steps' metrics go to output_dir/metrics.jsonl (and
    TensorBoard, report_to)."""
    trainer = GRPOTrainer(policy, tokenizer, questions, reward_fn, cfg, log, reward_model=reward_model,
                          reward_tokenizer=reward_tokenizer, step_reward_fn=step_reward_fn,
                          output_dir=output_dir, train_reward_model_first=train_reward_model_first)
    return trainer.train()


def _as_list(x: Any) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]
