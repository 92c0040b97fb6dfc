"""Faults of a run rather than of its input: two runs on one folder, a killed run's temp files, a
moved input folder, and a Spark task whose first attempt dies (Spark retries it; the outputs must be
the bytes of a clean run)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline import fs
from pipeline.config import StorageSettings
from tests.conftest import ROOT, data_path
from tests.servers import S3_CREDENTIALS, moto_s3

MATHMINE = [sys.executable, "-m", "jobs.cli"]


def mathmine(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MATHMINE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def hold_lock(folder: Path | str, env: dict[str, str] | None = None, storage: str = "") -> subprocess.Popen:
    """A separate process that takes the folder's lock and sleeps (prints 'held' once it has it)."""
    script = textwrap.dedent(f"""
        import time
        from pipeline import fs
        from pipeline.config import StorageSettings
        store = fs.Store(StorageSettings({storage}))
        with store.lock({str(folder)!r}, command="mathmine iterate (the other run)"):
            print("held", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    assert proc.stdout.readline().strip() == "held"
    return proc


# -- 8. one run per run folder ----------------------------------------------------------------------
def test_a_second_iterate_on_a_busy_run_folder_stops_with_one_line_naming_the_holder(tmp_path):
    work = tmp_path / "run"
    holder = hold_lock(work)
    try:
        result = mathmine("iterate", "--work", str(work), timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "in use by" in line]
    assert len(lines) == 1, result.stderr
    assert f"pid {holder.pid}" in lines[0] and "mathmine iterate (the other run)" in lines[0]
    assert str(work) in lines[0]
    assert not (work / "state.json").exists()  # it wrote nothing


def test_the_lock_of_a_killed_run_is_free_again_and_released_on_exit(tmp_path):
    store = fs.Store()
    holder = hold_lock(tmp_path)
    with pytest.raises(fs.FolderLocked, match=f"pid {holder.pid}"), store.lock(str(tmp_path)):
        pass
    holder.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the flock
    holder.wait()
    with store.lock(str(tmp_path)) as me:
        assert json.loads((tmp_path / fs.LOCK).read_text())["pid"] == me["pid"] == os.getpid()
    assert not (tmp_path / fs.LOCK).exists()
    with store.lock(str(tmp_path)):  # and again: nothing was left behind
        pass


def test_the_lock_on_an_object_store_names_the_holder_and_takes_over_a_dead_local_one():
    with moto_s3() as s3:
        s3.client.create_bucket(Bucket="faults-lock")
        storage = f"s3_endpoint_url={s3.endpoint!r}"
        settings = StorageSettings(s3_endpoint_url=s3.endpoint)
        store = fs.Store(settings)
        folder = "s3://faults-lock/run"
        env = dict(S3_CREDENTIALS)
        os.environ.update(env)
        holder = hold_lock(folder, env=env, storage=storage)
        try:
            with pytest.raises(fs.FolderLocked) as raised, store.lock(folder):
                pass
            assert f"pid {holder.pid}" in str(raised.value)
            assert f"remove {folder}/{fs.LOCK}" in str(raised.value)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        # The dead holder's file is still there (an object store cannot drop it for us) ...
        assert store.exists(f"{folder}/{fs.LOCK}")
        with store.lock(folder) as me:  # ... and a run on the same host takes it over
            assert store.read_json(f"{folder}/{fs.LOCK}")["pid"] == me["pid"]
        assert not store.exists(f"{folder}/{fs.LOCK}")
        # A lock from another host is never taken over: it can only be reported.
        other = {"host": "another-host", "pid": 1, "started": "2026-12-01T00:00:00Z", "command": "x"}
        store.write_json(f"{folder}/{fs.LOCK}", other)
        with pytest.raises(fs.FolderLocked, match="another-host"), store.lock(folder):
            pass


# -- 9. temp files of a killed run ------------------------------------------------------------------
def test_leftover_temp_files_are_found_outermost_and_swept(tmp_path):
    store = fs.Store()
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "part-a.parquet").write_bytes(b"kept")
    (tmp_path / "pages" / ".inflight-part-b.parquet-1a2b3c4d").write_bytes(b"half")
    deep = tmp_path / ".inflight-dedup-5e6f7a8b" / "sub"
    deep.mkdir(parents=True)
    (deep / "part-00000.parquet").write_bytes(b"half")
    found = store.leftovers(str(tmp_path))
    assert found == [f"{tmp_path}/.inflight-dedup-5e6f7a8b", f"{tmp_path}/pages/.inflight-part-b.parquet-1a2b3c4d"]
    assert store.sweep_leftovers(str(tmp_path)) == 2
    assert store.leftovers(str(tmp_path)) == []
    assert (tmp_path / "pages" / "part-a.parquet").read_bytes() == b"kept"


def test_a_killed_ingest_leaves_no_temp_files_after_the_next_run(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    for path in sorted(data_path("warc", "dolma_wget_samples").glob("*.warc.gz")):
        os.symlink(path, warcs / path.name)
    out = tmp_path / "pages"
    # A temp file exactly as Store.write_bytes names it, as a SIGKILL mid-write leaves it.
    (out / "__ingest__").mkdir(parents=True)
    stale = out / ".inflight-sample-0000-1234abcd.parquet-0badf00d"
    stale.write_bytes(b"PAR1 half a part")
    result = mathmine("ingest", "--input", str(warcs / "*.warc.gz"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert not stale.exists()
    assert "removed 1 temp file(s) left by an interrupted run" in result.stderr
    assert fs.Store().leftovers(str(out)) == []


# -- 5. a moved input folder ------------------------------------------------------------------------
def test_moving_the_warcs_does_not_ingest_them_twice(tmp_path):
    first = tmp_path / "here"
    first.mkdir()
    source = data_path("warc", "cc_whirlwind", "whirlwind.warc.gz")
    shutil.copyfile(source, first / source.name)
    out = tmp_path / "pages"
    assert mathmine("ingest", "--input", str(first / "*.warc.gz"), "--out", str(out)).returncode == 0
    parts = sorted(p.name for p in out.glob("*.parquet"))
    moved = tmp_path / "there"
    first.rename(moved)
    result = mathmine("ingest", "--input", str(moved / "*.warc.gz"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.parquet")) == parts
    stats = json.loads((out / "__ingest__" / "stats.json").read_text())
    assert stats["files_skipped"] == 1, stats


def test_two_inputs_with_one_file_name_are_refused_they_would_share_page_ids(tmp_path):
    source = data_path("warc", "cc_whirlwind", "whirlwind.warc.gz")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copyfile(source, tmp_path / folder / source.name)
    result = mathmine("ingest", "--input", str(tmp_path / "*" / "*.warc.gz"), "--out", str(tmp_path / "pages"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "whirlwind.warc.gz" in result.stderr.strip().splitlines()[-1]
    assert not list((tmp_path / "pages").glob("*.parquet")) if (tmp_path / "pages").exists() else True


# -- a Spark task whose first attempt dies ----------------------------------------------------------
def digest_folder(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part in rel for part in skip):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def without_times(stats):
    if isinstance(stats, list):
        return [without_times(v) for v in stats]
    if isinstance(stats, dict):
        return {k: without_times(v) for k, v in stats.items() if k not in ("seconds", "step_seconds")}
    return stats


@pytest.mark.timeout(900)
def test_a_task_killed_on_its_first_attempt_is_retried_to_the_same_bytes(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    for path in [data_path("warc", "cc_resiliparse_sample", "CC-MAIN-2020-34-sample.warc.gz"),
                 data_path("warc", "cc_whirlwind", "whirlwind.warc.gz")]:
        os.symlink(path, warcs / path.name)
    retries = ["--set", "spark.master=local[2,2]"]  # local mode retries a task only when told to
    runs = {}
    for name, fault in (("clean", None), ("faulted", True)):
        pages, dedup = tmp_path / name / "pages", tmp_path / name / "dedup"
        env = {"MATHMINE_FAULT": "per_item:1"} if fault else {}
        started = time.monotonic()
        ingest = mathmine("ingest", "--input", str(warcs / "*.warc.gz"), "--out", str(pages), *retries, env=env)
        assert ingest.returncode == 0, ingest.stderr[-3000:]
        env = {"MATHMINE_FAULT": "table:0"} if fault else {}
        deduped = mathmine("dedup", "--pages", str(pages), "--out", str(dedup), *retries, env=env)
        assert deduped.returncode == 0, deduped.stderr[-3000:]
        runs[name] = (pages, dedup, ingest.stderr + deduped.stderr, time.monotonic() - started)
    clean, faulted = runs["clean"], runs["faulted"]
    # The hook fired in both jobs (so the retry really happened) ...
    assert faulted[2].count("mathmine fault hook: killing the first attempt") == 2, faulted[2][-3000:]
    assert "mathmine fault hook" not in clean[2]
    # ... and every published byte is the clean run's (stats apart from their timings).
    for index in (0, 1):
        # (ingest's done markers carry per-file timings and the run's id: bookkeeping, not the table)
        skip = ("stats.json", "__ingest__/parts/")
        assert digest_folder(faulted[index], skip=skip) == digest_folder(clean[index], skip=skip)
    for stats in ("__ingest__/stats.json",):
        assert without_times(json.loads((faulted[0] / stats).read_text())) == without_times(
            json.loads((clean[0] / stats).read_text()))
    ingest_stats = json.loads((faulted[0] / "__ingest__" / "stats.json").read_text())
    assert ingest_stats["files"] == 2 and ingest_stats["files_done"] == 2 and ingest_stats["invariant_holds"]
