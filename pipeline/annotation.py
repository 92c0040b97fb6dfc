"""Annotators' URL-pattern files (`annotation/url_patterns/*.tsv`): parse, lint, match.

A line is `pattern<TAB>label<TAB>annotator[<TAB>note]`; `annotation/README.md` is the user's guide.
The syntax, briefly:

- pattern = `HOST/PATH-GLOB`. No scheme (a pattern matches http and https alike), no port, no query:
  a URL's query string and fragment are ignored, only its host and path are matched.
- HOST is a domain name, case-insensitive, or `*.domain` (the domain itself and every subdomain at
  any depth). A leading `www.` is ignored on both sides: `example.org` and `www.example.org` are
  the same host. No other wildcard is allowed in a host.
- PATH-GLOB starts with `/` and is matched case-sensitively against the whole path: `*` is any run
  of characters (across `/` too), `?` exactly one character, `[abc]` / `[a-z]` / `[!abc]` one
  character of (not of) a set. `**` is rejected (`*` already crosses `/`).
- label is exactly `math` or `exclude`. A URL is selected when some math pattern matches and no
  exclude pattern does; an exclude match always wins, however specific the math pattern.
- blank lines and lines starting with `#` are ignored. A line ends at CR LF, LF or a lone CR
  (Windows, Unix and old Mac files alike), the same for reading and for linting.
- no character a reader cannot see may appear anywhere in a line (the TABs aside): control
  characters, zero-width and other format characters, bidi controls, line separators, spaces
  other than U+0020 (`invisible`). A reviewer reads these files in a diff; such a character makes
  the line mean something else than it shows (IDNA silently drops a zero-width space from a host,
  in a path it makes a pattern that matches nothing, U+2028 looks like a line break but is not
  one). `visible()` is the one rule that shows them as escapes, for lint messages and the queue.
- an international host name is checked and encoded by IDNA 2008 / UTS 46 (non-transitional, as
  browsers do): an emoji label, or an `xn--` label that does not decode or is not how its decoded
  form is written, is refused.
- in a folder, only regular files named `*.tsv` are read. A name ending in `.TSV` (another case)
  and a symbolic link are errors (the annotator meant a pattern file; a link may point outside the
  folder and is never read through); any other entry but hidden ones and `*.sample` is a warning.

Matching is linear-time: a glob becomes a string comparison (`/a/b`), a prefix test (`/a/*`) or
an anchored regex in which every `*` but the last is an atomic lazy group `(?>.*?SEGMENT)`, so a
pattern like `a*a*a*a*b` never backtracks exponentially. A `PatternMatcher` indexes patterns by
host, so a URL is tried only against the patterns for its own host and its parent domains; it
pickles as its list of patterns and recompiles on arrival (Spark tasks).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

LABELS = ("math", "exclude")
COLUMNS = "pattern<TAB>label<TAB>annotator[<TAB>note]"
DEFAULT_PATTERNS_DIR = Path(__file__).resolve().parent.parent / "annotation" / "url_patterns"


@dataclass(frozen=True)
class Pattern:
    file: str  # relative to the folder given to load_patterns
    line: int  # 1-based
    glob: str  # as written (stripped of surrounding spaces)
    label: str  # "math" | "exclude"
    annotator: str
    note: str = ""

    @property
    def source(self) -> str:
        """The `source` value of seed rows this pattern added (DESIGN.md section 4)."""
        return f"pattern:{self.file}:{self.line}"


class LintError(NamedTuple):
    file: str
    line: int  # 0: the file or folder as a whole
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


# --------------------------------------------------------------------------- characters a reader cannot see

# Bidi embeddings, overrides, isolates and marks: they reorder how the text around them is shown.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that editors show as a line break although the parser (like git and most tools) does
# not end a line there.
_LINE_BREAKS = frozenset("\x0b\x0c\x85\u2028\u2029")
# Default-ignorable characters outside the C* categories: fillers and variation selectors, drawn
# as nothing at all.
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
                        "\U000e0100-\U000e01ef]")
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def invisible(ch: str) -> bool:
    """Whether a character does not show as itself: a control or format character (zero-width
    spaces and joiners, bidi controls, the BOM, tags), a surrogate, a line or paragraph separator,
    a space other than U+0020, or another default-ignorable character."""
    category = unicodedata.category(ch)
    return (category in _HIDDEN_CATEGORIES or (category == "Zs" and ch != " ")
            or _IGNORABLE.match(ch) is not None)


def _escape(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` as a person may safely read it: every `invisible` character written as an escape,
    `\\t` `\\n` `\\r`, `\\xHH`, `\\uHHHH` or `\\UHHHHHHHH` (U+202E shows as `\\u202e`); all else as is.

    The one rule for crawled or annotator text shown to people: lint messages and the review
    queue (`pipeline.domains.escape_field`, which doubles backslashes first so it can be read
    back). The result has no line break and nothing that reorders or hides text.
    """
    # Fast path: isprintable() is False for every C*, Zl, Zp and non-space Zs character.
    if text.isprintable() and _IGNORABLE.search(text) is None:
        return text
    return "".join(_escape(ch) if invisible(ch) else ch for ch in text)


def _describe(ch: str) -> str:
    """`bidi control U+202E (RIGHT-TO-LEFT OVERRIDE)`: what an invisible character is, for a reason."""
    code = ord(ch)
    name = unicodedata.name(ch, "")
    if ch in _BIDI:
        kind = "bidi control"
    elif ch in _LINE_BREAKS:
        kind = "line break"
    elif unicodedata.category(ch) == "Cc":
        return f"control character U+{code:04X}"  # the names of C0/C1 controls are empty
    elif unicodedata.category(ch) == "Zs":
        kind = "unusual space"
    else:
        kind = "invisible character"
    return f"{kind} U+{code:04X}" + (f" ({name})" if name else "")


def _why_hidden(ch: str) -> str:
    if ch in _BIDI:
        return "it changes the order in which the text around it is displayed; delete it"
    if ch in _LINE_BREAKS:
        return "editors may show a line break there, but it is not one; end the line with Enter"
    return "the line is not what it looks like; delete it"


# --------------------------------------------------------------------------- parsing a glob

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_CHARS = re.compile(r"[a-z0-9._-]+")
_EXACT, _PREFIX, _REGEX = 0, 1, 2


@lru_cache(maxsize=1)
def _tld_extractor() -> Any:
    import tldextract

    # The snapshot bundled with the package (never a network fetch), private suffixes included.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def strip_www(host: str) -> str:
    """`www.example.org` -> `example.org` (not `www.com` -> `com`)."""
    if host.startswith("www.") and "." in host[4:]:
        return host[4:]
    return host


_strip_www = strip_www  # the former private name, used below


def _punycode_text(label: str) -> str | None:
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return None


def _ascii_host(name: str) -> str:
    """A lower-case host name in the ASCII form URLs carry (`bücher.de` -> `xn--bcher-kva.de`);
    ValueError with the reason when a label is not a valid international name.

    IDNA 2008 with UTS 46 mapping, non-transitional (what browsers send: `straße.de` is
    `xn--strae-oqa.de`, not `strasse.de`). Plain ASCII labels are kept as they are (crawled hosts
    have `_` and other names IDNA would refuse); an `xn--` label must decode, be valid IDNA, and be
    exactly how its decoded text is written, so two spellings can never name one host.
    """
    if name.isascii() and "xn--" not in name:
        return name
    import idna  # a dependency of tldextract; imported here as most hosts are plain ASCII

    if not name.isascii():
        try:  # case folding, full-width letters and dots, as a browser's address bar does it
            name = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid international domain name ({visible(str(exc))})") from None
    labels = []
    for label in name.split("."):
        if label.isascii() and not label.startswith("xn--"):
            labels.append(label)
            continue
        try:
            if label.startswith("xn--"):
                text = idna.ulabel(label)
                written = idna.alabel(text).decode("ascii")
                if written != label:
                    raise ValueError(f"'{label}' is not valid punycode: it decodes to '{visible(text)}', "
                                     f"which is written '{written}'")
            else:
                written = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            if label.startswith("xn--"):
                text = _punycode_text(label)
                decoded = f" (it decodes to '{visible(text)}')" if text else ""
                raise ValueError(f"'{label}' is not valid punycode{decoded}: {visible(str(exc))}") from None
            raise ValueError(f"label '{visible(label)}' is not a valid international domain name: "
                             f"{visible(str(exc))} (emoji and symbols cannot be part of a host name)"
                             ) from None
        labels.append(written)
    return ".".join(labels)


def _idna(host: str) -> str | None:
    """The ASCII form of a lower-case host, or None when it is not a valid name."""
    try:
        return _ascii_host(host)
    except ValueError:
        return None


class _Glob(NamedTuple):
    wildcard: bool  # host written as *.base
    host: str  # normalized: lower case, punycode, www. stripped unless wildcard
    path: str  # as written
    kind: int  # _EXACT | _PREFIX | _REGEX
    arg: Any  # the literal path, the literal prefix, or a compiled regex

    @property
    def key(self) -> tuple[bool, str, str]:
        return self.wildcard, self.host, self.path


def _parse_host(host: str) -> tuple[bool, str] | str:
    """(wildcard, normalized host) or an error reason."""
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if any(c in name for c in "*?["):
        return f"host '{host}': a host wildcard is only allowed as a leading '*.' (e.g. *.example.org)"
    if "@" in name:
        return f"host '{host}': drop the user name before '@'"
    if ":" in name:
        port = name[name.index(":"):]
        return f"host '{host}': drop the port '{port}' (ports are ignored)"
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    try:
        name = _ascii_host(name)
    except ValueError as exc:
        return f"host '{visible(host)}': {exc}"
    if not name:
        return "no host: a pattern starts with a host name, e.g. example.org/*"
    bad = _HOST_CHARS.sub("", name)
    if bad:
        return f"host '{host}' has a character a host name cannot have: {bad[0]!r}"
    if name.startswith((".", "-")) or ".." in name:
        return f"host '{host}' is not a valid domain name"
    if "." not in name:
        return f"host '{host}' is not a domain name (no dot); a pattern starts with a host like example.org"
    if wildcard:
        parts = _tld_extractor()(name)
        if not parts.domain and parts.suffix:
            return (f"'*.{name}' would match every site under the public suffix '{name}'; "
                    f"name one site (e.g. *.example.{name})")
        return True, name
    return False, _strip_www(name)


def _parse_path(path: str, offset: int = 0) -> tuple[int, Any] | str:
    """(kind, arg) for a path glob (starting at character `offset` of its pattern), or an error reason."""
    if "**" in path:
        return "'**' is not needed: '*' already matches across '/' (write a single '*')"
    qmark = path.find("?")
    if qmark >= 0 and "=" in path[qmark:]:
        return (f"'{path[qmark:]}' looks like a query string: query strings are ignored, a pattern "
                "matches host and path only (end the path with * instead)")
    segments: list[list[str]] = [[]]  # regex atoms between stars
    literal = True  # no ? and no [..] so far
    i = 0
    while i < len(path):
        c = path[i]
        if c == "*":
            segments.append([])
        elif c == "?":
            segments[-1].append(".")
            literal = False
        elif c == "[":
            j = i + 1
            negate = j < len(path) and path[j] in "!^"
            if negate:
                j += 1
            start = j
            if j < len(path) and path[j] == "]":  # a ']' first in the set is a literal ']'
                j += 1
            while j < len(path) and path[j] != "]":
                j += 1
            if j >= len(path):
                return f"unclosed '[' at character {offset + i + 1}; write [[] to match a literal '['"
            body = path[start:j]
            for k in range(1, len(body) - 1):
                if body[k] == "-" and body[k - 1] > body[k + 1]:
                    return f"empty range '{body[k - 1]}-{body[k + 1]}' in '[{path[i + 1:j]}]'"
            atoms = "".join("-" if ch == "-" and 0 < k < len(body) - 1 else re.escape(ch)
                            for k, ch in enumerate(body))
            segments[-1].append(f"[{'^' if negate else ''}{atoms}]")
            literal = False
            i = j
        else:
            segments[-1].append(re.escape(c))
        i += 1
    if literal and len(segments) == 1:
        return _EXACT, path
    if literal and len(segments) == 2 and not segments[1]:
        return _PREFIX, path[:-1]
    parts = ["".join(s) for s in segments]
    if len(parts) == 1:
        regex = parts[0]
    else:  # leftmost-first for each middle segment is exact: every segment has a fixed length
        regex = parts[0] + "".join(f"(?>.*?{seg})" for seg in parts[1:-1] if seg) + ".*" + parts[-1]
    return _REGEX, re.compile(regex, re.DOTALL)


def _parse_glob(glob: str) -> _Glob | str:
    """The compiled form of a pattern, or the reason it is bad (one line, for annotators)."""
    if not glob:
        return "empty pattern"
    scheme = _SCHEME.match(glob)
    if scheme:
        rest = glob[scheme.end():]
        return (f"drop the scheme '{scheme.group(0)}': a pattern starts with the host ({visible(rest)}) and "
                "matches http and https alike")
    for i, c in enumerate(glob):
        if c == " " or (c.isspace() and c not in _LINE_BREAKS):
            return f"whitespace inside the pattern (character {i + 1}); columns are separated by tabs"
        if invisible(c):
            return f"{_describe(c)} inside the pattern (character {i + 1}): {_why_hidden(c)}"
    if "#" in glob:
        return ("'#' in a pattern: URL fragments are never matched, and a comment must start its own "
                "line (or go in the note column)")
    if glob.startswith("/"):
        return f"no host: a pattern starts with a host name, e.g. example.org{glob}"
    slash = glob.find("/")
    if slash < 0:
        host = _parse_host(glob)
        if isinstance(host, str):
            return host
        return f"no path after the host: write {glob}/* for the whole site or {glob}/ for its home page"
    host = _parse_host(glob[:slash])
    if isinstance(host, str):
        return host
    path = _parse_path(glob[slash:], slash)
    if isinstance(path, str):
        return path
    return _Glob(host[0], host[1], glob[slash:], path[0], path[1])


def check_pattern(glob: str) -> str | None:
    """The reason a pattern (first column) is bad, or None when it is fine."""
    parsed = _parse_glob(glob)
    return parsed if isinstance(parsed, str) else None


# --------------------------------------------------------------------------- files


_COLUMN_NAMES = ("pattern", "label", "annotator", "note")
_EOL = re.compile(rb"\r\n|\r|\n")


def _lines(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(1-based number, byte offset, bytes) of each line: a line ends at CR LF, LF or a lone CR,
    as editors count them (an old Mac file is not one long line). The split is safe on
    undecoded bytes: no UTF-8 sequence holds 0x0A or 0x0D."""
    start = number = 0
    for number, end in enumerate(_EOL.finditer(data), start=1):
        yield number, start, data[start:end.start()]
        start = end.end()
    yield number + 1, start, data[start:]  # after the last line end: empty, or a last unended line


def _hidden_reason(text: str) -> str | None:
    """The reason a line holds a character a reader cannot see (TABs aside), or None. Checked on
    the whole raw line, comments included, before any column is stripped: a comment with U+2028
    would otherwise hide the pattern after it, and strip() would drop some of them silently."""
    for i, ch in enumerate(text):
        if ch != "\t" and invisible(ch):
            if text.lstrip().startswith("#"):
                where = "a comment"
            else:  # the note is the 4th column and everything after it
                column = _COLUMN_NAMES[min(text.count("\t", 0, i), 3)]
                where = f"the {column} column"
            return f"{_describe(ch)} in {where} (character {i + 1} of the line): {_why_hidden(ch)}"
    return None


def _parse_line(text: str) -> tuple[tuple[str, str, str, str], _Glob] | str | None:
    """((pattern, label, annotator, note), compiled pattern) of a line, None for a blank line or a
    comment, or an error reason."""
    if not text.strip():
        return None
    hidden = _hidden_reason(text)
    if hidden:
        return hidden
    if text.lstrip().startswith("#"):
        return None
    cols = [c.strip() for c in text.split("\t", 3)]
    if len(cols) == 1:
        if len(text.strip().split()) > 1:
            return f"columns must be separated by tabs, not spaces ({COLUMNS})"
        return f"missing label and annotator columns ({COLUMNS})"
    if len(cols) == 2:
        if len(cols[1].split()) > 1:
            return f"missing annotator column: separate the label and the annotator with a tab ({COLUMNS})"
        return f"missing annotator column ({COLUMNS})"
    glob, label, annotator = cols[:3]
    note = cols[3] if len(cols) == 4 else ""
    parsed = _parse_glob(glob)
    if isinstance(parsed, str):
        return parsed
    if not label:
        return "empty label column (use math or exclude)"
    if label not in LABELS:
        return f"unknown label '{label}' (use math or exclude)"
    if not annotator:
        return "empty annotator column (write who annotated the line)"
    return (glob, label, annotator, note), parsed


def _os_reason(exc: OSError) -> str:
    return visible(exc.strerror or str(exc))


def _read_bytes(path: Path, in_folder: bool) -> bytes:
    """The file's bytes. A file listed from a folder was checked to be a regular file, not a link;
    O_NOFOLLOW and the fstat keep it so if it is swapped in between (O_NONBLOCK: a FIFO put there
    must not hang the checker). A file named on the command line is read as given."""
    if not in_folder:
        return path.read_bytes()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        return fh.read()


def _read_file(path: Path, name: str, patterns: list[Pattern], errors: list[LintError],
               seen: dict[tuple[bool, str, str], Pattern], in_folder: bool = False) -> None:
    try:
        data = _read_bytes(path, in_folder)
    except OSError as exc:
        errors.append(LintError(name, 0, f"cannot read the file ({_os_reason(exc)})"))
        return
    for number, line_offset, raw in _lines(data):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(LintError(name, number, (
                f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {line_offset + exc.start} "
                "of the file; save the file as UTF-8")))
            continue
        if number == 1 and text.startswith("\ufeff"):  # a byte-order mark some editors write
            text = text[1:]
        parsed = _parse_line(text)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            errors.append(LintError(name, number, parsed))
            continue
        columns, compiled = parsed
        pattern = Pattern(name, number, *columns)
        earlier = seen.get(compiled.key)
        if earlier is not None:
            where = f"{earlier.file}:{earlier.line}"
            if earlier.label == pattern.label:
                errors.append(LintError(name, number, f"duplicate of {where}"))
            else:
                errors.append(LintError(name, number, (
                    f"conflicts with {where}, which labels the same pattern '{earlier.label}' "
                    f"({earlier.glob}); keep one of the two lines")))
            continue
        seen[compiled.key] = pattern
        patterns.append(pattern)


def load_patterns(path: str | Path) -> tuple[list[Pattern], list[LintError]]:
    """Read a pattern file, or every `*.tsv` file directly in a folder (sorted by name).

    Never raises on bad content: every bad line is one LintError and is left out of the patterns.
    File names in both are relative to `path` (a file's own name when `path` is a file); a missing
    `path` is one error at line 0.
    """
    root = Path(path)
    patterns: list[Pattern] = []
    errors: list[LintError] = []
    seen: dict[tuple[bool, str, str], Pattern] = {}
    if root.is_dir():
        files, refused, _ = _folder_entries(root)
        errors += refused
        for file in files:
            _read_file(file, file.name, patterns, errors, seen, in_folder=True)
    elif root.exists():
        _read_file(root, root.name, patterns, errors, seen)
    else:
        errors.append(LintError(str(path), 0, "no such file or folder"))
    return patterns, errors


def lint_paths(path: str | Path) -> list[LintError]:
    """Every bad line under `path` (see load_patterns); empty when all is well."""
    return load_patterns(path)[1]


def _symlink_reason(root: Path, entry: Path) -> str:
    try:
        target = os.readlink(entry)
    except OSError:
        target = "?"
    try:
        inside = (root / target).resolve().parent == root.resolve()
        where = " (in this folder)" if inside else " (outside this folder)"
    except (OSError, RuntimeError):  # a link loop
        where = ""
    return (f"symbolic link to {visible(target)}{where}: refused, not read; a pattern file must "
            "be a real file in the folder (copy it here instead of linking)")


def _misnamed(name: str) -> str | None:
    """Why a name that ends in `.tsv` in another case (`UPPER.TSV`, `x.Tsv`, `x.tsv `) is not
    read, or None."""
    if name.endswith(".tsv") or not name.strip().lower().endswith(".tsv"):
        return None
    fixed = name.strip()[:-4] + ".tsv"
    return f"a pattern file's name must end in '.tsv', in lower case; rename it to {visible(fixed)}"


_NOT_TSV = "only files whose name ends in '.tsv' are pattern files"


def _folder_entries(root: Path) -> tuple[list[Path], list[LintError], list[LintError]]:
    """(files to read, errors, warnings) for the entries of a pattern folder, sorted by name.

    Read: regular files whose name ends in `.tsv`. Silently skipped: hidden entries (editor and
    OS files such as `.#x.tsv` lock links or `.DS_Store`) and `*.sample` (documented examples).
    Errors (the annotator meant a pattern file, and it would not count): a `.tsv` name in another
    case (`UPPER.TSV`), a symbolic link (never followed: it may lead out of the folder), a `*.tsv`
    that is not a regular file. Warnings: every other entry (`notes.txt`, `x.tsv~`, a subfolder),
    so a file that is not read is never a silent surprise, yet a stray file does not stop the loop.
    """
    files: list[Path] = []
    errors: list[LintError] = []
    warnings: list[LintError] = []
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        return [], [LintError(str(root), 0, f"cannot list the folder ({_os_reason(exc)})")], []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name.endswith(".sample"):
            continue
        if name.endswith(".tsv"):
            try:
                mode = entry.lstat().st_mode
            except OSError as exc:
                errors.append(LintError(name, 0, f"cannot read the file ({_os_reason(exc)})"))
                continue
            if stat.S_ISLNK(mode):
                errors.append(LintError(name, 0, _symlink_reason(root, entry)))
            elif not stat.S_ISREG(mode):
                errors.append(LintError(name, 0, "not a regular file: not read"))
            else:
                files.append(entry)
        elif misnamed := _misnamed(name):
            errors.append(LintError(name, 0, f"not read: {misnamed}"))
        elif entry.is_dir() and not entry.is_symlink():
            warnings.append(LintError(name, 0, "warning: not read: a subfolder (only files in the folder "
                                               "itself are pattern files)"))
        else:
            warnings.append(LintError(name, 0, f"warning: not read: {_NOT_TSV}"))
    return files, errors, warnings


def pattern_files(path: str | Path) -> list[Path]:
    """The files load_patterns reads for `path`."""
    root = Path(path)
    if root.is_dir():
        return _folder_entries(root)[0]
    return [root] if root.exists() else []


def lint_warnings(path: str | Path) -> list[LintError]:
    """What is not wrong but may surprise: the entries of a pattern folder that are not read (see
    `_folder_entries`); for a file checked on its own, a name the loop would not read from a
    folder (it is checked all the same, as it was named)."""
    root = Path(path)
    if root.is_dir():
        return _folder_entries(root)[2]
    if not root.exists() or root.name.endswith((".tsv", ".sample")):
        return []
    return [LintError(root.name, 0, f"warning: the loop would not read this file from a folder: "
                                    f"{_misnamed(root.name) or _NOT_TSV}")]


def lint_report(path: str | Path) -> tuple[list[str], str]:
    """(one `file:line: reason` line per problem, a summary) for `mathmine annotations lint`.

    File names are shown as paths the user can open: `path` joined with the file's name, with
    invisible characters escaped (`visible`). With errors, the lines are the errors and then the
    warnings, and the summary is one line. Without errors the lines are empty (the command passes)
    and the summary is the warning lines, if any, then the one-line OK summary: a warning is shown
    but never fails the check.
    """
    root = Path(path)
    patterns, errors = load_patterns(root)
    warnings = lint_warnings(root)

    def shown(err: LintError) -> str:
        name = str(root / err.file) if root.is_dir() else str(path)
        return f"{visible(name)}:{err.line}: {visible(err.reason)}"

    if root.is_dir():
        where = f"in {len(pattern_files(root))} file(s) under {visible(str(path))}"
    else:
        where = f"in {visible(str(path))}"
    if errors:
        return [shown(e) for e in errors + warnings], f"{len(errors)} bad line(s) {where}"
    math = sum(p.label == "math" for p in patterns)
    summary = (f"annotations OK: {len(patterns)} pattern(s) ({math} math, "
               f"{len(patterns) - math} exclude) {where}")
    return [], "\n".join([*(shown(w) for w in warnings), summary])


# --------------------------------------------------------------------------- matching


def _path_matches(kind: int, arg: Any, path: str) -> bool:
    if kind == _PREFIX:
        return path.startswith(arg)
    if kind == _EXACT:
        return path == arg
    return arg.fullmatch(path) is not None


class _Bucket:
    """The patterns of one host: math ones in (file, line) order, and excludes."""

    __slots__ = ("every", "exclude", "math")

    def __init__(self) -> None:
        self.math: list[tuple[int, int, Any, Pattern]] = []  # (order, kind, arg, pattern)
        self.exclude: list[tuple[int, Any]] = []
        self.every: list[tuple[int, int, Any, Pattern]] = []  # math and exclude, in order


class PatternMatcher:
    """Which math pattern, if any, selects a URL. Build once, match many (picklable)."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(sorted(patterns, key=lambda p: (p.file, p.line)))
        self._exact: dict[str, _Bucket] = {}
        self._wild: dict[str, _Bucket] = {}
        for order, pattern in enumerate(self.patterns):
            parsed = _parse_glob(pattern.glob)
            if isinstance(parsed, str):
                raise ValueError(f"{pattern.file}:{pattern.line}: {parsed}")
            if pattern.label not in LABELS:
                raise ValueError(f"{pattern.file}:{pattern.line}: unknown label '{pattern.label}'")
            index = self._wild if parsed.wildcard else self._exact
            bucket = index.setdefault(parsed.host, _Bucket())
            bucket.every.append((order, parsed.kind, parsed.arg, pattern))
            if pattern.label == "exclude":
                bucket.exclude.append((parsed.kind, parsed.arg))
            else:
                bucket.math.append((order, parsed.kind, parsed.arg, pattern))

    def __reduce__(self) -> tuple[Any, ...]:
        return PatternMatcher, (list(self.patterns),)

    def __len__(self) -> int:
        return len(self.patterns)

    def _buckets(self, host: str) -> list[_Bucket]:
        host = host.lower()
        if host.endswith("."):
            host = host[:-1]
        if not host.isascii():
            host = _idna(host) or host
        found = []
        bucket = self._exact.get(_strip_www(host))
        if bucket is not None:
            found.append(bucket)
        if self._wild:
            name = host
            while name:
                bucket = self._wild.get(name)
                if bucket is not None:
                    found.append(bucket)
                dot = name.find(".")
                if dot < 0:
                    break
                name = name[dot + 1:]
        return found

    def match_host_path(self, host: str, path: str) -> Pattern | None:
        """Like match() for an already split URL (the pages table's `host` and `path` columns)."""
        buckets = self._buckets(host)
        if not buckets:
            return None
        path = path or "/"
        for bucket in buckets:
            for kind, arg in bucket.exclude:
                if _path_matches(kind, arg, path):
                    return None
        best: tuple[int, Pattern] | None = None
        for bucket in buckets:
            for order, kind, arg, pattern in bucket.math:
                if best is not None and order >= best[0]:
                    break
                if _path_matches(kind, arg, path):
                    best = (order, pattern)
                    break
        return best[1] if best else None

    def excluded(self, host: str, path: str) -> bool:
        """Whether an `exclude` pattern matches (such a page is never selected by a pattern, and
        is left out of the corpus even when the classifier recalled it)."""
        path = path or "/"
        return any(_path_matches(kind, arg, path)
                   for bucket in self._buckets(host) for kind, arg in bucket.exclude)

    def label(self, host: str, path: str) -> tuple[str, str] | None:
        """(source, label) of a page for the `matches` table: ("exclude", "exclude") when an
        exclude pattern matches, (the first math pattern's source, "math") when one matches,
        else None."""
        if self.excluded(host, path):
            return "exclude", "exclude"
        pattern = self.match_host_path(host, path)
        return None if pattern is None else (pattern.source, "math")

    def matching(self, host: str, path: str) -> list[Pattern]:
        """Every pattern, math or exclude, whose host and path glob match, in (file, line) order
        (for the per-pattern table: a page may count for several lines)."""
        path = path or "/"
        found = [(order, pattern) for bucket in self._buckets(host)
                 for order, kind, arg, pattern in bucket.every if _path_matches(kind, arg, path)]
        return [pattern for _, pattern in sorted(found, key=lambda item: item[0])]

    def match(self, url: str) -> Pattern | None:
        """The first math pattern (by file, line) matching `url`, or None: also when any exclude
        pattern matches it. Scheme, port, user, query string and fragment play no part; a URL
        without a scheme (`example.org/a`) is read as http."""
        try:
            parts = urlsplit(url if "://" in url else "http://" + url)
            host = parts.hostname or ""
        except ValueError:
            return None
        if not host:
            return None
        return self.match_host_path(host, parts.path)


def patterns_digest(path: str | Path) -> str:
    """A hash of the pattern files' names and bytes: a loop step that used them is redone when an
    annotator changes, adds or removes a file."""
    digest = hashlib.sha256()
    for file in pattern_files(path):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def pattern_host(pattern: Pattern) -> str:
    """The host part of a pattern, without a leading `*.` or `www.`, lower case."""
    host = pattern.glob.split("/", 1)[0].lower()
    return _strip_www(host.removeprefix("*."))
