"""`mathmine iterate` end to end on the bundled sample: every step runs, then a rerun resumes."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from jobs.cli import main


def test_iterate_runs_every_step_then_resumes(tmp_path, spark_factory, capsys):
    spark_factory.stop()  # the CLI starts (and stops) its own session
    work = tmp_path / "work"
    args = ["iterate", "--work", str(work), "--set", f"annotation.dir={tmp_path / 'annotation'}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ingest:" in out and "dedup:" in out and "accounting balanced" in out
    assert "iter-01: seed 60 (60 initial)" in out and "corpus:" in out
    state = json.loads((work / "state.json").read_text())
    loop_steps = {f"iter-{n:02d}/{s}" for n in (1, 2)
                  for s in ("seed", "train", "score", "recall", "patterns", "domains", "report")}
    # no annotation: iteration 2 trains on the same seed, recalls the same pages, and stops
    assert set(state["steps"]) == {"sample", "ingest", "dedup", "select", "decontaminate", "tokenize"} | loop_steps
    assert state["steps"]["iter-02/recall"]["summary"]["overlap"] == 1.0
    assert (work / "iter-02" / "report.html").exists() and (tmp_path / "annotation" / "queue" / "iter-02.tsv").exists()
    pages = pq.read_table(work / "pages")
    dedup = pq.read_table(work / "dedup")
    assert dedup.num_rows == pages.num_rows == state["steps"]["ingest"]["summary"]["pages_kept"]
    assert sorted(dedup.column("id").to_pylist()) == sorted(pages.column("id").to_pylist())
    assert state["steps"]["dedup"]["summary"]["near_duplicates"] > 0
    before = {p: p.read_bytes() for p in sorted(work.glob("*/*.parquet"))}

    assert main(args) == 0
    again = capsys.readouterr().out
    assert "(4 already done)" in again and "0 step(s) run, 17 already done" in again
    assert {p: p.read_bytes() for p in sorted(work.glob("*/*.parquet"))} == before
