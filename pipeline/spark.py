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
import threading
import time
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


def under_spark_submit() -> bool:
    """True in a driver launched by spark-submit (its JVM is already up and holds the options)."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT"))


class SessionFactory:
    """Builds the one SparkSession a job uses, from `settings.spark`.

    Under spark-submit, options given on its command line (`--master`, `--conf`) win: a config
    key is only applied where spark-submit left that key unset.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: Any = None
        self._progress: StageProgress | None = None

    def get(self) -> Any:
        if self._session is not None and self._session.sparkContext._jsc is not None:
            return self._session  # still running (another factory may have stopped a shared one)
        from pyspark import SparkConf
        from pyspark.sql import SparkSession

        spark_settings = self.settings.spark
        submitted = under_spark_submit()
        if submitted:
            from pyspark import SparkContext

            SparkContext._ensure_initialized()  # joins spark-submit's JVM, so SparkConf() sees its options
        given = SparkConf()  # under spark-submit: what its command line set; else empty
        master = given.get("spark.master", None) if submitted else None
        master = master or spark_settings.master
        python = spark_settings.python or sys.executable
        # Workers must run the same interpreter (and so the same packages) as the driver.
        if spark_settings.python:
            os.environ["PYSPARK_PYTHON"] = python  # pyspark reads it when the context starts
        else:
            os.environ.setdefault("PYSPARK_PYTHON", python)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        wanted: dict[str, str] = {
            "spark.master": master,
            "spark.app.name": spark_settings.app_name,
            "spark.driver.memory": spark_settings.driver_memory,
            "spark.sql.shuffle.partitions": str(spark_settings.shuffle_partitions),
            "spark.pyspark.python": python,
            "spark.python.worker.reuse": "true",
            # Progress is ours (StageProgress): Spark's bar redraws one terminal line with \r,
            # which a log file or CI console shows as one line at the end.
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            # Tokenizers' Rust pool takes every core of the machine per call; Spark already runs
            # one task per core, so each task encodes on one thread.
            "spark.executorEnv.TOKENIZERS_PARALLELISM": "false",
        }
        if is_local(master):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            wanted.update({
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.ui.enabled": "false",
            })
        wanted.update({str(k): str(v) for k, v in spark_settings.conf.items()})
        builder = SparkSession.builder
        for key, value in wanted.items():
            if submitted and given.contains(key):
                continue  # spark-submit's --master / --conf win over the config
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel(spark_settings.log_level)
        if spark_settings.ship_package and not is_local(session.sparkContext.master):
            shipped = package_zip()
            session.sparkContext.addPyFile(shipped)
            log.info("shipped %s to the executors", shipped)
        self._session = session
        self._progress = StageProgress(session.sparkContext, spark_settings.progress_every_s)
        self._progress.start()
        return session

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._session is not None:
            self._session.stop()
            self._session = None


class StageProgress(threading.Thread):
    """Prints the running Spark stages (tasks done / total) on the driver's stderr every few
    seconds, and drains per-task lines (`report`) handed back by `run_per_item`."""

    def __init__(self, sc: Any, every_s: float) -> None:
        super().__init__(name="mathmine-progress", daemon=True)
        self.sc, self.every_s = sc, every_s
        self._stop_event = threading.Event()

    def line(self) -> str | None:
        tracker = self.sc.statusTracker()
        parts = []
        for stage_id in sorted(tracker.getActiveStageIds()):
            info = tracker.getStageInfo(stage_id)
            if info is None:
                continue
            name = (info.name or "").split(" at ")[0]
            # Spark's internal names ($anonfun...) say nothing
            named = f" ({name})" if name and not name.startswith("$") else ""
            parts.append(f"stage {stage_id}{named}: {info.numCompletedTasks}/{info.numTasks} tasks"
                         f"{f', {info.numActiveTasks} running' if info.numActiveTasks else ''}")
        if not parts:
            # no Spark stage: the driver itself works (fastText training, a report): say so
            return f"{ACTIVITY['now']}: working on the driver" if ACTIVITY["now"] else None
        return (f"{ACTIVITY['now']}: " if ACTIVITY["now"] else "") + "; ".join(parts)

    def run(self) -> None:
        if self.every_s <= 0:
            return
        while not self._stop_event.wait(self.every_s):
            try:
                text = self.line()
            except Exception:  # the context is stopping under us
                return
            if text:
                progress(f"spark: {text}")

    def stop(self) -> None:
        self._stop_event.set()


# What the driver is doing now (the step runner sets it), shown with the stage lines.
ACTIVITY: dict[str, str] = {"now": ""}


def progress(line: str) -> None:
    """One progress line on the driver's console (stderr, flushed: a pipe or a log file shows it)."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


FAULT_ENV = "MATHMINE_FAULT"


def fault_point(where: str) -> None:
    """The fault-injection hook the reliability tests use: with MATHMINE_FAULT=`<where>:<partition>`
    in the environment, the first attempt of that task kills its Python worker here, after the
    task did its work and before it reports back; Spark then retries it (a master of
    `local[N,F]` or a cluster allows F attempts). Unset, this is one dictionary lookup."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None or context.attemptNumber() != 0:
        return
    if wanted == f"{where}:{context.partitionId()}":
        sys.stderr.write(f"mathmine fault hook: killing the first attempt of task {wanted}\n")
        sys.stderr.flush()
        os._exit(3)


def _with_fault_point(where: str, func: Callable[[T], R]) -> Callable[[T], R]:
    def run(item: T) -> R:
        result = func(item)
        fault_point(where)
        return result

    return run


def run_per_item(session: Any, items: Sequence[T], func: Callable[[T], R],
                 describe: Callable[[R, int, int], str] | None = None) -> list[R]:
    """Run `func` on every item, one Spark task per item; results come back in item order.

    With `describe`, each result is handed to the driver as its task finishes (partitions are
    fetched as they complete, not at the end) and `describe(result, done, total)` is printed."""
    if not items:
        return []
    sc = session.sparkContext
    indexed = list(enumerate(items))
    task = _with_fault_point("per_item", func)
    rdd = sc.parallelize(indexed, numSlices=len(indexed)).map(lambda pair: (pair[0], task(pair[1])))
    results = rdd.collect() if describe is None else _collect_reporting(sc, rdd, len(indexed), describe)
    return [result for _, result in sorted(results, key=lambda pair: pair[0])]


def _collect_reporting(sc: Any, rdd: Any, total: int, describe: Callable[[Any, int, int], str]) -> list[Any]:
    """collect() that prints a line per finished partition: a Python accumulator carries each
    task's result to the driver when the task ends; this thread prints them while collect runs."""
    from pyspark.accumulators import AccumulatorParam

    class Lines(AccumulatorParam):
        def zero(self, value: list) -> list:
            return []

        def addInPlace(self, a: list, b: list) -> list:
            a.extend(b)
            return a

    finished = sc.accumulator([], Lines())

    def tell(pairs: Any) -> Any:
        out = list(pairs)
        finished.add([pair for pair in out])
        return out

    shown = 0
    results: list[Any] = []
    done = threading.Event()
    failure: list[BaseException] = []

    def collect() -> None:
        try:
            results.extend(rdd.mapPartitions(tell).collect())
        except BaseException as exc:  # re-raised on the calling thread
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=collect, name="mathmine-collect", daemon=True)
    worker.start()
    while True:
        ended = done.wait(0.5)
        current = list(finished.value)
        for _index, result in current[shown:]:
            shown += 1
            progress(describe(result, shown, total))
        if ended:
            break
    worker.join()
    if failure:
        raise failure[0]
    return results


def where_tasks_import(session: Any, module: str = "pipeline") -> list[str]:
    """The file each executor imports `module` from (tests use it to see the shipped zip)."""
    sc = session.sparkContext

    def locate(_: Any) -> str:
        import importlib

        return str(importlib.import_module(module).__file__)

    return sorted(set(sc.parallelize(range(2), 2).map(locate).collect()))


def read_table(session: Any, store: Any, folder: str) -> Any:
    """The Parquet table in `folder` as a DataFrame, on any store `pipeline.fs.Store` serves.

    A local folder is read by Spark's own reader. On an object store (no Hadoop connector needed)
    the files the completion marker lists are read by Python tasks with pyarrow, one task per
    file, under the schema of the first file: the same rows either way.
    """
    from pipeline import fs

    if not fs.is_remote(folder):
        return session.read.parquet(fs.local_path(folder))
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    files = store.files(folder, ".parquet")
    if not files:
        raise FileNotFoundError(f"{folder}: no Parquet file in this folder")
    arrow_schema = pq.read_schema(_arrow_buffer(store.read_bytes(files[0])))
    schema = from_arrow_schema(arrow_schema)
    names = arrow_schema.names

    def rows(path: str) -> Any:
        table = pq.read_table(_arrow_buffer(store.read_bytes(path)))
        for row in table.to_pylist():
            yield tuple(row.get(name) for name in names)

    rdd = session.sparkContext.parallelize(files, len(files)).flatMap(rows)
    return session.createDataFrame(rdd, schema)


def _arrow_buffer(data: bytes) -> Any:
    import pyarrow as pa

    return pa.BufferReader(data)


def parquet_bytes(table: Any, **options: Any) -> bytes:
    """A pyarrow table as the bytes of one zstd Parquet file (to hand to `Store.write_bytes`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **{"compression": "zstd", **options})
    return sink.getvalue().to_pybytes()


def write_sorted_parquet(df: Any, store: Any, out_dir: str, parts: int, key: str, schema: Any = None) -> str:
    """Write `df` as `parts` Parquet files sorted by `key`, named part-00000.parquet ..., into a
    temporary folder beside `out_dir` through `store`; return that folder (publish it with
    `store.publish_dir`).

    Hash partitioning on `key` and a sort inside each partition make the files' contents and
    names a function of the rows alone: the same rows give the same bytes on any cluster shape
    and on any store. `schema`: the Spark schema of the files (a StructType; the columns are cast to
    it, nullability included), by default `df`'s own.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    ordered = df.repartition(parts, key).sortWithinPartitions(key)
    tmp = store.temp_folder(out_dir)
    # TIMESTAMP columns as UTC instants (timestamp[us, tz=UTC], as the pages table stores fetch_time):
    # Arrow batches carry the instant, so no zone of the machine leaks in
    schema = to_arrow_schema(schema if schema is not None else df.schema, timezone="UTC")
    counted = pa.schema([("rows", pa.int64())])

    def write(batches: Any) -> Any:
        from pyspark import TaskContext

        # Arrow batches straight from the JVM, no Python row objects. Cast to the one schema every
        # part gets (Spark's batches can differ in nullability), and one chunk per column so the
        # row groups depend on the rows alone.
        index = TaskContext.get().partitionId()
        collected = list(batches)
        table = (pa.Table.from_batches(collected).cast(schema).combine_chunks() if collected
                 else schema.empty_table())
        store.write_bytes(f"{tmp}/part-{index:05d}.parquet", parquet_bytes(table))
        fault_point("table")
        yield pa.RecordBatch.from_pydict({"rows": [table.num_rows]}, schema=counted)

    written = ordered.mapInArrow(write, from_arrow_schema(counted)).collect()
    if not store.listing(tmp):
        # An empty DataFrame can have no partitions at all (adaptive execution drops them): the
        # table still gets its one part, holding the schema, so readers find a table.
        store.write_bytes(f"{tmp}/part-00000.parquet", parquet_bytes(schema.empty_table()))
    log.info("wrote %d rows in %d parts to %s", sum(r["rows"] for r in written), parts, tmp)
    return tmp


def ship_as(session: Any, path: str, name: str) -> str:
    """Ship a local file or folder to the executors; returns the name to hand to SparkFiles.get.
    Spark keys shipped files by base name and refuses a different file under a name it has seen,
    so callers pass a name unique to the content (a second model.bin, a retrained tokenizer). A
    folder travels as a zip archive (addArchive; executors get it unpacked under `<name>.zip`),
    since addFile refuses local folders on a cluster. Files are hard-linked when possible."""
    staging_dir = tempfile.mkdtemp(prefix="mathmine-ship-")
    if os.path.isdir(path):
        archive = shutil.make_archive(os.path.join(staging_dir, name), "zip", root_dir=path)
        session.sparkContext.addArchive(archive)
        return os.path.basename(archive)
    staging = os.path.join(staging_dir, name)
    try:
        os.link(path, staging)
    except OSError:
        shutil.copyfile(path, staging)
    session.sparkContext.addFile(staging)
    return name


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


def write_table(df: Any, store: Any, out_dir: str, parts: int, key: str, schema: Any = None) -> None:
    """`write_sorted_parquet` then publish: `out_dir` is replaced whole, with its completion marker."""
    store.publish_dir(write_sorted_parquet(df, store, out_dir, parts, key, schema), out_dir)
