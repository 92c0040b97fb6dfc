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


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module of tiny-model tests: they gain nothing from more, and on a
    shared 2-core box OpenMP waiting on a core another process holds makes every op many times slower
    (the CPU kernels are deterministic for a fixed thread count too). Use with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def spark_factory():
    from pipeline.spark import SessionFactory

    factory = SessionFactory(load_settings(None, ["spark.master=local[2]"]))
    yield factory
    factory.stop()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, spark_factory) -> tuple[Path, Path, str, str]:
    """(run folder, tmp, stdout, stderr) of one `mathmine iterate` on the bundled sample in a local
    folder, with its annotation folder at tmp/annotation: the demo run of `make iterate`, made once
    per test session. Tests that change it work on a copy (shutil.copytree of both folders)."""
    import contextlib
    import io

    from jobs.cli import main

    spark_factory.stop()  # the CLI starts (and stops) its own session
    tmp = tmp_path_factory.mktemp("demo-run")
    work = tmp / "work"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["iterate", "--work", str(work), "--set", f"annotation.dir={tmp / 'annotation'}"])
    assert code == 0, err.getvalue()[-5000:]
    return work, tmp, out.getvalue(), err.getvalue()


def step_stats(work: Path | str, name: str) -> dict:
    """The stats a finished step of a run folder wrote (the file its state.json entry names)."""
    from jobs.steps import read_step_stats
    from pipeline import fs

    return read_step_stats(fs.Store(), str(work), name)


def _copy_run_file(src: str, dst: str) -> None:
    """Copy a run-folder file; a large one (a fastText model.bin, 200 MB) is hard-linked instead. Safe
    because the project never writes a file in place: `pipeline.fs.Store` writes a temp file and
    renames it over the old name, which leaves the other link untouched."""
    import shutil

    if os.path.getsize(src) > (1 << 20):
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(src, dst)


@pytest.fixture
def review_run(request, tmp_path) -> tuple[Path, Path]:
    """(run folder, annotation folder): a private copy of the demo run (`demo_run`) and its
    annotation folder, with an empty `url_patterns/`, for a test that writes patterns or reruns the
    loop. MATHMINE_REVIEW_DEMO=DIR (a folder holding `work/` and `annotation/` from `mathmine
    iterate --work DIR/work --set annotation.dir=DIR/annotation`) skips building the demo run, for
    developing the review page's tests."""
    import shutil

    prebuilt = os.environ.get("MATHMINE_REVIEW_DEMO")
    if prebuilt:
        work, source = Path(prebuilt) / "work", Path(prebuilt)
    else:
        work, source, _, _ = request.getfixturevalue("demo_run")
    copy = tmp_path / "review"
    shutil.copytree(work, copy / "work", copy_function=_copy_run_file)
    if (source / "annotation").exists():
        shutil.copytree(source / "annotation", copy / "annotation",
                        ignore=shutil.ignore_patterns("url_patterns"))
    (copy / "annotation" / "url_patterns").mkdir(parents=True, exist_ok=True)
    return copy / "work", copy / "annotation"
