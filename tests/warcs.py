"""Write small WARC files for tests with warcio (the writer we trust; fastwarc reads them)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def html_response(url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                  status: str = "200 OK", extra: list[tuple[str, str]] | None = None) -> dict:
    headers = [("Content-Type", content_type)] if content_type else []
    return {"url": url, "body": body, "status": status, "headers": headers + (extra or [])}


def write_warc(path: Path, responses: Iterable[dict], gzip: bool = True) -> Path:
    """One response record per item, with fixed ids and dates so the bytes are reproducible."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        for i, item in enumerate(responses):
            http = StatusAndHeaders(item["status"], item["headers"], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                item["url"], "response", payload=io.BytesIO(item["body"]), http_headers=http,
                warc_headers_dict={
                    "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                    "WARC-Date": "2024-05-01T12:00:00Z",
                },
            )
            writer.write_record(record)
    return path
