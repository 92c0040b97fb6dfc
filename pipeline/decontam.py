"""Benchmark decontamination, the DeepSeekMath rule: any text segment of a page containing a 10-gram
that exactly matches a 10-gram of a benchmark text is removed; benchmark texts shorter than 10 grams
but of at least 3 grams are matched as a whole.

Definitions (the same code makes the grams of benchmarks and of pages):

- **word** (the gram unit). The text is NFKC-normalised and lower-cased, so full-width forms,
  ligatures, superscripts, non-breaking spaces and case never matter; curly quotes fold to straight
  ones and dashes and the minus sign `−` to `-`; invisible format characters (soft hyphen,
  zero-width space) are dropped. Then it is cut into words: a LaTeX command (`\\frac`, `\\sqrt`: one
  word each), a run of digits (numbers are kept as they are: math benchmarks differ by their
  numbers, so digits are never mapped to 0), a run of letters of any script with their combining
  marks, each CJK ideograph, kana or hangul syllable on its own (Chinese has no spaces: CMATH matches
  character by character), and each other non-space symbol (`+`, `=`, `(`, `^`, `,`). Whitespace
  only separates words. Formatting that differs between a page and a benchmark is ignored: `$`,
  `{`, `}`, the delimiters `\\(` `\\)` `\\[` `\\]`, the escapes `\\{` `\\}` `\\$`, LaTeX spacing
  (`\\,` `\\;` `\\:` `\\!` `\\ ` `\\\\` `\\quad` `\\qquad`), the sizing commands `\\left` `\\right`
  `\\big`..`\\Bigg` (and `\\left.`'s dot), `\\displaystyle` `\\textstyle`; `\\dfrac` and `\\tfrac` are
  `\\frac`. So `$\\frac{1}{2}$`, `\\(\\dfrac{1}{2}\\)` and `\\frac 1 2` are the same three words. NFKC is
  applied per character (decomposed accents are not composed; web text is NFC in practice). Scripts
  written without spaces other than CJK (Thai, Lao...) give one word per run of letters.
- **prose word**: a run of >= 3 letters (not a LaTeX command), or a CJK ideograph, katakana or
  hangul syllable (hiragana are mostly particles and endings).
- **benchmark text**: one configured field of one benchmark record (conf/benchmarks.yaml). GSM8K's
  calculator annotations `<<16-3-4=9>>` are stripped before making grams: they are in the answers but
  never on web pages, where the same line reads `16 - 3 - 4 = 9`.
- **n-gram**: n consecutive words (n=10). A benchmark text of >= n words contributes all its n-grams.
  One of min_n..n-1 words (min_n=3) is a "short text", matched as a whole: a page segment containing
  exactly that word sequence is hit. Fewer than min_n words: skipped (counted in `stats`).
- **formulas** (our addition, for precision): with symbols as words, a 10-gram of pure notation
  (`a _ 1 , a _ 2 , a _ 3`, `p ( x ) = ax ^ 2 + bx + c`) is common to every math text: matched
  alone, such grams hit 281 of the 2986 bookofproofs pages. So an n-gram with fewer than 3 prose
  words only counts inside a run of consecutive matching n-grams (same problem, same segment) that
  covers 20 words, or the whole benchmark text if it is shorter, and holds a prose word; a short
  text with fewer than 3 prose words (a bare answer: `\\frac{1}{16}`, `3.21`) is skipped. Measured:
  whole copies of 99.2% of MATH problems (4961/5000; 100% of GSM8K, CMATH, MGSM) are still found,
  and bookofproofs loses 1 paragraph (a generic phrase) instead of hundreds.
- **segment**: a line of the page text (extracted text has one paragraph per line). A gram must lie
  inside one segment (one spanning a line break is no match); a hit segment is removed with its line
  break, so the rest is "\\n".join(kept lines) and every other line stays byte-identical.

Hashing: pages are split into words and hashed without a Python step per word. The texts of a
batch are folded one by one (the regexes above), joined with line breaks and split by array
operations over their code points (`_spans`: a class per code point taken from the word regex's own
classes; exactly the regex's words, tested on every real text); each word is hashed from its code
points, all words of one length at once (`_word_hashes`: a multiply-xorshift step per character
and splitmix64's finalizer; words over 32 characters xxh64), its lowest bit then marking prose
words. A gram is a polynomial of its words' hashes mod 2^64, computed for every position of a batch
at once in numpy and salted by the gram length. Benchmarks go through the same code. Collisions are
not verified against the benchmark words: with M index entries (M ~ 2.1M for conf/benchmarks.yaml)
one page gram matches by chance with probability M / 2^63 ~ 2e-13, and a page of W words is looked
up with at most 8*W grams (lengths 3..10): about one wrongly removed paragraph per 10^12 words of
crawl, i.e. well under one in the whole 120B-token DeepSeekMath corpus.

Lookups: the index is a sorted uint64 array of gram hashes with an int32 problem reference (and a
uint8 run length needed, for formula grams) each. A page's n-grams are first tested against a
bitmap of the hashes' top bits (~3% pass), the rest found in their bucket (a table of where each
top-21-bit bucket starts: one or two reads instead of a binary search). Short texts (min_n..n-1
words) are looked up only where a page's min_n-gram is the start of one (a byte map over the
~2k short texts' first min_n-grams), not at every position for every length. `NgramIndex.to_bytes`
is compact (the arrays and the name tables, ~27 MB for conf/benchmarks.yaml) for a Spark broadcast;
the bitmaps and buckets are rebuilt on arrival.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import xxhash
import yaml

from pipeline import fs
from pipeline.config import UserError

FORMATS = ("jsonl", "parquet", "tsv")
_SPEC_KEYS = ("name", "file", "fields", "language", "format", "id_field", "tsv_columns", "sha256", "source")
_REQUIRED_KEYS = ("name", "file", "fields", "language")
_TRAIN_REQUIRED_KEYS = ("name", "file", "sha256", "source")  # `train_splits:` entries: fetched, not matched
BUILDS = ("download", "mgsm", "math_train", "champ")  # how jobs/benchmarks.py builds a file
_SOURCE_KEYS = ("build", "repo", "commit", "path", "parts", "package", "version", "member")
_SOURCE_NEEDS = {"download": ("repo", "commit", "path"), "math_train": ("repo", "commit", "path"),
                 "mgsm": ("repo", "commit", "parts"), "champ": ("package", "version", "member")}
_PART_KEYS = ("file", "path", "sha256")
_SHA256 = re.compile("[0-9a-f]{64}")
_INDEX_VERSION = 2  # bump when words or gram hashes change: old serialized indexes are refused

# characters split, hashed and looked up at once: bounds the numpy arrays, and ~1 MB arrays stay in
# the CPU caches (measured: 256k characters 15% faster than 4M)
_CHUNK_CHARS = 1 << 18
_NEWLINE = re.compile("\n")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# GSM8K calculator annotations: `<<48/2=24>>` (always with an `=` inside).
_CALCULATOR = re.compile(r"<<[^<>\n]*=[^<>\n]*>>")
# Formatting blanked out (same length, so character offsets stay those of the original text).
_SPACING = (r"[()\[\]{}$,;:! \\]"
            r"|(?:left|right|[bB]igg?[lrm]?)(?![a-zA-Z])\.?"
            r"|(?:displaystyle|textstyle|q?quad)(?![a-zA-Z])")
_FORMAT = re.compile(rf"\\(?:(?P<frac>[dt]frac)(?![a-zA-Z])|{_SPACING})")
# The same without offsets, for the words alone: two passes with fixed replacements, no Python call
# per match. The same words: no spacing match starts at a `\dfrac` (or overlaps one but as the `\\`
# before it, where the one pass takes `\\` too), and a space more or less only separates.
_SPACE_OUT, _DFRAC = re.compile(rf"\\(?:{_SPACING})"), re.compile(r"\\[dt]frac(?![a-zA-Z])")
_CJK_RANGES = (
    (0x1100, 0x11FF), (0x3005, 0x3007), (0x3040, 0x30FF), (0x3130, 0x318F), (0x31F0, 0x31FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF),
    (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x3134F))
_SCAN = (*range(0, 0xD800), *range(0xE000, 0x20000), *range(0x2F800, 0x2FA20))
# Typographic variants NFKC keeps apart but pages and benchmarks mix: curly quotes, dashes, the minus sign.
_FOLD = {**dict.fromkeys("‘’‚‛", "'"), **dict.fromkeys("“”„‟", '"'), **dict.fromkeys("‐‑‒–—―−", "-")}
# Prose words (see `min_prose`): CJK ideographs, katakana and hangul; hiragana are mostly particles.
_PROSE_CJK_RANGES = ((0x30A0, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF),
                     (0x20000, 0x3134F))

# Gram hashing: H_k = H_{k-1} * P + word_hash (mod 2^64), then H_k ^ salt_k; words: see _word_hashes.
_P = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


class DecontamError(UserError, ValueError):
    """A bad benchmarks.yaml entry or benchmark file; the message is one line "file:line: reason"
    (line 0: the file as a whole)."""


@dataclass(frozen=True)
class SourcePart:
    """A file a built benchmark file is made from, fetched first (MGSM's per-language TSVs)."""

    file: str  # relative to the benchmarks root, e.g. "mgsm/tsv/mgsm_de.tsv"
    path: str  # upstream path at the source's repo@commit
    sha256: str  # what the fetched bytes must hash to


@dataclass(frozen=True)
class BenchmarkSource:
    """Where `make benchmarks` (jobs/benchmarks.py) gets a benchmark file, pinned to a commit or release.

    build "download": the file at github.com/<repo>@<commit>/<path>, as it is;
    "math_train": the per-problem JSON files under the folder <path> at repo@commit, as JSONL;
    "mgsm": the `parts` (TSVs at repo@commit), fetched first, as one JSONL;
    "champ": <member> of the PyPI wheel of <package> <version>, as JSONL."""

    build: str = "download"
    repo: str = ""  # GitHub owner/name
    commit: str = ""
    path: str = ""
    parts: tuple[SourcePart, ...] = ()
    package: str = ""  # PyPI project
    version: str = ""
    member: str = ""  # file inside the wheel


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str  # e.g. "gsm8k"
    file: str  # relative to the benchmarks root, e.g. "gsm8k/test.jsonl"
    fields: tuple[str, ...]  # the fields holding text, e.g. ("question", "answer")
    language: str  # "en", "zh", "multi", ...
    format: str = ""  # jsonl | parquet | tsv; "" = from the file suffix
    id_field: str = ""  # field giving the problem id; "" = the 0-based line/row number
    tsv_columns: tuple[str, ...] = ()  # column names of a header-less TSV; () = the first line is a header
    # Provenance, for `make benchmarks`: not part of what a spec matches, so left out of comparisons.
    sha256: str = field(default="", compare=False)  # what the file's bytes hash to; "" = not pinned
    source: BenchmarkSource | None = field(default=None, compare=False)  # where it is fetched from
    split: str = "test"  # "train" for `train_splits:` entries: fetched, never decontamination targets


# ---------------------------------------------------------------- benchmarks.yaml


def load_benchmark_specs(path: str | Path, include_train: bool = False) -> list[BenchmarkSpec]:
    """Parse conf/benchmarks.yaml: `benchmarks:` a list of entries, the decontamination targets, and an
    optional `train_splits:` list (files `make benchmarks` fetches that are never decontamination
    targets: `name`, `file`, `sha256`, `source`). Returns the targets; with `include_train`, the train
    splits after them (split "train"). A bad entry of either list raises DecontamError naming the file
    and the entry's line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DecontamError(f"{path}:0: cannot read benchmarks file ({exc.strerror})") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DecontamError(f"{path}:{mark.line + 1 if mark else 0}: invalid YAML "
                            f"({getattr(exc, 'problem', exc)})") from exc
    top = _mapping(path, root, "the top level") if root is not None else {}
    if "benchmarks" not in top or set(top) - {"benchmarks", "train_splits"}:
        raise DecontamError(f"{path}:1: expected exactly one top-level key 'benchmarks' (besides an "
                            f"optional 'train_splits'), got {sorted(top)}")
    specs: list[BenchmarkSpec] = []
    seen: dict[str, int] = {}
    for key in ("benchmarks", "train_splits"):
        if key not in top:
            continue
        entries = top[key][1]
        if not isinstance(entries, yaml.SequenceNode):
            raise DecontamError(f"{path}:{_line(entries)}: '{key}' must be a list of entries")
        for node in entries.value:
            spec = _spec(path, node, train=key == "train_splits")
            if spec.name in seen:
                raise DecontamError(f"{path}:{_line(node)}: duplicate benchmark name '{spec.name}' "
                                    f"(first at line {seen[spec.name]})")
            seen[spec.name] = _line(node)
            specs.append(spec)
    return specs if include_train else [spec for spec in specs if spec.split != "train"]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(path: Path, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping node as {key: (key node, value node)}; duplicate keys are an error."""
    if not isinstance(node, yaml.MappingNode):
        raise DecontamError(f"{path}:{_line(node)}: {what} must be a mapping")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in out:
            raise DecontamError(f"{path}:{_line(key)}: duplicate key '{name}'")
        out[name] = (key, value)
    return out


def _scalar(path: Path, key: str, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
        raise DecontamError(f"{path}:{_line(node)}: '{key}' must be a string")
    return str(node.value)


def _strings(path: Path, key: str, node: yaml.Node) -> tuple[str, ...]:
    """A list of strings (a single string is a list of one)."""
    if isinstance(node, yaml.ScalarNode) and not node.tag.endswith(":null"):
        return (str(node.value),)
    if isinstance(node, yaml.SequenceNode) and all(isinstance(v, yaml.ScalarNode) for v in node.value):
        return tuple(str(v.value) for v in node.value)
    raise DecontamError(f"{path}:{_line(node)}: '{key}' must be a list of strings")


def _spec(path: Path, node: yaml.Node, train: bool = False) -> BenchmarkSpec:
    what = "train split entry" if train else "benchmark entry"
    entry = _mapping(path, node, f"a {what}")
    for key, (key_node, _) in entry.items():
        if key not in _SPEC_KEYS:
            raise DecontamError(f"{path}:{_line(key_node)}: unknown key '{key}' in {what} "
                                f"(known: {', '.join(_SPEC_KEYS)})")
    missing = [k for k in (_TRAIN_REQUIRED_KEYS if train else _REQUIRED_KEYS) if k not in entry]
    if missing:
        raise DecontamError(f"{path}:{_line(node)}: {what} misses {', '.join(missing)}")
    values: dict[str, Any] = {"fields": (), "language": ""} if train else {}
    for key, (_, value) in entry.items():
        if key == "source":
            values[key] = _source(path, value)
        else:
            values[key] = (_strings if key in ("fields", "tsv_columns") else _scalar)(path, key, value)
    if not values["name"] or not values["file"]:
        raise DecontamError(f"{path}:{_line(node)}: 'name' and 'file' must not be empty")
    if not values["fields"] and not train:
        raise DecontamError(f"{path}:{_line(entry['fields'][1])}: 'fields' must name at least one field")
    if values.get("format", "") not in ("", *FORMATS):
        raise DecontamError(f"{path}:{_line(entry['format'][1])}: format must be one of {', '.join(FORMATS)}")
    if "sha256" in entry:
        _check_sha256(path, entry["sha256"][1], values["sha256"])
    if "source" in entry and "sha256" not in entry:
        raise DecontamError(f"{path}:{_line(node)}: a {what} with a 'source' needs its 'sha256' "
                            "(a fetched file is pinned by its hash)")
    return BenchmarkSpec(**values, split="train" if train else "test")


def _check_sha256(path: Path, node: yaml.Node, value: str) -> None:
    if not _SHA256.fullmatch(value):
        raise DecontamError(f"{path}:{_line(node)}: 'sha256' must be 64 lowercase hex digits")


def _source(path: Path, node: yaml.Node) -> BenchmarkSource:
    entry = _mapping(path, node, "'source'")
    for key, (key_node, _) in entry.items():
        if key not in _SOURCE_KEYS:
            raise DecontamError(f"{path}:{_line(key_node)}: unknown key '{key}' in a source "
                                f"(known: {', '.join(_SOURCE_KEYS)})")
    values: dict[str, Any] = {}
    for key, (_, value) in entry.items():
        if key == "parts":
            if not isinstance(value, yaml.SequenceNode) or not value.value:
                raise DecontamError(f"{path}:{_line(value)}: 'parts' must be a list of files")
            values[key] = tuple(_part(path, item) for item in value.value)
        else:
            values[key] = _scalar(path, key, value)
    build = values.setdefault("build", "download")
    if build not in BUILDS:
        raise DecontamError(f"{path}:{_line(entry['build'][1])}: build must be one of {', '.join(BUILDS)}")
    missing = [key for key in _SOURCE_NEEDS[build] if not values.get(key)]
    if missing:
        raise DecontamError(f"{path}:{_line(node)}: a {build} source needs {', '.join(missing)}")
    return BenchmarkSource(**values)


def _part(path: Path, node: yaml.Node) -> SourcePart:
    entry = _mapping(path, node, "a source part")
    if set(entry) != set(_PART_KEYS):
        raise DecontamError(f"{path}:{_line(node)}: a source part has exactly the keys "
                            f"{', '.join(_PART_KEYS)}, got {', '.join(entry)}")
    values = {key: _scalar(path, key, value) for key, (_, value) in entry.items()}
    _check_sha256(path, entry["sha256"][1], values["sha256"])
    return SourcePart(**values)


# ---------------------------------------------------------------- benchmark files


def iter_benchmark_texts(spec: BenchmarkSpec, root: str | Path) -> Iterator[tuple[str, str, str]]:
    """(problem_id, field, text) for every record and configured field of a benchmark file.

    List and dict values (MMLU choices, OlympiadBench solution lists) are joined with newlines, null
    is an empty text. A missing file, a line that is not a JSON object or a record without a
    configured field raises DecontamError("<file>:<line>: reason")."""
    path = Path(root) / spec.file
    if not path.is_file():
        raise DecontamError(f"{path}:0: benchmark file not found (benchmark '{spec.name}')")
    fmt = spec.format or _format_of(path)
    records = {"jsonl": _jsonl_records, "parquet": _parquet_records, "tsv": _tsv_records}[fmt](spec, path)
    for line, number, record in records:
        for name in (spec.id_field, *spec.fields):
            if name and name not in record:
                raise DecontamError(f"{path}:{line}: record has no field '{name}' (benchmark '{spec.name}')")
        problem_id = _field_text(record[spec.id_field]) if spec.id_field else str(number)
        for name in spec.fields:
            yield problem_id, name, _field_text(record[name])


def _format_of(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    suffix = suffixes[-1].lstrip(".") if suffixes else ""
    fmt = {"json": "jsonl", "jsonl": "jsonl", "parquet": "parquet", "tsv": "tsv"}.get(suffix)
    if fmt is None:
        raise DecontamError(f"{path}:0: cannot tell the format from the suffix: "
                            f"set 'format' ({', '.join(FORMATS)})")
    return fmt


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _jsonl_records(spec: BenchmarkSpec, path: Path) -> Iterator[tuple[int, int, dict]]:
    """(1-based line, 0-based line, record); blank lines are skipped."""
    with _open_text(path) as fh:
        for number, raw in enumerate(fh):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DecontamError(f"{path}:{number + 1}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DecontamError(f"{path}:{number + 1}: expected a JSON object, "
                                    f"got {type(record).__name__}")
            yield number + 1, number, record


def _tsv_records(spec: BenchmarkSpec, path: Path) -> Iterator[tuple[int, int, dict]]:
    with _open_text(path) as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns = list(spec.tsv_columns)
        offset = 0
        if not columns:  # the first line names the columns
            columns, offset = next(rows, []), 1
        for number, row in enumerate(rows):
            if not any(row):
                continue
            if len(row) > len(columns):
                raise DecontamError(f"{path}:{number + offset + 1}: {len(row)} columns, "
                                    f"expected at most {len(columns)} ({', '.join(columns)})")
            yield number + offset + 1, number, dict(zip(columns, row, strict=False))


def _parquet_records(spec: BenchmarkSpec, path: Path) -> Iterator[tuple[int, int, dict]]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DecontamError(f"{path}:0: not a readable Parquet file ({exc})") from None
    wanted = [c for c in dict.fromkeys((spec.id_field, *spec.fields)) if c]
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise DecontamError(f"{path}:0: no column {', '.join(missing)} (benchmark '{spec.name}')")
    for number, record in enumerate(pq.read_table(path, columns=wanted).to_pylist()):
        yield number + 1, number, record


def _field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return "\n".join(_field_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 27.0 -> "27", as the text would write it
    return str(value)


# ---------------------------------------------------------------- words
#
# Why these words differ from dedup's and the classifier's: pipeline/text.py, the one place it is said.


def _char_class(codepoints: Sequence[int]) -> str:
    """A regex character class body for a sorted list of code points, as ranges."""
    parts, start = [], None
    for i, cp in enumerate(codepoints):
        if start is None:
            start = cp
        if i + 1 == len(codepoints) or codepoints[i + 1] != cp + 1:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(cp)) if cp > start else ""))
            start = None
    return "".join(parts)


@lru_cache(maxsize=1)
def _tables() -> tuple[re.Pattern, re.Pattern, re.Pattern, dict[str, str], list[int]]:
    """(word regex, regexes of the characters NFKC or lower-casing change: within the BMP, all, their
    replacements, the code points of the regex's letter class).

    Built once per process from the Unicode database (~50 ms), so the classes follow Python's own
    `unicodedata` version."""
    cjk = _char_class([cp for a, b in _CJK_RANGES for cp in range(a, b + 1)])
    in_cjk = np.zeros(0x110000, dtype=bool)
    for a, b in _CJK_RANGES:
        in_cjk[a:b + 1] = True
    letters, unstable, replace = [], [], {}
    for cp in _SCAN:
        ch = chr(cp)
        category = unicodedata.category(ch)
        # BMP only: a class reaching past U+FFFF makes `re` test its ranges one by one (5x slower);
        # the rare letters beyond it are single-character words.
        if cp < 0x10000 and not in_cjk[cp] and (ch.isalpha() or category.startswith("M")):
            letters.append(cp)
        folded = unicodedata.normalize("NFKC", ch)
        if category == "Cf":  # soft hyphen, zero-width spaces and joiners, BOM: invisible, dropped
            unstable.append(cp)
            replace[ch] = ""
        elif folded != ch or len(ch.lower()) != 1:
            unstable.append(cp)
            replace[ch] = folded.lower()
    for ch, folded in _FOLD.items():
        unstable.append(ord(ch))
        replace[ch] = folded
    unstable = sorted(set(unstable))
    # The classes are disjoint but the last, which takes any other non-space symbol but $ { }; the
    # most frequent alternative comes first.
    word = re.compile(rf"([{_char_class(letters)}]+|\d+|\\[a-z]+|[{cjk}]|[^\s${{}}])")
    # `re` tests a class reaching past U+FFFF range by range: texts with no such character use the
    # BMP part only.
    bmp = [cp for cp in unstable if cp < 0x10000]
    changed_bmp, changed = re.compile(f"([{_char_class(bmp)}])"), re.compile(f"([{_char_class(unstable)}])")
    return word, changed_bmp, changed, replace, letters


def _blank(match: re.Match) -> str:
    if match.group("frac"):
        return "\\frac "
    return " " * (match.end() - match.start())


def _folded(text: str, with_map: bool = True) -> tuple[str, np.ndarray | None]:
    """(NFKC + lower-cased text without formatting, map from its positions to the original's or None
    where they are the same)."""
    if "\\" in text:
        if with_map:
            text = _FORMAT.sub(_blank, text)
        else:
            text = _SPACE_OUT.sub(" ", text)
            if "frac" in text:
                text = _DFRAC.sub(r"\\frac", text)
    if text.isascii():
        return text.lower(), None
    _, unstable_bmp, unstable, replace, _ = _tables()
    changed = unstable if _ASTRAL.search(text) else unstable_bmp
    parts = changed.split(text)  # [stable run, changed char, stable run, ..., stable run]
    if len(parts) == 1:
        return text.lower(), None
    parts[1::2] = map(replace.__getitem__, parts[1::2])
    parts[0::2] = map(str.lower, parts[0::2])  # one character per character there
    folded = "".join(parts)
    if not with_map or (len(folded) == len(text) and all(map(len, parts[1::2]))):
        # every change was one character for one: positions are those of the original
        return folded, None
    # position -> original position: a stable run advances one by one, all characters of a
    # replacement point at the one character they came from.
    count = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    source = count.copy()
    source[1::2] = 1
    step = np.zeros(len(parts), dtype=np.int64)
    step[0::2] = 1
    total = int(count.sum())
    within = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    mapping = np.repeat(np.cumsum(source) - source, count) + within * np.repeat(step, count)
    return folded, mapping


def _tokenize(text: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(words, start and end offsets in `text`, line number of each word)."""
    folded, mapping = _folded(text)
    parts = _tables()[0].split(folded)  # [gap, word, gap, word, ..., gap]
    found = parts[1::2]
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return found, empty, empty, empty
    ends = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))
    starts, ends = ends[0:-1:2], ends[1::2]
    breaks = [m.start() for m in _NEWLINE.finditer(folded)]
    lines = np.searchsorted(np.array(breaks, dtype=np.int64), starts)
    if mapping is not None:
        starts, ends = mapping[starts], mapping[ends - 1] + 1
    return found, starts, ends, lines


# Character classes of the vectorized tokenizer, bits of one uint8 per code point (`_classes`): the run
# a character extends (letter run, digit run: bits 0-1), whether it is part of any word, and what the
# token rules and the prose bit look at.
_RUN_LETTER, _RUN_DIGIT, _IN_WORD, _AZ, _BACKSLASH, _PROSE_CHAR, _NL = 1, 2, 4, 8, 16, 32, 64
_LONG_WORD = 32  # longer words (rare: digit strings, URLs' letter runs) are hashed with xxh64 in Python
_WORD_STEP = np.uint64(0xD6E8FEB86659FD93)  # odd: each step of the word hash is a bijection
_WORD_SEED = np.uint64(0x243F6A8885A308D3)
_S32 = np.uint64(32)


@lru_cache(maxsize=1)
def _classes() -> np.ndarray:
    """The class bits of every code point, derived from the word regex's own classes (its letter
    class, `re`'s `\\d` and `\\s`), so the vectorized tokenizer and the regex cannot disagree."""
    letters = np.zeros(0x110000, dtype=bool)
    letters[_tables()[4]] = True
    everything = "".join(map(chr, range(0x110000)))  # character i is code point i

    def matching(pattern: str) -> np.ndarray:
        mask = np.zeros(0x110000, dtype=bool)
        mask[[m.start() for m in re.finditer(pattern, everything)]] = True
        return mask

    digits, symbols = matching(r"\d"), ~matching(r"[\s${}]")
    cjk, prose_cjk = np.zeros(0x110000, dtype=bool), np.zeros(0x110000, dtype=bool)
    for ranges, mask in ((_CJK_RANGES, cjk), (_PROSE_CJK_RANGES, prose_cjk)):
        for a, b in ranges:
            mask[a:b + 1] = True
    table = np.zeros(0x110000, dtype=np.uint8)
    table[letters | digits | cjk | symbols] |= _IN_WORD
    table[letters] |= _RUN_LETTER
    table[digits & ~letters] |= _RUN_DIGIT
    table[ord("a"):ord("z") + 1] |= _AZ
    table[ord("\\")] |= _BACKSLASH
    table[prose_cjk & cjk & ~letters & ~digits] |= _PROSE_CHAR
    table[ord("\n")] |= _NL
    return table


def _spans(folded: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(code points, their class bits, word starts, word ends) of a folded text: exactly the word
    regex's matches (`_tokenize`), found with array operations instead of one regex step per
    character (~6x faster). A word is a maximal run of letters or of digits, a backslash with the a-z
    letters after it, or any other single character that is not space, `$`, `{` or `}`."""
    if folded.isascii():
        codes = np.frombuffer(folded.encode("ascii"), dtype=np.uint8)
    else:  # one code point per character, as Python indexes the string (a lone surrogate too)
        codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kind = _classes()[codes]
    run = kind & 3
    joined = np.zeros(len(kind) + 1, dtype=bool)  # joined[i]: characters i-1 and i are in one word
    inner = joined[1:-1]
    np.equal(run[1:], run[:-1], out=inner)
    inner &= run[1:] != 0
    inner |= ((kind[1:] & _AZ) != 0) & ((kind[:-1] & _BACKSLASH) != 0)
    in_word = (kind & _IN_WORD) != 0
    starts = np.flatnonzero(in_word & ~joined[:-1])
    ends = np.flatnonzero(in_word & ~joined[1:]) + 1
    # A command stops at its last a-z letter: `\alphaé` is `\alpha` and `é`, one letter run above.
    cmd = np.flatnonzero(((kind[starts] & _BACKSLASH) != 0) & (ends - starts > 1))
    if len(cmd):
        stop, end = starts[cmd] + 1, ends[cmd]
        more = np.ones(len(cmd), dtype=bool)
        while more.any():
            more &= stop < end
            more[more] = (kind[stop[more]] & _AZ) != 0
            stop += more
        cut = stop < end
        if cut.any():
            starts = np.insert(starts, cmd[cut] + 1, stop[cut])
            ends = np.insert(ends, cmd[cut], stop[cut])
    return codes, kind, starts, ends


def _word_hashes(folded: str, codes: np.ndarray, kind: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each word (`_spans`) whose lowest bit says whether it is prose: a letter run
    of >= 3 letters (so not a LaTeX command, not digits) or a CJK ideograph, katakana or hangul
    character. A word's kind is then read off its hash in numpy.

    The hash of a word of at most _LONG_WORD characters: h = seed, then h = (h ^ c) * odd and
    h ^= h >> 32 for each code point c, then the length and splitmix64's finalizer; all words of
    one length are hashed at once (one numpy step per character position). Longer words: xxh64 of
    their UTF-8. Benchmarks and pages both go through here, so their grams meet."""
    sizes = ends - starts
    first = kind[starts]
    prose = (((first & _RUN_LETTER) != 0) & (sizes >= 3)) | ((first & _PROSE_CHAR) != 0)
    order = np.argsort(np.minimum(sizes, _LONG_WORD + 1).astype(np.uint8), kind="stable")
    sorted_sizes, at = sizes[order], starts[order]
    short = int(np.searchsorted(sorted_sizes, _LONG_WORD, side="right"))
    h = np.full(short, _WORD_SEED, dtype=np.uint64)
    for j in range(int(sorted_sizes[short - 1]) if short else 0):
        lo = int(np.searchsorted(sorted_sizes[:short], j, side="right"))  # the words longer than j
        step = h[lo:]
        step ^= codes[at[lo:short] + j]
        step *= _WORD_STEP
        step ^= step >> _S32
    out = np.empty(len(sizes), dtype=np.uint64)
    out[order[:short]] = _finalize(h ^ sorted_sizes[:short].astype(np.uint64))
    for i, a, b in zip(order[short:].tolist(), at[short:].tolist(), (at + sorted_sizes)[short:].tolist(),
                       strict=True):
        out[i] = xxhash.xxh64_intdigest(folded[a:b].encode("utf-8", "surrogatepass"))
    return out & ~np.uint64(1) | prose


def _finalize(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit reaches every output bit."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _text_words(folded: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word hashes, line of each word, words per text) of folded texts, all at once: the texts are
    joined with line breaks, so the line numbers are unique over the texts (a gram within one line
    is within one text)."""
    joined = "\n".join(folded)
    codes, kind, starts, ends = _spans(joined)
    hashes = _word_hashes(joined, codes, kind, starts, ends)
    lines = np.cumsum(kind >> 6, dtype=np.int32)[starts]  # line breaks before each word (_NL is bit 6)
    text_starts = np.cumsum([0] + [len(t) + 1 for t in folded])
    sizes = np.diff(np.searchsorted(starts, text_starts))
    return hashes, lines, sizes


def word_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The words of `text` (see the module docstring) and their character spans in `text`."""
    found, starts, ends, _ = _tokenize(text)
    return found, list(zip(starts.tolist(), ends.tolist(), strict=True))


def words(text: str) -> list[str]:
    """The gram units of `text`: NFKC, lower case, LaTeX commands, digit runs, letter runs, single CJK
    characters and symbols, without formatting ($, braces, math delimiters)."""
    return _tokenize(text)[0]


# ---------------------------------------------------------------- gram hashes


def _prose_counts(hashes: np.ndarray) -> np.ndarray:
    """Cumulative count of prose words: the grams at i of length k hold c[i + k] - c[i]."""
    return np.concatenate(([0], np.cumsum(hashes & np.uint64(1), dtype=np.int64)))


def _mix(h: np.ndarray, k: int) -> np.ndarray:
    """The polynomial hash salted by the gram length. No finalizer: the word hashes are uniform (they
    went through one), so is any polynomial of them, top bits (the bitmaps') included."""
    return h ^ _salt(k)


@lru_cache(maxsize=64)
def _salt(k: int) -> np.uint64:
    return np.uint64(xxhash.xxh64_intdigest(b"gram-length-%d" % k))


def _grams(hashes: np.ndarray, lengths: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(k, polynomial hash of the k words starting at each position) for each k in `lengths`, over
    the whole word array at once (H_k = H_{k-1} * P + next word). The array for k is k-1 shorter;
    the caller masks grams that cross a line or text."""
    h = hashes
    wanted = set(lengths)
    for k in range(1, max(lengths) + 1):
        if k > 1:
            h = h[:-1] * _P + hashes[k - 1:]
        if not len(h):
            return
        if k in wanted:
            yield k, h


# ---------------------------------------------------------------- index


@dataclass
class NgramIndex:
    hashes: np.ndarray  # sorted uint64 gram hashes (n-grams and short texts; the length is in the hash)
    refs: np.ndarray  # int32 problem reference of each hash
    needs: np.ndarray  # uint8 words a matching run must cover for this entry to count (0: none, see build)
    problem_benchmark: np.ndarray  # int32 benchmark number of each problem reference
    problem_ids: list[str]
    benchmarks: list[str]
    lengths: tuple[int, ...]  # gram lengths present (short text lengths and n)
    stats: dict[str, dict[str, int]]
    n: int = 10
    min_n: int = 3
    min_prose: int = 3
    formula_words: int = 20
    # sorted min_n-gram keys of the short texts' first min_n words: a page position whose min_n-gram
    # is not one of them starts no short text, so the grams of lengths min_n..n-1 are looked up
    # at the few positions that pass (instead of at every position, for every length)
    prefixes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    _bitmap: tuple[np.ndarray, np.uint64] = field(init=False, repr=False)
    _buckets: tuple[np.ndarray, np.uint64] = field(init=False, repr=False)
    _prefix_map: tuple[np.ndarray, np.uint64] = field(init=False, repr=False)  # a byte map

    def __post_init__(self) -> None:
        # A bitmap of the keys' top bits, ~32 bits per entry: most page grams (all but ~3%) miss
        # there and never reach the buckets.
        self._bitmap = _bitmap(self.hashes, 32)
        # where each bucket of keys (by their top bits, ~1 key per bucket) starts in `hashes`: a key
        # passing the bitmap is then found in its bucket, 1-2 reads instead of a 21-step binary search
        bits = max(1, int(np.ceil(np.log2(max(1, len(self.hashes))))))
        counts = np.bincount((self.hashes >> np.uint64(64 - bits)).astype(np.int64), minlength=1 << bits)
        self._buckets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32), np.uint64(64 - bits)
        # one byte per slot (a test is one gather), ~1 MB for conf/benchmarks.yaml's 2.2k short texts
        bits = int(min(24, max(10, np.ceil(np.log2(max(1, len(self.prefixes)) * 256)))))
        table = np.zeros(1 << bits, dtype=bool)
        table[(self.prefixes >> np.uint64(64 - bits)).astype(np.int64)] = True
        self._prefix_map = table, np.uint64(64 - bits)

    @classmethod
    def build(cls, specs: Sequence[BenchmarkSpec], root: str | Path, n: int = 10, min_n: int = 3,
              min_prose: int = 3, formula_words: int = 20) -> NgramIndex:
        """Read every benchmark into a sorted index: a text of >= n words gives its n-grams, one of
        min_n..n-1 words one whole-text gram, a shorter one is skipped (`skipped_tiny`).

        An n-gram with fewer than `min_prose` prose words (a formula) only counts inside a run of
        matching grams covering `formula_words` words, or the whole text if it is shorter; a short
        text with fewer than `min_prose` prose words (a bare answer) is skipped (`skipped_no_prose`)."""
        if not 1 <= min_n <= n or not 0 <= min_prose <= n or not n <= formula_words <= 255:
            raise ValueError(f"need 1 <= min_n <= n, 0 <= min_prose <= n, n <= formula_words <= 255, "
                             f"got {min_n=} {n=} {min_prose=} {formula_words=}")
        benchmarks, problem_benchmark, problem_ids = [], [], []
        parts, stats, lengths = [], {}, {n}
        for number, spec in enumerate(specs):
            benchmarks.append(spec.name)
            refs: dict[str, int] = {}
            folded, text_refs = [], []
            for problem_id, _, text in iter_benchmark_texts(spec, root):
                if problem_id not in refs:
                    refs[problem_id] = len(problem_ids)
                    problem_ids.append(problem_id)
                    problem_benchmark.append(number)
                folded.append(_folded(_CALCULATOR.sub(" ", text), with_map=False)[0])
                text_refs.append(refs[problem_id])
            found = [_text_words(folded[i:j]) for i, j in _chunks(folded)]
            hashes = np.concatenate([f[0] for f in found]) if found else np.empty(0, np.uint64)
            sizes = np.concatenate([f[2] for f in found]) if found else np.empty(0, np.int64)
            ends = np.cumsum(sizes)
            cumulative = _prose_counts(hashes)
            prose = cumulative[ends] - cumulative[ends - sizes]  # prose words per text
            tiny = sizes < min_n
            no_prose = ~tiny & (sizes < n) & (prose < min_prose)
            keep = ~tiny & ~no_prose
            counts = {"texts": len(folded), "long_texts": int(np.count_nonzero(keep & (sizes >= n))),
                      "short_texts": int(np.count_nonzero(keep & (sizes < n))),
                      "skipped_tiny": int(np.count_nonzero(tiny)),
                      "skipped_no_prose": int(np.count_nonzero(no_prose))}
            lengths.update(np.minimum(sizes[keep], n).tolist())
            grams = _benchmark_grams(hashes[np.repeat(keep, sizes)], sizes[keep],
                                     np.array(text_refs, dtype=np.int32)[keep], n, min_n, min_prose,
                                     formula_words)
            counts["ngrams"] = int(np.count_nonzero(grams[3]))
            counts["formula_ngrams"] = int(np.count_nonzero(grams[2]))
            parts.append(grams)
            stats[spec.name] = counts
        keys, refs, needs = (np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype)
                             for i, dtype in enumerate((np.uint64, np.int32, np.uint8)))
        order = np.argsort(keys, kind="stable")
        prefixes = np.unique(np.concatenate([p[4] for p in parts])) if parts else np.empty(0, np.uint64)
        return cls(keys[order], refs[order], needs[order], np.array(problem_benchmark, dtype=np.int32),
                   problem_ids, benchmarks, tuple(sorted(lengths)), stats, n, min_n, min_prose, formula_words,
                   prefixes)

    def problem(self, ref: int) -> tuple[str, str]:
        """(benchmark name, problem id) of a problem reference."""
        return self.benchmarks[int(self.problem_benchmark[ref])], self.problem_ids[ref]

    @property
    def nbytes(self) -> int:
        """Memory of the arrays (hashes, refs, needs, prefixes, bitmaps, buckets); the name tables come on
        top."""
        arrays = (self.hashes, self.refs, self.needs, self.problem_benchmark, self.prefixes, self._bitmap[0],
                  self._buckets[0], self._prefix_map[0])
        return sum(a.nbytes for a in arrays)

    def to_bytes(self) -> bytes:
        """A compact serialization (npz: the arrays + the name tables as JSON) for a Spark broadcast."""
        meta = {"version": _INDEX_VERSION, "n": self.n, "min_n": self.min_n, "min_prose": self.min_prose,
                "formula_words": self.formula_words, "lengths": list(self.lengths),
                "benchmarks": self.benchmarks, "problem_ids": self.problem_ids, "stats": self.stats}
        out = io.BytesIO()
        np.savez(out, hashes=self.hashes, refs=self.refs, needs=self.needs,
                 problem_benchmark=self.problem_benchmark, prefixes=self.prefixes,
                 meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> NgramIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes())
            if meta.get("version") != _INDEX_VERSION:
                raise DecontamError(f"<index>:0: index version {meta.get('version')}, this code reads "
                                    f"{_INDEX_VERSION}: rebuild it")
            return cls(arrays["hashes"], arrays["refs"], arrays["needs"], arrays["problem_benchmark"],
                       meta["problem_ids"], meta["benchmarks"], tuple(meta["lengths"]), meta["stats"],
                       meta["n"], meta["min_n"], meta["min_prose"], meta["formula_words"], arrays["prefixes"])

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index into `keys`, problem ref, need) for every index entry equal to a key."""
        maybe = _maybe(keys, *self._bitmap)
        starts, shift = self._buckets
        bucket = (keys[maybe] >> shift).astype(np.int64)
        at, end = starts[bucket], starts[bucket + 1]
        which, entries = [np.empty(0, np.int64)], [np.empty(0, np.int32)]
        while len(maybe):  # the j-th entry of every bucket still that long: all entries of a key
            live = at < end
            maybe, at, end = maybe[live], at[live], end[live]
            hit = self.hashes[at] == keys[maybe]
            which.append(maybe[hit])
            entries.append(at[hit])
            at = at + 1
        which, entry = np.concatenate(which), np.concatenate(entries)
        order = np.lexsort((entry, which))
        which, entry = which[order], entry[order]
        return which, self.refs[entry], self.needs[entry]

    def short_starts(self, prefix_keys: np.ndarray) -> np.ndarray:
        """The positions whose min_n-gram key (`prefix_keys`) may start a short text (a superset)."""
        table, shift = self._prefix_map
        return np.flatnonzero(table[prefix_keys >> shift])


def _bitmap(keys: np.ndarray, bits_per_key: int) -> tuple[np.ndarray, np.uint64]:
    """(bitmap of the keys' top bits, shift that gives them) with about `bits_per_key` bits per key."""
    bits = int(min(32, max(10, np.ceil(np.log2(max(1, len(keys)) * bits_per_key)))))
    top = (keys >> np.uint64(64 - bits)).astype(np.int64)
    byte, starts = np.unique(top >> 3, return_index=True)
    bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
    if len(top):
        bitmap[byte] = np.bitwise_or.reduceat(np.left_shift(1, top & 7).astype(np.uint8), starts)
    return bitmap, np.uint64(64 - bits)


def _maybe(keys: np.ndarray, bitmap: np.ndarray, shift: np.uint64) -> np.ndarray:
    """Indices of the keys whose top bits are set in the bitmap."""
    top = keys >> shift
    return np.flatnonzero((bitmap[top >> np.uint64(3)] >> (top & np.uint64(7)).astype(np.uint8)) & 1)


def _benchmark_grams(words_hashes: np.ndarray, sizes: np.ndarray, refs: np.ndarray, n: int, min_n: int,
                     min_prose: int, formula_words: int) -> tuple[np.ndarray, ...]:
    """(keys, refs, needs, is-n-gram flags, prefixes) of one benchmark's texts (their word hashes
    one after the other, words per text), each (key, ref) once: all n-grams of a long text (need 0
    with enough prose words, else the run it must lie in), the one whole-text gram of a short text
    (need 0). `prefixes`: the min_n-gram key of each short text's first min_n words (see `short_starts`)."""
    if not len(sizes):
        return (np.empty(0, np.uint64), np.empty(0, np.int32), np.empty(0, np.uint8), np.empty(0, bool),
                np.empty(0, np.uint64))
    prose = _prose_counts(words_hashes)
    text_of = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(sizes) - sizes
    keys, key_refs, needs, flags, prefixes = [], [], [], [], np.empty(0, np.uint64)
    for k, h in _grams(words_hashes, sorted(set(np.minimum(sizes, n).tolist()) | {min_n})):
        if k == min_n:
            prefixes = _mix(h[starts[sizes < n]], k)
        if k == n:  # inside one text
            at = np.flatnonzero(text_of[:len(h)] == text_of[k - 1:])
            formula = prose[at + k] - prose[at] < min_prose
            needs.append(np.where(formula, np.minimum(sizes[text_of[at]], formula_words), 0).astype(np.uint8))
        elif k in sizes:  # a short text: its one gram from its first word
            at = starts[sizes == k]
            needs.append(np.zeros(len(at), np.uint8))
        else:  # only the prefix length
            continue
        keys.append(_mix(h[at], k))
        key_refs.append(refs[text_of[at]])
        flags.append(np.full(len(at), k == n))
    keys, key_refs, needs, flags = (np.concatenate(x) for x in (keys, key_refs, needs, flags))
    order = np.lexsort((needs, key_refs, keys))  # for a (key, ref) seen twice, keep the smallest need
    keys, key_refs, needs, flags = keys[order], key_refs[order], needs[order], flags[order]
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = (keys[1:] != keys[:-1]) | (key_refs[1:] != key_refs[:-1])
    return keys[keep], key_refs[keep], needs[keep], flags[keep], prefixes


# ---------------------------------------------------------------- matching


@dataclass
class Hit:
    benchmark: str
    problem_id: str
    ngram: str  # the matched words joined by one space
    start: int  # the matched gram run's character span in the original page text
    end: int


@dataclass
class Cleaned:
    text: str  # the page text without the hit segments (the other lines byte-identical)
    removed: list[tuple[int, int]]  # character spans of the removed segments (with a line break each)
    hits: list[Hit]  # one per (removed segment, benchmark problem): its first matching gram run


def decontaminate(text: str, index: NgramIndex) -> Cleaned:
    """Remove from `text` every line holding a benchmark n-gram (or a whole short benchmark text)."""
    return decontaminate_batch([text], index)[0]


def decontaminate_batch(texts: Sequence[str], index: NgramIndex) -> list[Cleaned]:
    """`decontaminate` for many texts: the texts are folded one by one, then the words of ~256k
    characters of text at a time are split, hashed and looked up at once in numpy (a few MB of arrays
    however large the batch; a longer text takes ~100 bytes per character)."""
    folded = [_folded(text, with_map=False)[0] for text in texts]
    out: list[Cleaned] = []
    for i, j in _chunks(folded):
        out += _decontaminate_chunk(texts[i:j], *_text_words(folded[i:j]), index)
    return out


def _chunks(folded: Sequence[str]) -> Iterator[tuple[int, int]]:
    """(first, end) text numbers of runs of consecutive texts of ~_CHUNK_CHARS characters (a longer
    text alone)."""
    first, size = 0, 0
    for i, text in enumerate(folded):
        size += len(text) + 1
        if size >= _CHUNK_CHARS or i + 1 == len(folded):
            yield first, i + 1
            first, size = i + 1, 0


def _decontaminate_chunk(texts: Sequence[str], hashes: np.ndarray, lines: np.ndarray, sizes: np.ndarray,
                         index: NgramIndex) -> list[Cleaned]:
    """The texts cleaned, given the word hashes of all, their line numbers (unique over the texts)
    and the words per text."""
    out = [Cleaned(t, [], []) for t in texts]
    if not len(hashes):
        return out
    positions, gram_lengths, refs = _matches(hashes, lines, index)
    if not len(positions):
        return out
    text_of = np.repeat(np.arange(len(texts)), sizes)[positions]
    order = np.argsort(text_of, kind="stable")
    bounds = np.searchsorted(text_of[order], np.arange(len(texts) + 1))
    first_word = np.cumsum(sizes) - sizes
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        mine = order[bounds[i]:bounds[i + 1]]
        # words and offsets, only for the pages with a hit
        out[i] = _clean(texts[i], _tokenize(texts[i]), positions[mine] - first_word[i], gram_lengths[mine],
                        refs[mine], index)
    return out


def _matches(hashes: np.ndarray, lines: np.ndarray, index: NgramIndex) -> tuple[np.ndarray, ...]:
    """(word position, gram length, problem ref) of every gram of the chunk found in the index, less
    formula n-grams outside a run long enough for them."""
    found: list[tuple[np.ndarray, ...]] = []
    prose = _prose_counts(hashes)
    short = [k for k in index.lengths if k < index.n]
    candidates = np.empty(0, np.int64)  # positions that may start a short text
    for k, h in _grams(hashes, sorted({*index.lengths, index.min_n} if short else index.lengths)):
        if k == index.min_n and short:
            candidates = index.short_starts(_mix(h, k))
        if k == index.n:
            at = np.flatnonzero(lines[:len(h)] == lines[k - 1:])  # within one line (and one text)
        elif k in short:
            at = candidates[candidates < len(h)]
            # within one line, and with the prose words every short text has
            at = at[(lines[at] == lines[at + k - 1]) & (prose[at + k] - prose[at] >= index.min_prose)]
        else:
            continue
        which, refs, needs = index.lookup(_mix(h[at], k))
        found.append((at[which], np.full(len(which), k, dtype=np.int32), refs, needs))
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32)
    positions, sizes, refs, needs = (np.concatenate(x) for x in zip(*found, strict=True))
    if needs.any():
        keep = _long_enough(positions, sizes, refs, needs, lines[positions], prose, index.n)
        positions, sizes, refs = positions[keep], sizes[keep], refs[keep]
    return positions, sizes, refs


def _long_enough(positions: np.ndarray, sizes: np.ndarray, refs: np.ndarray, needs: np.ndarray,
                 lines: np.ndarray, prose: np.ndarray, n: int) -> np.ndarray:
    """Mask of the matches in a run (consecutive n-grams of one problem on one line) that covers as
    many words as the smallest need of its grams, one prose word at least."""
    order = np.lexsort((sizes, positions, refs, lines))
    p, k, r, line = positions[order], sizes[order], refs[order], lines[order]
    new_run = np.ones(len(p), dtype=bool)
    new_run[1:] = (p[1:] != p[:-1] + 1) | (r[1:] != r[:-1]) | (line[1:] != line[:-1])
    new_run[1:] |= (k[1:] != n) | (k[:-1] != n)  # a short text's match is a run of its own
    starts = np.flatnonzero(new_run)
    run_of = np.cumsum(new_run) - 1
    covered = np.diff(np.append(starts, len(p))) + k[starts] - 1
    need = np.minimum.reduceat(needs[order], starts)
    # prose words in the run (a run of "_ _ _" or "1 , 2 , 3" repeats grams: it proves nothing)
    with_prose = prose[p[starts] + covered] - prose[p[starts]] > 0
    keep = np.empty(len(p), dtype=bool)
    keep[order] = ((covered >= need) & with_prose)[run_of] | (need == 0)[run_of]
    return keep


def _clean(text: str, tokens: tuple, positions: np.ndarray, sizes: np.ndarray, refs: np.ndarray,
           index: NgramIndex) -> Cleaned:
    """Hits (the first gram run per line and problem) and the text without the hit lines."""
    found, starts, ends, lines = tokens
    runs: dict[tuple[int, int], list[int]] = {}  # (line, ref) -> [first position, last position, k]
    closed: set[tuple[int, int]] = set()  # runs that ended: later matches on the line are not reported
    rows = zip(positions.tolist(), sizes.tolist(), refs.tolist(), lines[positions].tolist(), strict=True)
    for p, k, ref, line in sorted(rows):
        key = (line, ref)
        run = runs.get(key)
        if run is None:
            runs[key] = [p, p, k]
        elif key not in closed:
            if k == run[2] == index.n and p == run[1] + 1:
                run[1] = p  # the next n-gram of the same run of matching words
            else:
                closed.add(key)
    hits = []
    for (_, ref), (first, last, k) in sorted(runs.items(), key=lambda item: (item[0][0], item[1][0])):
        benchmark, problem_id = index.problem(ref)
        end_word = last + k - 1
        hits.append(Hit(benchmark, problem_id, " ".join(found[first:end_word + 1]), int(starts[first]),
                        int(ends[end_word])))
    removed = _line_spans(text, sorted({line for line, _ in runs}))
    kept, at = [], 0
    for a, b in removed:
        kept.append(text[at:a])
        at = b
    kept.append(text[at:])
    return Cleaned("".join(kept), removed, hits)


def _line_spans(text: str, drop: list[int]) -> list[tuple[int, int]]:
    """Character spans of the lines `drop` (0-based), each with one line break: its own, or for
    lines at the end of the text the one before it, so the rest reads as "\\n".join(kept lines)."""
    bounds = [0]
    at = text.find("\n")
    while at >= 0:
        bounds.append(at + 1)
        at = text.find("\n", at + 1)
    last = len(bounds) - 1
    spans = []
    # a run of dropped lines reaching the last line, after a kept line, takes the breaks before them
    tail = last
    while tail in drop and tail > 0:
        tail -= 1
    tail_start = tail + 1 if tail not in drop else None  # first line of that final run
    for line in drop:
        start = bounds[line]
        end = bounds[line + 1] if line < last else len(text)
        if tail_start is not None and line >= tail_start:
            spans.append((start - 1, end - 1 if line < last else end))
        else:
            spans.append((start, end))
    return spans


# ---------------------------------------------------------------- corpus input
#
# Decontaminate and tokenize both read "a corpus": a Parquet table with an `id` and a `text` column
# (the pages table, the selection, decontaminate's output). Both key their outputs by `id` (the
# hits table, the corpus join, the shards' doc_id and order), so the rules for what such a table
# may hold live here, once, and both jobs call `read_corpus`.

INVALID_UTF8 = "_invalid_utf8"  # the flag column read_corpus adds: this row's text was repaired
_SHOWN_ROWS = 3  # row numbers an error message lists for its example id


class CorpusError(DecontamError):
    """A corpus table no step can process as it is: no `id` or `text` column, a null id, or an id on
    several rows. One line naming the file, how many rows and an example (with its row numbers)."""


def read_corpus(session: Any, store: Any, folder: str) -> Any:
    """The corpus table in `folder` (any store `pipeline.spark.read_table` serves) as a DataFrame a
    step can process: its columns, `text` a valid string column, plus the boolean INVALID_UTF8.

    - `id` and `text` columns must exist, `text` string or binary: else CorpusError.
    - Every id must be non-null and on one row only: else CorpusError naming the first file with
      such rows, their count and an example with its row numbers. No output could be right: a
      null id cannot key a row and Spark's join drops it; a duplicate id multiplies in the join
      and leaves shard order (by doc_id) to chance.
    - Text that is not valid UTF-8 (a stray byte, a lone surrogate written as CESU-8/WTF-8 bytes by
      a Java or JSON writer, a binary column) has each bad byte replaced by U+FFFD, and the row
      flagged in INVALID_UTF8 so the job counts it: Arrow refuses to hand such a string to a Python
      worker ("Wrapping ... failed"), so this is done in the JVM, before any Python code.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from pipeline.spark import read_table

    df = read_table(session, store, folder)
    fields = {f.name: f.dataType for f in df.schema.fields}
    if "id" not in fields or "text" not in fields:
        raise CorpusError(f"{folder}: a corpus needs `id` and `text` columns (has {', '.join(df.columns)})")
    if not isinstance(fields["text"], (T.StringType, T.BinaryType)):
        raise CorpusError(f"{folder}: `text` is a {fields['text'].simpleString()} column, not a string")
    check_ids(df, folder)
    text = F.col("text").cast("string")  # binary: the bytes as they are, validated below
    return (df.withColumn(INVALID_UTF8, F.coalesce(~F.is_valid_utf8(text), F.lit(False)))
            .withColumn("text", F.make_valid_utf8(text)))


def check_ids(df: Any, folder: str) -> None:
    """Raise CorpusError when an `id` of `df` is null or on several rows (see `read_corpus`). One
    aggregation over the ids when they are fine; two more Spark jobs for the message when not."""
    from pyspark.sql import functions as F

    file_col, row_col = _provenance(df, folder)
    ids = df.select(F.col("id").alias("_id"), file_col.alias("_file"), row_col.alias("_row"))
    bad = (ids.groupBy("_id").agg(F.count(F.lit(1)).alias("_n"))
           .filter(F.col("_id").isNull() | (F.col("_n") > 1)).select(F.col("_id").alias("_bad")))
    if not bad.take(1):
        return
    rows = ids.join(bad, ids["_id"].eqNullSafe(bad["_bad"])).withColumn("_null", F.col("_id").isNull())
    # per kind (null, duplicate) and file: rows, and the smallest id as the example
    per_file: dict[bool, list[Any]] = {True: [], False: []}
    for r in (rows.groupBy("_null", "_file").agg(F.count(F.lit(1)).alias("n"), F.min("_id").alias("example"))
              .orderBy("_null", "_file").collect()):
        per_file[r["_null"]].append(r)
    # where each example is: its first rows in each file (a hot id's rows are bounded by its files)
    examples = [per_file[null][0]["example"] for null in (True, False) if per_file[null]]
    wanted = F.col("_id").isNull() if None in examples else F.lit(False)
    for example in (e for e in examples if e is not None):
        wanted = wanted | (F.col("_id") == example)
    found = {(r["_null"], r["_file"]): r["rows"] for r in (
        rows.filter(wanted).groupBy("_null", "_file")
        .agg(F.slice(F.sort_array(F.collect_list("_row")), 1, _SHOWN_ROWS + 1).alias("rows")).collect())}
    problems = []
    for null, what in ((True, "a null id"), (False, "a duplicate id")):
        if per_file[null]:
            problems.append(_id_problem(per_file[null], found, null, folder, what))
    raise CorpusError("; ".join(problems) + "; a corpus needs one row per id, none null")


def _id_problem(per_file: list[Any], found: dict[tuple[bool, str], list[Any]], null: bool, folder: str,
                what: str) -> str:
    """'<file>: 2 rows with a duplicate id (e.g. 'x' at rows 0, 1)' for the first file (in name
    order) of `per_file` (its rows of one kind: (file, count, example id)), given the rows of each
    example per file in `found`."""
    file, count, example = per_file[0]["_file"], per_file[0]["n"], per_file[0]["example"]
    shown = found.get((null, file), [])
    at = "" if not shown or shown[0] is None else (f"at row{'s' if len(shown) > 1 else ''} "
                                                   + ", ".join(map(str, shown[:_SHOWN_ROWS]))
                                                   + (", ..." if len(shown) > _SHOWN_ROWS else ""))
    if null:
        detail = at
    else:
        only = count == len(shown) <= _SHOWN_ROWS  # the file's one duplicate id: no "e.g."
        detail = ("" if only else "e.g. ") + f"{example[:80]!r}" + (f" {at}" if at else "")
        elsewhere = sorted(f for (n, f) in found if not n and f != file)
        if elsewhere:
            detail += f", also in {_shown_file(elsewhere[0], folder)}"
    line = f"{_shown_file(file, folder)}: {count} row{'s' if count != 1 else ''} with {what}"
    line += f" ({detail})" if detail else ""
    if len(per_file) > 1:
        more, files = sum(r["n"] for r in per_file[1:]), len(per_file) - 1
        line += f", and {more} more in {files} other file{'s' if files > 1 else ''}"
    return line


def _provenance(df: Any, folder: str) -> tuple[Any, Any]:
    """(file, 0-based row in that file) columns of `df`: Spark's `_metadata` of a Parquet scan (the
    file as a URI; `_shown_file` makes it readable). A table read by Python tasks (an object store)
    has no `_metadata`: the folder, and no row number."""
    from pyspark.sql import functions as F
    from pyspark.sql.utils import AnalysisException

    try:
        _ = df.select("_metadata.file_path", "_metadata.row_index").schema  # resolved here, or raises
    except AnalysisException:
        return F.lit(folder), F.lit(None).cast("long")
    return F.col("_metadata.file_path"), F.col("_metadata.row_index")


def _shown_file(uri: str, folder: str) -> str:
    """A file of the corpus as a message shows it: under `folder` as the caller spelled it."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return uri
    path = unquote(parsed.path)
    root = os.path.abspath(fs.local_path(folder)) if not fs.is_remote(folder) else ""
    if root and path.startswith(root + os.sep):
        return f"{folder.rstrip('/')}/{os.path.relpath(path, root)}"
    return path
