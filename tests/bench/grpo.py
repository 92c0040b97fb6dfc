"""GRPO bench: one GRPO update against one PPO update with a value model, and our GRPO steps/s against TRL's.

1. Update cost on one sampled batch (same model, same rollout, same micro-batch): GRPO (policy forward and
   backward, reference forward, group advantages) against PPO as the paper describes it (the same plus a
   value model of the policy's size: its rollout forward, GAE, its forward/backward and Adam state). Time per
   update (best of --repeat after one warm-up) and peak memory: max RSS growth over the process after its
   imports (CPU) or torch.cuda.max_memory_allocated (CUDA); every variant runs in a fresh subprocess.
2. Whole steps (sample G outputs per question, reward, update): `train_grpo` against TRL's GRPOTrainer with
   the same saved model, G, batch, max new tokens, lr, beta, eps, mu=1, loss_type="grpo", one process; mean
   seconds per step after the first.

    python -m tests.bench.grpo [--group 8] [--questions 2] [--new-tokens 32] [--hidden 512] [--layers 4]
                               [--steps 4] [--repeat 3] [--threads 1] [--skip-trl]

On CPU every variant runs with --threads torch threads (default 1: on a small shared box, OpenMP threads
waiting on a core that another process holds make each op many times slower and the timings noise).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from pipeline.train.grpo import GRPOConfig, GRPOTrainer, outcome_advantages, sequence_logps, train_grpo
from tests.test_grpo import char_tokenizer, digit_share

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [{"prompt": f"Q: {a}+{b}=? A:", "answer": str(a + b)} for a in range(3, 40, 7) for b in (2, 11)]


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cfg_of(args: argparse.Namespace) -> GRPOConfig:
    batch = args.group * args.questions
    return GRPOConfig(num_generations=args.group, questions_per_step=args.questions, steps_per_iteration=args.steps,
                      max_completion_length=args.new_tokens, micro_batch=batch, rollout_questions=args.questions,
                      seed=0)


def load_policy(work: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(work / "model")
    return AutoModelForCausalLM.from_pretrained(work / "model").to(device()).eval(), tok


def prepare(work: Path, args: argparse.Namespace) -> None:
    """Save the tiny model and tokenizer, and one sampled batch with its rewards, for the subprocesses."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = char_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=args.hidden, intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None))
    model.save_pretrained(work / "model")
    tok.save_pretrained(work / "model")
    policy, tok = load_policy(work)
    trainer = GRPOTrainer(policy, tok, QUESTIONS, digit_share, cfg_of(args), log=lambda s: None)
    chunks = trainer.sample(QUESTIONS[:args.questions])
    rewards = torch.tensor([digit_share(q, t) for ch in chunks for q, t in zip(ch["questions"], ch["texts"], strict=True)])
    torch.save({"chunks": chunks, "rewards": rewards}, work / "batch.pt")
    params = sum(p.numel() for p in model.parameters())
    tokens = sum(sum(ch["lengths"]) for ch in chunks)
    print(f"model: Llama {args.layers} layers x {args.hidden}, {params / 1e6:.2f}M parameters, vocab {len(tok)}; "
          f"batch: {args.questions} questions x G={args.group}, {tokens} response tokens "
          f"(max {args.new_tokens} new), device {device()}, torch threads {torch.get_num_threads()}")


# ---------------------------------------------------------------- update variants (run in a subprocess)


def grpo_updates(work: Path, args: argparse.Namespace) -> list[float]:
    policy, tok = load_policy(work)
    batch = torch.load(work / "batch.pt", weights_only=False)
    trainer = GRPOTrainer(policy, tok, QUESTIONS, digit_share, cfg_of(args), log=lambda s: None)
    trainer.start_iteration()
    times = []
    for _ in range(args.repeat + 1):
        t0 = time.perf_counter()
        adv = list(outcome_advantages(batch["rewards"], args.group).split([len(c["seq"]) for c in batch["chunks"]]))
        trainer.update(trainer.micro_batches(batch["chunks"], adv))
        sync()
        times.append(time.perf_counter() - t0)
    return times


def values_of(model, mb: dict) -> torch.Tensor:
    """V(s_t) before each response token, from a token-classification head of one output."""
    pos = (mb["attn"].cumsum(-1) - 1).clamp_min(0)
    out = model(input_ids=mb["seq"], attention_mask=mb["attn"], position_ids=pos).logits[..., 0].float()
    return out[:, mb["start"] - 1:-1] * mb["mask"]


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float = 1.0, lam: float = 0.95) -> torch.Tensor:
    adv, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_v = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        running = rewards[:, t] + gamma * next_v - values[:, t] + gamma * lam * running
        adv[:, t] = running
    return adv


def ppo_updates(work: Path, args: argparse.Namespace) -> list[float]:
    """PPO (paper eq. 1): per-token reward -beta*KL plus the outcome reward at the last token, GAE, whitened
    advantages, clipped policy loss, clipped value loss; one update of policy and value model."""
    from transformers import AutoModelForTokenClassification

    policy, tok = load_policy(work)
    config = copy.deepcopy(policy.config)
    config.num_labels = 1
    value = AutoModelForTokenClassification.from_config(config).to(device()).eval()  # same backbone size
    ref = copy.deepcopy(policy).requires_grad_(False)
    cfg = cfg_of(args)
    batch = torch.load(work / "batch.pt", weights_only=False)
    trainer = GRPOTrainer(policy, tok, QUESTIONS, digit_share, cfg, log=lambda s: None)  # for micro_batches
    trainer.ref = ref
    popt = torch.optim.AdamW(policy.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    vopt = torch.optim.AdamW(value.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    times = []
    for _ in range(args.repeat + 1):
        t0 = time.perf_counter()
        zeros = [torch.zeros(len(c["seq"])) for c in batch["chunks"]]
        micro = trainer.micro_batches(batch["chunks"], zeros)  # reference log-probs
        total = sum(len(mb["seq"]) for mb in micro)
        popt.zero_grad(set_to_none=True)
        vopt.zero_grad(set_to_none=True)
        row = 0
        for mb in micro:
            n, mask = len(mb["seq"]), mb["mask"]
            outcome = batch["rewards"][row:row + n].to(device())
            row += n
            logp = sequence_logps(policy, mb["seq"], mb["attn"], mb["start"])
            old_logp = logp.detach()
            with torch.no_grad():
                old_values = values_of(value, mb)
                token_rewards = -cfg.beta * (old_logp - mb["ref_logp"]) * mask
                token_rewards[torch.arange(n), mask.sum(1).long() - 1] += outcome
                adv = gae(token_rewards, old_values) * mask
                returns = adv + old_values
                mean = adv.sum() / mask.sum()
                std = (((adv - mean) * mask) ** 2).sum().div(mask.sum()).sqrt()
                adv = (adv - mean) / (std + 1e-8) * mask
            ratio = torch.exp(logp - old_logp)
            pg = -torch.min(ratio * adv, ratio.clamp(1 - cfg.epsilon, 1 + cfg.epsilon) * adv)
            v = values_of(value, mb)
            v_clipped = old_values + (v - old_values).clamp(-0.2, 0.2)
            vf = 0.5 * torch.max((v - returns) ** 2, (v_clipped - returns) ** 2)
            loss = ((pg + 0.1 * vf) * mask).sum() / mask.sum()
            (loss * n / total).backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
        torch.nn.utils.clip_grad_norm_(value.parameters(), cfg.max_grad_norm)
        popt.step()
        vopt.step()
        sync()
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------- whole steps (run in a subprocess)


def ours_steps(work: Path, args: argparse.Namespace) -> list[float]:
    policy, tok = load_policy(work)
    history = train_grpo(policy, tok, QUESTIONS, digit_share, cfg_of(args), log=lambda s: None)
    return [s["time_s"] for s in history["steps"]], [s["response_len"] for s in history["steps"]]


def trl_steps(work: Path, args: argparse.Namespace) -> list[float]:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer as TRLTrainer

    ours = cfg_of(args)
    tok = AutoTokenizer.from_pretrained(work / "model")

    def reward(prompts, completions, **kwargs) -> list[float]:
        return [digit_share({}, c) for c in completions]

    class Timer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_begin(self, *a, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **kw):
            sync()
            self.times.append(time.perf_counter() - self.t0)

    cuda = device().type == "cuda"
    targs = TRLConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=ours.num_generations * ours.questions_per_step,
        num_generations=ours.num_generations, max_completion_length=ours.max_completion_length,
        learning_rate=ours.learning_rate,
        beta=ours.beta, epsilon=ours.epsilon, num_iterations=ours.num_iterations, temperature=ours.temperature, top_k=0,
        top_p=1.0, loss_type="grpo", scale_rewards="group", disable_dropout=True, max_grad_norm=ours.max_grad_norm,
        weight_decay=0.0, lr_scheduler_type="constant", warmup_steps=0, max_steps=args.steps, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=not cuda, bf16=cuda, seed=0, dataloader_num_workers=0,
        gradient_accumulation_steps=1)
    timer = Timer()
    trainer = TRLTrainer(model=str(work / "model"), reward_funcs=reward, args=targs, processing_class=tok,
                         train_dataset=Dataset.from_list([{"prompt": q["prompt"]} for q in QUESTIONS]),
                         callbacks=[timer])
    trainer.train()
    return timer.times, [h["completions/mean_length"] for h in trainer.state.log_history
                         if "completions/mean_length" in h]


VARIANTS = {"grpo_update": grpo_updates, "ppo_update": ppo_updates, "ours_steps": ours_steps, "trl_steps": trl_steps}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    base = max_rss_mb()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    out = VARIANTS[args.child](work, args)
    times, lengths = out if isinstance(out, tuple) else (out, [])
    peak = (torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else max_rss_mb() - base)
    print("RESULT " + json.dumps({"times": times, "peak_mb": peak, "lengths": lengths}))


def run_child(variant: str, work: Path, argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.bench.grpo", *argv, "--child", variant, "--work", str(work)],
                          cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [x for x in (proc.stderr or proc.stdout).strip().splitlines() if x.strip()]
    return {"error": f"exit {proc.returncode}: " + " | ".join(lines[-3:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", type=int, default=8, help="G outputs per question")
    parser.add_argument("--questions", type=int, default=2, help="questions per step")
    parser.add_argument("--new-tokens", type=int, default=32, help="max new tokens per output")
    parser.add_argument("--hidden", type=int, default=512, help="tiny Llama hidden size")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="whole steps for ours and TRL (the first is warm-up)")
    parser.add_argument("--repeat", type=int, default=3, help="updates: best of N after one warm-up")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads, the same in every variant (2 threads on a 2-core box shared with "
                             "one busy process run 30x slower: OpenMP waits on the busy core)")
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # make bench passes every bench the same ARGS
    torch.set_num_threads(args.threads)
    if args.child:
        child(args)
        return
    argv = [f"--group={args.group}", f"--questions={args.questions}", f"--new-tokens={args.new_tokens}",
            f"--hidden={args.hidden}", f"--layers={args.layers}", f"--steps={args.steps}", f"--repeat={args.repeat}", f"--threads={args.threads}"]
    mem = "peak CUDA MB" if torch.cuda.is_available() else "peak RSS growth MB"
    with tempfile.TemporaryDirectory(prefix="bench-grpo-") as tmp:
        work = Path(tmp)
        prepare(work, args)
        load0 = os.getloadavg()[0]
        res = {v: run_child(v, work, argv) for v in VARIANTS if not (args.skip_trl and v == "trl_steps")}
        load1 = os.getloadavg()[0]

    print(f"\n1. one update on the same batch ({mem}; time: best of {args.repeat} after a warm-up)")
    print(f"{'variant':44} {'s/update':>10} {mem:>20}")
    names = {"grpo_update": "GRPO (policy + reference)", "ppo_update": "PPO (policy + reference + value model, GAE)"}
    for v, name in names.items():
        r = res[v]
        print(f"{name:44} " + (f"{min(r['times'][1:]):10.3f} {r['peak_mb']:20.0f}" if "times" in r else r["error"]))
    g, p = res["grpo_update"], res["ppo_update"]
    if "times" in g and "times" in p:
        print(f"{'PPO / GRPO':44} {min(p['times'][1:]) / min(g['times'][1:]):9.2f}x "
              f"{p['peak_mb'] / max(g['peak_mb'], 1e-9):19.2f}x")

    print(f"\n2. whole steps (sample + reward + update), {args.steps} steps, mean of steps 2..{args.steps}")
    print(f"{'trainer':44} {'s/step':>10} {'steps/s':>10} {mem:>20} {'mean output tokens':>19}")
    rows = {"ours_steps": "mathmine train_grpo", "trl_steps": "TRL GRPOTrainer (trl 1.16)"}
    for v, name in rows.items():
        if v not in res:
            print(f"{name:44} skipped (--skip-trl)")
            continue
        r = res[v]
        if "times" in r and len(r["times"]) > 1:
            s = statistics.mean(r["times"][1:])
            length = statistics.mean(r["lengths"]) if r["lengths"] else float("nan")
            print(f"{name:44} {s:10.3f} {1 / s:10.2f} {r['peak_mb']:20.0f} {length:19.1f}")
        else:
            print(f"{name:44} could not run: {r.get('error', 'no step times')}")
    o, t = res["ours_steps"], res.get("trl_steps", {})
    if "times" in o and len(t.get("times", [])) > 1:
        ratio = statistics.mean(t["times"][1:]) / statistics.mean(o["times"][1:])
        print(f"{'ours steps/s / TRL steps/s':44} {ratio:10.2f}x")
    print(f"\n1-minute load average {load0:.2f} before, {load1:.2f} after, {os.cpu_count()} CPUs "
          f"(this bench keeps {args.threads} busy; more load means other processes shared them)")


if __name__ == "__main__":
    main()
