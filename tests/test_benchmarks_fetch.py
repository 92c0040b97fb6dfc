"""`make benchmarks` (jobs/benchmarks.py) against a local mimic of the upstream repositories and PyPI.

What is fetched, from where and with which sha256 comes from conf/benchmarks.yaml (the decontaminator's
loader). The mimic is built from the staged copy in ../shared/data/benchmarks: plain files at
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
from pipeline.decontam import BenchmarkSource, load_benchmark_specs
from tests.conftest import data_path

WHEEL = "champ_dataset-1.0.0-py3-none-any.whl"
TABLE = bm.load_table()
BY_TARGET = {b.target: b for b in TABLE}
CHAMP = BY_TARGET["extra_math_evals/champ.jsonl"].source


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staged_files(staged: Path) -> set[str]:
    return {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file() and p.name != "SOURCE.md"}


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _at(dest: Path, source: BenchmarkSource, path: str) -> Path:
    return dest / source.repo / source.commit / path


def _math_train_files(staged: Path, dest: Path, bench: bm.Bench) -> None:
    """One JSON file per problem, indented like the original MATH release (the job re-serializes)."""
    top = _at(dest, bench.source, bench.source.path)
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
        zf.writestr(CHAMP.member, json.dumps({"problems": problems, "concepts": {}, "hints": {}}))
    return buf.getvalue()


def _pypi(dest: Path, staged: Path) -> None:
    wheel = _champ_wheel(staged)
    _put(dest / "packages" / WHEEL, wheel)
    entry = {"packagetype": "bdist_wheel", "url": f"../../../packages/{WHEEL}",  # relative to the JSON
             "digests": {"sha256": hashlib.sha256(wheel).hexdigest()}}
    _put(dest / "pypi" / CHAMP.package / CHAMP.version / "json", json.dumps({"urls": [entry]}).encode())


def build_upstream(staged: Path, dest: Path) -> Path:
    for bench in TABLE:
        if bench.build == "download":
            _put(_at(dest, bench.source, bench.source.path), (staged / bench.target).read_bytes())
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
    assert {b.target for b in TABLE} == staged_files(staged)
    for bench in TABLE:
        assert bench.sha256 == sha(staged / bench.target), bench.target
    assert {b.target for b in TABLE if b.split == "train"} == {"gsm8k/train.jsonl", "math/train.jsonl"}


def test_conf_names_only_fetched_test_files() -> None:
    """The decontaminator's list (conf/benchmarks.yaml `benchmarks:`) is what this job fetches as test
    files, each pinned by a source and sha256; the train splits are fetched but never in that list."""
    targets = load_benchmark_specs(bm.CONF)
    assert all(spec.source is not None and spec.sha256 for spec in targets)
    assert {spec.file for spec in targets} <= {b.target for b in TABLE if b.split == "test"}
    built_from = {need for b in TABLE for need in b.needs}
    assert {b.target for b in TABLE if b.split == "test"} == {spec.file for spec in targets} | built_from
    train = [spec for spec in load_benchmark_specs(bm.CONF, include_train=True) if spec.split == "train"]
    assert {spec.file for spec in train} == {"gsm8k/train.jsonl", "math/train.jsonl"}
    assert not {spec.file for spec in train} & {spec.file for spec in targets}


def test_bad_sources_are_one_line_errors(tmp_path: Path, capsys) -> None:
    head = "benchmarks:\n  - name: a\n    file: a.jsonl\n    fields: [q]\n    language: en\n"
    good = "    sha256: " + "0" * 64 + "\n    source: {repo: o/r, commit: c0ffee, path: a.jsonl}\n"
    conf = tmp_path / "b.yaml"
    conf.write_text(head + good, encoding="utf-8")
    (bench,) = bm.load_table(conf)
    assert (bench.target, bench.build, bench.source.repo, bench.source.path) == ("a.jsonl", "download", "o/r",
                                                                                 "a.jsonl")
    for body, message in [
        ("    source: {repo: o/r, commit: c, path: a.jsonl}\n", ":2: a benchmark entry with a 'source' needs"),
        ("    sha256: abc\n", ":6: 'sha256' must be 64 lowercase hex digits"),
        (good.replace("path: a.jsonl", "pth: a.jsonl"), ":7: unknown key 'pth' in a source"),
        (good.replace("repo: o/r, ", ""), ":7: a download source needs repo"),
        (good.replace("repo: o/r", "build: zip"), ":7: build must be one of download, mgsm, math_train, champ"),
    ]:
        conf.write_text(head + body, encoding="utf-8")
        assert bm.main(["--conf", str(conf), "--list"]) == bm.EXIT_USAGE
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{conf}{message}" in err, err
    conf.write_text(head + good + "train_splits:\n  - name: t\n    file: t.jsonl\n", encoding="utf-8")
    assert bm.main(["--conf", str(conf), "--list"]) == bm.EXIT_USAGE
    assert f"{conf}:9: train split entry misses sha256, source" in capsys.readouterr().err


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
    for bench in TABLE:
        row = rows[bench.target]
        source = bench.source
        if source.repo and bench.build != "mgsm":  # mgsm_all.jsonl: "derived from the TSVs above"
            assert f"{source.repo} @ {source.commit}" in row[3], bench.target
        if bench.build == "download":
            upstream_path = row[4].split(" (")[0]
            assert source.path == upstream_path or re.fullmatch(upstream_path.replace("*", r"\w+"), source.path)


def test_select() -> None:
    mgsm = bm.select(["mgsm/mgsm_all.jsonl"])
    tsvs = [f"mgsm/tsv/mgsm_{lang}.tsv" for lang in ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")]
    assert [b.target for b in mgsm] == [*tsvs, "mgsm/mgsm_all.jsonl"]
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
    assert f"{len(TABLE)} fetched, 0 already present, 0 failed" in out
    assert staged_files(root) == staged_files(staged)
    for target in staged_files(staged):
        assert sha(root / target) == sha(staged / target), target
    assert not [p for p in root.rglob(".*")], "temporary files left behind"

    assert bm.main(args) == 0  # everything is there now: nothing is fetched again
    assert f"0 fetched, {len(TABLE)} already present, 0 failed" in capsys.readouterr().out


def test_champ_falls_back_to_the_project_endpoint(upstream: Path, tmp_path: Path, capsys) -> None:
    """Some mirrors serve only /pypi/<project>/json (with `releases`), not the per-release endpoint."""
    pypi = tmp_path / "pypi-mirror"
    release = json.loads((upstream / "pypi" / CHAMP.package / CHAMP.version / "json").read_bytes())
    wheel = dict(release["urls"][0], url=(upstream / "packages" / WHEEL).as_uri())
    _put(pypi / "pypi" / CHAMP.package / "json", json.dumps({"releases": {"1.0.0": [wheel]}}).encode())
    root = tmp_path / "root"
    argv = ["--root", str(root), "--pypi-url", pypi.as_uri(), "--only", "extra_math_evals/champ.jsonl"]
    assert bm.main(argv) == 0, capsys.readouterr().err
    assert sha(root / "extra_math_evals/champ.jsonl") == BY_TARGET["extra_math_evals/champ.jsonl"].sha256


def test_tampered_file_is_an_error_and_not_kept(staged: Path, tmp_path: Path, capsys) -> None:
    bench = BY_TARGET["gsm8k/test.jsonl"]
    mirror = tmp_path / "mirror"
    data = bytearray((staged / bench.target).read_bytes())
    data[10] ^= 1
    _put(_at(mirror, bench.source, bench.source.path), bytes(data))
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


def test_busy_server_is_retried_by_the_storage_layer(upstream: Path, tmp_path: Path, capsys) -> None:
    """503 twice, then the file: fetched with two retries (pipeline.storage's back-off); with none, the file
    fails with the server's answer and the others are still tried."""
    bench = BY_TARGET["gsm8k/test.jsonl"]
    busy_path = "/" + _at(Path(""), bench.source, bench.source.path).as_posix()
    answers: list[int] = []

    class Busy(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(upstream), **kwargs)

        def do_GET(self) -> None:
            if self.path == busy_path and answers.count(503) < 2:
                answers.append(503)
                self.send_error(503, "Slow Down")
                return
            answers.append(200)
            super().do_GET()

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        argv = ["--root", str(tmp_path / "a"), "--base-url", base, "--only", bench.target, "--retries", "0"]
        assert bm.main(argv) == bm.EXIT_FAILED
        assert f"FAILED {base}{busy_path}: HTTP 503" in capsys.readouterr().err
        answers.clear()
        argv = ["--root", str(tmp_path / "b"), "--base-url", base, "--only", bench.target, "--retries", "2"]
        assert bm.main(argv) == 0, capsys.readouterr().err
        assert answers == [503, 503, 200]
        assert sha(tmp_path / "b" / bench.target) == bench.sha256
        missing = bm.Fetcher(base, retries=2)
        with pytest.raises(bm.FetchError, match=r"/nowhere\.json: HTTP 404"):
            missing.get(f"{base}/nowhere.json")  # missing: not retried
    finally:
        httpd.shutdown()
        httpd.server_close()
