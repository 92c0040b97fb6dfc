"""Open and list local paths, s3:// (boto3) and https:// URLs; expand WARC input specs.

WARC bytes are always read here, in Python tasks, so no Hadoop S3 connector is needed.
Remote reads are resumable: a throttled request (SlowDown, 503) or a connection dropped
mid-body is retried with exponential back-off, continuing at the byte it had reached.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import io
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from pipeline.config import StorageSettings

log = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
MANIFEST_SUFFIXES = (".paths", ".paths.gz", ".txt", ".txt.gz", ".manifest")
RETRYABLE_S3_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "503", "500", "502", "504",
}


class StorageError(OSError):
    """A path that cannot be read; `kind` is a stable drop reason (missing_file, read_error, ...)."""

    def __init__(self, path: str, kind: str, detail: str) -> None:
        super().__init__(f"{path}: {kind}: {detail}")
        self.path = path
        self.kind = kind
        self.detail = detail


def scheme_of(path: str) -> str:
    if path.startswith("s3://") or path.startswith("s3a://"):
        return "s3"
    if path.startswith("https://") or path.startswith("http://"):
        return "http"
    return "file"


def _local(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


def split_s3(path: str) -> tuple[str, str]:
    parts = urlsplit(path)
    return parts.netloc, parts.path.lstrip("/")


# One boto3 client per (endpoint, anonymous) per process: clients are thread-safe and slow to build.
_clients: dict[tuple[str, str, bool, float], Any] = {}
_clients_lock = threading.Lock()


def s3_client(settings: StorageSettings, bucket: str) -> Any:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    anonymous = bucket in settings.s3_anonymous_buckets
    endpoint = settings.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3", "")
    key = (endpoint, settings.s3_region, anonymous, settings.read_timeout_s)
    with _clients_lock:
        if key not in _clients:
            config = Config(
                # Retries are ours (see _retrying): they count, log and resume mid-body.
                retries={"total_max_attempts": 1, "mode": "standard"},
                read_timeout=settings.read_timeout_s,
                connect_timeout=min(30.0, settings.read_timeout_s),
                signature_version=UNSIGNED if anonymous else None,
            )
            _clients[key] = boto3.session.Session().client(
                "s3", endpoint_url=endpoint or None, region_name=settings.s3_region, config=config
            )
        return _clients[key]


class RetryStats:
    """Counts retries per process so a job can report them (not thread-local: a task is a thread)."""

    retries = 0


def _s3_error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code or status


def _is_missing(exc: BaseException) -> bool:
    return _s3_error_code(exc) in {"NoSuchKey", "404", "NoSuchBucket", "NotFound"} or (
        isinstance(exc, urllib.error.HTTPError) and exc.code in (404, 410)
    )


def _is_retryable(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = _s3_error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_S3_CODES or status in (429, 500, 502, 503, 504)
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (429, 500, 502, 503, 504)
    return isinstance(exc, (BotoCoreError, ConnectionError, TimeoutError, OSError))


def _retrying(what: str, settings: StorageSettings, call: Callable[[], Any]) -> Any:
    delay = settings.retry_base_s
    for attempt in range(settings.max_retries + 1):
        try:
            return call()
        except StorageError:
            raise
        except Exception as exc:
            if _is_missing(exc):
                raise StorageError(what, "missing_file", str(exc)) from exc
            if attempt >= settings.max_retries or not _is_retryable(exc):
                raise StorageError(what, "read_error", f"{exc.__class__.__name__}: {exc}") from exc
            RetryStats.retries += 1
            sleep = min(settings.retry_max_s, delay) * (0.5 + random.random() / 2)
            log.warning("%s: %s, retry %d/%d in %.2fs", what, _s3_error_code(exc) or exc,
                        attempt + 1, settings.max_retries, sleep)
            time.sleep(sleep)
            delay *= 2
    raise AssertionError("unreachable")


class ResumableStream(io.RawIOBase):
    """A read-only stream over a remote object that reopens at the current byte on failure."""

    def __init__(self, path: str, offset: int, opener: Callable[[int], BinaryIO],
                 settings: StorageSettings) -> None:
        self.path = path
        self.pos = offset
        self._opener = opener
        self._settings = settings
        self._body: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def _open(self) -> BinaryIO:
        if self._body is None:
            self._body = _retrying(self.path, self._settings, lambda: self._opener(self.pos))
        return self._body

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        delay = self._settings.retry_base_s
        for attempt in range(self._settings.max_retries + 1):
            body = self._open()
            try:
                data = body.read(want)
                if not data and want and getattr(body, "length", None):
                    # http.client answers b"" when the connection drops early: not the end of the file.
                    raise ConnectionError(f"connection closed with {body.length} bytes of the body unread")
            except Exception as exc:
                if attempt >= self._settings.max_retries:
                    raise StorageError(self.path, "read_error",
                                       f"at byte {self.pos}: {exc.__class__.__name__}: {exc}") from exc
                RetryStats.retries += 1
                log.warning("%s: read failed at byte %d (%s), reopening", self.path, self.pos, exc)
                self._close_body()
                time.sleep(min(self._settings.retry_max_s, delay))
                delay *= 2
                continue
            n = len(data)
            buffer[:n] = data
            self.pos += n
            return n
        raise AssertionError("unreachable")

    def _close_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


def open_at(path: str, settings: StorageSettings, offset: int = 0) -> BinaryIO:
    """Open `path` for reading from byte `offset`. Raises StorageError(kind=missing_file|read_error)."""
    kind = scheme_of(path)
    if kind == "file":
        local = _local(path)
        try:
            fh = open(local, "rb")  # noqa: SIM115 - the caller owns and closes it
        except FileNotFoundError as exc:
            raise StorageError(path, "missing_file", "no such file") from exc
        except OSError as exc:
            raise StorageError(path, "read_error", exc.strerror or str(exc)) from exc
        if offset:
            fh.seek(offset)
        return fh
    if kind == "s3":
        bucket, key = split_s3(path)
        client = s3_client(settings, bucket)

        def open_s3(at: int) -> BinaryIO:
            extra = {"Range": f"bytes={at}-"} if at else {}
            return client.get_object(Bucket=bucket, Key=key, **extra)["Body"]

        stream: io.RawIOBase = ResumableStream(path, offset, open_s3, settings)
    else:

        def open_http(at: int) -> BinaryIO:
            request = urllib.request.Request(path, headers={"Range": f"bytes={at}-"} if at else {})
            response = urllib.request.urlopen(request, timeout=settings.read_timeout_s)
            if at and response.status != 206:
                # A server that ignores Range would restart the file from byte 0 under us.
                response.close()
                raise StorageError(path, "read_error",
                                   f"server ignored the Range request (HTTP {response.status})")
            return response

        stream = ResumableStream(path, offset, open_http, settings)
    stream._open()  # fail now (missing key, denied) rather than on the first read
    return io.BufferedReader(stream, buffer_size=1 << 20)  # type: ignore[arg-type]


def read_bytes(path: str, settings: StorageSettings) -> bytes:
    with open_at(path, settings) as fh:
        return fh.read()


def exists(path: str, settings: StorageSettings) -> bool:
    kind = scheme_of(path)
    if kind == "file":
        return os.path.exists(_local(path))
    if kind == "s3":
        bucket, key = split_s3(path)
        client = s3_client(settings, bucket)
        try:
            client.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
    raise StorageError(path, "read_error", "exists() is not supported for http(s) URLs")


def list_s3(prefix_url: str, settings: StorageSettings) -> Iterator[str]:
    bucket, prefix = split_s3(prefix_url)
    paginator = s3_client(settings, bucket).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield f"s3://{bucket}/{obj['Key']}"


def join(base: str, rel: str) -> str:
    return base.rstrip("/") + "/" + rel.lstrip("/")


def _is_absolute(line: str) -> bool:
    return scheme_of(line) != "file" or line.startswith("/") or line.startswith("file://")


def read_manifest(path: str, settings: StorageSettings) -> list[str]:
    """Common Crawl's warc.paths[.gz]: one path per line; relative ones resolve against cc_base."""
    data = read_bytes(path, settings)
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise StorageError(path, "read_error", f"not a valid gzip manifest ({exc})") from exc
    paths = []
    for lineno, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise StorageError(f"{path}:{lineno}", "read_error", "manifest line is not UTF-8") from exc
        if not line or line.startswith("#"):
            continue
        paths.append(line if _is_absolute(line) else join(settings.cc_base, line))
    return paths


def expand_input(spec: str, settings: StorageSettings) -> list[str]:
    """A glob, a manifest, an s3:// object or prefix, or an https:// URL -> sorted WARC paths.

    Several specs may be given separated by commas. Order is sorted and duplicates removed so
    the same input always yields the same tasks and output names.
    """
    out: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        kind = scheme_of(item)
        if item.endswith(MANIFEST_SUFFIXES):
            out.extend(read_manifest(item, settings))
        elif kind == "s3":
            if item.endswith("/"):
                out.extend(p for p in list_s3(item, settings) if p.endswith(WARC_SUFFIXES))
            else:
                out.append(item)
        elif kind == "http":
            out.append(item)
        else:
            local = _local(item)
            matches = sorted(glob.glob(local, recursive=True))
            if os.path.isdir(local):
                matches = sorted(
                    p for p in glob.glob(os.path.join(local, "**", "*.warc*"), recursive=True)
                    if p.endswith(WARC_SUFFIXES)
                )
            if not matches:
                raise StorageError(item, "missing_file", "no file matches this input")
            out.extend(os.path.abspath(m) for m in matches)
    return sorted(dict.fromkeys(out))
