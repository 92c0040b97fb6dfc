"""Stream records out of a WARC file (fastwarc), surviving corruption, and parse HTTP responses.

fastwarc parses the WARC framing (1.0, 1.1, 0.17/0.18, .warc and .warc.gz). We read each
response block ourselves and parse its HTTP head here, so that a truncated block, a broken
chunked encoding or a bad gzip body is seen and counted, not silently passed on.

When a gzip member or a WARC header is corrupt, reading resumes at the next gzip member (or
the next `WARC/` line in an uncompressed file) after the damage, and the skipped region is
reported with its offsets.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator

GZIP_MAGIC = b"\x1f\x8b\x08"
SCAN_CHUNK = 1 << 20
OVERSIZED_HEAD = 1 << 16


@dataclass
class WarcRecordInfo:
    offset: int  # byte offset of the record (of its gzip member in a .warc.gz)
    record_type: str  # response, request, metadata, warcinfo, resource, ... or "" if unreadable
    target_uri: str
    date: datetime | None
    content_length: int
    headers: dict[str, str]
    block: bytes | None = None  # the record block, read only for responses within the size limit
    truncated: bool = False  # the file ended inside this record
    oversized: bool = False  # longer than the read limit: `block` holds only its head
    error: str = ""  # reading the block failed (corrupt gzip inside the record)


@dataclass
class CorruptRegion:
    offset: int  # where the damage was found
    resumed_at: int | None  # where reading went on, None if nothing readable followed
    detail: str


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    body_error: str = ""  # decoding the transfer/content encoding failed: reason

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str:
        match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", self.headers.get("content-type", ""))
        return match.group(1).lower() if match else ""


class _PositionedReader:
    """Gives fastwarc a stream whose tell() is the absolute file offset, wherever it was opened."""

    def __init__(self, stream: BinaryIO, start: int) -> None:
        self._stream = stream
        self._pos = start

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


def clean_target_uri(uri: str) -> str:
    """wget writes `<https://...>` (WARC/1.0 draft style); strip the brackets and whitespace."""
    uri = uri.strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1].strip()
    return uri


def _parse_warc_date(value: str) -> datetime | None:
    value = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _find_resume_point(open_at: Callable[[int], BinaryIO], after: int, gzipped: bool) -> int | None:
    """The first offset > `after` where a WARC record (or gzip member holding one) may start."""
    needle = GZIP_MAGIC if gzipped else b"WARC/"
    stream = open_at(after + 1)
    try:
        base = after + 1
        tail = b""
        while True:
            chunk = stream.read(SCAN_CHUNK)
            if not chunk:
                return None
            data = tail + chunk
            start = 0
            while (hit := data.find(needle, start)) >= 0:
                at = base - len(tail) + hit
                at_line_start = gzipped or (hit == 0 and not tail) or data[hit - 1:hit] == b"\n"
                if at_line_start and _looks_like_record(open_at, at):
                    return at
                start = hit + 1
            tail = data[-(len(needle) - 1):]
            base += len(chunk)
    finally:
        stream.close()


def _looks_like_record(open_at: Callable[[int], BinaryIO], at: int) -> bool:
    stream = open_at(at)
    try:
        head = stream.read(1 << 16)
    finally:
        stream.close()
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


def iter_warc(open_at: Callable[[int], BinaryIO], *, read_limit: int,
              read_types: tuple[str, ...] = ("response",)) -> Iterator[WarcRecordInfo | CorruptRegion]:
    """Yield every record of a WARC, and a CorruptRegion for each damaged stretch skipped.

    `open_at(offset)` opens the file at a byte offset (local seek or a ranged GET), which is
    what makes resuming after damage possible without reading the file twice. Blocks of
    records of `read_types` up to `read_limit` bytes are read (only the first 64 KiB of larger
    ones); other records are skipped unread.
    """
    start = 0
    gzipped: bool | None = None
    while True:
        stream = open_at(start)
        if gzipped is None:
            head = stream.read(len(GZIP_MAGIC))
            gzipped = head == GZIP_MAGIC
            stream.close()
            if not head:
                return
            stream = open_at(start)
        last_offset = start - 1
        failure: str | None = None
        try:
            records = ArchiveIterator(_PositionedReader(stream, start), parse_http=False, strict_mode=False)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                offset = record.stream_pos
                if offset <= last_offset:  # whole-file gzip: offsets are approximate, keep them unique
                    offset = last_offset + 1
                headers = record.headers
                info = WarcRecordInfo(
                    offset=offset,
                    record_type=(headers.get("WARC-Type") or "").strip().lower(),
                    target_uri=clean_target_uri(headers.get("WARC-Target-URI") or ""),
                    date=_parse_warc_date(headers.get("WARC-Date") or ""),
                    content_length=record.content_length,
                    headers={k: v for k, v in headers.items()
                             if k in ("WARC-Identified-Payload-Type", "WARC-Truncated", "WARC-Record-ID")},
                )
                last_offset = offset
                if info.record_type in read_types:
                    # An oversized record gets only its head read (enough for the HTTP headers,
                    # so it is counted as what it is); fastwarc skips the rest unread.
                    oversized = info.content_length > read_limit
                    want = OVERSIZED_HEAD if oversized else info.content_length
                    try:
                        block = record.reader.read(want)
                    except (OSError, ValueError) as exc:
                        info.error = f"{exc.__class__.__name__}: {exc}"
                        yield info
                        failure = info.error
                        break
                    info.block = block
                    info.oversized = oversized
                    info.truncated = len(block) < min(want, info.content_length)
                elif not info.record_type:
                    info.truncated = True  # a header cut off by the end of the file
                yield info
        except (OSError, ValueError) as exc:
            failure = f"{exc.__class__.__name__}: {exc}"
        except BaseException as exc:  # fastwarc surfaces Rust panics as PanicException(BaseException)
            if exc.__class__.__name__ != "PanicException":
                raise
            failure = f"PanicException: {exc}"
        finally:
            stream.close()
        if failure is None:
            return
        found_at = max(last_offset, start)
        resume = _find_resume_point(open_at, found_at, gzipped)
        yield CorruptRegion(offset=found_at, resumed_at=resume, detail=failure)
        if resume is None:
            return
        start = resume


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b"\n", pos)
        if eol < 0:
            raise ValueError("chunked body ends inside a chunk size line")
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        size = int(size_text, 16)
        pos = eol + 1
        if size == 0:
            return bytes(out)
        if pos + size > len(body):
            raise ValueError("chunked body ends inside a chunk")
        out += body[pos:pos + size]
        pos += size
        if body[pos:pos + 2] == b"\r\n":
            pos += 2
        elif body[pos:pos + 1] == b"\n":
            pos += 1


def _decode_content(body: bytes, encoding: str) -> bytes:
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompressobj(47).decompress(body)  # 47: gzip or zlib header, auto
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -15)  # servers often send raw deflate
        elif coding == "br":
            try:
                import brotli  # type: ignore[import-not-found]
            except ImportError as exc:
                raise ValueError("brotli content encoding needs the brotli package") from exc
            body = brotli.decompress(body)
        elif coding in ("identity", "none", ""):
            continue
        else:
            raise ValueError(f"unknown content encoding {coding!r}")
    return body


def parse_http_response(block: bytes) -> HttpResponse | None:
    """Split an HTTP response block into status, headers and decoded body; None if not HTTP."""
    if not block.startswith(b"HTTP/"):
        return None
    head_end = block.find(b"\r\n\r\n")
    sep = 4
    if head_end < 0 or (0 <= block.find(b"\n\n") < head_end):
        head_end, sep = block.find(b"\n\n"), 2
    if head_end < 0:
        head, body = block, b""
    else:
        head, body = block[:head_end], block[head_end + sep:]
    lines = head.decode("latin-1").splitlines()
    parts = lines[0].split(None, 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    response = HttpResponse(status=status, headers=headers, body=body)
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            response.body = _dechunk(response.body)
        if headers.get("content-encoding"):
            response.body = _decode_content(response.body, headers["content-encoding"])
    except (ValueError, zlib.error) as exc:
        response.body_error = f"{exc.__class__.__name__}: {exc}"
    return response
