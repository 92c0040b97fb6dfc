"""The ingest job on a real standalone Spark cluster (master + one worker on loopback).

DESIGN.md section 7: the same job must run unchanged on a cluster, with the code the executors
run shipped from the driver (SessionFactory zips `pipeline` and `jobs` and addPyFile's them).
The cluster run must give exactly the table and the counts of a local-mode run of the same input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from jobs.ingest import run
from pipeline.config import load_settings
from pipeline.spark import SessionFactory, where_tasks_import
from tests.conftest import ROOT, data_path
from tests.servers import Cluster, hide_editable_dir, standalone_cluster

COMMON = ["extract.timeout_s=20", "ingest.log_every_s=600"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """spark://127.0.0.1:PORT of a standalone master with one 2-core worker, both stopped after."""
    with standalone_cluster(tmp_path_factory.mktemp("cluster"), cores=2, memory="2g") as running:
        yield running


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
    stats = json.loads((out_dir / "__ingest__" / "stats.json").read_text())
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
    hide = hide_editable_dir(tmp_path)
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
