"""Shared fixtures: the real data under ../shared/data, settings, a local Spark session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MATHMINE_DATA", ROOT.parent / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A path under ../shared/data; skips the test where the data is absent (never in CI)."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run with ../shared/data beside the checkout")
        pytest.skip(f"real data not found at {path} (set MATHMINE_DATA or clone beside shared/)")
    return path


def real_warcs() -> list[Path]:
    return sorted(data_path("warc").rglob("*.warc.gz")) + sorted(data_path("warc_repackaged").rglob("*.warc.gz"))


@pytest.fixture
def settings() -> Settings:
    return load_settings(None, ["extract.timeout_s=20", "ingest.log_every_s=600"])


@pytest.fixture(scope="session")
def spark_factory():
    from pipeline.spark import SessionFactory

    factory = SessionFactory(load_settings(None, ["spark.master=local[2]"]))
    yield factory
    factory.stop()


def step_stats(work: Path | str, name: str) -> dict:
    """The stats a finished step of a run folder wrote (the file its state.json entry names)."""
    from jobs.steps import read_step_stats
    from pipeline import fs

    return read_step_stats(fs.Store(), str(work), name)
