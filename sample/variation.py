"""Per-page variation: paraphrased phrasings (so templated pages do not share long n-grams)
and light word swaps (the crawl's near-duplicates). Word lists in sample/data/paraphrases.json."""

from __future__ import annotations

import re

from sample.chrome import Draft, _draft
from sample.text import Block, Rng, data_json

_WORDING = data_json("paraphrases.json")

_SYN: dict[str, str] = _WORDING["synonyms"]

_SYN_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _SYN), key=len, reverse=True))
                     + r")\b")

_MATH_SPLIT = re.compile(r"(\$\$.+?\$\$|\$.+?\$)", re.S)


def _perturb(blocks: list[Block], rng: Rng, n: int, math: bool = True) -> list[Block]:
    """Swap a few words outside the math: the near-duplicates of the crawl."""
    pieces: list[list[str]] = []
    cands: list[tuple[int, int, int, int]] = []
    flat = [(i, t) for i, b in enumerate(blocks) if b[0] in ("p", "raw")
            for t in [b[1]]]
    for bi, text in flat:
        parts = _MATH_SPLIT.split(text) if math and blocks[bi][0] == "p" else [text]
        pieces.append(parts)
        for si, part in enumerate(parts):
            if si % 2 == 1 and len(parts) > 1:
                continue
            for m in _SYN_RE.finditer(part):
                cands.append((len(pieces) - 1, si, m.start(), m.end()))
    chosen = sorted(rng.sample(cands, min(n, len(cands))), reverse=True)
    for pi, si, a, b in chosen:
        part = pieces[pi][si]
        pieces[pi][si] = part[:a] + _SYN[part[a:b]] + part[b:]
    out = list(blocks)
    for (bi, _), parts in zip(flat, pieces, strict=True):
        out[bi] = (blocks[bi][0], "".join(parts))
    return out


def _perturb_html(doc: str, rng: Rng, n: int) -> str:
    """_perturb for rendered HTML: edit text nodes only, never tags or $-delimited TeX."""
    parts = re.split(r"(<[^>]+>)", doc)
    cands = [(i, m.start(), m.end()) for i, part in enumerate(parts)
             if i % 2 == 0 and not part.lstrip().startswith("$")
             for m in _SYN_RE.finditer(part)]
    for i, a, b in sorted(rng.sample(cands, min(n, len(cands))), reverse=True):
        parts[i] = parts[i][:a] + _SYN[parts[i][a:b]] + parts[i][b:]
    return "".join(parts)


# Interchangeable phrasings. Every page draws its own choice at every occurrence, so pages
# built from the same template do not share long word n-grams (which a MinHash dedup would
# otherwise flag as near-duplicates that the labels do not list).
_PARAPHRASES: list[tuple[str, ...]] = [tuple(g) for g in _WORDING["groups"]]
# one-way swaps: the reverse direction would break other senses of the word
_ONE_WAY: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _WORDING["one_way"].items()}

_PARA_MAP = {p: g for g in _PARAPHRASES for p in g} | _ONE_WAY

_PARA_RE = re.compile("|".join(
    (r"\b" if p[0].isalnum() else "") + re.escape(p) + (r"\b" if p[-1].isalnum() else "")
    for p in sorted(_PARA_MAP, key=len, reverse=True)))


def _vary_text(text: str, rng: Rng) -> str:
    parts = _MATH_SPLIT.split(". " + text)  # the ". " lets sentence-initial phrases match
    for i in range(0, len(parts), 2):
        parts[i] = _PARA_RE.sub(lambda m: rng.choice(_PARA_MAP[m.group(0)]), parts[i])
    return "".join(parts)[2:]


def _vary_blocks(blocks: list[Block], rng: Rng) -> list[Block]:
    out: list[Block] = []
    for b in blocks:
        if b[0] == "p":
            out.append(("p", _vary_text(b[1], rng)))
        elif b[0] in ("ul", "ol"):
            out.append((b[0], [_vary_text(x, rng) for x in b[1]]))
        else:  # headings, verbatim quotes, raw HTML stay as written
            out.append(b)
    return out


def _vdraft(rng: Rng, path: str, title: str, blocks: list[Block], *args: object,
            **kw: object) -> Draft:
    """_draft with this page's own phrasing drawn from _PARAPHRASES."""
    return _draft(path, title, _vary_blocks(blocks, rng), *args, **kw)  # type: ignore[arg-type]
