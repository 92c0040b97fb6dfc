"""HTML -> main text, keeping math as LaTeX. Backends: resiliparse (default) and trafilatura.

Math markup is rewritten into `$...$` / `$$...$$` TeX text in the DOM *before* main-content
extraction, so the extractor sees plain text where the page had scripts, MathML or images:
MathJax `script[type^=math/tex]`, KaTeX's x-tex annotation, MathML (x-tex annotation, else
alttext), LaTeX images (alt text), StackExchange `.math-container`. TeX delimiters already in
the text (`\\(..\\)`, `\\[..\\]`, `$..$`, `$$..$$`) are text and pass through untouched.

The rules live once, in `_rewrite_math`, over a two-method DOM adapter per backend.
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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.config import ExtractSettings

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
_MATHJAX_RENDERED = (
    ".MathJax_Preview, .MathJax, .MathJax_Display, .MathJax_SVG, .MathJax_SVG_Display, .MathJax_CHTML,"
    " .MJX_Assistive_MathML, mjx-assistive-mml"
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_LATIN_FAMILY = {"latin-1", "iso8859-1", "cp1252", "ascii", "windows-1252"}

MARKUPS = ("katex", "latex_img", "mathjax", "mathml", "tex_delims")


class ExtractTimeout(Exception):
    """Extraction of one page ran past the time bound."""


class ExtractError(Exception):
    """The extractor raised on a page; the message names the exception."""


@dataclass
class Extraction:
    text: str
    math_markup: list[str] = field(default_factory=list)
    charset: str = ""
    formulas: int = 0  # math elements rewritten to TeX


# ---------------------------------------------------------------- decoding


def _norm_charset(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().strip("'\"")).name
    except (LookupError, ValueError):
        return None


def decode_html(body: bytes, declared: str = "") -> tuple[str, str]:
    """Bytes -> (text, charset used). Declared charset (HTTP, else <meta>) if it decodes cleanly,
    UTF-8 when a Latin-1 family label hides valid UTF-8, else detection (resiliparse)."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace"), "utf-16"
    charset = _norm_charset(declared) if declared else None
    if charset is None:
        match = _META_CHARSET.search(body[:4096])
        if match:
            charset = _norm_charset(match.group(1).decode("ascii", "ignore"))
    if charset in ("utf-16-le", "utf-16-be", "utf-16", "utf-32"):  # a <meta> lie on a byte page
        charset = None
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


class _LxmlDom:
    def __init__(self, root: Any) -> None:
        self.root = root

    def select(self, css: str, under: Any = None) -> list[Any]:
        return list((under if under is not None else self.root).cssselect(css))

    @staticmethod
    def attr(el: Any, name: str) -> str:
        return el.get(name) or ""

    @staticmethod
    def text(el: Any) -> str:
        return el.text_content() or ""

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
    def attr(el: Any, name: str) -> str:
        return el.getattr(name) or ""

    @staticmethod
    def text(el: Any) -> str:
        return el.text or ""

    def replace(self, el: Any, text: str) -> None:
        parent = el.parent
        if parent is None:
            return
        parent.replace_child(self.tree.create_text_node(text), el)


_HINTS = {
    "script": (b"math/tex", b"math/TeX"),
    "math": (b"<math", b"<MATH", b":math"),
    "container": (b"math-container",),
    "katex": (b"katex",),
    "img": (b"<img", b"<IMG"),
}


def _markup_hints(raw: bytes) -> set[str]:
    """Which selectors can match at all: a substring test on the raw bytes is far cheaper
    than a DOM query. Most pages hold no "math" at all, so one scan for it rules out three
    of the five queries."""
    names = list(_HINTS) if b"math" in raw or b"MATH" in raw else ["katex", "img"]
    return {name for name in names if any(needle in raw for needle in _HINTS[name])}


def _rewrite_math(dom: Any, hints: set[str]) -> tuple[set[str], int]:
    """Replace math markup with TeX text in place; return (markups seen, formulas rewritten)."""
    seen: set[str] = set()
    count = 0
    scripts = dom.select('script[type^="math/tex"], script[type^="math/TeX"]') if "script" in hints else []
    if scripts:
        # Rendered MathJax output duplicates the script's source as glyph soup: drop it.
        for el in dom.select(_MATHJAX_RENDERED):
            dom.replace(el, "")
        for el in scripts:
            display = "display" in dom.attr(el, "type").lower()
            dom.replace(el, _tex(dom.text(el), display))
            count += 1
        seen.add("mathjax")
    for el in dom.select(".katex-display, .katex") if "katex" in hints else []:
        annotation = dom.select('annotation[encoding="application/x-tex"]', el)
        if not annotation:
            continue  # already handled as part of its .katex-display parent
        display = "katex-display" in dom.attr(el, "class")
        dom.replace(el, _tex(dom.text(annotation[0]), display))
        count += 1
        seen.add("katex")
    for el in dom.select("math") if "math" in hints else []:
        annotation = dom.select('annotation[encoding="application/x-tex"], annotation[encoding="TeX"]', el)
        source = dom.text(annotation[0]) if annotation else dom.attr(el, "alttext")
        if not source.strip():
            source = " ".join(dom.text(el).split())  # presentation MathML only: its linear text
        display = dom.attr(el, "display").lower() == "block" or dom.attr(el, "mode").lower() == "display"
        dom.replace(el, _tex(source, display))
        count += 1
        seen.add("mathml")
    for el in dom.select("img") if "img" in hints else []:
        src, css_class = dom.attr(el, "src"), dom.attr(el, "class")
        key = f"{src} {css_class}".lower()
        if "tex" not in key and "math" not in key and "cht=tx" not in key:
            continue  # most images: skip the regexes
        if not (_LATEX_IMG_SRC.search(src) or _LATEX_IMG_CLASS.search(css_class)):
            continue
        source = dom.attr(el, "alt") or dom.attr(el, "title")
        if not source and "?" in src:
            source = unquote(urlsplit(src).query.split("&", 1)[0].removeprefix("latex="))
        if not source.strip():
            continue
        display = "display" in dom.attr(el, "class").lower()
        dom.replace(el, _tex(source.removeprefix("\\displaystyle").strip(), display))
        count += 1
        seen.add("latex_img")
    for el in dom.select(".math-container") if "container" in hints else []:
        source = dom.text(el).strip()
        if not source:
            continue
        if not source.startswith(("$", "\\(", "\\[")):
            source = f"${source}$"
        # The source carries its own delimiters: they count as TeX in the page's text.
        dom.replace(el, source)
        count += 1
    return seen, count


# ---------------------------------------------------------------- backends


def _finish(text: str, seen: set[str], count: int, charset: str) -> Extraction:
    own_text = re.sub(f"{_OPEN}.*?{_CLOSE}", " ", text, flags=re.S)
    if _TEX_DELIMS.search(own_text):
        seen.add("tex_delims")
    text = _SENTINELS.sub("", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Extraction(text=text, math_markup=sorted(seen), charset=charset, formulas=count)


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


def _extract_resiliparse(html: str, settings: ExtractSettings, raw: bytes) -> tuple[str, set[str], int]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    seen, count = _rewrite_math(_ResiliparseDom(tree), _markup_hints(raw))
    _keep_prose_lists(tree)
    text = extract_plain_text(
        tree, preserve_formatting=True, main_content=True, list_bullets=True,
        alt_texts=False, links=False, form_fields=False, noscript=False,
    )
    return text, seen, count


def _extract_trafilatura(html: str, url: str, settings: ExtractSettings,
                         raw: bytes) -> tuple[str, set[str], int]:
    import lxml.html
    import trafilatura

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return "", set(), 0
    seen, count = _rewrite_math(_LxmlDom(root), _markup_hints(raw))
    text = trafilatura.extract(
        root, url=url or None, output_format="txt", include_comments=False,
        include_tables=settings.include_tables, include_images=False, include_links=False,
        favor_precision=settings.trafilatura_favor == "precision",
        favor_recall=settings.trafilatura_favor == "recall", deduplicate=False, with_metadata=False,
    )
    return text or "", seen, count


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
    if settings.backend == "trafilatura":
        text, seen, count = _extract_trafilatura(html, url, settings, body)
    else:
        text, seen, count = _extract_resiliparse(html, settings, body)
    return _finish(text, seen, count, used)


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

