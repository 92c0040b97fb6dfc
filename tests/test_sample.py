"""Tests for the sample package: the deterministic demo crawl."""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from sample import MANIFEST, MARKUPS, build_sample


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample(out)


@pytest.fixture(scope="module")
def responses(built: tuple[Path, dict]) -> dict[str, dict]:
    """url -> {status, ctype, html} for every response record."""
    _, summary = built
    out: dict[str, dict] = {}
    for path in summary["warc_files"]:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response":
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                body = rec.content_stream().read()  # undoes chunking and gzip
                out[url] = {
                    "status": rec.http_headers.get_statuscode(),
                    "ctype": rec.http_headers.get_header("Content-Type") or "",
                    "headers": rec.http_headers,
                    "body": body,
                }
    return out


@pytest.fixture(scope="module")
def labels(built: tuple[Path, dict]) -> list[dict]:
    out, _ = built
    return [json.loads(line) for line in (out / "labels.jsonl").read_text("utf-8").splitlines()]


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252")


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_byte_identical_across_builds(tmp_path: Path) -> None:
    s1 = build_sample(tmp_path / "a")
    s2 = build_sample(tmp_path / "b")
    d1, d2 = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    # WARCs; labels, seed, negatives, benchmark, the demo annotator's patterns, the manifest
    assert len(d1) == 4 + 5 + 1
    assert d1 == d2
    assert {k: v for k, v in s1.items() if k != "warc_files"} == \
        {k: v for k, v in s2.items() if k != "warc_files"}


def test_other_seed_differs(tmp_path: Path) -> None:
    a = build_sample(tmp_path / "a", seed=1)
    b = build_sample(tmp_path / "b", seed=2)
    assert _digests(tmp_path / "a") != _digests(tmp_path / "b")
    assert a["pages"] > 250 and b["pages"] > 250


def test_layout_and_summary(built: tuple[Path, dict]) -> None:
    out, summary = built
    assert [Path(p).name for p in summary["warc_files"]] == [
        f"sample-{k:05d}.warc.gz" for k in range(4)]
    assert 0.5e6 <= summary["bytes"] <= 10e6
    assert summary["bytes"] == sum(Path(p).stat().st_size for p in summary["warc_files"])
    assert 250 <= summary["pages"] <= 400
    assert 0 < summary["math_pages"] < summary["pages"]
    assert summary["domains"] == sorted(set(summary["domains"]))
    assert "blog.example.co.uk" in summary["domains"]
    seed = [json.loads(x) for x in (out / "seed" / "seed.jsonl").read_text("utf-8").splitlines()]
    assert len(seed) == summary["seed_docs"] >= 50
    assert all(d["source"] == "sample-seed" and "$" in d["text"] and d["id"] for d in seed)
    negatives = [json.loads(x) for x in (out / "negatives" / "negatives.jsonl").read_text("utf-8").splitlines()]
    assert len(negatives) == summary["negative_docs"] == 300
    assert not any("\\" in d["text"] for d in negatives)  # known non-math: no TeX command in any
    bench = [json.loads(x) for x in
             (out / "benchmarks" / "sample_bench.jsonl").read_text("utf-8").splitlines()]
    assert len(bench) >= 8 and all(set(b) == {"id", "question", "answer"} for b in bench)


def test_warcs_parse_and_counts(built: tuple[Path, dict], responses: dict[str, dict],
                                labels: list[dict]) -> None:
    _, summary = built
    n_records, types = 0, set()
    for path in summary["warc_files"]:
        with open(path, "rb") as fh:
            recs = list(ArchiveIterator(fh))
        assert recs[0].rec_type == "warcinfo"
        for rec in recs:
            n_records += 1
            types.add(rec.rec_type)
            rid = rec.rec_headers.get_header("WARC-Record-ID")
            assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", rid)
    assert types == {"warcinfo", "request", "response"}
    assert n_records == summary["records"]
    html_200 = [u for u, r in responses.items()
                if r["status"] == "200" and r["ctype"].startswith("text/html")]
    assert len(html_200) == summary["pages"] == len(labels)
    assert {lb["url"] for lb in labels} == set(html_200)
    statuses = {r["status"] for r in responses.values()}
    assert {"200", "301", "404"} <= statuses
    assert any(r["ctype"] == "image/png" and r["body"].startswith(b"\x89PNG")
               for r in responses.values())


def test_transfer_and_content_encodings(responses: dict[str, dict]) -> None:
    chunked = [r for r in responses.values()
               if r["headers"].get_header("Transfer-Encoding") == "chunked"]
    gz = [r for r in responses.values()
          if r["headers"].get_header("Content-Encoding") == "gzip"]
    assert chunked and gz
    for r in chunked + gz:
        assert r["body"].rstrip().endswith(b"</html>")
    legacy = [r for r in responses.values()
              if r["ctype"] == "text/html" and r["status"] == "200"]
    assert len(legacy) >= 1
    undecodable = 0
    for r in legacy:
        try:
            r["body"].decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable >= 1  # the reader must detect the legacy charset


def test_label_fields_and_markups(labels: list[dict]) -> None:
    keys = {"url", "domain", "is_math", "markup", "near_dup_of", "quotes_benchmark", "formulas"}
    for lb in labels:
        assert set(lb) == keys
        assert lb["markup"] in MARKUPS
        assert lb["domain"] == lb["url"].split("/")[2]
        if lb["markup"] not in ("none",):
            assert lb["is_math"] and lb["formulas"]
        if not lb["is_math"]:
            assert lb["markup"] == "none" and lb["formulas"] == []
    assert {lb["markup"] for lb in labels} == set(MARKUPS)
    # some math pages use no markup at all (Unicode math)
    assert any(lb["is_math"] and lb["markup"] == "none" for lb in labels)


def test_domains_with_math_and_non_math(labels: list[dict]) -> None:
    kinds: dict[str, set[bool]] = {}
    for lb in labels:
        kinds.setdefault(lb["domain"], set()).add(lb["is_math"])
    mixed = [d for d, k in kinds.items() if k == {True, False}]
    assert len(mixed) >= 3
    assert "mathforum.example.org" in mixed and "calc-notes.example.edu" in mixed
    assert any(k == {False} for k in kinds.values())


def test_formulas_appear_in_html(labels: list[dict], responses: dict[str, dict]) -> None:
    for lb in labels:
        doc = _decode(responses[lb["url"]]["body"])
        unescaped = html.unescape(doc)
        for tex in lb["formulas"]:
            assert tex in doc or tex in unescaped, (lb["url"], tex)


def test_markup_shapes(labels: list[dict], responses: dict[str, dict]) -> None:
    needles = {
        "mathjax_script": ['<script type="math/tex">', '<script type="math/tex; mode=display"',
                           'class="MathJax_Preview"'],
        "katex": ['class="katex-mathml"', 'encoding="application/x-tex"', 'class="katex-html"'],
        "mathml": ["<math", "<annotation encoding=\"application/x-tex\">"],
        "mathml_alttext": ["<math", "alttext="],
        "math_container": ['class="math-container"'],
    }
    seen: dict[str, str] = {}
    for lb in labels:
        seen.setdefault(lb["markup"], "")
        seen[lb["markup"]] += _decode(responses[lb["url"]]["body"])
    for markup, parts in needles.items():
        for needle in parts:
            if needle == '<script type="math/tex">':
                assert re.search(r'<script type="math/tex"( id="[^"]+")?>', seen[markup])
            else:
                assert needle in seen[markup], (markup, needle)
    latex_img = seen["latex_img"]
    for needle in ("s0.wp.com/latex.php", "latex.codecogs.com", "mimetex.cgi", 'class="tex"'):
        assert needle in latex_img
    delims = seen["mathjax_delims"]
    assert "\\(" in delims and "$$" in delims


def test_near_duplicates_and_benchmark_quotes(built: tuple[Path, dict], labels: list[dict],
                                              responses: dict[str, dict]) -> None:
    out, _ = built
    urls = {lb["url"] for lb in labels}
    dups = [lb for lb in labels if lb["near_dup_of"]]
    assert 12 <= len(dups) <= 30
    assert all(lb["near_dup_of"] in urls for lb in dups)
    by_url = {lb["url"]: lb for lb in labels}
    assert all(by_url[lb["near_dup_of"]]["near_dup_of"] is None for lb in dups)  # no chains
    exact = [lb for lb in dups
             if responses[lb["url"]]["body"] == responses[lb["near_dup_of"]]["body"]]
    assert len(exact) == 3
    bench = {b["id"]: b["question"] for b in map(
        json.loads, (out / "benchmarks" / "sample_bench.jsonl").read_text("utf-8").splitlines())}
    quoting = [lb for lb in labels if lb["quotes_benchmark"]]
    assert len(quoting) >= 5
    for lb in quoting:
        text = html.unescape(re.sub(r"<[^>]+>", "", _decode(responses[lb["url"]]["body"])))
        text = " ".join(text.split())
        assert " ".join(bench[lb["quotes_benchmark"]].split()) in text, lb["url"]


def test_cli_prints_summary(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sample", str(tmp_path), "--seed", "7"],
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out)
    assert summary["pages"] > 250 and len(summary["warc_files"]) == 4
    assert (tmp_path / MANIFEST).is_file()


def test_manifest_names_what_the_sample_wrote(built: tuple[Path, dict]) -> None:
    out, summary = built
    text = (out / MANIFEST).read_text("utf-8")
    manifest = json.loads(text)
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    assert manifest["summary"] == {k: v for k, v in summary.items() if k != "warc_files"}
    # every path is relative to the sample folder and names something that exists
    assert (out / manifest["warc"]).is_dir() and manifest["warc"] == "warc/"
    assert manifest["warc_files"] == [Path(p).relative_to(out).as_posix() for p in summary["warc_files"]]
    assert sorted(p.relative_to(out).as_posix() for p in (out / manifest["warc"]).glob("*.warc.gz")) == \
        sorted(manifest["warc_files"])
    for key in ("seed_corpus", "negatives_corpus", "labels"):
        assert not Path(manifest[key]).is_absolute() and (out / manifest[key]).is_file(), key
    assert (out / manifest["benchmarks_root"]).is_dir()
    assert [b["name"] for b in manifest["benchmarks"]] == ["sample_bench"]
    for bench in manifest["benchmarks"]:
        rows = [json.loads(x) for x in
                (out / manifest["benchmarks_root"] / bench["file"]).read_text("utf-8").splitlines()]
        assert rows and all({bench["id_field"], *bench["fields"]} <= set(r) for r in rows)
        assert bench["language"] == "en"
    assert list((out / manifest["url_patterns"]).glob("*.tsv"))


def test_pipeline_never_imports_the_sample() -> None:
    """pipeline/ ships to Spark executors; the demo generator must stay out of it."""
    import ast

    import pipeline

    root = Path(pipeline.__file__).parent
    assert not (root / "sample.py").exists() and not (root / "sample").exists()
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "sample"]
    assert offenders == []


def test_demo_annotator_patterns_lint_and_each_matches_sample_pages(built: tuple[Path, dict],
                                                                    labels: list[dict]) -> None:
    from pipeline.annotation import PatternMatcher, load_patterns

    out, _ = built
    patterns, errors = load_patterns(out / "annotation" / "url_patterns")
    assert errors == [] and len(patterns) >= 3
    for pattern in patterns:
        hits = [lb for lb in labels if PatternMatcher([pattern]).matching(*_host_path(lb["url"]))]
        assert hits, pattern
        # a math line marks math pages only, an exclude line non-math pages only
        assert all(lb["is_math"] == (pattern.label == "math") for lb in hits), pattern


def _host_path(url: str) -> tuple[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "", parts.path or "/"
