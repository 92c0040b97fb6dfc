"""Hostile WARC input, each fault built by mutating the bytes of a real WARC into tmp_path.

For every fault: the ingest accounting balances (records_read == pages_kept + sum(dropped)),
every record that an independent reader sees is read and kept or counted with a reason, the
damaged record is named with its offset, and the records after it are still read. The
independent reader is warcio, opened on its own at every gzip member start (or every `WARC/` in
a plain file), so that it cannot itself be led astray by a lying length.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import struct
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from jobs import ingest as ingest_job
from pipeline.config import load_settings
from pipeline.extract import DecodeError, GuardedExtractor, decode_html
from pipeline.ingest import FileStats, ingest_warc, iter_pages, merge_stats
from pipeline.warc import GZIP_MAGIC, CorruptRegion, WarcRecordInfo, clean_target_uri, iter_warc
from tests.conftest import ROOT, data_path

BASE = ("warc", "cc_resiliparse_sample", "CC-MAIN-2020-34-sample.warc.gz")  # real Common Crawl output
SUBSET = 13  # warcinfo, then request/response/metadata x4: responses at 2, 5, 8, 11
FAULTY = 2  # the first response: everything after it must still be read
NEXT_RESPONSE = 5
LIE = 2_000_000_000


@lru_cache(maxsize=8)
def _settings(*overrides: str):
    """Settings are read once per set of overrides (YAML parsing dominates these small tests)."""
    return load_settings(None, ["extract.timeout_s=20", "ingest.log_every_s=600", *overrides])


# ---------------------------------------------------------------- building faults from real bytes


def _members(data: bytes) -> list[bytes]:
    """The gzip members of a record-per-member .warc.gz, as their compressed bytes."""
    out, pos = [], 0
    while pos < len(data):
        z = zlib.decompressobj(31)
        z.decompress(data[pos:])
        end = len(data) - len(z.unused_data)
        out.append(data[pos:end])
        pos = end
    return out


def _gz(record: bytes) -> bytes:
    return gzip.compress(record, mtime=0)


def _split(record: bytes) -> tuple[bytes, bytes, bytes]:
    """(WARC header through its blank line, block, trailer) of one uncompressed record."""
    head_end = record.index(b"\r\n\r\n") + 4
    length = int(re.search(rb"(?im)^Content-Length:[ \t]*(\d+)", record[:head_end]).group(1))
    return record[:head_end], record[head_end:head_end + length], record[head_end + length:]


def _with_length(record: bytes, length: int) -> bytes:
    head, block, trailer = _split(record)
    head = re.sub(rb"(?im)^(Content-Length:[ \t]*)\d+", rb"\g<1>" + str(length).encode(), head, count=1)
    return head + block + trailer


def _cut_mid_payload(record: bytes) -> bytes:
    """The writer died half way through the block: no rest, no trailer; the length still claims all."""
    head, block, _ = _split(record)
    return head + block[: len(block) // 2]


def _with_http_body(record: bytes, body: bytes, http_headers: list[str]) -> bytes:
    """The record with its HTTP head replaced (status line kept) and a new body; lengths fixed."""
    _, block, trailer = _split(record)
    status = block.split(b"\r\n", 1)[0]
    http = status + b"\r\n" + b"".join(h.encode() + b"\r\n" for h in http_headers) + b"\r\n" + body
    return _with_length(_split(record)[0] + http + trailer, len(http))


@dataclass
class Sample:
    records: list[bytes]  # uncompressed, one per member of the real file

    def gz(self, replace: dict[int, bytes] | None = None) -> bytes:
        return b"".join(_gz(replace[i]) if replace and i in replace else _gz(r) for i, r in enumerate(self.records))

    def plain(self, replace: dict[int, bytes] | None = None) -> bytes:
        return b"".join(replace[i] if replace and i in replace else r for i, r in enumerate(self.records))

    def url(self, i: int) -> str:
        return re.search(rb"WARC-Target-URI: (\S+)", self.records[i]).group(1).decode()


@pytest.fixture(scope="module")
def sample() -> Sample:
    members = _members(data_path(*BASE).read_bytes())[:SUBSET]
    return Sample([gzip.decompress(m) for m in members])


@pytest.fixture(scope="module")
def extractor() -> Iterator[GuardedExtractor]:
    guarded = GuardedExtractor(_settings().extract)
    yield guarded
    guarded.close()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _ingest(path: Path, extractor: GuardedExtractor, *overrides: str) -> tuple[FileStats, dict[str, dict]]:
    stats = FileStats(warc_path=str(path))
    rows = {r["url"]: r for r in iter_pages(str(path), _settings(*overrides), stats, extractor)}
    assert stats.records_read == stats.pages_kept + sum(stats.dropped.values()), stats.to_dict()
    assert merge_stats([stats], _settings())["invariant_holds"]
    assert len(rows) == stats.pages_kept
    return stats, rows


@pytest.fixture(scope="module")
def clean(sample: Sample, tmp_path_factory, extractor) -> dict[str, tuple[FileStats, dict[str, dict]]]:
    """The same records, undamaged: what a faulty file must still give, less the damaged record."""
    folder = tmp_path_factory.mktemp("clean")
    runs = {"warc.gz": _ingest(_write(folder, "clean.warc.gz", sample.gz()), extractor),
            "warc": _ingest(_write(folder, "clean.warc", sample.plain()), extractor)}
    for stats, rows in runs.values():  # the page each fault damages, and the one after it, are kept
        assert stats.records_read == SUBSET and not stats.problems
        assert {sample.url(FAULTY), sample.url(NEXT_RESPONSE)} <= set(rows)
    return runs


# ---------------------------------------------------------------- the independent reference


@dataclass
class RefRecord:
    offset: int
    rec_type: str
    uri: str
    whole: bool  # its block is all there, and ends where a record boundary is


def reference_records(data: bytes) -> list[RefRecord]:
    """warcio, opened on its own at every gzip member start (or every `WARC/` of a plain file),
    keeping the places where a record parses: it does not stop at a lie, as it never reads on."""
    gzipped = data.startswith(GZIP_MAGIC)
    out = []
    for hit in re.finditer(re.escape(GZIP_MAGIC if gzipped else b"WARC/"), data):
        offset = hit.start()
        try:
            record = next(WarcioIterator(io.BytesIO(data[offset:]), no_record_parse=True))
            block = record.raw_stream.read()
        except Exception:  # not a record start: what a scan for magic bytes expects to meet
            continue
        declared = int(record.rec_headers.get_header("Content-Length"))
        whole = len(block) == declared
        if whole and not gzipped:
            end = data.index(b"\r\n\r\n", offset) + 4 + declared
            whole = data[end:end + 4] == b"\r\n\r\n" and data[end + 4:end + 9] in (b"", b"WARC/")
        out.append(RefRecord(offset, record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "",
                             whole))
    return out


def _our_records(path: Path) -> list[WarcRecordInfo | CorruptRegion]:
    def open_at(offset: int):
        fh = open(path, "rb")  # noqa: SIM115 - the reader closes it
        fh.seek(offset)
        return fh
    return list(iter_warc(open_at, read_limit=_settings().ingest.max_html_bytes))


def assert_every_record_accounted(path: Path, stats: FileStats) -> list[RefRecord]:
    """Every record warcio finds is read by us, at its offset, and is cut exactly when warcio's
    block is not whole; we read nothing warcio does not see; every cut one is a problem."""
    ref = reference_records(path.read_bytes())
    ours = {r.offset: r for r in _our_records(path) if isinstance(r, WarcRecordInfo)}
    for r in ref:
        mine = ours.get(r.offset)
        assert mine is not None, f"{r.rec_type} {r.uri} at {r.offset}: not read"
        assert (mine.record_type, mine.target_uri) == (r.rec_type, clean_target_uri(r.uri)), r
        assert mine.truncated == (not r.whole), (r, mine.detail)
    assert sorted(ours) == [r.offset for r in ref]
    assert stats.records_read == len(ref)
    problems = {p["offset"] for p in stats.problems if p["reason"] == "truncated"}
    assert problems == {r.offset for r in ref if not r.whole}
    return ref


def _kept_urls_after_fault(clean_rows: dict[str, dict], sample: Sample) -> set[str]:
    return set(clean_rows) - {sample.url(FAULTY)}


# ---------------------------------------------------------------- 1. a length that lies (2 GB)


@pytest.mark.parametrize("kind", ["warc.gz", "warc"])
def test_content_length_lie_resyncs_and_counts_the_record(kind, sample, clean, extractor, tmp_path, caplog):
    lied = _with_length(sample.records[FAULTY], LIE)
    data = sample.gz({FAULTY: lied}) if kind == "warc.gz" else sample.plain({FAULTY: lied})
    path = _write(tmp_path, f"lie.{kind}", data)
    stats, rows = _ingest(path, extractor)
    clean_stats, clean_rows = clean[kind]
    assert stats.records_read == SUBSET == clean_stats.records_read  # all 13, not the 3 before the lie
    assert stats.dropped["truncated"] == 1 and stats.dropped["too_large"] == 0
    assert set(rows) == _kept_urls_after_fault(clean_rows, sample) and sample.url(NEXT_RESPONSE) in rows
    ref = assert_every_record_accounted(path, stats)
    lie = next(p for p in stats.problems if p["reason"] == "truncated")
    assert lie["offset"] == next(r.offset for r in ref if not r.whole) and str(LIE) in lie["detail"]
    assert "read on at" in lie["detail"]
    # One clear line for the bad record, naming the file and the offset; no traceback.
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [f"{path}@{lie['offset']}: truncated {lie['detail']}"]
    assert all(r.exc_info is None for r in caplog.records)


# ---------------------------------------------------------------- 2. a record cut mid-payload


@pytest.mark.parametrize("kind", ["warc.gz", "warc"])
def test_record_cut_mid_payload_is_truncated_and_the_next_one_kept(kind, sample, clean, extractor, tmp_path):
    cut = _cut_mid_payload(sample.records[FAULTY])
    # In the .warc.gz the cut record's member is whole: only the declared length gives it away.
    data = sample.gz({FAULTY: cut}) if kind == "warc.gz" else sample.plain({FAULTY: cut})
    path = _write(tmp_path, f"cut.{kind}", data)
    stats, rows = _ingest(path, extractor)
    _, clean_rows = clean[kind]
    assert stats.records_read == SUBSET and stats.dropped["truncated"] == 1
    assert set(rows) == _kept_urls_after_fault(clean_rows, sample)
    for url, row in rows.items():  # no page carries another record's WARC header in its text
        assert "WARC-Type:" not in row["text"] and "WARC/1.0" not in row["text"], url
        assert row["text"] == clean_rows[url]["text"]
    assert_every_record_accounted(path, stats)


def test_cut_record_whose_declared_end_lands_on_a_blank_line_is_caught(sample, clean, extractor, tmp_path):
    """The declared end of a cut record lands on a blank line further on (here the end of the
    next response's HTTP head): that looks like a record trailer, but the block holds the next
    records' headers, so the record is cut. Also inside one gzip member (whole-file gzip)."""
    head, block, _ = _split(sample.records[FAULTY])
    rest = sample.plain()[sum(map(len, sample.records[:FAULTY + 1])):]
    blank = rest.index(b"\r\n\r\n", rest.index(b"HTTP/1.1 200"))  # where the next HTTP head ends
    keep = len(block) - blank
    plain = sample.plain({FAULTY: head + block[:keep]})
    _, clean_rows = clean["warc"]
    for name, data in (("blank.warc", plain), ("blank-one-member.warc.gz", _gz(plain))):
        path = _write(tmp_path, name, data)
        stats, rows = _ingest(path, extractor)
        assert stats.records_read == SUBSET and stats.dropped["truncated"] == 1 and not stats.corrupt_regions
        assert set(rows) == _kept_urls_after_fault(clean_rows, sample), name
        if name.endswith(".warc"):
            assert_every_record_accounted(path, stats)


# ---------------------------------------------------------------- 3. UTF-16 without a BOM


def _page_text(sample: Sample, i: int) -> str:
    from pipeline.warc import parse_http_response

    response = parse_http_response(_split(sample.records[i])[1])
    return decode_html(response.body, response.charset)[0]


def test_decode_html_tells_utf16_without_bom(sample):
    text = _page_text(sample, NEXT_RESPONSE)  # a real Russian page
    for codec in ("utf-16-le", "utf-16-be"):
        wide = text.encode(codec)
        assert decode_html(wide) == (text, codec)
        assert decode_html(wide, "utf-8") == (text, codec)  # a utf-8 label: NUL bytes are valid UTF-8
        assert decode_html(wide[:-1], "utf-8")[0] == text[:-1]  # cut in the middle of a character
    assert decode_html(text.encode("utf-32-le"), "iso-8859-1") == (text, "utf-32-le")
    with pytest.raises(DecodeError):  # NULs at no regular place: no charset gives text
        decode_html(bytes(b if i % 3 else 0 for i, b in enumerate(text.encode("utf-8"))), "utf-8")


def test_utf16_pages_are_kept_as_text_and_garbage_is_a_decode_error(sample, clean, extractor, tmp_path):
    text = _page_text(sample, NEXT_RESPONSE)
    # Three real responses of the sample get the page as their body: UTF-16LE with no charset,
    # UTF-16BE labelled utf-8, and bytes no charset decodes (NULs at no regular place).
    pages = {
        FAULTY: (text.encode("utf-16-le"), ["Content-Type: text/html"]),
        8: (text.encode("utf-16-be"), ["Content-Type: text/html; charset=utf-8"]),
        11: (bytes(b if i % 3 else 0 for i, b in enumerate(text.encode("utf-8"))),
             ["Content-Type: text/html; charset=utf-8"]),
    }
    records = {i: _with_http_body(sample.records[i], body, headers) for i, (body, headers) in pages.items()}
    path = _write(tmp_path, "wide.warc.gz", sample.gz(records))
    stats, rows = _ingest(path, extractor)
    _, clean_rows = clean["warc.gz"]
    original = clean_rows[sample.url(NEXT_RESPONSE)]["text"]
    for i, codec in ((FAULTY, "utf-16-le"), (8, "utf-16-be")):
        row = rows[sample.url(i)]
        assert row["charset"] == codec and row["text"] == original, i
    assert sample.url(11) not in rows and stats.dropped["decode_error"] == 1
    assert any(p["reason"] == "decode_error" and "control characters" in p["detail"] for p in stats.problems)
    assert_every_record_accounted(path, stats)


# ---------------------------------------------------------------- 6. a compression bomb


def _gzip_bomb(size: int = 1 << 30) -> bytes:
    """A valid gzip of `size` spaces, about size/1000 bytes, built without ever holding the
    inflated data: with a full flush after each MiB, every MiB compresses to the same bytes."""
    mib = b" " * (1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = z.compress(mib) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(mib) + z.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(mib, crc)
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return head + first + again * ((size >> 20) - 1) + z.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _chunked(body: bytes, size: int = 1 << 16) -> bytes:
    return b"".join(f"{len(body[i:i + size]):x}\r\n".encode() + body[i:i + size] + b"\r\n"
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def test_compression_bomb_is_too_large_and_memory_stays_small(sample, clean, extractor, tmp_path):
    import brotli

    bomb = _gzip_bomb()
    assert len(bomb) < 1_100_000  # a 1 MB body that inflates to 1 GiB
    z = brotli.Compressor(quality=1)
    br = b"".join(z.process(b" " * (1 << 20)) for _ in range(1024)) + z.finish()
    html = ["Content-Type: text/html; charset=utf-8"]
    records = {
        2: _with_http_body(sample.records[2], bomb, [*html, "Content-Encoding: gzip"]),
        5: _with_http_body(sample.records[5], _chunked(bomb), [*html, "Transfer-Encoding: chunked",
                                                                "Content-Encoding: gzip"]),
        8: _with_http_body(sample.records[8], br, [*html, "Content-Encoding: br"]),
    }
    path = _write(tmp_path, "bomb.warc.gz", sample.gz(records))
    tracemalloc.start()
    try:
        stats, rows = _ingest(path, extractor)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.dropped["too_large"] == 3
    assert set(rows) == set(clean["warc.gz"][1]) - {sample.url(i) for i in records}
    # The bound is max_html_bytes (5 MB) of decoded body: peak memory is a few times that, not GiB.
    assert peak < 64 << 20, f"peak {peak / 2**20:.0f} MiB"
    assert sum(p["reason"] == "too_large" and "decodes to more than" in p["detail"] for p in stats.problems) == 3
    assert_every_record_accounted(path, stats)


def test_every_content_coding_is_bounded_while_decoding():
    from pipeline.warc import parse_http_response

    bomb = _gzip_bomb(256 << 20)
    raw_deflate = bomb[10:-8]  # the deflate stream inside the gzip member
    zlib_deflate = b"\x78\xda" + raw_deflate + struct.pack(">I", 1)  # adler32 never reached
    limit = 1 << 20
    for coding, body in (("gzip", bomb), ("deflate", raw_deflate), ("deflate", zlib_deflate),
                         ("gzip, gzip", gzip.compress(bomb, mtime=0))):  # the inner layer is the bomb
        block = f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n\r\n".encode() + body
        response = parse_http_response(block, max_body=limit)
        assert response.oversized and len(response.body) == limit and not response.body_error, coding
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(b"x" * (3 * limit))
    response = parse_http_response(chunked, max_body=limit)
    assert response.oversized and len(response.body) == limit
    small = parse_http_response(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(b"<p>ok</p>"),
                                max_body=limit)
    assert small.body == b"<p>ok</p>" and not small.oversized


# ---------------------------------------------------------------- 12. empty and non-WARC files


def _not_warc_bytes() -> bytes:
    """Real bytes that are no WARC: the head of a repackaged WARC's JSONL metadata."""
    meta = data_path("warc_repackaged", "math_markup_variety", "math_markup_variety.meta.jsonl")
    return meta.read_bytes()[:20_000]


def test_empty_and_non_warc_files_are_said_so(tmp_path, extractor):
    files = {
        "empty.warc.gz": b"",
        "empty-gzip.warc.gz": gzip.compress(b"", mtime=0),
        "notwarc.warc": _not_warc_bytes(),
        "notwarc.warc.gz": gzip.compress(_not_warc_bytes(), mtime=0),
    }
    out = tmp_path / "out"
    results = {}
    for name, data in files.items():
        stats = ingest_warc(str(_write(tmp_path, name, data)), str(out), _settings(), extractor=extractor)
        assert stats.status == "done" and stats.records_read == 0 and (out / stats.part).exists()
        results[name] = stats
    for name, stats in results.items():
        expected = "empty" if name.startswith("empty") else "not_warc"
        assert stats.failure == expected, name
        problem = next(p for p in stats.problems if p["reason"] == expected)
        assert problem["offset"] == 0
        line = ingest_job.describe_file(stats, 1, 4)
        assert name in line and ("EMPTY" if expected == "empty" else "NOT A WARC (offset 0") in line, line
    merged = merge_stats(list(results.values()), _settings())
    assert merged["files_empty"] == 2 and merged["files_not_warc"] == 2 and merged["invariant_holds"]
    assert "2 empty, 2 not a WARC" in ingest_job.summary_line(merged)
    with pytest.raises(ingest_job.StrictInputError) as raised:
        ingest_job.check_strict(merged)
    message = str(raised.value)
    assert "\n" not in message and all(name in message for name in files) and "at offset 0" in message
    ingest_job.check_strict(merge_stats([FileStats(warc_path="ok.warc.gz", records_read=1,
                                                   dropped={"not_response": 1})], _settings()))


# ---------------------------------------------------------------- end to end: `mathmine ingest --strict`


def test_cli_strict_names_each_bad_file_in_one_line(sample, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    lie = _write(inputs, "lie.warc.gz", sample.gz({FAULTY: _with_length(sample.records[FAULTY], LIE)}))
    _write(inputs, "cut.warc", sample.plain({FAULTY: _cut_mid_payload(sample.records[FAULTY])}))
    _write(inputs, "empty.warc.gz", b"")
    _write(inputs, "notwarc.warc.gz", gzip.compress(_not_warc_bytes(), mtime=0))
    out = tmp_path / "pages"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SPARK_MASTER", None)
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "ingest", "--input", str(inputs), "--out", str(out), "--strict",
         "--set", "spark.master=local[1]", "--set", "extract.timeout_s=20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("mathmine: error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert f"{inputs / 'empty.warc.gz'}: empty at offset 0" in errors[0]
    assert f"{inputs / 'notwarc.warc.gz'}: not_warc at offset 0" in errors[0]
    stats = json.loads((out / "__ingest__" / "stats.json").read_text())
    assert stats["files"] == 4 and stats["files_empty"] == 1 and stats["files_not_warc"] == 1
    assert stats["invariant_holds"] and stats["records_read"] == 2 * SUBSET
    assert stats["records_read"] == stats["pages_kept"] + sum(stats["dropped"].values())
    assert stats["dropped"]["truncated"] == 2
    per_file = {Path(f["warc_path"]).name: f for f in stats["per_file"]}
    assert {n: (f["status"], f["failure"]) for n, f in per_file.items()} == {
        "lie.warc.gz": ("done", ""), "cut.warc": ("done", ""), "empty.warc.gz": ("done", "empty"),
        "notwarc.warc.gz": ("done", "not_warc")}
    assert "1 empty, 1 not a WARC" in done.stdout
    # The console line of the file with the lie names it, with the offset of the lying record.
    offset = next(p["offset"] for f in stats["per_file"] if f["warc_path"] == str(lie) for p in f["problems"])
    line = next(line for line in done.stderr.splitlines() if "ingest: [" in line and "lie.warc.gz" in line)
    assert f"first at offset {offset}: truncated" in line, line
