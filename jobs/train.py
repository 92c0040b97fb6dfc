"""`mathmine train cpt|grpo|eval|demo`: drivers of the bundled training stage (DESIGN.md section 6).

The work lives in `pipeline/train/` (data.py, cpt.py, grpo.py, reward.py, evaluate.py, generate.py);
these functions read settings, load models and data, call it, and write results next to the model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from jobs.common import write_json_atomic
from pipeline.config import ConfigError, Settings

log = logging.getLogger(__name__)


def _torch_threads(threads: int) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)



def parse_corpora(specs: list[str]) -> list[tuple[str, float]]:
    """`DIR` or `DIR=WEIGHT` per corpus (weights are relative, like the paper's 56/4/10/20/10)."""
    out = []
    for spec in specs:
        path, _, weight = spec.partition("=")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--shards {spec}: the weight after '=' must be a number") from None
        if not (Path(path) / "manifest.json").exists():
            raise ConfigError(f"--shards {spec}: {path} has no manifest.json (a `mathmine tokenize` output)")
        out.append((path, value))
    return out


def cpt(
    settings: Settings, corpora: list[tuple[str, float]], out_dir: str, tokenizer_dir: str
) -> dict[str, Any]:
    from pipeline.train.cpt import progress_line, train_cpt

    result = train_cpt(settings.cpt, corpora, out_dir, tokenizer_dir, resume=True,
                       log=lambda line: progress_line(f"train cpt: {line}"))
    write_json_atomic(Path(out_dir) / "cpt_result.json", {k: v for k, v in result.items() if k != "history"})
    return result


def load_policy(model_dir: str) -> tuple[Any, Any]:
    """A local causal LM and its tokenizer (never the hub)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (Path(model_dir) / "config.json").exists():
        raise ConfigError(f"{model_dir}: not a model folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    model.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    return model, tokenizer


def _prompted(problems: list[dict], template: str) -> list[dict]:
    return [
        {**p, "prompt": p.get("prompt") or template.replace("{question}", p["question"])} for p in problems
    ]


def evaluate(settings: Settings, model_dir: str, problems_path: str) -> dict[str, Any]:
    from pipeline.train.evaluate import read_problems
    from pipeline.train.generate import evaluate_model

    e = settings.evaluate
    problems = read_problems(problems_path)
    if e.limit:
        problems = problems[: e.limit]
    model, tokenizer = load_policy(model_dir)
    result = evaluate_model(
        model,
        tokenizer,
        _prompted(problems, e.prompt_template),
        e.n_samples,
        e.ks,
        temperature=e.temperature,
        max_new_tokens=e.max_new_tokens,
        seed=e.seed,
    )
    result["problems"] = problems_path
    return result


def grpo(settings: Settings, model_dir: str, problems_path: str, out_dir: str) -> dict[str, Any]:
    from pipeline.train.cpt import progress_line
    from pipeline.train.evaluate import is_correct, read_problems
    from pipeline.train.grpo import GRPOTrainer
    from pipeline.train.reward import make_reward_model, verifier_reward

    problems = _prompted(read_problems(problems_path), settings.evaluate.prompt_template)
    model, tokenizer = load_policy(model_dir)
    # Iterative RL retrains a reward model between iterations; with one iteration the verifier rewards.
    # Process supervision scores steps with the process reward model GRPOTrainer builds and trains itself
    # (the verifier labels its steps), so an outcome reward model would be trained and never read.
    outcome_rm = settings.grpo.rl_iterations > 1 and settings.grpo.supervision == "outcome"
    reward_model = make_reward_model(tokenizer, seed=settings.grpo.seed) if outcome_rm else None
    trainer = GRPOTrainer(
        model, tokenizer, problems, verifier_reward(is_correct), settings.grpo, reward_model=reward_model,
        log=lambda line: progress_line(f"train grpo: {line}"), output_dir=out_dir,
        train_reward_model_first=True,  # it starts random: trained before RL, then after each iteration
    )
    history = trainer.train()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if trainer.prm is not None:  # the trained PRM, loadable with AutoModelForTokenClassification
        trainer.prm.model.save_pretrained(Path(out_dir) / "prm")
        tokenizer.save_pretrained(Path(out_dir) / "prm")
    write_json_atomic(Path(out_dir) / "grpo_history.json", history)
    return history


# ----------------------------------------------------------------------------------------- demo


def _demo_check(text: str, reference: str) -> bool:
    from pipeline.train.evaluate import answers_equivalent
    from pipeline.train.synthetic import extract_answer

    answer = extract_answer(text)
    return answer is not None and answers_equivalent(answer, reference)


def _demo_trim(text: str) -> str:
    """Only what a completion says before the next question counts (the model may go on)."""
    return text.split("Q:", 1)[0].split("\n", 1)[0]


def demo(settings: Settings, out_dir: str) -> dict[str, Any]:
    """Synthetic arithmetic -> real shards -> CPT of a tiny Llama -> GRPO with a verifier -> eval.
    Loss lines (every 100 CPT steps, every 10 GRPO steps) go to stderr as they happen."""
    from pipeline.train.cpt import progress_line, train_cpt
    from pipeline.train.generate import evaluate_model
    from pipeline.train.grpo import train_grpo
    from pipeline.train.reward import verifier_reward
    from pipeline.train.synthetic import arithmetic_problems, write_arithmetic_shards

    d = settings.demo
    if d.n_embd % d.n_head:  # Llama splits the width into equal heads; say so before any work is done
        raise ConfigError(f"demo.n_embd {d.n_embd} is not a multiple of demo.n_head {d.n_head}")
    _torch_threads(d.threads)
    started = time.monotonic()
    out = Path(out_dir)
    shards, tokenizer_dir = out / "shards", out / "tokenizer"
    if not (shards / "manifest.json").exists():
        made = write_arithmetic_shards(
            str(shards), str(tokenizer_dir), d.train_docs, d.seed, shard_docs=10_000, vocab_size=d.vocab_size
        )
        print(
            f"demo: {made['rows']} synthetic documents, {made['tokens']:,} tokens in {made['shards']} shards"
        )
    cfg = replace(
        settings.cpt,
        model="",  # the demo always builds its own Llama, of the demo's shape
        n_layer=d.n_layer,
        n_embd=d.n_embd,
        n_head=d.n_head,
        seq_len=128,
        micro_batch=16,
        grad_accum=1,
        lr=d.cpt_lr,
        warmup_steps=50,
        max_steps=d.cpt_steps,
        max_tokens=0,
        save_every=max(1, d.cpt_steps // 2),
        logging_steps=100,
        seed=d.seed,
    )
    result = train_cpt(cfg, [(str(shards), 1.0)], str(out / "cpt"), str(tokenizer_dir), resume=True,
                       log=lambda line: progress_line(f"demo cpt: {line}"))
    print(f"demo: CPT {result['step']} steps, {result['tokens']:,} tokens, {result['seconds']:.0f} s")

    model, tokenizer = load_policy(result["final_dir"])
    eos = tokenizer.eos_token

    def prompted(problems: list[dict]) -> list[dict]:
        # every training document follows an EOS, so a prompt does too
        return [{**p, "prompt": eos + p["prompt"]} for p in problems]

    held_out = prompted(arithmetic_problems(d.eval_problems, d.seed, split="test"))
    questions = prompted(arithmetic_problems(d.rl_problems, d.seed, split="train"))
    # GRPO's questions are measured on (at most) as many of the pool as there are held-out ones: a pool of
    # thousands would cost more to evaluate than to train on, and the draw is random, so a prefix is a sample
    seen = questions[: d.eval_problems]
    ks = sorted({1, d.eval_samples})

    def measure() -> dict[str, Any]:
        return {
            name: evaluate_model(
                model,
                tokenizer,
                problems,
                d.eval_samples,
                ks,
                temperature=d.temperature,
                max_new_tokens=d.max_new_tokens,
                seed=d.seed,
                postprocess=_demo_trim,
                check=_demo_check,
            )
            for name, problems in (("rl_questions", seen), ("held_out", held_out))
        }

    before = measure()
    grpo_cfg = replace(
        settings.grpo,
        num_generations=d.group_size,
        questions_per_step=d.questions_per_step,
        steps_per_iteration=d.grpo_steps,
        rl_iterations=1,
        learning_rate=d.grpo_lr,
        beta=d.beta,
        temperature=d.temperature,  # RL sharpens the distribution it is measured on
        num_iterations=d.num_iterations,
        dynamic_sampling=d.dynamic_sampling,
        max_completion_length=d.max_new_tokens,
        micro_batch=64,
        rollout_questions=d.questions_per_step,
        seed=d.seed,
        logging_steps=10,
    )
    rl_started = time.monotonic()
    history = train_grpo(
        model,
        tokenizer,
        questions,
        _trimmed_reward(verifier_reward(_demo_check)),
        grpo_cfg,
        log=lambda line: progress_line(f"demo grpo: {line}"),
    )
    rl_seconds = time.monotonic() - rl_started
    after = measure()
    model.save_pretrained(out / "grpo")
    tokenizer.save_pretrained(out / "grpo")
    rewards = [round(s["reward_mean"], 3) for s in history["steps"]]
    summary = {
        "before": before,
        "after": after,
        "cpt": {k: v for k, v in result.items() if k != "history"},
        "grpo": {
            "steps": len(rewards),
            "question_pool": len(questions),
            "seconds": round(rl_seconds, 1),
            "train_reward_first_5": rewards[:5],
            "train_reward_last_5": rewards[-5:],
            "config": asdict(grpo_cfg),
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    write_json_atomic(out / "demo_result.json", summary)
    return summary


def _trimmed_reward(reward: Any) -> Any:
    return lambda question, completion: reward(question, _demo_trim(completion))


def print_demo(summary: dict[str, Any]) -> None:
    for name, title in (("rl_questions", "GRPO's questions"), ("held_out", "held-out questions")):
        before, after = summary["before"][name], summary["after"][name]
        keys = [k for k in before if k.startswith(("greedy", "mean_reward", "maj@", "pass@"))]
        print(f"\n{title + ' (' + str(before['n_problems']) + ')':<28}{'after CPT':>11}{'after GRPO':>12}"
              f"{'change':>9}")
        for key in keys:
            print(f"  {key:<26}{before[key]:>11.3f}{after[key]:>12.3f}{after[key] - before[key]:>+9.3f}")
    g = summary["grpo"]
    print(
        f"GRPO: {g['steps']} steps in {g['seconds']} s on a pool of {g['question_pool']} questions; "
        f"training reward first steps {g['train_reward_first_5']}, "
        f"last steps {g['train_reward_last_5']}"
    )
    print(f"demo: {summary['seconds']} s in all")
