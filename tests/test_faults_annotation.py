"""Hostile or broken annotation input: each fault is a real file (or symlink) on disk.

Line ends (lone CR), invisible and bidi characters, bogus international host names, files the
checker would skip, a symlink out of the folder, and crawled URLs with invisible characters on
their way into the review queue. The linter is run through the real `mathmine` command twice; the
rest goes through the library (the same code path: the command is a thin wrapper).
"""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from pipeline.annotation import (
    PatternMatcher,
    check_pattern,
    lint_report,
    load_patterns,
    pattern_files,
    patterns_digest,
    visible,
)
from pipeline.domains import aggregate_domains, queue_rows, queue_tsv, read_queue_tsv

ROOT = Path(__file__).resolve().parent.parent
MATHMINE = ROOT / ".venv" / "bin" / "mathmine"

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f"]
HIDDEN = ZERO_WIDTH + BIDI


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [str(MATHMINE)] if MATHMINE.exists() else [sys.executable, "-m", "jobs.cli"]
    return subprocess.run([*command, "annotations", "lint", *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=60, cwd=ROOT)


def _by_line(errors) -> dict[int, str]:
    out: dict[int, str] = {}
    for err in errors:
        assert err.line not in out, f"two errors for line {err.line}: {out[err.line]} / {err.reason}"
        out[err.line] = err.reason
    return out


# --- line ends -------------------------------------------------------------------------------------


def test_cr_only_file_gives_one_pattern_per_line(tmp_path):
    (tmp_path / "mac.tsv").write_bytes(b"# old Mac file\ra.org/x/*\tmath\tbob\rb.org/y/*\tmath\tbob\r")
    patterns, errors = load_patterns(tmp_path)
    assert errors == []
    assert [(p.line, p.glob, p.annotator) for p in patterns] == [(2, "a.org/x/*", "bob"),
                                                                (3, "b.org/y/*", "bob")]


def test_mixed_line_ends_count_lines_like_an_editor(tmp_path):
    # \r\n is one line end, a lone \r and a lone \n are one each: line 5 is the bad one.
    data = b"a.org/1/*\tmath\tt\r\nb.org/2/*\tmath\tt\rc.org/3/*\tmath\tt\n\r\nd.org/4/*\tmaths\tt\r"
    (tmp_path / "mixed.tsv").write_bytes(data)
    patterns, errors = load_patterns(tmp_path / "mixed.tsv")
    assert [p.line for p in patterns] == [1, 2, 3]
    assert [(e.line, e.reason) for e in errors] == [(5, "unknown label 'maths' (use math or exclude)")]
    assert len(data.decode().splitlines()) == 5  # the same count as Python's own line splitting


def test_bad_utf8_after_cr_lines_names_the_right_line_and_byte(tmp_path):
    data = b"a.org/1/*\tmath\tt\rb.org/caf\xe9/*\tmath\tt\r"
    (tmp_path / "enc.tsv").write_bytes(data)
    _, errors = load_patterns(tmp_path)
    assert [e.line for e in errors] == [2]
    offset = data.index(b"\xe9")
    assert f"byte offset {offset} of the file" in errors[0].reason


# --- invisible and bidi characters -----------------------------------------------------------------


def test_invisible_and_bidi_characters_are_refused_in_every_column(tmp_path):
    lines: list[str] = []
    expected: dict[int, tuple[str, str]] = {}  # line -> (code point, where)
    for ch in HIDDEN:
        code = f"U+{ord(ch):04X}"
        for where, text in [("pattern", f"example.org/a{ch}b/*\tmath\tt"),
                            ("pattern", f"exa{ch}mple.org/{len(lines)}/*\tmath\tt"),
                            ("annotator", f"example.org/c{len(lines)}/*\tmath\tbo{ch}b"),
                            ("note", f"example.org/n{len(lines)}/*\tmath\tt\tsee {ch}here")]:
            lines.append(text)
            expected[len(lines)] = (code, where)
    (tmp_path / "hidden.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    patterns, errors = load_patterns(tmp_path)
    assert patterns == []
    by_line = _by_line(errors)
    assert set(by_line) == set(expected)
    for number, (code, where) in expected.items():
        reason = by_line[number]
        assert code in reason and where in reason, (number, reason)
        assert visible(reason) == reason, f"line {number}: the reason itself holds a hidden character"


def test_a_pattern_hidden_behind_a_line_separator_is_not_swallowed(tmp_path):
    # Editors show U+2028 / NEL as a line break: the second "line" must not silently vanish
    # into a comment or the annotator column.
    (tmp_path / "sep.tsv").write_text("# comment\u2028b.org/y/*\tmath\tbob\n"
                                      "a.org/x/*\tmath\tbob\x85c.org/z/*\tmath\tbob\n", encoding="utf-8")
    patterns, errors = load_patterns(tmp_path)
    assert patterns == []
    by_line = _by_line(errors)
    assert "U+2028" in by_line[1] and "comment" in by_line[1]
    assert "U+0085" in by_line[2] and "annotator" in by_line[2]


def test_check_pattern_refuses_hidden_characters_too():
    for ch in HIDDEN:
        for glob in (f"example.org/a{ch}b", f"ex{ch}ample.org/*"):
            reason = check_pattern(glob)
            assert reason is not None and f"U+{ord(ch):04X}" in reason, (ascii(glob), reason)


# --- host names ------------------------------------------------------------------------------------

BAD_HOSTS = [
    ("\U0001f600.example.org/*", "U+1F600"),   # an emoji label
    ("xn--ls8h.la/*", "xn--ls8h"),             # punycode of an emoji (U+1F4A9)
    ("xn--zz.org/*", "xn--zz"),                # does not decode
    ("xn--.org/*", "xn--"),                    # empty punycode
    ("xn--a.org/*", "xn--a"),                  # decodes to a control character
    ("xn--example-.org/*", "xn--example-"),    # decodes to plain 'example': not how it is written
    ("www.xn--99999999.org/*", "xn--99999999"),
]
GOOD_HOSTS = [
    ("bücher.de/a/*", "http://xn--bcher-kva.de/a/1"),
    ("xn--bcher-kva.de/b/*", "http://bücher.de/b/1"),
    ("XN--BCHER-KVA.de/c/*", "http://xn--bcher-kva.de/c/1"),
    ("пример.рф/*", "http://xn--e1afmkfd.xn--p1ai/x"),
    ("xn--fsqu00a.xn--fiqs8s/*", "http://例子.中国/x"),
    ("ΑΒΓ.gr/*", "http://xn--mxacd.gr/x"),
    ("*.مثال.example/*", "http://www.xn--mgbh0fb.example/x"),
]


def test_emoji_hosts_and_bogus_punycode_are_refused_valid_idns_kept(tmp_path):
    lines = [f"{glob}\tmath\tt" for glob, _ in BAD_HOSTS] + [f"{glob}\tmath\tt" for glob, _ in GOOD_HOSTS]
    (tmp_path / "idn.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    patterns, errors = load_patterns(tmp_path)
    by_line = _by_line(errors)
    assert set(by_line) == set(range(1, len(BAD_HOSTS) + 1))
    for number, (_, needle) in enumerate(BAD_HOSTS, start=1):
        assert needle in by_line[number] and "host" in by_line[number], by_line[number]
        assert visible(by_line[number]) == by_line[number]
    assert [p.glob for p in patterns] == [glob for glob, _ in GOOD_HOSTS]
    matcher = PatternMatcher(patterns)
    for glob, url in GOOD_HOSTS:
        found = matcher.match(url)
        assert found is not None and found.glob == glob, (glob, url)


# --- which files are read --------------------------------------------------------------------------


def test_wrong_case_extension_is_an_error_other_files_a_warning(tmp_path):
    (tmp_path / "good.tsv").write_text("example.org/*\tmath\tt\n")
    (tmp_path / "UPPER.TSV").write_text("example.net/*\tmath\tt\n")
    (tmp_path / "notes.txt").write_text("not patterns\n")
    (tmp_path / "example.tsv.sample").write_text("a sample: never read, never mentioned\n")
    (tmp_path / ".hidden.tsv").write_text("editor files are ignored\n")
    patterns, errors = load_patterns(tmp_path)
    assert [p.glob for p in patterns] == ["example.org/*"]
    assert [(e.file, e.line) for e in errors] == [("UPPER.TSV", 0)]
    assert "'.tsv'" in errors[0].reason and "not read" in errors[0].reason
    assert [p.name for p in pattern_files(tmp_path)] == ["good.tsv"]
    bad, summary = lint_report(tmp_path)
    assert bad[0] == f"{tmp_path / 'UPPER.TSV'}:0: {errors[0].reason}"
    assert any(line.startswith(f"{tmp_path / 'notes.txt'}:0: warning:") for line in bad)
    assert not any("sample" in line or "hidden" in line for line in bad)

    (tmp_path / "UPPER.TSV").unlink()
    bad, summary = lint_report(tmp_path)
    assert bad == []
    *warnings, last = summary.split("\n")
    assert last.startswith("annotations OK: 1 pattern(s)")
    assert warnings == [f"{tmp_path / 'notes.txt'}:0: warning: not read: only files whose name ends "
                        "in '.tsv' are pattern files"]


def test_symlink_out_of_the_folder_is_refused_not_read(tmp_path):
    secret = tmp_path / "elsewhere" / "secret.tsv"
    secret.parent.mkdir()
    secret.write_text("leaked.example.org/*\tmath\tmallory\n")
    folder = tmp_path / "url_patterns"
    folder.mkdir()
    (folder / "mine.tsv").write_text("example.org/*\tmath\tt\n")
    (folder / "evil.tsv").symlink_to(secret)
    (folder / "twice.tsv").symlink_to("mine.tsv")  # inside the folder: refused as well
    patterns, errors = load_patterns(folder)
    assert [p.glob for p in patterns] == ["example.org/*"]
    assert [(e.file, e.line) for e in errors] == [("evil.tsv", 0), ("twice.tsv", 0)]
    assert "symbolic link" in errors[0].reason and "outside" in errors[0].reason
    assert "symbolic link" in errors[1].reason
    assert [p.name for p in pattern_files(folder)] == ["mine.tsv"]
    before = patterns_digest(folder)
    secret.write_text("changed.example.org/*\tmath\tmallory\n")
    assert patterns_digest(folder) == before  # the target is never read, not even for the digest


# --- the real command ------------------------------------------------------------------------------


def test_cli_reports_every_fault_as_file_line_reason(tmp_path):
    outside = tmp_path / "outside.tsv"
    outside.write_text("leaked.example.org/*\tmath\tmallory\n")
    folder = tmp_path / "url_patterns"
    folder.mkdir()
    (folder / "mac.tsv").write_bytes(b"a.org/x/*\tmath\tbob\rb.org/y/*\tmath\tbob\rc.org/*\tMath\tbob\r")
    (folder / "bidi.tsv").write_text("example.org/abc\u202e/*\tmath\tt\n\U0001f600.example.org/*\tmath\tt\n",
                                     encoding="utf-8")
    (folder / "UPPER.TSV").write_text("example.net/*\tmath\tt\n")
    (folder / "link.tsv").symlink_to(outside)
    result = _cli(str(folder))
    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for prefix, needle in [(f"{folder / 'mac.tsv'}:3: ", "unknown label 'Math'"),
                           (f"{folder / 'bidi.tsv'}:1: ", "U+202E"),
                           (f"{folder / 'bidi.tsv'}:2: ", "U+1F600"),
                           (f"{folder / 'UPPER.TSV'}:0: ", "'.tsv'"),
                           (f"{folder / 'link.tsv'}:0: ", "symbolic link")]:
        assert any(line.startswith(prefix) and needle in line for line in lines), (prefix, lines)
    assert len(lines) == 5
    assert all(visible(line) == line for line in lines)  # no raw U+202E reaches the terminal
    assert "leaked" not in result.stdout + result.stderr


def test_cli_passes_with_a_warning_for_a_stray_file(tmp_path):
    (tmp_path / "mine.tsv").write_bytes(b"a.org/x/*\tmath\tbob\rb.org/y/*\tmath\tbob\r")
    (tmp_path / "README.md").write_text("notes\n")
    result = _cli(str(tmp_path))
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'README.md'}:0: warning: not read: only files whose name ends in '.tsv' are pattern files",
        f"annotations OK: 2 pattern(s) (2 math, 0 exclude) in 1 file(s) under {tmp_path}",
    ]


# --- the review queue ------------------------------------------------------------------------------


def test_queue_shows_invisible_characters_of_crawled_urls(tmp_path):
    # Every hidden character in a page name of one section (its examples), and in three folder
    # names (the prefix column); U+E0041 is a tag character, outside the BMP.
    hostile = [f"/sec/p{ch}q{i}.html" for i, ch in enumerate(HIDDEN)]
    hostile += ["/r\u202el/1.html", "/x\u2028y/1.html", "/tag\U000e0041/1"]
    rows = [("evil.example", "evil.example", f"https://evil.example{path}", path, 0.9 - i / 100, True, False)
            for i, path in enumerate(hostile)]
    out = queue_rows(aggregate_domains(rows, min_pages=1, examples=len(HIDDEN)))
    assert {row["prefix"] for row in out} == {"/sec", "/r\u202el", "/x\u2028y", "/tag\U000e0041"}
    text = queue_tsv(out)
    for ch in [*HIDDEN, "\u2028", "\U000e0041"]:
        assert ch not in text, f"raw U+{ord(ch):04X} in queue.tsv"
        assert visible(ch) in text, f"U+{ord(ch):04X} not shown in queue.tsv"
    assert "evil.example/r\\u202el/1.html" in text and "\t/r\\u202el\t" in text
    assert "\\U000e0041" in text
    (tmp_path / "queue.tsv").write_text(text, encoding="utf-8")
    back = read_queue_tsv(tmp_path / "queue.tsv")
    assert back == [{k: str(v) for k, v in r.items()} for r in out]  # a program still reads the raw text
    for row in back:  # every suggestion still passes lint (hidden characters become '?')
        assert row["suggested_pattern"] and check_pattern(row["suggested_pattern"]) is None


@pytest.mark.parametrize("ch", [*HIDDEN, "\x00", "\x7f", "\x85", "\u00a0", "\u2028", "\u2029", "\u00ad",
                                "\ufe0f", "\U000e0041", "\ud800"])
def test_visible_escapes_every_hidden_character(ch):
    shown = visible(f"a{ch}b")
    assert ch not in shown and shown.startswith("a\\") and shown.endswith("b")
    assert all(unicodedata.category(c)[0] in "LNP" or c in "\\+" for c in shown), ascii(shown)


def test_visible_leaves_ordinary_text_alone():
    for text in ("example.org/a b", "bücher.de/Gödel", "例子.中国", "∑ x²", "a\\b", "😀"):
        assert visible(text) == text
    assert visible("a\tb\nc\rd") == "a\\tb\\nc\\rd"
