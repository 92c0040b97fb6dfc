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
from pipeline.annotation import DEFAULT_PATTERNS_DIR, Pattern, load_patterns, pattern_files, patterns_digest
from pipeline.config import ConfigError, Settings
from pipeline.decontam import BenchmarkSpec
from pipeline.loop import convergence, same_training
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


def checked_patterns(settings: Settings, sample_dir: Path | None = None) -> tuple[list[Pattern], str, Path]:
    """The annotators' patterns, their digest and folder; AnnotationError when lint fails. With the
    bundled sample (and `annotation.sample_patterns`), the sample's demo annotator file is read
    too, so the demo loops while the checkout's folder stays the user's."""
    folder = annotation_dir(settings) / "url_patterns"
    folders = [folder]
    if sample_dir is not None and settings.annotation.sample_patterns:
        folders.append(sample_dir / "annotation" / "url_patterns")
    patterns: list[Pattern] = []
    errors: list[str] = []
    digests = []
    for where in folders:
        if not where.exists():
            continue
        found, bad = load_patterns(where)
        errors += [f"{where / e.file}:{e.line}: {e.reason}" for e in bad]
        clash = {p.file for p in found} & {p.file for p in patterns}
        if clash:
            errors.append(
                f"{where}: pattern file name(s) {', '.join(sorted(clash))} also in {folder}: rename one"
            )
        patterns += found
        digests.append(patterns_digest(where))
    if errors:
        raise AnnotationError(errors)
    return patterns, _hash(digests) if digests else patterns_digest(folder), folder


def pattern_folders(settings: Settings, sample_dir: Path | None) -> dict[str, Path]:
    """Pattern file name -> the folder it was read from (to show `file:line` as a real path)."""
    out: dict[str, Path] = {}
    folders = [annotation_dir(settings) / "url_patterns"]
    if sample_dir is not None and settings.annotation.sample_patterns:
        folders.append(sample_dir / "annotation" / "url_patterns")
    for folder in folders:
        for file in pattern_files(folder):
            out.setdefault(file.name, folder)
    return out


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
    sample_dir = None if settings.input else work / "sample"
    # refuse to start on bad annotations (the sample's demo file is checked once it exists)
    patterns, digest, patterns_folder = checked_patterns(settings)
    work.mkdir(parents=True, exist_ok=True)
    state = RunState(str(work))
    steps = Steps(state, force, stop_after)
    summary: dict[str, Any] = {
        "work_dir": str(work),
        "steps": {},
        "iterations": [],
        "patterns_folder": str(patterns_folder),
    }
    started = time.monotonic()
    max_iterations = iterations or settings.classify.max_iterations
    if max_iterations < 1:
        raise ConfigError(f"classify.max_iterations / --iterations: must be at least 1, got {max_iterations}")

    input_spec = settings.input
    if sample_dir is not None:
        from pipeline.sample import build_sample

        fingerprint = settings.fingerprint("sample")
        if force or not state.done("sample", fingerprint) or not (sample_dir / "warc").exists():
            log.info("building the bundled sample crawl in %s", sample_dir)
            sample = build_sample(sample_dir, seed=settings.sample.seed)
            state.finish("sample", fingerprint, {k: v for k, v in sample.items() if k != "warc_files"})
        input_spec = str(sample_dir / "warc" / "*.warc.gz")
        summary["steps"]["sample"] = state.data["steps"]["sample"]["summary"]
        patterns, digest, patterns_folder = checked_patterns(settings, sample_dir)
    summary["patterns"] = len(patterns)
    shown = pattern_folders(settings, sample_dir)
    summary["pattern_folders"] = sorted({str(f) for f in shown.values()}) or [str(patterns_folder)]
    seed_spec = _seed_spec(settings, sample_dir)
    negatives_spec = settings.classify.negatives_corpus or (
        str(sample_dir / "negatives" / "negatives.jsonl") if sample_dir is not None else ""
    )
    labels = _in_checkout(settings.classify.labels) or (
        str(sample_dir / "labels.jsonl") if sample_dir is not None else ""
    )
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
        summary["converged"] = ""
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
                    patterns_fp if n > 1 else "",
                    vars(loop.fasttext_params(settings)),
                    c.negatives_ratio,
                    c.negatives_seed,
                    c.min_example_passes,
                    c.max_epoch,
                    negatives_spec,
                    _files_identity(negatives_spec) if negatives_spec else [],
                    c.negatives_corpus_share if negatives_spec else None,
                    c.histogram_bins,
                ],
                os.path.join(folder, "model.bin"),
                lambda n=n: loop.step_train(session, w, n, settings, negatives_spec),
            )
            score_fp = steps.run(
                f"{name}/score",
                [train_fp],
                os.path.join(folder, "scores"),
                lambda n=n: loop.step_score(session, w, n, settings, factory),
            )
            recall_fp = steps.run(
                f"{name}/recall",
                [
                    score_fp,
                    vars(settings.recall),
                    recall_fp,
                    labels,
                    _files_identity(labels) if labels else [],
                ],
                os.path.join(folder, "recalled"),
                lambda n=n: loop.step_recall(session, w, n, settings, labels),
            )
            patterns_fp = steps.run(
                f"{name}/patterns",
                [recall_fp, seed_fp, digest],
                os.path.join(folder, "matches"),
                lambda n=n: loop.step_patterns(session, w, n, settings, patterns, shown),
            )
            domains_fp = steps.run(
                f"{name}/domains",
                [patterns_fp, vars(settings.domains), queue_dir],
                os.path.join(folder, "domains"),
                lambda n=n: loop.step_domains(session, w, n, settings, queue_dir),
            )
            last = n
            overlap = steps.summary(f"{name}/recall")["overlap"]
            added = steps.summary(f"{name}/patterns")
            reason = convergence(
                n,
                overlap,
                c.convergence,
                max_iterations,
                same_training(added["additions"], added["math_matched_negatives"]),
            )
            steps.run(
                f"{name}/report",
                [domains_fp, reason or ""],
                os.path.join(folder, "report.html"),
                lambda n=n, reason=reason: write_iteration_report(session, w, n, settings, state, reason),
            )
            summary["iterations"].append(_iteration_line(steps, n))
            if reason:
                summary["converged"] = reason
                break
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
    """What one iteration did, in a few lines a person reads: the seed, the model's health, what
    it recalled (against the labels when known), what the patterns add, the overlap."""
    name = f"iter-{n:02d}"
    seed, train = steps.summary(f"{name}/seed"), steps.summary(f"{name}/train")
    recall, patterns = steps.summary(f"{name}/recall"), steps.summary(f"{name}/patterns")
    domains = steps.summary(f"{name}/domains")
    overlap = "-" if recall["overlap"] is None else f"{recall['overlap']:.1%}"
    sources = ", ".join(f"{v} {k}" for k, v in seed["by_source"].items())
    negatives = train["train_negatives"] + train["heldout_negatives"]
    spread = recall["spread"]
    held = f"{train['heldout_positives']}+{train['heldout_negatives']} held out"
    known = recall.get("labels")
    against = (
        f"; against the labels: precision {_pct(known['precision'])}, recall {_pct(known['recall'])} "
        f"({known['recalled_math']} of {known['math_pages']} math pages)"
        if known
        else ""
    )
    lines = [
        f"{name}: seed {seed['docs']} ({sources}); negatives {negatives} "
        f"({train.get('negatives_from_corpus', 0)} from the negatives corpus, "
        f"{train.get('negatives_from_crawl', negatives)} crawl pages); "
        f"{train.get('epochs', '?')} epochs over {train.get('train_examples', 0):,} examples",
        f"    held-out AUC {train.get('auc', 'n/a')} (P {train.get('precision', 'n/a')} "
        f"R {train.get('recall', 'n/a')} at 0.5, {held}); crawl scores p10 {spread['p10']:.3f} "
        f"p50 {spread['p50']:.3f} p90 {spread['p90']:.3f}, {spread['distinct']} distinct",
        f"    recalled {recall['pages']} of {recall['scored_pages']} pages (~{recall['tokens']:,} tokens, "
        f"{recall['rule']} {recall['value']}){against}",
        f"    flagged {domains['flagged']} of {domains['domains']} domains, {domains['queued_domains']} "
        f"in the queue; patterns matched {patterns['matched_math']} math pages and add "
        f"{patterns['additions']} to the next seed; overlap with the last iteration {overlap}",
    ]
    lines += [f"    warning: {w}" for w in recall.get("warnings", []) + patterns.get("warnings", [])]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def write_iteration_report(
    session: Any, work: str, n: int, settings: Settings, state: RunState, stopped: str | None = None
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
        .join(seed_ids, "id", "left_anti")  # the rows joins_next_seed keeps, for examples
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
        known = r.get("labels") or {}
        convergence.append(
            {
                "iteration": i,
                "recalled": r["pages"],
                "overlap": r["overlap"],
                "precision": known.get("precision"),
                "recall": known.get("recall"),
            }
        )
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
        warnings=recall.get("warnings", []) + patterns.get("warnings", []),
        per_pattern=patterns.get("per_pattern", []),
        stopped=stopped or "",
        bins=settings.classify.histogram_bins,
    )
    html_path, md_path = write_report(report, folder)
    return {"html": str(html_path), "markdown": str(md_path), "stopped": stopped or ""}


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
            stopped = state.data["steps"].get(f"{name}/report", {}).get("summary", {}).get("stopped")
            written.append(write_iteration_report(session, str(work), n, settings, state, stopped)["html"])
    finally:
        factory.stop()
    return written


def preview_patterns(
    settings: Settings, work_dir: str | None = None, path: str | None = None
) -> tuple[int, list[dict[str, Any]], list[str]]:
    """`mathmine annotations preview`: what each pattern line (of PATH, else the loop's own
    pattern files) does on the latest finished iteration of a run: (iteration, rows, warnings).
    The same tally the loop's patterns step records (`pipeline.loop.tally_patterns`)."""
    work = Path(work_dir or settings.work_dir).resolve()
    state = RunState(str(work))
    done = sorted(int(k.split("/")[0][5:]) for k in state.data["steps"] if k.endswith("/recall"))
    done = [n for n in done if os.path.exists(os.path.join(loop.iter_dir(str(work), n), "recalled"))]
    if not done:
        raise ConfigError(f"{work}: no iteration has recalled pages yet (run `mathmine iterate` first)")
    n = done[-1]
    if path:
        patterns, errors = load_patterns(path)
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        if errors:
            raise AnnotationError([f"{folder / e.file}:{e.line}: {e.reason}" for e in errors])
        shown = {p.file: folder for p in patterns}
    else:
        sample_dir = work / "sample" if not settings.input and (work / "sample").exists() else None
        patterns, _, _ = checked_patterns(settings, sample_dir)
        shown = pattern_folders(settings, sample_dir)
    factory = SessionFactory(settings)
    try:
        session = factory.get()
        pages = loop.page_flags(session, str(work), n)
        rows, warnings = loop.pattern_effects(session, pages, patterns, shown)
    finally:
        factory.stop()
    return n, rows, warnings


def print_preview(n: int, rows: list[dict[str, Any]], warnings: list[str]) -> None:
    print(f"URL patterns on iteration {n}: pages matched, recalled by the classifier, excluded, added to the "
          "next seed")
    if not rows:
        print("  no URL pattern")
    width = max((len(r["where"]) for r in rows), default=0)
    for r in rows:
        counts = "  ".join(f"{key} {r[key]:>6}" for key in ("matched", "recalled", "excluded", "added"))
        print(f"  {r['where']:<{width}}  {r['label']:<7}  {counts}  {r['pattern']}")
    for warning in warnings:
        print(f"warning: {warning}")


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
    print(f"  annotations: {summary['patterns']} URL pattern(s) from {', '.join(summary['pattern_folders'])}")
    for line in summary["iterations"]:
        print(f"  {line}")
    print(f"  loop: {summary['converged']}")
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
