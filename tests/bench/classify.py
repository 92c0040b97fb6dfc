"""Classifier and domain-statistics benchmark, against baselines measured in the same run.

1. Scoring speed, pages/s/core, on the kept (deduplicated) pages of the real WARCs under
   ../shared/data/warc_repackaged (ingested with jobs.ingest and deduplicated with jobs.dedup into a
   temporary folder, as tests/test_score.py does), repeated `--copies` times, for each model: trained on
   bookofproofs Markdown (positives) vs web articles (negatives) with the paper's settings (dim 256,
   word 3-grams) and bucket 2,000,000 (the paper's, a 2 GB model) or 50,000 (the demo's):
     ceiling  fastText's own `model.predict(texts, k=2)` on already normalized texts, one process
     ours     `pipeline.classify.score_texts(model, texts)`, one process (normalizes, then predicts)
     spark    `jobs.score.run` end to end on local[N] (N = cores) over a pages table of the copies
   In-process rows: pages per CPU-second of this process. Spark row: pages / (wall s x N), the session
   already started (the ingest and dedup jobs ran on it), its wall including the model's shipping and
   loading by each Python worker, the Parquet read, the join with the dedup table and the sorted write.
2. Domain statistics over `--rows` synthetic (domain, host, url, path, score, recalled, matched) rows
   (Zipf-sized domains): a naive `defaultdict` count per domain and per (domain, host, path prefix) (the
   baseline), in-process `pipeline.domains.aggregate_domains`, and the iterate job's Spark path
   (`jobs.loop.domain_stats`: groupBy counts, prefixes and examples for flagged domains only) on
   local[N] reading the rows from Parquet.

    python -m tests.bench.classify [--copies 10] [--buckets 2000000,50000] [--rows 1000000] [--skip-spark] ...
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from tests.bench.dedup import cpu_seconds  # one CPU-time harness for every bench

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MATHMINE_DATA", ROOT.parent / "shared" / "data"))  # as tests/conftest.py
SEED = 1234


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (Linux /proc/stat; zeros elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def timed(work: Callable[[], object], repeat: int = 1) -> tuple[float, float, float, object]:
    """(cpu_s of this process, wall_s, share of the machine's CPUs busy, result) of the run with the
    least CPU time of `repeat`."""
    best = None
    for _ in range(repeat):
        busy0, total0 = machine_busy()
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        result = work()
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        busy1, total1 = machine_busy()
        run = (cpu, wall, (busy1 - busy0) / max(1, total1 - total0), result)
        best = run if best is None or run[0] < best[0] else best
    assert best is not None
    return best


CONTENDED: list[str] = []  # rows that ran while other processes used the CPUs


def note_contention(name: str, busy: float, expected: float) -> None:
    if busy > expected + 0.15:
        CONTENDED.append(f"{name.strip()} ({busy:.0%} busy, {expected:.0%} expected)")


def versions(cores: int) -> str:
    import pyspark

    import pipeline.classify  # noqa: F401  (fastText is imported lazily)

    dist = metadata.packages_distributions().get("fasttext", ["fasttext"])[0]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"machine: {cores} cores ({cpu}); Python {platform.python_version()}, {dist} "
            f"{metadata.version(dist)}, pyspark {pyspark.__version__}, numpy {np.__version__}")


# ---------------------------------------------------------------------------------------------
# 1. Scoring


def training_data() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """As tests/test_score.py: bookofproofs Markdown sources (not in the WARC) vs web articles, balanced."""
    with gzip.open(DATA / "math_text" / "bookofproofs_markdown" / "bookofproofs_markdown.jsonl.gz", "rt",
                   encoding="utf-8") as fh:
        positives = [(f"bop:{i}", json.loads(line)["text"]) for i, line in enumerate(fh)]
    lines = (DATA / "general_text" / "web_article_clean_texts.jsonl").read_text(encoding="utf-8").splitlines()
    negatives = [(r["id"], r["text"]) for r in map(json.loads, lines)]
    return positives[: len(negatives)], negatives


def replicate(src: Path, dest: Path, copies: int) -> None:
    """Write `copies` Parquet files of the table at `src`, ids suffixed `~k` so that all are distinct."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    ids = table.column("id").to_pylist()
    at = table.schema.get_field_index("id")
    dest.mkdir()
    for k in range(copies):
        copy = table.set_column(at, "id", pa.array([f"{i}~{k}" for i in ids], pa.string()))
        pq.write_table(copy, dest / f"part-{k:05d}.parquet", compression="zstd")


def scoring_bench(args: argparse.Namespace, cores: int, factory: object, tmp: Path) -> None:
    import pyarrow.parquet as pq

    from jobs import dedup as dedup_job
    from jobs import ingest as ingest_job
    from pipeline.classify import normalize

    settings = factory.settings  # type: ignore[attr-defined]
    warcs = sorted((DATA / "warc_repackaged").glob("*/*.warc.gz"))
    if not warcs:
        sys.exit(f"no WARCs under {DATA / 'warc_repackaged'}")
    start = time.perf_counter()
    factory.get()  # type: ignore[attr-defined]
    jvm = time.perf_counter() - start
    start = time.perf_counter()
    ingest = ingest_job.run(",".join(map(str, warcs)), str(tmp / "pages"), settings, factory=factory)
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the job prints its LSH parameters
        dedup = dedup_job.run(str(tmp / "pages"), str(tmp / "dedup"), settings, factory=factory)
    dedup_s = time.perf_counter() - start
    kept = {r["id"] for r in pq.read_table(tmp / "dedup", columns=["id", "keep"]).to_pylist() if r["keep"]}
    pages = sorted((r["id"], r["text"] or "") for r in pq.read_table(tmp / "pages", columns=["id", "text"])
                   .to_pylist() if r["id"] in kept)
    unique = [text for _, text in pages]
    texts = unique * args.copies
    normalized = [normalize(t) for t in unique] * args.copies
    replicate(tmp / "pages", tmp / "pages_x", args.copies)
    replicate(tmp / "dedup", tmp / "dedup_x", args.copies)
    print(f"pages: {len(warcs)} WARCs, {ingest['html_responses']} HTML responses -> {ingest['pages_kept']} pages (Spark ingest {ingest_s:.1f}s after a "
          f"{jvm:.1f}s session start) -> {dedup['kept']} kept by dedup ({dedup_s:.1f}s); scored x{args.copies} "
          f"= {len(texts)} pages, {sum(map(len, unique)) / len(unique):.0f} chars/page on average, "
          f"{sum(len(t.split()) for t in normalized[: len(unique)]) / len(unique):.0f} words")
    positives, negatives = training_data()

    print(f"\nscoring: pages/s/core; in-process rows per CPU-second of this process, Spark per "
          f"(wall s x {cores} cores), session already started; ratio = to the ceiling of the same model")
    print(f"(busy: share of all the machine's CPUs in use during the row, any process; one process is "
          f"{1 / cores:.0%}; in-process rows: best of {args.repeat} by CPU time)")
    print(f"{'what':72} {'cpu s':>7} {'wall s':>7} {'busy':>5} {'pages/s/core':>13} {'ratio':>6}")
    for bucket in args.buckets:
        model_bench(args, cores, factory, tmp, bucket, [i for i, _ in pages], texts, normalized,
                    positives, negatives)


def model_bench(args: argparse.Namespace, cores: int, factory: object, tmp: Path, bucket: int, ids: list[str],
                texts: list[str], normalized: list[str], positives: list[tuple[str, str]],
                negatives: list[tuple[str, str]]) -> None:
    import pyarrow.parquet as pq

    from jobs import score as score_job
    from pipeline.classify import FastTextParams, load_model, normalize, score_texts, train
    from tests.bench.dedup import timed_actions

    params = FastTextParams(bucket=bucket)
    model_path = tmp / f"model-{bucket}.bin"
    start = time.perf_counter()
    metrics = train(positives, negatives, params, str(model_path))
    train_s = time.perf_counter() - start
    load_model.cache_clear()
    start = time.perf_counter()
    model = load_model(str(model_path))  # the file is in the page cache: it was just written and read
    load_s = time.perf_counter() - start
    print(f"-- model dim {params.dim}, bucket {bucket:,}, word {params.word_ngrams}-grams, {params.epoch} "
          f"epochs: {model_path.stat().st_size / 2**20:,.0f} MiB, trained in {train_s:.1f}s on "
          f"{metrics['train_positives']}+{metrics['train_negatives']} texts (held-out AUC {metrics['auc']}), "
          f"load_model {load_s:.1f}s")
    rates: dict[str, float] = {}

    def show(key: str, name: str, cpu: float, wall: float, busy: float, rate: float) -> None:
        rates[key] = rate
        ratio = f"{rate / rates['ceiling']:6.2f}" if "ceiling" in rates else ""
        print(f"{name:72} {cpu:7.2f} {wall:7.2f} {busy:5.0%} {rate:13.1f} {ratio:>6}", flush=True)
        note_contention(f"bucket {bucket}: {name}", busy, 1.0 if key == "spark" else 1 / cores)

    cpu, wall, busy, _ = timed(lambda: model.predict(normalized, k=2), args.repeat)
    show("ceiling", "ceiling: fastText model.predict(normalized texts, k=2)", cpu, wall, busy, len(texts) / cpu)
    cpu, wall, busy, ours = timed(lambda: score_texts(model, texts), args.repeat)
    show("ours", "mathmine score_texts(model, texts), in-process", cpu, wall, busy, len(texts) / cpu)
    cpu, wall, busy, _ = timed(lambda: [normalize(t) for t in texts], args.repeat)
    show("normalize", "  of which normalize() alone (for reference)", cpu, wall, busy, len(texts) / cpu)
    if not args.skip_spark:
        out = tmp / f"scores-{bucket}"
        with timed_actions() as actions:
            cpu, wall, busy, stats = timed(lambda: score_job.run(
                str(tmp / "pages_x"), str(tmp / "dedup_x"), str(model_path), str(out), factory.settings,
                factory=factory))
        show("spark", f"Spark jobs.score.run, local[{cores}], end to end (per wall x cores)", cpu, wall, busy,
             len(texts) / (wall * cores))
        ranked = sorted(((sum(t), where) for where, t in actions.items() if sum(t) >= 0.05), reverse=True)
        print("   Spark wall by action: " + ", ".join(f"{where} {t:.1f}s" for t, where in ranked)
              + f", other {wall - sum(t for t, _ in ranked):.1f}s")
        got = {r["id"]: r["score"] for r in pq.read_table(out, columns=["id", "score"]).to_pylist()}
        expected = dict(zip((f"{i}~{k}" for k in range(args.copies) for i in ids), ours, strict=True))
        same = len(got) == len(expected) and all(got[i] == np.float32(s) for i, s in expected.items())
        print(f"   check: Spark scored {stats['pages_scored']} pages, scores == score_texts in-process: {same}")
    t_ceiling, t_ours, t_norm = (len(texts) / rates[k] for k in ("ceiling", "ours", "normalize"))
    print(f"   where score_texts' {t_ours:.2f} CPU s go: predict ~{t_ceiling:.2f}s ({t_ceiling / t_ours:.0%}), "
          f"normalize ~{t_norm:.2f}s ({t_norm / t_ours:.0%}), the rest (label lookup, list building) "
          f"~{t_ours - t_ceiling - t_norm:.2f}s{' (negative: within the noise of the rows)' if t_ours < t_ceiling + t_norm else ''}")
    load_model.cache_clear()
    model_path.unlink()


# ---------------------------------------------------------------------------------------------
# 2. Domain statistics

WORDS = ("prime", "group", "ring", "field", "limit", "integral", "matrix", "graph", "proof", "lemma", "news",
         "sports", "recipe", "travel", "music", "movie", "review", "price", "garden", "health", "city", "game")
TLDS = ("com", "org", "net", "edu", "io", "de", "co.uk", "fr")


DomainRow = tuple[str, str, str, str, float, bool, bool]  # (domain, host, url, path, score, recalled, matched)


def make_rows(n: int, n_domains: int, seed: int = SEED) -> list[DomainRow]:
    """n deterministic (domain, host, url, path, score, recalled, matched) rows: domain sizes Zipf-like
    (rank^-1.1), each domain one of a few URL layouts, scores Beta-distributed with a per-domain math
    propensity. `host` is the URL's host as the pages table has it (`www.<domain>`, lower case);
    `matched` (some annotator pattern matched the page) is True for a deterministic 1 in 20 pages."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_domains + 1) ** 1.1
    domain_of = rng.choice(n_domains, size=n, p=weights / weights.sum())
    names = [f"{WORDS[i % len(WORDS)]}{i}.{TLDS[i % len(TLDS)]}" for i in range(n_domains)]
    hosts = [f"www.{name}" for name in names]  # the host of every URL of the domain
    layout = rng.integers(0, 6, size=n_domains)
    math_a = np.where(rng.random(n_domains) < 0.05, 3.0, 0.4)  # 5% of domains mostly math
    scores = rng.beta(math_a[domain_of], 2.0).astype(np.float32)
    ids = rng.integers(1, 10_000_000, size=n)
    words = rng.integers(0, len(WORDS), size=(n, 2))
    sections = ("questions", "wiki", "blog", "forum", "tag", "")
    rows = []
    for i in range(n):
        d = int(domain_of[i])
        w1, w2 = WORDS[words[i, 0]], WORDS[words[i, 1]]
        kind = (int(layout[d]) + int(ids[i] % 7 == 0)) % 6  # most pages of a domain share a layout
        if kind == 0:
            path = f"/questions/{ids[i]}/{w1}-{w2}-{ids[i] % 97}"
        elif kind == 1:
            path = f"/wiki/{w1.capitalize()}_{w2}_{ids[i] % 5000}"
        elif kind == 2:
            path = f"/{2000 + ids[i] % 25}/{ids[i] % 12 + 1:02d}/{w1}-{w2}.html"
        elif kind == 3:
            path = f"/forum/topic/{ids[i]:x}a{ids[i] % 1000:03d}"
        elif kind == 4:
            path = f"/{sections[ids[i] % 6]}/{w1}/{ids[i]}.html" if ids[i] % 6 != 5 else f"/{w1}"
        else:
            path = "/" if ids[i] % 50 == 0 else f"/p/{ids[i]}"
        score = float(scores[i])
        url = f"https://{hosts[d]}{path}"
        rows.append((names[d], hosts[d], url, path, score, score >= 0.5, int(ids[i]) % 20 == 3))
    assert not rows or urlsplit(rows[0][2]).hostname == rows[0][1]  # the host is the URL's
    return rows


def naive_counts(rows: list[DomainRow]) -> tuple[dict[str, list[int]], dict[tuple[str, str, str], list[int]]]:
    """The baseline: [pages, recalled, matched] per domain and per (domain, host, prefix), in plain
    dicts; the host in the accumulator's grouping form (lower case, no trailing dot, no `www.`), a
    page counted once per distinct prefix of `path_prefixes`, as `pipeline.domains` does."""
    from pipeline.annotation import strip_www
    from pipeline.domains import path_prefixes

    domains: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    prefixes: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for domain, host, _url, path, _score, recalled, matched in rows:
        if not domain:
            continue
        counts = domains[domain]
        counts[0] += 1
        counts[1] += recalled
        counts[2] += matched
        name = strip_www((host or "").strip().lower().rstrip("."))
        first, second = path_prefixes(path)
        for prefix in (first,) if second == first else (first, second):
            counts = prefixes[domain, name, prefix]
            counts[0] += 1
            counts[1] += recalled
            counts[2] += matched
    return domains, prefixes


def spark_domains(session: object, parquet: str) -> tuple[list, list]:
    """The iterate job's domain statistics (jobs.loop.domain_stats: DataFrame groupBy counts, prefixes
    and examples for the flagged domains only): (per-domain totals rows, flagged DomainStats)."""
    from jobs.loop import domain_stats
    from pipeline.config import load_settings

    df = session.read.parquet(parquet)  # type: ignore[attr-defined]
    rows = df.select("domain", "host", "url", "path", "score", "recalled", "matched").filter("domain != ''")
    totals, flagged = domain_stats(rows, load_settings(None, []))
    return totals.collect(), flagged


def domains_bench(args: argparse.Namespace, cores: int, factory: object, tmp: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.domains import aggregate_domains

    start = time.perf_counter()
    rows = make_rows(args.rows, args.domains)
    gen_s = time.perf_counter() - start
    parquet = tmp / "domain_rows"
    parquet.mkdir()
    columns = list(zip(*rows, strict=True))
    table = pa.table({"domain": pa.array(columns[0], pa.string()), "host": pa.array(columns[1], pa.string()),
                      "url": pa.array(columns[2], pa.string()), "path": pa.array(columns[3], pa.string()),
                      "score": pa.array(columns[4], pa.float32()), "recalled": pa.array(columns[5], pa.bool_()),
                      "matched": pa.array(columns[6], pa.bool_())})
    del columns
    bounds = np.linspace(0, len(rows), args.parts + 1).astype(int)
    for part in range(args.parts):
        pq.write_table(table.slice(bounds[part], bounds[part + 1] - bounds[part]),
                       parquet / f"part-{part:05d}.parquet", compression="zstd")
    sizes = sorted(np.unique(table.column("domain").to_numpy(zero_copy_only=False), return_counts=True)[1])
    print(f"\ndomain statistics: {len(rows):,} synthetic rows (generated in {gen_s:.1f}s, seed {SEED}), "
          f"{len(sizes):,} domains (largest {sizes[-1]:,} rows, median {sizes[len(sizes) // 2]}), "
          f"{sum(table.column('recalled').to_pylist()):,} recalled, {sum(table.column('matched').to_pylist()):,} "
          f"matched; Parquet {args.parts} parts, "
          f"{sum(p.stat().st_size for p in parquet.iterdir()) / 2**20:.0f} MiB")
    del table
    print(f"(in-process: one run each over the rows in memory, rows/s/core per CPU s; Spark: best of 2 after a "
          f"warm-up, per wall s x {cores} cores, reading the Parquet files; ratio = to the baseline)")
    print(f"{'what':72} {'cpu s':>7} {'wall s':>7} {'busy':>5} {'rows/s':>10} {'rows/s/core':>12} {'ratio':>6}")
    rates: dict[str, float] = {}

    def show(key: str, name: str, cpu: float, wall: float, busy: float, per_core: float) -> None:
        rates[key] = per_core
        ratio = f"{per_core / rates['naive']:6.2f}" if "naive" in rates else ""
        print(f"{name:72} {cpu:7.2f} {wall:7.2f} {busy:5.0%} {len(rows) / wall:10.0f} {per_core:12.0f} "
              f"{ratio:>6}", flush=True)
        note_contention(f"domains: {name}", busy, 1.0 if key == "spark" else 1 / cores)

    cpu, wall, busy, (naive, naive_prefixes) = timed(lambda: naive_counts(rows))
    show("naive", "baseline: defaultdict counts per domain + (host, path_prefixes)", cpu, wall, busy,
         len(rows) / cpu)
    cpu, wall, busy, ours = timed(lambda: aggregate_domains(rows))
    show("ours", "mathmine aggregate_domains, in-process (rows in memory)", cpu, wall, busy, len(rows) / cpu)
    totals_ok = {s.domain: [s.pages, s.recalled, s.matched] for s in ours} == dict(naive)
    # Per (host, prefix): the top_paths of the flagged domains kept exactly (not pruned) against the
    # baseline's counts of the same keys.
    shown = [(s.domain, p) for s in ours if s.flagged and not s.approximate for p in s.top_paths]
    paths_ok = all(naive_prefixes.get((d, p.host, p.prefix)) == [p.pages, p.recalled, p.matched]
                   for d, p in shown)
    spark = None
    if not args.skip_spark:
        session = factory.get()  # type: ignore[attr-defined]

        def plain_count() -> list:
            return session.read.parquet(str(parquet)).groupBy("domain").count().collect()  # type: ignore

        def fastest(work: Callable[[], object]) -> tuple[float, float, float, object]:
            return min((timed(work) for _ in range(2)), key=lambda run: run[1])  # Spark: the best wall time

        plain_count()  # JVM warm-up (class loading, code generation): paid once per job, not per row
        cpu, wall, busy, _ = fastest(plain_count)
        show("spark_count", f"Spark plain groupBy(domain).count(), local[{cores}], Parquet (wall x cores)", cpu,
             wall, busy, len(rows) / (wall * cores))
        cpu, wall, busy, spark = fastest(lambda: spark_domains(session, str(parquet)))
        show("spark", f"Spark jobs.loop.domain_stats (groupBy), local[{cores}], Parquet (wall x cores)", cpu,
             wall, busy, len(rows) / (wall * cores))
    approximate = sum(s.approximate for s in ours)
    line = (f"   check: aggregate_domains pages/recalled/matched per domain == baseline's: {totals_ok}, "
            f"the {len(shown)} top_paths (host, prefix) rows of the exact flagged domains == baseline's: "
            f"{paths_ok}; {approximate} domain(s) over 2 x max_prefixes (approximate)")
    if spark is not None:
        mine = {s.domain: s for s in ours}
        spark_totals, spark_flagged = spark
        exact = [s for s in spark_flagged if not s.approximate and not mine[s.domain].approximate]
        totals = (sorted((r["domain"], r["pages"], r["recalled"], r["matched"], r["flagged"]) for r in spark_totals)
                  == [(s.domain, s.pages, s.recalled, s.matched, s.flagged) for s in ours])
        line += (f"; Spark == in-process: totals and flags {totals}, full stats of the {len(exact)} exact "
                 f"flagged domains {all(s == mine[s.domain] for s in exact)}")
    print(line)
    if "spark" in rates:
        # Near the plain count: what a Spark plan over these rows cannot beat is Spark's own plain count
        # of them; the in-process dict count (the ratio column) has no scan, shuffle or JVM at all.
        share = rates["spark"] / rates["spark_count"]
        print(f"   target Spark domain statistics >= 0.5x a plain Spark groupBy count of the same Parquet: "
              f"{share:.2f}x, {'met' if share >= 0.5 else 'NOT met'} ({rates['spark'] / rates['naive']:.2f}x the "
              f"in-process dict count)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=10, help="score the kept pages this many times over")
    parser.add_argument("--repeat", type=int, default=2, help="in-process scoring rows: best of N")
    parser.add_argument("--buckets", default="2000000,50000", help="fastText bucket of each model (dim 256)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="domain statistics: synthetic rows")
    parser.add_argument("--domains", type=int, default=20_000, help="domain statistics: distinct domains")
    parser.add_argument("--parts", type=int, default=8, help="domain statistics: Parquet files")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-domains", action="store_true")
    args, _ = parser.parse_known_args()  # `make bench ARGS=...` passes the other benches' options too
    args.buckets = [int(b) for b in args.buckets.split(",") if b]

    from pipeline.config import load_settings
    from pipeline.spark import SessionFactory

    cores = os.cpu_count() or 1
    print(versions(cores))
    settings = load_settings(None, [f"spark.master=local[{cores}]", "extract.timeout_s=20",
                                    "ingest.log_every_s=600"])
    factory = SessionFactory(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
            if not args.skip_scoring:
                scoring_bench(args, cores, factory, Path(tmp))
            if not args.skip_domains:
                domains_bench(args, cores, factory, Path(tmp))
    finally:
        factory.stop()
    if CONTENDED:
        print("\nnote: other processes used the CPUs during: " + "; ".join(CONTENDED))


if __name__ == "__main__":
    main()
