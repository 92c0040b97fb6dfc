"""The `mathmine` command line (DESIGN.md section 3)."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    # Run as a file (`spark-submit jobs/cli.py`, `python jobs/cli.py`): Python put jobs/ first on
    # sys.path, where a module named like a stdlib one would shadow it for every import below. Take
    # `jobs` and `pipeline` from the checkout this file is in instead, as `python -m jobs.cli` does.
    _JOBS_DIR = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _JOBS_DIR]
    sys.path.insert(0, os.path.dirname(_JOBS_DIR))

import argparse
import json
import logging
from pathlib import Path

from jobs.common import fail, setup_logging
from pipeline import fs
from pipeline.config import ConfigError, Settings, UserError, check_value, load_settings
from pipeline.storage import StorageError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conf", help="YAML config (default conf/default.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set extract.backend=trafilatura")
    parser.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mathmine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="WARC files -> pages table (Parquet)")
    p.add_argument("--input", required=True, help="glob, warc.paths[.gz] manifest, s3://..., https://...")
    p.add_argument("--out", required=True, help="output folder of the pages table")
    p.add_argument("--force", action="store_true", help="redo WARCs an earlier run finished")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if an input is empty, not a WARC, or unreadable (default: count it, go on)")
    _common(p)

    p = sub.add_parser("extract", help="print the extracted main text of one HTML file")
    p.add_argument("file", help="an HTML file")
    p.add_argument("--url", default="", help="the page's URL (helps the extractor)")
    p.add_argument("--json", action="store_true", help="print text, math markup and charset as JSON")
    _common(p)

    p = sub.add_parser("dedup", help="pages table -> dedup sidecar (exact and MinHash near duplicates)")
    p.add_argument("--pages", required=True, help="the pages table folder")
    p.add_argument("--out", required=True, help="output folder of the dedup sidecar")
    _common(p)

    p = sub.add_parser("iterate", help="run the whole loop over a run folder (resumes)")
    p.add_argument("--work", help="run folder (default: work_dir from config)")
    p.add_argument("--iterations", type=int,
                   help="most classifier iterations (default classify.max_iterations)")
    p.add_argument("--force", action="store_true", help="redo finished steps")
    p.add_argument("--stop-after", metavar="STEP",
                   help="stop after this step, e.g. iter-01/score (to try resuming; see state.json)")
    _common(p)

    p = sub.add_parser("decontaminate", help="remove benchmark text (10-gram rule) from a corpus table")
    p.add_argument("--corpus", required=True, help="a table with id and text (e.g. WORK/selected)")
    p.add_argument("--out", required=True, help="output folder: corpus/, hits/, report.md, report.json")
    p.add_argument("--benchmarks", help="benchmarks YAML (default decontaminate.benchmarks_file)")
    _common(p)

    p = sub.add_parser("tokenize", help="corpus -> tokenized Parquet shards + manifest.json")
    p.add_argument("--corpus", required=True, help="a table with id and text (e.g. WORK/corpus)")
    p.add_argument("--out", required=True, help="output folder of the shards")
    p.add_argument("--tokenizer", help="a Hugging Face tokenizer folder (default: train a byte-level BPE, "
                                       "saved in OUT-tokenizer)")
    _common(p)

    p = sub.add_parser("train", help="the bundled training stage: cpt, grpo, eval, demo")
    tsub = p.add_subparsers(dest="train_command", metavar="cpt|grpo|eval|demo", required=True)
    t = tsub.add_parser("cpt", help="continued pretraining on tokenized shards (resumes from checkpoints)")
    t.add_argument("--shards", action="append", required=True, metavar="DIR[=WEIGHT]",
                   help="a shard folder with manifest.json, and its mixture weight; repeat for a mixture")
    t.add_argument("--tokenizer", required=True, help="the tokenizer folder the shards were made with")
    t.add_argument("--out", required=True, help="checkpoints and final/ go here")
    _common(t)
    t = tsub.add_parser("grpo", help="GRPO on GSM8K/MATH-style problems with a verifier reward")
    t.add_argument("--model", required=True, help="a local causal-LM folder (e.g. OUT/final of train cpt)")
    t.add_argument("--problems", required=True, help="JSONL with question/answer or problem/solution")
    t.add_argument("--out", required=True, help="the trained policy is saved here")
    _common(t)
    t = tsub.add_parser("eval", help="greedy accuracy, pass@k and maj@k from n samples per problem")
    t.add_argument("--model", required=True)
    t.add_argument("--problems", required=True)
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    _common(t)
    t = tsub.add_parser("demo", help="synthetic arithmetic -> shards -> CPT -> GRPO -> eval, on CPU")
    t.add_argument("--out", default="work/train-demo", help="run folder of the demo")
    _common(t)

    p = sub.add_parser("report", help="rebuild report.html / report.md of every finished iteration")
    p.add_argument("--work", help="run folder (default: work_dir from config)")
    _common(p)

    p = sub.add_parser("annotations", help="the annotators' URL-pattern files (annotation/README.md)")
    asub = p.add_subparsers(dest="annotations_command", metavar="lint|preview", required=True)
    p = asub.add_parser("lint", help="check URL-pattern files; exit 1 with file:line: reason on any bad line")
    p.add_argument("path", nargs="?", default=None,
                   help="a .tsv file or a folder of them (default annotation/url_patterns)")
    _common(p)
    p = asub.add_parser("preview", help="per pattern line: pages matched, recalled, excluded, added")
    p.add_argument("--work", help="run folder (default: work_dir from config)")
    p.add_argument("path", nargs="?", default=None,
                   help="a .tsv file or a folder of them (default: the files the loop reads)")
    _common(p)
    from jobs import annotate

    annotate.add_parser(sub)
    return parser


# Path arguments checked before a command starts, so that a typo is one line in a second instead of
# a Spark AnalysisException (and its JVM traceback) half a minute later. A missing path is a usage
# error (exit 2); a "table" must also hold a Parquet file (an empty folder is a data error, exit 1).
# Other paths are checked where they are read: ingest --input (a glob or manifest), train --shards.
_PATH_ARGS: dict[str, tuple[tuple[str, str], ...]] = {
    "dedup": (("--pages", "table"),),
    "decontaminate": (("--corpus", "table"), ("--benchmarks", "file")),
    "tokenize": (("--corpus", "table"), ("--tokenizer", "folder")),
    "train cpt": (("--tokenizer", "folder"),),
    "train grpo": (("--model", "folder"), ("--problems", "file")),
    "train eval": (("--model", "folder"), ("--problems", "file")),
}

# Commands that read a run folder's state.json: a damaged one fails before anything starts.
_RUN_FOLDER_COMMANDS = ("iterate", "report", "annotations preview")

def _command(args: argparse.Namespace) -> str:
    """'dedup', 'train cpt', 'annotations preview': the (sub)command, as _PATH_ARGS names it."""
    sub = getattr(args, "train_command", None) or getattr(args, "annotations_command", None)
    return f"{args.command} {sub}" if sub else args.command


def _has_parquet(store: fs.Store, path: str) -> bool:
    """A Parquet file, or a folder with one where Spark looks (not under _ or . names: markers,
    bookkeeping, temp folders)."""
    if not fs.is_remote(path) and os.path.isfile(fs.local_path(path)):
        return True
    names = store.listing(path)
    if not names and fs.is_remote(path):
        return path.rstrip("/").endswith(".parquet")  # exists, lists nothing: a single object
    return any(
        name.endswith(".parquet") and not any(part.startswith(("_", ".")) for part in name.split("/"))
        for name in names
    )


def check_arguments(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse, with one line, what a command would only trip over after starting Spark."""
    if getattr(args, "iterations", None) is not None:
        check_value("classify.max_iterations", args.iterations, name="--iterations")
    command = _command(args)
    store = fs.Store(settings.storage)
    for option, kind in _PATH_ARGS.get(command, ()):
        path = getattr(args, option[2:].replace("-", "_"))
        if not path:
            continue
        if not store.exists(path):
            raise ConfigError(f"{option} {path}: no such {kind if kind != 'table' else 'table folder'}")
        if kind == "table" and not _has_parquet(store, path):
            raise UserError(f"{option} {path}: no Parquet file in this table folder (empty, or not a table)")
    if command in _RUN_FOLDER_COMMANDS:
        from jobs.steps import read_state

        read_state(store, fs.absolute(args.work or settings.work_dir))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.conf, args.overrides)
        check_arguments(args, settings)
        if args.command == "extract":
            from pipeline.extract import extract_text

            path = Path(args.file)
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise StorageError(str(path), "missing_file", exc.strerror or str(exc)) from exc
            result = extract_text(body, settings.extract, url=args.url)
            if args.json:
                print(json.dumps({"text": result.text, "math_markup": result.math_markup,
                                  "charset": result.charset}, ensure_ascii=False))
            else:
                print(result.text)
            return 0
        if args.command == "ingest":
            from jobs import ingest

            stats = ingest.run(args.input, args.out, settings, force=args.force)
            print(ingest.summary_line(stats))
            if args.strict:
                ingest.check_strict(stats)  # StrictInputError: one line naming the file and offset, exit 1
            return 0 if stats["invariant_holds"] else 1
        if args.command == "dedup":
            from jobs import dedup

            stats = dedup.run(args.pages, args.out, settings)
            print(dedup.summary_line(stats))
            return 0 if stats["invariant_holds"] else 1
        if args.command == "annotations" and args.annotations_command == "preview":
            from jobs import iterate

            try:
                iterate.print_preview(*iterate.preview_patterns(settings, args.work, args.path))
            except iterate.AnnotationError as exc:
                for line in exc.lines:
                    print(line)
                print(f"mathmine: {exc}", file=sys.stderr)
                return 1
            return 0
        if args.command == "annotations":
            from pipeline.annotation import DEFAULT_PATTERNS_DIR, lint_report

            path = args.path
            if path is None:  # the current folder's, else the checkout's
                path = "annotation/url_patterns"
                if not Path(path).exists() and DEFAULT_PATTERNS_DIR.exists():
                    path = str(DEFAULT_PATTERNS_DIR)
            bad, summary = lint_report(path)
            for line in bad:
                print(line)
            if bad:
                print(f"mathmine: {summary}", file=sys.stderr)
                return 1
            print(summary)
            return 0
        if args.command == "iterate":
            from jobs import iterate

            try:
                result = iterate.run(settings, args.work, force=args.force, iterations=args.iterations,
                                     stop_after=args.stop_after)
            except iterate.AnnotationError as exc:
                for line in exc.lines:
                    print(line)
                print(f"mathmine: {exc}; the loop does not start until `mathmine annotations lint` passes",
                      file=sys.stderr)
                return 1
            except iterate.StopRequested as exc:
                print(f"mathmine iterate: stopped after {exc} as asked (--stop-after); rerun to resume")
                return 0
            iterate.print_summary(result)
            return 0
        if args.command == "decontaminate":
            import os

            from jobs import decontam
            from pipeline.decontam import DecontamError

            try:
                specs, missing = decontam.benchmark_specs(settings, benchmarks_file=args.benchmarks)
            except DecontamError as exc:  # the benchmarks YAML is config: a usage error
                raise ConfigError(str(exc)) from exc
            corpus_out = os.path.join(args.out, "corpus")
            stats = decontam.run(args.corpus, corpus_out, args.out, settings, specs, missing)
            print(decontam.summary_line(stats))
            print(f"report: {os.path.join(args.out, 'report.md')}")
            return 0 if stats["invariant_holds"] else 1
        if args.command == "tokenize":
            from jobs import shards

            if args.tokenizer:
                settings.tokenize.tokenizer = args.tokenizer
            trained = args.out.rstrip("/") + "-tokenizer"
            stats = shards.run(args.corpus, args.out, settings, tokenizer_dir=trained)
            print(shards.summary_line(stats))
            return 0
        if args.command == "train":
            from jobs import train

            if args.train_command == "cpt":
                result = train.cpt(settings, train.parse_corpora(args.shards), args.out, args.tokenizer)
                tokens = f"{result['tokens']:,}"
                print(f"train cpt: {result['step']} steps, {tokens} tokens -> {result['final_dir']}")
            elif args.train_command == "grpo":
                history = train.grpo(settings, args.model, args.problems, args.out)
                rewards = [round(s["reward_mean"], 3) for s in history["steps"]]
                print(f"train grpo: {len(rewards)} steps, mean reward {rewards[0]:.3f} -> {rewards[-1]:.3f}; "
                      f"policy saved in {args.out}")
            elif args.train_command == "eval":
                result = train.evaluate(settings, args.model, args.problems)
                if args.json:
                    print(json.dumps(result, indent=2, sort_keys=True))
                else:
                    print(", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float)))
            else:
                train.print_demo(train.demo(settings, args.out))
            return 0
        if args.command == "annotate":
            from jobs import annotate

            return annotate.command(args, settings)
        if args.command == "report":
            from jobs import iterate

            for path in iterate.rebuild_reports(settings, args.work):
                print(f"wrote {path}")
            return 0
    # Errors meant for the user end here, as one line each; anything else is a bug and keeps its traceback.
    except UserError as exc:
        return fail(exc, exc.exit_code)
    except StorageError as exc:  # an input file that is missing or cannot be read
        return fail(exc, 2)
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
