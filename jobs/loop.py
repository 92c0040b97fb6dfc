"""Spark steps of the classifier loop (DESIGN.md section 1, steps 1-6) and the `corpus` table.

One function per step of an iteration; `jobs/iterate.py` orders them, skips finished ones and
records them in state.json. Every step reads tables and writes its own folder under
`WORK/iter-NN/` (temp folder + rename), so a killed run resumes at the first unfinished step:

  seed      iter-NN/seed        id, text, source (initial | pattern:<file>:<line>)
  train     iter-NN/negatives   id (the sampled negatives); model.bin; metrics.json
  score     iter-NN/scores      id, score                    (jobs/score.py)
  recall    iter-NN/recalled    id, score, tokens            (+ crawl histogram, overlap)
  patterns  iter-NN/matches     id, source, label, recalled  (pages matched by URL patterns)
  domains   iter-NN/domains     the domains table; queue.tsv (+ annotation/queue/iter-NN.tsv)
  report    iter-NN/report.html, report.md
  select    WORK/selected       id, url, domain, text, selected_by (score | pattern), score, source
            (then jobs/decontam.py writes the decontaminated WORK/corpus)
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from jobs import score as score_job
from jobs.common import write_json_atomic
from pipeline import storage
from pipeline.annotation import Pattern, PatternMatcher, pattern_host
from pipeline.classify import (
    SEED_SUFFIXES,
    FastTextParams,
    iter_seed_file,
    train_examples,
)
from pipeline.config import ConfigError, Settings
from pipeline.domains import (
    DomainStats,
    arrow_schema,
    queue_order,
    queue_rows,
    spark_combiners,
    write_queue_tsv,
)
from pipeline.ingest import split_url
from pipeline.spark import SessionFactory, publish_dir, write_sorted_parquet

log = logging.getLogger(__name__)

MAX_PROBLEMS = 50  # problems (bad seed lines) listed in a step summary; all are counted


def iter_dir(work: str, n: int) -> str:
    return os.path.join(work, f"iter-{n:02d}")


def fasttext_params(settings: Settings) -> FastTextParams:
    c = settings.classify
    return FastTextParams(
        dim=c.dim,
        lr=c.lr,
        word_ngrams=c.word_ngrams,
        min_count=c.min_count,
        epoch=c.epoch,
        seed=c.fasttext_seed,
        bucket=c.bucket,
        holdout=c.holdout,
    )


def kept_pages(session: Any, work: str) -> Any:
    """Deduplicated pages: the pages table restricted to dedup's `keep`."""
    from pyspark.sql import functions as F

    kept = session.read.parquet(os.path.join(work, "dedup")).filter(F.col("keep")).select("id")
    return session.read.parquet(os.path.join(work, "pages")).join(kept, "id")


def tokens_column(settings: Settings) -> Any:
    """Estimated tokens of a page before tokenization: ceil(text_chars / chars_per_token)."""
    from pyspark.sql import functions as F

    return F.ceil(F.col("text_chars") / F.lit(settings.recall.chars_per_token)).cast("long")


def _write(df: Any, out_dir: str, settings: Settings, key: str = "id") -> None:
    publish_dir(write_sorted_parquet(df, out_dir, settings.classify.output_parts, key), out_dir)



# ------------------------------------------------------------------------------------- seed


def seed_files(spec: str) -> list[str]:
    """Files of a seed corpus spec: a file, a folder (its seed files, recursively) or a glob."""
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if storage.scheme_of(item) != "file":
            if item.endswith("/") and storage.scheme_of(item) == "s3":
                raise ConfigError(f"classify.seed_corpus: list the files of {item} (prefixes are not read)")
            out.append(item)
            continue
        if os.path.isdir(item):
            found = [
                p
                for p in glob.glob(os.path.join(item, "**", "*"), recursive=True)
                if p.endswith(SEED_SUFFIXES)
            ]
        else:
            found = glob.glob(item, recursive=True)
        if not found:
            raise ConfigError(f"classify.seed_corpus: no seed file matches {item}")
        out.extend(os.path.abspath(p) for p in sorted(found))
    return sorted(set(out))


def step_seed(session: Any, work: str, n: int, settings: Settings, seed_spec: str) -> dict[str, Any]:
    """Iteration 1: the initial seed corpus. Later: the previous seed plus the pages the previous
    iteration's math patterns matched and its classifier did not recall."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    out = os.path.join(iter_dir(work, n), "seed")
    summary: dict[str, Any] = {}
    if n == 1:
        files = seed_files(seed_spec)
        store = settings.storage
        field = settings.classify.seed_text_field

        def read(path: str) -> Any:
            for item in iter_seed_file(path, field, lambda p: storage.open_at(p, store)):
                yield ("", "", item) if isinstance(item, str) else (item[0], item[1], "")

        schema = T.StructType([T.StructField(name, T.StringType()) for name in ("id", "text", "problem")])
        rows = session.createDataFrame(
            session.sparkContext.parallelize(files, max(1, len(files))).flatMap(read), schema
        ).localCheckpoint()
        problems = rows.filter(F.col("problem") != "").select("problem")
        bad = problems.count()
        docs = rows.filter(F.col("problem") == "").select("id", "text")
        read_rows = docs.count()
        # One row per id (identical texts share a hash id); the smallest text wins a clash.
        docs = docs.groupBy("id").agg(F.min("text").alias("text"))
        if settings.classify.max_seed_docs:  # a seeded subset that depends on the ids alone
            docs = (
                docs.withColumn("_key", F.xxhash64(F.lit(settings.classify.negatives_seed), "id"))
                .orderBy("_key", "id")
                .limit(settings.classify.max_seed_docs)
                .drop("_key")
            )
        seed = docs.withColumn("source", F.lit("initial"))
        summary.update(
            {
                "files": len(files),
                "rows_read": read_rows,
                "bad_rows": bad,
                "problems": [r["problem"] for r in problems.limit(MAX_PROBLEMS).collect()],
            }
        )
        if bad:
            log.warning("seed corpus: %d bad row(s), first: %s", bad, summary["problems"][0])
    else:
        prev = iter_dir(work, n - 1)
        previous = session.read.parquet(os.path.join(prev, "seed"))
        added = (
            session.read.parquet(os.path.join(prev, "matches"))
            .filter((F.col("label") == "math") & ~F.col("recalled"))
            .select("id", "source")
            .join(previous.select("id"), "id", "left_anti")
        )
        added = added.join(kept_pages(session, work).select("id", "text"), "id").select(
            "id", "text", "source"
        )
        seed = previous.unionByName(added)
    seed = seed.localCheckpoint()
    by_source = {r["source"]: int(r["count"]) for r in seed.groupBy("source").count().collect()}
    if not by_source:
        raise ConfigError(f"the seed corpus {seed_spec or '(sample)'} has no usable document")
    _write(seed.select("id", "text", "source"), out, settings)
    summary.update({"docs": sum(by_source.values()), "by_source": dict(sorted(by_source.items()))})
    return summary


# ------------------------------------------------------------------------------------ train


def step_train(session: Any, work: str, n: int, settings: Settings) -> dict[str, Any]:
    """Sample negatives, train fastText on seed vs negatives, write model.bin and metrics.json."""
    from pyspark.sql import functions as F

    folder = iter_dir(work, n)
    seed = session.read.parquet(os.path.join(folder, "seed")).select("id", "text")
    positives = seed.count()
    wanted = round(positives * settings.classify.negatives_ratio)
    candidates = kept_pages(session, work).select("id", "text").join(seed.select("id"), "id", "left_anti")
    if n > 1:  # pages the annotators' math patterns matched are not random negatives
        math_pages = (
            session.read.parquet(os.path.join(iter_dir(work, n - 1), "matches"))
            .filter(F.col("label") == "math")
            .select("id")
        )
        candidates = candidates.join(math_pages, "id", "left_anti")
    # A seeded random sample that depends on the ids alone, not on partitioning.
    key = F.xxhash64(F.lit(settings.classify.negatives_seed), F.col("id"))
    negatives = (
        candidates.withColumn("_key", key).orderBy("_key", "id").limit(wanted).drop("_key").localCheckpoint()
    )
    _write(negatives.select("id"), os.path.join(folder, "negatives"), settings)

    examples = (
        seed.select(F.lit(True).alias("is_math"), "id", "text")
        .unionByName(negatives.select(F.lit(False).alias("is_math"), "id", "text"))
        .orderBy(F.col("is_math").desc(), "id")
    )
    model_path = os.path.join(folder, "model.bin")
    tmp_model = os.path.join(folder, ".model.bin.inflight")
    started = time.monotonic()
    metrics = train_examples(
        ((r["is_math"], r["id"], r["text"]) for r in examples.toLocalIterator()),
        fasttext_params(settings),
        tmp_model,
        settings.classify.histogram_bins,
    )
    os.replace(tmp_model, model_path)
    metrics.update({"iteration": n, "negatives_wanted": wanted, "fasttext": vars(fasttext_params(settings))})
    write_json_atomic(os.path.join(folder, "metrics.json"), metrics)
    summary = {k: v for k, v in metrics.items() if k not in ("histograms", "fasttext")}
    summary["train_seconds"] = round(time.monotonic() - started, 2)
    summary["model_bytes"] = os.path.getsize(model_path)
    return summary


def step_score(
    session: Any, work: str, n: int, settings: Settings, factory: SessionFactory
) -> dict[str, Any]:
    folder = iter_dir(work, n)
    return score_job.run(
        os.path.join(work, "pages"),
        os.path.join(work, "dedup"),
        os.path.join(folder, "model.bin"),
        os.path.join(folder, "scores"),
        settings,
        factory=factory,
        output_parts=settings.classify.output_parts,
    )


# ----------------------------------------------------------------------------------- recall


def rank_pages(session: Any, scored: Any) -> Any:
    """(id, score, tokens, rank, tokens_before): the global order by score desc, id asc, with the
    running token total, computed per range partition plus partition offsets (no single-partition
    window), so it scales with the crawl."""
    from pyspark.sql import types as T

    ordered = (
        scored.select("id", "score", "tokens").orderBy(scored["score"].desc(), scored["id"]).localCheckpoint()
    )
    totals = dict(ordered.rdd.mapPartitionsWithIndex(lambda i, rows: [(i, _sum_rows(rows))]).collect())
    offsets, pages, tokens = {}, 0, 0
    for index in sorted(totals):
        offsets[index] = (pages, tokens)
        pages += totals[index][0]
        tokens += totals[index][1]

    def number(index: int, rows: Any) -> Any:
        rank, before = offsets[index]
        for row in rows:
            rank += 1
            yield (row["id"], row["score"], row["tokens"], rank, before)
            before += row["tokens"]

    schema = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("score", T.FloatType()),
            T.StructField("tokens", T.LongType()),
            T.StructField("rank", T.LongType()),
            T.StructField("tokens_before", T.LongType()),
        ]
    )
    return session.createDataFrame(ordered.rdd.mapPartitionsWithIndex(number), schema)


def _sum_rows(rows: Any) -> tuple[int, int]:
    count = tokens = 0
    for row in rows:
        count += 1
        tokens += row["tokens"]
    return count, tokens


def step_recall(session: Any, work: str, n: int, settings: Settings) -> dict[str, Any]:
    """Apply the recall rule to the scores; write `recalled`; measure overlap with the last one."""
    from pyspark.sql import functions as F

    folder = iter_dir(work, n)
    rule = settings.recall
    scores = session.read.parquet(os.path.join(folder, "scores"))
    scored = (
        scores.join(kept_pages(session, work).select("id", "text_chars"), "id")
        .withColumn("tokens", tokens_column(settings))
        .localCheckpoint()
    )
    if rule.rule == "threshold":
        value: float | int = rule.threshold
        recalled = scored.filter(F.col("score") >= rule.threshold)
    else:
        ranked = rank_pages(session, scored)
        if rule.rule == "top_pages":
            value = rule.top_pages
            recalled = ranked.filter(F.col("rank") <= rule.top_pages)
        else:  # top_tokens: in rank order until the total reaches N (the last page may pass it)
            value = rule.top_tokens
            recalled = ranked.filter(F.col("tokens_before") < rule.top_tokens)
    recalled = recalled.select("id", "score", "tokens").localCheckpoint()
    _write(recalled, os.path.join(folder, "recalled"), settings)

    bins = settings.classify.histogram_bins
    crawl = dict(
        scored.select(F.least(F.lit(bins - 1), (F.col("score") * bins).cast("int")).alias("bin"))
        .groupBy("bin")
        .count()
        .collect()
    )
    totals = scored.agg(F.count("*").alias("pages"), F.sum("tokens").alias("tokens")).collect()[0]
    got = recalled.agg(
        F.count("*").alias("pages"), F.sum("tokens").alias("tokens"), F.min("score").alias("min_score")
    ).collect()[0]
    summary: dict[str, Any] = {
        "rule": rule.rule,
        "value": value,
        "pages": int(got["pages"]),
        "tokens": int(got["tokens"] or 0),
        "min_score": None if got["min_score"] is None else round(float(got["min_score"]), 6),
        "scored_pages": int(totals["pages"]),
        "scored_tokens": int(totals["tokens"] or 0),
        "crawl_histogram": [int(crawl.get(i, 0)) for i in range(bins)],
        "overlap": None,
        "previous": None,
    }
    if n > 1:
        before = session.read.parquet(os.path.join(iter_dir(work, n - 1), "recalled")).select("id")
        both = recalled.select("id").join(before, "id").count()
        summary["previous"] = before.count()
        # The paper's stopping rule: the share of this iteration's recalled pages that the previous
        # one recalled too (1.0 when both recall nothing).
        summary["overlap"] = round(both / summary["pages"], 6) if summary["pages"] else 1.0
    return summary


# --------------------------------------------------------------------------------- patterns


def step_patterns(
    session: Any, work: str, n: int, settings: Settings, patterns: list[Pattern]
) -> dict[str, Any]:
    """Match every deduplicated page against the annotators' URL patterns (in Spark)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    folder = iter_dir(work, n)
    matcher = session.sparkContext.broadcast(PatternMatcher(patterns))

    def match(rows: Any) -> Any:
        m = matcher.value
        for row in rows:
            host, path = row["host"] or "", row["path"] or "/"
            if m.excluded(host, path):
                yield (row["id"], "exclude", "exclude")
                continue
            pattern = m.match_host_path(host, path)
            if pattern is not None:
                yield (row["id"], pattern.source, "math")

    schema = T.StructType([T.StructField(name, T.StringType()) for name in ("id", "source", "label")])
    pages = kept_pages(session, work).select("id", "host", "path")
    matched = (
        session.createDataFrame(pages.rdd.mapPartitions(match), schema)
        if len(patterns)
        else session.createDataFrame([], schema)
    )
    recalled = session.read.parquet(os.path.join(folder, "recalled")).select(
        "id", F.lit(True).alias("recalled")
    )
    matched = matched.join(recalled, "id", "left").fillna(False, ["recalled"]).localCheckpoint()
    _write(matched, os.path.join(folder, "matches"), settings)

    seed = session.read.parquet(os.path.join(folder, "seed")).select("id")
    math = matched.filter(F.col("label") == "math")
    additions = math.filter(~F.col("recalled")).join(seed, "id", "left_anti")
    by_source = {r["source"]: int(r["count"]) for r in additions.groupBy("source").count().collect()}
    return {
        "patterns": len(patterns),
        "math_patterns": sum(p.label == "math" for p in patterns),
        "matched_math": math.count(),
        "matched_math_recalled": math.filter(F.col("recalled")).count(),
        "excluded": matched.filter(F.col("label") == "exclude").count(),
        "additions": sum(by_source.values()),
        "additions_by_source": dict(sorted(by_source.items())),
    }


# ---------------------------------------------------------------------------------- domains


def annotated_domains(patterns: list[Pattern]) -> set[str]:
    """Registered domains that annotators already wrote patterns for (left out of the queue)."""
    return {split_url(f"http://{pattern_host(p)}/")[1] for p in patterns if pattern_host(p)}


def domain_stats(session: Any, work: str, n: int, settings: Settings) -> Any:
    """RDD of DomainStats over all deduplicated pages (map-side combine; bounded memory)."""
    from pyspark.sql import functions as F

    d = settings.domains
    scores = session.read.parquet(os.path.join(iter_dir(work, n), "scores"))
    recalled = session.read.parquet(os.path.join(iter_dir(work, n), "recalled")).select(
        "id", F.lit(True).alias("recalled")
    )
    rows = (
        kept_pages(session, work)
        .select("id", "domain", "url", "path")
        .join(scores, "id", "left")
        .join(recalled, "id", "left")
        .fillna(False, ["recalled"])
        .filter(F.col("domain").isNotNull() & (F.col("domain") != ""))
        .select("domain", "url", "path", "score", "recalled")
    )
    create, add, merge = spark_combiners(d.examples, d.max_prefixes)
    return (
        rows.rdd.map(tuple)
        .map(lambda r: (r[0], r))
        .combineByKey(create, add, merge)
        .map(lambda kv: kv[1].finish(d.min_fraction, d.min_pages, d.top_prefixes))
    )


def step_domains(
    session: Any, work: str, n: int, settings: Settings, patterns: list[Pattern], queue_dir: str | None
) -> dict[str, Any]:
    """The domains table, the annotation queue, and the flagged domains for the report."""
    from pyspark.sql.pandas.types import from_arrow_schema

    folder = iter_dir(work, n)
    stats = domain_stats(session, work, n, settings).persist()
    try:
        table = session.createDataFrame(stats.map(lambda s: s.to_row()), from_arrow_schema(arrow_schema()))
        _write(table, os.path.join(folder, "domains"), settings, key="domain")
        flagged: list[DomainStats] = sorted(stats.filter(lambda s: s.flagged).collect(), key=queue_order)
        domains = stats.count()
    finally:
        stats.unpersist()
    annotated = annotated_domains(patterns)
    rows = queue_rows(flagged, annotated)
    tmp = os.path.join(folder, ".queue.tsv.inflight")
    write_queue_tsv(rows, tmp)
    os.replace(tmp, os.path.join(folder, "queue.tsv"))
    if queue_dir:
        os.makedirs(queue_dir, exist_ok=True)
        shutil.copyfile(os.path.join(folder, "queue.tsv"), os.path.join(queue_dir, f".iter-{n:02d}.tsv.tmp"))
        os.replace(
            os.path.join(queue_dir, f".iter-{n:02d}.tsv.tmp"), os.path.join(queue_dir, f"iter-{n:02d}.tsv")
        )
    return {
        "domains": domains,
        "flagged": len(flagged),
        "queued_domains": len({r["domain"] for r in rows}),
        "queue_rows": len(rows),
        "flagged_domains": [_flagged_summary(s, s.domain.lower() in annotated) for s in flagged[:50]],
    }


def _flagged_summary(stats: DomainStats, annotated: bool) -> dict[str, Any]:
    return {
        "domain": stats.domain,
        "pages": stats.pages,
        "recalled": stats.recalled,
        "recall_fraction": round(stats.recall_fraction, 6),
        "annotated": annotated,
        "top_paths": [
            {
                "prefix": p.prefix,
                "pages": p.pages,
                "recalled": p.recalled,
                "examples": [
                    {"url": e.url, "score": None if math.isnan(e.score) else round(e.score, 4)}
                    for e in p.recalled_examples + p.unrecalled_examples
                ],
            }
            for p in stats.top_paths[:5]
        ],
    }


# ----------------------------------------------------------------------------------- select


def step_select(session: Any, work: str, last: int, settings: Settings) -> dict[str, Any]:
    """The last iteration's recalled pages plus the pages math patterns matched, minus the pages
    an `exclude` pattern matched."""
    from pyspark.sql import functions as F

    folder = iter_dir(work, last)
    matches = session.read.parquet(os.path.join(folder, "matches"))
    excluded = matches.filter(F.col("label") == "exclude").select("id")
    by_pattern = matches.filter(F.col("label") == "math").select("id", "source")
    recalled = session.read.parquet(os.path.join(folder, "recalled")).select("id")
    chosen = (
        recalled.withColumn("by_score", F.lit(True))
        .join(by_pattern, "id", "full")
        .join(excluded, "id", "left_anti")
        .select(
            "id",
            F.when(F.col("by_score"), F.lit("score")).otherwise(F.lit("pattern")).alias("selected_by"),
            F.coalesce(F.col("source"), F.lit("")).alias("source"),
        )
    )
    scores = session.read.parquet(os.path.join(folder, "scores"))
    corpus = (
        chosen.join(kept_pages(session, work).select("id", "url", "domain", "text", "text_chars"), "id")
        .join(scores, "id", "left")
        .select("id", "url", "domain", "text", "text_chars", "selected_by", "score", "source")
    ).localCheckpoint()
    _write(corpus, os.path.join(work, "selected"), settings)
    counts = {r["selected_by"]: int(r["count"]) for r in corpus.groupBy("selected_by").count().collect()}
    tokens = corpus.agg(F.sum(tokens_column(settings)).alias("t")).collect()[0]["t"]
    return {
        "iteration": last,
        "pages": sum(counts.values()),
        "by_score": counts.get("score", 0),
        "by_pattern": counts.get("pattern", 0),
        "excluded_by_pattern": excluded.count(),
        "tokens_estimated": int(tokens or 0),
    }


def page_snippets(session: Any, work: str, urls: list[str], ids: list[str]) -> dict[str, dict[str, str]]:
    """Title (first line) and a snippet of the pages with these URLs or ids, for the report."""
    from pyspark.sql import functions as F

    if not urls and not ids:
        return {}
    pages = kept_pages(session, work).select("id", "url", "text")
    found = pages.filter(F.col("url").isin(urls) | F.col("id").isin(ids)).collect()
    out: dict[str, dict[str, str]] = {}
    for row in found:
        text = (row["text"] or "").strip()
        info = {
            "title": text.split("\n", 1)[0][:120],
            "snippet": " ".join(text.split())[:200],
            "url": row["url"],
        }
        out[row["url"]] = info
        out[row["id"]] = info
    return out


def read_json(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
