"""Spark driver: corpus -> tokenized Parquet shards plus manifest.json (DESIGN.md section 4).

The tokenizer is a Hugging Face tokenizer folder (`tokenize.tokenizer`), or, when none is set, a
byte-level BPE trained on a seeded sample of the corpus and saved beside the shards. Workers load
it once (the folder is shipped with `addFile`), encode whole Arrow batches with the fast backend
and append EOS. Documents are ordered by `doc_id`, or by a seeded hash when `tokenize.shuffle` is
on; a document goes to the window of `tokenize.shard_tokens` tokens its first token falls in
(empty windows skipped), so shards hold about `shard_tokens` tokens, never split a document, and
their contents and names depend on the documents alone. Each shard is written by one task; the
manifest lists rows, tokens and sha256.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

from jobs.common import write_stats
from pipeline.config import ConfigError, Settings
from pipeline.spark import SessionFactory, ship_as
from pipeline.tokenize import (
    TokenizerInfo,
    encode_batch,
    load_tokenizer,
    shard_name,
    train_bpe,
    write_manifest,
    write_shard,
)

log = logging.getLogger(__name__)


def prepare_tokenizer(session: Any, corpus: Any, out_dir: str, settings: Settings) -> TokenizerInfo:
    """The configured tokenizer, or a byte-level BPE trained on a seeded sample of the corpus."""
    from pyspark.sql import functions as F

    t = settings.tokenize
    if t.tokenizer:
        if not os.path.isdir(t.tokenizer):
            raise ConfigError(
                f"tokenize.tokenizer: {t.tokenizer} is not a folder (a Hugging Face tokenizer "
                "folder with tokenizer.json; the model hub is never contacted)"
            )
        return load_tokenizer(t.tokenizer)[1]
    sample = (
        corpus.select("doc_id", "text")
        .withColumn("_key", F.xxhash64(F.lit(t.seed), "doc_id"))
        .orderBy("_key", "doc_id")
        .limit(t.train_docs)
    )
    texts = [r["text"] for r in sample.toLocalIterator()]
    if not texts:
        raise ConfigError("tokenize: the corpus is empty, there is nothing to train a tokenizer on")
    return train_bpe(texts, out_dir, vocab_size=t.vocab_size)


def run(
    corpus_dir: str,
    out_dir: str,
    settings: Settings,
    tokenizer_dir: str | None = None,
    factory: SessionFactory | None = None,
) -> dict[str, Any]:
    from pyspark import SparkFiles
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    start = time.monotonic()
    t = settings.tokenize
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    session = factory.get()
    try:
        corpus = session.read.parquet(corpus_dir)
        if "id" not in corpus.columns or "text" not in corpus.columns:
            raise ConfigError(f"{corpus_dir}: a corpus needs `id` and `text` columns")
        source = F.col("selected_by") if "selected_by" in corpus.columns else F.lit("corpus")
        corpus = corpus.select(
            F.col("id").alias("doc_id"),
            F.coalesce("text", F.lit("")).alias("text"),
            source.cast("string").alias("source"),
        )
        info = prepare_tokenizer(
            session, corpus, tokenizer_dir or os.path.join(out_dir + ".tokenizer"), settings
        )
        shipped = ship_as(session, info.path, f"tokenizer-{info.sha256[:16]}")
        eos = info.eos_id

        def encode(batches: Any) -> Any:
            import pandas as pd

            tok, _ = load_tokenizer(SparkFiles.get(shipped))
            for batch in batches:
                ids = encode_batch(tok, batch["text"].tolist(), eos)
                yield pd.DataFrame(
                    {
                        "doc_id": batch["doc_id"],
                        "source": batch["source"],
                        "input_ids": ids,
                        "num_tokens": [len(a) for a in ids],
                    }
                )

        schema = T.StructType(
            [
                T.StructField("doc_id", T.StringType()),
                T.StructField("source", T.StringType()),
                T.StructField("input_ids", T.ArrayType(T.IntegerType())),
                T.StructField("num_tokens", T.IntegerType()),
            ]
        )
        encoded = corpus.mapInPandas(encode, schema)
        key = F.xxhash64(F.lit(t.seed), "doc_id") if t.shuffle else F.lit(0)
        ordered = encoded.withColumn("_key", key).orderBy("_key", "doc_id").localCheckpoint()

        # Running token totals: per range partition, then partition offsets.
        totals = dict(
            ordered.select("num_tokens")
            .rdd.mapPartitionsWithIndex(lambda i, rows: [(i, sum(r[0] for r in rows))])
            .collect()
        )
        offsets, running = {}, 0
        for index in sorted(totals):
            offsets[index] = running
            running += totals[index]
        target = max(1, t.shard_tokens)

        def window(index: int, rows: Any) -> Any:
            before = offsets[index]
            for row in rows:
                yield before // target, row
                before += row["num_tokens"]

        # A document belongs to the window of `shard_tokens` its first token falls in; windows that
        # no document starts in (after a document longer than the target) are skipped, so the
        # shards are numbered 0..count-1 without gaps.
        windows = ordered.rdd.mapPartitionsWithIndex(window).map(lambda pair: pair[0])
        used = sorted(windows.distinct().collect())
        number = {w: i for i, w in enumerate(used)}
        count = max(1, len(used))

        def assign(index: int, rows: Any) -> Any:
            for w, row in window(index, rows):
                yield ((number[w], row["_key"], row["doc_id"]), (row["source"], row["input_ids"]))

        tmp = out_dir.rstrip("/") + ".inflight"
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)

        def write(index: int, rows: Any) -> Any:
            import numpy as np

            doc_ids, ids, sources = [], [], []
            for (_, _, doc_id), (src, input_ids) in rows:
                doc_ids.append(doc_id)
                sources.append(src)
                ids.append(np.asarray(input_ids, dtype=np.int32))
            # the driver's info: a worker's copy of the folder has another name
            yield write_shard(os.path.join(tmp, shard_name(index, count)), doc_ids, ids, sources, info,
                              row_group_rows=t.row_group_rows)

        shards = (
            ordered.rdd.mapPartitionsWithIndex(assign)
            .repartitionAndSortWithinPartitions(count, partitionFunc=lambda k: k[0])
            .mapPartitionsWithIndex(write)
            .collect()
        )
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
        manifest = write_manifest(
            out_dir,
            shards,
            info,
            {"shuffle": t.shuffle, "seed": t.seed, "shard_tokens": t.shard_tokens, "corpus": corpus_dir},
        )
    finally:
        if own_factory:
            factory.stop()
    stats = {
        "stage": "tokenize",
        "documents": sum(s["rows"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "shards": len(shards),
        "tokenizer": {
            "name": info.name,
            "path": info.path,
            "sha256": info.sha256,
            "vocab_size": info.vocab_size,
            "eos_id": info.eos_id,
        },
        "manifest": manifest,
        "seconds": round(time.monotonic() - start, 2),
    }
    write_stats(out_dir, stats, settings)
    return stats


def summary_line(stats: dict[str, Any]) -> str:
    tok = stats["tokenizer"]
    return (
        f"tokenize: {stats['documents']} documents -> {stats['tokens']:,} tokens in "
        f"{stats['shards']} shard(s) with {tok['name']} (vocab {tok['vocab_size']}, "
        f"sha256 {tok['sha256'][:12]}); manifest.json"
    )
