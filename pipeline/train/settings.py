"""Settings of the training stage: plain dataclasses without torch, so `pipeline.config` can load
them from conf/default.yaml (sections `cpt`, `grpo`, `evaluate`, `demo`) and `--set` can override them.
The defaults are the paper's where it gives them (DeepSeekMath sections 3.1 and 4.2)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class CPTConfig:
    model: str = ""           # a local Hugging Face model folder, or "" for a small Llama built from scratch
    n_layer: int = 2          # the from-scratch model's shape (ignored when `model` is set)
    n_embd: int = 64
    n_head: int = 4
    seq_len: int = 1024
    micro_batch: int = 8      # sequences per forward pass
    grad_accum: int = 1       # forward passes per optimizer step
    lr: float = 4.2e-4        # maximum learning rate (DeepSeekMath 7B's)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    warmup_steps: int = 2000
    # the paper's step decay: after these fractions of the training tokens, the lr is this share of the max
    decay_at: list[float] = field(default_factory=lambda: [0.8, 0.9])
    decay_to: list[float] = field(default_factory=lambda: [0.316, 0.1])
    max_steps: int = 0        # optimizer steps; 0: derived from max_tokens
    max_tokens: int = 0       # training tokens (used when max_steps is 0)
    grad_clip: float = 1.0
    bf16: bool = True         # bf16 autocast where the device has it (CUDA with bf16); never on CPU
    device: str = ""          # "" = cuda if available, else cpu
    seed: int = 0
    save_every: int = 1000    # checkpoint every N steps (0: only the final model)
    log_every: int = 10

    def tokens_per_step(self) -> int:
        return self.micro_batch * self.grad_accum * self.seq_len

    def total_steps(self) -> int:
        if self.max_steps > 0:
            return self.max_steps
        if self.max_tokens > 0:
            return math.ceil(self.max_tokens / self.tokens_per_step())
        raise ValueError("CPTConfig: set max_steps or max_tokens")


@dataclass
class GRPOConfig:
    group_size: int = 64            # G outputs per question (paper)
    questions_per_step: int = 16    # 16 x 64 = the paper's batch of 1024 outputs
    steps_per_iteration: int = 100  # not stated in the paper
    iterations: int = 1             # iterative RL rounds (paper fig. 6 shows 2)
    lr: float = 1e-6                # paper
    beta: float = 0.04              # KL coefficient (paper)
    clip_eps: float = 0.2
    mu: int = 1                     # inner updates per sampled batch (paper: a single update)
    max_new_tokens: int = 1024      # paper: max length 1024
    temperature: float = 1.0
    supervision: str = "outcome"    # or "process" (needs a step_reward_fn)
    step_separator: str = "\n"
    replay_share: float = 0.1       # reward-model replay of historical data (paper: 10%)
    rm_lr: float = 1e-5
    rm_epochs: int = 1
    rm_batch_size: int = 16
    rollout_questions: int = 1      # questions per generate() call (KV cache memory)
    micro_batch: int = 16           # outputs per forward/backward (gradients accumulate to the full batch)
    max_grad_norm: float = 1.0      # not in the paper; a guard against one bad batch
    bf16: bool = True               # autocast on CUDA where supported
    seed: int = 0
    log_every: int = 1              # a reward/loss line every N steps (and the first and last); 0: those only


@dataclass
class EvalConfig:
    n_samples: int = 16             # samples per problem for pass@k and maj@k
    ks: list[int] = field(default_factory=lambda: [1, 4, 16])
    temperature: float = 0.7
    max_new_tokens: int = 512
    seed: int = 0
    # the text the model completes; {question} is replaced (DeepSeekMath's chain-of-thought prompt)
    prompt_template: str = ("{question}\nPlease reason step by step, "
                            "and put your final answer within \\boxed{}.")
    limit: int = 0                  # evaluate the first N problems only (0: all)


@dataclass
class DemoConfig:
    """`make train-demo`: synthetic arithmetic through the real shard and CPT path, then GRPO, on CPU."""

    seed: int = 0
    train_docs: int = 50_000        # synthetic pretraining documents (written as real shards)
    cpt_steps: int = 1500
    cpt_lr: float = 5e-3
    rl_problems: int = 64           # GRPO's question pool (train split), each seen many times
    eval_problems: int = 200        # held-out questions (test split, never in the pretraining text)
    grpo_steps: int = 100
    group_size: int = 8
    questions_per_step: int = 16
    grpo_lr: float = 1e-4
    beta: float = 0.04
    max_new_tokens: int = 32
    eval_samples: int = 8
    threads: int = 1                # torch threads (a small model on a shared CPU is fastest on one)
