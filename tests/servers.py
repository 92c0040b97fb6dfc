"""Real servers on loopback for the tests: a standalone Spark cluster and moto's S3 server.

Plain context managers (the test modules wrap them in their own fixtures):

    with standalone_cluster(tmp_dir) as cluster:   # cluster.url == "spark://127.0.0.1:PORT"
        ...
    with moto_s3() as s3:                          # s3.endpoint == "http://127.0.0.1:PORT", s3.client
        ...
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15

# The dummy credentials moto accepts; never real ones, and never an instance metadata service.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# Run on the executors' Python workers (and the extraction child they start, which inherits their
# sys.path as PYTHONPATH): drops setuptools' editable-install finder for this project. With it,
# executors on this machine could import `pipeline` / `jobs` straight from the source tree, so a
# missing or broken zip would go unnoticed (before the zip carried `jobs`, executors silently took
# `jobs` from the source tree while taking `pipeline` from the zip). Without it the only copy of
# the project the executors can see is the shipped zip, as on a real cluster, and a green run
# proves it ships. Written as sitecustomize.py into a folder put on the workers' PYTHONPATH
# (`hide_editable_dir`).
HIDE_EDITABLE = '''\
import sys

def _editable(obj):
    return getattr(obj, "__module__", "").startswith("__editable__")

sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not _editable(h)]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
'''


def hide_editable_dir(parent: Path) -> Path:
    """A folder holding HIDE_EDITABLE as sitecustomize.py: put it on the executors' PYTHONPATH."""
    hide = parent / "hide_editable"
    hide.mkdir(exist_ok=True)
    (hide / "sitecustomize.py").write_text(HIDE_EDITABLE)
    return hide


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spark_home() -> Path:
    """The pyspark package folder: it holds bin/spark-class, bin/spark-submit and the jars."""
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


def logs_of(paths: list[Path]) -> str:
    return "\n".join(f"----- {p} -----\n{p.read_text(errors='replace')[-8000:]}" for p in paths if p.exists())


@dataclass
class Cluster:
    url: str
    dir: Path

    def logs(self) -> str:
        """The master's and worker's logs and the executors' stderr."""
        return logs_of([self.dir / "master.log", self.dir / "worker.log",
                        *sorted((self.dir / "work").rglob("stderr"))])


@contextmanager
def standalone_cluster(tmp: Path, cores: int = 2, memory: str = "2g",
                       env: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """spark://127.0.0.1:PORT of a standalone master with one worker, both stopped on exit.

    `env` is added to the daemons' environment; executors (and their Python workers) inherit the
    worker's, as on a cluster whose nodes hold credentials. Skips the test where this pyspark
    install has no bin/spark-class."""
    home = spark_home()
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists():
        pytest.skip(f"{spark_class} missing: this pyspark install cannot start a standalone cluster")
    tmp.mkdir(parents=True, exist_ok=True)
    port, master_ui, worker_ui = free_port(), free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    props = tmp / "spark-daemons.properties"
    # No REST submission server: it would take the fixed port 6066.
    props.write_text("spark.master.rest.enabled false\n")
    daemon_env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", **(env or {})}
    daemon_env.pop("SPARK_MASTER", None)
    commands = {
        "master": [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                   "--port", str(port), "--webui-port", str(master_ui), "--properties-file", str(props)],
        "worker": [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                   "--cores", str(cores), "--memory", memory, "--webui-port", str(worker_ui),
                   "--work-dir", str(tmp / "work"), "--properties-file", str(props), url],
    }
    logs = {name: tmp / f"{name}.log" for name in commands}
    procs: list[subprocess.Popen] = []
    try:
        for name, cmd in commands.items():
            with open(logs[name], "wb") as log_file:
                procs.append(subprocess.Popen(cmd, env=daemon_env, stdout=log_file, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL))
            if name == "master":
                wait_for(logs["master"], "New state: ALIVE", procs, logs)
        wait_for(logs["worker"], "Successfully registered with master", procs, logs)
        wait_for(logs["master"], "Registering worker", procs, logs)
        yield Cluster(url, tmp)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def wait_for(log: Path, marker: str, procs: list[subprocess.Popen], logs: dict[str, Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if log.exists() and marker in log.read_text(errors="replace"):
            return
        dead = [p.args[1] for p in procs if p.poll() is not None]
        if dead:
            pytest.fail(f"{', '.join(dead)} exited while starting\n{logs_of(list(logs.values()))}")
        time.sleep(0.25)
    pytest.fail(f"no {marker!r} in {log.name} after {START_TIMEOUT_S}s\n{logs_of(list(logs.values()))}")


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1, and a boto3 client of it (signed with S3_CREDENTIALS)."""

    endpoint: str
    port: int
    client: Any
    _server: Any

    @classmethod
    def start(cls) -> S3Server:
        boto3 = pytest.importorskip("boto3")
        moto_server = pytest.importorskip("moto.server")
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            assert host == "127.0.0.1"
            endpoint = f"http://127.0.0.1:{port}"
            client = boto3.client("s3", endpoint_url=endpoint,
                                  region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
                                  aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        except BaseException:
            server.stop()
            raise
        return cls(endpoint, port, client, server)

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """A moto S3 server on a free loopback port, stopped on exit. moto keeps its buckets in process
    memory, shared by every server of the process: give each test module its own bucket names."""
    server = S3Server.start()
    try:
        yield server
    finally:
        server.stop()
