"""HTML -> main text, keeping math as LaTeX. Backends: resiliparse (default) and trafilatura.

Math markup is rewritten into `$...$` / `$$...$$` TeX text in the DOM *before* main-content
extraction, so the extractor sees plain visible text where the page had scripts, hidden MathML,
<noscript> or lazy images: MathJax 2 scripts and MathJax 3 containers, KaTeX, MathML (x-tex
annotation, else alttext, else converted by pipeline/mathml.py), MediaWiki's hidden MathML with
its fallback image (one formula), LaTeX images, data-tex/data-latex/data-formula attributes, forum
BBCode, AsciiMath (kept verbatim in backticks), StackExchange `.math-container`. TeX delimiters
already in the text (`\\(..\\)`, `\\[..\\]`, `$..$`, `$$..$$`) are text and pass through untouched.

The rules live once, in `_Rewriter`, over a small DOM adapter per backend (lxml, resiliparse).
Extraction can hang on pathological HTML, so `GuardedExtractor` runs it in a child process
with a per-page time bound and restarts the child when a page runs over.
"""

from __future__ import annotations

import codecs
import os
import pickle
import re
import select
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.config import ExtractSettings, UserError
from pipeline.mathml import LxmlMathDom, MathMLConverter

# Private-use characters bracket the TeX we insert, so that `tex_delims` is only reported for
# delimiters that were in the page's own text; they are removed from the final text.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SENTINELS = re.compile("[\ue000\ue001]")

_TEX_DELIMS = re.compile(
    r"\\\(.+?\\\)|\\\[.+?\\\]|\$\$[^$]+?\$\$|\$(?=[^\s$])(?:[^$\n]{0,300}?[\\^_{}=+<>][^$\n]{0,300}?|[A-Za-z])(?<=\S)\$",
    re.S,
)
_LATEX_IMG_SRC = re.compile(
    r"latex\.php|codecogs\.com|mimetex|mathtex|/math/render/|chart\.apis\.google\.com/chart\?cht=tx"
    r"|latex\.codecogs|quicklatex|/tex2img|tex\.cgi|latex\.cgi",
    re.I,
)
_LATEX_IMG_CLASS = re.compile(
    r"(^|[\s_-])(latex|tex|math|wp-latex|mwe-math-fallback-image[-a-z]*|ql-img-[-a-z]+)($|[\s_-])", re.I
)
# resiliparse's node types, looked up once (the adapter's hot loops compare against them).
_ELEMENT, _TEXT, _DOCUMENT = 1, 3, 9
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_LATIN_FAMILY = {"latin-1", "iso8859-1", "cp1252", "ascii", "windows-1252"}

MARKUPS = ("asciimath", "bbcode", "data_tex", "katex", "latex_img", "mathjax", "mathjax3",
           "mathml", "tex_delims")


class ExtractTimeout(Exception):
    """Extraction of one page ran past the time bound."""


class ExtractError(Exception):
    """The extractor raised on a page; the message names the exception."""


@dataclass
class Extraction:
    text: str
    math_markup: list[str] = field(default_factory=list)
    charset: str = ""
    # Formulas rewritten to TeX per markup family (`tex_delims` are not rewritten, not counted).
    formulas: dict[str, int] = field(default_factory=dict)
    converted: int = 0  # of them, MathML without TeX that our converter wrote as TeX


# ---------------------------------------------------------------- decoding


def _norm_charset(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().strip("'\"")).name
    except (LookupError, ValueError):
        return None


class DecodeError(ExtractError, UserError):
    """No charset turns the page's bytes into text: counted as decode_error in ingest, never kept
    as garbage; `mathmine extract` on such a file says so in one line (a UserError, exit 1)."""


# Real pages carry at most a few stray control characters (0.2% of the first 8K at worst in our
# data); text made of them is bytes decoded with the wrong charset (UTF-16 read as cp1252) or binary.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.1
_SNIFF_BYTES = 4096


def _sniff_wide(body: bytes) -> str | None:
    """UTF-16/UTF-32 without a BOM, told by where the NUL bytes fall. Markup is ASCII, so in
    UTF-16LE the odd bytes of it are NUL and the even ones are not, in UTF-16BE the other way
    round (UTF-32: three in four). A byte-oriented charset puts no NULs in text at all."""
    n = min(len(body), _SNIFF_BYTES) // 4 * 4
    if n < 16:
        return None
    quarter = n // 4
    share = [body[i:n:4].count(0) / quarter for i in range(4)]
    many = [s >= 0.3 for s in share]
    few = [s <= 0.05 for s in share]
    if many[1] and many[2] and many[3] and few[0]:
        return "utf-32-le"
    if many[0] and many[1] and many[2] and few[3]:
        return "utf-32-be"
    if many[1] and many[3] and few[0] and few[2]:
        return "utf-16-le"
    if many[0] and many[2] and few[1] and few[3]:
        return "utf-16-be"
    return None


def decode_html(body: bytes, declared: str = "") -> tuple[str, str]:
    """Bytes -> (text, charset used). BOM, else UTF-16/32 told by its NUL bytes, else the declared
    charset (HTTP, else <meta>) if it decodes cleanly, UTF-8 when a Latin-1 family label hides
    valid UTF-8, else detection (resiliparse). Raises DecodeError when the result is still not
    text (mostly control characters): garbage is not a page."""
    text, charset = _decode_html(body, declared)
    sample = text[:8192]
    control = len(_CONTROL_CHARS.findall(sample))
    if control > _MAX_CONTROL_SHARE * len(sample):
        raise DecodeError(f"no charset decodes the page cleanly: as {charset} {control} of its first "
                          f"{len(sample)} characters are control characters")
    return text, charset


def _decode_html(body: bytes, declared: str) -> tuple[str, str]:
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return body.decode("utf-32", "replace"), "utf-32"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace"), "utf-16"
    wide = _sniff_wide(body)
    if wide:
        # Whatever the label says (often utf-8, which NUL bytes satisfy): the bytes are wide text.
        unit = 4 if wide.startswith("utf-32") else 2
        text = body[:len(body) // unit * unit].decode(wide, "replace")  # a cut page: drop the half unit
        if text.count("\ufffd") <= max(2, len(text) // 1000):
            return text, wide
    charset = _norm_charset(declared) if declared else None
    if charset is None:
        match = _META_CHARSET.search(body[:4096])
        if match:
            charset = _norm_charset(match.group(1).decode("ascii", "ignore"))
    if charset in ("utf-16-le", "utf-16-be", "utf-16", "utf-32", "utf-32-le", "utf-32-be"):
        charset = None  # a <meta> lie on a byte page (wide text was caught above)
    if charset:
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            text = None
        if text is not None:
            if charset in _LATIN_FAMILY and not body.isascii():
                try:
                    return body.decode("utf-8"), "utf-8"
                except UnicodeDecodeError:
                    pass
            return text, charset
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from resiliparse.parse.encoding import detect_encoding

    detected = _norm_charset(detect_encoding(body) or "") or "cp1252"
    return body.decode(detected, "replace"), detected


# ---------------------------------------------------------------- math rewriting


def _tex(source: str, display: bool) -> str:
    source = source.strip()
    if display:
        return f"\n{_OPEN}$${source}$${_CLOSE}\n"
    return f"{_OPEN}${source}${_CLOSE}"


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


class _LxmlDom(LxmlMathDom):
    def __init__(self, root: Any) -> None:
        self.root = root

    def select(self, css: str, under: Any = None) -> list[Any]:
        return list((under if under is not None else self.root).cssselect(css))

    @staticmethod
    def text(el: Any) -> str:
        return el.text_content() or ""

    @staticmethod
    def parent(el: Any) -> Any:
        return el.getparent()

    @staticmethod
    def next_element(el: Any) -> Any:
        nxt = el.getnext()
        while nxt is not None and not isinstance(nxt.tag, str):
            nxt = nxt.getnext()
        return nxt

    @staticmethod
    def prev_element(el: Any) -> Any:
        prev = el.getprevious()
        while prev is not None and not isinstance(prev.tag, str):
            prev = prev.getprevious()
        return prev

    @staticmethod
    def gap(el: Any) -> str:
        return el.tail or ""  # the text between el and its next sibling

    def attached(self, el: Any) -> bool:
        return el.getroottree().getroot() is self.root

    @staticmethod
    def replace(el: Any, text: str) -> None:
        parent = el.getparent()
        if parent is None:
            return
        joined = text + (el.tail or "")
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + joined
        else:
            parent.text = (parent.text or "") + joined
        parent.remove(el)


class _ResiliparseDom:
    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.root = tree.document

    def select(self, css: str, under: Any = None) -> list[Any]:
        # .values(): indexing a NodeList walks it from the start each time (quadratic).
        return (under if under is not None else self.root).query_selector_all(css).values()

    @staticmethod
    def tag(el: Any) -> str:
        return el.tag or ""

    @staticmethod
    def children(el: Any) -> Iterable[Any]:
        return (kid for kid in el.child_nodes if kid.type == _ELEMENT)

    @staticmethod
    def attr(el: Any, name: str) -> str:
        return el.getattr(name) or ""

    @staticmethod
    def has(el: Any, name: str) -> bool:
        return el.hasattr(name)

    @staticmethod
    def text(el: Any) -> str:
        return el.text or ""

    @staticmethod
    def parent(el: Any) -> Any:
        parent = el.parent
        return parent if parent is not None and parent.type == _ELEMENT else None

    @staticmethod
    def next_element(el: Any) -> Any:
        return el.next_element

    @staticmethod
    def prev_element(el: Any) -> Any:
        return el.prev_element

    @staticmethod
    def gap(el: Any) -> str:
        nxt = el.next
        return nxt.text if nxt is not None and nxt.type == _TEXT else ""

    def attached(self, el: Any) -> bool:
        while el is not None:
            if el.type == _DOCUMENT:
                return True
            el = el.parent
        return False

    def replace(self, el: Any, text: str) -> None:
        parent = el.parent
        if parent is None:
            return
        if text:
            parent.replace_child(self.tree.create_text_node(text), el)
        else:
            parent.remove_child(el)  # no empty text node, which would read as "nothing between"


_HINTS = {
    "script": (b"math/tex", b"math/TeX", b"math/asciimath", b"math/AsciiMath"),
    "math": (b"<math", b"<MATH", b":math"),
    "container": (b"math-container",),
    "mwe": (b"mwe-math-element",),
    "katex": (b"katex",),
    "img": (b"<img", b"<IMG"),
    "mjx": (b"<mjx-container",),
    "data_tex": (b"tex=", b"data-formula="),  # data-tex= and data-latex= in one scan
    "bbcode": (b"[/",),  # then the exact closing tags, only on the few pages that have "[/"
    "noscript": (b"<noscript",),
    "asciimath": (b"sciimath", b"SCIIMath", b"-AM_"),  # then the renderer regex
}
# Hints that need no "math" on the page: everything else is ruled out by one scan for it.
_NO_MATH_WORD = ("katex", "img", "mjx", "data_tex", "bbcode")
_BBCODE_CLOSE = (b"[/tex]", b"[/TEX]", b"[/math]", b"[/MATH]", b"[/latex]", b"[/LATEX]")
# A page that loads an AsciiMath renderer: its backtick spans are formulas (kept verbatim).
_ASCIIMATH_RENDERER = re.compile(
    rb"ASCIIMathML|AM_(?:CHTML|HTMLorMML|SVG)|input/asciimath|asciimath2jax|enable_asciimath\W{0,12}true",
    re.I,
)
_ASCIIMATH_SPAN = re.compile(r"`[^`\n]{1,300}`")
_BBCODE = re.compile(r"\[(tex|math|latex)\](.{1,3000}?)\[/\1\]", re.I | re.S)
# MathJax 2's rendered output, matched as exact class tokens: CSS class selectors match
# case-insensitively in quirks mode (and always in lexbor), so `.MathJax` also hits a page's own
# `<span class="mathjax">` wrapper around the TeX source.
_MATHJAX_RENDERED_CLASSES = frozenset((
    "MathJax_Preview", "MathJax", "MathJax_Display", "MathJax_SVG", "MathJax_SVG_Display",
    "MathJax_CHTML", "MJX_Assistive_MathML",
))
_MATHJAX_RENDERED = ", ".join(
    [*(f".{name}" for name in sorted(_MATHJAX_RENDERED_CLASSES)), "mjx-assistive-mml"])
_MATH_SCRIPTS = ", ".join(f'script[type^="math/{kind}"]' for kind in ("tex", "TeX", "asciimath", "AsciiMath"))
_TEX_ANNOTATION = ('annotation[encoding="application/x-tex"], annotation[encoding="TeX"],'
                   ' annotation[encoding="application/x-latex"]')
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-srcset", "srcset")


def _markup_hints(raw: bytes) -> set[str]:
    """Which selectors can match at all: a substring test on the raw bytes is far cheaper
    than a DOM query. Most pages hold no "math" at all, so one scan for it rules out most
    of the queries."""
    names = _HINTS if b"math" in raw or b"MATH" in raw else _NO_MATH_WORD
    hints = {name for name in names if any(needle in raw for needle in _HINTS[name])}
    if "img" in hints and "noscript" not in hints and b"<noscript" in raw:
        hints.add("noscript")  # a formula image inside <noscript> on a page without "math"
    if "bbcode" in hints and not any(needle in raw for needle in _BBCODE_CLOSE):
        hints.discard("bbcode")
    if "asciimath" in hints and not _ASCIIMATH_RENDERER.search(raw):
        hints.discard("asciimath")
    return hints


def _classes(dom: Any, el: Any) -> list[str]:
    return dom.attr(el, "class").split()


def _hidden(dom: Any, el: Any) -> bool:
    return (dom.has(el, "hidden") or dom.attr(el, "aria-hidden").lower() == "true"
            or _HIDDEN_STYLE.search(dom.attr(el, "style")) is not None)


class _Rewriter:
    """The math rules over one DOM; `counts` holds the formulas rewritten per markup family."""

    def __init__(self, dom: Any) -> None:
        self.dom = dom
        self.seen: set[str] = set()
        self.counts: Counter = Counter()
        self.converted = 0  # of them, MathML written as TeX by our converter
        self._converter: MathMLConverter | None = None  # built on the first MathML without TeX

    def put(self, el: Any, tex: str, family: str) -> None:
        """Replace `el` with `tex`, outside any hidden wrapper that holds nothing else, so the text
        is visible however the page styled the original (Wikipedia hides its MathML)."""
        dom = self.dom
        target, own = el, dom.text(el).strip()
        for _ in range(4):
            parent = dom.parent(target)
            if parent is None or not _hidden(dom, parent) or dom.text(parent).strip() != own:
                break
            target = parent
        dom.replace(target, tex)
        self.counts[family] += 1
        self.seen.add(family)

    def math_tex(self, math: Any) -> tuple[str, bool]:
        """TeX of a <math> element: its TeX annotation, else alttext, else converted MathML."""
        dom = self.dom
        annotation = dom.select(_TEX_ANNOTATION, math)
        source = dom.text(annotation[0]) if annotation else dom.attr(math, "alttext")
        if source.strip():
            return source, False
        self.converted += 1
        if self._converter is None:
            self._converter = MathMLConverter(dom)
        return self._converter.convert(math), True

    @staticmethod
    def display_math(dom: Any, math: Any) -> bool:
        return dom.attr(math, "display").lower() == "block" or dom.attr(math, "mode").lower() == "display"

    def drop_fallbacks(self, el: Any, tex: str) -> None:
        """Remove the fallback image (bare, lazy or inside <noscript>) that follows a formula, so
        the formula is written once, not once more as the image's alt text."""
        dom = self.dom
        wanted = _squash(tex)
        for _ in range(2):
            nxt = dom.next_element(el)
            if nxt is None or dom.gap(el).strip():
                return
            tag = dom.tag(nxt).lower()
            imgs = [nxt] if tag == "img" else dom.select("img", nxt) if tag == "noscript" else []
            if not imgs or not all(self._is_fallback(img, wanted) for img in imgs):
                return
            dom.replace(nxt, "")

    def _is_fallback(self, img: Any, wanted: str) -> bool:
        css = self.dom.attr(img, "class")
        alt = self.dom.attr(img, "alt")
        return "fallback" in css or (bool(alt) and _squash(alt) == wanted)

    def image_tex(self, img: Any) -> tuple[str, bool] | None:
        """(TeX, display) of a LaTeX image, also of a lazy-load placeholder (the real address in
        data-src and friends), or None."""
        dom = self.dom
        src, css_class = dom.attr(img, "src"), dom.attr(img, "class")
        sources = [src]
        if not src or src.startswith("data:") or "lazy" in css_class:
            # A lazy-load placeholder: the image's address waits in another attribute. Only
            # then are they read, so an ordinary image costs two attribute reads.
            sources += [dom.attr(img, name) for name in _LAZY_SRC if dom.has(img, name)]
        key = f"{' '.join(sources)} {css_class}".lower()
        if "tex" not in key and "math" not in key and "cht=tx" not in key:
            return None  # most images: skip the regexes
        hit = next((s for s in sources if _LATEX_IMG_SRC.search(s)), None)
        if hit is None and not _LATEX_IMG_CLASS.search(css_class):
            return None
        source = dom.attr(img, "alt") or dom.attr(img, "title")
        if not source and hit and "?" in hit:
            source = unquote(urlsplit(hit.split()[0]).query.split("&", 1)[0].removeprefix("latex="))
        if not source.strip():
            return None
        return source.removeprefix("\\displaystyle").strip(), "display" in css_class.lower()

    # -------------------------------------------------------------- the families, in order

    def data_tex(self) -> None:
        dom = self.dom
        for el in dom.select("[data-tex], [data-latex], [data-formula]"):
            if not dom.attached(el):
                continue  # inside an element already rewritten (MathJax 4 marks every node)
            source = dom.attr(el, "data-tex") or dom.attr(el, "data-latex") or dom.attr(el, "data-formula")
            if not source.strip() or dom.tag(el).lower() == "script":
                continue
            display = (dom.attr(el, "data-display").lower() in ("block", "true")
                       or dom.attr(el, "display").lower() in ("block", "true")
                       or dom.tag(el).lower() == "div" or "display" in dom.attr(el, "class").lower())
            self.put(el, _tex(source, display), "data_tex")

    def mediawiki(self) -> None:
        """MediaWiki's Math: MathML (TeX annotation) in a display:none span next to a fallback
        <img> whose alt is the same TeX. The whole element becomes one visible formula."""
        dom = self.dom
        for el in dom.select(".mwe-math-element"):
            maths = dom.select("math", el)
            if maths:
                source, _ = self.math_tex(maths[0])
            else:
                imgs = dom.select("img", el)
                source = dom.attr(imgs[0], "alt") if imgs else ""
            if not source.strip():
                continue
            display = "display" in dom.attr(el, "class") or bool(
                dom.select(".mwe-math-mathml-display, .mwe-math-fallback-image-display", el))
            self.put(el, _tex(source, display), "mathml")

    def mathjax2(self) -> None:
        dom = self.dom
        scripts = dom.select(_MATH_SCRIPTS)
        rendered = [el for el in dom.select(_MATHJAX_RENDERED)
                    if dom.tag(el).lower() == "mjx-assistive-mml"
                    or not _MATHJAX_RENDERED_CLASSES.isdisjoint(_classes(dom, el))]
        if scripts:
            # Rendered MathJax output duplicates the script's source as glyph soup: drop it.
            for el in rendered:
                dom.replace(el, "")
        for el in scripts:
            kind = dom.attr(el, "type").lower()
            source = dom.text(el)
            if "asciimath" in kind:
                # AsciiMath is kept verbatim between backticks, as authors write it (not TeX).
                dom.replace(el, f"{_OPEN}`{source.strip()}`{_CLOSE}")
                self.counts["asciimath"] += 1
                self.seen.add("asciimath")
                continue
            self.put(el, _tex(source, "display" in kind), "mathjax")
        if not scripts:
            # MathJax 2 output without its script: the assistive MathML is the formula.
            for el in rendered:
                if not dom.attached(el) or "MathJax_Preview" in _classes(dom, el):
                    continue
                maths = dom.select("math", el)
                if maths:
                    source, _ = self.math_tex(maths[0])
                    display = "MathJax_Display" in _classes(dom, el) or self.display_math(dom, maths[0])
                    self.put(el, _tex(source, display), "mathjax")

    def mathjax3(self) -> None:
        """MathJax 3 `mjx-container`: glyphs in `mjx-math`, MathML in `mjx-assistive-mml`."""
        dom = self.dom
        for el in dom.select("mjx-container"):
            if not dom.attached(el):
                continue
            maths = dom.select("math", el)
            if not maths:
                continue  # SVG output without assistive MathML: nothing to read the formula from
            source, _ = self.math_tex(maths[0])
            display = dom.attr(el, "display").lower() == "true" or self.display_math(dom, maths[0])
            self.put(el, _tex(source, display), "mathjax3")

    def katex(self) -> None:
        dom = self.dom
        for el in dom.select(".katex"):
            if "katex" not in _classes(dom, el) or not dom.attached(el):
                continue
            annotation = dom.select(_TEX_ANNOTATION, el)
            if annotation:
                source = dom.text(annotation[0])
            else:
                maths = dom.select(".katex-mathml math", el) or dom.select("math", el)
                if not maths:
                    continue  # KaTeX's html-only output: glyphs, no formula to read
                source, _ = self.math_tex(maths[0])
            parent = dom.parent(el)
            display = parent is not None and "katex-display" in _classes(dom, parent)
            self.put(parent if display else el, _tex(source, display), "katex")

    def mathml(self) -> None:
        dom = self.dom
        for el in dom.select("math"):
            if not dom.attached(el):
                continue
            source, _ = self.math_tex(el)
            tex = _tex(source, self.display_math(dom, el))
            # The fallback follows the <math> or the hidden span wrapping it.
            wrapper = dom.parent(el)
            anchor = wrapper if wrapper is not None and _hidden(dom, wrapper) else el
            self.drop_fallbacks(anchor, source)
            self.put(el, tex, "mathml")

    def noscript(self) -> None:
        """A formula image inside <noscript> (the extractors skip noscript): written once, as text
        outside it, unless a lazy-load placeholder just before it carries the same formula."""
        dom = self.dom
        for el in dom.select("noscript"):
            found = [tex for tex in (self.image_tex(img) for img in dom.select("img", el)) if tex]
            if not found:
                continue
            prev = dom.prev_element(el)
            if (prev is not None and dom.tag(prev).lower() == "img" and not dom.gap(prev).strip()
                    and self.image_tex(prev) is not None):
                dom.replace(el, "")  # the placeholder is rewritten by the image rule
                continue
            if len(found) == 1:
                self.put(el, _tex(*found[0]), "latex_img")

    def images(self) -> None:
        dom = self.dom
        for el in dom.select("img"):
            found = self.image_tex(el)
            if found is not None and dom.attached(el):
                self.put(el, _tex(*found), "latex_img")

    def math_container(self) -> None:
        dom = self.dom
        for el in dom.select(".math-container"):
            source = dom.text(el).strip()
            if not source:
                continue
            if not source.startswith(("$", "\\(", "\\[")):
                source = f"${source}$"
            # The source carries its own delimiters: they count as TeX in the page's text.
            dom.replace(el, source)
            self.counts["math_container"] += 1


def _squash(tex: str) -> str:
    """A formula's identity for deduplication: no whitespace, braces or \\displaystyle."""
    return re.sub(r"\\displaystyle|[\s{}]", "", tex)


def _rewrite_bbcode(html: str) -> tuple[str, int]:
    """Forum BBCode `[tex]..[/tex]`, `[math]`, `[latex]`: rewritten in the HTML before parsing,
    so entities inside decode as usual. Inline math: that is how forums render them."""
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        body = match.group(2)
        if "<" in body and re.search(r"</?(?:p|div|li|table|td|blockquote)\b", body, re.I):
            return match.group(0)  # spans block elements: not one formula
        count += 1
        return f"{_OPEN}${body.strip()}${_CLOSE}"

    return _BBCODE.sub(one, html), count


def _rewrite_math(dom: Any, hints: set[str]) -> tuple[set[str], Counter, int]:
    """Replace math markup with TeX text in place; return (markups seen, formulas rewritten per
    family, how many of them were MathML converted to TeX)."""
    rewriter = _Rewriter(dom)
    if "data_tex" in hints:
        rewriter.data_tex()
    if "mwe" in hints:
        rewriter.mediawiki()
    if "mjx" in hints:
        rewriter.mathjax3()  # first: its container has class "MathJax" too
    if "script" in hints or "math" in hints:
        rewriter.mathjax2()
    if "katex" in hints:
        rewriter.katex()
    if "math" in hints:
        rewriter.mathml()
    if "img" in hints and "noscript" in hints:
        rewriter.noscript()
    if "img" in hints:
        rewriter.images()
    if "container" in hints:
        rewriter.math_container()
    return rewriter.seen, rewriter.counts, rewriter.converted


# ---------------------------------------------------------------- backends


def _finish(text: str, seen: set[str], counts: Counter, converted: int, charset: str,
            asciimath: bool) -> Extraction:
    own_text = re.sub(f"{_OPEN}.*?{_CLOSE}", " ", text, flags=re.S) if _OPEN in text else text
    if _TEX_DELIMS.search(own_text):
        seen.add("tex_delims")
    if asciimath:
        spans = len(_ASCIIMATH_SPAN.findall(own_text))
        if spans:
            counts["asciimath"] += spans
            seen.add("asciimath")
    text = _SENTINELS.sub("", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Extraction(text=text, math_markup=sorted(seen), charset=charset,
                      formulas=dict(sorted(counts.items())), converted=converted)


def _keep_prose_lists(tree: Any) -> None:
    """Resiliparse's main-content mode drops every <ul> as navigation, and with it the lists of
    conditions and steps that math pages are full of. A <ul> whose text is mostly not link text,
    or that holds math, is content: re-tag it <ol>, which the heuristic keeps (bullets become
    numbers)."""
    # Innermost first: an outer list is re-created from its inner HTML, so inner ones must
    # already be converted by then.
    for ul in reversed(tree.document.query_selector_all("ul").values()):
        text = ul.text or ""
        words = len(text.split())
        has_math = _OPEN in text or _TEX_DELIMS.search(text) is not None
        if not has_math:
            if words < 8:
                continue
            if ul.query_selector("ul, ol, nav"):
                continue  # nested lists without math are menus far more often than content
            link_words = sum(len((a.text or "").split()) for a in ul.query_selector_all("a").values())
            if link_words / words >= 0.5:
                continue
        if has_math:
            # Links inside a math list (a proof's steps citing lemmas) would make the list look
            # like a menu to the link-density check: keep their text, drop the links.
            for a in ul.query_selector_all("a").values():
                if a.parent is not None:
                    a.parent.replace_child(tree.create_text_node(a.text or ""), a)
        ol = tree.create_element("ol")
        ol.inner_html = ul.inner_html
        if ul.parent is not None:
            ul.parent.replace_child(ol, ul)


def _extract_resiliparse(html: str, settings: ExtractSettings,
                         hints: set[str]) -> tuple[str, set[str], Counter, int]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    seen, counts, converted = _rewrite_math(_ResiliparseDom(tree), hints)
    _keep_prose_lists(tree)
    text = extract_plain_text(
        tree, preserve_formatting=True, main_content=True, list_bullets=True,
        alt_texts=False, links=False, form_fields=False, noscript=False,
    )
    return text, seen, counts, converted


def _extract_trafilatura(html: str, url: str, settings: ExtractSettings,
                         hints: set[str]) -> tuple[str, set[str], Counter, int]:
    import lxml.html
    import trafilatura

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return "", set(), Counter(), 0
    seen, counts, converted = _rewrite_math(_LxmlDom(root), hints)
    text = trafilatura.extract(
        root, url=url or None, output_format="txt", include_comments=False,
        include_tables=settings.include_tables, include_images=False, include_links=False,
        favor_precision=settings.trafilatura_favor == "precision",
        favor_recall=settings.trafilatura_favor == "recall", deduplicate=False, with_metadata=False,
    )
    return text or "", seen, counts, converted


def extract_text(body: bytes | str, settings: ExtractSettings, url: str = "",
                 charset: str = "") -> Extraction:
    """One page's main text with math kept, in this process (no time bound)."""
    if isinstance(body, bytes):
        html, used = decode_html(body, charset)
        if used.startswith(("utf-16", "utf-32")):
            body = html.encode()  # the markup hints look for ASCII bytes
    else:
        html, used, body = body, charset or "utf-8", body.encode()
    if _OPEN in html or _CLOSE in html:
        html = _SENTINELS.sub("", html)
    hints = _markup_hints(body)
    bbcode = 0
    if "bbcode" in hints:
        html, bbcode = _rewrite_bbcode(html)
    if settings.backend == "trafilatura":
        text, seen, counts, converted = _extract_trafilatura(html, url, settings, hints)
    else:
        text, seen, counts, converted = _extract_resiliparse(html, settings, hints)
    if bbcode:
        counts["bbcode"] += bbcode
        seen.add("bbcode")
    return _finish(text, seen, counts, converted, used, "asciimath" in hints)


# ---------------------------------------------------------------- time bound


def _send(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _recv(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("extractor stream closed")
    (size,) = struct.unpack("<Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("extractor stream closed mid-message")
    return pickle.loads(data)


def serve(stdin: Any = None, stdout: Any = None) -> None:
    """The child's loop: (body, url, charset) in, ("ok", Extraction) or ("error", why) out."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints from libraries must not corrupt the protocol
    settings = _recv(stdin)
    while True:
        try:
            job = _recv(stdin)
        except EOFError:
            return
        body, url, charset = job
        try:
            reply: tuple[Any, ...] = ("ok", extract_text(body, settings, url, charset))
        except Exception as exc:
            reply = ("error", f"{exc.__class__.__name__}: {exc}")
        _send(stdout, reply)


class GuardedExtractor:
    """Runs `extract_text` in a child process; a page past `timeout_s` kills and restarts it.

    Signals cannot interrupt lxml or regex code running in C, so a child process is the only
    bound that always holds. The child is a plain `python -c ...serve()` (not
    multiprocessing, which re-imports the parent's __main__: Spark's worker, a test, a script),
    reused across the pages and tasks of one Python worker.
    """

    def __init__(self, settings: ExtractSettings) -> None:
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self._fresh = False  # the next page is the first of a new child: allow for its start-up
        self.restarts = 0

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from pipeline.extract import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        _send(self._proc.stdin, self.settings)
        self._fresh = True

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
        self._proc = None

    def extract(self, body: bytes, url: str = "", charset: str = "") -> Extraction:
        if self.settings.timeout_s <= 0:
            return extract_text(body, self.settings, url, charset)
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        try:
            _send(self._proc.stdin, (body, url, charset))
            limit = self.settings.timeout_s + (60 if self._fresh else 0)
            ready, _, _ = select.select([self._proc.stdout], [], [], limit)
            if not ready:
                self.restarts += 1
                self._kill()
                raise ExtractTimeout(f"extraction took longer than {self.settings.timeout_s}s")
            reply = _recv(self._proc.stdout)
            self._fresh = False
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
            code = self._proc.poll() if self._proc else None
            self._kill()
            raise ExtractError(f"extractor process died (exit {code}): {exc.__class__.__name__}") from exc
        if reply[0] == "error":
            raise ExtractError(reply[1])
        return reply[1]

    def close(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __enter__(self) -> GuardedExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

