"""Ingest from S3 against real servers on loopback: moto's S3 server, and a throttling proxy.

No mocks of our code: WARC bytes travel over HTTP from a moto server (and, for the failure
tests, through a small proxy that answers SlowDown and cuts a body mid-stream) into the same
`jobs.ingest.run` / `pipeline.ingest.ingest_warc` the command line uses, and the result must be
the table a local ingest of the same files gives.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from jobs import ingest as ingest_job
from pipeline import fs, storage
from pipeline.config import Settings, StorageSettings, load_settings
from pipeline.extract import GuardedExtractor
from pipeline.ingest import ingest_warc, marker_names
from tests.conftest import data_path, real_warcs
from tests.servers import S3Server

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "mathmine-test"
PREFIX = "crawl-data/CC-TEST/segments/x/warc/"
MANIFEST_KEY = "crawl-data/CC-TEST/warc.paths.gz"
MISSING_KEY = PREFIX + "CC-TEST-missing-00000.warc.gz"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service
}
CLEARED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
SLOWDOWN_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                 b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
STAT_KEYS = ("records_read", "html_responses", "pages_kept", "dropped")


@dataclass
class S3World:
    endpoint: str
    port: int
    names: list[str]  # WARC file names, also the last part of their keys
    local: dict[str, Path]  # name -> the local file uploaded under that name
    large: str  # name of the largest WARC: the one whose body the proxy cuts
    client: Any


def _settings(*overrides: str) -> Settings:
    return load_settings(None, ["extract.timeout_s=20", "ingest.log_every_s=600", "storage.retry_base_s=0.01",
                                "storage.retry_max_s=0.05", *overrides])


def _s3_settings(endpoint: str, *overrides: str) -> Settings:
    return _settings(f"storage.cc_base=s3://{BUCKET}/", f"storage.s3_endpoint_url={endpoint}", *overrides)


def _pages(out_dir: Path | str) -> pa.Table:
    """The pages table of a run (pyarrow skips `__ingest__/`), sorted by id."""
    table = pq.read_table(str(out_dir))
    return table.sort_by("id")


def _comparable(table: pa.Table) -> pa.Table:
    return table.drop_columns(["warc_path"]).sort_by("id")


@pytest.fixture(scope="module")
def s3(spark_factory) -> Iterator[S3World]:
    small = [p for p in real_warcs() if p.parent.parent.name == "warc" and p.stat().st_size < 1_000_000]
    big = sorted(data_path("warc_repackaged", "scrapinghub_article_extraction_benchmark").glob("*.warc.gz"))
    files = small + big
    assert len(small) == 4 and len(big) == 1, [str(p) for p in files]
    local = {p.name: p for p in files}
    assert len(local) == len(files), "WARC file names must be unique: they become the S3 keys"

    with pytest.MonkeyPatch.context() as mp:
        for name in CLEARED:
            mp.delenv(name, raising=False)
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        # Spark's Python workers get their environment from the SparkContext, which may have
        # started before this fixture; sc.environment is read each time an RDD is shipped.
        sc = spark_factory.get().sparkContext
        saved_env = dict(sc.environment)
        sc.environment.update(CREDENTIALS)
        server = S3Server.start()
        try:
            endpoint, port, client = server.endpoint, server.port, server.client
            client.create_bucket(Bucket=BUCKET)
            for name, path in local.items():
                client.upload_file(str(path), BUCKET, PREFIX + name)
            client.put_object(Bucket=BUCKET, Key=PREFIX + "README.txt", Body=b"not a WARC\n")
            manifest = "".join(f"{PREFIX}{name}\n" for name in sorted(local))
            client.put_object(Bucket=BUCKET, Key=MANIFEST_KEY, Body=gzip.compress(manifest.encode()))
            large = max(local, key=lambda n: local[n].stat().st_size)
            yield S3World(endpoint, port, sorted(local), local, large, client)
        finally:
            server.stop()
            sc.environment.clear()
            sc.environment.update(saved_env)


@pytest.fixture(scope="module")
def local_run(s3: S3World, spark_factory, tmp_path_factory) -> tuple[pa.Table, dict[str, Any]]:
    """The reference: the same WARC files ingested from the local disk."""
    out = tmp_path_factory.mktemp("local") / "pages"
    spec = ",".join(str(s3.local[name]) for name in s3.names)
    stats = ingest_job.run(spec, str(out), _settings(), factory=spark_factory)
    assert stats["files_done"] == len(s3.names) and stats["files_failed"] == {}
    assert stats["pages_kept"] > 100, stats["pages_kept"]
    table = _pages(out)
    assert table.num_rows == stats["pages_kept"]
    return table, stats


def _rows_of(table: pa.Table, names: list[str]) -> pa.Table:
    """The rows of `table` that came from the WARC files named `names` (ids are `<name>:<offset>`)."""
    ids = [i for i in table.column("id").to_pylist() if i.rsplit(":", 1)[0] in names]
    return table.filter(pc.is_in(table.column("id"), value_set=pa.array(ids, pa.string())))


def _check_same_as_local(out: Path, stats: dict[str, Any], local_run: tuple[pa.Table, dict[str, Any]],
                         names: list[str]) -> None:
    local_table, local_stats = local_run
    for key in STAT_KEYS:
        assert stats[key] == local_stats[key], key
    assert stats["invariant_holds"] is True
    assert stats["records_read"] == stats["pages_kept"] + sum(stats["dropped"].values())
    assert stats["files_done"] == len(names) and stats["files_failed"] == {}
    assert json.loads((out / "__ingest__" / "stats.json").read_text())["pages_kept"] == stats["pages_kept"]
    table = _pages(out)
    assert set(table.column("warc_path").to_pylist()) == {f"s3://{BUCKET}/{PREFIX}{n}" for n in names}
    assert _comparable(table).equals(_comparable(local_table))


# ---------------------------------------------------------------- ingest from S3 through a manifest


@pytest.mark.parametrize("manifest_at", ["s3", "local"])
def test_ingest_from_s3_manifest_equals_local(manifest_at, s3, local_run, spark_factory, tmp_path):
    if manifest_at == "s3":
        spec = f"s3://{BUCKET}/{MANIFEST_KEY}"
    else:
        local_manifest = tmp_path / "warc.paths.gz"
        local_manifest.write_bytes(s3.client.get_object(Bucket=BUCKET, Key=MANIFEST_KEY)["Body"].read())
        spec = str(local_manifest)
    out = tmp_path / "pages"
    stats = ingest_job.run(spec, str(out), _s3_settings(s3.endpoint), factory=spark_factory)
    _check_same_as_local(out, stats, local_run, s3.names)


def test_missing_key_in_manifest_fails_only_that_file(s3, local_run, spark_factory, tmp_path):
    present = sorted(s3.names, key=lambda n: s3.local[n].stat().st_size)[:2]
    manifest = tmp_path / "warc.paths"
    manifest.write_text("".join(f"{PREFIX}{n}\n" for n in [*present, MISSING_KEY.removeprefix(PREFIX)]))
    out = tmp_path / "pages"
    stats = ingest_job.run(str(manifest), str(out), _s3_settings(s3.endpoint), factory=spark_factory)

    assert stats["files"] == 3 and stats["files_done"] == 2
    assert stats["files_failed"] == {"missing_file": 1}
    assert json.loads((out / "__ingest__" / "stats.json").read_text())["files_failed"] == {"missing_file": 1}
    per_file = {f["warc_path"]: f for f in stats["per_file"]}
    missing = per_file[f"s3://{BUCKET}/{MISSING_KEY}"]
    assert missing["status"] == "failed" and missing["failure"] == "missing_file"
    assert missing["records_read"] == 0 and missing["problems"][0]["reason"] == "missing_file"
    assert stats["invariant_holds"] is True

    local_table, local_stats = local_run
    local_files = {Path(f["warc_path"]).name: f for f in local_stats["per_file"]}
    for name in present:
        got = per_file[f"s3://{BUCKET}/{PREFIX}{name}"]
        assert got["status"] == "done"
        for key in STAT_KEYS:
            assert got[key] == local_files[name][key], (name, key)
    expected = _rows_of(local_table, present)
    assert _comparable(_pages(out)).equals(_comparable(expected))
    assert _pages(out).num_rows == sum(local_files[n]["pages_kept"] for n in present) > 0


# ---------------------------------------------------------------- throttling and dropped connections


@dataclass
class ProxyState:
    upstream_port: int
    slowdowns: int  # the first this many object GETs get 503 SlowDown
    cut_key: str  # one GET of this key gets part of its body, then the connection closes
    cut_on_get: int = 2  # iter_warc sniffs the first bytes with one GET, then streams with the next
    cut_at: int = 2_500_000
    lock: threading.Lock = field(default_factory=threading.Lock)
    slowdowns_served: int = 0
    cuts_served: int = 0
    forwarded_gets: Counter = field(default_factory=Counter)
    ranges: dict[str, list[str]] = field(default_factory=dict)  # key -> Range headers forwarded
    requests: int = 0
    signers: Counter = field(default_factory=Counter)  # access key id of each request ("" unsigned)


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def _make_handler(state: ProxyState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a cut is simply a close

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client read what it needed (a sniff of the first bytes) and hung up

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request_body = self.rfile.read(length) if length else None
            parts = urlsplit(self.path)
            bucket, _, key = parts.path.lstrip("/").partition("/")
            key = unquote(key)
            object_get = self.command == "GET" and bool(bucket) and bool(key)
            auth = self.headers.get("Authorization") or ""
            signer = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
            with state.lock:
                state.requests += 1
                state.signers[signer] += 1
                throttle = object_get and state.slowdowns_served < state.slowdowns
                if throttle:
                    state.slowdowns_served += 1
            if throttle:
                self._send(503, [("Content-Type", "application/xml")], SLOWDOWN_BODY, len(SLOWDOWN_BODY))
                return
            upstream = http.client.HTTPConnection("127.0.0.1", state.upstream_port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=request_body, headers=headers)
                response = upstream.getresponse()
                body = response.read()
                out_headers = [(k, v) for k, v in response.getheaders()
                               if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
                status = response.status
                length = len(body)
                if self.command == "HEAD":
                    length = int(response.getheader("Content-Length") or 0)
            finally:
                upstream.close()
            cut = False
            with state.lock:
                if object_get and status in (200, 206):
                    state.forwarded_gets[key] += 1
                    state.ranges.setdefault(key, []).append(self.headers.get("Range") or "")
                    if (key == state.cut_key and state.cuts_served == 0
                            and state.forwarded_gets[key] == state.cut_on_get and len(body) > state.cut_at):
                        state.cuts_served += 1
                        cut = True
            if cut:
                # Announce the whole body, send part of it, and drop the connection.
                self._send(status, out_headers, body[:state.cut_at], len(body))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, out_headers, body, length)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _proxy

    return Handler


@pytest.fixture
def proxy(s3: S3World) -> Iterator[tuple[str, ProxyState]]:
    state = ProxyState(upstream_port=s3.port, slowdowns=4, cut_key=PREFIX + s3.large)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        assert not thread.is_alive()


def _check_cut_and_resume(state: ProxyState) -> None:
    assert state.cuts_served == 1
    ranges = state.ranges[state.cut_key]
    assert len(ranges) == state.cut_on_get + 1, ranges  # sniff, the cut stream, the resumed stream
    assert ranges[:state.cut_on_get] == [""] * state.cut_on_get
    resumed = ranges[-1]
    assert resumed.startswith("bytes=") and resumed.endswith("-"), resumed
    assert 0 < int(resumed[len("bytes="):-1]) <= state.cut_at, resumed


def test_throttled_and_cut_ingest_equals_local(s3, local_run, proxy, spark_factory, tmp_path):
    endpoint, state = proxy
    out = tmp_path / "pages"
    settings = _s3_settings(endpoint)
    assert settings.storage.retry_base_s == 0.01
    stats = ingest_job.run(f"s3://{BUCKET}/{MANIFEST_KEY}", str(out), settings, factory=spark_factory)
    _check_same_as_local(out, stats, local_run, s3.names)
    assert state.slowdowns_served == state.slowdowns == 4
    _check_cut_and_resume(state)
    # Every WARC went through the proxy: the manifest, then a sniff and a stream GET per file.
    assert set(state.forwarded_gets) == {MANIFEST_KEY, *(PREFIX + n for n in s3.names)}
    # Spark's Python workers signed with the dummy credentials the fixture set.
    assert set(state.signers) == {CREDENTIALS["AWS_ACCESS_KEY_ID"]}
    assert state.signers[CREDENTIALS["AWS_ACCESS_KEY_ID"]] == state.requests >= 2 * len(s3.names) + 1


@pytest.fixture
def extractor() -> Iterator[GuardedExtractor]:
    """An extractor child for ingest_warc called in this process, stopped after the test."""
    guarded = GuardedExtractor(_settings().extract)
    yield guarded
    guarded.close()


def test_retries_are_counted_and_logged(s3, local_run, proxy, extractor, tmp_path, caplog):
    endpoint, state = proxy
    caplog.set_level(logging.WARNING, logger="pipeline.storage")
    settings = _s3_settings(endpoint)
    path = f"s3://{BUCKET}/{PREFIX}{s3.large}"
    before = storage.RetryStats.retries
    stats = ingest_warc(path, str(tmp_path), settings, extractor=extractor)

    # In this process: 4 SlowDowns, each one retry of opening; one cut, one retry of reading.
    assert storage.RetryStats.retries - before == state.slowdowns + 1 == 5
    assert stats.retries == 5  # and the file's stats say so (they go into _stats.json)
    assert state.slowdowns_served == 4
    _check_cut_and_resume(state)
    messages = [r.getMessage() for r in caplog.records if r.name == "pipeline.storage"]
    assert sum("SlowDown" in m for m in messages) == 4, messages
    assert sum("reopening" in m for m in messages) == 1, messages

    local_table, local_stats = local_run
    local_file = next(f for f in local_stats["per_file"] if Path(f["warc_path"]).name == s3.large)
    assert stats.status == "done" and stats.failure == ""
    for key in ("records_read", "html_responses", "pages_kept"):
        assert getattr(stats, key) == local_file[key], key
    assert dict(stats.dropped) == {k: v for k, v in local_file["dropped"].items() if v}
    table = pq.read_table(tmp_path / stats.part)
    assert set(table.column("warc_path").to_pylist()) == {path}
    expected = _rows_of(local_table, [s3.large])
    assert expected.num_rows == local_file["pages_kept"] > 100
    assert _comparable(table).equals(_comparable(expected))


def test_http_url_throttled_and_cut_resumes(s3, local_run, proxy, extractor, tmp_path):
    """The same failures on an http(s):// URL (urllib, not boto3): a cut body is not an end of file."""
    endpoint, state = proxy
    s3.client.put_object_acl(Bucket=BUCKET, Key=PREFIX + s3.large, ACL="public-read")
    path = f"{endpoint}/{BUCKET}/{PREFIX}{s3.large}"
    before = storage.RetryStats.retries
    stats = ingest_warc(path, str(tmp_path), _settings(), extractor=extractor)
    assert stats.status == "done" and stats.corrupt_regions == 0, stats.problems
    assert state.slowdowns_served == 4
    _check_cut_and_resume(state)
    assert storage.RetryStats.retries - before == 5
    assert set(state.signers) == {""}  # plain https GETs, unsigned
    local_table, local_stats = local_run
    local_file = next(f for f in local_stats["per_file"] if Path(f["warc_path"]).name == s3.large)
    assert (stats.records_read, stats.pages_kept) == (local_file["records_read"], local_file["pages_kept"])
    assert dict(stats.dropped) == {k: v for k, v in local_file["dropped"].items() if v}
    table = pq.read_table(tmp_path / stats.part)
    assert _comparable(table).equals(_comparable(_rows_of(local_table, [s3.large])))


def test_persistent_slowdown_fails_the_file_with_read_error(s3, proxy, tmp_path):
    endpoint, state = proxy
    state.slowdowns = 10_000
    settings = _s3_settings(endpoint, "storage.max_retries=2")
    before = storage.RetryStats.retries
    stats = ingest_warc(f"s3://{BUCKET}/{PREFIX}{s3.names[0]}", str(tmp_path), settings)
    assert stats.status == "failed" and stats.failure == "read_error"
    assert "SlowDown" in stats.problems[0]["detail"]
    assert state.slowdowns_served == 3  # the first try and two retries
    assert storage.RetryStats.retries - before == 2
    assert not list(tmp_path.glob("*.parquet"))


def test_ingest_publishes_part_and_marker_to_s3(s3, local_run, extractor):
    """An s3:// output: the part and its `__ingest__/parts/<stem>.json` marker are single PUTs (no temp keys
    left), a rerun skips the WARC, and a marker under the old `<part>.parquet.json` name counts."""
    settings = _s3_settings(s3.endpoint)
    out = f"s3://{BUCKET}/runs/out/pages"
    name = min(s3.names, key=lambda n: s3.local[n].stat().st_size)
    path = f"s3://{BUCKET}/{PREFIX}{name}"
    stats = ingest_warc(path, out, settings, extractor=extractor)
    assert stats.status == "done", stats.problems
    marker, old_marker = marker_names(stats.part)
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix="runs/out/pages/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        f"runs/out/pages/{k}" for k in (stats.part, marker))
    store = fs.Store(settings.storage)
    table = pq.read_table(pa.BufferReader(store.read_bytes(fs.join(out, stats.part))))
    local_file = next(f for f in local_run[1]["per_file"] if Path(f["warc_path"]).name == name)
    assert table.num_rows == stats.pages_kept == local_file["pages_kept"]
    assert store.read_json(fs.join(out, marker))["pages_kept"] == stats.pages_kept

    assert ingest_warc(path, out, settings, extractor=extractor).status == "skipped"
    body = store.read_bytes(fs.join(out, marker))
    store.remove(fs.join(out, marker))
    store.write_bytes(fs.join(out, old_marker), body)  # what a run before the rename left
    again = ingest_warc(path, out, settings, extractor=extractor)
    assert again.status == "skipped" and again.pages_kept == stats.pages_kept
    assert not store.exists(fs.join(out, marker))


# ---------------------------------------------------------------- expand_input


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_expand_local_glob(tmp_path):
    a = _touch(tmp_path / "a.warc.gz")
    b = _touch(tmp_path / "b.warc.gz")
    _touch(tmp_path / "c.txt")
    got = storage.expand_input(str(tmp_path / "*.warc.gz"), StorageSettings())
    assert got == [str(a), str(b)]
    # Several specs, duplicates removed, sorted.
    assert storage.expand_input(f"{b},{tmp_path / '*.warc.gz'}", StorageSettings()) == [str(a), str(b)]


def test_expand_directory(tmp_path):
    keep = [_touch(tmp_path / "x" / "one.warc.gz"), _touch(tmp_path / "x" / "y" / "two.warc"),
            _touch(tmp_path / "three.warc.gz")]
    _touch(tmp_path / "x" / "one.warc.wat.gz")
    _touch(tmp_path / "x" / "notes.txt")
    assert storage.expand_input(str(tmp_path), StorageSettings()) == sorted(str(p) for p in keep)


MANIFEST_TEXT = """# a Common Crawl style manifest
crawl-data/CC-MAIN-2024-10/segments/1/warc/CC-MAIN-1.warc.gz

   crawl-data/CC-MAIN-2024-10/segments/2/warc/CC-MAIN-2.warc.gz
/data/local/absolute.warc.gz
s3://other-bucket/key/three.warc.gz
https://data.commoncrawl.org/crawl-data/x/four.warc.gz
"""
MANIFEST_ABSOLUTE = [  # kept as they are
    "/data/local/absolute.warc.gz",
    "s3://other-bucket/key/three.warc.gz",
    "https://data.commoncrawl.org/crawl-data/x/four.warc.gz",
]
MANIFEST_EXPECTED = sorted([
    "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1/warc/CC-MAIN-1.warc.gz",
    "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/2/warc/CC-MAIN-2.warc.gz",
    *MANIFEST_ABSOLUTE,
])


def test_expand_local_manifest(tmp_path):
    manifest = tmp_path / "warc.paths"
    manifest.write_text(MANIFEST_TEXT)
    assert storage.expand_input(str(manifest), StorageSettings()) == MANIFEST_EXPECTED
    other_base = StorageSettings(cc_base="https://data.commoncrawl.org")
    assert storage.expand_input(str(manifest), other_base) == sorted([
        "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/segments/1/warc/CC-MAIN-1.warc.gz",
        "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/segments/2/warc/CC-MAIN-2.warc.gz",
        *MANIFEST_ABSOLUTE,
    ])


def test_expand_gzipped_manifest(tmp_path):
    manifest = tmp_path / "warc.paths.gz"
    manifest.write_bytes(gzip.compress(MANIFEST_TEXT.encode()))
    assert storage.expand_input(str(manifest), StorageSettings()) == MANIFEST_EXPECTED
    broken = tmp_path / "broken.paths.gz"
    broken.write_bytes(MANIFEST_TEXT.encode())  # not gzip
    with pytest.raises(storage.StorageError) as info:
        storage.expand_input(str(broken), StorageSettings())
    assert info.value.kind == "read_error"


def test_expand_s3_prefix_lists_objects(s3):
    settings = _s3_settings(s3.endpoint).storage
    got = storage.expand_input(f"s3://{BUCKET}/{PREFIX}", settings)
    assert got == [f"s3://{BUCKET}/{PREFIX}{n}" for n in s3.names]  # README.txt is not a WARC
    # An s3:// object without a trailing slash is taken as is, unlisted.
    assert storage.expand_input(f"s3://{BUCKET}/{MISSING_KEY}", settings) == [f"s3://{BUCKET}/{MISSING_KEY}"]
    # A manifest on S3, relative lines resolved against cc_base.
    assert storage.expand_input(f"s3://{BUCKET}/{MANIFEST_KEY}", settings) == got


def test_expand_non_matching_glob_is_missing_file(tmp_path):
    with pytest.raises(storage.StorageError) as info:
        storage.expand_input(str(tmp_path / "nothing-*.warc.gz"), StorageSettings())
    assert info.value.kind == "missing_file"
    assert str(tmp_path / "nothing-*.warc.gz") in str(info.value)


def test_commoncrawl_bucket_gets_an_unsigned_client_without_network(monkeypatch):
    from botocore import UNSIGNED

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network contacted: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = StorageSettings()
    assert "commoncrawl" in settings.s3_anonymous_buckets
    anonymous = storage.s3_client(settings, "commoncrawl")
    assert anonymous.meta.config.signature_version is UNSIGNED
    assert anonymous.meta.region_name == "us-east-1"
    assert anonymous.meta.endpoint_url.startswith("https://s3.")
    signed = storage.s3_client(settings, "some-private-bucket")
    assert signed.meta.config.signature_version is not UNSIGNED
    assert signed is not anonymous
    assert storage.s3_client(settings, "commoncrawl") is anonymous  # cached per process
    # Retries are ours (counted, logged, resumed mid-body): botocore must not retry on its own.
    assert anonymous.meta.config.retries["total_max_attempts"] == 1


def test_s3_client_uses_the_endpoint_setting(s3):
    from botocore import UNSIGNED

    settings = StorageSettings(s3_endpoint_url=s3.endpoint)
    client = storage.s3_client(settings, BUCKET)
    assert client.meta.endpoint_url == s3.endpoint
    assert client.meta.config.signature_version is not UNSIGNED  # signed, with the dummy credentials
    assert storage.exists(f"s3://{BUCKET}/{MANIFEST_KEY}", settings)
    assert not storage.exists(f"s3://{BUCKET}/{MISSING_KEY}", settings)
