"""Spark steps of the classifier loop (DESIGN.md section 1, steps 1-6) and the `corpus` table.

One function per step of an iteration; `jobs/iterate.py` orders them, skips finished ones and
records them in state.json. Every step reads tables and writes its own folder under
`WORK/iter-NN/` (temp folder + rename), so a killed run resumes at the first unfinished step:

  seed      iter-NN/seed        id, text, source (initial | pattern:<file>:<line>)
  train     iter-NN/negatives   id, origin (corpus | crawl); model.bin; metrics.json
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
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobs import score as score_job
from pipeline import fs, storage
from pipeline.annotation import Pattern, PatternMatcher
from pipeline.classify import SEED_SUFFIXES, FastTextParams, iter_seed_file, train_examples
from pipeline.config import ConfigError, Settings
from pipeline.domains import (
    PARTIAL_COLUMNS,
    DomainStats,
    arrow_schema,
    flag_sql,
    partial_prefix_stats,
    queue_order,
    queue_rows,
    queue_tsv,
    stats_from_counts,
)
from pipeline.loop import (
    RecallRule,
    ScoreSpread,
    fasttext_epochs,
    joins_next_seed,
    label_metrics,
    merge_tallies,
    negative_counts,
    overlap_share,
    pattern_table,
    score_warnings,
    selection,
    tally_patterns,
)
from pipeline.spark import (
    SessionFactory,
    ranked_with_totals,
    read_table,
    seeded_sample,
    write_table,
)

log = logging.getLogger(__name__)

MAX_PROBLEMS = 50  # problems (bad seed lines) listed in a step summary; all are counted


def iter_dir(work: str, n: int) -> str:
    return fs.join(work, f"iter-{n:02d}")


def run_table(session: Any, settings: Settings, *path: str) -> Any:
    """A table of the run folder (local or on an object store) as a DataFrame."""
    return read_table(session, fs.Store(settings.storage), fs.join(*path))


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


def kept_pages(session: Any, work: str, settings: Settings) -> Any:
    """Deduplicated pages: the pages table restricted to dedup's `keep`."""
    from pyspark.sql import functions as F

    kept = run_table(session, settings, work, "dedup").filter(F.col("keep")).select("id")
    return run_table(session, settings, work, "pages").join(kept, "id")


def tokens_column(settings: Settings) -> Any:
    """Estimated tokens of a page before tokenization: ceil(text_chars / chars_per_token)."""
    from pyspark.sql import functions as F

    return F.ceil(F.col("text_chars") / F.lit(settings.recall.chars_per_token)).cast("long")


def _write(df: Any, out_dir: str, settings: Settings, key: str = "id", schema: Any = None) -> None:
    write_table(df, fs.Store(settings.storage), out_dir, settings.classify.output_parts, key, schema)


# ------------------------------------------------------------------------------------- seed


def seed_files(spec: str, key: str = "classify.seed_corpus") -> list[str]:
    """Files of a corpus spec: a file, a folder (its seed files, recursively) or a glob."""
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if storage.scheme_of(item) != "file":
            if item.endswith("/") and storage.scheme_of(item) == "s3":
                raise ConfigError(f"{key}: list the files of {item} (prefixes are not read)")
            out.append(item)
            continue
        if os.path.isdir(item):
            found = [
                p for p in glob.glob(fs.join(item, "**", "*"), recursive=True) if p.endswith(SEED_SUFFIXES)
            ]
        else:
            found = glob.glob(item, recursive=True)
        if not found:
            raise ConfigError(f"{key}: no seed file matches {item}")
        out.extend(os.path.abspath(p) for p in sorted(found))
    return sorted(set(out))


def read_corpus(
    session: Any, spec: str, settings: Settings, key: str, id_prefix: str = "seed:"
) -> tuple[Any, dict]:
    """(DataFrame of id, text; summary) of a text corpus (the seed or the negatives): every bad
    line is counted and the first ones listed as `file:line: reason`; one row per id (identical
    texts share a hash id; the smallest text wins a clash of given ids)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    files = seed_files(spec, key)
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
    docs = docs.groupBy("id").agg(F.min("text").alias("text"))
    if id_prefix != "seed:":  # seed_id names every corpus row seed:...; negatives get their own ids
        docs = docs.withColumn("id", F.concat(F.lit(id_prefix), F.expr("substring(id, 6)")))
    summary = {
        "files": len(files),
        "rows_read": read_rows,
        "bad_rows": bad,
        "problems": [r["problem"] for r in problems.limit(MAX_PROBLEMS).collect()],
    }
    if bad:
        log.warning("%s: %d bad row(s), first: %s", key, bad, summary["problems"][0])
    return docs, summary


def step_seed(session: Any, work: str, n: int, settings: Settings, seed_spec: str) -> dict[str, Any]:
    """Iteration 1: the initial seed corpus. Later: the previous seed plus the pages the previous
    iteration's math patterns matched and its classifier did not recall (`joins_next_seed`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    out = fs.join(iter_dir(work, n), "seed")
    summary: dict[str, Any] = {}
    if n == 1:
        docs, summary = read_corpus(session, seed_spec, settings, "classify.seed_corpus")
        if settings.classify.max_seed_docs:  # a seeded subset that depends on the ids alone
            docs = seeded_sample(docs, settings.classify.max_seed_docs, settings.classify.negatives_seed)
        seed = docs.withColumn("source", F.lit("initial"))
    else:
        prev = iter_dir(work, n - 1)
        previous = run_table(session, settings, prev, "seed")
        matches = (
            run_table(session, settings, prev, "matches")
            .join(previous.select("id", F.lit(True).alias("in_seed")), "id", "left")
            .fillna(False, ["in_seed"])
        )
        schema = T.StructType([T.StructField("id", T.StringType()), T.StructField("source", T.StringType())])
        added = session.createDataFrame(
            matches.rdd.filter(lambda r: joins_next_seed(r["label"], r["recalled"], r["in_seed"])).map(
                lambda r: (r["id"], r["source"])
            ),
            schema,
        )
        added = added.join(kept_pages(session, work, settings).select("id", "text"), "id").select(
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


def math_matched_ids(session: Any, folder: str, settings: Settings) -> Any:
    from pyspark.sql import functions as F

    return run_table(session, settings, folder, "matches").filter(F.col("label") == "math").select("id")


def step_train(
    session: Any, work: str, n: int, settings: Settings, negatives_spec: str = ""
) -> dict[str, Any]:
    """Sample negatives (a negatives corpus and/or random crawl pages), train fastText on seed vs
    negatives with enough passes for the seed's size, write model.bin and metrics.json."""
    from pyspark.sql import functions as F

    c = settings.classify
    if not 0.0 <= c.negatives_corpus_share <= 1.0:
        raise ConfigError(f"classify.negatives_corpus_share: between 0 and 1, got {c.negatives_corpus_share}")
    folder = iter_dir(work, n)
    seed = run_table(session, settings, folder, "seed").select("id", "text")
    positives = seed.count()
    corpus, corpus_docs, corpus_summary = None, 0, {}
    if negatives_spec:
        corpus, corpus_summary = read_corpus(
            session, negatives_spec, settings, "classify.negatives_corpus", id_prefix="negative:"
        )
        corpus = corpus.localCheckpoint()
        corpus_docs = corpus.count()
    from_corpus, from_crawl = negative_counts(
        positives, c.negatives_ratio, corpus_docs, c.negatives_corpus_share
    )
    candidates = (
        kept_pages(session, work, settings).select("id", "text").join(seed.select("id"), "id", "left_anti")
    )
    if n > 1:  # pages the annotators' math patterns matched are not random negatives
        candidates = candidates.join(
            math_matched_ids(session, iter_dir(work, n - 1), settings), "id", "left_anti"
        )
    negatives = seeded_sample(candidates, from_crawl, c.negatives_seed).withColumn("origin", F.lit("crawl"))
    if corpus is not None and from_corpus:
        chosen = seeded_sample(corpus, from_corpus, c.negatives_seed).withColumn("origin", F.lit("corpus"))
        negatives = chosen.unionByName(negatives)
    negatives = negatives.localCheckpoint()
    _write(negatives.select("id", "origin"), fs.join(folder, "negatives"), settings)

    examples = (
        seed.select(F.lit(True).alias("is_math"), "id", "text")
        .unionByName(negatives.select(F.lit(False).alias("is_math"), "id", "text"))
        .orderBy(F.col("is_math").desc(), "id")
    ).localCheckpoint()
    count = examples.count()
    params = fasttext_params(settings)
    # held-out examples are not trained on: the passes are counted over the training share
    trained = round(count * (1 - c.holdout))
    params = replace(params, epoch=fasttext_epochs(trained, c.epoch, c.min_example_passes, c.max_epoch))
    store = fs.Store(settings.storage)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mathmine-model-") as local:
        # fastText writes a local file; the store publishes it (a rename, or one upload)
        trained_model = os.path.join(local, "model.bin")
        metrics = train_examples(
            ((r["is_math"], r["id"], r["text"]) for r in examples.toLocalIterator()),
            params,
            trained_model,
            settings.classify.histogram_bins,
        )
        model_bytes = os.path.getsize(trained_model)
        store.upload(trained_model, fs.join(folder, "model.bin"))
    metrics.update(
        {
            "iteration": n,
            "negatives_wanted": from_corpus + from_crawl,
            "negatives_from_corpus": from_corpus,
            "negatives_from_crawl": from_crawl,
            "train_examples": trained,
            "epochs": params.epoch,
            "fasttext": vars(params),
        }
    )
    if corpus_summary:
        metrics["negatives_corpus"] = corpus_summary
    store.write_json(fs.join(folder, "metrics.json"), metrics)
    summary = {k: v for k, v in metrics.items() if k not in ("histograms", "fasttext")}
    summary["train_seconds"] = round(time.monotonic() - started, 2)
    summary["model_bytes"] = model_bytes
    return summary


def step_score(
    session: Any, work: str, n: int, settings: Settings, factory: SessionFactory
) -> dict[str, Any]:
    folder = iter_dir(work, n)
    return score_job.run(
        fs.join(work, "pages"),
        fs.join(work, "dedup"),
        fs.join(folder, "model.bin"),
        fs.join(folder, "scores"),
        settings,
        factory=factory,
        output_parts=settings.classify.output_parts,
    )


# ----------------------------------------------------------------------------------- recall


def recall_rule(settings: Settings) -> RecallRule:
    r = settings.recall
    return RecallRule(r.rule, r.threshold, r.top_pages, r.top_tokens)


def step_recall(session: Any, work: str, n: int, settings: Settings, labels: str = "") -> dict[str, Any]:
    """Apply the recall rule to the scores; write `recalled`; measure the scores' spread, the
    overlap with the last iteration and, with labels, precision and recall."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    folder = iter_dir(work, n)
    rule = recall_rule(settings)
    scores = run_table(session, settings, folder, "scores")
    scored = (
        scores.join(kept_pages(session, work, settings).select("id", "url", "text_chars"), "id")
        .withColumn("tokens", tokens_column(settings))
        .localCheckpoint()
    )
    schema = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("score", T.FloatType()),
            T.StructField("tokens", T.LongType()),
        ]
    )
    if rule.needs_rank:
        ranked = ranked_with_totals(scored, session)
        kept = ranked.rdd.filter(lambda r: rule.recalls(r["score"], r["rank"], r["tokens_before"]))
    else:
        kept = scored.rdd.filter(lambda r: rule.recalls(r["score"]))
    recalled = session.createDataFrame(kept.map(lambda r: (r["id"], r["score"], r["tokens"])), schema)
    recalled = recalled.localCheckpoint()
    _write(recalled, fs.join(folder, "recalled"), settings)

    bins = settings.classify.histogram_bins
    crawl = dict(
        scored.select(F.least(F.lit(bins - 1), (F.col("score") * bins).cast("int")).alias("bin"))
        .groupBy("bin")
        .count()
        .collect()
    )
    totals = scored.agg(
        F.count("*").alias("pages"),
        F.sum("tokens").alias("tokens"),
        F.countDistinct(F.round("score", 4)).alias("distinct"),
        F.min("score").alias("lo"),
        F.max("score").alias("hi"),
    ).collect()[0]
    quantiles = scored.approxQuantile("score", [0.1, 0.5, 0.9], 0.0) if totals["pages"] else [0.0] * 3
    spread = ScoreSpread(
        int(totals["pages"]),
        int(totals["distinct"]),
        *(round(q, 6) for q in quantiles),
        round(float(totals["lo"] or 0.0), 6),
        round(float(totals["hi"] or 0.0), 6),
    )
    got = recalled.agg(
        F.count("*").alias("pages"), F.sum("tokens").alias("tokens"), F.min("score").alias("min_score")
    ).collect()[0]
    metrics = fs.Store(settings.storage).read_json(fs.join(folder, "metrics.json"))
    summary: dict[str, Any] = {
        "rule": rule.rule,
        "value": rule.value,
        "pages": int(got["pages"]),
        "tokens": int(got["tokens"] or 0),
        "min_score": None if got["min_score"] is None else round(float(got["min_score"]), 6),
        "scored_pages": int(totals["pages"]),
        "scored_tokens": int(totals["tokens"] or 0),
        "crawl_histogram": [int(crawl.get(i, 0)) for i in range(bins)],
        "spread": spread.as_dict(),
        "warnings": score_warnings(spread, metrics),
        "overlap": None,
        "previous": None,
        "labels": None,
    }
    for warning in summary["warnings"]:
        log.warning("iteration %d: %s", n, warning)
    if n > 1:
        before = run_table(session, settings, iter_dir(work, n - 1), "recalled").select("id")
        both = recalled.select("id").join(before, "id").count()
        summary["previous"] = before.count()
        summary["overlap"] = round(overlap_share(both, summary["pages"]), 6)
    if labels:
        truth = read_labels(session, labels, settings)
        marked = (
            scored.select("id", "url")
            .join(truth, "url", "left")
            .join(recalled.select("id", F.lit(True).alias("recalled")), "id", "left")
            .fillna(False, ["recalled"])
        )
        counts = marked.agg(
            F.sum(F.col("recalled").cast("int")).alias("recalled"),
            F.sum((F.col("recalled") & F.col("is_math").isNotNull()).cast("int")).alias("labelled"),
            F.sum((F.col("recalled") & F.col("is_math")).cast("int")).alias("hits"),
            F.sum(F.col("is_math").cast("int")).alias("math"),
        ).collect()[0]
        summary["labels"] = label_metrics(
            *(int(counts[k] or 0) for k in ("recalled", "labelled", "hits", "math"))
        )
    return summary


def read_labels(session: Any, path: str, settings: Settings) -> Any:
    """(url, is_math) of a labels JSONL file, local or on an object store (one label per URL:
    the first line wins a clash; a line that is not a JSON object with a string url is skipped)."""
    from pyspark.sql import types as T

    store = fs.Store(settings.storage)

    def parse(file: str) -> Any:
        seen: set[str] = set()
        for line in store.read_bytes(file).splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            url = row.get("url") if isinstance(row, dict) else None
            if isinstance(url, str) and url not in seen:
                seen.add(url)
                value = row.get("is_math")
                yield url, value if isinstance(value, bool) else None

    schema = T.StructType([T.StructField("url", T.StringType()), T.StructField("is_math", T.BooleanType())])
    return session.createDataFrame(session.sparkContext.parallelize([path], 1).flatMap(parse), schema)


# --------------------------------------------------------------------------------- patterns


def page_flags(session: Any, work: str, n: int, settings: Settings) -> Any:
    """Deduplicated pages with host, path and whether iteration n recalled them and seeded them."""
    from pyspark.sql import functions as F

    folder = iter_dir(work, n)
    recalled = run_table(session, settings, folder, "recalled").select("id", F.lit(True).alias("recalled"))
    seed = run_table(session, settings, folder, "seed").select("id", F.lit(True).alias("in_seed"))
    return (
        kept_pages(session, work, settings)
        .select("id", "url", "host", "path")
        .join(recalled, "id", "left")
        .join(seed, "id", "left")
        .fillna(False, ["recalled", "in_seed"])
    )


def pattern_effects(
    session: Any, pages: Any, patterns: list[Pattern], shown: Mapping[str, Path] | None = None
) -> tuple[list, list]:
    """(per-pattern rows, warnings) of `pipeline.loop.pattern_table` over pages with host, path,
    recalled and in_seed: one tally per Spark partition, merged on the driver."""
    if not patterns:
        return [], []
    matcher = session.sparkContext.broadcast(PatternMatcher(patterns))

    def tally(rows: Any) -> Any:
        yield tally_patterns(
            matcher.value, ((r["host"], r["path"], r["recalled"], r["in_seed"]) for r in rows)
        )

    merged = merge_tallies(
        pages.select("host", "path", "recalled", "in_seed").rdd.mapPartitions(tally).collect()
    )
    return pattern_table(patterns, merged, _shown_path(shown))


def _shown_path(shown: Mapping[str, Path] | None) -> Any:
    """How a pattern's file is named in warnings: the path the user can open."""
    if not shown:
        return None
    return lambda p: str(shown[p.file] / p.file) if p.file in shown else p.file


def step_patterns(
    session: Any,
    work: str,
    n: int,
    settings: Settings,
    patterns: list[Pattern],
    shown: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Match every deduplicated page against the annotators' URL patterns (in Spark); tally what
    each pattern line does."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    out_folder = iter_dir(work, n)
    matcher = session.sparkContext.broadcast(PatternMatcher(patterns))

    def match(rows: Any) -> Any:
        m = matcher.value
        for row in rows:
            found = m.label(row["host"] or "", row["path"] or "/")
            if found is not None:
                yield (row["id"], *found)

    schema = T.StructType([T.StructField(name, T.StringType()) for name in ("id", "source", "label")])
    pages = page_flags(session, work, n, settings).localCheckpoint()
    matched = (
        session.createDataFrame(pages.select("id", "host", "path").rdd.mapPartitions(match), schema)
        if len(patterns)
        else session.createDataFrame([], schema)
    )
    matched = matched.join(pages.select("id", "recalled", "in_seed"), "id").localCheckpoint()
    _write(matched.select("id", "source", "label", "recalled"), fs.join(out_folder, "matches"), settings)

    table, warnings = pattern_effects(session, pages, patterns, shown)
    for warning in warnings:
        log.warning("%s", warning)
    math = matched.filter(F.col("label") == "math")
    # counted by Spark, not on the driver: the additions may be millions of pages
    additions = session.createDataFrame(
        matched.rdd.filter(lambda r: joins_next_seed(r["label"], r["recalled"], r["in_seed"])).map(
            lambda r: (r["source"],)
        ),
        "source string",
    )
    by_source = {r["source"]: int(r["count"]) for r in additions.groupBy("source").count().collect()}
    by_source = dict(sorted(by_source.items()))
    negatives = run_table(session, settings, out_folder, "negatives").select("id")
    return {
        "patterns": len(patterns),
        "math_patterns": sum(p.label == "math" for p in patterns),
        "matched_math": math.count(),
        "matched_math_recalled": math.filter(F.col("recalled")).count(),
        "excluded": matched.filter(F.col("label") == "exclude").count(),
        "additions": sum(by_source.values()),
        "additions_by_source": dict(sorted(by_source.items())),
        # sampled as negatives this time although a math pattern matches them: the next
        # iteration leaves them out, so it trains on other data even with no additions
        "math_matched_negatives": math.select("id").join(negatives, "id").count(),
        "per_pattern": table,
        "warnings": warnings,
    }


# ---------------------------------------------------------------------------------- domains


def domain_rows(session: Any, work: str, n: int, settings: Settings) -> Any:
    """(domain, host, url, path, score, recalled, matched) of every deduplicated page with a domain."""
    from pyspark.sql import functions as F

    folder = iter_dir(work, n)
    scores = run_table(session, settings, folder, "scores")
    recalled = run_table(session, settings, folder, "recalled").select("id", F.lit(True).alias("recalled"))
    matched = run_table(session, settings, folder, "matches").select("id", F.lit(True).alias("matched"))
    return (
        kept_pages(session, work, settings)
        .select("id", "domain", "host", "url", "path")
        .join(scores, "id", "left")
        .join(recalled, "id", "left")
        .join(matched, "id", "left")
        .fillna(False, ["recalled", "matched"])
        .fillna("", ["host"])
        .filter(F.col("domain").isNotNull() & (F.col("domain") != ""))
        .select("domain", "host", "url", "path", "score", "recalled", "matched")
    )


def domain_stats(rows: Any, settings: Settings) -> tuple[Any, list[DomainStats]]:
    """(per-domain totals with `flagged`, the flagged domains' DomainStats).

    Counting per domain is a DataFrame groupBy in the JVM; only the pages of flagged domains reach
    Python, once, where `partial_prefix_stats` folds each partition into per-(host, prefix) counts
    and best examples (the library's `_TopK`), which a second groupBy adds up. The driver builds
    each flagged domain's stats with `stats_from_counts`, the same `finish` as the in-process path.
    Per flagged domain the `max_prefixes` biggest (host, prefix) rows are collected, exact; a
    domain with more than twice that is marked approximate, as the accumulator marks one it
    pruned."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    d = settings.domains
    # `rows` is read twice (totals: three columns; the flagged domains' pages: all), not cached:
    # a columnar re-read costs less than materializing every page row once
    totals = rows.groupBy("domain").agg(
        F.count(F.lit(1)).alias("pages"), F.sum(F.col("recalled").cast("long")).alias("recalled"),
        F.sum(F.col("matched").cast("long")).alias("matched"))
    totals = totals.withColumn("flagged", F.expr(flag_sql(d.min_fraction, d.min_pages))).localCheckpoint()
    flagged_pages = rows.join(totals.filter("flagged").select("domain"), "domain").select(
        "domain", "host", "url", "path", F.col("score").cast("double"), "recalled", "matched")
    strings, doubles = T.ArrayType(T.StringType()), T.ArrayType(T.DoubleType())
    schema = T.StructType([T.StructField(name, kind) for name, kind in zip(PARTIAL_COLUMNS, (
        T.StringType(), T.StringType(), T.StringType(), T.LongType(), T.LongType(), T.LongType(),
        strings, doubles, strings, doubles), strict=True)])
    examples = d.examples

    def partials(batches: Any) -> Any:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        # Arrow columns to Python lists, no pandas objects; one fold per partition (not per batch):
        # fewer partial rows to shuffle
        pages = (row for batch in batches
                 for row in zip(*(column.to_pylist() for column in batch.columns), strict=True))
        rows = list(partial_prefix_stats(pages, examples))
        arrow = to_arrow_schema(schema)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(arrow)
        arrays = [pa.array(list(values), type=f.type) for values, f in zip(columns, arrow, strict=True)]
        yield pa.RecordBatch.from_arrays(arrays, schema=arrow)

    summed = flagged_pages.mapInArrow(partials, schema).groupBy("domain", "host", "prefix").agg(
        F.sum("pages").alias("pages"), F.sum("recalled").alias("recalled"), F.sum("matched").alias("matched"),
        *(F.flatten(F.collect_list(c)).alias(c) for c in PARTIAL_COLUMNS[6:]))
    by_size = Window.partitionBy("domain").orderBy(F.col("pages").desc(), F.col("recalled").desc(),
                                                   "host", "prefix")
    summed = (summed.withColumn("rank", F.row_number().over(by_size))
              .withColumn("keys", F.count(F.lit(1)).over(Window.partitionBy("domain")))
              .filter(F.col("rank") <= d.max_prefixes))
    per_domain: dict[str, dict[str, Any]] = {}
    for r in summed.collect():
        entry = per_domain.setdefault(r["domain"], {"prefixes": [], "examples": [], "keys": r["keys"]})
        entry["prefixes"].append((r["host"], r["prefix"], r["pages"], r["recalled"], r["matched"]))
        for recalled, urls, scores in ((True, r["examples_recalled"], r["scores_recalled"]),
                                       (False, r["examples_other"], r["scores_other"])):
            entry["examples"] += [(r["host"], r["prefix"], recalled, url, score)
                                  for url, score in zip(urls, scores, strict=True)]
    flagged = [stats_from_counts(t["domain"], (t["pages"], t["recalled"], t["matched"]),
                                 per_domain[t["domain"]]["prefixes"], per_domain[t["domain"]]["examples"],
                                 d.min_fraction, d.min_pages, d.top_prefixes, d.examples,
                                 approximate=per_domain[t["domain"]]["keys"] > 2 * d.max_prefixes)
               for t in totals.filter("flagged").collect()]
    return totals, flagged


def step_domains(
    session: Any, work: str, n: int, settings: Settings, queue_dir: str | None
) -> dict[str, Any]:
    """The domains table, the annotation queue, and the flagged domains for the report."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import from_arrow_schema

    folder = iter_dir(work, n)
    totals, flagged = domain_stats(domain_rows(session, work, n, settings), settings)
    flagged.sort(key=queue_order)
    table_schema = from_arrow_schema(arrow_schema())
    paths_type = table_schema["top_paths"].dataType
    paths = session.createDataFrame(
        [(s.domain, s.to_row()["top_paths"]) for s in flagged],
        T.StructType([T.StructField("domain", T.StringType()), T.StructField("top_paths", paths_type)]))
    # recall_fraction as DomainStats computes it (pages >= 1 for every grouped domain); an
    # unflagged domain's top_paths is [], not null
    table = (totals.join(paths, "domain", "left")
             .select("domain", "pages", "recalled",
                     (F.col("recalled") / F.col("pages")).alias("recall_fraction"), "flagged",
                     F.coalesce("top_paths", F.array().cast(paths_type)).alias("top_paths")))
    _write(table, fs.join(folder, "domains"), settings, key="domain", schema=table_schema)
    domains = totals.count()
    rows = queue_rows(flagged, settings.domains.min_prefix_pages)
    store = fs.Store(settings.storage)
    text = queue_tsv(rows)
    store.write_text(fs.join(folder, "queue.tsv"), text)
    if queue_dir:  # the annotators' checkout gets a copy (a local folder under git)
        store.write_text(fs.join(queue_dir, f"iter-{n:02d}.tsv"), text)
    queued = {r["domain"] for r in rows}
    return {
        "domains": domains,
        "flagged": len(flagged),
        "queued_domains": len(queued),
        "queue_rows": len(rows),
        "flagged_domains": [_flagged_summary(s, s.domain not in queued) for s in flagged[:50]],
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
                "host": p.host,
                "prefix": p.prefix,
                "pages": p.pages,
                "recalled": p.recalled,
                "matched": p.matched,
                "pattern": p.pattern(),
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
    an `exclude` pattern matched (`pipeline.loop.selection` per page)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    folder = iter_dir(work, last)
    matches = run_table(session, settings, folder, "matches").select("id", "source", "label")
    recalled = run_table(session, settings, folder, "recalled").select("id", F.lit(True).alias("by_score"))
    both = recalled.join(matches, "id", "full").fillna(False, ["by_score"])

    def choose(row: Any) -> Any:
        chosen = selection(row["by_score"], row["label"], row["source"])
        return [] if chosen is None else [(row["id"], *chosen)]

    schema = T.StructType([T.StructField(name, T.StringType()) for name in ("id", "selected_by", "source")])
    chosen = session.createDataFrame(both.rdd.flatMap(choose), schema)
    scores = run_table(session, settings, folder, "scores")
    corpus = (
        chosen.join(
            kept_pages(session, work, settings).select("id", "url", "domain", "text", "text_chars"), "id"
        )
        .join(scores, "id", "left")
        .select("id", "url", "domain", "text", "text_chars", "selected_by", "score", "source")
    ).localCheckpoint()
    _write(corpus, fs.join(work, "selected"), settings)
    counts = {r["selected_by"]: int(r["count"]) for r in corpus.groupBy("selected_by").count().collect()}
    tokens = corpus.agg(F.sum(tokens_column(settings)).alias("t")).collect()[0]["t"]
    return {
        "iteration": last,
        "pages": sum(counts.values()),
        "by_score": counts.get("score", 0),
        "by_pattern": counts.get("pattern", 0),
        "excluded_by_pattern": matches.filter(F.col("label") == "exclude").count(),
        "tokens_estimated": int(tokens or 0),
    }


def page_snippets(
    session: Any, work: str, settings: Settings, urls: list[str], ids: list[str]
) -> dict[str, dict[str, str]]:
    """Title (first line) and a snippet of the pages with these URLs or ids, for the report."""
    from pyspark.sql import functions as F

    if not urls and not ids:
        return {}
    pages = kept_pages(session, work, settings).select("id", "url", "text")
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


def read_json(settings: Settings, path: str) -> dict[str, Any]:
    return fs.Store(settings.storage).read_json(path)
