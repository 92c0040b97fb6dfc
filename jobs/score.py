"""Spark driver: score every kept (deduplicated) page with a fastText model -> `scores` sidecar.

The model file is shipped to the executors once (`addFile`); each Python worker loads it once
(`pipeline.classify.load_model` caches by path) and scores whole Arrow batches with one
`predict` call. Output: `id`, `score` (P(math)), hash-partitioned and sorted by id.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from typing import Any

from jobs.common import write_stats
from pipeline import fs
from pipeline.classify import load_model, score_texts
from pipeline.config import Settings
from pipeline.spark import SessionFactory, read_table, ship_as, write_table

log = logging.getLogger(__name__)


_shipped = itertools.count()


def _ship(session: Any, store: fs.Store, model_path: str) -> str:
    """The model (local or on an object store) shipped under a name no earlier model of this
    process used (Spark refuses a second file under one name)."""
    with store.local_copy(model_path) as local:
        return ship_as(session, local, f"model-{os.getpid()}-{next(_shipped):04d}-{os.path.basename(local)}")


def run(pages_dir: str, dedup_dir: str, model_path: str, out_dir: str, settings: Settings,
        factory: SessionFactory | None = None, output_parts: int = 4) -> dict[str, Any]:
    from pyspark import SparkFiles
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    start = time.monotonic()
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    session = factory.get()
    try:
        store = fs.Store(settings.storage)
        model_name = _ship(session, store, model_path)
        kept = read_table(session, store, dedup_dir).filter(F.col("keep")).select("id")
        pages = read_table(session, store, pages_dir).select("id", "text").join(kept, "id")
        schema = T.StructType([T.StructField("id", T.StringType()), T.StructField("score", T.FloatType())])

        def score(batches: Any) -> Any:
            import pandas as pd

            model = load_model(SparkFiles.get(model_name))
            for batch in batches:
                yield pd.DataFrame({"id": batch["id"],
                                    "score": score_texts(model, batch["text"].fillna("").tolist())})

        scores = pages.mapInPandas(score, schema).localCheckpoint()
        summary = scores.agg(F.count("*").alias("pages"), F.avg("score").alias("mean"),
                             F.sum((F.col("score") >= 0.5).cast("int")).alias("above_half")).collect()[0]
        write_table(scores, store, out_dir, output_parts, "id")
    finally:
        if own_factory:
            factory.stop()
    stats = {
        "stage": "score",
        "pages_scored": int(summary["pages"]),
        "mean_score": round(float(summary["mean"] or 0.0), 6),
        "pages_scoring_0.5_or_more": int(summary["above_half"] or 0),
        "model": os.path.basename(model_path),
        "seconds": round(time.monotonic() - start, 2),
    }
    write_stats(out_dir, stats, settings)
    return stats
