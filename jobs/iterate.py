"""`mathmine iterate`: the whole loop over a run folder (local or s3://), resuming where it stopped.

The steps, declared once each below and run by `jobs.steps.Runner`:

  sample -> ingest -> dedup ->                        (the crawl; the sample only without `input`)
  iter-NN: seed -> train -> score -> recall -> patterns -> domains -> report   (the paper's fig. 2,
           repeated until the recalled pages converge or classify.max_iterations)
  select -> decontaminate -> tokenize                 (the corpus)

A step names the steps it reads, the settings it depends on and its output; the runner derives its
fingerprint from that, so changing the recall threshold redoes recall and what follows, never
training or scoring, and editing annotation files redoes the steps that used them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs import decontam as decontam_job
from jobs import dedup as dedup_job
from jobs import ingest as ingest_job
from jobs import loop
from jobs import shards as shards_job
from jobs.steps import Runner, Step, StopRequested, read_state, read_step_stats  # noqa: F401 (cli)
from pipeline import fs
from pipeline.annotation import DEFAULT_PATTERNS_DIR, Pattern, load_patterns, pattern_files, patterns_digest
from pipeline.config import ConfigError, Settings
from pipeline.decontam import BenchmarkSpec
from pipeline.loop import convergence, same_training
from pipeline.spark import SessionFactory, progress

log = logging.getLogger(__name__)


CHECKOUT = Path(__file__).resolve().parent.parent
# The bundled sample crawl brings its own small benchmark file (the `sample` package), so the default
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


def checked_patterns(
    settings: Settings, sample_patterns: Path | None = None
) -> tuple[list[Pattern], str, Path]:
    """The annotators' patterns, their digest and folder; AnnotationError when lint fails. With the
    bundled sample (and `annotation.sample_patterns`), the sample's demo annotator file is read
    too, so the demo loops while the checkout's folder stays the user's."""
    folder = annotation_dir(settings) / "url_patterns"
    folders = [folder]
    if sample_patterns is not None and settings.annotation.sample_patterns:
        folders.append(sample_patterns)
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


def pattern_folders(settings: Settings, sample_patterns: Path | None) -> dict[str, Path]:
    """Pattern file name -> the folder it was read from (to show `file:line` as a real path)."""
    out: dict[str, Path] = {}
    folders = [annotation_dir(settings) / "url_patterns"]
    if sample_patterns is not None and settings.annotation.sample_patterns:
        folders.append(sample_patterns)
    for folder in folders:
        for file in pattern_files(folder):
            out.setdefault(file.name, folder)
    return out


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _files_identity(spec: str) -> list[Any]:
    """What changes when a local seed file is replaced: names, sizes and modification times."""
    try:
        files = loop.seed_files(spec)
    except ConfigError:
        return [spec]
    return [(f, os.path.getsize(f), os.stat(f).st_mtime_ns) if os.path.exists(f) else f for f in files]


# The settings each classifier step depends on (a change redoes that step and what reads it).
SEED_SETTINGS = ("classify.seed_text_field", "classify.max_seed_docs", "classify.negatives_seed")
TRAIN_SETTINGS = (
    "classify.dim",
    "classify.lr",
    "classify.word_ngrams",
    "classify.min_count",
    "classify.epoch",
    "classify.fasttext_seed",
    "classify.bucket",
    "classify.holdout",
    "classify.negatives_ratio",
    "classify.negatives_seed",
    "classify.min_example_passes",
    "classify.max_epoch",
    "classify.negatives_corpus_share",
    "classify.histogram_bins",
)
RECALL_SETTINGS = ("recall", "classify.histogram_bins")


@dataclass
class Inputs:
    """What the steps read besides the run folder: where the crawl, the seed, the negatives and the
    labels are, the annotators' patterns and the benchmark sets (the sample's, or the user's)."""

    crawl: str
    seed: str
    negatives: str
    labels: str
    patterns: list[Pattern]
    patterns_digest: str
    shown: dict[str, Path]
    benchmarks: list[tuple[BenchmarkSpec, str]]
    missing_benchmarks: list[str]
    queue_dir: str
    from_sample: bool


def sample_step(store: fs.Store, work: str, settings: Settings) -> Step:
    """The bundled demo crawl, built on the local disk and published into WORK/sample."""

    def build() -> dict[str, Any]:
        from sample import build_sample

        with tempfile.TemporaryDirectory(prefix="mathmine-sample-") as local:
            log.info("building the bundled sample crawl for %s", fs.join(work, "sample"))
            summary = build_sample(Path(local), seed=settings.sample.seed)
            store.upload_dir(local, fs.join(work, "sample"))
        return {k: v for k, v in summary.items() if k != "warc_files"}

    return Step("sample", "sample", build, settings=["sample"])


def sample_manifest(store: fs.Store, work: str) -> dict[str, Any]:
    """The sample's manifest.json: where its crawl, seed, negatives, labels, benchmarks and demo
    patterns are, relative to WORK/sample."""
    path = fs.join(work, "sample", "manifest.json")
    manifest = store.read_json(path) if store.exists(path) else {}
    return {
        "warc": "warc/",
        "seed_corpus": "seed/seed.jsonl",
        "negatives_corpus": "negatives/negatives.jsonl",
        "labels": "labels.jsonl",
        "benchmarks_root": "benchmarks",
        "benchmarks": [vars(SAMPLE_BENCHMARK)],
        "url_patterns": "annotation/url_patterns",
        **manifest,
    }


def gather_inputs(settings: Settings, store: fs.Store, work: str, stack: contextlib.ExitStack) -> Inputs:
    """The run's inputs, checked before any work: bad annotations or benchmarks stop it here."""
    from_sample = not settings.input
    sample_patterns: Path | None = None
    crawl = settings.input
    seed = settings.classify.seed_corpus
    negatives = settings.classify.negatives_corpus
    labels = _in_checkout(settings.classify.labels)
    extra: list[BenchmarkSpec] = []
    extra_root = None
    if from_sample:
        manifest = sample_manifest(store, work)
        in_sample = lambda rel: fs.join(work, "sample", rel)  # noqa: E731
        crawl = in_sample(manifest["warc"]).rstrip("/") + ("/" if fs.is_remote(work) else "")
        seed = seed or in_sample(manifest["seed_corpus"])
        negatives = negatives or in_sample(manifest["negatives_corpus"])
        labels = labels or in_sample(manifest["labels"])
        # Annotation files and benchmark sets are read by libraries on the local disk.
        sample_patterns = Path(stack.enter_context(store.local_folder(in_sample(manifest["url_patterns"]))))
        extra_root = stack.enter_context(store.local_folder(in_sample(manifest["benchmarks_root"])))
        extra = [BenchmarkSpec(**{**b, "fields": tuple(b["fields"])}) for b in manifest["benchmarks"]]
    elif not seed:
        raise ConfigError(
            "classify.seed_corpus: required when `input` is set (the sample's seed "
            "corpus only comes with the bundled sample)"
        )
    patterns, digest, _ = checked_patterns(settings, sample_patterns)
    benchmarks, missing = decontam_job.benchmark_specs(
        settings,
        benchmarks_file=_in_checkout(settings.decontaminate.benchmarks_file),
        root=_in_checkout(settings.decontaminate.benchmarks_root),
        extra=extra,
        extra_root=extra_root,
    )
    if missing:
        log.warning(
            "decontaminate: %d configured benchmark set(s) not found: %s", len(missing), ", ".join(missing)
        )
    return Inputs(
        crawl=crawl,
        seed=seed,
        negatives=negatives,
        labels=labels,
        patterns=patterns,
        patterns_digest=digest,
        shown=pattern_folders(settings, sample_patterns),
        benchmarks=benchmarks,
        missing_benchmarks=missing,
        queue_dir=str(annotation_dir(settings) / "queue"),
        from_sample=from_sample,
    )


def crawl_steps(factory: SessionFactory, work: str, settings: Settings, inputs: Inputs) -> list[Step]:
    """Ingest the WARCs (one part per WARC, finished WARCs skipped) and deduplicate the pages."""
    sample = ["sample"] if inputs.from_sample else []
    return [
        Step(
            "ingest",
            "pages",
            lambda: ingest_job.run(
                inputs.crawl, fs.join(work, "pages"), settings, factory=factory, relative_to=work,
                hold_lock=False,  # run() holds the run folder's lock
            ),
            stats=f"pages/{ingest_job.STATS_FILE}",  # the table folder holds only Parquet
            reads=sample,
            settings=["ingest", "extract"],
            # A crawl inside the run folder (the sample) by its relative name: a moved run folder
            # is the same run, and nothing reruns.
            inputs=[ingest_job.recorded_path(inputs.crawl, work) or inputs.crawl],
            always=True,
            identity=lambda stats: sorted((f["part"], f["pages_kept"]) for f in stats["per_file"]),
        ),
        Step(
            "dedup",
            "dedup",
            lambda: dedup_job.run(fs.join(work, "pages"), fs.join(work, "dedup"), settings, factory=factory),
            reads=["ingest"],
            settings=["dedup"],
        ),
    ]


def iteration_steps(
    n: int, session: Any, factory: SessionFactory, work: str, settings: Settings, inputs: Inputs
) -> list[Step]:
    """One classifier iteration, the paper's figure 2: seed -> train -> score -> recall ->
    URL patterns -> domains (the annotators' queue). The report step follows (`report_step`)."""
    it, prev = f"iter-{n:02d}", f"iter-{n - 1:02d}"
    sample = ["sample"] if inputs.from_sample else []
    first = n == 1
    return [
        Step(
            f"{it}/seed",
            f"{it}/seed",
            lambda: loop.step_seed(session, work, n, settings, inputs.seed),
            reads=["dedup", *sample] if first else ["dedup", f"{prev}/seed", f"{prev}/patterns"],
            settings=SEED_SETTINGS if first else (),
            inputs=[inputs.seed, _files_identity(inputs.seed)] if first else (),
        ),
        Step(
            f"{it}/train",
            f"{it}/negatives",
            lambda: loop.step_train(session, work, n, settings, inputs.negatives),
            reads=["dedup", f"{it}/seed", *(sample if first else [f"{prev}/patterns"])],
            settings=TRAIN_SETTINGS,
            inputs=[inputs.negatives, _files_identity(inputs.negatives) if inputs.negatives else []],
            also=[f"{it}/model.bin", f"{it}/metrics.json"],
        ),
        Step(
            f"{it}/score",
            f"{it}/scores",
            lambda: loop.step_score(session, work, n, settings, factory),
            reads=["dedup", f"{it}/train"],
            settings=["classify.output_parts"],
        ),
        Step(
            f"{it}/recall",
            f"{it}/recalled",
            lambda: loop.step_recall(session, work, n, settings, inputs.labels),
            reads=["dedup", f"{it}/score", *([] if first else [f"{prev}/recall"])],
            settings=RECALL_SETTINGS,
            inputs=[inputs.labels, _files_identity(inputs.labels) if inputs.labels else []],
        ),
        Step(
            f"{it}/patterns",
            f"{it}/matches",
            lambda: loop.step_patterns(session, work, n, settings, inputs.patterns, inputs.shown),
            reads=["dedup", f"{it}/recall", f"{it}/seed", f"{it}/train"],
            inputs=[inputs.patterns_digest],
        ),
        Step(
            f"{it}/domains",
            f"{it}/domains",
            lambda: loop.step_domains(session, work, n, settings, inputs.queue_dir),
            reads=["dedup", f"{it}/score", f"{it}/recall", f"{it}/patterns"],
            settings=["domains"],
            inputs=[inputs.queue_dir],
            also=[f"{it}/queue.tsv"],
        ),
    ]


def report_step(n: int, session: Any, runner: Runner, work: str, settings: Settings, reason: str) -> Step:
    it = f"iter-{n:02d}"
    reads = [
        "ingest",
        "dedup",
        *(f"iter-{i:02d}/recall" for i in range(1, n)),
        *(f"{it}/{s}" for s in ("seed", "train", "recall", "patterns", "domains")),
    ]
    return Step(
        f"{it}/report",
        f"{it}/report.html",
        lambda: write_iteration_report(session, work, n, settings, runner.stats, reason),
        reads=reads,
        settings=["classify.histogram_bins"],
        inputs=[reason],
        also=[f"{it}/report.md"],
    )


def corpus_steps(
    last: int, session: Any, factory: SessionFactory, work: str, settings: Settings, inputs: Inputs
) -> list[Step]:
    """The last iteration's selection, decontaminated against the benchmarks, tokenized."""
    return [
        Step(
            "select",
            "selected",
            lambda: loop.step_select(session, work, last, settings),
            reads=["dedup", f"iter-{last:02d}/recall", f"iter-{last:02d}/patterns"],
            settings=["recall.chars_per_token", "classify.output_parts"],
        ),
        Step(
            "decontaminate",
            "corpus",
            lambda: decontam_job.run(
                fs.join(work, "selected"),
                fs.join(work, "corpus"),
                fs.join(work, "decontam"),
                settings,
                inputs.benchmarks,
                inputs.missing_benchmarks,
                factory=factory,
            ),
            reads=["select"],
            settings=["decontaminate"],
            inputs=[_benchmarks_identity(inputs.benchmarks)],
            also=["decontam/report.json"],
        ),
        Step(
            "tokenize",
            "shards",
            lambda: shards_job.run(
                fs.join(work, "corpus"),
                fs.join(work, "shards"),
                settings,
                tokenizer_dir=fs.join(work, "tokenizer"),
                factory=factory,
            ),
            reads=["decontaminate"],
            settings=["tokenize"],
            inputs=[_files_identity_dir(settings.tokenize.tokenizer)],
        ),
    ]


def run(
    settings: Settings,
    work_dir: str | None = None,
    force: bool = False,
    iterations: int | None = None,
    stop_after: str | None = None,
) -> dict[str, Any]:
    """The whole loop over a run folder (a local path or an object-store URI), resuming."""
    store = fs.Store(settings.storage)
    work = fs.absolute(work_dir or settings.work_dir)
    max_iterations = settings.classify.max_iterations if iterations is None else iterations
    if max_iterations < 1:
        raise ConfigError(f"classify.max_iterations / --iterations: must be at least 1, got {max_iterations}")
    checked_patterns(settings)  # refuse to start on bad annotations
    # One run per run folder: a second one would race on the same temp names and state.json.
    with store.lock(work):
        # Under the lock every `.inflight-*` is a leftover of a killed run: nobody else writes here.
        swept = store.sweep_leftovers(work)
        if swept:
            progress(f"removed {swept} temp file(s) left by an interrupted run in {work}")
        return _run_locked(store, work, settings, force, max_iterations, stop_after)


def _run_locked(
    store: fs.Store, work: str, settings: Settings, force: bool, max_iterations: int, stop_after: str | None
) -> dict[str, Any]:
    runner = Runner(store, work, settings, force, stop_after)
    started = time.monotonic()
    summary: dict[str, Any] = {"work_dir": work, "steps": {}, "iterations": [], "converged": ""}
    factory = SessionFactory(settings)
    with contextlib.ExitStack() as stack:
        stack.callback(factory.stop)
        if not settings.input:
            summary["steps"]["sample"] = runner.run(sample_step(store, work, settings))
        inputs = gather_inputs(settings, store, work, stack)
        summary["patterns"] = len(inputs.patterns)
        summary["pattern_folders"] = sorted({str(f) for f in inputs.shown.values()}) or [
            str(annotation_dir(settings) / "url_patterns")
        ]
        session = factory.get()
        for step in crawl_steps(factory, work, settings, inputs):
            runner.run(step)
        summary["steps"]["ingest"] = ingest_job.summary_line(runner.stats("ingest"))
        summary["steps"]["dedup"] = dedup_job.summary_line(runner.stats("dedup"))
        last = 0
        for n in range(1, max_iterations + 1):
            for step in iteration_steps(n, session, factory, work, settings, inputs):
                runner.run(step)
            last = n
            it = f"iter-{n:02d}"
            patterns = runner.stats(f"{it}/patterns")
            reason = convergence(
                n,
                runner.stats(f"{it}/recall")["overlap"],
                settings.classify.convergence,
                max_iterations,
                same_training(patterns["additions"], patterns["math_matched_negatives"]),
            )
            runner.run(report_step(n, session, runner, work, settings, reason or ""))
            summary["iterations"].append(_iteration_line(runner, n))
            if reason:
                summary["converged"] = reason
                break
        for step in corpus_steps(last, session, factory, work, settings, inputs):
            runner.run(step)
        summary["select"] = runner.stats("select")
        summary["decontaminate"] = decontam_job.summary_line(runner.stats("decontaminate"))
        summary["tokenize"] = shards_job.summary_line(runner.stats("tokenize"))
    summary["ran"], summary["skipped"] = len(runner.ran), len(runner.skipped)
    summary["last_iteration"] = last
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _iteration_line(runner: Runner, n: int) -> str:
    """What one iteration did, in a few lines a person reads: the seed, the model's health, what
    it recalled (against the labels when known), what the patterns add, the overlap."""
    name = f"iter-{n:02d}"
    seed, train = runner.stats(f"{name}/seed"), runner.stats(f"{name}/train")
    recall, patterns = runner.stats(f"{name}/recall"), runner.stats(f"{name}/patterns")
    domains = runner.stats(f"{name}/domains")
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
    session: Any,
    work: str,
    n: int,
    settings: Settings,
    stats: Callable[[str], dict[str, Any]],
    stopped: str | None = None,
) -> dict[str, Any]:
    """Gather what the iteration's steps recorded (`stats(step name)`, their stats files) and
    write report.html and report.md."""
    from pyspark.sql import functions as F

    from pipeline.report import IterationReport, write_report

    def step(name: str) -> dict[str, Any]:
        return stats(f"iter-{n:02d}/{name}")

    folder = loop.iter_dir(work, n)
    metrics = loop.read_json(settings, fs.join(folder, "metrics.json"))
    recall, patterns, domains, seed = step("recall"), step("patterns"), step("domains"), step("seed")
    flagged = domains["flagged_domains"][:20]
    matches = loop.run_table(session, settings, folder, "matches")
    seed_ids = loop.run_table(session, settings, folder, "seed").select("id")
    added = (
        matches.filter((F.col("label") == "math") & ~F.col("recalled"))
        .join(seed_ids, "id", "left_anti")  # the rows joins_next_seed keeps, for examples
        .orderBy("id")
        .limit(10)
        .collect()
    )
    urls = [e["url"] for d in flagged for p in d["top_paths"] for e in p["examples"]]
    info = loop.page_snippets(session, work, settings, urls, [r["id"] for r in added])
    for d in flagged:
        for p in d["top_paths"]:
            for e in p["examples"]:
                e.update({k: v for k, v in info.get(e["url"], {}).items() if k != "url"})
    convergence = []
    for i in range(1, n + 1):
        r = stats(f"iter-{i:02d}/recall")
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
    kept, ingest = stats("dedup"), stats("ingest")
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
    html_path, md_path = write_report(report, folder, fs.Store(settings.storage))
    return {"html": str(html_path), "markdown": str(md_path), "stopped": stopped or ""}


def rebuild_reports(settings: Settings, work_dir: str | None = None) -> list[str]:
    """`mathmine report`: rewrite report.html/report.md of every finished iteration."""
    store = fs.Store(settings.storage)
    work = fs.absolute(work_dir or settings.work_dir)
    state = read_state(store, work)
    done = sorted({name.split("/")[0] for name in state["steps"] if name.endswith("/domains")})
    if not done:
        raise ConfigError(f"{work}: no finished iteration to report on (run `mathmine iterate` first)")

    def stats(name: str) -> dict[str, Any]:
        return read_step_stats(store, work, name, state)

    factory = SessionFactory(settings)
    written = []
    try:
        session = factory.get()
        for name in done:
            n = int(name.split("-")[1])
            stopped = stats(f"{name}/report").get("stopped") if f"{name}/report" in state["steps"] else ""
            written.append(write_iteration_report(session, work, n, settings, stats, stopped)["html"])
    finally:
        factory.stop()
    return written


def preview_patterns(
    settings: Settings, work_dir: str | None = None, path: str | None = None
) -> tuple[int, list[dict[str, Any]], list[str]]:
    """`mathmine annotations preview`: what each pattern line (of PATH, else the loop's own
    pattern files) does on the latest finished iteration of a run: (iteration, rows, warnings).
    The same tally the loop's patterns step records (`pipeline.loop.tally_patterns`)."""
    store = fs.Store(settings.storage)
    work = fs.absolute(work_dir or settings.work_dir)
    state = read_state(store, work)
    done = sorted(int(k.split("/")[0][5:]) for k in state["steps"] if k.endswith("/recall"))
    done = [n for n in done if store.published(fs.join(loop.iter_dir(work, n), "recalled"))]
    if not done:
        raise ConfigError(f"{work}: no iteration has recalled pages yet (run `mathmine iterate` first)")
    n = done[-1]
    if path:
        patterns, errors = load_patterns(path)
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        if errors:
            raise AnnotationError([f"{folder / e.file}:{e.line}: {e.reason}" for e in errors])
        shown = {p.file: folder for p in patterns}
    factory = SessionFactory(settings)
    with contextlib.ExitStack() as stack:
        stack.callback(factory.stop)
        if not path:
            sample_patterns = None
            if not settings.input and store.exists(fs.join(work, "sample")):
                rel = sample_manifest(store, work)["url_patterns"]
                sample_patterns = Path(stack.enter_context(store.local_folder(fs.join(work, "sample", rel))))
            patterns, _, _ = checked_patterns(settings, sample_patterns)
            shown = pattern_folders(settings, sample_patterns)
        session = factory.get()
        pages = loop.page_flags(session, work, n, settings)
        rows, warnings = loop.pattern_effects(session, pages, patterns, shown)
    return n, rows, warnings


def print_preview(n: int, rows: list[dict[str, Any]], warnings: list[str]) -> None:
    print(
        f"URL patterns on iteration {n}: pages matched, recalled by the classifier, excluded, added to the "
        "next seed"
    )
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
