"""What every job does around its work: logging, _stats.json, the run folder's state.json."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pipeline import storage
from pipeline.config import Settings


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "trafilatura", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def write_stats(out_dir: str, stats: dict[str, Any], settings: Settings) -> str:
    path = storage.join(out_dir, "_stats.json")
    storage.write_bytes_atomic(path, (json.dumps(stats, indent=2, sort_keys=False) + "\n").encode(),
                               settings.storage)
    return path


def write_text_atomic(path: str | Path, text: str) -> None:
    """A local file that readers see whole or not at all (temp file + rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json_atomic(path: str | Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


class RunState:
    """WORK/state.json: which steps finished, with the config fingerprint they ran under."""

    def __init__(self, work_dir: str) -> None:
        self.path = Path(work_dir) / "state.json"
        self.data: dict[str, Any] = {"steps": {}}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def done(self, step: str, fingerprint: str) -> bool:
        entry = self.data["steps"].get(step)
        return bool(entry) and entry.get("fingerprint") == fingerprint

    def finish(self, step: str, fingerprint: str, summary: dict[str, Any]) -> None:
        self.data["steps"][step] = {"fingerprint": fingerprint, "summary": summary}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)
