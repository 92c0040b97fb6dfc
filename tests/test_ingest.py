"""Ingest on Spark over every real WARC: accounting, independent counts, schema, reruns, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from jobs import ingest as ingest_job
from jobs.cli import main
from pipeline.config import load_settings
from pipeline.extract import GuardedExtractor
from pipeline.ingest import DROP_REASONS, PAGES_SCHEMA, FileStats, ingest_warc, marker_names, part_name
from sample import build_sample
from tests.conftest import data_path, real_warcs

DESIGN_COLUMNS = ["id", "url", "host", "domain", "path", "warc_path", "warc_offset", "fetch_time", "charset",
                  "html_bytes", "text", "text_chars", "math_markup"]


def _settings():
    return load_settings(None, ["extract.timeout_s=20", "ingest.log_every_s=600"])


def warcio_html_responses(path: Path) -> int:
    """An independent count: HTTP 200 responses typed as HTML, read with warcio."""
    count = 0
    with open(path, "rb") as fh:
        for record in WarcioIterator(fh):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            if record.http_headers.get_statuscode() != "200":
                continue
            ctype = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
            count += ctype in ("text/html", "application/xhtml+xml")
    return count


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, spark_factory):
    out = tmp_path_factory.mktemp("pages")
    inputs = ",".join(str(p) for p in real_warcs())
    stats = ingest_job.run(inputs, str(out), _settings(), factory=spark_factory)
    return out, stats


def test_every_real_warc_ingests_with_balanced_accounting(real_run):
    out, stats = real_run
    warcs = real_warcs()
    assert stats["files"] == stats["files_done"] == len(warcs) and not stats["files_failed"]
    assert stats["invariant_holds"]
    assert stats["records_read"] == stats["pages_kept"] + sum(stats["dropped"].values())
    assert set(stats["dropped"]) == set(DROP_REASONS)
    on_disk = json.loads((out / "__ingest__" / "stats.json").read_text())
    assert on_disk["pages_kept"] == stats["pages_kept"]
    by_path = {f["warc_path"]: f for f in stats["per_file"]}
    for warc in warcs:
        per_file = by_path[str(warc)]
        assert per_file["records_read"] == per_file["pages_kept"] + sum(per_file["dropped"].values())
        assert per_file["html_responses"] == warcio_html_responses(warc), warc.name
        with open(warc, "rb") as fh:
            assert per_file["records_read"] == sum(1 for _ in WarcioIterator(fh)), warc.name


def test_one_part_per_warc_with_the_design_schema(real_run):
    out, stats = real_run
    parts = sorted(p.name for p in out.glob("*.parquet"))
    assert parts == sorted(part_name(str(w)) for w in real_warcs())
    table = pq.read_table(out)
    assert table.schema.names[: len(DESIGN_COLUMNS)] == DESIGN_COLUMNS
    for name in DESIGN_COLUMNS:
        assert table.schema.field(name).type == PAGES_SCHEMA.field(name).type, name
    assert table.num_rows == stats["pages_kept"]
    rows = table.to_pylist()
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows[:500]:
        warc_name, offset = row["id"].rsplit(":", 1)
        assert warc_name == Path(row["warc_path"]).name and int(offset) == row["warc_offset"]
        assert row["text_chars"] == len(row["text"]) > 0
        assert row["url"].startswith("http") and row["host"] and row["domain"] and row["path"].startswith("/")
    domains = {r["domain"] for r in rows}
    assert "bookofproofs.github.io" in domains  # github.io is a public suffix: the site is the domain
    assert "wikipedia.org" in domains and "an.wikipedia.org" in {r["host"] for r in rows}
    # Every page whose text kept \(..\) is flagged (others write $..$, ~600 are formula-free indexes).
    with_tex = [r for r in rows if "\\(" in r["text"] and "\\)" in r["text"]]
    assert len(with_tex) > 600 and all("tex_delims" in r["math_markup"] for r in with_tex)


def test_rerun_skips_finished_warcs_and_changes_nothing(real_run, spark_factory, capsys):
    out, first = real_run
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    inputs = ",".join(str(p) for p in real_warcs())
    again = ingest_job.run(inputs, str(out), _settings(), factory=spark_factory)
    assert again["files_skipped"] == first["files"] and again["files_done"] == 0
    assert again["pages_kept"] == first["pages_kept"] and again["invariant_holds"]
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    # One driver-side console line per WARC, as its task ends (not from the Python workers' logs).
    lines = [line for line in capsys.readouterr().err.splitlines() if "ingest: [" in line]
    total = len(real_warcs())
    assert len(lines) == total, lines
    assert {line.split("ingest: [", 1)[1].split("]", 1)[0] for line in lines} == {
        f"{i}/{total}" for i in range(1, total + 1)}
    assert all("already done by an earlier run" in line for line in lines), lines


def test_crash_mid_run_resumes_without_duplicates(tmp_path, spark_factory):
    """A part in flight when a run dies is a hidden temp file; the rerun redoes only that WARC."""
    warcs = real_warcs()[:4]
    out = tmp_path / "pages"
    settings = _settings()
    full = ingest_job.run(",".join(map(str, warcs)), str(out), settings, factory=spark_factory)
    # Simulate a crash after two WARCs: remove the others' parts and done-markers, leave junk.
    for warc in warcs[2:]:
        (out / part_name(str(warc))).unlink()
        (out / marker_names(part_name(str(warc)))[0]).unlink()
    (out / ".inflight-crashed.parquet").write_bytes(b"PAR1 half a file")
    resumed = ingest_job.run(",".join(map(str, warcs)), str(out), settings, factory=spark_factory)
    assert resumed["files_skipped"] == 2 and resumed["files_done"] == 2
    assert resumed["pages_kept"] == full["pages_kept"]
    table = pq.read_table(out)  # Spark and pyarrow ignore dot-files: the junk is invisible
    assert table.num_rows == full["pages_kept"] == len(set(table.column("id").to_pylist()))


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_byte_identical_outputs_across_runs_and_parallelism(tmp_path, spark_factory):
    """Same inputs, same bytes: two CLI runs, one on local[1] and one on local[2]."""
    spark_factory.stop()  # one SparkContext per process: let each run start its own master
    sample = build_sample(tmp_path / "sample")
    spec = str(tmp_path / "sample" / "warc" / "*.warc.gz")
    for name, master in (("a", "local[1]"), ("b", "local[2]")):
        code = main(["ingest", "--input", spec, "--out", str(tmp_path / name), "--set", f"spark.master={master}"])
        assert code == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(_digest(tmp_path / "a")) == len(sample["warc_files"])


def test_sample_crawl_ingests_with_its_math_intact(tmp_path, spark_factory):
    summary = build_sample(tmp_path / "sample")
    stats = ingest_job.run(str(tmp_path / "sample" / "warc"), str(tmp_path / "pages"), _settings(),
                           factory=spark_factory)
    assert stats["invariant_holds"] and stats["html_responses"] == summary["pages"]
    labels = [json.loads(line) for line in (tmp_path / "sample" / "labels.jsonl").read_text().splitlines()]
    rows = {r["url"]: r for r in pq.read_table(tmp_path / "pages").to_pylist()}
    lost = []
    for label in labels:
        row = rows.get(label["url"])
        if row is None:
            lost.append((label["url"], "page dropped"))
            continue
        squashed = "".join(row["text"].split())
        lost += [(label["url"], f) for f in label["formulas"] if "".join(f.split()) not in squashed]
    assert not lost, lost[:5]
    seen = {m for r in rows.values() for m in r["math_markup"]}
    assert seen == {"katex", "latex_img", "mathjax", "mathml", "tex_delims"}


# ---------------------------------------------------------------- files: markers, modes, readers


def test_markers_are_named_by_the_part_stem(real_run):
    out, _ = real_run
    markers = sorted(p.name for p in (out / "__ingest__" / "parts").iterdir())
    assert markers == sorted(part_name(str(w)).removesuffix(".parquet") + ".json" for w in real_warcs())
    assert not any(name.endswith(".parquet.json") for name in markers)
    assert marker_names("sample-00000-a2c22493.parquet") == (
        "__ingest__/parts/sample-00000-a2c22493.json", "_parts/sample-00000-a2c22493.parquet.json")


def test_published_files_are_readable_by_others(real_run):
    """Parts and markers get 0666 less the umask (0644 with 022), never mkstemp's private 0600."""
    out, _ = real_run
    umask = os.umask(0)
    os.umask(umask)
    files = list(out.glob("*.parquet")) + list((out / "__ingest__").rglob("*.json"))
    assert files
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) == {0o666 & ~umask}, modes


@pytest.fixture
def extractor() -> Iterator[GuardedExtractor]:
    guarded = GuardedExtractor(_settings().extract)
    yield guarded
    guarded.close()


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _small_warc() -> str:
    return str(data_path("warc", "cc_whirlwind", "whirlwind.warc.gz"))


def test_part_and_marker_are_mode_0644_under_umask_022(tmp_path, extractor, umask_022):
    out = tmp_path / "pages"
    stats = ingest_warc(_small_warc(), str(out), _settings(), extractor=extractor)
    assert stats.status == "done" and stats.pages_kept > 0
    part = out / stats.part
    marker = out / marker_names(stats.part)[0]
    assert stat.S_IMODE(part.stat().st_mode) == 0o644
    assert stat.S_IMODE(marker.stat().st_mode) == 0o644
    assert pq.read_table(part).num_rows == stats.pages_kept
    assert FileStats.from_dict(json.loads(marker.read_text())).pages_kept == stats.pages_kept
    # Nothing else is left in the folder: no temp files beside the part.
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        [stats.part, "__ingest__", "__ingest__/parts", marker_names(stats.part)[0]])


def test_a_marker_under_the_old_name_still_counts_as_done(tmp_path, extractor):
    out = tmp_path / "pages"
    first = ingest_warc(_small_warc(), str(out), _settings(), extractor=extractor)
    new, old = (out / name for name in marker_names(first.part))
    old.parent.mkdir()
    new.rename(old)  # what a run before the move left
    part_bytes = (out / first.part).read_bytes()
    again = ingest_warc(_small_warc(), str(out), _settings(), extractor=extractor)
    assert again.status == "skipped" and again.pages_kept == first.pages_kept
    assert not new.exists() and (out / first.part).read_bytes() == part_bytes
    forced = ingest_warc(_small_warc(), str(out), _settings(), force=True, extractor=extractor)
    assert forced.status == "done" and forced.pages_kept == first.pages_kept
    assert new.exists() and not old.exists()  # a redo writes the new name and drops the old one


def test_hf_datasets_loads_the_pages_parts(real_run, tmp_path):
    datasets = pytest.importorskip("datasets")
    out, stats = real_run
    loaded = datasets.load_dataset("parquet", data_files=str(out / "*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.num_rows == stats["pages_kept"]
    assert loaded.column_names[: len(DESIGN_COLUMNS)] == DESIGN_COLUMNS


def test_console_line_per_warc():
    done = FileStats(warc_path="s3://b/crawl/CC-MAIN-1.warc.gz", records_read=9876, pages_kept=1234,
                     seconds=12.34)
    assert ingest_job.describe_file(done, 3, 12) == (
        "ingest: [3/12] CC-MAIN-1.warc.gz: 9,876 records, 1,234 pages kept, 12.3 s")
    skipped = FileStats(warc_path="/data/a.warc.gz", status="skipped", records_read=10, pages_kept=4)
    assert ingest_job.describe_file(skipped, 1, 2) == (
        "ingest: [1/2] a.warc.gz: already done by an earlier run (10 records, 4 pages kept)")
    failed = FileStats(warc_path="/data/b.warc.gz", status="failed", failure="missing_file",
                       problems=[{"offset": None, "reason": "missing_file", "detail": "no such file"}])
    assert ingest_job.describe_file(failed, 2, 2) == "ingest: [2/2] b.warc.gz: FAILED (missing_file: no such file)"
