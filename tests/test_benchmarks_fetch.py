"""`make benchmarks` (jobs/benchmarks.py) against a local mimic of the upstream repositories and PyPI.

The mimic is built from the staged copy in ../shared/data/benchmarks: plain files at
<owner>/<repo>/<commit>/<path>, the MATH train split split back into per-problem JSON files, and a
stand-in champ-dataset wheel. Fetching from it must reproduce every staged file byte for byte.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from jobs import benchmarks as bm
from tests.conftest import data_path

WHEEL = "champ_dataset-1.0.0-py3-none-any.whl"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staged_files(staged: Path) -> set[str]:
    return {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file() and p.name != "SOURCE.md"}


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _math_train_files(staged: Path, dest: Path, bench: bm.Bench) -> None:
    """One JSON file per problem, indented like the original MATH release (the job re-serializes)."""
    assert bench.repo is not None
    top = dest / bench.repo.slug / bench.repo.commit / bench.path
    for line in (staged / bench.target).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        source = record.pop("source_file").removeprefix("train/")
        _put(top / source, json.dumps(record, indent=4).encode())


def _champ_wheel(staged: Path) -> bytes:
    """A wheel whose v0.json holds the staged problems plus the fields the job drops."""
    problems = {}
    for line in (staged / "extra_math_evals/champ.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        problems[r["id"]] = {"identifier": r["id"], "_raw_text": "@@" + r["problem"], "_text": r["problem"],
                             "category": r["category"], "_answer": r["answer"], "fws_annotations": {"x": "y"},
                             "solution": {"steps": [{"_text": s, "ch_idxs": []} for s in r["solution_steps"]]}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(bm.CHAMP_MEMBER, json.dumps({"problems": problems, "concepts": {}, "hints": {}}))
    return buf.getvalue()


def _pypi(dest: Path, staged: Path) -> None:
    wheel = _champ_wheel(staged)
    _put(dest / "packages" / WHEEL, wheel)
    entry = {"packagetype": "bdist_wheel", "url": f"../../../packages/{WHEEL}",  # relative to the JSON
             "digests": {"sha256": hashlib.sha256(wheel).hexdigest()}}
    _put(dest / "pypi" / bm.CHAMP_PROJECT / bm.CHAMP_VERSION / "json", json.dumps({"urls": [entry]}).encode())


def build_upstream(staged: Path, dest: Path) -> Path:
    for bench in bm.TABLE:
        if bench.build == "download":
            assert bench.repo is not None
            _put(dest / bench.repo.slug / bench.repo.commit / bench.path, (staged / bench.target).read_bytes())
        elif bench.build == "math_train":
            _math_train_files(staged, dest, bench)
    _pypi(dest, staged)
    return dest


@pytest.fixture(scope="module")
def staged() -> Path:
    return data_path("benchmarks")


@pytest.fixture(scope="module")
def upstream(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_upstream(staged, tmp_path_factory.mktemp("upstream"))


@pytest.fixture(scope="module")
def server(upstream: Path):
    """The mimic over a loopback http.server, in a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(upstream), **kwargs)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_table_matches_the_staged_files(staged: Path) -> None:
    assert {b.target for b in bm.TABLE} == staged_files(staged)
    for bench in bm.TABLE:
        assert bench.sha256 == sha(staged / bench.target), bench.target
    assert {b.target for b in bm.TABLE if b.split == "train"} == {"gsm8k/train.jsonl", "math/train.jsonl"}


def test_conf_names_only_fetched_test_files() -> None:
    """conf/benchmarks.yaml (the decontaminator's list) must name files this job fetches, never a train split."""
    conf = Path(__file__).resolve().parent.parent / "conf" / "benchmarks.yaml"
    if not conf.exists():
        pytest.skip("no conf/benchmarks.yaml")
    yaml = pytest.importorskip("yaml")
    files = {entry["file"] for entry in yaml.safe_load(conf.read_text())["benchmarks"]}
    assert files <= {b.target for b in bm.TABLE if b.split == "test"}


def _expand(cell: str) -> list[str]:
    """`mgsm/tsv/mgsm_{bn,de}.tsv` -> both names."""
    m = re.search(r"\{([^}]*)\}", cell)
    return [cell[: m.start()] + part + cell[m.end():] for part in m.group(1).split(",")] if m else [cell]


def test_table_matches_source_md(staged: Path) -> None:
    """Every download's repo, commit and path are the ones SOURCE.md gives for that file."""
    rows = {}
    for line in (staged / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6:
            for target in _expand(cells[0]):
                rows[target] = cells
    for bench in bm.TABLE:
        row = rows[bench.target]
        if bench.repo:
            assert f"{bench.repo.slug} @ {bench.repo.commit}" in row[3], bench.target
        if bench.build == "download":
            upstream_path = row[4].split(" (")[0]
            assert bench.path == upstream_path or re.fullmatch(upstream_path.replace("*", r"\w+"), bench.path)


def test_select() -> None:
    mgsm = bm.select(["mgsm/mgsm_all.jsonl"])
    assert [b.target for b in mgsm] == [*bm.MGSM_TSVS, "mgsm/mgsm_all.jsonl"]
    assert [b.target for b in bm.select(["gsm8k/"])] == ["gsm8k/test.jsonl", "gsm8k/train.jsonl"]
    assert all(b.split == "test" for b in bm.select([], skip_train=True))
    with pytest.raises(ValueError, match="nope"):
        bm.select(["nope"])
    assert bm.main(["--only", "nope"]) == bm.EXIT_USAGE


def test_fetch_reproduces_every_staged_file(server: str, staged: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "benchmarks"
    args = ["--root", str(root), "--base-url", server, "--pypi-url", server, "--retries", "0"]
    assert bm.main(args) == 0
    out = capsys.readouterr().out
    assert f"{len(bm.TABLE)} fetched, 0 already present, 0 failed" in out
    assert staged_files(root) == staged_files(staged)
    for target in staged_files(staged):
        assert sha(root / target) == sha(staged / target), target
    assert not [p for p in root.rglob(".*")], "temporary files left behind"

    assert bm.main(args) == 0  # everything is there now: nothing is fetched again
    assert f"0 fetched, {len(bm.TABLE)} already present, 0 failed" in capsys.readouterr().out


def test_champ_falls_back_to_the_project_endpoint(upstream: Path, tmp_path: Path, capsys) -> None:
    """Some mirrors serve only /pypi/<project>/json (with `releases`), not the per-release endpoint."""
    pypi = tmp_path / "pypi-mirror"
    release = json.loads((upstream / "pypi" / bm.CHAMP_PROJECT / bm.CHAMP_VERSION / "json").read_bytes())
    wheel = dict(release["urls"][0], url=(upstream / "packages" / WHEEL).as_uri())
    _put(pypi / "pypi" / bm.CHAMP_PROJECT / "json", json.dumps({"releases": {"1.0.0": [wheel]}}).encode())
    root = tmp_path / "root"
    argv = ["--root", str(root), "--pypi-url", pypi.as_uri(), "--only", "extra_math_evals/champ.jsonl"]
    assert bm.main(argv) == 0, capsys.readouterr().err
    assert sha(root / "extra_math_evals/champ.jsonl") == bm.BY_TARGET["extra_math_evals/champ.jsonl"].sha256


def test_tampered_file_is_an_error_and_not_kept(staged: Path, tmp_path: Path, capsys) -> None:
    bench = bm.BY_TARGET["gsm8k/test.jsonl"]
    assert bench.repo is not None
    mirror = tmp_path / "mirror"
    data = bytearray((staged / bench.target).read_bytes())
    data[10] ^= 1
    _put(mirror / bench.repo.slug / bench.repo.commit / bench.path, bytes(data))
    root = tmp_path / "root"
    argv = ["--root", str(root), "--base-url", mirror.as_uri(), "--only", bench.target]
    assert bm.main(argv) == bm.EXIT_FAILED
    captured = capsys.readouterr()
    assert "sha256 mismatch" in captured.err and bench.target in captured.err
    assert bench.sha256 in captured.err and hashlib.sha256(bytes(data)).hexdigest() in captured.err
    assert "0 fetched, 0 already present, 1 failed" in captured.out
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_unreachable_source_is_one_message_and_exit_3(tmp_path: Path, capsys) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    root = tmp_path / "root"
    assert bm.main(["--root", str(root), "--base-url", base, "--timeout", "5"]) == bm.EXIT_UNREACHABLE
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "cannot be reached from here" in lines[0] and base in lines[0]
    assert "decontaminate.benchmarks_root=" in lines[0] and "Traceback" not in captured.err
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]
