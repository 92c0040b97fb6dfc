"""Spark driver: corpus -> tokenized Parquet shards plus manifest.json (DESIGN.md section 4).

(Named `shards`, not `tokenize`: a module named like the standard library's `tokenize` shadows it
when this folder is on sys.path, as under `spark-submit jobs/cli.py`.)

The tokenizer is a Hugging Face tokenizer folder (`tokenize.tokenizer`), or, when none is set, a
byte-level BPE trained on a seeded sample of the corpus and published beside the shards. Workers load
it once (the folder is shipped with `addFile`), encode whole Arrow batches with the fast backend
and append EOS. Documents are ordered by `doc_id`, or by a seeded hash when `tokenize.shuffle` is
on, and assigned to shards by `pipeline.tokenize.assign_shards` over that global order: documents
fill a shard until it holds at least `tokenize.shard_tokens`, then the next starts. The driver runs
it partition by partition (`continue_shards` carries the open shard across), holding one partition's
token counts at a time, so shards never split a document and their contents and names depend on the
documents alone. Each shard is written by one task into a temp folder through `pipeline.fs.Store`
(local or s3://); the folder, manifest included, is published whole.

The corpus is read by `pipeline.decontam.read_corpus`, as decontaminate reads it: a null or duplicate
id stops the job with one line naming the file and rows; text that is not valid UTF-8 is tokenized
with each bad byte as U+FFFD and counted (`text_repaired.invalid_utf8`). Every corpus row becomes one
document: `documents_in` == `documents` (`invariant_holds`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any

import numpy as np

from jobs.common import write_stats
from pipeline import fs
from pipeline.config import ConfigError, Settings
from pipeline.decontam import INVALID_UTF8, read_corpus
from pipeline.spark import SessionFactory, ship_as
from pipeline.tokenize import (
    MANIFEST,
    TokenizerInfo,
    continue_shards,
    encode_batch,
    load_tokenizer,
    shard_name,
    train_bpe,
    write_manifest,
    write_shard,
)

log = logging.getLogger(__name__)


def prepare_tokenizer(session: Any, corpus: Any, out_dir: str, settings: Settings) -> TokenizerInfo:
    """The configured tokenizer, or a byte-level BPE trained on a seeded sample of the corpus and
    published at `out_dir`."""
    from pyspark.sql import functions as F

    t = settings.tokenize
    store = fs.Store(settings.storage)
    if t.tokenizer:
        if not store.exists(fs.join(t.tokenizer, "tokenizer.json")):
            raise ConfigError(
                f"tokenize.tokenizer: {t.tokenizer} is not a tokenizer folder (a Hugging Face tokenizer "
                "folder with tokenizer.json; the model hub is never contacted)"
            )
        return load_tokenizer(t.tokenizer, store)[1]
    sample = (
        corpus.select("doc_id", "text")
        .withColumn("_key", F.xxhash64(F.lit(t.seed), "doc_id"))
        .orderBy("_key", "doc_id")
        .limit(t.train_docs)
    )
    texts = [r["text"] for r in sample.toLocalIterator()]
    if not texts:
        raise ConfigError("tokenize: the corpus is empty, there is nothing to train a tokenizer on")
    return train_bpe(texts, out_dir, vocab_size=t.vocab_size, store=store)


def _folder_digest(folder: str) -> str:
    """sha256 over the relative names and bytes of every file in a local folder."""
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()


def shard_plan(ordered: Any, target: int) -> tuple[dict[int, tuple[list[int], list[int]]], int]:
    """`assign_shards` over the global order of `ordered` (range partitions in order, checkpointed),
    as runs per partition: {partition: (row positions where a shard starts, its index)}, and the
    number of shards. The driver sees one partition's token counts at a time."""

    def counts(index: int, rows: Any) -> Any:
        yield index, np.fromiter((row[0] for row in rows), dtype=np.int64).tobytes()

    plan: dict[int, tuple[list[int], list[int]]] = {}
    state = None
    pieces = ordered.select("num_tokens").rdd.mapPartitionsWithIndex(counts)
    for index, data in pieces.toLocalIterator(prefetchPartitions=True):  # in partition order
        shards, state = continue_shards(np.frombuffer(data, dtype=np.int64), target, state)
        if shards:
            starts = [0, *(np.flatnonzero(np.diff(shards)) + 1).tolist()]
            plan[index] = (starts, [shards[i] for i in starts])
    return plan, (state[0] + 1 if state is not None else 1)


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
    store = fs.Store(settings.storage)
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    session = factory.get()
    tmp = None
    try:
        # Ids checked (null or duplicate: CorpusError, one line naming the file and rows), `text`
        # made valid UTF-8 with the repaired rows flagged: pipeline.decontam.read_corpus, the rule
        # decontaminate applies too. Only the columns used go on: others (the pages table's
        # fetch_time timestamp) never reach a Python worker.
        corpus = read_corpus(session, store, corpus_dir)
        source = F.col("selected_by") if "selected_by" in corpus.columns else F.lit("corpus")
        corpus = corpus.select(
            F.col("id").alias("doc_id"),
            F.coalesce("text", F.lit("")).alias("text"),
            source.cast("string").alias("source"),
            INVALID_UTF8,
        )
        trained_dir = tokenizer_dir or out_dir.rstrip("/") + ".tokenizer"
        info = prepare_tokenizer(session, corpus, trained_dir, settings)
        with store.local_folder(info.path) as local:  # workers get a local copy, whatever the store
            # Spark keys shipped files by name and refuses other contents under a name it has seen
            # (a copy without the completion marker, another tokenizer_config.json): name the folder
            # by all of its bytes.
            shipped = ship_as(session, local, f"tokenizer-{_folder_digest(local)[:16]}")
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
                        INVALID_UTF8: batch[INVALID_UTF8],
                    }
                )

        schema = T.StructType(
            [
                T.StructField("doc_id", T.StringType()),
                T.StructField("source", T.StringType()),
                T.StructField("input_ids", T.ArrayType(T.IntegerType())),
                T.StructField("num_tokens", T.IntegerType()),
                T.StructField(INVALID_UTF8, T.BooleanType()),
            ]
        )
        encoded = corpus.mapInPandas(encode, schema)
        key = F.xxhash64(F.lit(t.seed), "doc_id") if t.shuffle else F.lit(0)
        # Checkpointed: every pass below sees the same rows in the same partitions and order.
        ordered = encoded.withColumn("_key", key).orderBy("_key", "doc_id").localCheckpoint()
        plan, count = shard_plan(ordered, max(1, t.shard_tokens))
        counted = ordered.agg(F.count(F.lit(1)).alias("rows"),
                              F.sum(F.col(INVALID_UTF8).cast("long")).alias("invalid_utf8")).collect()[0]

        def assign(index: int, rows: Any) -> Any:
            starts, shards = plan.get(index, ([], []))
            run_at, shard = 0, None
            for position, row in enumerate(rows):
                while run_at < len(starts) and starts[run_at] <= position:
                    shard = shards[run_at]
                    run_at += 1
                yield ((shard, row["_key"], row["doc_id"]), (row["source"], row["input_ids"]))

        tmp = store.temp_folder(out_dir)

        def write(index: int, rows: Any) -> Any:
            doc_ids, ids, sources = [], [], []
            for (_, _, doc_id), (src, input_ids) in rows:
                doc_ids.append(doc_id)
                sources.append(src)
                ids.append(np.asarray(input_ids, dtype=np.int32))
            # the driver's info: a worker's copy of the folder has another name
            yield write_shard(fs.join(tmp, shard_name(index, count)), doc_ids, ids, sources, info,
                              row_group_rows=t.row_group_rows, store=store)

        shards = (
            ordered.rdd.mapPartitionsWithIndex(assign)
            .repartitionAndSortWithinPartitions(count, partitionFunc=lambda k: k[0])
            .mapPartitionsWithIndex(write)
            .collect()
        )
        write_manifest(
            tmp,
            shards,
            info,
            {"shuffle": t.shuffle, "seed": t.seed, "shard_tokens": t.shard_tokens, "corpus": corpus_dir},
            store=store,
        )
        store.publish_dir(tmp, out_dir)
        tmp = None
        manifest = fs.join(out_dir, MANIFEST)
    finally:
        if tmp is not None:
            store.remove(tmp)  # a failed run leaves no half-written folder
        if own_factory:
            factory.stop()
    stats = {
        "stage": "tokenize",
        "documents_in": int(counted["rows"]),
        "documents": sum(s["rows"] for s in shards),
        # Documents whose text was not valid UTF-8, tokenized with each bad byte as U+FFFD.
        "text_repaired": {"invalid_utf8": int(counted["invalid_utf8"] or 0)},
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
    stats["invariant_holds"] = stats["documents_in"] == stats["documents"]  # every corpus row is in a shard
    write_stats(out_dir, stats, settings)
    return stats


def summary_line(stats: dict[str, Any]) -> str:
    tok = stats["tokenizer"]
    return (
        f"tokenize: {stats['documents']} documents -> {stats['tokens']:,} tokens in "
        f"{stats['shards']} shard(s) with {tok['name']} (vocab {tok['vocab_size']}, "
        f"sha256 {tok['sha256'][:12]}); manifest.json"
        + (f"; {repaired} text(s) with invalid UTF-8 repaired"
           if (repaired := stats.get("text_repaired", {}).get("invalid_utf8", 0)) else "")
        + ("" if stats.get("invariant_holds", True) else
           f"; ACCOUNTING MISMATCH ({stats['documents_in']} corpus rows)")
    )
