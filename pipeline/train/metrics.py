"""Where the training stage's logged metrics go besides the stderr line: OUT/metrics.jsonl (one JSON object
per logged step, keys like TRL's: step, loss, reward, kl, learning_rate, tokens_per_second, ...) and, with
`report_to: tensorboard`, TensorBoard scalars under OUT/runs (what `tensorboard --logdir OUT/runs` shows).

JSON lines rather than one JSON file: a line is complete when written (flushed at once), so a run killed
mid-way leaves every logged step readable, and `tail -f` / pandas.read_json(lines=True) read it as it grows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "runs"


def tensorboard_writer(log_dir: str | Path, key: str) -> Any:
    """A torch SummaryWriter for `log_dir`, or one ConfigError line naming the config `key` (e.g.
    'grpo.report_to') when the tensorboard package is missing, so the run stops before training, not after."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(f"{key}: tensorboard is not installed (pip install tensorboard), "
                          f"or set {key}: none", key) from None
    return SummaryWriter(log_dir=str(log_dir))


class MetricsLog:
    """Appends one JSON object per logged step to out_dir/metrics.jsonl and mirrors the numeric values as
    TensorBoard scalars when report_to is "tensorboard". A run resumed from step `resume_step` keeps the
    earlier rows up to that step and drops later ones (logged by the killed run after its last checkpoint,
    and about to be logged again); otherwise the file starts empty."""

    def __init__(self, out_dir: str | Path, report_to: str = "none", *, key: str = "report_to",
                 resume_step: int | None = None) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / METRICS_FILE
        # the writer first: a missing tensorboard must fail before anything is written or trained
        self.writer = tensorboard_writer(out / TENSORBOARD_DIR, key) if report_to == "tensorboard" else None
        kept = _rows_until(self.path, resume_step) if resume_step is not None else []
        self.file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (open for the whole run)
        for row in kept:
            self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def log(self, row: dict[str, Any]) -> None:
        # NaN/inf are not JSON: written as null so every line parses with any JSON reader
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self.file.write(json.dumps(clean, sort_keys=False) + "\n")
        self.file.flush()
        if self.writer is not None:
            step = int(row.get("step", 0))
            for name, value in clean.items():
                if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"train/{name}", value, step)
            self.writer.flush()

    def close(self) -> None:
        self.file.close()
        if self.writer is not None:
            self.writer.close()


def _rows_until(path: Path, step: int) -> list[dict[str, Any]]:
    """The rows of an existing metrics file with step <= `step`; a torn last line (a kill mid-write) and
    anything unreadable are skipped: the file is a log, not an input."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            rows.append(row)
    return rows


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of out_dir/metrics.jsonl, in order."""
    text = (Path(out_dir) / METRICS_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
