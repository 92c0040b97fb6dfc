"""Spark driver: `pages` table -> `dedup` sidecar (id, cluster_id, keep, reason) + _stats.json.

1. Exact URL: pages with the same normalized URL; the kept one is the longest text, then the
   smallest id (`_first_by_keep_order`); the others are `exact_url`.
2. Exact text: among what is left, the same whitespace-normalized text -> `exact_text`.
3. Near: MinHash signatures (batched, Arrow) and LSH band keys; pages sharing a band key are
   joined to the smallest id of that bucket (a star, never all pairs, so a bucket of thousands
   costs thousands of edges); pairs are optionally verified by signature similarity; connected
   components by iterative min-label propagation, in Spark; one page per component is kept,
   the rest are `near_dup`. Kept pages are `unique`.
`cluster_id` is the smallest id of the whole group (exact and near duplicates together).
Nothing depends on partitioning or ordering of the input, and nothing is collected to the driver.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from jobs.common import write_stats
from pipeline import fs
from pipeline.config import Settings
from pipeline.dedup import (
    MinHasher,
    false_negative_rate,
    false_positive_rate,
    miss_probability,
    optimal_bands,
    page_features,
    recall_bands,
    signature_jaccard,
)
from pipeline.spark import SessionFactory, read_table, write_table

log = logging.getLogger(__name__)

REASONS = ("exact_url", "exact_text", "near_dup", "unique")


def lsh_params(settings: Settings) -> tuple[int, int]:
    d = settings.dedup
    if d.bands and d.rows:
        if d.bands * d.rows > d.num_perm:
            raise ValueError(f"dedup.bands x dedup.rows = {d.bands * d.rows} exceeds num_perm {d.num_perm}")
        return d.bands, d.rows
    if d.band_rule == "balanced":
        return optimal_bands(d.threshold, d.num_perm, d.false_positive_weight, d.false_negative_weight)
    return recall_bands(d.threshold, d.num_perm, d.max_miss)


def _first_by_keep_order(df: Any, key: str, F: Any, Window: Any) -> Any:
    """Add `rep`: the id kept in each `key` group (longest text, then smallest id)."""
    order = Window.partitionBy(key).orderBy(F.col("text_chars").desc(), F.col("id").asc())
    return df.withColumn("rep", F.first("id").over(order))


def connected_components(edges: Any, max_iterations: int, F: Any) -> tuple[Any, int]:
    """(node, label = smallest node id of its component) by min-label propagation."""
    both = edges.select(F.col("src"), F.col("dst")).union(edges.select(F.col("dst"), F.col("src")))
    both = both.distinct().localCheckpoint()
    labels = both.select(F.col("src").alias("node")).distinct().withColumn("label", F.col("node"))
    labels = labels.localCheckpoint()
    for iteration in range(1, max_iterations + 1):
        offers = both.join(labels, both.src == labels.node).select(
            F.col("dst").alias("node"), F.col("label").alias("offer"))
        updated = (labels.join(offers.groupBy("node").agg(F.min("offer").alias("offer")), "node", "left")
                   .select("node", F.least("label", F.coalesce("offer", "label")).alias("label"),
                           (F.col("offer") < F.col("label")).alias("changed"))
                   .localCheckpoint())
        changed = updated.filter("changed").count()
        labels = updated.drop("changed")
        if changed == 0:
            return labels, iteration
    raise RuntimeError(f"connected components did not converge in {max_iterations} rounds "
                       "(raise dedup.max_iterations)")


def run(pages_dir: str, out_dir: str, settings: Settings, factory: SessionFactory | None = None) -> dict:
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    start = time.monotonic()
    d = settings.dedup
    bands, rows = lsh_params(settings)
    fp, fn = false_positive_rate(d.threshold, bands, rows), false_negative_rate(d.threshold, bands, rows)
    # Printed, not only logged: the chosen b x r and their error rates are what a user tunes.
    # P(never compared) at the threshold and 0.1 above it: the recall a user is choosing.
    above = min(1.0, d.threshold + 0.1)
    miss_at, miss_above = miss_probability(d.threshold, bands, rows), miss_probability(above, bands, rows)
    print(f"dedup: LSH b={bands} r={rows} ({d.band_rule if not (d.bands and d.rows) else 'set'}) for Jaccard "
          f"threshold {d.threshold} with {d.num_perm} permutations; theoretical false positive rate "
          f"{fp:.4f}, false negative rate {fn:.4f}; a pair is missed with P {miss_at:.2%} at "
          f"J={d.threshold:g}, {miss_above:.4%} at J={above:g}")
    hasher = MinHasher(num_perm=d.num_perm, ngram=d.ngram, seed=d.seed, hash_name=d.hash)
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    session = factory.get()
    try:
        store = fs.Store(settings.storage)
        pages = read_table(session, store, pages_dir).select("id", "url", "text", "text_chars")
        pages_in = pages.count()

        feature_schema = T.StructType([
            T.StructField("id", T.StringType()), T.StructField("url_key", T.StringType()),
            T.StructField("text_key", T.StringType()), T.StructField("signature", T.BinaryType()),
            T.StructField("band_keys", T.ArrayType(T.LongType())),
            T.StructField("text_chars", T.IntegerType()),
        ])

        batch_rows = max(1, d.batch_rows)

        def features(batches: Any) -> Any:
            import pandas as pd

            for arrow_batch in batches:  # dedup.batch_rows pages at a time bound the signature work
                for lo in range(0, len(arrow_batch), batch_rows):
                    batch = arrow_batch.iloc[lo:lo + batch_rows]
                    out = pd.DataFrame(page_features(batch["id"].tolist(), batch["url"].tolist(),
                                                     batch["text"].fillna("").tolist(), hasher, bands, rows))
                    # Carried through rather than joined back: no second scan, no shuffle.
                    out["text_chars"] = batch["text_chars"].to_numpy(dtype="int32")
                    yield out

        base = pages.mapInPandas(features, feature_schema).localCheckpoint()

        # 1. exact URL, 2. exact text: `rep` is the page each one's group keeps.
        # Checkpointed: each is used several times below and would redo its window shuffle.
        by_url = _first_by_keep_order(base, "url_key", F, Window).withColumnRenamed("rep", "url_rep")
        by_url = by_url.localCheckpoint()
        url_kept = by_url.filter(F.col("id") == F.col("url_rep"))
        by_text = _first_by_keep_order(url_kept, "text_key", F, Window).select(
            "id", F.col("rep").alias("text_rep")).localCheckpoint()
        survivors = url_kept.join(by_text, "id").filter(F.col("id") == F.col("text_rep")).localCheckpoint()

        # 3. near duplicates: band buckets -> star edges to the bucket's smallest id.
        exploded = survivors.select("id", F.posexplode("band_keys").alias("band", "key"))
        bucket_min = exploded.groupBy("band", "key").agg(F.min("id").alias("src"), F.count("*").alias("n"))
        edges = (exploded.join(bucket_min.filter("n > 1"), ["band", "key"])
                 .filter(F.col("id") != F.col("src"))
                 .select("src", F.col("id").alias("dst")).distinct().localCheckpoint())
        candidate_pairs = edges.count()
        if d.verify and candidate_pairs:
            similarity = F.udf(lambda a, b: signature_jaccard(a, b), T.DoubleType())
            src_sig = survivors.select(F.col("id").alias("src"), F.col("signature").alias("s1"))
            dst_sig = survivors.select(F.col("id").alias("dst"), F.col("signature").alias("s2"))
            edges = (edges.join(src_sig, "src").join(dst_sig, "dst")
                     .filter(similarity("s1", "s2") >= d.threshold).select("src", "dst"))
        edges = edges.localCheckpoint()
        verified_pairs = edges.count()
        if verified_pairs:
            labels, iterations = connected_components(edges, d.max_iterations, F)
        else:
            labels, iterations = None, 0

        # Every page -> its group: url_rep -> text_rep -> component label.
        text_rep_of = by_text.select(F.col("id").alias("url_rep"), "text_rep")
        groups = by_url.select("id", "text_chars", "url_rep").join(text_rep_of, "url_rep")
        if labels is not None:
            groups = groups.join(labels.select(F.col("node").alias("text_rep"), "label"), "text_rep", "left")
            groups = groups.withColumn("group", F.coalesce("label", "text_rep"))
        else:
            groups = groups.withColumn("group", F.col("text_rep"))
        near_kept = (survivors.select(F.col("id").alias("text_rep"), "text_chars")
                     .join(groups.select("text_rep", "group").distinct(), "text_rep"))
        kept_of_group = _first_by_keep_order(
            near_kept.withColumnRenamed("text_rep", "id"), "group", F, Window
        ).select("group", F.col("rep").alias("kept")).distinct()
        cluster = groups.groupBy("group").agg(F.min("id").alias("cluster_id"), F.count("*").alias("size"))
        result = (groups.join(kept_of_group, "group").join(cluster, "group")
                  .select(
                      "id", "cluster_id", (F.col("id") == F.col("kept")).alias("keep"),
                      F.when(F.col("id") == F.col("kept"), "unique")
                       .when(F.col("id") != F.col("url_rep"), "exact_url")
                       .when(F.col("url_rep") != F.col("text_rep"), "exact_text")
                       .otherwise("near_dup").alias("reason"),
                      "size")
                  .localCheckpoint())

        counts = {r["reason"]: r["count"] for r in result.groupBy("reason").count().collect()}
        cluster_sizes = result.filter("keep").agg(
            F.sum(F.when(F.col("size") > 1, 1).otherwise(0)).alias("clusters"),
            F.max("size").alias("largest")).collect()[0]
        write_table(result.drop("size"), store, out_dir, d.output_parts, "id")
    finally:
        if own_factory:
            factory.stop()

    kept = counts.get("unique", 0)
    dropped = {reason: counts.get(reason, 0) for reason in REASONS if reason != "unique"}
    stats = {
        "stage": "dedup",
        "pages_in": pages_in,
        "kept": kept,
        "dropped": dropped,
        "exact_duplicates": dropped["exact_url"] + dropped["exact_text"],
        "near_duplicates": dropped["near_dup"],
        "clusters": int(cluster_sizes["clusters"] or 0),
        "largest_cluster": int(cluster_sizes["largest"] or 0),
        "invariant": "pages_in == kept + sum(dropped)",
        "invariant_holds": pages_in == kept + sum(dropped.values()),
        "lsh": {"bands": bands, "rows": rows, "threshold": d.threshold, "num_perm": d.num_perm,
                "false_positive_rate": round(fp, 6), "false_negative_rate": round(fn, 6),
                "miss_at_threshold": round(miss_at, 6), "miss_above_threshold": round(miss_above, 8),
                "candidate_pairs": candidate_pairs, "verified_pairs": verified_pairs,
                "components_rounds": iterations},
        "config_fingerprint": settings.fingerprint("dedup"),
        "seconds": round(time.monotonic() - start, 2),
    }
    write_stats(out_dir, stats, settings)
    return stats


def summary_line(stats: dict) -> str:
    lsh, dropped = stats["lsh"], stats["dropped"]
    balance = "balanced" if stats["invariant_holds"] else "UNBALANCED"
    return (f"dedup: {stats['pages_in']} pages -> {stats['kept']} kept; exact duplicates "
            f"{stats['exact_duplicates']} (url {dropped['exact_url']}, text {dropped['exact_text']}), "
            f"near duplicates {stats['near_duplicates']} in {stats['clusters']} clusters "
            f"(largest {stats['largest_cluster']}); LSH b={lsh['bands']} r={lsh['rows']}; "
            f"accounting {balance}")

