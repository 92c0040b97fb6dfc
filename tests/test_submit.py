"""The README's spark-submit command, run as the README writes it, on a standalone cluster with the
run folder on a moto S3 server (both on loopback; tests/servers.py).

The block after the README's `<!-- tested by tests/test_submit.py` line goes to `bash -c` unchanged,
with the variables it names (SPARK_MASTER, WORK, INPUT, S3_ENDPOINT) in the environment and
`spark-submit` (pyspark's, in the venv) on PATH. The worker holds the S3 credentials in its environment,
as cluster nodes do, and hides the editable install from the executors (tests/servers.py
HIDE_EDITABLE), so a green run also proves the shipped zip carries the code. A second submit checks
that spark-submit's `--master` and `--conf` win over the config's `spark.*` and over SPARK_MASTER.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.ingest import STATS_FILE
from tests.conftest import ROOT, data_path
from tests.servers import (
    S3_CREDENTIALS,
    Cluster,
    S3Server,
    hide_editable_dir,
    moto_s3,
    spark_home,
    standalone_cluster,
)

pytestmark = pytest.mark.cluster

README = ROOT / "README.md"
MARKER = "<!-- tested by tests/test_submit.py"
BUCKET = "mathmine-submit"
RUN_PREFIX = "run"
SUBMIT_TIMEOUT_S = 540  # ingest of the test's WARCs takes under a minute; the whole loop about 5
# Never the caller's: they would change which credentials, endpoint or interpreters the run uses.
CLEARED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "PYSPARK_PYTHON",
           "PYSPARK_DRIVER_PYTHON", "SPARK_CONF_DIR", "PYTHONPATH", "MASTER", "SPARK_MASTER")


@dataclass
class World:
    cluster: Cluster
    s3: S3Server
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("submit")
    worker_env = {**S3_CREDENTIALS, "PYTHONPATH": str(hide_editable_dir(tmp))}
    with moto_s3() as s3, \
            standalone_cluster(tmp / "cluster", cores=2, memory="2g", env=worker_env) as cluster:
        s3.client.create_bucket(Bucket=BUCKET)
        yield World(cluster, s3, tmp)


def readme_block() -> str:
    """The fenced block right after the marker line in README.md."""
    lines = README.read_text(encoding="utf-8").splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(MARKER)]
    assert len(at) == 1, f"README.md must hold exactly one {MARKER!r} line, found {len(at)}"
    fence = at[0] + 1
    assert lines[fence].startswith("```"), f"README.md:{fence + 1}: a fenced block must follow the marker"
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    block = "\n".join(lines[fence + 1:end]).strip()
    assert block.startswith("spark-submit "), block
    return block


def _env(world: World, **extra: str) -> dict[str, str]:
    """The shell the README's reader has: the venv and pyspark's bin on PATH, the variables set."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    venv_bin = Path(sys.executable).parent  # its python3 is the driver's interpreter
    home = spark_home()
    env.update(S3_CREDENTIALS)
    env.update({
        "PATH": os.pathsep.join([str(venv_bin), str(home / "bin"), env.get("PATH", "")]),
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",  # the driver binds and advertises loopback
        **extra,
    })
    return env


def _submit(command: list[str] | str, env: dict[str, str], world: World,
            name: str) -> subprocess.CompletedProcess:
    args = ["bash", "-e", "-c", command] if isinstance(command, str) else command
    started = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    (world.tmp / f"{name}.stdout").write_text(proc.stdout)
    (world.tmp / f"{name}.stderr").write_text(proc.stderr)
    print(f"{name}: exit {proc.returncode} after {time.monotonic() - started:.1f} s")
    if proc.returncode != 0:
        print(world.cluster.logs())
    return proc


def _input_spec() -> list[Path]:
    small = sorted(p for p in data_path("warc").rglob("*.warc.gz") if p.stat().st_size < 1_000_000)
    assert len(small) >= 3, small
    return small[:3]


def _keys(world: World, prefix: str) -> list[str]:
    pages = world.s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def test_readme_spark_submit_runs_on_the_cluster_into_s3(world: World) -> None:
    block = readme_block()
    warcs = _input_spec()
    work = f"s3://{BUCKET}/{RUN_PREFIX}"
    env = _env(world, SPARK_MASTER=world.cluster.url, WORK=work, S3_ENDPOINT=world.s3.endpoint,
               INPUT=",".join(str(p) for p in warcs))
    proc = _submit(block, env, world, "readme")
    assert proc.returncode == 0, \
        f"{block}\nexit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"

    # The driver ran against the standalone master (Spark's log), shipped the code (ours) and the
    # worker ran an executor for it.
    log = proc.stdout + proc.stderr
    assert f"Connecting to master {world.cluster.url}" in log
    assert "mathmine_pipeline.zip to the executors" in log
    assert list((world.cluster.dir / "work").glob("app-*/*/stderr")), "no executor ran on the worker"

    pages = f"{RUN_PREFIX}/pages"
    stats_key = f"{pages}/{STATS_FILE}"
    assert stats_key in _keys(world, pages + "/")
    stats = json.loads(world.s3.client.get_object(Bucket=BUCKET, Key=stats_key)["Body"].read())
    assert stats["files_failed"] == {}, stats["per_file"]
    assert stats["files_done"] == stats["files"] > 0
    if " ingest " in block:
        assert stats["files"] == len(warcs)
    else:
        assert _keys(world, f"{RUN_PREFIX}/state.json") == [f"{RUN_PREFIX}/state.json"]
    assert stats["pages_kept"] > 0 and stats["invariant_holds"]

    parts = [k for k in _keys(world, pages + "/") if k.endswith(".parquet") and "/_" not in k[len(pages):]]
    assert len(parts) == stats["files"], parts
    table = pq.read_table(f"{BUCKET}/{pages}", filesystem=_arrow_s3(world.s3))
    assert table.num_rows == stats["pages_kept"]
    assert {"id", "url", "text", "warc_path"} <= set(table.schema.names)


def _arrow_s3(s3: S3Server):
    from pyarrow import fs

    return fs.S3FileSystem(access_key=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                           secret_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                           region=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
                           endpoint_override=s3.endpoint, scheme="http")


# Submitted as a file, like jobs/cli.py: builds the session the jobs build, from a config whose
# spark.* say otherwise than the spark-submit line, and prints what the context got.
MASTER_CHECK = '''\
import json

from pipeline.config import load_settings
from pipeline.spark import SessionFactory, where_tasks_import

settings = load_settings(None, ["spark.master=local[1]", "spark.shuffle_partitions=3",
                                'spark.conf={"spark.executor.memory": "2g", "spark.task.maxFailures": "7"}'])
factory = SessionFactory(settings)
session = factory.get()
sc = session.sparkContext
conf = sc.getConf()
print(json.dumps({
    "settings_master": settings.spark.master,
    "master": sc.master,
    "executor_memory": conf.get("spark.executor.memory"),
    "max_failures": conf.get("spark.task.maxFailures"),
    "shuffle_partitions": session.conf.get("spark.sql.shuffle.partitions"),
    "sum": sc.parallelize(range(100), 2).sum(),
    "pipeline_from": where_tasks_import(session, "pipeline"),
}))
factory.stop()
'''


def test_spark_submit_options_win_over_the_config(world: World) -> None:
    script = world.tmp / "master_check.py"
    script.write_text(MASTER_CHECK)
    # SPARK_MASTER and the config both say local: spark-submit's --master must win over both.
    env = _env(world, SPARK_MASTER="local[2]")
    command = ["spark-submit", "--master", world.cluster.url, "--conf", "spark.executor.memory=1g",
               str(script)]
    proc = _submit(command, env, world, "master_check")
    assert proc.returncode == 0, f"{shlex.join(command)}\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["settings_master"] == "local[2]"  # what the config alone would have used
    assert got["master"] == world.cluster.url
    assert got["executor_memory"] == "1g"  # --conf beat spark.conf
    assert got["max_failures"] == "7"  # a key spark-submit left unset comes from the config
    assert got["shuffle_partitions"] == "3"
    assert got["sum"] == sum(range(100))
    assert got["pipeline_from"] and all("mathmine_pipeline.zip" in f for f in got["pipeline_from"]), got
