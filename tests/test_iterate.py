"""`mathmine iterate` end to end on the bundled sample: every step runs, then a rerun resumes."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from jobs.cli import main


def test_iterate_runs_every_step_then_resumes(tmp_path, spark_factory, capsys):
    spark_factory.stop()  # the CLI starts (and stops) its own session
    work = tmp_path / "work"
    assert main(["iterate", "--work", str(work)]) == 0
    out = capsys.readouterr().out
    assert "ingest:" in out and "dedup:" in out and "accounting balanced" in out
    state = json.loads((work / "state.json").read_text())
    assert set(state["steps"]) == {"sample", "ingest", "dedup"}
    pages = pq.read_table(work / "pages")
    dedup = pq.read_table(work / "dedup")
    assert dedup.num_rows == pages.num_rows == state["steps"]["ingest"]["summary"]["pages_kept"]
    assert sorted(dedup.column("id").to_pylist()) == sorted(pages.column("id").to_pylist())
    assert state["steps"]["dedup"]["summary"]["near_duplicates"] > 0
    before = {p: p.read_bytes() for p in sorted(work.glob("*/*.parquet"))}

    assert main(["iterate", "--work", str(work)]) == 0
    again = capsys.readouterr().out
    assert "(4 already done)" in again
    assert {p: p.read_bytes() for p in sorted(work.glob("*/*.parquet"))} == before
