"""WARC writing: the crawl's HTTP exchanges as gzipped WARC request / response records, with
record ids, dates and gzip headers derived from the seed (byte-identical output per seed)."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from sample.chrome import Page
from sample.text import Rng

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

_MON3 = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _http_date(dt: datetime) -> str:
    # spelled out by hand: strftime's %a/%b depend on the locale
    return (f"{_DAYS[dt.weekday()]}, {dt.day:02d} {_MON3[dt.month - 1]} {dt.year} "
            f"{dt:%H:%M:%S} GMT")


def _warc_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_id(seed: int, *parts: object) -> str:
    h = hashlib.sha1("|".join(map(str, (seed, *parts))).encode("utf-8")).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=h[:16], version=4)}>"


def _ip(host: str) -> str:
    h = hashlib.sha1(host.encode()).digest()
    net = ["192.0.2", "198.51.100", "203.0.113"][h[0] % 3]
    return f"{net}.{1 + h[1] % 254}"


def _png(seed: int, w: int = 48, h: int = 48) -> bytes:
    rows = b"".join(
        b"\x00" + bytes(c for x in range(w) for c in ((x * 5 + seed) % 256, (y * 5) % 256,
                                                         (x * y + seed) % 256))
        for y in range(h)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _chunked(body: bytes, rng: Rng) -> bytes:
    out, pos = [], 0
    while pos < len(body):
        n = rng.randint(1500, 6000)
        piece = body[pos:pos + n]
        out.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        pos += n
    return b"".join(out) + b"0\r\n\r\n"


@dataclass
class Fetch:
    """One HTTP exchange to be written as (request +) response records."""

    url: str
    status: str
    headers: list[tuple[str, str]]
    payload: bytes
    page: Page | None = None
    with_request: bool = True


def _page_fetch(p: Page, rng: Rng) -> Fetch:
    body = p.html.encode(p.charset)
    ctype = "text/html; charset=utf-8" if p.declare_charset else "text/html"
    headers = [("Date", ""), ("Server", p.server), ("Content-Type", ctype)]  # Date: at write time
    if p.content_encoding == "gzip":
        body = gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: reproducible bytes
        headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    if p.chunked:
        payload = _chunked(body, rng)
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        payload = body
        headers.append(("Content-Length", str(len(body))))
    if p.server == "cloudflare":
        headers += [("CF-Cache-Status", "HIT"), ("CF-RAY", hashlib.md5(p.url.encode())
                                                 .hexdigest()[:16] + "-AMS")]
    headers += [("Cache-Control", "max-age=600"), ("Connection", "close")]
    return Fetch(p.url, "200 OK", headers, payload, page=p)


def _other_fetches(seed: int, redirect_to: str) -> list[Fetch]:
    """Non-page records every real crawl contains."""
    not_found = (b"<!DOCTYPE html>\n<html><head><title>Page not found | The Daily Courier</title>"
                 b"</head><body><h1>404 - Page not found</h1><p>Sorry, the story you are "
                 b"looking for has been moved or removed.</p><p><a href=\"/\">Back to the front "
                 b"page</a></p></body></html>\n")
    moved = (b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center>"
             b"<h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
             b"</body>\r\n</html>\r\n")
    png = _png(seed % 251)
    robots = (b"User-agent: *\nDisallow: /users/login\nDisallow: /search\n"
              b"Crawl-delay: 2\nSitemap: https://mathforum.example.org/sitemap.xml\n")
    old_q = redirect_to.split("/")
    d = ""  # filled in when the record is written
    return [
        Fetch("https://www.dailynews.example.com/2019/05/02/old-story-removed", "404 Not Found",
              [("Date", d), ("Server", "nginx"), ("Content-Type", "text/html; charset=utf-8"),
               ("Content-Length", str(len(not_found))), ("Connection", "close")], not_found),
        Fetch("https://calc-notes.example.edu/static/img/logo.png", "200 OK",
              [("Date", d), ("Server", "Apache/2.4.41 (Ubuntu)"), ("Content-Type", "image/png"),
               ("Content-Length", str(len(png))), ("Cache-Control", "max-age=31536000"),
               ("Connection", "close")], png, with_request=False),
        Fetch("http://mathforum.example.org/questions/" + old_q[4], "301 Moved Permanently",
              [("Date", d), ("Server", "nginx/1.18.0"), ("Content-Type", "text/html"),
               ("Content-Length", str(len(moved))), ("Location", redirect_to),
               ("Connection", "close")], moved),
        Fetch("https://mathforum.example.org/robots.txt", "200 OK",
              [("Date", d), ("Server", "nginx/1.18.0"), ("Content-Type", "text/plain"),
               ("Content-Length", str(len(robots))), ("Connection", "close")], robots),
    ]


_UA = "CCBot/2.0 (https://commoncrawl.org/faq/)"


def _write_warc(path: Path, seed: int, index: int, fetches: list[Fetch], base: datetime) -> int:
    """Write one WARC file; returns the number of records."""
    n = 0
    info_id = _record_id(seed, "warcinfo", index)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        info = (f"software: mathmine-sample/1.0 (warcio)\r\nformat: WARC File Format 1.0\r\n"
                f"conformsTo: http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf"
                f"\r\nisPartOf: MATHMINE-SAMPLE-{seed}\r\ndescription: deterministic demo crawl "
                f"(seed {seed}, part {index})\r\nrobots: checked via crawler-commons\r\n"
                f"operator: mathmine test fixture\r\n").encode()
        rec = writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info), length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Type": "warcinfo", "WARC-Date": _warc_date(base),
                               "WARC-Filename": path.name, "WARC-Record-ID": info_id})
        writer.write_record(rec)
        n += 1
        for i, f in enumerate(fetches):
            when = base + timedelta(seconds=5 + 4 * i)
            host = f.url.split("/")[2]
            resp_id = _record_id(seed, "response", f.url, index, i)
            common = {"WARC-Date": _warc_date(when), "WARC-IP-Address": _ip(host),
                      "WARC-Warcinfo-ID": info_id}
            if f.with_request:
                target = "/" + f.url.split("/", 3)[3] if f.url.count("/") >= 3 else "/"
                req_headers = StatusAndHeaders(
                    f"GET {target} HTTP/1.1",
                    [("Host", host), ("User-Agent", _UA),
                     ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                     ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "br,gzip"),
                     ("Connection", "Keep-Alive")], is_http_request=True)
                req = writer.create_warc_record(
                    f.url, "request", http_headers=req_headers,
                    warc_headers_dict={"WARC-Type": "request",
                                       "WARC-Record-ID": _record_id(seed, "request", f.url, i),
                                       **common, "WARC-Concurrent-To": resp_id,
                                       "WARC-Target-URI": f.url})
                writer.write_record(req)
                n += 1
            # the server's Date is a few seconds before the crawler logs the capture
            served = _http_date(when - timedelta(seconds=2))
            http = StatusAndHeaders(f.status, [(k, served if k == "Date" else v)
                                               for k, v in f.headers], protocol="HTTP/1.1")
            resp = writer.create_warc_record(
                f.url, "response", payload=io.BytesIO(f.payload), length=len(f.payload),
                http_headers=http,
                warc_headers_dict={"WARC-Type": "response", "WARC-Record-ID": resp_id,
                                   **common, "WARC-Target-URI": f.url})
            writer.write_record(resp)
            n += 1
    return n
