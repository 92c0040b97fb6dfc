"""Spark driver: remove benchmark text from the selected pages -> `corpus` and `decontam_hits`.

The n-gram index (`pipeline.decontam.NgramIndex`) is built once on the driver from the benchmark
files and broadcast as bytes; each Python worker rebuilds it once and cleans whole Arrow batches
with `decontaminate_batch`. Every input page is counted: clean (untouched), modified (segments
removed) or dropped (`decontam_too_short`: too little text left after removal). The corpus is read by
`pipeline.decontam.read_corpus`: a null or duplicate id stops the job with one line naming the file
and rows (CorpusError); text that is not valid UTF-8 is kept with each bad byte as U+FFFD and counted
(`text_repaired.invalid_utf8`).

Outputs (DESIGN.md sections 4 and 5): the corpus table (the input's columns, `text` cleaned, a
timestamp column such as the pages table's `fetch_time` as UTC timestamp[us]: `_writable`),
the hits table (`id`, `benchmark`, `problem_id`, `ngram`, `start`, `end` plus the removed
segment's `segment_start` / `segment_end`), and a report per benchmark (JSON and Markdown): pages
hit, segments removed, characters removed, top contaminated domains.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from jobs.common import write_stats
from pipeline import fs
from pipeline.config import ConfigError, Settings
from pipeline.decontam import (
    INVALID_UTF8,
    BenchmarkSpec,
    CorpusError,
    NgramIndex,
    load_benchmark_specs,
    read_corpus,
)
from pipeline.report import markdown_text
from pipeline.spark import SessionFactory, write_table

log = logging.getLogger(__name__)

_INDEX_CACHE: dict[str, NgramIndex] = {}


def _index_from(digest: str, data: Any) -> NgramIndex:
    """One index per worker process (a broadcast's value is read once per task otherwise)."""
    index = _INDEX_CACHE.get(digest)
    if index is None:
        _INDEX_CACHE.clear()
        index = _INDEX_CACHE[digest] = NgramIndex.from_bytes(data.value)
    return index


def benchmark_specs(
    settings: Settings,
    benchmarks_file: str | None = None,
    root: str | None = None,
    extra: list[BenchmarkSpec] | None = None,
    extra_root: str | None = None,
) -> tuple[list[tuple[BenchmarkSpec, str]], list[str]]:
    """(spec, root) pairs whose files exist, and the names of configured sets whose files are
    missing (reported, never silently skipped)."""
    d = settings.decontaminate
    conf = d.benchmarks_file if benchmarks_file is None else benchmarks_file
    root = root or d.benchmarks_root
    found: list[tuple[BenchmarkSpec, str]] = []
    missing: list[str] = []
    if conf:
        for spec in load_benchmark_specs(conf):
            if (Path(root) / spec.file).exists():
                found.append((spec, root))
            else:
                missing.append(f"{spec.name} ({Path(root) / spec.file})")
    for spec in extra or []:
        found.append((spec, extra_root or root))
    if not found:
        raise ConfigError(
            f"decontaminate: no benchmark file found under {root} (`make benchmarks` fetches them; "
            "or --set decontaminate.benchmarks_root=DIR)"
        )
    return found, missing


def build_index(specs: list[tuple[BenchmarkSpec, str]], settings: Settings) -> NgramIndex:
    d = settings.decontaminate
    by_root: dict[str, list[BenchmarkSpec]] = {}
    for spec, root in specs:
        by_root.setdefault(root, []).append(spec)
    if len(by_root) == 1:
        ((root, group),) = by_root.items()
        return NgramIndex.build(group, root, n=d.ngram, min_n=d.min_ngram, min_prose=d.min_prose_words,
                                formula_words=d.formula_run_words)
    # Specs from several roots (the sample's own file beside the configured sets): absolute files.
    absolute = [BenchmarkSpec(**{**vars(spec), "file": str(Path(root) / spec.file)}) for spec, root in specs]
    return NgramIndex.build(absolute, "/", n=d.ngram, min_n=d.min_ngram, min_prose=d.min_prose_words,
                            formula_words=d.formula_run_words)


def run(
    input_dir: str,
    corpus_dir: str,
    out_dir: str,
    settings: Settings,
    specs: list[tuple[BenchmarkSpec, str]],
    missing: list[str] | None = None,
    factory: SessionFactory | None = None,
) -> dict[str, Any]:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from pipeline.decontam import decontaminate_batch

    start = time.monotonic()
    d = settings.decontaminate
    own_factory = factory is None
    factory = factory or SessionFactory(settings)
    session = factory.get()
    try:
        store = fs.Store(settings.storage)
        # Ids checked (a bad corpus fails here, before the index is built), `text` made valid UTF-8,
        # the repaired rows flagged and counted below: pipeline.decontam.read_corpus.
        pages = read_corpus(session, store, input_dir)
        columns = [c for c in pages.columns if c != INVALID_UTF8]
        _writable(pages.select(*columns), session)  # a column the writer refuses fails now, not at the end
        index_start = time.monotonic()
        index = build_index(specs, settings)
        data = index.to_bytes()
        digest = hashlib.sha256(data).hexdigest()[:16]
        index_seconds = round(time.monotonic() - index_start, 2)
        domain = F.col("domain") if "domain" in columns else F.lit("")
        broadcast = session.sparkContext.broadcast(data)
        hit_type = T.StructType(
            [
                T.StructField("benchmark", T.StringType()),
                T.StructField("problem_id", T.StringType()),
                T.StructField("ngram", T.StringType()),
                T.StructField("start", T.IntegerType()),
                T.StructField("end", T.IntegerType()),
                T.StructField("segment_start", T.IntegerType()),
                T.StructField("segment_end", T.IntegerType()),
            ]
        )
        schema = T.StructType(
            [
                T.StructField("id", T.StringType()),
                T.StructField("clean_text", T.StringType()),
                T.StructField("removed_chars", T.IntegerType()),
                T.StructField("removed_segments", T.IntegerType()),
                T.StructField("hits", T.ArrayType(hit_type)),
            ]
        )
        min_chars = d.min_chars_left

        def clean(batches: Any) -> Any:
            import pandas as pd

            idx = _index_from(digest, broadcast)
            for batch in batches:
                texts = batch["text"].fillna("").tolist()
                results = decontaminate_batch(texts, idx)
                hits, chars, segments = [], [], []
                for result in results:
                    spans = result.removed
                    chars.append(sum(e - s for s, e in spans))
                    segments.append(len(spans))
                    rows = []
                    for h in result.hits:
                        seg = next(((s, e) for s, e in spans if s <= h.start < e), (h.start, h.end))
                        rows.append(
                            {
                                "benchmark": h.benchmark,
                                "problem_id": h.problem_id,
                                "ngram": h.ngram,
                                "start": h.start,
                                "end": h.end,
                                "segment_start": seg[0],
                                "segment_end": seg[1],
                            }
                        )
                    hits.append(rows)
                yield pd.DataFrame(
                    {
                        "id": batch["id"],
                        "clean_text": [r.text for r in results],
                        "removed_chars": chars,
                        "removed_segments": segments,
                        "hits": hits,
                    }
                )

        cleaned = pages.select("id", "text").mapInPandas(clean, schema)
        status = (
            F.when(F.col("removed_segments") == 0, F.lit("clean"))
            .when(F.length(F.trim("clean_text")) < min_chars, F.lit("decontam_too_short"))
            .otherwise(F.lit("modified"))
        )
        result = (
            pages.withColumn("_domain", domain)
            .join(cleaned, "id")
            .withColumn("status", status)
            .localCheckpoint()
        )

        kept = result.filter(F.col("status") != "decontam_too_short")
        corpus = kept.withColumn("text", F.col("clean_text"))
        if "text_chars" in columns:
            corpus = corpus.withColumn("text_chars", F.length("clean_text").cast("int"))
        corpus = _writable(corpus.select(*columns), session)
        write_table(corpus, store, corpus_dir, d.output_parts, "id")

        hits = (
            result.select("id", F.col("_domain").alias("domain"), "status", F.explode("hits").alias("h"))
            .select("id", "domain", "status", "h.*")
            .localCheckpoint()
        )
        write_table(hits.drop("domain", "status"), store, fs.join(out_dir, "hits"), d.output_parts, "id")

        counts = {r["status"]: int(r["count"]) for r in result.groupBy("status").count().collect()}
        totals = result.agg(
            F.sum("removed_chars").alias("chars"),
            F.sum("removed_segments").alias("segments"),
            F.sum(F.length("text")).alias("chars_in"),
            F.sum(F.col(INVALID_UTF8).cast("long")).alias("invalid_utf8"),
        ).collect()[0]
        report = _benchmark_report(hits, index, specs)
    finally:
        if own_factory:
            factory.stop()
    pages_in = sum(counts.values())
    stats: dict[str, Any] = {
        "stage": "decontaminate",
        "pages_in": pages_in,
        "pages_clean": counts.get("clean", 0),
        "pages_modified": counts.get("modified", 0),
        "pages_dropped": {"decontam_too_short": counts.get("decontam_too_short", 0)},
        "pages_out": counts.get("clean", 0) + counts.get("modified", 0),
        "segments_removed": int(totals["segments"] or 0),
        "chars_removed": int(totals["chars"] or 0),
        "chars_in": int(totals["chars_in"] or 0),
        # Kept pages whose text was not valid UTF-8, each bad byte now U+FFFD (pipeline.decontam.read_corpus).
        "text_repaired": {"invalid_utf8": int(totals["invalid_utf8"] or 0)},
        "ngram": d.ngram,
        "min_ngram": d.min_ngram,
        "min_chars_left": min_chars,
        "index": {"bytes": len(data), "build_seconds": index_seconds, "benchmarks": index.stats},
        "benchmarks_missing": missing or [],
        "per_benchmark": report,
        "seconds": round(time.monotonic() - start, 2),
    }
    stats["invariant_holds"] = stats["pages_in"] == stats["pages_out"] + counts.get("decontam_too_short", 0)
    write_stats(out_dir, stats, settings)
    store.write_json(fs.join(out_dir, "report.json"), stats)
    store.write_text(fs.join(out_dir, "report.md"), report_markdown(stats))
    return stats


def _writable(df: Any, session: Any) -> Any:
    """`df` with its timestamp columns as `pipeline.spark.write_table` can write them. The pages
    table's `fetch_time` is a UTC instant (Parquet timestamp[us, tz=UTC], Spark TIMESTAMP), and the
    writer's Arrow schema conversion asserts on TIMESTAMP columns (it passes no time zone). A
    TIMESTAMP_NTZ holding the UTC wall clock converts: the same instant, written as timestamp[us]
    (UTC, by this rule, without the tz annotation). Nested timestamps are refused in one line."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    zone = session.conf.get("spark.sql.session.timeZone")
    out = []
    for field in df.schema.fields:
        if isinstance(field.dataType, T.TimestampType):
            # TIMESTAMP -> NTZ gives the wall clock in the session's zone; convert_timezone makes it UTC's
            utc = F.convert_timezone(F.lit(zone), F.lit("UTC"), F.col(field.name).cast("timestamp_ntz"))
            out.append(utc.alias(field.name))
        elif _holds_timestamp(field.dataType):
            raise CorpusError(f"corpus column `{field.name}` ({field.dataType.simpleString()}): a timestamp "
                              "inside a nested column cannot be written; drop or flatten it")
        else:
            out.append(F.col(field.name))
    return df.select(*out)


def _holds_timestamp(dtype: Any) -> bool:
    from pyspark.sql import types as T

    if isinstance(dtype, T.TimestampType):
        return True
    if isinstance(dtype, T.ArrayType):
        return _holds_timestamp(dtype.elementType)
    if isinstance(dtype, T.MapType):
        return _holds_timestamp(dtype.keyType) or _holds_timestamp(dtype.valueType)
    if isinstance(dtype, T.StructType):
        return any(_holds_timestamp(f.dataType) for f in dtype.fields)
    return False


def _benchmark_report(hits: Any, index: NgramIndex, specs: list[tuple[BenchmarkSpec, str]]) -> dict[str, Any]:
    """Per benchmark: pages hit, segments and characters removed, problems hit, top domains."""
    from pyspark.sql import functions as F

    segments = hits.select("benchmark", "id", "domain", "segment_start", "segment_end").distinct()
    per = {
        r["benchmark"]: r
        for r in segments.groupBy("benchmark")
        .agg(
            F.countDistinct("id").alias("pages"),
            F.count("*").alias("segments"),
            F.sum(F.col("segment_end") - F.col("segment_start")).alias("chars"),
        )
        .collect()
    }
    problems = {
        r["benchmark"]: int(r["n"])
        for r in hits.groupBy("benchmark").agg(F.countDistinct("problem_id").alias("n")).collect()
    }
    top: dict[str, list[dict[str, Any]]] = {}
    for r in (
        segments.select("benchmark", "domain", "id")
        .distinct()
        .groupBy("benchmark", "domain")
        .count()
        .orderBy("benchmark", F.desc("count"), "domain")
        .collect()
    ):
        rows = top.setdefault(r["benchmark"], [])
        if len(rows) < 10:
            rows.append({"domain": r["domain"] or "", "pages": int(r["count"])})
    out = {}
    for spec, _ in specs:
        row = per.get(spec.name)
        out[spec.name] = {
            "pages_hit": int(row["pages"]) if row else 0,
            "segments_removed": int(row["segments"]) if row else 0,
            "chars_removed": int(row["chars"] or 0) if row else 0,
            "problems_hit": problems.get(spec.name, 0),
            "texts_indexed": index.stats.get(spec.name, {}).get("texts", 0),
            "top_domains": top.get(spec.name, []),
        }
    return out



def report_markdown(stats: dict[str, Any]) -> str:
    lines = [
        "# Decontamination",
        "",
        f"{stats['pages_in']:,} pages in: {stats['pages_clean']:,} untouched, "
        f"{stats['pages_modified']:,} with segments removed, "
        f"{stats['pages_dropped']['decontam_too_short']:,} dropped (fewer than "
        f"{stats['min_chars_left']} characters left). {stats['segments_removed']:,} segments and "
        f"{stats['chars_removed']:,} of {stats['chars_in']:,} characters removed. "
        f"{_repaired_text(stats)}Rule: a line holding a "
        f"{stats['ngram']}-gram of a benchmark text, or a whole benchmark text of {stats['min_ngram']} to "
        f"{stats['ngram'] - 1} words.",
        "",
        "| benchmark | texts indexed | problems hit | pages hit | segments removed | characters removed "
        "| top domains |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in sorted(stats["per_benchmark"].items()):
        top = row["top_domains"][:5]
        domains = ", ".join(f"{markdown_text(d['domain'])} ({d['pages']})" for d in top) or "-"
        lines.append(
            f"| {markdown_text(name)} | {row['texts_indexed']:,} | {row['problems_hit']:,} "
            f"| {row['pages_hit']:,} "
            f"| {row['segments_removed']:,} | {row['chars_removed']:,} | {domains} |"
        )
    if stats["benchmarks_missing"]:
        lines += [
            "",
            "Configured but not found (not checked): "
            + ", ".join(markdown_text(m) for m in stats["benchmarks_missing"]),
        ]
    return "\n".join(lines) + "\n"


def _repaired(stats: dict[str, Any]) -> int:
    return stats.get("text_repaired", {}).get("invalid_utf8", 0)  # stats of older runs lack the key


def _repaired_text(stats: dict[str, Any]) -> str:
    count = _repaired(stats)
    return (f"{count:,} page text(s) were not valid UTF-8: kept, each bad byte replaced by U+FFFD. "
            if count else "")


def summary_line(stats: dict[str, Any]) -> str:
    hit = {k: v["pages_hit"] for k, v in stats["per_benchmark"].items() if v["pages_hit"]}
    hits = ", ".join(f"{k} {v}" for k, v in sorted(hit.items())) or "none"
    return (
        f"decontaminate: {stats['pages_in']} pages -> {stats['pages_out']} kept ({stats['pages_modified']} "
        f"modified, {stats['pages_dropped']['decontam_too_short']} dropped as decontam_too_short); "
        f"{stats['segments_removed']} segments, {stats['chars_removed']} chars removed; pages hit by "
        f"benchmark: {hits}; {len(stats['per_benchmark'])} benchmark(s) checked"
        + (f", {len(stats['benchmarks_missing'])} missing" if stats["benchmarks_missing"] else "")
        + (f"; {repaired} text(s) with invalid UTF-8 repaired" if (repaired := _repaired(stats)) else "")
        + ("; accounting balanced" if stats["invariant_holds"] else "; ACCOUNTING MISMATCH")
    )
