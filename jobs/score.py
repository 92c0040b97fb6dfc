"""Spark driver: score every kept (deduplicated) page with a fastText model -> `scores` sidecar.

The model file is shipped to the executors once (`addFile`); each Python worker loads it once
(`pipeline.classify.load_model` caches by path) and scores whole Arrow batches with one
`predict` call. Output: `id`, `score` (P(math)), hash-partitioned and sorted by id.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any

from jobs.common import write_stats
from pipeline.classify import load_model, score_texts
from pipeline.config import Settings
from pipeline.spark import SessionFactory, publish_dir, ship_as, write_sorted_parquet

log = logging.getLogger(__name__)


def _ship(session: Any, model_path: str) -> str:
    """The model under a name unique to its path and version (a second model.bin in one session)."""
    info = os.stat(model_path)
    identity = f"{os.path.abspath(model_path)}:{info.st_size}:{info.st_mtime_ns}"
    digest = hashlib.sha1(identity.encode()).hexdigest()
    return ship_as(session, model_path, f"{digest[:16]}-{os.path.basename(model_path)}")


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
        model_name = _ship(session, model_path)
        kept = session.read.parquet(dedup_dir).filter(F.col("keep")).select("id")
        pages = session.read.parquet(pages_dir).select("id", "text").join(kept, "id")
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
        tmp = write_sorted_parquet(scores, out_dir, output_parts, "id")
        publish_dir(tmp, out_dir)
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
