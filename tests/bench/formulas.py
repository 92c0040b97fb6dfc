"""Formulas in the markup vs formulas in the extracted text, per markup family, on real pages.

The formulas are read from each page's markup here, with lxml and rules of this file's own (not
pipeline/extract.py's), so the count checks the extractor instead of repeating it. A formula is
found when its TeX, normalised on both sides (whitespace, braces, `\\displaystyle`-like no-ops,
`\\left`/`\\right`, spacing commands, the name of a matrix-like environment), is a substring of the
normalised text; for mathmine's backends the bench also counts formulas written more than once.

MathML that carries no TeX (the MathJax 3 page) has no TeX in the page to compare with: its
formulas are listed by hand below, read off the rendered page.

    python -m tests.bench.formulas [--max-pages N]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"

# The MathJax 3 test page of math_markup_variety (mozilla/readability test-pages/mathjax), its 13
# formulas in order, written by hand from the rendered page.
HAND_TEX = {
    "http://unknown-url.invalid/mozilla_readability/test/test-pages/mathjax/source.html": [
        r"a \neq 0",
        r"ax^2 + bx + c = 0",
        r"x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}\text{ . }",
        r"\begin{aligned} \dot{x} & = \sigma(y-x) \\ \dot{y} & = \rho x - y - xz \\"
        r" \dot{z} & = -\beta z + xy \end{aligned}",
        r"(\sum_{k=1}^n a_k b_k)^2 \leq (\sum_{k=1}^n a_k^2) (\sum_{k=1}^n b_k^2)",
        r"\mathbf{V}_1 \times \mathbf{V}_2 = |\begin{matrix} \mathbf{i} & \mathbf{j} & \mathbf{k} \\"
        r" \frac{\partial X}{\partial u} & \frac{\partial Y}{\partial u} & 0 \\"
        r" \frac{\partial X}{\partial v} & \frac{\partial Y}{\partial v} & 0 \end{matrix}|",
        r"k",
        r"n",
        r"P(E) = \binom{n}{k} p^k (1-p)^{n-k}",
        r"\frac{1}{(\sqrt{\phi \sqrt{5}}-\phi) e^{\frac25 \pi}} = 1+\frac{e^{-2\pi}} {1+\frac{e^{-4\pi}}"
        r" {1+\frac{e^{-6\pi}} {1+\frac{e^{-8\pi}} {1+\ldots} } } }",
        r"1 + \frac{q^2}{(1-q)}+\frac{q^6}{(1-q)(1-q^2)}+\cdots = \prod_{j=0}^{\infty}"
        r"\frac{1}{(1-q^{5j+2})(1-q^{5j+3})}, \quad\quad \text{ for }|q|<1.",
        r"\begin{aligned} \nabla \times \vec{\mathbf{B}} -\, \frac1c\, \frac{\partial\vec{\mathbf{E}}}"
        r"{\partial t} & = \frac{4\pi}{c}\vec{\mathbf{j}} \\ \nabla \cdot \vec{\mathbf{E}} & = 4 \pi \rho \\"
        r" \nabla \times \vec{\mathbf{E}}\, +\, \frac1c\, \frac{\partial\vec{\mathbf{B}}}{\partial t} &"
        r" = \vec{\mathbf{0}} \\ \nabla \cdot \vec{\mathbf{B}} & = 0 \end{aligned}",
        r"\sqrt{3x-1}+(1+x)^2",
    ],
}

_NOOPS = re.compile(
    r"\\(?:displaystyle|textstyle|scriptstyle|left|right|[bB]igg?[lr]?|limits|nolimits|mathord|quad|qquad)"
    r"(?![A-Za-z])|\\[,;:! ]|\\begin\{[a-z]*\*?\}|\\end\{[a-z]*\*?\}|\\genfrac\{\}\{\}\{0pt\}\{\}|\\binom|~"
)
_SYNONYMS = (("\\le ", "\\leq "), ("\\ge ", "\\geq "), ("\\ne ", "\\neq "), ("\\dots", "\\ldots"),
             ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\to ", "\\rightarrow "), ("\\iff", "\\Longleftrightarrow"),
             ("\\vert", "|"), ("\\ast", "*"), ("\\lvert", "|"), ("\\rvert", "|"))
_MATHJAX_RENDERED = {"MathJax", "MathJax_Display", "MathJax_Preview", "MathJax_CHTML", "MathJax_SVG",
                     "MJX_Assistive_MathML"}
_LATEX_IMG = re.compile(r"latex\.php|codecogs\.com|mimetex|mathtex|quicklatex|chart\?cht=tx", re.I)


def normalise(tex: str) -> str:
    """The part of a formula that every faithful copy shares."""
    # A TeX line break `\\` before a space must not read as the spacing command `\ `.
    tex = " ".join(tex.split()).replace("\\\\", "\0") + " "
    for old, new in _SYNONYMS:
        tex = tex.replace(old, new)
    # A command followed by a space or a brace: the space and the braces go below either way.
    tex = _NOOPS.sub("", tex)
    return re.sub(r"[\s{}]", "", tex.replace("−", "-")).replace("\0", "\\\\")


def _classes(el: lxml.html.HtmlElement) -> set[str]:
    return set((el.get("class") or "").split())


def _inside(el: lxml.html.HtmlElement, test: Callable[[lxml.html.HtmlElement], bool]) -> bool:
    return any(test(a) for a in el.iterancestors() if isinstance(a.tag, str))


def markup_formulas(body: bytes, url: str) -> Iterator[tuple[str, str]]:
    """(family, TeX) for every formula in the page's markup; None TeX when it has none."""
    try:
        root = lxml.html.document_fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return
    scripts = [s for s in root.iter("script") if (s.get("type") or "").lower().startswith("math/tex")]
    for script in scripts:
        if (script.text or "").strip():
            yield "mathjax", script.text
    hand = iter(HAND_TEX.get(url, []))
    for _container in root.iter("mjx-container"):
        yield "mathjax3", next(hand, None)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "math":
            if scripts and _inside(el, lambda a: bool(_classes(a) & _MATHJAX_RENDERED)):
                continue  # MathJax 2's copy of a script's formula
            if _inside(el, lambda a: a.tag == "mjx-container"):
                continue
            katex = _inside(el, lambda a: "katex" in _classes(a))
            ann = el.xpath('.//*[local-name()="annotation"][@encoding="application/x-tex"]')
            tex = ann[0].text_content() if ann else el.get("alttext")
            yield ("katex" if katex else "mathml"), tex
        elif el.tag == "img":
            src = " ".join(el.get(a) or "" for a in ("src", "data-src", "data-lazy-src"))
            if _LATEX_IMG.search(src) or re.search(r"(^|\s)(latex|wp-latex)(\s|$)", el.get("class") or ""):
                if _inside(el, lambda a: "mwe-math-element" in _classes(a)):
                    continue  # MediaWiki's fallback image of the MathML counted above
                if el.get("alt"):
                    yield "latex_img", el.get("alt")
        elif "math-container" in _classes(el):
            yield "math_container", el.text_content()
        for name in ("data-tex", "data-latex", "data-formula"):
            if el.get(name):
                yield "data_tex", el.get(name)
    for node in root.xpath("//script|//style|//head|//*[contains(@class, 'math-container')]"):
        node.drop_tree()
    visible = root.text_content()
    for formula in re.findall(r"\\\(.+?\\\)|\\\[.+?\\\]", visible, re.S):
        yield "tex_delims", formula
    for _, formula in re.findall(r"\[(tex|math|latex)\](.+?)\[/\1\]", visible, re.I | re.S):
        yield "bbcode", formula


def real_pages(max_pages: int = 0) -> Iterator[tuple[str, str, bytes, str]]:
    """(folder, url, body, charset) of every real page in ../shared/data that has a formula."""
    from fastwarc.warc import ArchiveIterator

    from pipeline.warc import parse_http_response

    paths = sorted((DATA / "warc_repackaged").glob("*/*.warc.gz")) + sorted((DATA / "warc").glob("*/*.warc.gz"))
    for path in paths:
        taken = 0
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh, parse_http=False):
                if record.headers.get("WARC-Type") != "response":
                    continue
                response = parse_http_response(record.reader.read())
                if response is None or response.status != 200 or not response.body:
                    continue
                body = response.body
                if not re.search(rb"math|latex|\\\(|\\\[|katex|mjx|data-tex|\[/tex\]", body, re.I):
                    continue
                url = (record.headers.get("WARC-Target-URI") or "").strip("<>")
                yield path.parent.name, url, body, response.charset
                taken += 1
                if max_pages and taken >= max_pages:
                    break


@dataclass
class Tally:
    present: Counter = field(default_factory=Counter)
    found: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    twice: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    pages: Counter = field(default_factory=Counter)
    no_tex: Counter = field(default_factory=Counter)


def extractors() -> dict[str, Callable[[bytes, str, str], str]]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from pipeline.config import ExtractSettings
    from pipeline.extract import decode_html, extract_text

    def ours(backend: str) -> Callable[[bytes, str, str], str]:
        settings = ExtractSettings(backend=backend, timeout_s=0)
        return lambda body, url, charset: extract_text(body, settings, url, charset).text

    def plain_resiliparse(body: bytes, url: str, charset: str) -> str:
        return extract_plain_text(HTMLTree.parse(decode_html(body, charset)[0]), main_content=True)

    def plain_trafilatura(body: bytes, url: str, charset: str) -> str:
        import trafilatura

        return trafilatura.extract(decode_html(body, charset)[0], url=url or None) or ""

    return {"mathmine resiliparse": ours("resiliparse"), "mathmine trafilatura": ours("trafilatura"),
            "plain resiliparse": plain_resiliparse, "plain trafilatura": plain_trafilatura}


def measure(max_pages: int = 0, only: set[str] | None = None) -> Tally:
    tally = Tally()
    runs = {name: fn for name, fn in extractors().items() if not only or name in only}
    for _folder, url, body, charset in real_pages(max_pages):
        formulas = list(markup_formulas(body, url))
        if not formulas:
            continue
        wanted: Counter = Counter()
        for family, tex in formulas:
            if tex is None or not normalise(tex):
                tally.no_tex[family] += 1
                continue
            tally.present[family] += 1
            wanted[(family, normalise(tex))] += 1
        for family in {f for f, _ in wanted}:
            tally.pages[family] += 1
        for name, run in runs.items():
            text = normalise(run(body, url, charset))
            for (family, tex), times in wanted.items():
                # A formula of a letter or two is "found" in any text: only its delimited copy counts.
                if tex in text if len(tex) > 3 or family == "tex_delims" else f"${tex}$" in text:
                    tally.found[name][family] += times
                if name.startswith("mathmine") and family not in ("tex_delims", "math_container"):
                    written = text.count(f"${tex}$")
                    tally.twice[name][family] += max(0, written - times)
    return tally


def table(tally: Tally) -> str:
    names = list(tally.found) or ["mathmine resiliparse"]
    head = "| family | pages | formulas | " + " | ".join(names) + " | written twice (mathmine r / t) |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    for family in sorted(tally.present):
        n = tally.present[family]
        cells = [f"{tally.found[name][family]} ({tally.found[name][family] / n:.1%})" for name in names]
        twice = " / ".join(str(tally.twice[name][family]) for name in names if name.startswith("mathmine"))
        lines.append(f"| {family} | {tally.pages[family]} | {n} | " + " | ".join(cells) + f" | {twice} |")
    total = sum(tally.present.values())
    if not total:
        return f"no formulas found: are the real pages under {DATA}?"
    cells = [f"{sum(tally.found[name].values())} ({sum(tally.found[name].values()) / total:.1%})"
             for name in names]
    lines.append(f"| all | | {total} | " + " | ".join(cells) + " | |")
    if tally.no_tex:
        lines.append(f"\nformulas without TeX to compare with (not counted): {dict(sorted(tally.no_tex.items()))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-pages", type=int, default=0, help="per WARC file (0: all)")
    args, _ = parser.parse_known_args()
    print("formulas in the markup vs found in the extracted text, real pages of ../shared/data:")
    print(table(measure(args.max_pages)))


if __name__ == "__main__":
    main()
