"""Stream records out of a WARC file, surviving corruption and lying lengths, and parse HTTP responses.

We frame the records ourselves (WARC 1.0, 1.1, 0.17/0.18; .warc and .warc.gz) instead of handing
the file to a parser that reads a multi-member gzip as one stream: there, a record whose
Content-Length claims more than it holds reads on into the next gzip members and swallows the
records after it (a 2 GB claim swallows the rest of the file). Here:

* in a .warc.gz every gzip member is decompressed on its own, so its end is known exactly and no
  record reads past it: a declared length that runs past the end of its member marks the record
  truncated, and reading goes on with the next member;
* in a plain .warc (and inside a member holding several records) the bytes after a block must be
  the blank-line trailer and then the next `WARC/` line, or the end; where they are not (a record
  cut mid-payload, a length that lies) the record is counted truncated and reading goes on at the
  first `WARC/` line after its header.

When a gzip member or a WARC header is corrupt, reading resumes at the next gzip member (or the
next `WARC/` line in an uncompressed file) after the damage, and the skipped region is reported
with its offsets. HTTP bodies are decoded (chunked, gzip, deflate, br) under a bound on the
decoded size, so a compression bomb costs no more memory than a page at the size limit.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b\x08"
SCAN_CHUNK = 1 << 20
OVERSIZED_HEAD = 1 << 16
RAW_CHUNK = 1 << 16  # compressed bytes read at a time: small, so zlib's unconsumed tail stays small
STREAM_CHUNK = 1 << 16
SKIP_CHUNK = 1 << 20
MAX_WARC_HEADER = 1 << 18  # a longer "header" is not one: the framing is lost
MAX_DECODED_BODY = 1 << 27  # parse_http_response's default bound on a decoded body (ingest passes its own)
MAX_CHUNK_LINE = 4096  # a chunk-size line (with extensions) longer than this is not HTTP

_VERSION_LINE = re.compile(rb"WARC/\d+\.\d+[ \t]*\r?$")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_BLANK = b"\r\n"
_KEPT_HEADERS = {name.lower(): name for name in
                 ("WARC-Identified-Payload-Type", "WARC-Truncated", "WARC-Record-ID")}


@dataclass
class WarcRecordInfo:
    offset: int  # byte offset of the record (of its gzip member in a .warc.gz)
    record_type: str  # response, request, metadata, warcinfo, resource, ... or "" if unreadable
    target_uri: str
    date: datetime | None
    content_length: int
    headers: dict[str, str]
    block: bytes | None = None  # the record block, read only for responses within the size limit
    truncated: bool = False  # the record is cut: its file or gzip member ends first, or its length lies
    oversized: bool = False  # longer than the read limit: `block` holds only its head
    error: str = ""  # reading the block failed (corrupt gzip inside the record)
    detail: str = ""  # why it is truncated, and where reading went on


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
    oversized: bool = False  # the decoded body ran past the bound: `body` holds only its head

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str:
        match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", self.headers.get("content-type", ""))
        return match.group(1).lower() if match else ""


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


# ---------------------------------------------------------------- byte sources


class _Raw:
    """The compressed bytes of a .warc.gz from some offset on, taken member by member."""

    def __init__(self, stream: BinaryIO, pos: int) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = pos  # file offset of buf[0]; once a member ends, where the next one starts
        self._eof = False

    def fill(self) -> bool:
        if self._eof:
            return False
        chunk = self.stream.read(RAW_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self.buf = self.buf + chunk if self.buf else chunk
        return True

    def head(self, n: int) -> bytes:
        while len(self.buf) < n and self.fill():
            pass
        return self.buf[:n]


class _Member:
    """The decompressed bytes of the gzip member at `raw.pos`: read() gives b"" at its end, so a
    record inside it can never run on into the next member."""

    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.start = raw.pos
        self._z = zlib.decompressobj(31)
        self._full = False  # the last call filled its output: zlib may hold more without new input
        self.ended = False
        self.cut = False  # the file ends inside this member

    def read(self, n: int) -> bytes:  # raises zlib.error on a corrupt member
        raw = self.raw
        while not self.ended:
            if not raw.buf and not self._full and not raw.fill():
                self.ended = self.cut = True
                break
            data = raw.buf
            out = self._z.decompress(data, n)
            self._full = len(out) == n
            left = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
            raw.pos += len(data) - len(left)
            raw.buf = left
            self.ended = self._z.eof
            if out:
                return out
        return b""


class _GzipFile:
    """A .warc.gz read member by member; a member can be read again (to rescan a swallowing block)."""

    def __init__(self, open_at: Callable[[int], BinaryIO]) -> None:
        self._open_at = open_at
        self.raw = _Raw(open_at(0), 0)
        self.member: _Member | None = None

    def open_member(self) -> _Stream:
        self.member = _Member(self.raw)
        return _Stream(self.member.read)

    def reopen_member(self, at: int) -> _Stream:
        """Decompress the current member again from its start up to `at`: its bytes were skipped
        unread. The new raw stream then goes on into the members after it."""
        assert self.member is not None
        self.restart(self.member.start)
        src = self.open_member()
        src.skip(at)
        return src

    def restart(self, at: int) -> None:
        self.raw.stream.close()
        self.raw = _Raw(self._open_at(at), at)

    def close(self) -> None:
        self.raw.stream.close()


class _Stream:
    """Buffered reads of a byte source (`fill(n)` gives b"" at its end), with logical positions
    (file offsets in a plain WARC, offsets into the decompressed member in a .warc.gz)."""

    def __init__(self, fill: Callable[[int], bytes], pos: int = 0) -> None:
        self._fill = fill
        self._buf = b""
        self._i = 0  # next unread byte of _buf
        self.pos = pos
        self.eof = False  # the source is exhausted (the buffer may still hold bytes)

    def _more(self, n: int) -> bool:
        if self.eof:
            return False
        chunk = self._fill(n)
        if not chunk:
            self.eof = True
            return False
        self._buf = self._buf[self._i:] + chunk
        self._i = 0
        return True

    def peek(self, n: int) -> bytes:
        while len(self._buf) - self._i < n and self._more(max(n - len(self._buf) + self._i, STREAM_CHUNK)):
            pass
        return self._buf[self._i:self._i + n]

    def read(self, n: int) -> bytes:
        avail = len(self._buf) - self._i
        if avail >= n:
            out = self._buf[self._i:self._i + n]
            self._i += n
            self.pos += n
            return out
        parts, got = [self._buf[self._i:]], avail
        self._buf, self._i = b"", 0
        while got < n and not self.eof:
            chunk = self._fill(max(n - got, STREAM_CHUNK))
            if not chunk:
                self.eof = True
                break
            if len(chunk) > n - got:  # keep the surplus for the next read
                self._buf = chunk[n - got:]
                chunk = chunk[:n - got]
            parts.append(chunk)
            got += len(chunk)
        self.pos += got
        return b"".join(parts)

    def skip(self, n: int) -> int:
        """Discard up to n bytes without holding them; fewer only at the end of the source."""
        take = min(n, len(self._buf) - self._i)
        self._i += take
        done = take
        while done < n and not self.eof:
            chunk = self._fill(min(n - done, SKIP_CHUNK))
            if not chunk:
                self.eof = True
                break
            if len(chunk) > n - done:
                self._buf, self._i = chunk, n - done
                done = n
                break
            done += len(chunk)
        if self._i >= len(self._buf):
            self._buf, self._i = b"", 0
        self.pos += done
        return done

    def unread(self, data: bytes) -> None:
        """Put bytes just read back in front (to rescan a block that swallowed the next record)."""
        self._buf = data + self._buf[self._i:]
        self._i = 0
        self.pos -= len(data)

    def blank_ahead(self) -> int:
        """How many CR/LF bytes come next (not consumed; at most SCAN_CHUNK)."""
        n = 64
        while True:
            window = self.peek(n)
            count = len(window) - len(window.lstrip(_BLANK))
            if count < len(window) or len(window) < n or n >= SCAN_CHUNK:
                return count
            n *= 4

    def header(self) -> tuple[bytes, bool] | None:
        """Consume a WARC header through its blank line: (bytes before it, True); (all that is
        left, False) if the source ends first; None if no blank line within MAX_WARC_HEADER."""
        n = 4096
        while True:
            data = self.peek(n)
            crlf, lf = data.find(b"\r\n\r\n"), data.find(b"\n\n")
            if crlf >= 0 and (lf < 0 or crlf < lf):
                self.skip(crlf + 4)
                return data[:crlf], True
            if lf >= 0:
                self.skip(lf + 2)
                return data[:lf], True
            if len(data) < n:
                self.skip(len(data))
                return data, False
            if n >= MAX_WARC_HEADER:
                return None
            n *= 4

    def seek_record(self, here: bool = False) -> bool:
        """Move to the next `WARC/x.y` line that starts a readable header (this one too if `here`);
        False, with everything consumed, if there is none. Not only at line starts: a record cut
        mid-payload is followed by the next record straight after its last byte."""
        if here and _looks_like_header(self.peek(MAX_WARC_HEADER)):
            return True
        self.skip(1)
        while True:
            window = self.peek(SCAN_CHUNK)
            hit = window.find(b"WARC/")
            if hit < 0:
                if len(window) < SCAN_CHUNK:  # the source is exhausted
                    self.skip(len(window))
                    return False
                self.skip(len(window) - 4)  # a needle cut at the window's end is found next time
                continue
            self.skip(hit)
            if _looks_like_header(self.peek(MAX_WARC_HEADER)):
                return True
            self.skip(1)


# ---------------------------------------------------------------- WARC headers and records


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _parse_header(raw: bytes) -> tuple[dict[str, str], int] | str:
    """(lower-cased header names -> values, Content-Length), or why this is no WARC header."""
    lines = raw.split(b"\n")
    if not _VERSION_LINE.match(lines[0]):
        return f"no WARC version line: {lines[0][:60]!r}"
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        line = line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):  # a folded continuation line
            if last:
                headers[last] = f"{headers[last]} {_text(line.strip())}"
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue  # lenient, like warcio: a stray line in a header is ignored
        key = name.strip().decode("latin-1").lower()
        if key not in headers:  # the first of repeated names counts, as warcio's get_header
            headers[key] = _text(value.strip())
            last = key
    length = headers.get("content-length", "")
    if not _DIGITS.fullmatch(length):
        return f"bad Content-Length {length[:40]!r} in the WARC header"
    return headers, int(length)


def _looks_like_header(head: bytes) -> bool:
    """A `WARC/x.y` line, then a whole header with a Content-Length and a record id or type: where
    to resync (strict, since payload text may quote a WARC header)."""
    crlf, lf = head.find(b"\r\n\r\n"), head.find(b"\n\n")
    ends = [at for at in (crlf, lf) if at >= 0]
    if not ends:
        return False
    parsed = _parse_header(head[:min(ends)])
    return not isinstance(parsed, str) and ("warc-record-id" in parsed[0] or "warc-type" in parsed[0])


@dataclass
class _Read:
    info: WarcRecordInfo
    block_start: int  # logical position of the block
    consumed: int  # bytes of the block consumed (read or skipped)
    held: bytes | None = None  # the whole consumed block, when it was read rather than skipped
    resync: bool = False  # the block does not end where a record boundary is: rescan it


def _swallows_record(held: bytes, after: bytes) -> bool:
    """Whether a WARC header starts inside a block (it may run on into `after`, the bytes that
    follow): the block's declared length ran over the next record."""
    data = held + after
    at = held.find(b"WARC/")
    while at >= 0:
        if _looks_like_header(data[at:at + MAX_WARC_HEADER]):
            return True
        at = held.find(b"WARC/", at + 1)
    return False


def _read_record(src: _Stream, read_limit: int, read_types: tuple[str, ...],
                 in_member: bool) -> _Read | str | None:
    """The next record of `src`: None at its end, a string when the bytes here are no record."""
    while blanks := src.blank_ahead():
        src.skip(blanks)
    start = src.pos
    first = src.peek(5)
    if not first:
        return None
    where = "its gzip member ends" if in_member else "the file ends"
    if not first.startswith(b"WARC/"):
        if len(first) < 5 and b"WARC/".startswith(first):
            src.skip(len(first))
            return _Read(_cut_header(start, where), src.pos, 0)
        return f"no WARC record here: {src.peek(40)!r}"
    got_header = src.header()
    if got_header is None:
        return f"no end of the WARC header within {MAX_WARC_HEADER} bytes"
    raw, complete = got_header
    if not complete:
        return _Read(_cut_header(start, where), src.pos, 0)
    parsed = _parse_header(raw)
    if isinstance(parsed, str):
        return parsed
    headers, length = parsed
    info = WarcRecordInfo(
        offset=start,
        record_type=headers.get("warc-type", "").strip().lower(),
        target_uri=clean_target_uri(headers.get("warc-target-uri", "")),
        date=_parse_warc_date(headers.get("warc-date", "")),
        content_length=length,
        headers={name: headers[key] for key, name in _KEPT_HEADERS.items() if key in headers},
    )
    block_start = src.pos
    held: bytes | None = None
    try:
        if info.record_type in read_types:
            # An oversized record gets only its head read (enough for the HTTP headers, so it is
            # counted as what it is); the rest is skipped unread.
            info.oversized = length > read_limit
            want = min(length, OVERSIZED_HEAD) if info.oversized else length
            info.block = src.read(want)
            consumed = len(info.block)
            if consumed == want < length:
                consumed += src.skip(length - want)
            else:
                held = info.block
        elif length <= OVERSIZED_HEAD:  # small (requests, metadata): held, so a bad end can be rescanned
            held = src.read(length)
            consumed = len(held)
        else:
            consumed = src.skip(length)
    except zlib.error as exc:
        info.error = f"corrupt gzip data inside the record: {exc}"
        return _Read(info, block_start, 0)
    read = _Read(info, block_start, consumed, held)
    if consumed < length:
        info.truncated, read.resync = True, True
        info.detail = f"its Content-Length declares {length} bytes but {where} after {consumed}"
        return read
    blanks = src.blank_ahead()
    ahead = src.peek(blanks + 5)
    after = ahead[blanks:]
    if not after or after.startswith(b"WARC/") or (src.eof and b"WARC/".startswith(after)):
        return read  # the next record (or the end) follows: the length was right
    # Something else follows. A blank line and then junk, with no record inside the block: the
    # record is whole and the damage starts after it (the next read reports it). No blank line,
    # or a record inside the block (a cut record's declared end lands anywhere, blank lines of
    # HTML included): the length ran over what follows.
    trailer = b"\r\n\r\n" in ahead[:blanks] or b"\n\n" in ahead[:blanks]
    if trailer and not (held is not None and _swallows_record(held, src.peek(MAX_WARC_HEADER))):
        return read
    info.truncated, read.resync = True, True
    info.detail = (f"the bytes after its declared {length}-byte block are not the next record "
                   f"({src.peek(24)!r}): the record is cut or its length is wrong")
    return read


def _cut_header(offset: int, where: str) -> WarcRecordInfo:
    return WarcRecordInfo(offset=offset, record_type="", target_uri="", date=None, content_length=0,
                          headers={}, truncated=True, detail=f"{where} inside the WARC header")


def _rescan(src: _Stream, read: _Read, reopen: Callable[[int], _Stream]) -> tuple[_Stream, bool]:
    """After a record whose block swallowed what follows: go back to its block and find the
    next record there. Held bytes are put back; skipped ones are read again through `reopen`."""
    if read.held is not None:
        src.unread(read.held)
        return src, src.seek_record(here=True)
    src = reopen(read.block_start)
    return src, src.seek_record(here=True)


# ---------------------------------------------------------------- whole files


def _find_resume_point(open_at: Callable[[int], BinaryIO], after: int) -> int | None:
    """The first offset > `after` where a gzip member holding a WARC record starts."""
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
            while (hit := data.find(GZIP_MAGIC, start)) >= 0:
                at = base - len(tail) + hit
                if _looks_like_record(open_at, at):
                    return at
                start = hit + 1
            tail = data[-(len(GZIP_MAGIC) - 1):]
            base += len(chunk)
    finally:
        stream.close()


def _looks_like_record(open_at: Callable[[int], BinaryIO], at: int) -> bool:
    stream = open_at(at)
    try:
        head = stream.read(1 << 16)
    finally:
        stream.close()
    try:
        head = zlib.decompressobj(31).decompress(head, 64)
    except zlib.error:
        return False
    return re.match(rb"WARC/\d", head) is not None


def iter_warc(open_at: Callable[[int], BinaryIO], *, read_limit: int,
              read_types: tuple[str, ...] = ("response",)) -> Iterator[WarcRecordInfo | CorruptRegion]:
    """Yield every record of a WARC, and a CorruptRegion for each damaged stretch skipped.

    `open_at(offset)` opens the file at a byte offset (local seek or a ranged GET), which is
    what makes resuming after damage possible without reading the file twice. Blocks of
    records of `read_types` up to `read_limit` bytes are read (only the first 64 KiB of larger
    ones); other records are skipped unread. A file with no bytes yields nothing.
    """
    stream = open_at(0)
    try:
        head = stream.read(len(GZIP_MAGIC))
    finally:
        stream.close()
    if not head:
        return
    if head == GZIP_MAGIC:
        yield from _iter_gzip(open_at, read_limit, read_types)
    else:
        yield from _iter_plain(open_at, read_limit, read_types)


def _iter_plain(open_at: Callable[[int], BinaryIO], read_limit: int,
                read_types: tuple[str, ...]) -> Iterator[WarcRecordInfo | CorruptRegion]:
    stream = [open_at(0)]  # the one open stream; rescanning a swallowing block opens a new one

    def reopen(at: int) -> _Stream:
        stream[0].close()
        stream[0] = open_at(at)
        return _Stream(stream[0].read, at)

    src = _Stream(stream[0].read, 0)
    try:
        while True:
            read = _read_record(src, read_limit, read_types, in_member=False)
            if read is None:
                return
            if isinstance(read, str):
                found = src.pos
                found_next = src.seek_record()
                yield CorruptRegion(offset=found, resumed_at=src.pos if found_next else None, detail=read)
                if not found_next:
                    return
                continue
            if read.resync:
                src, found_next = _rescan(src, read, reopen)
                read.info.detail += f"; read on at offset {src.pos}" if found_next else "; no record after it"
                yield read.info
                if not found_next:
                    return
                continue
            yield read.info
    finally:
        stream[0].close()


def _iter_gzip(open_at: Callable[[int], BinaryIO], read_limit: int,
               read_types: tuple[str, ...]) -> Iterator[WarcRecordInfo | CorruptRegion]:
    gz = _GzipFile(open_at)
    last_offset = -1
    try:
        while True:
            magic = gz.raw.head(len(GZIP_MAGIC))
            if not magic:
                return
            found = gz.raw.pos
            if magic != GZIP_MAGIC:
                failure = f"no gzip member here: {gz.raw.head(16)!r}"
            else:
                failure = ""
                src = gz.open_member()
                index = 0  # records in this member: the i-th gets offset member + i (unique, stable)
                try:
                    while True:
                        read = _read_record(src, read_limit, read_types, in_member=True)
                        if read is None:
                            if gz.member is not None and gz.member.cut and index == 0:
                                failure = "the file ends inside this gzip member, before any record"
                            break
                        if isinstance(read, str):
                            # The member holds no readable record from here: skip the rest of it.
                            src.skip(1 << 62)
                            more = bool(gz.raw.head(1))
                            yield CorruptRegion(offset=found, resumed_at=gz.raw.pos if more else None,
                                                detail=f"{read} (in the gzip member at offset {found})")
                            break
                        info = read.info
                        info.offset = max(found + index, last_offset + 1)
                        last_offset = info.offset
                        index += 1
                        if info.error:
                            yield info
                            failure = info.error
                            break
                        if read.resync:
                            src, found_next = _rescan(src, read, gz.reopen_member)
                            if found_next:
                                info.detail += "; read on at the next record inside its gzip member"
                            elif gz.raw.head(1):
                                info.detail += f"; read on at the next gzip member, offset {gz.raw.pos}"
                            else:
                                info.detail += "; nothing after it"
                        yield info
                except zlib.error as exc:
                    failure = f"corrupt gzip member: {exc}"
                if not failure:
                    continue
            resume = _find_resume_point(open_at, found)
            yield CorruptRegion(offset=found, resumed_at=resume, detail=failure)
            if resume is None:
                return
            gz.restart(resume)
    finally:
        gz.close()


# ---------------------------------------------------------------- HTTP


def _dechunk(body: bytes, limit: int) -> tuple[bytes, bool]:
    """(decoded body, whether it ran past `limit`: then only its first `limit` bytes)."""
    out: list[bytes] = []
    total = pos = 0
    while True:
        eol = body.find(b"\n", pos, pos + MAX_CHUNK_LINE)
        if eol < 0:
            if len(body) - pos >= MAX_CHUNK_LINE:
                raise ValueError(f"chunk size line longer than {MAX_CHUNK_LINE} bytes")
            raise ValueError("chunked body ends inside a chunk size line")
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise ValueError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        pos = eol + 1
        if size == 0:
            return b"".join(out), False
        if pos + size > len(body):
            raise ValueError("chunked body ends inside a chunk")
        if total + size > limit:
            out.append(body[pos:pos + limit - total])
            return b"".join(out), True
        out.append(body[pos:pos + size])
        total += size
        pos += size
        if body[pos:pos + 2] == b"\r\n":
            pos += 2
        elif body[pos:pos + 1] == b"\n":
            pos += 1


def _inflate(body: bytes, wbits: int, limit: int, complete: bool) -> tuple[bytes, bool]:
    """zlib-decode at most limit + 1 bytes: memory stays bounded whatever the ratio."""
    z = zlib.decompressobj(wbits)
    out = z.decompress(body, limit + 1)
    if len(out) > limit:
        return out[:limit], True
    if complete and not z.eof:
        raise zlib.error("the compressed body ends early")
    return out, False


def _decode_content(body: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            body, over = _inflate(body, 47, limit, complete=False)  # 47: gzip or zlib header, auto
        elif coding == "deflate":
            try:
                body, over = _inflate(body, 15, limit, complete=True)
            except zlib.error:
                body, over = _inflate(body, -15, limit, complete=True)  # servers often send raw deflate
        elif coding == "br":
            try:
                import brotli  # type: ignore[import-not-found]
            except ImportError as exc:
                raise ValueError("brotli content encoding needs the brotli package") from exc
            try:
                body = brotli.Decompressor().process(body, output_buffer_limit=limit + 1)
            except brotli.error as exc:
                raise ValueError(f"bad brotli body: {exc}") from exc
            over = len(body) > limit
            body = body[:limit]
        elif coding in ("identity", "none", ""):
            continue
        else:
            raise ValueError(f"unknown content encoding {coding!r}")
        if over:
            return body, True
    return body, False


def parse_http_response(block: bytes, max_body: int = MAX_DECODED_BODY) -> HttpResponse | None:
    """Split an HTTP response block into status, headers and decoded body; None if not HTTP.

    De-chunking and content decoding stop at `max_body` decoded bytes: the response is then
    `oversized` and its body holds only that head (a 1 MB gzip body may inflate to 1 GiB)."""
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
            response.body, response.oversized = _dechunk(response.body, max_body)
        if headers.get("content-encoding") and not response.oversized:
            response.body, response.oversized = _decode_content(response.body, headers["content-encoding"],
                                                                max_body)
    except (ValueError, zlib.error) as exc:
        response.body_error = f"{exc.__class__.__name__}: {exc}"
    return response
