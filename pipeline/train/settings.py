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
    logging_steps: int = 10   # a progress line (and a metrics.jsonl row) every N steps (TRL's name)
    report_to: str = "none"   # "none" | "tensorboard" (scalars under OUT/runs when tensorboard is installed)

    def tokens_per_step(self) -> int:
        return self.micro_batch * self.grad_accum * self.seq_len

    def total_steps(self) -> int:
        if self.max_steps > 0:
            return self.max_steps
        if self.max_tokens > 0:
            return math.ceil(self.max_tokens / self.tokens_per_step())
        raise ValueError("CPTConfig: set max_steps or max_tokens")


# The choices of the GRPO knobs (pipeline/config.py checks files and --set against them, GRPOTrainer a
# GRPOConfig built in code)
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
SCALE_REWARDS = ("group", "batch", "none")
REPORT_TO = ("none", "tensorboard")


def dr_grpo_consistent(loss_type: str, scale_rewards: str) -> bool:
    """Dr. GRPO (arXiv 2503.20783) is two changes to the paper's objective: a constant per-output
    normaliser AND no division by the group std. TRL keeps them as two knobs; refusing the half
    combination keeps loss_type "dr_grpo" meaning what the paper means."""
    return loss_type != "dr_grpo" or scale_rewards == "none"


@dataclass
class GRPOConfig:
    """Names follow TRL's GRPOConfig where the concept is the same; the paper's symbol is in the comment."""

    num_generations: int = 64       # G, outputs per question (paper: 64)
    questions_per_step: int = 16    # 16 x 64 = the paper's batch of 1024 outputs
    steps_per_iteration: int = 100  # not stated in the paper
    rl_iterations: int = 1          # iterative RL rounds (paper fig. 6 shows 2)
    learning_rate: float = 1e-6     # paper
    beta: float = 0.04              # beta, KL coefficient (paper)
    epsilon: float = 0.2            # epsilon, the clip range: ratio in [1 - epsilon, 1 + epsilon_high]
    epsilon_high: float | None = None  # DAPO's clip-higher upper bound; None: the same as epsilon
    num_iterations: int = 1         # mu, inner updates per sampled batch (paper: a single update)
    max_completion_length: int = 1024  # paper: max length 1024
    temperature: float = 1.0
    top_p: float = 1.0              # nucleus sampling of the rollouts (1.0: the full distribution)
    scale_rewards: str = "group"    # "group" (paper: / group std) | "batch" (/ batch std) | "none"
    loss_type: str = "grpo"         # "grpo" (paper) | "dr_grpo" | "dapo" | "bnpo": how tokens are averaged
    mask_truncated_completions: bool = False  # outputs cut at max_completion_length without EOS get no loss
    dynamic_sampling: bool = False  # DAPO: drop groups with equal rewards and sample more questions
    max_resample_rounds: int = 4    # ... at most this many extra sampling rounds per step
    supervision: str = "outcome"    # or "process": step rewards from a step_reward_fn, else a PRM (prm.py)
    step_separator: str = "\n"
    replay_share: float = 0.1       # reward-model (and PRM) replay of historical data (paper: 10%)
    rm_lr: float = 1e-5
    rm_epochs: int = 1
    rm_batch_size: int = 16
    # The process reward model built for supervision "process" when no step_reward_fn is given: trained
    # before RL and after each iteration but the last on Math-Shepherd labels of fresh policy solutions.
    prm_lr: float = 3e-3            # a freshly initialised tiny PRM barely moves at rm_lr's 1e-5
    prm_epochs: int = 3             # passes per round: a round's few hundred steps are too few for one
    prm_batch_size: int = 16
    prm_solutions_per_question: int = 4  # policy solutions labelled per question (questions_per_step of them)
    prm_completions: int = 8        # N, continuations sampled from each step prefix (Math-Shepherd: 8)
    prm_min_share: float = 0.0      # a step is good when >= this share of them is correct; 0: any one
                                    # (Math-Shepherd's hard estimation)
    prm_soft: bool = False          # the share correct as a soft target instead (soft estimation)
    rollout_questions: int = 1      # questions per generate() call (KV cache memory)
    micro_batch: int = 16           # outputs per forward/backward (gradients accumulate to the full batch)
    max_grad_norm: float = 1.0      # not in the paper; a guard against one bad batch
    bf16: bool = True               # autocast on CUDA where supported
    seed: int = 0
    logging_steps: int = 1          # a progress line every N steps (and the first and last); 0: those only
    report_to: str = "none"         # "none" | "tensorboard"


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
    """`make train-demo`: synthetic arithmetic through the real shard and CPT path, then GRPO, on CPU.

    Chosen so that GRPO's gains generalise (tests/test_train_demo.py has the per-seed table): a tokenizer
    that spells numbers digit by digit, so the model can learn the rule and not a table of answer
    tokens; a CPT start that is imperfect but reasonable on held-out questions (0.5-0.75 greedy); a
    question pool larger than GRPO draws, so it cannot memorise answers; and dynamic sampling, so each
    step's groups carry signal."""

    seed: int = 0
    train_docs: int = 50_000        # synthetic pretraining documents (written as real shards)
    vocab_size: int = 300           # of the demo's byte-level BPE: few merges, so numbers are single digits
    n_layer: int = 2                # the demo Llama's shape (cpt.* shape settings are not used)
    n_embd: int = 64
    n_head: int = 4
    cpt_steps: int = 1500           # x 16 sequences of 128 tokens (1000 leaves some seeds near chance)
    cpt_lr: float = 5e-3
    rl_problems: int = 20_000       # GRPO's question pool (train split); 300 steps do not use it up
    eval_problems: int = 200        # held-out questions (test split, never in the pretraining text), and
                                    # as many of GRPO's pool
    grpo_steps: int = 300
    group_size: int = 8
    questions_per_step: int = 16
    grpo_lr: float = 1e-4
    beta: float = 0.04
    num_iterations: int = 2         # mu, updates per sampled batch: sampling is most of a step's time
    dynamic_sampling: bool = True   # groups whose rewards are all equal carry no signal: sample others
    max_new_tokens: int = 32
    temperature: float = 1.0        # sampling, in GRPO's rollouts and in the evaluation
    eval_samples: int = 8
    threads: int = 1                # torch threads (a small model on a shared CPU is fastest on one)
