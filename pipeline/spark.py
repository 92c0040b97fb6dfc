"""SparkSession factory and the Spark glue: the only module that imports pyspark.

Jobs stay thin: they hand plain functions from `pipeline` to the helpers here. Local mode binds
to 127.0.0.1 and runs Python workers with the interpreter running the driver; on a cluster
(`spark.master` in config or SPARK_MASTER) the `pipeline` and `jobs` packages are zipped and shipped
to the executors with addPyFile, so the same job runs under `spark-submit` unchanged.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipeline.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

PACKAGE_DIR = Path(__file__).resolve().parent
# Both ship: the task functions the jobs hand to Spark (e.g. jobs.ingest._ingest_task) are
# pickled by reference, so executors must import `jobs` as well as `pipeline`.
SHIPPED_PACKAGES = ("pipeline", "jobs")


def is_local(master: str) -> bool:
    return master.startswith("local")


def package_zip(dest_dir: str | None = None) -> str:
    """Zip `pipeline` and `jobs` (sources only, fixed timestamps) for shipping to executors."""
    root = PACKAGE_DIR.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for name in SHIPPED_PACKAGES for p in (root / name).rglob("*.py")):
            arcname = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    dest = Path(dest_dir or tempfile.mkdtemp(prefix="mathmine-pkg-")) / "mathmine_pipeline.zip"
    dest.write_bytes(buffer.getvalue())
    return str(dest)


class SessionFactory:
    """Builds the one SparkSession a job uses, from `settings.spark`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: Any = None

    def get(self) -> Any:
        if self._session is not None and self._session.sparkContext._jsc is not None:
            return self._session  # still running (another factory may have stopped a shared one)
        from pyspark.sql import SparkSession

        spark_settings = self.settings.spark
        master = spark_settings.master
        python = spark_settings.python or sys.executable
        # Workers must run the same interpreter (and so the same packages) as the driver.
        if spark_settings.python:
            os.environ["PYSPARK_PYTHON"] = python  # pyspark reads it when the context starts
        else:
            os.environ.setdefault("PYSPARK_PYTHON", python)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            SparkSession.builder.master(master)
            .appName(spark_settings.app_name)
            .config("spark.driver.memory", spark_settings.driver_memory)
            .config("spark.sql.shuffle.partitions", str(spark_settings.shuffle_partitions))
            .config("spark.pyspark.python", python)
            .config("spark.python.worker.reuse", "true")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # Tokenizers' Rust pool takes every core of the machine per call; Spark already runs
            # one task per core, so each task encodes on one thread.
            .config("spark.executorEnv.TOKENIZERS_PARALLELISM", "false")
        )
        if is_local(master):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = (
                builder.config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
            )
        for key, value in spark_settings.conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel(spark_settings.log_level)
        if spark_settings.ship_package and not is_local(master):
            shipped = package_zip()
            session.sparkContext.addPyFile(shipped)
            log.info("shipped %s to the executors", shipped)
        self._session = session
        return session

    def stop(self) -> None:
        if self._session is not None:
            self._session.stop()
            self._session = None


def run_per_item(session: Any, items: Sequence[T], func: Callable[[T], R]) -> list[R]:
    """Run `func` on every item, one Spark task per item; results come back in item order."""
    if not items:
        return []
    sc = session.sparkContext
    indexed = list(enumerate(items))
    rdd = sc.parallelize(indexed, numSlices=len(indexed))
    results = rdd.map(lambda pair: (pair[0], func(pair[1]))).collect()
    return [result for _, result in sorted(results, key=lambda pair: pair[0])]


def where_tasks_import(session: Any, module: str = "pipeline") -> list[str]:
    """The file each executor imports `module` from (tests use it to see the shipped zip)."""
    sc = session.sparkContext

    def locate(_: Any) -> str:
        import importlib

        return str(importlib.import_module(module).__file__)

    return sorted(set(sc.parallelize(range(2), 2).map(locate).collect()))


def write_sorted_parquet(df: Any, out_dir: str, parts: int, key: str) -> str:
    """Write `df` as `parts` Parquet files sorted by `key`, named part-00000.parquet ..., into a
    temporary folder beside `out_dir`; return that folder (publish it with `publish_dir`).

    Hash partitioning on `key` and a sort inside each partition make the files' contents and
    names a function of the rows alone: the same rows give the same bytes on any cluster shape.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import to_arrow_schema

    ordered = df.repartition(parts, key).sortWithinPartitions(key)
    if "://" in out_dir and not out_dir.startswith("file://"):
        # A cluster URI (s3a://, hdfs://): Spark's own writer, same rows and order, but its file
        # names carry a random job id, so only the contents are reproducible there.
        ordered.write.mode("overwrite").parquet(out_dir)
        return out_dir
    out_dir = out_dir.removeprefix("file://")
    tmp = out_dir.rstrip("/") + ".inflight"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    schema = to_arrow_schema(df.schema)
    names = schema.names

    def write(index: int, rows: Any) -> Any:
        columns: dict[str, list] = {name: [] for name in names}
        count = 0
        for row in rows:
            for name in names:
                columns[name].append(row[name])
            count += 1
        table = pa.Table.from_pydict(columns, schema=schema)
        pq.write_table(table, os.path.join(tmp, f"part-{index:05d}.parquet"), compression="zstd")
        yield count

    written = sum(ordered.rdd.mapPartitionsWithIndex(write).collect())
    log.info("wrote %d rows in %d parts to %s", written, parts, tmp)
    return tmp


def ship_as(session: Any, path: str, name: str) -> str:
    """addFile a local file or folder under `name` (for SparkFiles.get). Spark keys shipped files by
    base name and refuses a different file under a name it has seen, so callers pass a name unique
    to the content (a second model.bin, a retrained tokenizer). Files are hard-linked when possible."""
    staging = os.path.join(tempfile.mkdtemp(prefix="mathmine-ship-"), name)
    if os.path.isdir(path):
        shutil.copytree(path, staging)
    else:
        try:
            os.link(path, staging)
        except OSError:
            shutil.copyfile(path, staging)
    session.sparkContext.addFile(staging, recursive=os.path.isdir(path))
    return name


def publish_dir(tmp: str, out_dir: str) -> None:
    """Swap a finished temporary folder into place (a rerun replaces an older output whole)."""
    if tmp == out_dir:
        return
    out_dir = out_dir.removeprefix("file://")
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def seeded_sample(df: Any, wanted: int, seed: int, key: str = "id") -> Any:
    """`pipeline.loop.sample_ids` on a DataFrame: the `wanted` rows first in
    `(sample_key(seed, key), key)` order, the same rows on any partitioning."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from pipeline.loop import sample_key

    key_of = F.udf(lambda value: sample_key(seed, value), T.LongType())
    keyed = df.withColumn("_sample_key", key_of(F.col(key)))
    return keyed.orderBy("_sample_key", key).limit(max(0, wanted)).drop("_sample_key")


def ranked_with_totals(df: Any, session: Any) -> Any:
    """`pipeline.loop.number_ranked` over a whole DataFrame of (id, score, tokens): the global
    order `rank_order` (score desc, id asc) numbered with running token totals, computed per range
    partition plus partition offsets (`partition_offsets`), so no window pulls the crawl into one
    partition. Columns: id, score, tokens, rank, tokens_before."""
    from pyspark.sql import types as T

    from pipeline.loop import number_ranked, partition_offsets

    ordered = (df.select("id", "score", "tokens").orderBy(df["score"].desc_nulls_last(), df["id"])
               .localCheckpoint())

    def totals(index: int, rows: Any) -> Any:
        pages = tokens = 0
        for row in rows:
            pages += 1
            tokens += row["tokens"]
        yield index, (pages, tokens)

    offsets = partition_offsets(dict(ordered.rdd.mapPartitionsWithIndex(totals).collect()))

    def number(index: int, rows: Any) -> Any:
        before = offsets.get(index, (0, 0))
        return number_ranked(((r["id"], r["score"], r["tokens"]) for r in rows), *before)

    schema = T.StructType([
        T.StructField("id", T.StringType()), T.StructField("score", T.FloatType()),
        T.StructField("tokens", T.LongType()), T.StructField("rank", T.LongType()),
        T.StructField("tokens_before", T.LongType()),
    ])
    return session.createDataFrame(ordered.rdd.mapPartitionsWithIndex(number), schema)
