"""The one filesystem layer: every byte the project writes, and every run-folder byte it reads.

A `Store` serves local paths (and file://) with the os module and s3:// / s3a:// (AWS, MinIO, a
loopback moto server: `storage.s3_endpoint_url`) with boto3, retried the way `pipeline.storage`
retries WARC reads. It is a small picklable object, so Spark tasks carry it in their closures.

Two atomic publishes, the same on every store:
- a file (`write_bytes`): a temp file beside it and a rename locally (mode 0644 less the umask, never
  mkstemp's 0600); one PUT on an object store, which readers see whole or not at all;
- a folder (`temp_folder` + `publish_dir`): files are written under a temp sibling prefix, then moved
  into place (a rename locally; server-side copies on an object store) and a `_published.json`
  completion marker listing every file and its size is written last. Readers honour the marker:
  `files` lists only the files it names, and a step's output counts as done only with it.

WARC input (ranged, resumable reads of public buckets and https) stays in `pipeline.storage`; the
run folder lives here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from pipeline import storage
from pipeline.config import StorageSettings, UserError

MARKER = "_published.json"
INFLIGHT = ".inflight-"
LOCK = "_lock.json"  # a run folder's lock: who holds it (see Store.lock)


class FolderLocked(UserError):
    """Another live process holds the folder's lock; the message names it and what to do."""


def is_remote(path: str) -> bool:
    """An object-store URI (s3://, s3a://), as opposed to a local path or file:// URL."""
    return storage.scheme_of(path) == "s3"


def join(base: str, *parts: str) -> str:
    out = str(base)
    for part in parts:
        out = out.rstrip("/") + "/" + str(part).lstrip("/")
    return out


def local_path(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


def absolute(path: str) -> str:
    """A run-folder spec as the run records it: URIs unchanged, local paths made absolute."""
    return path.rstrip("/") if is_remote(path) else os.path.abspath(local_path(path))


class Store:
    """Read, write, list and publish files on a local disk or an object store."""

    def __init__(self, settings: StorageSettings | None = None) -> None:
        self.settings = settings or StorageSettings()

    # -- object-store plumbing ------------------------------------------------------------------
    def _s3(self, path: str) -> tuple[Any, str, str]:
        bucket, key = storage.split_s3(path)
        return storage.s3_client(self.settings, bucket), bucket, key

    def _call(self, what: str, call: Any) -> Any:
        return storage._retrying(what, self.settings, call)

    def _keys(self, prefix_path: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix_path/` (a folder: the trailing slash is added)."""
        client, bucket, key = self._s3(prefix_path)
        prefix = key.rstrip("/") + "/" if key else ""
        paginator = client.get_paginator("list_objects_v2")
        for page in self._call(prefix_path, lambda: list(paginator.paginate(Bucket=bucket, Prefix=prefix))):
            for obj in page.get("Contents", []):
                yield obj["Key"], int(obj["Size"])

    def _uri(self, path: str, key: str) -> str:
        bucket, _ = storage.split_s3(path)
        scheme = path.split("://", 1)[0]
        return f"{scheme}://{bucket}/{key}"

    # -- files ----------------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes:
        """The whole file. Raises storage.StorageError(kind=missing_file|read_error)."""
        return storage.read_bytes(path, self.settings)

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_bytes(path))

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file so readers see all of it or none of it."""
        if is_remote(path):
            client, bucket, key = self._s3(path)
            self._call(path, lambda: client.put_object(Bucket=bucket, Key=key, Body=data))
            return
        if storage.scheme_of(path) != "file":
            raise storage.StorageError(path, "write_error", "cannot write to an http(s) URL")
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        tmp = os.path.join(os.path.dirname(target) or ".",
                           f"{INFLIGHT}{os.path.basename(target)}-{secrets.token_hex(4)}")
        # os.open with 0o666 applies the umask (0644 by default): others can read the run folder.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def write_json(self, path: str, data: Any, sort_keys: bool = True) -> None:
        self.write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n")

    def create_new(self, path: str, data: bytes) -> bool:
        """Write a whole file only if nothing is at `path` yet; False when something was.
        Locally a hard link of a finished temp file (atomic, fails on an existing name); on an
        object store a conditional PUT (`If-None-Match: *`, which S3 and MinIO honour)."""
        if is_remote(path):
            client, bucket, key = self._s3(path)

            def put() -> bool:
                try:
                    client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
                except Exception as exc:
                    if getattr(exc, "response", {}).get("Error", {}).get("Code") == "PreconditionFailed":
                        return False
                    raise
                return True

            return self._call(path, put)
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        tmp = os.path.join(os.path.dirname(target) or ".", f"{INFLIGHT}{os.path.basename(target)}-"
                           f"{secrets.token_hex(4)}")
        with open(tmp, "wb") as fh:
            fh.write(data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def upload(self, local: str, path: str) -> None:
        """Publish a local file (a trained model, a temp Parquet file) at `path`, atomically."""
        if is_remote(path):
            client, bucket, key = self._s3(path)
            # boto3's managed transfer: multipart for large files, one PUT for small ones.
            self._call(path, lambda: client.upload_file(local, bucket, key))
            return
        with open(local, "rb") as fh:
            self.write_bytes(path, fh.read())

    def download(self, path: str, local: str) -> str:
        """A local copy of `path` at `local` (for libraries that want a file name: fastText)."""
        if is_remote(path):
            client, bucket, key = self._s3(path)
            os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
            self._call(path, lambda: client.download_file(bucket, key, local))
            return local
        shutil.copyfile(local_path(path), local)
        return local

    @contextlib.contextmanager
    def local_copy(self, path: str) -> Iterator[str]:
        """A local file name for `path`: itself when local, else a temp download removed after."""
        if not is_remote(path):
            yield local_path(path)
            return
        folder = tempfile.mkdtemp(prefix="mathmine-fs-")
        try:
            yield self.download(path, os.path.join(folder, os.path.basename(path.rstrip("/"))))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def exists(self, path: str) -> bool:
        """A file, or a folder (locally: it exists; on an object store: anything under it)."""
        if not is_remote(path):
            return os.path.exists(local_path(path))
        if storage.exists(path, self.settings):
            return True
        return next(self._keys(path), None) is not None

    def published(self, folder: str) -> bool:
        """A folder finished by `publish_dir` (its completion marker is there)."""
        return self.exists(join(folder, MARKER))

    def remove(self, path: str) -> None:
        """Delete a file or a whole folder; nothing there is not an error."""
        if is_remote(path):
            client, bucket, key = self._s3(path)
            keys = [k for k, _ in self._keys(path)]
            if storage.exists(path, self.settings):
                keys.append(key)
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start:start + 1000]]
                self._call(path, lambda batch=batch: client.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}))
            return
        target = local_path(path)
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.lexists(target):
            os.unlink(target)

    # -- folders --------------------------------------------------------------------------------
    def listing(self, folder: str) -> dict[str, int]:
        """Every file under `folder`: relative name -> size, sorted; temp files left out."""
        out: dict[str, int] = {}
        if is_remote(folder):
            _, _, key = self._s3(folder)
            prefix = key.rstrip("/") + "/"
            for k, size in self._keys(folder):
                out[k[len(prefix):]] = size
        else:
            root = local_path(folder)
            for dirpath, _, names in os.walk(root):
                for name in names:
                    full = os.path.join(dirpath, name)
                    out[os.path.relpath(full, root).replace(os.sep, "/")] = os.path.getsize(full)
        return {
            name: size for name, size in sorted(out.items())
            if not any(part.startswith(INFLIGHT) for part in name.split("/"))
        }

    def files(self, folder: str, suffix: str = "") -> list[str]:
        """The files of `folder` ending in `suffix` (full paths, sorted). With a completion marker,
        exactly the files it lists, so an object store's leftovers are never read."""
        if self.exists(join(folder, MARKER)):
            names = list(self.read_json(join(folder, MARKER))["files"])
        else:
            names = list(self.listing(folder))
        return [join(folder, n) for n in sorted(names) if n.endswith(suffix) and n != MARKER]

    def temp_folder(self, dest: str) -> str:
        """A fresh temp sibling of `dest` to write a folder's files into before `publish_dir`
        (a dot name: Spark, pyarrow and `listing` skip it)."""
        parent, name = dest.rstrip("/").rsplit("/", 1) if "/" in dest.rstrip("/") else (".", dest)
        return join(parent, f"{INFLIGHT}{name}-{secrets.token_hex(4)}")

    def publish_dir(self, tmp: str, dest: str) -> dict[str, int]:
        """Move the finished folder `tmp` to `dest` (replacing an older one whole) and write the
        completion marker last. Returns the published listing."""
        listing = {n: s for n, s in self.listing(tmp).items() if n != MARKER}
        self.remove(dest)
        if is_remote(dest):
            client, bucket, _ = self._s3(dest)
            _, _, src_key = self._s3(tmp)
            _, _, dest_key = self._s3(dest)
            for name in listing:
                source = {"Bucket": bucket, "Key": f"{src_key.rstrip('/')}/{name}"}
                target = f"{dest_key.rstrip('/')}/{name}"
                self._call(dest, lambda source=source, target=target: client.copy(source, bucket, target))
            self.remove(tmp)
        else:
            os.makedirs(os.path.dirname(local_path(dest)) or ".", exist_ok=True)
            os.replace(local_path(tmp), local_path(dest))
        self.write_json(join(dest, MARKER), {"files": listing})
        return listing

    def upload_dir(self, local_dir: str, dest: str) -> dict[str, int]:
        """Publish a folder built on the local disk (a trained tokenizer, the sample) at `dest`."""
        if not is_remote(dest):
            tmp = self.temp_folder(dest)
            shutil.copytree(local_dir, local_path(tmp))
            return self.publish_dir(tmp, dest)
        tmp = self.temp_folder(dest)
        for dirpath, _, names in os.walk(local_dir):
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, local_dir).replace(os.sep, "/")
                self.upload(full, join(tmp, rel))
        return self.publish_dir(tmp, dest)

    def download_dir(self, folder: str, local_dir: str) -> str:
        """A local copy of a published folder's files (the marker left out) in `local_dir`."""
        os.makedirs(local_dir, exist_ok=True)
        for path in self.files(folder):
            rel = path[len(folder.rstrip("/")) + 1:]
            target = os.path.join(local_dir, *rel.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.download(path, target)
        return local_dir

    @contextlib.contextmanager
    def local_folder(self, folder: str) -> Iterator[str]:
        """A local folder name for `folder`: itself when local, else a temp copy removed after."""
        if not is_remote(folder):
            yield local_path(folder)
            return
        tmp = tempfile.mkdtemp(prefix="mathmine-fs-")
        try:
            yield self.download_dir(folder, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- a folder's lock ------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, folder: str, command: str = "") -> Iterator[dict[str, Any]]:
        """Hold `folder/_lock.json` while a run writes into the folder; raise FolderLocked naming
        the holder when another live process has it.

        Locally the lock is an flock on that file, so the kernel drops it when its process dies,
        even by SIGKILL (on NFS, flock is only as good as the server's lock manager). An object
        store has no such lock: the file is created with a conditional PUT and removed on exit;
        a file left by a process that died on this host (its pid is gone) is taken over, one left
        from another host is reported with the command that removes it."""
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command or " ".join(sys.argv),
        }
        path = join(folder, LOCK)
        if is_remote(folder):
            yield from self._object_lock(path, holder)
        else:
            yield from self._flock(local_path(path), holder)

    def _flock(self, path: str, holder: dict[str, Any]) -> Iterator[dict[str, Any]]:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise FolderLocked(_locked_message(path, _read_holder(path), remove=False)) from None
            # The holder before us may have unlinked the file between our open and our flock:
            # then we locked a name nobody else will open, so start again on the current file.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(holder, sort_keys=True) + "\n").encode())
            yield holder
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    def _object_lock(self, path: str, holder: dict[str, Any]) -> Iterator[dict[str, Any]]:
        data = (json.dumps(holder, sort_keys=True) + "\n").encode()
        if not self.create_new(path, data):
            found = _holder_of(self, path)
            if not (found.get("host") == holder["host"] and not _pid_alive(found.get("pid"))):
                raise FolderLocked(_locked_message(path, found, remove=True))
            # Left by a process of this host that is gone: take it over (one winner, by the PUT).
            self.remove(path)
            if not self.create_new(path, data):
                raise FolderLocked(_locked_message(path, _holder_of(self, path), remove=True))
        try:
            yield holder
        finally:
            self.remove(path)

    def leftovers(self, folder: str) -> list[str]:
        """Temp files and folders (`.inflight-*`) under `folder`, outermost only: what an
        interrupted write left. Sweep them only while holding the folder's lock."""
        found: set[str] = set()
        if is_remote(folder):
            _, _, key = self._s3(folder)
            prefix = key.rstrip("/") + "/"
            names = [k[len(prefix):] for k, _ in self._keys(folder)]
        else:
            root = local_path(folder)
            names = []
            for dirpath, dirnames, filenames in os.walk(root):
                rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
                for name in dirnames + filenames:
                    names.append(name if rel == "." else f"{rel}/{name}")
        for name in names:
            parts = name.split("/")
            for depth, part in enumerate(parts):
                if part.startswith(INFLIGHT):
                    found.add("/".join(parts[: depth + 1]))
                    break
        return [join(folder, name) for name in sorted(found)]

    def sweep_leftovers(self, folder: str) -> int:
        """Remove what `leftovers` finds; returns how many there were."""
        found = self.leftovers(folder)
        for path in found:
            self.remove(path)
        return len(found)


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _read_holder(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read() or "{}")
    except (OSError, ValueError):
        return {}


def _holder_of(store: Store, path: str) -> dict[str, Any]:
    try:
        return store.read_json(path)
    except (storage.StorageError, ValueError):
        return {}


def _locked_message(path: str, holder: dict[str, Any], remove: bool) -> str:
    folder = path.rsplit("/", 1)[0]
    who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')}"
           f" ({holder.get('command', '?')})") if holder else "another process"
    hint = f"; if that run is gone, remove {path}" if remove else "; wait for it to finish or stop it"
    return f"{folder} is in use by {who}{hint}"

