"""What every job does around its work: logging, _stats.json, and the one-line error."""

from __future__ import annotations

import logging
import sys
from typing import Any

from pipeline import fs
from pipeline.config import Settings


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "trafilatura", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(error: BaseException | str, code: int) -> int:
    """Print `mathmine: error: <message>` on stderr, as one line, and return `code` (the exit status):
    how every error meant for the user ends, never a traceback."""
    message = " ".join(str(error).splitlines()) or type(error).__name__
    print(f"mathmine: error: {message}", file=sys.stderr)
    return code


def write_stats(out_dir: str, stats: dict[str, Any], settings: Settings) -> str:
    path = fs.join(out_dir, "_stats.json")
    fs.Store(settings.storage).write_json(path, stats, sort_keys=False)
    return path


def write_json_atomic(path: Any, data: Any) -> None:
    """A JSON file (sorted keys) that readers see whole or not at all, on any store."""
    fs.Store().write_json(str(path), data)
