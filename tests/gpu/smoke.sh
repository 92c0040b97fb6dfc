#!/usr/bin/env bash
# The training stage on a GPU, a few steps each, unchanged code (not run by `make test`):
#   CPT (bf16 autocast) -> GRPO -> eval on CUDA, then peak GPU memory of one GRPO update against one PPO
#   update with a value model of the same size (tests/bench/grpo.py, torch.cuda.max_memory_allocated).
# Needs the CUDA build of torch 2.13.0 in .venv and a visible GPU; about 2 minutes on one GPU.
#     bash tests/gpu/smoke.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=${PY:-.venv/bin/python}
WORK=${1:-$(mktemp -d /tmp/mathmine-gpu-XXXX)}
mkdir -p "$WORK"
ALLOW_CPU=${ALLOW_CPU:-0} "$PY" - <<'PY'
import os, torch
# ALLOW_CPU=1 runs the same commands on CPU (to check the script itself where no GPU is lent)
assert torch.cuda.is_available() or os.environ["ALLOW_CPU"] == "1", \
    "no CUDA device visible to torch (install the CUDA build of torch 2.13.0)"
if not torch.cuda.is_available():
    print("no GPU: running on CPU (ALLOW_CPU=1)")
else:
    print(f"gpu: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, bf16 {torch.cuda.is_bf16_supported()}")
PY
start=$(date +%s)
"$PY" - "$WORK" <<'PY'
import json, sys
from pathlib import Path
from pipeline.train.synthetic import write_arithmetic_shards
work = Path(sys.argv[1])
write_arithmetic_shards(str(work / "shards"), str(work / "tok"), 4000, 0, shard_docs=1000)
problems = [{"question": f"{a}+{b}=", "answer": str(a + b)} for a in range(10, 30) for b in range(3, 6)]
(work / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in problems))
PY
mathmine=(.venv/bin/mathmine)
"${mathmine[@]}" train cpt --shards "$WORK/shards=1" --tokenizer "$WORK/tok" --out "$WORK/cpt" \
  --set cpt.max_steps=30 --set cpt.seq_len=128 --set cpt.micro_batch=16 --set cpt.warmup_steps=5 \
  --set cpt.logging_steps=10 --set cpt.bf16=true
"${mathmine[@]}" train grpo --model "$WORK/cpt/final" --problems "$WORK/problems.jsonl" --out "$WORK/grpo" \
  --set grpo.num_generations=8 --set grpo.questions_per_step=4 --set grpo.steps_per_iteration=3 \
  --set grpo.max_completion_length=16 --set grpo.learning_rate=1e-4 --set grpo.logging_steps=1 \
  --set grpo.bf16=true
"${mathmine[@]}" train eval --model "$WORK/grpo" --problems "$WORK/problems.jsonl" --json \
  --set evaluate.limit=20 --set evaluate.n_samples=4 --set "evaluate.ks=[1, 4]" --set evaluate.max_new_tokens=16
echo "cpt + grpo + eval on the GPU: $(( $(date +%s) - start )) s; metrics: $WORK/grpo/metrics.jsonl"
# Peak GPU memory, GRPO vs PPO with a value model of the policy's size (a 4-layer, 512-wide Llama).
"$PY" -m tests.bench.grpo --skip-trl --steps 2 --repeat 2 --hidden 512 --layers 4
