"""The labelled crawl of real pages (tests/bench/loop_crawl.py) and the simulated annotator."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.annotation import load_patterns
from pipeline.domains import QUEUE_COLUMNS, queue_tsv, read_queue_tsv
from pipeline.warc import clean_target_uri
from tests.bench import loop_crawl
from tests.bench.loop_crawl import build_labelled_crawl, simulated_annotator, write_pattern_file
from tests.conftest import data_path

# Small: 40 branch pages + 10 biographies, a fifth of every other source's non-math pages.
MATH_PAGES = 40
OTHER_FRACTION = 0.2
BOP = ("warc_repackaged", "bookofproofs_pages", "bookofproofs_pages.meta.jsonl")


def build_small(out: Path, seed: int = 0) -> dict:
    return build_labelled_crawl(out, MATH_PAGES, seed, data_root=data_path(), other_fraction=OTHER_FRACTION)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("crawl")
    return out, build_small(out)


def members(path: Path) -> list[tuple[str, str, str, bytes, bytes]]:
    """(type, url, record id, raw gzip member, payload) of every record of a WARC, read with warcio."""
    data = path.read_bytes()
    out = []
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            payload = record.raw_stream.read() if record.rec_type == "response" else b""
            rid = record.rec_headers.get_header("WARC-Record-ID") or ""
            url = clean_target_uri(record.rec_headers.get_header("WARC-Target-URI") or "")
            offset, length = records.get_record_offset(), records.get_record_length()
            out.append((record.rec_type, url, rid, data[offset:offset + length], payload))
    return out


def sidecars() -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for meta in sorted(data_path("warc_repackaged").glob("*/*.meta.jsonl")):
        for line in meta.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows[row["warc_record_id"]] = row
    return rows


def read_labels(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def test_composition(crawl: tuple[Path, dict]) -> None:
    out, summary = crawl
    bop = summary["per_source"]["bookofproofs_pages"]
    assert bop == {"pages": MATH_PAGES + MATH_PAGES // 4, "math": MATH_PAGES}
    # bookofproofs branches + the 2 math pages of math_markup_variety
    assert summary["math_pages"] == MATH_PAGES + 2
    assert summary["math_pages"] + summary["non_math_pages"] == summary["pages"]
    assert summary["math_share"] < 0.30
    assert summary["rewritten_sources"] == []  # every source file is one gzip member per record
    assert [Path(f).name for f in summary["files"]] == [f"crawl-{i:05d}.warc.gz" for i in range(3)]
    assert sorted(p.name for p in (out / "warc").iterdir()) == [Path(f).name for f in summary["files"]]


def test_records_are_real_and_byte_exact(crawl: tuple[Path, dict]) -> None:
    _, summary = crawl
    originals: dict[str, bytes] = {}
    for source in sorted(data_path("warc").glob("*/*.warc.gz")) + sorted(data_path("warc_repackaged").glob("*/*.warc.gz")):
        originals.update({rid: member for kind, _, rid, member, _ in members(source) if kind == "response"})
    meta = sidecars()
    seen = checked = 0
    for path in map(Path, summary["files"]):
        records = members(path)
        assert records[0][0] == "warcinfo"
        for kind, _url, rid, member, payload in records[1:]:
            assert kind == "response"
            assert member == originals[rid]  # the source's own gzip member, byte for byte
            if rid in meta:
                assert hashlib.sha1(payload).hexdigest() == meta[rid]["payload_sha1"]
                checked += 1
            seen += 1
    assert seen == summary["pages"]
    assert checked >= MATH_PAGES  # every repackaged page has a sidecar sha1


def test_labels_match_records_one_to_one(crawl: tuple[Path, dict]) -> None:
    out, summary = crawl
    labels = read_labels(out)
    urls = [url for path in map(Path, summary["files"]) for kind, url, *_ in members(path) if kind == "response"]
    assert [row["url"] for row in labels] == urls  # same order: file by file
    assert len(set(urls)) == len(urls)
    meta = {row["url"]: row for row in sidecars().values() if "label_stager" in row}
    for row in labels:
        assert set(row) == {"url", "is_math", "source", "label"}
        assert row["is_math"] == (row["label"] == "math")
        if row["source"] == "bookofproofs_pages":
            assert row["label"] == meta[row["url"]]["label_stager"]
            assert row["is_math"] == ("/branches/" in row["url"])  # biographies are not math
    assert sum(row["is_math"] for row in labels) == summary["math_pages"]
    history = [r for r in labels if r["label"] == "math_history_biography"]
    assert len(history) == MATH_PAGES // 4 and not any(r["is_math"] for r in history)


def test_mixed_files(crawl: tuple[Path, dict]) -> None:
    """Round-robin over a shuffled order: each file holds math and non-math pages of several sources."""
    _, summary = crawl
    per_file = [[url for kind, url, *_ in members(Path(p)) if kind == "response"] for p in summary["files"]]
    assert max(map(len, per_file)) - min(map(len, per_file)) <= 1
    for urls in per_file:
        hosts = {url.split("/")[2] for url in urls}
        assert "bookofproofs.github.io" in hosts and len(hosts) > 10


def test_deterministic(crawl: tuple[Path, dict], tmp_path: Path) -> None:
    out, summary = crawl
    again = build_small(tmp_path / "same")
    assert again["per_source"] == summary["per_source"]
    for a, b in zip(summary["files"], again["files"], strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()
    assert (out / "labels.jsonl").read_bytes() == (tmp_path / "same" / "labels.jsonl").read_bytes()
    other = build_small(tmp_path / "other", seed=1)
    assert (out / "labels.jsonl").read_bytes() != (tmp_path / "other" / "labels.jsonl").read_bytes()
    assert Path(summary["files"][0]).read_bytes() != Path(other["files"][0]).read_bytes()
    assert other["math_pages"] == summary["math_pages"]


def test_default_composition(tmp_path: Path) -> None:
    """The defaults: math is a minority, as on the web (the numbers in the module doc)."""
    summary = build_labelled_crawl(tmp_path, data_root=data_path())
    assert summary["math_pages"] == loop_crawl.DEFAULT_MATH_PAGES + 2
    assert 0.15 <= summary["math_share"] <= 0.20
    assert summary["pages"] == 1335 and summary["duplicate_urls_dropped"] == 2
    assert summary["per_source"]["heritrix_archive_org_2008"] == {"pages": 261, "math": 0}  # no dns: records


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="shared/data"):
        build_labelled_crawl(tmp_path / "out", 10, data_root=tmp_path / "nowhere")


def test_too_many_math_pages(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="math_pages"):
        build_labelled_crawl(tmp_path, 2001, data_root=data_path())


def test_whole_file_gzip_is_rewritten(tmp_path: Path) -> None:
    """A WARC compressed as one gzip stream cannot be sliced: its responses are re-written."""
    source = data_path("warc", "dolma_wget_samples", "sample-0000.warc.gz")
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(gzip.decompress(source.read_bytes()), mtime=0))
    records, rewritten = loop_crawl._source_records(whole, "dolma_wget_samples")
    assert rewritten
    original = {rid: payload for kind, _, rid, _, payload in members(source) if kind == "response"}
    assert len(records) == len(original) == 22
    for record in records:
        one = tmp_path / "one.warc.gz"
        one.write_bytes(record.member)
        [(kind, url, rid, _, payload)] = members(one)
        assert (kind, url, rid) == ("response", record.url, record.record_id)
        assert payload == original[rid]


# ---------------------------------------------------------------------------------------------
# The simulated annotator, on hand-made queue rows with real bookofproofs URLs


@pytest.fixture(scope="module")
def bop_urls() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in data_path(*BOP).read_text(encoding="utf-8").splitlines()]
    branches = [r["url"] for r in rows if r["label_stager"] == "math"]
    history = [r["url"] for r in rows if r["label_stager"] == "math_history_biography"]
    return branches, history


def queue_row(pattern: str, recalled: list[str], unrecalled: list[str], score: float = 0.9) -> dict[str, str]:
    row = dict.fromkeys(QUEUE_COLUMNS, "")
    row.update({"host": "bookofproofs.github.io", "prefix": "/", "suggested_pattern": pattern,
                "recalled_examples": " ".join(f"{score:.4f}:{u}" for u in recalled),
                "unrecalled_examples": " ".join(f"{score / 2:.4f}:{u}" for u in unrecalled)})
    return row


def test_annotator_rule(bop_urls: tuple[list[str], list[str]], tmp_path: Path) -> None:
    branches, history = bop_urls
    labels = {u: True for u in branches[:6]} | {u: False for u in history[:6]}
    unknown = "https://bookofproofs.github.io/branches/never-crawled.html"
    rows = [
        queue_row("bookofproofs.github.io/branches/*", branches[:3], [history[0]]),  # 3/4 math: marked
        queue_row("bookofproofs.github.io/history/*", [history[1], history[2]], [branches[3]]),  # 1/3: no
        queue_row("bookofproofs.github.io/branches/algebra/*", [branches[4]], [unknown]),  # 1 labelled: no
        queue_row("bookofproofs.github.io/a/*", [branches[5]], [history[3]]),  # exactly half: no
        queue_row("bookofproofs.github.io/branches/*", branches[:3], []),  # already marked: once
        queue_row("", branches[:3], []),  # no suggested pattern: skipped
        queue_row("bookofproofs.github.io/b/*", [branches[0], branches[1]], []),  # 2/2: marked
    ]
    del rows[5]["suggested_pattern"]  # a queue written before the column existed
    lines = simulated_annotator(rows, labels)
    assert lines == [
        "bookofproofs.github.io/branches/*\tmath\tsimulated-annotator\t3/4 labelled examples math "
        "(0 unlabelled); rule: >= 2 labelled and > 0.5 math",
        "bookofproofs.github.io/b/*\tmath\tsimulated-annotator\t2/2 labelled examples math "
        "(0 unlabelled); rule: >= 2 labelled and > 0.5 math",
    ]
    # the thresholds are parameters: one labelled math example is enough with min_examples=1 ...
    assert "bookofproofs.github.io/a/*" not in [line.split("\t")[0] for line in simulated_annotator(rows, labels)]
    assert "bookofproofs.github.io/branches/algebra/*" in [
        line.split("\t")[0] for line in simulated_annotator(rows[2:3], labels, min_examples=1)]
    # ... but a section inside one already marked is never written again
    assert "bookofproofs.github.io/branches/algebra/*" not in [
        line.split("\t")[0] for line in simulated_annotator(rows, labels, min_examples=1)]
    assert simulated_annotator([], labels) == []


def test_annotator_through_queue_file(bop_urls: tuple[list[str], list[str]], tmp_path: Path) -> None:
    """Rows read back from a real queue.tsv; URLs with spaces are percent-encoded in the examples."""
    branches, history = bop_urls
    spaced = "https://bookofproofs.github.io/branches/with a\ttab.html"
    labels = {branches[0]: True, spaced: True, history[0]: False}
    rows = [queue_row("bookofproofs.github.io/branches/*", [], [])]
    rows[0]["recalled_examples"] = f"0.9000:{branches[0]} 0.8000:https://bookofproofs.github.io/branches/with%20a%09tab.html"
    rows[0]["unrecalled_examples"] = f"0.1000:{history[0]}"
    queue = tmp_path / "queue.tsv"
    queue.write_text(queue_tsv(rows), encoding="utf-8")
    lines = simulated_annotator(read_queue_tsv(queue), labels)
    assert [line.split("\t")[:3] for line in lines] == [["bookofproofs.github.io/branches/*", "math",
                                                         "simulated-annotator"]]
    assert "2/3 labelled examples math" in lines[0]
    patterns_file = tmp_path / "patterns" / "simulated.tsv"
    write_pattern_file(lines, patterns_file)
    patterns, errors = load_patterns(patterns_file)
    assert errors == []
    assert [(p.glob, p.label, p.annotator) for p in patterns] == [
        ("bookofproofs.github.io/branches/*", "math", "simulated-annotator")]
    assert patterns_file.read_text(encoding="utf-8").startswith("# ")
