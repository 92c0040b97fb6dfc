"""pipeline.fs.Store on a local folder and on moto's S3 server on loopback: the same operations,
the same results; publishes are whole or absent; files are readable by others."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import fs
from pipeline.config import StorageSettings

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

BUCKET = "mathmine-fs"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
            boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
            yield url
        finally:
            server.stop()


@pytest.fixture(params=["local", "s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[fs.Store, str]:
    if request.param == "local":
        return fs.Store(StorageSettings()), str(tmp_path / "run")
    url = request.getfixturevalue("endpoint")
    settings = StorageSettings(s3_endpoint_url=url, retry_base_s=0.01, retry_max_s=0.05)
    return fs.Store(settings), f"s3://{BUCKET}/{request.node.name}/run"


def test_files_round_trip_and_listing(place: tuple[fs.Store, str]) -> None:
    store, root = place
    store.write_text(fs.join(root, "a", "b.txt"), "héllo\n")
    store.write_json(fs.join(root, "c.json"), {"z": 1, "a": [1, 2]})
    assert store.read_text(fs.join(root, "a", "b.txt")) == "héllo\n"
    assert store.read_json(fs.join(root, "c.json")) == {"a": [1, 2], "z": 1}
    assert store.read_bytes(fs.join(root, "c.json")).startswith(b'{\n  "a"')  # sorted, indented
    assert store.listing(root) == {"a/b.txt": len("héllo\n".encode()), "c.json": 40}
    assert store.exists(fs.join(root, "a")) and store.exists(fs.join(root, "c.json"))
    assert not store.exists(fs.join(root, "nope"))
    with store.local_copy(fs.join(root, "a", "b.txt")) as local:
        assert Path(local).read_text(encoding="utf-8") == "héllo\n"
    store.remove(fs.join(root, "a"))
    assert store.listing(root) == {"c.json": 40}


def test_publish_dir_replaces_whole_and_marks_completion(place: tuple[fs.Store, str], tmp_path: Path) -> None:
    store, root = place
    dest = fs.join(root, "table")
    old = store.temp_folder(dest)
    for name in ("part-00000.parquet", "part-00001.parquet", "part-00002.parquet"):
        store.write_bytes(fs.join(old, name), b"old")
    store.publish_dir(old, dest)
    assert store.published(dest)
    assert len(store.files(dest, ".parquet")) == 3

    new = store.temp_folder(dest)
    assert new != old and os.path.basename(new).startswith(".")  # readers skip dot names
    store.write_bytes(fs.join(new, "part-00000.parquet"), b"new!")
    assert not store.published(new)
    assert store.read_bytes(fs.join(dest, "part-00000.parquet")) == b"old"  # untouched until publish
    listing = store.publish_dir(new, dest)
    assert listing == {"part-00000.parquet": 4}
    assert store.files(dest, ".parquet") == [fs.join(dest, "part-00000.parquet")]
    assert store.read_json(fs.join(dest, fs.MARKER)) == {"files": {"part-00000.parquet": 4}}
    assert set(store.listing(root)) == {"table/part-00000.parquet", f"table/{fs.MARKER}"}  # no temp left

    local = tmp_path / "built"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "x.bin").write_bytes(b"\x00\x01")
    store.upload_dir(str(local), fs.join(root, "copy"))
    with store.local_folder(fs.join(root, "copy")) as back:
        assert (Path(back) / "sub" / "x.bin").read_bytes() == b"\x00\x01"


def test_marker_hides_leftovers(place: tuple[fs.Store, str]) -> None:
    """An object store keeps what a killed writer left; readers read only what the marker lists."""
    store, root = place
    dest = fs.join(root, "t")
    tmp = store.temp_folder(dest)
    store.write_bytes(fs.join(tmp, "part-00000.parquet"), b"x")
    store.publish_dir(tmp, dest)
    store.write_bytes(fs.join(dest, "part-00009.parquet"), b"stray")
    assert store.files(dest, ".parquet") == [fs.join(dest, "part-00000.parquet")]


def test_local_files_are_readable_by_others(tmp_path: Path) -> None:
    store = fs.Store()
    old = os.umask(0o022)
    try:
        store.write_bytes(str(tmp_path / "f.bin"), b"x")
        with open(tmp_path / "g.bin", "wb") as fh:
            fh.write(b"y")
        store.upload(str(tmp_path / "g.bin"), str(tmp_path / "out" / "g.bin"))
    finally:
        os.umask(old)
    for name in ("f.bin", "out/g.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(fs.INFLIGHT)] == []
