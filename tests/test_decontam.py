"""Decontamination: words (the vectorized split == the regex definition on every real text), the
benchmark index, recall of planted leaks in real pages, precision on real texts, outputs pinned to
their digest, conf/benchmarks.yaml, error lines, batch == loop, serialization and determinism.

Benchmarks and pages are the real ones under ../shared/data (benchmarks/, general_text/,
math_text/); the tests skip where that folder is absent.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import decontam
from pipeline.decontam import (
    BenchmarkSpec,
    Cleaned,
    DecontamError,
    NgramIndex,
    decontaminate,
    decontaminate_batch,
    iter_benchmark_texts,
    load_benchmark_specs,
    word_spans,
    words,
)
from tests.conftest import ROOT, data_path
from tests.pages import read_jsonl

CONF = ROOT / "conf" / "benchmarks.yaml"
GENERAL = ("general_text", "web_article_clean_texts.jsonl")
BOOK_OF_PROOFS = ("math_text", "bookofproofs_markdown", "bookofproofs_markdown.jsonl.gz")
# Measured with conf/benchmarks.yaml: 0 hits on the 441 general texts; on the 2986 bookofproofs pages
# 3 hits, all in one segment (page 650): "there is a one-to-one correspondence between", a stock
# phrase that olympiadbench 2350, mmlu_stem 774 and aime24 71 also use. No true overlap was found.
MAX_GENERAL_HITS = 1
MAX_BOOK_OF_PROOFS_HITS = 5
MAX_BOOK_OF_PROOFS_SEGMENTS = 2


@pytest.fixture(scope="module")
def root() -> Path:
    return data_path("benchmarks")


@pytest.fixture(scope="module")
def specs() -> list[BenchmarkSpec]:
    return load_benchmark_specs(CONF)


@pytest.fixture(scope="module")
def index(specs: list[BenchmarkSpec], root: Path) -> NgramIndex:
    return NgramIndex.build(specs, root)


@pytest.fixture(scope="module")
def pages() -> list[str]:
    """Real general-web pages with several paragraphs and no benchmark hit of their own."""
    texts = [row["text"] for row in read_jsonl(data_path(*GENERAL))]
    return [t for t in texts if t.count("\n") >= 6][:80]


def _records(root: Path, file: str) -> list[dict]:
    return [json.loads(line) for line in (root / file).read_text(encoding="utf-8").splitlines()]


def _plant(page: str, leak: str, at: int) -> str:
    """The page with `leak` as a paragraph of its own before line `at` (negative: from the end)."""
    lines = page.split("\n")
    lines.insert(at if at >= 0 else len(lines) + at + 1, leak)
    return "\n".join(lines)


def _check_leak(index: NgramIndex, planted: str, original: str, expected: tuple[str, str]) -> Cleaned:
    cleaned = decontaminate(planted, index)
    found = {(h.benchmark, h.problem_id) for h in cleaned.hits}
    assert expected in found, f"{expected} not found in {sorted(found)}"
    assert cleaned.text == original  # the leak's line is gone, every other byte is the page's
    for hit in cleaned.hits:  # the span is the matched run of words, in the original text
        assert words(planted[hit.start:hit.end]) == hit.ngram.split(" ")
    assert sum(b - a for a, b in cleaned.removed) == len(planted) - len(original)
    return cleaned


# ---------------------------------------------------------------- words


def test_words_units() -> None:
    assert words("Janet’s ducks lay 16 eggs") == ["janet", "'", "s", "ducks", "lay", "16", "eggs"]
    # LaTeX commands are words; $, braces, delimiters, sizing and spacing are formatting
    latex = words(r"$\frac{1}{2} + \sqrt{x}$")
    assert latex == ["\\frac", "1", "2", "+", "\\sqrt", "x"]
    assert words(r"\(\dfrac{1}2 +\sqrt x\)") == latex
    assert words(r"\[ \left( \frac 1 2 \right) \, \quad \]") == ["(", "\\frac", "1", "2", ")"]
    # numbers stay numbers; case, whitespace, full-width forms and the minus sign never matter
    assert words("X = 120 -\t7") == words("x=120−7") == words("ｘ＝１２０－７") == ["x", "=", "120", "-", "7"]
    assert words("soft\u00adhyphen\u200b and nbsp\u00a0ﬁne") == ["softhyphen", "and", "nbsp", "fine"]
    # CJK characters are words of their own, full-width punctuation is ASCII punctuation
    assert words("芳芳买了一本书有99页，看了90页？") == [*"芳芳买了一本书有", "99", "页", ",", "看", "了", "90", "页", "?"]
    assert words("ジャネットのアヒル") == list("ジャネットのアヒル")
    # letters keep their combining marks (Devanagari, Telugu, Thai)
    assert words("తన బాతులు") == ["తన", "బాతులు"]


def _vectorized_words(folded: str) -> list[str]:
    _, _, starts, ends = decontam._spans(folded)
    return [folded[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


EDGES = ["", "\n", "\n\n\n", "\\", "x \\", "\\\\12", "\\12", "\\ab\\cd", "\\abé", "\\abécd\\x", "\\é",
         "\\\n", "\\a\\b", "\\ABc", "\\aB", "x\t\ry\x00\x01\x7f", "\r\n\f\v\x1c\x85\u2028", "$a{b}c$ $$",
         "1" * 100, "a" * 100, "a1b2 1.5e-3", "naïve \\naïve", "e\u0301 1\u0301 \\a\u0301",
         "𝑥𝑦 😀 \U00020001\U00020002", "中文字 カタカナ ひらがな 한국어", "\ud800x \udfff", "٣٤ ١٢x", "ǅx ᾈ"]


def test_vectorized_words_edge_cases() -> None:
    """`_spans` gives exactly the regex's matches, on strings as they come (not folded) and folded."""
    regex = decontam._tables()[0]
    for text in EDGES:
        for s in (text, decontam._folded(text, with_map=False)[0]):
            _, _, starts, ends = decontam._spans(s)
            assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == [m.span() for m in regex.finditer(s)], s
        assert _vectorized_words(decontam._folded(text, with_map=False)[0]) == words(text), text
    hashes, lines, sizes = decontam._text_words([decontam._folded(t, with_map=False)[0] for t in EDGES])
    assert sizes.tolist() == [len(words(t)) for t in EDGES] and len(hashes) == len(lines) == sizes.sum()
    # a word hashes the same in an ASCII batch (bytes) and in one with other characters (code points)
    ascii_hashes = decontam._text_words(["x \\frac 12 " + "7" * 40])[0]
    assert decontam._text_words(["x \\frac 12 " + "7" * 40, "é"])[0][:4].tolist() == ascii_hashes.tolist()


def test_vectorized_words_on_real_texts(specs: list[BenchmarkSpec], root: Path) -> None:
    """The pages' words (`_spans` over the formatting-dropped folding) are `words()` on the real texts:
    the web and math pages (a quarter of the 28 MB stacks project, to keep this test short; all of it
    was compared once; ~7 s in all) and every benchmark text (as matched: calculator annotations out)."""
    corpora = {"general": [row["text"] for row in read_jsonl(data_path(*GENERAL))],
               "bookofproofs": [row["text"] for row in read_jsonl(data_path(*BOOK_OF_PROOFS))]}
    stacks = data_path("math_text", "stacks_project", "stacks_project_sections.jsonl.gz")
    corpora["stacks"] = [v for row in read_jsonl(stacks) for v in row.values() if isinstance(v, str)][::4]
    for spec in load_benchmark_specs(CONF, include_train=True):
        if spec.fields:
            corpora[spec.name] = [decontam._CALCULATOR.sub(" ", t) for _, _, t in iter_benchmark_texts(spec, root)]
    for name, texts in corpora.items():
        # one joined text per corpus: no word crosses a line break, and folding is per character
        joined = "\n".join(texts)
        folded = decontam._folded(joined, with_map=False)[0]
        assert _vectorized_words(folded) == words(joined), name
    # and text by text through the batch path: words per text, one hash per distinct word, prose bits
    texts = corpora["general"] + corpora["bookofproofs"] + corpora["cmath"] + corpora["mgsm"]
    folded = [decontam._folded(t, with_map=False)[0] for t in texts]
    hashes, _, sizes = decontam._text_words(folded)
    per_text = [words(t) for t in texts]
    found = [w for text_words in per_text for w in text_words]
    assert sizes.tolist() == [len(text_words) for text_words in per_text]
    by_word = dict(zip(found, hashes.tolist(), strict=True))
    assert len(set(by_word.values())) == len(by_word) > 50_000  # no collision, each word one hash
    assert all(by_word[w] == h for w, h in zip(found, hashes.tolist(), strict=True))
    assert any(len(w) > decontam._LONG_WORD for w in by_word)  # the xxh64 path ran too
    prose = re.compile("[\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")
    for w, h in by_word.items():
        assert h & 1 == ((len(w) >= 3 and w[0] != "\\" and not w.isdigit()) or bool(prose.match(w))), w


def test_word_spans_point_into_the_original_text() -> None:
    text = "Ａ… ﬁnal “quote” \\(\\frac{3}{4}\\)\nnext  LINE"
    found, spans = word_spans(text)
    assert found == ["a", ".", ".", ".", "final", '"', "quote", '"', "\\frac", "3", "4", "next", "line"]
    assert [text[a:b] for a, b in spans] == ["Ａ", "…", "…", "…", "ﬁnal", "“", "quote", "”", "\\frac", "3", "4",
                                             "next", "LINE"]


def test_gsm8k_calculator_annotations_are_stripped(tmp_path: Path) -> None:
    answer = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day at the market, every single day."
    (tmp_path / "g.jsonl").write_text(json.dumps({"answer": answer}) + "\n", encoding="utf-8")
    index = NgramIndex.build([BenchmarkSpec("g", "g.jsonl", ("answer",), "en")], tmp_path)
    page = "Intro.\nJanet sells 16 - 3 - 4 = 9 duck eggs a day at the market, every single day.\nEnd."
    cleaned = decontaminate(page, index)
    assert cleaned.text == "Intro.\nEnd."
    assert cleaned.hits[0].ngram == "janet sells 16 - 3 - 4 = 9 duck eggs a day at the market , every single day ."


# ---------------------------------------------------------------- recall on real benchmarks and pages


def _leaks(root: Path) -> list[tuple[str, tuple[str, str]]]:
    """(leak text, (benchmark, problem id)) planted in pages: whole problems, slices, variants."""
    gsm8k = _records(root, "gsm8k/test.jsonl")
    math = _records(root, "math/test.jsonl")
    cmath = _records(root, "cmath/cmath_dev.jsonl")
    mgsm = _records(root, "mgsm/mgsm_all.jsonl")
    leaks = [
        (gsm8k[5]["question"], ("gsm8k", "5")),
        (gsm8k[300]["question"], ("gsm8k", "300")),
        # the answer as a page shows it: no calculator annotations, one paragraph
        (" ".join(re.sub(r"<<[^>]*>>", "", gsm8k[5]["answer"]).split()), ("gsm8k", "5")),
        # changed case and whitespace
        ("  ".join(gsm8k[700]["question"].upper().split()).replace(". ", ".\t"), ("gsm8k", "700")),
        (cmath[2]["input"], ("cmath", "2")),
        (cmath[100]["input"].replace("，", ",").replace("？", "?"), ("cmath", "100")),
    ]
    # a 12-word slice of a question
    question = gsm8k[40]["question"].split()
    leaks.append((" ".join(question[4:16]), ("gsm8k", "40")))
    # MATH problems with LaTeX: as is, \( \) instead of $, no $ at all, spaced operators, \dfrac
    latex = [r for r in math if "\\frac" in r["problem"] and 25 < len(r["problem"].split()) < 60]
    for record, variant in zip(latex, range(4), strict=False):
        problem = record["problem"]
        problem = [problem,
                   re.sub(r"\$([^$]*)\$", r"\\(\1\\)", problem),
                   problem.replace("$", ""),
                   problem.replace("+", " + ").replace("=", " = ").replace("\\frac", "\\dfrac")][variant]
        leaks.append((problem, ("math", str(record["idx"]))))
    # MGSM in other languages (line number = problem id)
    for lang in ("de", "fr", "es", "ru", "ja", "zh", "bn", "te", "th", "sw"):
        line = next(i for i, r in enumerate(mgsm) if r["lang"] == lang and r["idx"] == 17)
        leaks.append((mgsm[line]["question"], ("mgsm", str(line))))
    return leaks


def test_recall_planted_leaks(index: NgramIndex, root: Path, pages: list[str]) -> None:
    leaks = _leaks(root)
    assert len(leaks) >= 20
    for i, (leak, expected) in enumerate(leaks):
        page = pages[i % len(pages)]
        at = (1, 3, -1, 0)[i % 4]  # the first, a middle and the last line
        _check_leak(index, _plant(page, leak, at), page, expected)


def test_recall_leak_inside_a_paragraph(index: NgramIndex, root: Path, pages: list[str]) -> None:
    """A 12-word slice in the middle of a real paragraph: that paragraph goes, the others stay."""
    question = _records(root, "gsm8k/test.jsonl")[40]["question"].split()
    page = pages[7]
    lines = page.split("\n")
    target = max(range(len(lines)), key=lambda j: len(lines[j]))
    half = len(lines[target]) // 2
    cut = lines[target].rfind(" ", 0, half)
    lines[target] = f"{lines[target][:cut]} {' '.join(question[4:16])}{lines[target][cut:]}"
    planted = "\n".join(lines)
    cleaned = decontaminate(planted, index)
    assert ("gsm8k", "40") in {(h.benchmark, h.problem_id) for h in cleaned.hits}
    assert cleaned.text == "\n".join(lines[:target] + lines[target + 1:])


def test_gsm8k_leak_also_hits_mgsm_english(index: NgramIndex, root: Path, pages: list[str]) -> None:
    """MGSM's English problems are GSM8K's first 250: one leak, both benchmarks reported."""
    leak = _records(root, "gsm8k/test.jsonl")[17]["question"]
    line = next(i for i, r in enumerate(_records(root, "mgsm/mgsm_all.jsonl")) if r["lang"] == "en" and r["idx"] == 17)
    cleaned = _check_leak(index, _plant(pages[0], leak, 2), pages[0], ("gsm8k", "17"))
    assert ("mgsm", str(line)) in {(h.benchmark, h.problem_id) for h in cleaned.hits}
    assert len(cleaned.removed) == 1 and len(cleaned.hits) == 2  # one segment, one hit per problem


def test_short_texts_are_matched_whole(index: NgramIndex, root: Path, pages: list[str]) -> None:
    svamp = _records(root, "extra_math_evals/svamp.test.jsonl")
    record = next(r for r in svamp if 6 <= len(words(r["Question"])) <= 9)
    question = record["Question"]
    expected = ("svamp", record["ID"])
    planted = _plant(pages[3], f"She asked: {question.lower()} Nobody answered.", 2)
    _check_leak(index, planted, pages[3], expected)
    # without its last word it is not the whole short text any more
    partial = question.rsplit(" ", 1)[0]
    cleaned = decontaminate(_plant(pages[3], f"She asked: {partial}", 2), index)
    assert expected not in {(h.benchmark, h.problem_id) for h in cleaned.hits}


def test_short_tiny_and_formula_texts(tmp_path: Path) -> None:
    rows = [{"q": "Hello world"},  # 2 words: skipped
            {"q": "Expand $(x+5)^2$"},  # 8 words, 1 prose word: skipped
            {"q": "Find the largest prime."},  # 5 words, 3 prose: a short text
            {"q": "$\\frac{1}{16}$"},  # a bare answer: skipped
            # a formula problem: only 2 prose words, matched as a whole
            {"q": "Simplify $(2-2i)(5+5i)$, where $i^2 = -1.$"}]
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    index = NgramIndex.build([BenchmarkSpec("b", "b.jsonl", ("q",), "en")], tmp_path)
    assert index.stats["b"] == {"texts": 5, "long_texts": 1, "short_texts": 1, "skipped_tiny": 1,
                                "skipped_no_prose": 2, "ngrams": 13, "formula_ngrams": 13}

    def hit_ids(text: str) -> list[str]:
        return [h.problem_id for h in decontaminate(text, index).hits]

    assert hit_ids("say hello world") == []
    assert hit_ids("Expand (x+5)^2") == []
    assert hit_ids("Then find the LARGEST prime. Done") == ["2"]
    assert hit_ids("find the largest") == []
    assert hit_ids("so $\\frac{1}{16}$ it is") == []
    assert hit_ids("Exercise: simplify \\((2 - 2i)(5 + 5i)\\), where \\(i^2=-1\\).") == ["4"]
    assert hit_ids("we get (2-2i)(5+5i) = 20") == []  # the formula alone is no proof of a leak


# ---------------------------------------------------------------- precision on real texts


def _report(name: str, texts: list[str], results: list[Cleaned]) -> list:
    hits = [(i, h) for i, r in enumerate(results) for h in r.hits]
    print(f"\n{name}: {len(texts)} texts, {len(hits)} hits, "
          f"{sum(len(r.removed) for r in results)} segments removed")
    for i, hit in hits:
        print(f"  text {i}: {hit.benchmark} {hit.problem_id}: {hit.ngram!r}")
    return hits


def test_precision_on_real_texts(index: NgramIndex) -> None:
    general = [row["text"] for row in read_jsonl(data_path(*GENERAL))]
    book = [row["text"] for row in read_jsonl(data_path(*BOOK_OF_PROOFS))]
    assert len(general) == 441
    hits = _report("general_text", general, decontaminate_batch(general, index))
    assert len(hits) <= MAX_GENERAL_HITS
    results = decontaminate_batch(book, index)
    hits = _report("bookofproofs", book, results)
    assert len(hits) <= MAX_BOOK_OF_PROOFS_HITS
    assert sum(len(r.removed) for r in results) <= MAX_BOOK_OF_PROOFS_SEGMENTS


# ---------------------------------------------------------------- the index


def test_index_over_conf_benchmarks(index: NgramIndex, specs: list[BenchmarkSpec]) -> None:
    names = [s.name for s in specs]
    assert {"gsm8k", "math", "math500", "cmath", "cmath_distractor", "mgsm", "mmlu_stem", "ocw", "svamp", "asdiv",
            "sat_math", "aime24", "amc23", "college_math", "gaokao2023en", "olympiadbench", "champ"} == set(names)
    assert not any("train" in s.file for s in specs)
    assert index.stats["gsm8k"]["texts"] == 2 * 1319 and index.stats["math"]["texts"] == 2 * 5000
    assert index.stats["mgsm"]["texts"] == 2750 and index.stats["cmath"]["long_texts"] == 600
    assert all(s["ngrams"] > 0 for s in index.stats.values())
    assert index.problem(int(index.refs[0]))[0] in names
    assert len(index.hashes) < 5_000_000 and index.nbytes < 100_000_000
    assert len(index.to_bytes()) < 60_000_000


def test_batch_equals_loop_and_round_trip(index: NgramIndex, root: Path, pages: list[str]) -> None:
    texts = list(pages[:40])
    for i, (leak, _) in enumerate(_leaks(root)):
        texts[i] = _plant(texts[i], leak, 2)
    texts += ["", "\n\n", "one line only", _leaks(root)[0][0]]  # empty texts, a leak that is the whole text
    batch = decontaminate_batch(texts, index)
    assert batch == [decontaminate(t, index) for t in texts]
    assert sum(bool(c.hits) for c in batch) >= 20
    assert batch[-1].text == "" and batch[-1].removed == [(0, len(texts[-1]))]
    again = NgramIndex.from_bytes(index.to_bytes())
    assert decontaminate_batch(texts, again) == batch
    assert again.stats == index.stats and again.lengths == index.lengths


def test_batch_in_small_chunks(index: NgramIndex, root: Path, pages: list[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is split and hashed ~256k characters at a time: chunk borders change nothing."""
    texts = [_plant(p, leak, 1) for p, (leak, _) in zip(pages, _leaks(root), strict=False)] + pages[:10]
    whole = decontaminate_batch(texts, index)
    for size in (300, 1):  # several texts a chunk, one text a chunk
        monkeypatch.setattr(decontam, "_CHUNK_CHARS", size)
        assert decontaminate_batch(texts, index) == whole


# sha256 of every output (texts, removed spans, hits) of `_pinned_pages`, as the regex tokenizer with
# per-word xxh64 (index version 1, before the vectorized words) gave them: 7542 pages, 4013 with hits,
# 12743 hits, 6490 segments removed. A change of words, hashing or lookups must leave it as it is.
PINNED = "8c5c6cab767d11636ae5038946f4df39d1b88fc05619fa98e23cabc69d284382"


def _pinned_pages(specs: list[BenchmarkSpec], root: Path) -> list[str]:
    """The real pages as they are, every 9th benchmark text as a page, and each general page with one of
    those planted at some line."""
    general = [row["text"] for row in read_jsonl(data_path(*GENERAL))]
    book = [row["text"] for row in read_jsonl(data_path(*BOOK_OF_PROOFS))]
    leaks = [text for spec in specs for _, _, text in iter_benchmark_texts(spec, root)][::9]
    pages = general + book + leaks
    for i, page in enumerate(general):
        lines = page.split("\n")
        lines.insert(i % (len(lines) + 1), leaks[i * 7 % len(leaks)])
        pages.append("\n".join(lines))
    return pages


def test_outputs_are_pinned(specs: list[BenchmarkSpec], root: Path, index: NgramIndex) -> None:
    out = decontaminate_batch(_pinned_pages(specs, root), index)
    rows = [[c.text, c.removed, [[h.benchmark, h.problem_id, h.ngram, h.start, h.end] for h in c.hits]]
            for c in out]
    assert (len(out), sum(bool(c.hits) for c in out), sum(len(c.hits) for c in out),
            sum(len(c.removed) for c in out)) == (7542, 4013, 12743, 6490)
    assert hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest() == PINNED


def test_build_is_deterministic(specs: list[BenchmarkSpec], root: Path, index: NgramIndex) -> None:
    assert NgramIndex.build(specs, root).to_bytes() == index.to_bytes()


def test_removed_spans_at_the_edges(tmp_path: Path) -> None:
    text = "the quick brown fox jumps over the lazy dog again and again"
    (tmp_path / "b.jsonl").write_text(json.dumps({"q": text}) + "\n", encoding="utf-8")
    index = NgramIndex.build([BenchmarkSpec("b", "b.jsonl", ("q",), "en")], tmp_path)
    for page, left, removed in [
        (f"{text}\nkeep", "keep", [(0, len(text) + 1)]),
        (f"keep\n{text}", "keep", [(4, 5 + len(text))]),
        (f"keep\n{text}\n{text}", "keep", [(4, 5 + len(text)), (5 + len(text), 6 + 2 * len(text))]),
        (f"{text}\nkeep\n{text}", "keep", [(0, len(text) + 1), (len(text) + 5, 2 * len(text) + 6)]),
        (text, "", [(0, len(text))]),
        (f"{text}\n", "", [(0, len(text) + 1)]),
        ("a b\nthe quick brown fox jumps\nover the lazy dog again and again", "a b\nthe quick brown fox jumps\n"
         "over the lazy dog again and again", []),  # a gram across a line break is no match
    ]:
        cleaned = decontaminate(page, index)
        assert (cleaned.text, cleaned.removed) == (left, removed), page
        kept = "".join(page[a:b] for a, b in zip([0] + [e for _, e in removed], [s for s, _ in removed] + [len(page)],
                                                   strict=True))
        assert kept == cleaned.text


# ---------------------------------------------------------------- files and errors


def test_conf_file_entries(specs: list[BenchmarkSpec], root: Path) -> None:
    by_name = {s.name: s for s in specs}
    assert by_name["gsm8k"] == BenchmarkSpec("gsm8k", "gsm8k/test.jsonl", ("question", "answer"), "en")
    assert by_name["mmlu_stem"].fields == ("question",)
    assert by_name["mgsm"].language == "multi"
    for spec in specs:  # every configured field exists in every record
        assert sum(1 for _ in iter_benchmark_texts(spec, root)) > 0


def test_list_fields_and_ids(root: Path) -> None:
    spec = BenchmarkSpec("olympiadbench", "extra_math_evals/olympiadbench.test.jsonl", ("solution",), "en",
                         id_field="id")
    problem_id, field, text = next(iter_benchmark_texts(spec, root))
    record = _records(root, spec.file)[0]
    assert (problem_id, field) == (str(record["id"]), "solution") and text == "\n".join(record["solution"])


def test_tsv_and_parquet(root: Path, tmp_path: Path) -> None:
    spec = BenchmarkSpec("mgsm_de", "mgsm/tsv/mgsm_de.tsv", ("question",), "de", tsv_columns=("question", "answer"))
    rows = list(iter_benchmark_texts(spec, root))
    assert len(rows) == 250 and rows[0][0] == "0" and rows[0][2].startswith("Janets Enten legen 16 Eier")
    pq.write_table(pa.table({"pid": ["a", "b"], "text": ["x y z", None]}), tmp_path / "t.parquet")
    spec = BenchmarkSpec("p", "t.parquet", ("text",), "en", id_field="pid")
    assert list(iter_benchmark_texts(spec, tmp_path)) == [("a", "text", "x y z"), ("b", "text", "")]
    with pytest.raises(DecontamError, match=r"t\.parquet:0: no column missing"):
        list(iter_benchmark_texts(BenchmarkSpec("p", "t.parquet", ("missing",), "en"), tmp_path))


def _yaml_error(tmp_path: Path, body: str) -> str:
    path = tmp_path / "benchmarks.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DecontamError) as err:
        load_benchmark_specs(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    return message


def test_benchmarks_yaml_errors(tmp_path: Path) -> None:
    good = "  - name: a\n    file: a.jsonl\n    fields: [q]\n    language: en\n"
    assert load_benchmark_specs(_write(tmp_path, f"benchmarks:\n{good}")) == [
        BenchmarkSpec("a", "a.jsonl", ("q",), "en")]
    message = _yaml_error(tmp_path, f"benchmarks:\n{good}  - name: b\n    file: b.jsonl\n    fields: [q]\n"
                                    f"    language: en\n    filed: x\n")
    assert message.endswith(":10: unknown key 'filed' in benchmark entry (known: name, file, fields, language, "
                            "format, id_field, tsv_columns, sha256, source)")
    assert _yaml_error(tmp_path, f"benchmarks:\n{good}  - name: b\n    file: b.jsonl\n    language: en\n"
                       ).endswith(":6: benchmark entry misses fields")
    assert _yaml_error(tmp_path, f"benchmarks:\n{good}{good}").endswith(
        ":6: duplicate benchmark name 'a' (first at line 2)")
    assert _yaml_error(tmp_path, f"benchmarks:\n{good}    format: csv\n").endswith(
        ":6: format must be one of jsonl, parquet, tsv")
    assert ":1: expected exactly one top-level key" in _yaml_error(tmp_path, "benchmark:\n" + good)
    assert ":3: invalid YAML" in _yaml_error(tmp_path, "benchmarks:\n  - name: [a\n  - x: 1\n")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_benchmark_file_errors(tmp_path: Path) -> None:
    good = json.dumps({"q": "a question", "id": 7})
    cases = {
        "broken.jsonl": (f"{good}\n\n{good}\n{{not json\n", r"broken\.jsonl:4: not valid JSON"),
        "list.jsonl": (f"{good}\n[1, 2]\n", r"list\.jsonl:2: expected a JSON object, got list"),
        "missing.jsonl": (f"{good}\n{good}\n{json.dumps({'id': 3})}\n", r"missing\.jsonl:3: record has no field 'q'"),
    }
    for name, (body, pattern) in cases.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
        spec = BenchmarkSpec(name, name, ("q",), "en")
        with pytest.raises(DecontamError, match=f"^{re.escape(str(tmp_path))}/{pattern}"):
            NgramIndex.build([spec], tmp_path)
    with pytest.raises(DecontamError, match=r"nowhere\.jsonl:0: benchmark file not found"):
        list(iter_benchmark_texts(BenchmarkSpec("x", "nowhere.jsonl", ("q",), "en"), tmp_path))
    with pytest.raises(DecontamError, match=r"broken\.jsonl:1: record has no field 'pid'"):
        list(iter_benchmark_texts(BenchmarkSpec("x", "broken.jsonl", ("q",), "en", id_field="pid"), tmp_path))
