"""URL-pattern files: parsing, linting (one clear error per bad line), matching, the lint command."""

from __future__ import annotations

import fnmatch
import pickle
import random
from pathlib import Path

import pytest

from jobs.cli import main
from pipeline.annotation import (
    DEFAULT_PATTERNS_DIR,
    LintError,
    Pattern,
    PatternMatcher,
    check_pattern,
    lint_paths,
    lint_report,
    load_patterns,
)
from pipeline.domains import QUEUE_COLUMNS

ROOT = Path(__file__).resolve().parent.parent

# (line, text, expected reason substring); None: the line is fine (or ignored)
BAD_LINES = [
    (1, "# a comment", None),
    (2, "mathoverflow.net/questions/*\tmath\talice\tQ&A", None),
    (3, "example.org/*\tmaths\talice", "unknown label 'maths' (use math or exclude)"),
    (4, "\tmath\talice", "empty pattern"),
    (5, "/questions/*\tmath\talice", "no host: a pattern starts with a host name, e.g. example.org/questions/*"),
    (6, "example.org/[abc\tmath\talice", "unclosed '[' at character 13"),
    (7, "example.org/a**\tmath\talice", "'**' is not needed"),
    (8, "example.org/a b\tmath\talice", "whitespace inside the pattern (character 14)"),
    (9, "https://example.org/*\tmath\talice", "drop the scheme 'https://': a pattern starts with the host (example.org/*)"),
    (10, "example.org/x/*\tmath", "missing annotator column (pattern<TAB>label<TAB>annotator[<TAB>note])"),
    (11, "example.org/y/*  math  alice", "columns must be separated by tabs, not spaces"),
    (12, "MathOverflow.net/questions/*\tmath\tbob", "duplicate of bad.tsv:2"),
    (13, "www.mathoverflow.net/questions/*\texclude\tbob", "conflicts with bad.tsv:2, which labels the same pattern 'math'"),
    (14, None, "not valid UTF-8: byte 0xe9 at byte offset"),  # written as bytes below
    (15, "example.org\tmath\talice", "no path after the host: write example.org/* for the whole site"),
    (16, "mathoverflow/questions/*\tmath\talice", "host 'mathoverflow' is not a domain name (no dot)"),
    (17, "exa*mple.org/*\tmath\talice", "a host wildcard is only allowed as a leading '*.'"),
    (18, "*.github.io/*\tmath\talice", "would match every site under the public suffix 'github.io'"),
    (19, "example.org:8080/*\tmath\talice", "drop the port ':8080'"),
    (20, "example.org/index.php?title=*\tmath\talice", "'?title=*' looks like a query string"),
    (21, "example.org/z/*\tmath\t", "empty annotator column"),
    (22, "example.org/[9-0]\tmath\talice", "empty range '9-0'"),
    (23, "example.org/#top\tmath\talice", "'#' in a pattern"),
    (24, "example.org/q/*\t\talice", "empty label column"),
    (25, "example.org/w/*\tmath alice", "missing annotator column: separate the label and the annotator with a tab"),
    (26, "example.org/only-label", "missing label and annotator columns"),
    (27, "", None),
    (28, "   # an indented comment", None),
    (29, "ex ample.org/*\tmath\talice", "whitespace inside the pattern (character 3)"),
    (30, "example.org/\x01x\tmath\talice", "control character U+0001"),
    (31, "exa,mple.org/*\tmath\talice", "has a character a host name cannot have: ','"),
    (32, "user@example.org/*\tmath\talice", "drop the user name"),
]


def _write_bad(folder: Path) -> bytes:
    lines = []
    for number, text, _ in BAD_LINES:
        if number == 14:
            lines.append(b"example.org/caf\xe9/*\tmath\talice")
        else:
            lines.append(text.encode())
    data = b"\n".join(lines) + b"\n"
    (folder / "bad.tsv").write_bytes(data)
    return data


def test_every_kind_of_bad_line_gives_one_clear_error(tmp_path):
    data = _write_bad(tmp_path)
    patterns, errors = load_patterns(tmp_path)
    assert all(e.file == "bad.tsv" for e in errors)
    by_line = {}
    for err in errors:
        assert err.line not in by_line, f"two errors for line {err.line}: {by_line.get(err.line)} / {err}"
        by_line[err.line] = err.reason
    expected = {number: reason for number, _, reason in BAD_LINES if reason}
    assert set(by_line) == set(expected)
    for number, reason in expected.items():
        assert reason in by_line[number], f"line {number}: {by_line[number]!r} lacks {reason!r}"
    # the byte offset names the bad byte itself
    offset = data.index(b"\xe9")
    assert f"byte offset {offset} of the file" in by_line[14]
    # the good line still loads; bad ones are left out
    assert [(p.line, p.glob, p.label, p.annotator, p.note) for p in patterns] == [
        (2, "mathoverflow.net/questions/*", "math", "alice", "Q&A")]
    assert str(errors[0]).startswith("bad.tsv:3: unknown label")
    assert lint_paths(tmp_path) == errors


def test_duplicates_and_conflicts_across_files_name_the_earlier_line(tmp_path):
    (tmp_path / "a.tsv").write_text("# first\nexample.org/*\tmath\talice\n*.example.edu/x/*\texclude\talice\n")
    (tmp_path / "b.tsv").write_text("www.EXAMPLE.org/*\texclude\tbob\n*.Example.edu/x/*\texclude\tbob\n"
                                    "example.edu/x/*\texclude\tbob\n")
    patterns, errors = load_patterns(tmp_path)
    assert [(e.file, e.line) for e in errors] == [("b.tsv", 1), ("b.tsv", 2)]
    assert "conflicts with a.tsv:2" in errors[0].reason
    assert errors[1].reason == "duplicate of a.tsv:3"
    # example.edu/x/* (exact host) is not the same pattern as *.example.edu/x/*
    assert [p.source for p in patterns] == ["pattern:a.tsv:2", "pattern:a.tsv:3", "pattern:b.tsv:3"]


def test_missing_path_is_one_error_at_line_zero(tmp_path):
    missing = tmp_path / "nope"
    assert load_patterns(missing) == ([], [LintError(str(missing), 0, "no such file or folder")])
    assert str(LintError("x.tsv", 0, "no such file or folder")) == "x.tsv:0: no such file or folder"


def test_good_files_load(tmp_path):
    (tmp_path / "b.tsv").write_bytes(
        "\ufeff# notes by bob\r\n\r\nproofwiki.org/*\tmath\tbob\r\n"
        "proofwiki.org/wiki/User:*\texclude\tbob\tuser pages\twith a tab\r\n".encode())
    (tmp_path / "a.tsv").write_text("  *.example.edu/~*/notes/*  \tmath\t alice \n"
                                    "bücher.de/mathe/*\tmath\talice\n")
    (tmp_path / "ignored.tsv.sample").write_text("not a pattern\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.tsv").write_text("not a pattern\n")
    patterns, errors = load_patterns(tmp_path)
    assert errors == []
    assert patterns == [
        Pattern("a.tsv", 1, "*.example.edu/~*/notes/*", "math", "alice", ""),
        Pattern("a.tsv", 2, "bücher.de/mathe/*", "math", "alice", ""),
        Pattern("b.tsv", 3, "proofwiki.org/*", "math", "bob", ""),
        Pattern("b.tsv", 4, "proofwiki.org/wiki/User:*", "exclude", "bob", "user pages\twith a tab"),
    ]
    assert patterns[2].source == "pattern:b.tsv:3"
    # a single file: names are relative to its folder
    single, errors = load_patterns(tmp_path / "b.tsv")
    assert errors == [] and [p.source for p in single] == ["pattern:b.tsv:3", "pattern:b.tsv:4"]


def test_shipped_example_and_folder_are_clean():
    sample = DEFAULT_PATTERNS_DIR / "example.tsv.sample"
    patterns, errors = load_patterns(sample)
    assert errors == [] and len(patterns) >= 5
    assert lint_paths(DEFAULT_PATTERNS_DIR) == []  # the sample itself is never loaded from the folder
    assert all(p.file != "example.tsv.sample" for p in load_patterns(DEFAULT_PATTERNS_DIR)[0])


def test_readme_explains_every_queue_column():
    text = (ROOT / "annotation" / "README.md").read_text()
    for column in QUEUE_COLUMNS:
        assert f"`{column}`" in text, f"annotation/README.md does not explain queue column {column}"


def _matcher(*lines: tuple[str, str], file: str = "p.tsv") -> PatternMatcher:
    return PatternMatcher([Pattern(file, i, glob, label, "t") for i, (glob, label) in enumerate(lines, 1)])


def _src(matcher: PatternMatcher, url: str) -> str | None:
    found = matcher.match(url)
    return found.source if found else None


def test_host_case_www_scheme_port_query_and_path_case():
    m = _matcher(("MathOverflow.net/questions/*", "math"), ("www.proofwiki.org/wiki/*", "math"),
                 ("example.org/view.php", "math"))
    hits = [
        "https://mathoverflow.net/questions/1/why",
        "http://MATHOVERFLOW.NET/questions/1",
        "https://www.mathoverflow.net/questions/1",
        "https://user:pw@mathoverflow.net:8443/questions/1?sort=votes#answer-3",
        "mathoverflow.net/questions/2",  # no scheme: read as http
        "https://mathoverflow.net./questions/1",  # trailing dot of a fully qualified name
        "https://proofwiki.org/wiki/Euclid",  # pattern with www. matches the bare host
        "https://www.proofwiki.org/wiki/Euclid",
        "https://example.org/view.php?id=7",  # the query is not part of the path
    ]
    for url in hits:
        assert m.match(url) is not None, url
    misses = [
        "https://mathoverflow.net/Questions/1",  # path case matters
        "https://mathoverflow.net/questions",  # no trailing slash
        "https://meta.mathoverflow.net/questions/1",  # other subdomains are other hosts
        "https://mathoverflow.net/users/1?next=/questions/1",  # a query cannot make a match
        "https://ww.mathoverflow.net/questions/1",
        "https://example.org/view.php/x",
        "http://[::1/questions/1",  # urlsplit rejects it
        "",
        "not a url",
    ]
    for url in misses:
        assert m.match(url) is None, url
    assert m.match_host_path("WWW.MathOverflow.net", "/questions/3").line == 1


def test_subdomain_wildcard_and_idn():
    m = _matcher(("*.example.edu/*", "math"), ("bücher.de/*", "math"), ("www.com/x", "math"))
    for url in ["http://example.edu/a", "http://www.example.edu/", "http://math.example.edu/a",
                "http://a.b.example.edu/x", "http://xn--bcher-kva.de/a", "http://BÜCHER.de/a",
                "http://www.com/x"]:
        assert m.match(url) is not None, url
    for url in ["http://myexample.edu/a", "http://example.edu.org/a", "http://edu/a", "http://com/x"]:
        assert m.match(url) is None, url
    assert m.match("http://example.edu").source == "pattern:p.tsv:1"  # empty path is "/"


def test_exclude_beats_any_math_pattern():
    m = PatternMatcher([
        Pattern("a.tsv", 1, "example.org/*", "math", "t"),
        Pattern("a.tsv", 2, "example.org/users/*", "exclude", "t"),
        Pattern("a.tsv", 3, "example.org/users/42/thesis.pdf", "math", "t"),  # more specific: still excluded
        Pattern("b.tsv", 1, "*.example.net/*", "exclude", "t"),  # a wildcard exclude in another file
        Pattern("b.tsv", 2, "math.example.net/*", "math", "t"),
    ])
    assert m.match("https://example.org/questions/1").source == "pattern:a.tsv:1"
    assert m.match("https://example.org/users/42/thesis.pdf") is None
    assert m.match("https://www.example.org/users/") is None
    assert m.match("https://math.example.net/proof") is None


def test_first_math_pattern_by_file_and_line_wins_whatever_the_input_order():
    patterns = [
        Pattern("b.tsv", 1, "example.org/*", "math", "t"),
        Pattern("a.tsv", 9, "example.org/q/*", "math", "t"),
        Pattern("a.tsv", 3, "*.example.org/q/[0-9]*", "math", "t"),
        Pattern("a.tsv", 5, "www.example.org/q/1", "math", "t"),
    ]
    for seed in range(5):
        shuffled = patterns[:]
        random.Random(seed).shuffle(shuffled)
        m = PatternMatcher(shuffled)
        assert m.match("http://www.example.org/q/1").source == "pattern:a.tsv:3"
        assert m.match("http://example.org/q/x").source == "pattern:a.tsv:9"
        assert m.match("http://example.org/about").source == "pattern:b.tsv:1"
        assert m.match("http://sub.example.org/q/1").source == "pattern:a.tsv:3"
        assert m.match("http://sub.example.org/about") is None


def test_path_globs_agree_with_fnmatch():
    rng = random.Random(7)
    atoms = ["a", "b", "/", "*", "?", "[ab]", "[!a]", "[a-b]", ".", "]"]
    for _ in range(3000):
        glob = "/"
        for _ in range(rng.randint(0, 6)):
            atom = rng.choice(atoms)
            if atom == "*" and glob.endswith("*"):
                continue
            glob += atom
        m = _matcher(("h.org" + glob, "math"))
        for _ in range(10):
            path = "/" + "".join(rng.choice("ab/.]") for _ in range(rng.randint(0, 8)))
            expected = fnmatch.fnmatchcase(path, glob)
            assert (m.match_host_path("h.org", path) is not None) == expected, (glob, path)


@pytest.mark.timeout(10)
def test_pathological_glob_does_not_backtrack(tmp_path):
    (tmp_path / "p.tsv").write_text("x.org/a*a*a*a*a*a*a*a*a*b\tmath\tt\nx.org/*a?a*a[ab]*a*a*a*c\tmath\tt\n")
    patterns, errors = load_patterns(tmp_path)
    assert errors == [] and len(patterns) == 2
    m = PatternMatcher(patterns)
    long = "a" * 200_000
    for _ in range(20):
        assert m.match(f"http://x.org/{long}") is None
    assert m.match(f"http://x.org/{long}b").line == 1
    assert m.match(f"http://x.org/{long}c").line == 2


def test_matcher_pickles(tmp_path):
    (tmp_path / "p.tsv").write_text("example.org/q/*\tmath\tt\nexample.org/q/ask\texclude\tt\n"
                                    "*.example.edu/[a-z]*.html\tmath\tt\n")
    patterns, _ = load_patterns(tmp_path)
    m = PatternMatcher(patterns)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.patterns == m.patterns and len(m2) == 3
    for url in ["http://example.org/q/1", "http://example.org/q/ask", "http://a.example.edu/x.html",
                "http://a.example.edu/1.html"]:
        assert m2.match(url) == m.match(url)
    assert m2.match("http://a.example.edu/x.html").source == "pattern:p.tsv:3"


def test_matcher_refuses_bad_patterns():
    with pytest.raises(ValueError, match=r"p\.tsv:1: no host"):
        _matcher(("/x/*", "math"))
    with pytest.raises(ValueError, match="unknown label"):
        _matcher(("a.org/x/*", "maybe"))


def test_cli_lint_bad_folder(tmp_path, capsys):
    _write_bad(tmp_path)
    (tmp_path / "z.tsv").write_text("mathoverflow.net/questions/*\texclude\tcarol\n")
    assert main(["annotations", "lint", str(tmp_path)]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    expected = sum(1 for *_, reason in BAD_LINES if reason) + 1
    assert len(lines) == expected
    assert lines[0] == f"{tmp_path / 'bad.tsv'}:3: unknown label 'maths' (use math or exclude)"
    assert lines[-1].startswith(f"{tmp_path / 'z.tsv'}:1: conflicts with bad.tsv:2")
    for line in lines:
        file, number, reason = line.split(":", 2)
        assert Path(file).exists() and int(number) > 0 and reason.startswith(" ")
    assert "bad line(s)" in out.err

    assert main(["annotations", "lint", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'missing'}:0: no such file or folder\n"


def test_cli_lint_good_folder_and_default_path(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "annotation" / "url_patterns"
    folder.mkdir(parents=True)
    (folder / "m.tsv").write_text("example.org/*\tmath\tt\nexample.org/users/*\texclude\tt\n")
    assert main(["annotations", "lint", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out == f"annotations OK: 2 pattern(s) (1 math, 1 exclude) in 1 file(s) under {folder}\n"
    assert main(["annotations", "lint", str(folder / "m.tsv")]) == 0
    capsys.readouterr()

    monkeypatch.chdir(tmp_path)  # no PATH: ./annotation/url_patterns
    assert main(["annotations", "lint"]) == 0
    assert "2 pattern(s)" in capsys.readouterr().out
    (folder / "m.tsv").write_text("example.org/*\tmath\n")
    assert main(["annotations", "lint"]) == 1
    assert capsys.readouterr().out == "annotation/url_patterns/m.tsv:1: missing annotator column " \
                                      "(pattern<TAB>label<TAB>annotator[<TAB>note])\n"


def test_unix_windows_and_old_mac_line_ends_read_the_same(tmp_path):
    lines = ["# header", "example.org/a/*\tmath\tt", "", "example.org/b/*\texclude\tt\tnote", "bad line"]
    loaded = []
    for name, eol in (("unix.tsv", "\n"), ("windows.tsv", "\r\n"), ("mac.tsv", "\r")):
        (tmp_path / name).write_bytes(eol.join(lines).encode() + eol.encode())
        patterns, errors = load_patterns(tmp_path / name)
        loaded.append(([(p.line, p.glob, p.label, p.note) for p in patterns], [(e.line, e.reason) for e in errors]))
    assert loaded[0] == loaded[1] == loaded[2]
    assert [line for line, *_ in loaded[0][0]] == [2, 4] and [line for line, _ in loaded[0][1]] == [5]


def test_international_hosts_are_read_as_browsers_send_them():
    m = _matcher(("straße.de/*", "math"), ("ｅｘａｍｐｌｅ.org/x/*", "math"), ("my_site.bücher.de/*", "math"))
    assert m.match("http://xn--strae-oqa.de/a").line == 1  # IDNA 2008: ß is kept, not "ss"
    assert m.match("http://strasse.de/a") is None
    assert m.match("http://example.org/x/1").line == 2  # full-width letters, as an address bar maps them
    assert m.match("http://my_site.xn--bcher-kva.de/").line == 3  # an ASCII label with '_' is kept
    for glob in ("xn--ls8h.la/*", "xn--zz.org/*", "\U0001f4a9.la/*", "ex\u200bample.org/*"):
        assert check_pattern(glob) is not None, ascii(glob)


def test_lint_of_one_file_warns_when_the_loop_would_not_read_it(tmp_path):
    (tmp_path / "UPPER.TSV").write_text("example.org/*\tmath\tt\n")
    bad, summary = lint_report(tmp_path / "UPPER.TSV")
    assert bad == []  # it was named, so it is checked: fine, but the loop skips it
    warning, ok = summary.split("\n")
    assert warning.startswith(f"{tmp_path / 'UPPER.TSV'}:0: warning: the loop would not read this file")
    assert "rename it to UPPER.tsv" in warning
    assert ok.startswith("annotations OK: 1 pattern(s)")
    assert lint_report(DEFAULT_PATTERNS_DIR / "example.tsv.sample")[1].startswith("annotations OK")
