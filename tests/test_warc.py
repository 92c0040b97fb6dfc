"""WARC reading on real and damaged files: every record counted, damage skipped, the rest read."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from pipeline.config import load_settings
from pipeline.ingest import FileStats, ingest_warc, iter_pages
from pipeline.warc import CorruptRegion, clean_target_uri, iter_warc, parse_http_response
from tests.conftest import data_path, real_warcs
from tests.warcs import html_response, write_warc

SCRAPINGHUB = ("warc_repackaged", "scrapinghub_article_extraction_benchmark",
               "scrapinghub_article_extraction_benchmark.warc.gz")


def _opener(path):
    def open_at(offset):
        fh = open(path, "rb")  # noqa: SIM115 - the reader closes it
        fh.seek(offset)
        return fh
    return open_at


def _records(path, read_limit=10 << 20):
    return list(iter_warc(_opener(path), read_limit=read_limit))


def _settings(*overrides):
    return load_settings(None, ["extract.timeout_s=20", *overrides])


def test_reads_every_real_warc_like_warcio():
    for path in real_warcs():
        ours = [r for r in _records(path) if not isinstance(r, CorruptRegion)]
        with open(path, "rb") as fh:
            theirs = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in WarcioIterator(fh)]
        assert [r.record_type for r in ours] == [t for t, _ in theirs], path.name
        assert [r.target_uri for r in ours] == [clean_target_uri(u or "") for _, u in theirs], path.name
        assert len({r.offset for r in ours}) == len(ours)


def test_wget_angle_bracket_uris_are_cleaned():
    path = data_path("warc", "dolma_wget_samples", "sample-0000.warc.gz")
    uris = [r.target_uri for r in _records(path) if r.record_type == "response"]
    assert uris and all(u.startswith("http") and "<" not in u for u in uris)


def test_old_warc_017_from_heritrix():
    path = data_path("warc", "heritrix_archive_org_2008", "IAH-20080430204825-00000-blackbook.warc.gz")
    stats = FileStats(warc_path=str(path))
    rows = list(iter_pages(str(path), _settings(), stats))
    assert stats.records_read == 822
    assert stats.dropped["not_http"] == 38  # dns: records
    assert stats.dropped["non_200"] > 40 and stats.dropped["non_html"] > 100
    assert len(rows) == stats.pages_kept > 80
    assert all(r["fetch_time"].year == 2008 for r in rows)


# ------------------------------------------------------------------ damaged files


def _ingest_file(path, tmp_path, **kw):
    stats = ingest_warc(str(path), str(tmp_path / "out"), _settings(), force=True)
    assert stats.status == "done", stats.problems
    assert stats.records_read == stats.pages_kept + sum(stats.dropped.values())
    return stats


@pytest.fixture(scope="module")
def clean_counts(tmp_path_factory):
    path = data_path(*SCRAPINGHUB)
    stats = ingest_warc(str(path), str(tmp_path_factory.mktemp("clean")), _settings(), force=True)
    return path.read_bytes(), stats


def test_truncated_gzip_keeps_what_came_before(tmp_path, clean_counts):
    data, clean = clean_counts
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) // 2])
    stats = _ingest_file(cut, tmp_path)
    assert stats.dropped["truncated"] == 1
    assert 0.4 * clean.pages_kept < stats.pages_kept < clean.pages_kept
    assert any(p["reason"] == "truncated" for p in stats.problems)


def test_garbled_bytes_mid_file_resume_at_next_member(tmp_path, clean_counts):
    data, clean = clean_counts
    damaged = bytearray(data)
    at = len(data) // 3
    damaged[at:at + 2000] = random.Random(7).randbytes(2000)
    path = tmp_path / "garbled.warc.gz"
    path.write_bytes(bytes(damaged))
    stats = _ingest_file(path, tmp_path)
    assert stats.corrupt_regions >= 1
    # Only the record(s) holding the damage are lost; everything after it is read again.
    assert clean.pages_kept - 2 <= stats.pages_kept < clean.pages_kept
    region = next(p for p in stats.problems if p["reason"] == "corrupt_region")
    assert region["offset"] <= at and "resumed at" in region["detail"]


def test_garbage_and_empty_files(tmp_path):
    garbage = tmp_path / "garbage.warc.gz"
    garbage.write_bytes(random.Random(1).randbytes(50_000))
    stats = _ingest_file(garbage, tmp_path)
    assert stats.pages_kept == 0 and stats.corrupt_regions == 1
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    stats = _ingest_file(empty, tmp_path)
    assert stats.records_read == 0 and stats.pages_kept == 0 and stats.corrupt_regions == 0
    assert (tmp_path / "out" / stats.part).exists()  # an empty part, so the WARC counts as done


def test_mixed_file_warc_garbage_warc(tmp_path, clean_counts):
    data, clean = clean_counts
    small = data_path("warc", "cc_resiliparse_sample", "CC-MAIN-2020-34-sample.warc.gz").read_bytes()
    path = tmp_path / "mixed.warc.gz"
    path.write_bytes(small + random.Random(2).randbytes(30_000) + data)
    stats = _ingest_file(path, tmp_path)
    assert stats.corrupt_regions == 1
    assert stats.pages_kept == clean.pages_kept + 16


def test_uncompressed_warc_cut_and_garbled(tmp_path, clean_counts):
    data, clean = clean_counts
    raw = gzip.decompress(data)
    plain = tmp_path / "plain.warc"
    plain.write_bytes(raw)
    assert _ingest_file(plain, tmp_path).pages_kept == clean.pages_kept
    damaged = bytearray(raw)
    at = raw.index(b"WARC/1.", len(raw) // 2)  # garble a record header: framing is lost there
    damaged[at:at + 500] = b"\x00garbage\xff" * 50
    path = tmp_path / "plain-garbled.warc"
    path.write_bytes(bytes(damaged))
    stats = _ingest_file(path, tmp_path)
    assert stats.corrupt_regions == 1
    assert stats.pages_kept == clean.pages_kept - 1
    cut = tmp_path / "plain-cut.warc"
    cut.write_bytes(raw[: len(raw) // 2])
    stats = _ingest_file(cut, tmp_path)
    assert stats.dropped["truncated"] == 1


# ------------------------------------------------------------------ odd payloads


PAGE = ("<html><head><title>Fermat</title></head><body><article><h1>Little theorem</h1>"
        "<p>For a prime \\(p\\) and an integer \\(a\\), we have \\(a^p \\equiv a \\pmod p\\). "
        "This is one of the most useful facts in elementary number theory, and it is easy to prove.</p>"
        "</article></body></html>")


def _chunked(body: bytes, size: int = 50) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_odd_payloads_are_counted_each_with_its_reason(tmp_path):
    big = b"<html><body><p>" + b"x " * (26 * 1024 * 1024) + b"</p></body></html>"  # ~52 MB
    slow = ("<html><body>" + "<div><p>deep " * 60_000 + "</p></div>" * 60_000 + "</body></html>").encode()
    responses = [
        html_response("https://a.example.org/ok", PAGE.encode()),
        html_response("https://a.example.org/gz", gzip.compress(PAGE.encode()),
                      extra=[("Content-Encoding", "gzip")]),
        html_response("https://a.example.org/chunked", _chunked(PAGE.encode()),
                      extra=[("Transfer-Encoding", "chunked")]),
        html_response("https://a.example.org/deflate", zlib.compress(PAGE.encode()),
                      extra=[("Content-Encoding", "deflate")]),
        html_response("https://a.example.org/badgz", b"\x1f\x8b\x08\x00not really gzip at all",
                      extra=[("Content-Encoding", "gzip")]),
        html_response("https://a.example.org/cp1251", "<p>Теорема Ферма о простых числах и сравнениях по модулю.</p>"
                      .encode("cp1251"), content_type="text/html"),
        html_response("https://a.example.org/big", big),
        html_response("https://a.example.org/img.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png"),
        html_response("https://a.example.org/gone", b"<html>Not found</html>", status="404 Not Found"),
        html_response("https://a.example.org/empty", b"<html><body></body></html>"),
        html_response("https://a.example.org/untyped", PAGE.encode(), content_type=""),
        html_response("https://a.example.org/slow", slow),
        html_response("https://a.example.org/after-slow", PAGE.encode()),
        html_response("http://[broken-ipv6/page", PAGE.encode()),
        html_response("ftp://a.example.org/file.html", PAGE.encode()),
    ]
    path = write_warc(tmp_path / "odd.warc.gz", responses)
    settings = load_settings(None, ["extract.timeout_s=0.3"])
    stats = FileStats(warc_path=str(path))
    rows = {r["url"].rsplit("/", 1)[1]: r for r in iter_pages(str(path), settings, stats)}
    assert set(rows) == {"ok", "gz", "chunked", "deflate", "cp1251", "untyped", "after-slow"}
    for name in ("ok", "gz", "chunked", "deflate", "untyped", "after-slow"):
        assert "a^p \\equiv a \\pmod p" in rows[name]["text"], name
        assert rows[name]["math_markup"] == ["tex_delims"]
    assert "Ферма" in rows["cp1251"]["text"] and rows["cp1251"]["charset"] == "cp1251"
    assert dict(stats.dropped) == {"decode_error": 1, "too_large": 1, "non_html": 1, "non_200": 1,
                                   "empty_text": 1, "extract_timeout": 1, "bad_url": 2}
    assert stats.records_read == len(responses) == stats.pages_kept + sum(stats.dropped.values())
    assert {p["reason"] for p in stats.problems} == {"decode_error", "too_large", "extract_timeout", "bad_url"}


def test_parse_http_response_edge_cases():
    assert parse_http_response(b"not http at all") is None
    lf_only = parse_http_response(b"HTTP/1.0 200 OK\nContent-Type: text/html; charset=ISO-8859-1\n\n<p>x</p>")
    assert lf_only.status == 200 and lf_only.charset == "iso-8859-1" and lf_only.body == b"<p>x</p>"
    repeated = parse_http_response(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
    assert repeated.headers["x-a"] == "1, 2"
    broken = parse_http_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert broken.body_error
