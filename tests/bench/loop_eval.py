"""`make eval-loop`: the classifier loop measured on a labelled crawl of real pages (issue 10, item 6).

The crawl (`tests/bench/loop_crawl.build_labelled_crawl`): real records from `../shared/data`, math a
minority as on the web (defaults: 1335 pages, 202 math, 15.1%). The seed: the Stacks Project's LaTeX
sections (`math_text/stacks_project`), research algebraic geometry: math, but unlike the crawl's
math pages (bookofproofs' HTML definitions and proofs), so iteration 1 misses some. Negatives: random
crawl pages, the paper's choice (math is a minority here). Recall: the default rule (score >= 0.5).

The annotator is `simulated_annotator`: after each run it reads the last iteration's queue and marks
a suggested prefix as math when more than half of its (at least 2) labelled example pages are math;
its lines go to `ANNOTATION/url_patterns/simulated.tsv` and the loop resumes, until the annotator has
nothing new to add or `--rounds` is reached. Then one table, per iteration: seed size, held-out AUC,
precision and recall of the recalled pages against the labels, pages added by patterns, overlap.

    python -m tests.bench.loop_eval [--math-pages 200] [--other-fraction 1.0] [--rounds 3] [--out DIR]

Not a test (it takes minutes); `tests/test_loop.py` runs a smaller version and asserts the direction.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from jobs import iterate
from pipeline.config import load_settings
from pipeline.domains import read_queue_tsv
from tests.bench.loop_crawl import build_labelled_crawl, read_labels, simulated_annotator, write_pattern_file
from tests.conftest import DATA, step_stats


def eval_settings(crawl: Path, annotation: Path, overrides: list[str] = ()) -> Any:
    warcs = ",".join(str(p) for p in sorted((crawl / "warc").glob("*.warc.gz")))
    return load_settings(None, [
        f"input={warcs}", "spark.master=local[2]", "extract.timeout_s=20", "ingest.log_every_s=600",
        f"classify.seed_corpus={DATA / 'math_text' / 'stacks_project'}", "classify.max_seed_docs=400",
        f"classify.negatives_corpus={DATA / 'general_text'}",
        f"classify.labels={crawl / 'labels.jsonl'}", f"annotation.dir={annotation}",
        f"decontaminate.benchmarks_root={DATA / 'benchmarks'}", *overrides,
    ])


def run_loop(crawl: Path, work: Path, annotation: Path, rounds: int, overrides: list[str] = (),
             iterations: int = 4, budget: float = 0.2) -> dict[str, Any]:
    """The loop with the simulated annotator acting between runs; returns the last summary, the
    annotator's lines per round and the per-iteration table. Recall keeps a fixed budget of the
    best-ranked `budget` share of the crawl's pages, as the paper kept a fixed token budget."""
    labels = read_labels(crawl / "labels.jsonl")
    overrides = ["recall.rule=top_pages", f"recall.top_pages={round(budget * len(labels))}", *overrides]
    patterns_file = annotation / "url_patterns" / "simulated.tsv"
    lines: list[str] = []
    history = []
    summary: dict[str, Any] = {}
    for round_no in range(1, rounds + 1):
        settings = eval_settings(crawl, annotation, list(overrides))
        summary = iterate.run(settings, str(work), iterations=iterations)
        queue = read_queue_tsv(work / f"iter-{summary['last_iteration']:02d}" / "queue.tsv")
        new = [line for line in simulated_annotator(queue, labels) if line not in lines]
        history.append({"round": round_no, "iterations": summary["last_iteration"], "new_patterns": new})
        if not new:
            break
        lines += new
        write_pattern_file(lines, patterns_file)
    return {"summary": summary, "rounds": history, "patterns": lines, "table": iteration_table(work)}


def iteration_table(work: Path) -> list[dict[str, Any]]:
    steps = json.loads((work / "state.json").read_text())["steps"]
    rows = []
    n = 1
    while f"iter-{n:02d}/recall" in steps:
        seed = step_stats(work, f"iter-{n:02d}/seed")
        train = step_stats(work, f"iter-{n:02d}/train")
        recall = step_stats(work, f"iter-{n:02d}/recall")
        patterns = step_stats(work, f"iter-{n:02d}/patterns") if f"iter-{n:02d}/patterns" in steps else {}
        known = recall.get("labels") or {}
        rows.append({
            "iteration": n, "seed": seed["docs"], "auc": train.get("auc"), "epochs": train.get("epochs"),
            "recalled": recall["pages"], "recalled_math": known.get("recalled_math"),
            "math_pages": known.get("math_pages"), "precision": known.get("precision"),
            "recall": known.get("recall"), "added_by_patterns": patterns.get("additions"),
            "overlap": recall["overlap"], "spread": recall["spread"]["spread"],
        })
        n += 1
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.1%}"

    print("| iteration | seed docs | held-out AUC | recalled | true math recalled | precision | recall | "
          "added by patterns | overlap |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['iteration']} | {r['seed']} | {r['auc']} | {r['recalled']} | "
              f"{r['recalled_math']} of {r['math_pages']} | {pct(r['precision'])} | {pct(r['recall'])} | "
              f"{r['added_by_patterns']} | {pct(r['overlap'])} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", default=".bench/loop-eval")
    ap.add_argument("--math-pages", type=int, default=200)
    ap.add_argument("--other-fraction", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    started = time.monotonic()
    crawl = build_labelled_crawl(out / "crawl", args.math_pages, seed=args.seed, other_fraction=args.other_fraction)
    print(f"crawl: {crawl['pages']} pages, {crawl['math_pages']} math ({crawl['math_share']:.1%}); "
          f"seed: Stacks Project sections (400); annotator: simulated_annotator")
    result = run_loop(out / "crawl", out / "work", out / "annotation", args.rounds)
    for r in result["rounds"]:
        print(f"round {r['round']}: {r['iterations']} iteration(s); the annotator adds {len(r['new_patterns'])} "
              "pattern line(s)" + "".join(f"\n    {line.split(chr(9))[0]}" for line in r["new_patterns"]))
    print_table(result["table"])
    print(f"loop: {result['summary']['converged']}")
    print(f"({time.monotonic() - started:.0f} s)")
    (out / "result.json").write_text(json.dumps({"crawl": crawl, **{k: v for k, v in result.items()
                                                                     if k != "summary"}}, indent=2))


if __name__ == "__main__":
    main()
