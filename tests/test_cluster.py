"""The ingest job on a real standalone Spark cluster (master + one worker on loopback).

DESIGN.md section 7: the same job must run unchanged on a cluster, with the code the executors
run shipped from the driver (SessionFactory zips `pipeline` and `jobs` and addPyFile's them).
The cluster run must give exactly the table and the counts of a local-mode run of the same input.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from jobs.ingest import run
from pipeline.config import load_settings
from pipeline.spark import SessionFactory, where_tasks_import
from tests.conftest import ROOT, data_path

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
COMMON = ["extract.timeout_s=20", "ingest.log_every_s=600"]

# Run on the executors' Python workers (and the extraction child they start, which inherits their
# sys.path as PYTHONPATH): drops setuptools' editable-install finder for this project. With it,
# executors on this machine could import `pipeline` / `jobs` straight from the source tree, so a
# missing or broken zip would go unnoticed (before the zip carried `jobs`, executors silently took
# `jobs` from the source tree while taking `pipeline` from the zip). Without it the only copy of
# the project the executors can see is the shipped zip, as on a real cluster, and a green run
# proves it ships. Passed as spark.executorEnv.PYTHONPATH, so it touches no other session.
HIDE_EDITABLE = '''\
import sys

def _editable(obj):
    return getattr(obj, "__module__", "").startswith("__editable__")

sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not _editable(h)]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


def _logs(paths: list[Path]) -> str:
    return "\n".join(f"----- {p} -----\n{p.read_text(errors='replace')[-8000:]}" for p in paths if p.exists())


@dataclass
class Cluster:
    url: str
    dir: Path

    def logs(self) -> str:
        """The master's and worker's logs and the executors' stderr."""
        return _logs([self.dir / "master.log", self.dir / "worker.log",
                      *sorted((self.dir / "work").rglob("stderr"))])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """spark://127.0.0.1:PORT of a standalone master with one 2-core worker, both stopped after."""
    home = _spark_home()
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists():
        pytest.skip(f"{spark_class} missing: this pyspark install cannot start a standalone cluster")
    tmp = tmp_path_factory.mktemp("cluster")
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    props = tmp / "spark-daemons.properties"
    # No REST submission server: it would take the fixed port 6066.
    props.write_text("spark.master.rest.enabled false\n")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_MASTER", None)
    commands = {
        "master": [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                   "--port", str(port), "--webui-port", str(master_ui), "--properties-file", str(props)],
        "worker": [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                   "--cores", "2", "--memory", "2g", "--webui-port", str(worker_ui),
                   "--work-dir", str(tmp / "work"), "--properties-file", str(props), url],
    }
    logs = {name: tmp / f"{name}.log" for name in commands}
    procs: list[subprocess.Popen] = []
    try:
        for name, cmd in commands.items():
            with open(logs[name], "wb") as log_file:
                procs.append(subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL))
            if name == "master":
                _wait_for(logs["master"], "New state: ALIVE", procs, logs)
        _wait_for(logs["worker"], "Successfully registered with master", procs, logs)
        _wait_for(logs["master"], "Registering worker", procs, logs)
        yield Cluster(url, tmp)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_for(log: Path, marker: str, procs: list[subprocess.Popen], logs: dict[str, Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if log.exists() and marker in log.read_text(errors="replace"):
            return
        dead = [p.args[1] for p in procs if p.poll() is not None]
        if dead:
            pytest.fail(f"{', '.join(dead)} exited while starting\n{_logs(list(logs.values()))}")
        time.sleep(0.25)
    pytest.fail(f"no {marker!r} in {log.name} after {START_TIMEOUT_S}s\n{_logs(list(logs.values()))}")


def _input_spec() -> str:
    small = sorted(p for p in data_path("warc").rglob("*.warc.gz") if p.stat().st_size < 1_000_000)
    repackaged = data_path("warc_repackaged", "scrapinghub_article_extraction_benchmark")
    paths = [*small, *sorted(repackaged.glob("*.warc.gz"))]
    assert len(paths) >= 5, paths
    return ",".join(str(p) for p in paths)


def _table(out_dir: Path) -> Any:
    return pq.read_table(out_dir).sort_by([("id", "ascending"), ("warc_path", "ascending"),
                                           ("warc_offset", "ascending")])


def _counts(out_dir: Path) -> dict[str, Any]:
    """_stats.json without its timings (the only part allowed to differ between runs)."""
    stats = json.loads((out_dir / "_stats.json").read_text())
    stats.pop("seconds")
    for entry in stats["per_file"]:
        entry.pop("seconds")
    return stats


@pytest.mark.cluster
def test_ingest_on_cluster_ships_package_and_matches_local(
    cluster: Cluster, spark_factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARK_MASTER", raising=False)  # it would override spark.master below
    try:
        _check_cluster_run(cluster.url, spark_factory, tmp_path)
    except BaseException:
        print(cluster.logs())  # pytest shows it with the failure
        raise


def _check_cluster_run(cluster: str, spark_factory: SessionFactory, tmp_path: Path) -> None:
    spec = _input_spec()
    hide = tmp_path / "hide_editable"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_EDITABLE)
    conf = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.executor.memory": "1g",
        "spark.executorEnv.PYTHONPATH": str(hide),
    }
    settings = load_settings(None, [f"spark.master={cluster}", f"spark.conf={json.dumps(conf)}", *COMMON])
    assert settings.spark.master == cluster

    # One SparkContext per process: stop the shared local session (other test files' fixture; its
    # next get() starts a fresh one) before the cluster session, and stop that before going local.
    spark_factory.stop()
    factory = SessionFactory(settings)
    try:
        session = factory.get()
        assert session.sparkContext.master == cluster
        shipped = {module: where_tasks_import(session, module) for module in ("pipeline", "jobs.ingest")}
        stats = run(spec, str(tmp_path / "cluster"), settings, force=True, factory=factory)
    finally:
        factory.stop()

    for module, files in shipped.items():
        assert files, module
        for file in files:
            assert "mathmine_pipeline.zip" in file, f"{module} imported from {file}, not the shipped zip"
            assert not file.startswith(str(ROOT)), f"{module} imported from the source tree: {file}"
    assert stats["files_failed"] == {}, stats["per_file"]
    assert stats["files_done"] == stats["files"] == len(spec.split(","))
    assert stats["pages_kept"] > 0 and stats["invariant_holds"]

    local_settings = load_settings(None, ["spark.master=local[2]", *COMMON])
    assert spark_factory.get().sparkContext.master == "local[2]"
    run(spec, str(tmp_path / "local"), local_settings, force=True, factory=spark_factory)

    assert _counts(tmp_path / "cluster") == _counts(tmp_path / "local")
    cluster_parts = sorted(p.name for p in (tmp_path / "cluster").glob("*.parquet"))
    assert cluster_parts == sorted(p.name for p in (tmp_path / "local").glob("*.parquet"))
    assert len(cluster_parts) == stats["files"]
    cluster_table, local_table = _table(tmp_path / "cluster"), _table(tmp_path / "local")
    assert cluster_table.num_rows == stats["pages_kept"]
    assert cluster_table.schema == local_table.schema
    assert cluster_table.equals(local_table)
