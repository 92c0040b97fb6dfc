"""Continued pretraining of a Hugging Face causal LM on packed, mixed shards (DESIGN section 6).

DeepSeekMath's recipe: AdamW (beta1 0.9, beta2 0.95, weight decay 0.1), linear warmup, then a multi-step
schedule: the learning rate falls to 31.6% of its maximum after 80% of the training tokens and to 10%
after 90%. Every step sees the same number of tokens, so fractions of tokens are fractions of steps.

Checkpoints: out_dir/checkpoint-<step>/ holds the model (save_pretrained), a copy of the tokenizer folder
and trainer_state.pt (optimizer, scheduler, data position, RNG states, step), written into a temporary
folder and renamed into place, so a folder with that name is complete. A resumed run loads the latest
one and produces the same parameters and losses as a run that never stopped (exactly so on CPU, where
the kernels are deterministic). The final model goes to out_dir/final/.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pipeline.tokenize import TokenizerInfo, load_tokenizer
from pipeline.train.data import DataState, MixtureReader
from pipeline.train.metrics import MetricsLog
from pipeline.train.settings import CPTConfig

_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
STATE_FILE = "trainer_state.pt"


def progress_line(line: str) -> None:
    """The training stage's default log: one line on stderr, flushed at once, so a pipe, a log file
    or a batch scheduler's output shows each loss line as it is printed (print() to a piped stdout
    holds them in its buffer until the run ends)."""
    print(line, file=sys.stderr, flush=True)


def lr_factor(step: int, cfg: CPTConfig, total_steps: int) -> float:
    """Share of the maximum lr used at optimizer step `step` (0-based): linear warmup, then the steps."""
    factor = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    for at, to in zip(cfg.decay_at, cfg.decay_to, strict=True):
        if step >= at * total_steps:
            factor = min(factor, to)
    return factor


def build_model(cfg: CPTConfig, info: TokenizerInfo) -> torch.nn.Module:
    """cfg.model loaded in float32 (the master weights; autocast computes in bf16), or a small Llama."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if cfg.model:
        model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch.float32, local_files_only=True)
        if model.get_input_embeddings().num_embeddings < info.vocab_size:
            raise ValueError(f"{cfg.model}: fewer embeddings than the tokenizer's {info.vocab_size} ids")
        return model
    config = LlamaConfig(
        vocab_size=info.vocab_size, hidden_size=cfg.n_embd, intermediate_size=4 * cfg.n_embd,
        num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head,
        max_position_embeddings=cfg.seq_len, tie_word_embeddings=True,  # tying: most params of a tiny model
        bos_token_id=info.bos_id, eos_token_id=info.eos_id, pad_token_id=info.pad_id)
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def _optimizer(model: torch.nn.Module, cfg: CPTConfig, device: torch.device) -> torch.optim.AdamW:
    # no weight decay on norms and biases (1-d tensors), as in nanoGPT
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda")


def latest_checkpoint(out_dir: str) -> str | None:
    """The checkpoint-<step> folder with the highest step that holds a trainer state, or None."""
    found = [(int(m.group(1)), p) for p in Path(out_dir).glob("checkpoint-*")
             if (m := _CHECKPOINT.fullmatch(p.name)) and (p / STATE_FILE).exists()]
    return str(max(found)[1]) if found else None


def _save_model(model: torch.nn.Module, tokenizer_dir: str, target: Path,
                state: dict[str, Any] | None) -> None:
    """model + tokenizer files (+ trainer state) into a temporary folder, then renamed to `target`."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    for file in sorted(Path(tokenizer_dir).iterdir()):
        if file.is_file():
            shutil.copy2(file, tmp / file.name)
    if state is not None:
        torch.save(state, tmp / STATE_FILE)
    if target.exists():  # a rerun without resume overwrites: move the old one aside first
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        shutil.rmtree(old)
    os.replace(tmp, target)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _progress(total: int, initial: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # disable=None: no bar when stderr is not a terminal (logs, pytest); the log lines remain
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=None)


def _log_line(bar: Any, log: Callable[[str], None], line: str) -> None:
    """`log(line)`, with a live progress bar cleared around it so the two do not garble each other."""
    if bar is None or bar.disable:
        log(line)
        return
    with bar.external_write_mode():
        log(line)


def train_cpt(cfg: CPTConfig, data_corpora: Sequence[tuple[str, float]], out_dir: str, tokenizer_dir: str,
              resume: bool = True, log: Callable[[str], None] = progress_line) -> dict[str, Any]:
    """Continued pretraining on (shard folder, weight) corpora. Returns {"final_dir", "step", "tokens",
    "resumed_from", "history": [{"step", "loss", "lr"}, ... for the steps run by this call], "seconds",
    "tokens_per_s"}.

    `log` gets a line `step S/T loss L lr R tok/s N` after the first step of the call, every
    `cfg.logging_steps` steps and after the last, whether or not a terminal shows the tqdm bar (the bar
    only appears on a terminal's stderr); tok/s is measured since the previous line. Each such step is
    also a row of out_dir/metrics.jsonl (step, loss, learning_rate, tokens_per_second, num_tokens; a
    resumed run keeps the rows up to its checkpoint), and TensorBoard scalars with report_to tensorboard."""
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    use_bf16 = cfg.bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    _, info = load_tokenizer(tokenizer_dir)
    total = cfg.total_steps()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp-*"):  # left by a run killed while saving
        shutil.rmtree(stale, ignore_errors=True)

    checkpoint = latest_checkpoint(out_dir) if resume else None
    resume_step = None
    if checkpoint is not None:  # the metrics rows to keep: the step is in the folder's name
        match = _CHECKPOINT.fullmatch(Path(checkpoint).name)
        resume_step = int(match.group(1)) if match else 0
    # before the model is built: a missing tensorboard (report_to) fails in a second, not after loading
    metrics = MetricsLog(out, cfg.report_to, key="cpt.report_to", resume_step=resume_step)
    model = build_model(cfg if checkpoint is None else replace(cfg, model=checkpoint), info)
    model.to(device)
    optimizer = _optimizer(model, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg, total))
    step, data_state = 0, None
    torch.manual_seed(cfg.seed)
    if checkpoint is not None:
        state = torch.load(Path(checkpoint, STATE_FILE), map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])  # moves its tensors to the parameters' device
        scheduler.load_state_dict(state["scheduler"])
        step, data_state = state["step"], DataState.from_dict(state["data"])
        _set_rng_state(state["rng"])
        changed = [k for k in ("seq_len", "micro_batch", "grad_accum", "seed")
                   if state["config"].get(k) != getattr(cfg, k)]
        log(f"resumed from {checkpoint} at step {step}"
            + (f" (config differs in {', '.join(changed)}: batches will differ)" if changed else ""))
    reader = MixtureReader(data_corpora, cfg.seq_len, cfg.micro_batch, seed=cfg.seed, state=data_state,
                           tokenizer_sha256=info.sha256)

    def save(target: Path, with_state: bool) -> None:
        state = None
        if with_state:
            state = {"step": step, "tokens": step * cfg.tokens_per_step(),
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "data": reader.state().as_dict(), "rng": _rng_state(), "config": asdict(cfg),
                     "corpora": [[str(f), float(w)] for f, w in data_corpora]}
        _save_model(model, tokenizer_dir, target, state)

    history: list[dict[str, float]] = []
    resumed_from = checkpoint
    bar = _progress(total, step)
    started = last_time = time.perf_counter()
    first_step, last_step = step, step
    model.train()
    while step < total:
        step_started = time.perf_counter()
        lr = scheduler.get_last_lr()[0]
        loss_sum = torch.zeros((), device=device)
        for _ in range(cfg.grad_accum):
            tokens = torch.from_numpy(reader.next_batch().tokens).to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(input_ids=tokens[:, :-1], use_cache=False).logits  # no KV cache in training
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
            (loss / cfg.grad_accum).backward()  # the step's gradient is the mean over its micro batches
            loss_sum += loss.detach()  # no .item() here: one device sync per step, not per micro batch
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        history.append({"step": step, "loss": loss_sum.item() / cfg.grad_accum, "lr": lr})
        if bar is not None:
            bar.update(1)
            step_tps = cfg.tokens_per_step() / max(time.perf_counter() - step_started, 1e-9)
            bar.set_postfix(loss=f"{history[-1]['loss']:.4f}", lr=f"{lr:.2e}", tok_s=f"{step_tps:,.0f}")
        if (cfg.logging_steps > 0 and step % cfg.logging_steps == 0) or step in (first_step + 1, total):
            now = time.perf_counter()
            tps = (step - last_step) * cfg.tokens_per_step() / max(now - last_time, 1e-9)
            last_time, last_step = now, step
            _log_line(bar, log, f"step {step}/{total} loss {history[-1]['loss']:.4f} lr {lr:.3e} "
                                f"tok/s {tps:,.0f}")
            metrics.log({"step": step, "loss": history[-1]["loss"], "learning_rate": lr,
                         "tokens_per_second": tps, "num_tokens": step * cfg.tokens_per_step()})
        if cfg.save_every > 0 and step % cfg.save_every == 0:
            save(out / f"checkpoint-{step}", with_state=True)
    if bar is not None:
        bar.close()
    metrics.close()
    save(out / "final", with_state=False)
    seconds = time.perf_counter() - started
    return {"final_dir": str(out / "final"), "step": step, "tokens": step * cfg.tokens_per_step(),
            "resumed_from": resumed_from, "history": history, "seconds": seconds,
            "tokens_per_s": (step - first_step) * cfg.tokens_per_step() / max(seconds, 1e-9)}
