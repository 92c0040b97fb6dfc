"""`mathmine iterate`: the whole loop over a run folder, resuming where it stopped.

Steps: build the bundled sample crawl (when no input is configured), ingest, dedup, then the
classifier iterations (seed, train, score, recall, patterns, domains, report; `jobs/loop.py`)
until the recalled pages converge or `classify.max_iterations` is reached, then the corpus.

Every step is recorded in WORK/state.json with a fingerprint of what it depends on: its own
settings and the fingerprints of the steps it reads (and, for pattern steps, the annotators'
files). A rerun skips a step whose fingerprint is unchanged and whose output exists, so it
continues at the first unfinished step; changing the recall threshold redoes recall and what
follows, never training or scoring; editing annotation files redoes the steps that used them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs import decontam as decontam_job
from jobs import dedup as dedup_job
from jobs import ingest as ingest_job
from jobs import loop
from jobs import tokenize as tokenize_job
from jobs.common import RunState
from pipeline.annotation import DEFAULT_PATTERNS_DIR, Pattern, load_patterns, patterns_digest
from pipeline.config import ConfigError, Settings
from pipeline.decontam import BenchmarkSpec
from pipeline.spark import SessionFactory

log = logging.getLogger(__name__)


CHECKOUT = Path(__file__).resolve().parent.parent
# The bundled sample crawl brings its own small benchmark file (pipeline/sample.py), so the default
# run decontaminates offline.
SAMPLE_BENCHMARK = BenchmarkSpec(
    name="sample_bench",
    file="sample_bench.jsonl",
    fields=("question", "answer"),
    language="en",
    id_field="id",
)


def _in_checkout(path: str) -> str:
    """A relative config path that is missing here but present in the checkout (make iterate from
    another folder) resolves there."""
    if path and not os.path.isabs(path) and not os.path.exists(path) and (CHECKOUT / path).exists():
        return str(CHECKOUT / path)
    return path


def _benchmarks_identity(benchmarks: list[tuple[BenchmarkSpec, str]]) -> list[Any]:
    out: list[Any] = []
    for spec, root in benchmarks:
        path = Path(root) / spec.file
        out.append([vars(spec), str(path), path.stat().st_size, path.stat().st_mtime_ns])
    return out


def _files_identity_dir(folder: str) -> list[Any]:
    """Names, sizes and modification times of a folder's files (a configured tokenizer)."""
    if not folder or not os.path.isdir(folder):
        return [folder]
    return [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(Path(folder).iterdir())
        if p.is_file()
    ]


class StopRequested(Exception):
    """Raised after the step named by `stop_after` (tests use it to kill a run midway)."""


class AnnotationError(Exception):
    """The annotation files fail lint: the loop does not start. `lines` are `file:line: reason`."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(f"{len(lines)} bad line(s) in the URL-pattern files")
        self.lines = lines


def annotation_dir(settings: Settings) -> Path:
    """`annotation.dir`, relative to the current folder, else to the checkout."""
    path = Path(settings.annotation.dir)
    if not path.is_absolute() and not path.exists() and (DEFAULT_PATTERNS_DIR.parent.parent / path).exists():
        path = DEFAULT_PATTERNS_DIR.parent.parent / path
    return path


def checked_patterns(settings: Settings) -> tuple[list[Pattern], str, Path]:
    """The annotators' patterns, their digest and folder; AnnotationError when lint fails."""
    folder = annotation_dir(settings) / "url_patterns"
    if not folder.exists():
        return [], patterns_digest(folder), folder
    patterns, errors = load_patterns(folder)
    if errors:
        raise AnnotationError([f"{folder / e.file}:{e.line}: {e.reason}" for e in errors])
    return patterns, patterns_digest(folder), folder


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Steps:
    """Runs named steps once per fingerprint; counts what it skipped; honours `stop_after`."""

    def __init__(self, state: RunState, force: bool, stop_after: str | None) -> None:
        self.state, self.force, self.stop_after = state, force, stop_after
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def run(self, name: str, depends: list[Any], output: str, func: Callable[[], dict[str, Any]]) -> str:
        fingerprint = _hash(name, depends)
        if self.force or not self.state.done(name, fingerprint) or not os.path.exists(output):
            started = time.monotonic()
            log.info("step %s", name)
            summary = func()
            summary["step_seconds"] = round(time.monotonic() - started, 2)
            self.state.finish(name, fingerprint, summary)
            self.ran.append(name)
        else:
            self.skipped.append(name)
        if self.stop_after == name:
            raise StopRequested(name)
        return fingerprint

    def summary(self, name: str) -> dict[str, Any]:
        return self.state.data["steps"][name]["summary"]


def _seed_spec(settings: Settings, sample_dir: Path | None) -> str:
    if settings.classify.seed_corpus:
        return settings.classify.seed_corpus
    if sample_dir is None:
        raise ConfigError(
            "classify.seed_corpus: required when `input` is set (the sample's seed "
            "corpus only comes with the bundled sample)"
        )
    return str(sample_dir / "seed" / "seed.jsonl")


def _files_identity(spec: str) -> list[Any]:
    """What changes when a local seed file is replaced: names, sizes and modification times."""
    try:
        files = loop.seed_files(spec)
    except ConfigError:
        return [spec]
    return [(f, os.path.getsize(f), os.stat(f).st_mtime_ns) if os.path.exists(f) else f for f in files]


def run(
    settings: Settings,
    work_dir: str | None = None,
    force: bool = False,
    iterations: int | None = None,
    stop_after: str | None = None,
) -> dict[str, Any]:
    work = Path(work_dir or settings.work_dir).resolve()
    patterns, digest, patterns_folder = checked_patterns(settings)  # refuse to start on bad annotations
    work.mkdir(parents=True, exist_ok=True)
    state = RunState(str(work))
    steps = Steps(state, force, stop_after)
    summary: dict[str, Any] = {
        "work_dir": str(work),
        "steps": {},
        "iterations": [],
        "patterns": len(patterns),
        "patterns_folder": str(patterns_folder),
    }
    started = time.monotonic()
    max_iterations = iterations or settings.classify.max_iterations
    if max_iterations < 1:
        raise ConfigError(f"classify.max_iterations / --iterations: must be at least 1, got {max_iterations}")

    input_spec = settings.input
    sample_dir = None
    if not input_spec:
        from pipeline.sample import build_sample

        sample_dir = work / "sample"
        fingerprint = settings.fingerprint("sample")
        if force or not state.done("sample", fingerprint) or not (sample_dir / "warc").exists():
            log.info("building the bundled sample crawl in %s", sample_dir)
            sample = build_sample(sample_dir, seed=settings.sample.seed)
            state.finish("sample", fingerprint, {k: v for k, v in sample.items() if k != "warc_files"})
        input_spec = str(sample_dir / "warc" / "*.warc.gz")
        summary["steps"]["sample"] = state.data["steps"]["sample"]["summary"]
    seed_spec = _seed_spec(settings, sample_dir)
    # Benchmarks are checked before any work: a bad benchmarks.yaml stops the run here.
    sample_bench = [SAMPLE_BENCHMARK] if sample_dir is not None else []
    benchmarks, missing = decontam_job.benchmark_specs(
        settings,
        benchmarks_file=_in_checkout(settings.decontaminate.benchmarks_file),
        root=_in_checkout(settings.decontaminate.benchmarks_root),
        extra=sample_bench,
        extra_root=str(sample_dir / "benchmarks") if sample_dir is not None else None,
    )
    if missing:
        log.warning(
            "decontaminate: %d configured benchmark set(s) not found: %s", len(missing), ", ".join(missing)
        )

    factory = SessionFactory(settings)
    try:
        stats = ingest_job.run(input_spec, str(work / "pages"), settings, force=force, factory=factory)
        state.finish(
            "ingest",
            settings.fingerprint("ingest", "extract"),
            {k: v for k, v in stats.items() if k != "per_file"},
        )
        summary["steps"]["ingest"] = ingest_job.summary_line(stats)
        if stop_after == "ingest":
            raise StopRequested("ingest")
        # Dedup reads the whole pages table: redo it when ingest or dedup settings changed,
        # or when ingest added WARCs.
        fingerprint = (
            f"{settings.fingerprint('dedup')}:{settings.fingerprint('ingest', 'extract')}:"
            f"{stats['pages_kept']}"
        )
        if force or not state.done("dedup", fingerprint) or not (work / "dedup").exists():
            dedup_stats = dedup_job.run(str(work / "pages"), str(work / "dedup"), settings, factory=factory)
            state.finish("dedup", fingerprint, dedup_stats)
        summary["steps"]["dedup"] = dedup_job.summary_line(state.data["steps"]["dedup"]["summary"])
        if stop_after == "dedup":
            raise StopRequested("dedup")

        session = factory.get()
        w = str(work)
        c = settings.classify
        queue_dir = str(annotation_dir(settings) / "queue")
        upstream = fingerprint
        patterns_fp = recall_fp = ""
        last = 0
        for n in range(1, max_iterations + 1):
            name = f"iter-{n:02d}"
            folder = loop.iter_dir(w, n)
            seed_depends = (
                [
                    upstream,
                    seed_spec,
                    _files_identity(seed_spec),
                    c.seed_text_field,
                    c.max_seed_docs,
                    c.negatives_seed,
                ]
                if n == 1
                else [patterns_fp]
            )
            seed_fp = steps.run(
                f"{name}/seed",
                seed_depends,
                os.path.join(folder, "seed"),
                lambda n=n: loop.step_seed(session, w, n, settings, seed_spec),
            )
            train_fp = steps.run(
                f"{name}/train",
                [
                    seed_fp,
                    vars(loop.fasttext_params(settings)),
                    c.negatives_ratio,
                    c.negatives_seed,
                    c.histogram_bins,
                ],
                os.path.join(folder, "model.bin"),
                lambda n=n: loop.step_train(session, w, n, settings),
            )
            score_fp = steps.run(
                f"{name}/score",
                [train_fp],
                os.path.join(folder, "scores"),
                lambda n=n: loop.step_score(session, w, n, settings, factory),
            )
            recall_fp = steps.run(
                f"{name}/recall",
                [score_fp, vars(settings.recall), recall_fp],
                os.path.join(folder, "recalled"),
                lambda n=n: loop.step_recall(session, w, n, settings),
            )
            patterns_fp = steps.run(
                f"{name}/patterns",
                [recall_fp, seed_fp, digest],
                os.path.join(folder, "matches"),
                lambda n=n: loop.step_patterns(session, w, n, settings, patterns),
            )
            domains_fp = steps.run(
                f"{name}/domains",
                [patterns_fp, vars(settings.domains), queue_dir],
                os.path.join(folder, "domains"),
                lambda n=n: loop.step_domains(session, w, n, settings, patterns, queue_dir),
            )
            steps.run(
                f"{name}/report",
                [domains_fp],
                os.path.join(folder, "report.html"),
                lambda n=n: write_iteration_report(session, w, n, settings, state),
            )
            last = n
            summary["iterations"].append(_iteration_line(steps, n))
            overlap = steps.summary(f"{name}/recall")["overlap"]
            if overlap is not None and overlap >= c.convergence:
                summary["converged"] = (
                    f"iteration {n} recalled {overlap:.1%} of what iteration {n - 1} did "
                    f"(>= {c.convergence:.0%})"
                )
                break
        else:
            summary["converged"] = (
                f"stopped after {max_iterations} iteration(s) without converging "
                f"(classify.convergence {c.convergence:.0%})"
            )
        select_fp = steps.run(
            "select",
            [patterns_fp, last],
            str(work / "selected"),
            lambda: loop.step_select(session, w, last, settings),
        )
        summary["select"] = steps.summary("select")
        decontam_fp = steps.run(
            "decontaminate",
            [select_fp, vars(settings.decontaminate), _benchmarks_identity(benchmarks)],
            str(work / "corpus"),
            lambda: decontam_job.run(
                str(work / "selected"),
                str(work / "corpus"),
                str(work / "decontam"),
                settings,
                benchmarks,
                missing,
                factory=factory,
            ),
        )
        summary["decontaminate"] = decontam_job.summary_line(steps.summary("decontaminate"))
        steps.run(
            "tokenize",
            [decontam_fp, vars(settings.tokenize), _files_identity_dir(settings.tokenize.tokenizer)],
            str(work / "shards"),
            lambda: tokenize_job.run(
                str(work / "corpus"),
                str(work / "shards"),
                settings,
                tokenizer_dir=str(work / "tokenizer"),
                factory=factory,
            ),
        )
        summary["tokenize"] = tokenize_job.summary_line(steps.summary("tokenize"))
    finally:
        factory.stop()
    summary["ran"], summary["skipped"] = len(steps.ran), len(steps.skipped)
    summary["last_iteration"] = last
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _iteration_line(steps: Steps, n: int) -> str:
    name = f"iter-{n:02d}"
    seed, train = steps.summary(f"{name}/seed"), steps.summary(f"{name}/train")
    recall, patterns = steps.summary(f"{name}/recall"), steps.summary(f"{name}/patterns")
    domains = steps.summary(f"{name}/domains")
    overlap = "-" if recall["overlap"] is None else f"{recall['overlap']:.1%}"
    sources = ", ".join(f"{v} {k}" for k, v in seed["by_source"].items())
    negatives = train["train_negatives"] + train["heldout_negatives"]
    return (
        f"{name}: seed {seed['docs']} ({sources}), negatives {negatives}; "
        f"held-out P {train.get('precision', 'n/a')} R {train.get('recall', 'n/a')} "
        f"AUC {train.get('auc', 'n/a')}; recalled {recall['pages']} of {recall['scored_pages']} pages "
        f"(~{recall['tokens']:,} tokens); flagged {domains['flagged']} of {domains['domains']} domains, "
        f"{domains['queued_domains']} queued; patterns add {patterns['additions']}; overlap {overlap}"
    )


def write_iteration_report(
    session: Any, work: str, n: int, settings: Settings, state: RunState
) -> dict[str, Any]:
    """Gather what the iteration's steps recorded and write report.html and report.md."""
    from pyspark.sql import functions as F

    from pipeline.report import IterationReport, write_report

    def step(name: str) -> dict[str, Any]:
        return state.data["steps"][f"iter-{n:02d}/{name}"]["summary"]

    folder = loop.iter_dir(work, n)
    metrics = loop.read_json(os.path.join(folder, "metrics.json"))
    recall, patterns, domains, seed = step("recall"), step("patterns"), step("domains"), step("seed")
    flagged = domains["flagged_domains"][:20]
    matches = session.read.parquet(os.path.join(folder, "matches"))
    seed_ids = session.read.parquet(os.path.join(folder, "seed")).select("id")
    added = (
        matches.filter((F.col("label") == "math") & ~F.col("recalled"))
        .join(seed_ids, "id", "left_anti")
        .orderBy("id")
        .limit(10)
        .collect()
    )
    urls = [e["url"] for d in flagged for p in d["top_paths"] for e in p["examples"]]
    info = loop.page_snippets(session, work, urls, [r["id"] for r in added])
    for d in flagged:
        for p in d["top_paths"]:
            for e in p["examples"]:
                e.update({k: v for k, v in info.get(e["url"], {}).items() if k != "url"})
    convergence = []
    for i in range(1, n + 1):
        r = state.data["steps"][f"iter-{i:02d}/recall"]["summary"]
        convergence.append({"iteration": i, "recalled": r["pages"], "overlap": r["overlap"]})
    kept = state.data["steps"].get("dedup", {}).get("summary", {})
    ingest = state.data["steps"].get("ingest", {}).get("summary", {})
    report = IterationReport(
        iteration=n,
        metrics={k: v for k, v in metrics.items() if k not in ("histograms", "fasttext")},
        histograms={**metrics.get("histograms", {}), "crawl": recall["crawl_histogram"]},
        recall={k: recall[k] for k in ("rule", "value", "pages", "tokens", "min_score")},
        flagged_domains=flagged,
        pattern_additions={
            "pages": patterns["additions"],
            "by_source": [{"source": k, "pages": v} for k, v in patterns["additions_by_source"].items()],
            "examples": [
                {
                    "url": info.get(r["id"], {}).get("url", r["id"]),
                    "source": r["source"],
                    "title": info.get(r["id"], {}).get("title", ""),
                    "snippet": info.get(r["id"], {}).get("snippet", ""),
                }
                for r in added
            ],
        },
        convergence=convergence,
        steps=[
            {"step": "pages ingested", "pages": ingest.get("pages_kept"), "tokens": None},
            {"step": "after dedup", "pages": kept.get("kept"), "tokens": recall["scored_tokens"]},
            {"step": "seed positives", "pages": seed["docs"], "tokens": None},
            {
                "step": "negatives",
                "pages": metrics.get("train_negatives", 0) + metrics.get("heldout_negatives", 0),
                "tokens": None,
            },
            {"step": "recalled", "pages": recall["pages"], "tokens": recall["tokens"]},
            {"step": "matched by math patterns", "pages": patterns["matched_math"], "tokens": None},
            {"step": "added to the next seed by patterns", "pages": patterns["additions"], "tokens": None},
        ],
        bins=settings.classify.histogram_bins,
    )
    html_path, md_path = write_report(report, folder)
    return {"html": str(html_path), "markdown": str(md_path)}


def rebuild_reports(settings: Settings, work_dir: str | None = None) -> list[str]:
    """`mathmine report`: rewrite report.html/report.md of every finished iteration."""
    work = Path(work_dir or settings.work_dir).resolve()
    state = RunState(str(work))
    done = sorted({name.split("/")[0] for name in state.data["steps"] if name.endswith("/domains")})
    if not done:
        raise ConfigError(f"{work}: no finished iteration to report on (run `mathmine iterate` first)")
    factory = SessionFactory(settings)
    written = []
    try:
        session = factory.get()
        for name in done:
            n = int(name.split("-")[1])
            written.append(write_iteration_report(session, str(work), n, settings, state)["html"])
    finally:
        factory.stop()
    return written


def print_summary(summary: dict[str, Any]) -> None:
    print(
        f"\nmathmine iterate: run folder {summary['work_dir']} ({summary['seconds']} s, "
        f"{summary['ran']} step(s) run, {summary['skipped']} already done)"
    )
    if "sample" in summary["steps"]:
        s = summary["steps"]["sample"]
        print(
            f"  sample:  {s.get('pages')} HTML pages in {s.get('records')} records over "
            f"{len(s.get('domains', []))} domains ({s.get('math_pages')} math), "
            f"{s.get('seed_docs')} seed docs"
        )
    print(f"  {summary['steps']['ingest']}")
    print(f"  {summary['steps']['dedup']}")
    print(f"  annotations: {summary['patterns']} URL pattern(s) from {summary['patterns_folder']}")
    for line in summary["iterations"]:
        print(f"  {line}")
    print(f"  {summary['converged']}")
    c = summary["select"]
    print(
        f"  selected: {c['pages']} pages (~{c['tokens_estimated']:,} tokens): {c['by_score']} by score, "
        f"{c['by_pattern']} by pattern only, {c['excluded_by_pattern']} excluded by pattern"
    )
    print(f"  {summary['decontaminate']}")
    print(f"  {summary['tokenize']}")
    w, n = summary["work_dir"], summary["last_iteration"]
    print(f"  report: {w}/iter-{n:02d}/report.html; review queue: {w}/iter-{n:02d}/queue.tsv")
    print(f"  corpus: {w}/corpus; decontamination report: {w}/decontam/report.md; shards: {w}/shards")
