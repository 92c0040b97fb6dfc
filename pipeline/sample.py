"""Deterministic demo crawl for mathmine.

``build_sample(out_dir, seed)`` writes a tiny Common-Crawl-like corpus: four gzipped WARC
files with ~300 HTML pages on made-up hosts (math Q&A, course notes, wikis, blogs, news,
recipes, travel, sports, reviews), a seed corpus of math texts, a small benchmark file and
ground-truth labels, so every later stage of the pipeline (WARC reading, HTML/math
extraction, fastText recall, domain and URL-path discovery, dedup, decontamination) can be
tested offline.

Label semantics (``labels.jsonl``, one line per HTML 200 response):

- ``domain`` is the URL host (``blog.example.co.uk``), since all hosts share ``example.*``;
- ``near_dup_of`` points at the original page; copies never point at copies, so every
  duplicate cluster is one original plus the pages naming it;
- ``formulas`` are the exact TeX strings the page embeds (HTML-escaped inside the page).

All randomness comes from ``random.Random(seed)``; WARC record ids, dates and gzip headers
are derived from the seed, so the output is byte-identical for a given seed (and zlib).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import io
import json
import random
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from math import acos, comb, degrees, exp, factorial, gcd, isqrt, log, sqrt
from pathlib import Path
from urllib.parse import quote

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

__all__ = ["BENCHMARK", "MARKUPS", "N_WARC_FILES", "build_sample"]

N_WARC_FILES = 4
MARKUPS = (
    "mathjax_script",
    "mathjax_delims",
    "katex",
    "mathml",
    "mathml_alttext",
    "latex_img",
    "math_container",
    "none",
)

Block = tuple  # ("p", text) | ("h2", text) | ("ul", [text, ...]) | ("raw", text) ...
Rng = random.Random


# ---------------------------------------------------------------------------
# small text helpers
# ---------------------------------------------------------------------------

_FILL_RE = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


def _fill(tpl: str, **kw: object) -> str:
    """Substitute ``@name`` placeholders (TeX braces make str.format unusable)."""
    return _FILL_RE.sub(lambda m: str(kw[m.group(1)]), tpl)


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")
    return text[:60].rstrip("-")


def _ftex(q: Fraction | int) -> str:
    """A rational number as TeX: ``3``, ``-\\frac{2}{5}``."""
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    sign = "-" if q < 0 else ""
    return sign + r"\frac{" + str(abs(q.numerator)) + "}{" + str(q.denominator) + "}"


def _par(q: Fraction | int) -> str:
    """Parenthesise negatives when substituted into a product."""
    s = _ftex(q)
    return "(" + s + ")" if Fraction(q) < 0 else s


def _poly(coeffs: list, var: str = "x") -> str:
    """Polynomial with the highest degree first, as TeX with tidy signs."""
    deg = len(coeffs) - 1
    out: list[str] = []
    for i, c in enumerate(coeffs):
        p = deg - i
        c = Fraction(c)
        if c == 0:
            continue
        mono = "" if p == 0 else var if p == 1 else f"{var}^{{{p}}}" if p > 9 else f"{var}^{p}"
        mag = abs(c)
        body = mono if (mono and mag == 1) else _ftex(mag) + mono
        if not out:
            out.append(("-" if c < 0 else "") + body)
        else:
            out.append((" - " if c < 0 else " + ") + body)
    return "".join(out) or "0"


def _lin(root: int, var: str = "x") -> str:
    """The factor ``x - root``."""
    if root == 0:
        return var
    return f"{var} - {root}" if root > 0 else f"{var} + {-root}"


def _dec(x: float, places: int = 4) -> str:
    return f"{x:.{places}f}"


def _sqrt_split(n: int) -> tuple[int, int]:
    """n = k^2 * m with m squarefree; returns (k, m)."""
    k, m = 1, n
    f = 2
    while f * f <= m:
        while m % (f * f) == 0:
            m //= f * f
            k *= f
        f += 1
    return k, m


def _sqrt_eq(n: int) -> str:
    """``\\sqrt{n}``, followed by its simplified form when there is one."""
    simple = _sqrt_tex(n)
    root = r"\sqrt{" + str(n) + "}"
    return root if simple == root else root + " = " + simple


def _sqrt_tex(n: int) -> str:
    k, m = _sqrt_split(n)
    if m == 1:
        return str(k)
    return (str(k) if k > 1 else "") + r"\sqrt{" + str(m) + "}"


def _thousands(n: int) -> str:
    return f"{n:,}"


# ---------------------------------------------------------------------------
# a tiny TeX parser, used to fake the MathML / rendered glyphs that real
# MathJax and KaTeX pages contain next to the TeX source
# ---------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\\[A-Za-z]+|\\.|[A-Za-z]|\d+(?:\.\d+)?|\s+|.", re.S)

_GREEK = dict(
    zip(
        ["alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
         "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
         "upsilon", "phi", "varphi", "chi", "psi", "omega"],
        "αβγδϵεζηθϑικλμνξπρστυϕφχψω",
        strict=True,
    )
)
_GREEK.update(
    {"Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π",
     "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω"}
)
_MI_SYM = {"infty": "∞", "partial": "∂", "emptyset": "∅", "varnothing": "∅", "ell": "ℓ",
           "nabla": "∇", "hbar": "ℏ", "aleph": "ℵ", "prime": "′"}
_MO_SYM = {
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "cdot": "⋅",
    "times": "×", "pm": "±", "mp": "∓", "to": "→", "rightarrow": "→", "Rightarrow": "⇒",
    "implies": "⟹", "iff": "⟺", "Leftrightarrow": "⇔", "in": "∈", "notin": "∉",
    "subset": "⊂", "subseteq": "⊆", "cup": "∪", "cap": "∩", "int": "∫", "iint": "∬",
    "oint": "∮", "sum": "∑", "prod": "∏", "approx": "≈", "equiv": "≡", "mid": "∣",
    "ldots": "…", "cdots": "⋯", "dots": "…", "vdots": "⋮", "forall": "∀", "exists": "∃",
    "neg": "¬", "circ": "∘", "div": "÷", "langle": "⟨", "rangle": "⟩", "lfloor": "⌊",
    "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "setminus": "∖", "sim": "∼", "cong": "≅",
    "perp": "⊥", "angle": "∠", "mapsto": "↦", "land": "∧", "lor": "∨", "wedge": "∧",
    "vee": "∨", "oplus": "⊕", "otimes": "⊗", "propto": "∝", "ll": "≪", "gg": "≫",
    "{": "{", "}": "}", "|": "‖", "lvert": "|", "rvert": "|", "vert": "|", "colon": ":",
    "deg": "°", "star": "⋆", "ast": "∗",
}
_FUNCS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "lim", "max", "min",
          "det", "gcd", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "dim", "ker",
          "sup", "inf", "Pr", "arg", "liminf", "limsup"}
_SPACE_CMDS = {",", ";", ":", "!", " ", "quad", "qquad", "thinspace", "enspace"}
_SKIP_CMDS = {"displaystyle", "textstyle", "limits", "nolimits", "big", "Big", "bigg", "Bigg",
              "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "nonumber", "notag", "tag"}
_TEXT_CMDS = {"text", "mathrm", "operatorname", "textbf", "mbox", "textit", "textrm"}
_FONT_CMDS = {"mathbb", "mathbf", "mathcal", "mathit", "boldsymbol", "mathsf"}
_ACCENTS = {"vec": "→", "hat": "^", "bar": "¯", "overline": "¯", "tilde": "~", "dot": "˙"}
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "P": "ℙ"}
_DELIMS = {"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "\\{": "{", "\\}": "}",
           "\\langle": "⟨", "\\rangle": "⟩", "\\lvert": "|", "\\rvert": "|", "\\|": "‖",
           "\\lfloor": "⌊", "\\rfloor": "⌋", "\\lceil": "⌈", "\\rceil": "⌉"}


class _TexParser:
    """Recursive-descent parser for the small TeX subset this module writes."""

    def __init__(self, tex: str) -> None:
        self.toks = _TOKEN_RE.findall(tex)
        self.i = 0

    def _skip_ws(self) -> None:
        while self.i < len(self.toks) and self.toks[self.i].isspace():
            self.i += 1

    def peek(self) -> str | None:
        self._skip_ws()
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str | None:
        t = self.peek()
        self.i += 1
        return t

    def raw_group(self) -> str:
        """Read ``{...}`` verbatim (for \\text and environment names)."""
        if self.peek() != "{":
            t = self.take()
            return t or ""
        self.i += 1
        depth, out = 1, []
        while self.i < len(self.toks):
            t = self.toks[self.i]
            self.i += 1
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    break
            out.append(t)
        return "".join(out)

    def seq(self, stops: tuple[str, ...] = ("}",)) -> list:
        nodes: list = []
        while (t := self.peek()) is not None and t not in stops:
            if t in ("^", "_"):
                base = nodes.pop() if nodes else ("mrow", [])
                nodes.append(self.scripts(base))
                continue
            if t in ("&", "\\\\"):
                self.take()
                continue
            node = self.atom()
            if node is not None:
                nodes.append(node)
        return nodes

    def scripts(self, base: tuple) -> tuple:
        sub = sup = None
        while self.peek() in ("^", "_"):
            op = self.take()
            arg = self.arg()
            if op == "^":
                sup = arg
            else:
                sub = arg
        if sub is not None and sup is not None:
            return ("msubsup", base, sub, sup)
        if sup is not None:
            return ("msup", base, sup)
        return ("msub", base, sub)

    def arg(self) -> tuple:
        t = self.peek()
        if t is not None and t[0].isdigit() and len(t) > 1:
            # TeX takes one digit as a macro argument: \frac12 = \frac{1}{2}
            self.toks[self.i] = t[1:]
            return ("mn", t[0])
        node = self.atom() if t is not None else None
        return node if node is not None else ("mrow", [])

    def atom(self) -> tuple | None:
        t = self.take()
        if t is None:
            return None
        if t == "{":
            inner = self.seq(("}",))
            if self.peek() == "}":
                self.take()
            return ("mrow", inner)
        if t == "}":
            return None
        if t == "'":
            return ("mo", "′")
        if t[0].isdigit():
            return ("mn", t)
        if t.isalpha() and len(t) == 1:
            return ("mi", t)
        if not t.startswith("\\"):
            return ("mo", "−" if t == "-" else t)
        name = t[1:]
        if name in ("frac", "dfrac", "tfrac"):
            num = self.arg()
            return ("mfrac", num, self.arg())
        if name == "binom":
            top = self.arg()
            return ("binom", top, self.arg())
        if name == "sqrt":
            if self.peek() == "[":
                self.take()
                idx = ("mrow", self.seq(("]",)))
                self.take()
                return ("mroot", self.arg(), idx)
            return ("msqrt", self.arg())
        if name in ("left", "right", "middle"):
            d = self.take() or ""
            if d == ".":
                return None
            return ("mo", _DELIMS.get(d, d))
        if name in _TEXT_CMDS:
            kind = "mi" if name == "operatorname" else "mtext"
            return (kind, self.raw_group())
        if name in _FONT_CMDS:
            inner = self.raw_group()
            if name == "mathbb":
                inner = "".join(_BLACKBOARD.get(ch, ch) for ch in inner)
            return ("mi", inner)
        if name in _ACCENTS:
            return ("mover", self.arg(), _ACCENTS[name])
        if name == "begin":
            env = self.raw_group()
            if env == "array":
                self.raw_group()
            rows: list[list] = [[]]
            while (p := self.peek()) is not None and p != "\\end":
                cell = self.seq(("&", "\\\\", "\\end"))
                rows[-1].append(("mrow", cell))
                p = self.peek()
                if p == "&":
                    self.take()
                elif p == "\\\\":
                    self.take()
                    rows.append([])
            self.take()
            self.raw_group()
            return ("mtable", [r for r in rows if r], env)
        if name in _SKIP_CMDS:
            return None
        if name in _SPACE_CMDS:
            return ("mspace",)
        if name in _GREEK:
            return ("mi", _GREEK[name])
        if name in _MI_SYM:
            return ("mi", _MI_SYM[name])
        if name in _MO_SYM:
            return ("mo", _MO_SYM[name])
        if name in _FUNCS:
            return ("mi", name)
        return ("mi", name)


def _tex_tree(tex: str) -> tuple:
    return ("mrow", _TexParser(tex).seq(()))


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


def _attr(s: str) -> str:
    return html.escape(s, quote=True)


_TABLE_FENCES = {"pmatrix": ("(", ")"), "bmatrix": ("[", "]"), "vmatrix": ("|", "|"),
                 "cases": ("{", "")}


def _mml(node: tuple) -> str:
    """Presentation MathML for a parsed node."""
    k = node[0]
    if k in ("mi", "mn", "mo", "mtext"):
        return f"<{k}>{_esc(node[1])}</{k}>"
    if k == "mrow":
        return "<mrow>" + "".join(_mml(c) for c in node[1]) + "</mrow>"
    if k in ("mfrac", "msup", "msub", "mroot"):
        return f"<{k}>" + "".join(_mml(c) for c in node[1:]) + f"</{k}>"
    if k == "msubsup":
        return "<msubsup>" + "".join(_mml(c) for c in node[1:]) + "</msubsup>"
    if k == "binom":
        return ('<mrow><mo fence="true">(</mo><mfrac linethickness="0px">' + _mml(node[1])
                + _mml(node[2]) + '</mfrac><mo fence="true">)</mo></mrow>')
    if k == "msqrt":
        return "<msqrt>" + _mml(node[1]) + "</msqrt>"
    if k == "mover":
        return '<mover accent="true">' + _mml(node[1]) + f"<mo>{_esc(node[2])}</mo></mover>"
    if k == "mspace":
        return '<mspace width="0.1667em"></mspace>'
    if k == "mtable":
        left, right = _TABLE_FENCES.get(node[2], ("", ""))
        body = "".join(
            "<mtr>" + "".join("<mtd>" + _mml(c) + "</mtd>" for c in row) + "</mtr>"
            for row in node[1]
        )
        out = f"<mtable>{body}</mtable>"
        if left or right:
            out = (f'<mrow><mo fence="true">{_esc(left)}</mo>{out}'
                   f'<mo fence="true">{_esc(right)}</mo></mrow>')
        return out
    raise ValueError(k)


_REL = set("=<>≤≥≠≈≡→⇒⟹⟺⇔∈∉⊂⊆∼≅∝↦∣:")
_BIN = set("+−±∓×⋅÷∪∩∘⊕⊗∧∨∗⋆")
_OPEN = set("([{⟨⌊⌈")
_CLOSE = set(")]}⟩⌋⌉")
_BIGOP = set("∑∫∏∬∮")


def _mo_class(s: str) -> str:
    if s in _REL:
        return "mrel"
    if s in _BIN:
        return "mbin"
    if s in _OPEN:
        return "mopen"
    if s in _CLOSE:
        return "mclose"
    if s in _BIGOP:
        return "mop op-symbol small-op"
    if s == ",":
        return "mpunct"
    return "mord"


def _kx(node: tuple) -> str:
    """KaTeX-like rendered HTML (the aria-hidden glyph soup)."""
    k = node[0]
    if k == "mi":
        s = node[1]
        cls = "mord mathnormal" if len(s) == 1 and s.isascii() else "mop" if len(s) > 1 else "mord"
        return f'<span class="{cls}">{_esc(s)}</span>'
    if k in ("mn", "mtext"):
        cls = "mord" if k == "mn" else "mord text"
        return f'<span class="{cls}">{_esc(node[1])}</span>'
    if k == "mo":
        return f'<span class="{_mo_class(node[1])}">{_esc(node[1])}</span>'
    if k == "mrow":
        return "".join(_kx(c) for c in node[1])
    if k in ("msup", "msub", "msubsup"):
        scripts = [c for c in node[2:]]
        parts = "".join(
            '<span style="top:-3.063em;margin-right:0.05em;"><span class="pstrut" '
            'style="height:2.7em;"></span><span class="sizing reset-size6 size3 mtight">'
            f'<span class="mord mtight">{_kx(s)}</span></span></span>'
            for s in scripts
        )
        return (f'<span class="mord">{_kx(node[1])}<span class="msupsub"><span class="vlist-t">'
                f'<span class="vlist-r"><span class="vlist" style="height:0.8141em;">{parts}'
                "</span></span></span></span></span>")
    if k in ("mfrac", "binom"):
        return ('<span class="mord"><span class="mopen nulldelimiter"></span><span class="mfrac">'
                '<span class="vlist-t vlist-t2"><span class="vlist-r"><span class="vlist" '
                'style="height:1.3214em;"><span style="top:-2.314em;"><span class="pstrut" '
                f'style="height:3em;"></span><span class="mord">{_kx(node[2])}</span></span>'
                '<span style="top:-3.23em;"><span class="pstrut" style="height:3em;"></span>'
                '<span class="frac-line" style="border-bottom-width:0.04em;"></span></span>'
                '<span style="top:-3.677em;"><span class="pstrut" style="height:3em;"></span>'
                f'<span class="mord">{_kx(node[1])}</span></span></span><span class="vlist-s">'
                '\u200b</span></span></span></span><span class="mclose nulldelimiter"></span>'
                "</span>")
    if k in ("msqrt", "mroot"):
        return ('<span class="mord sqrt"><span class="vlist-t vlist-t2"><span class="vlist-r">'
                '<span class="vlist" style="height:0.9128em;"><span class="svg-align" '
                'style="top:-3em;"><span class="pstrut" style="height:3em;"></span>'
                f'<span class="mord" style="padding-left:0.833em;">{_kx(node[1])}</span></span>'
                '<span style="top:-2.8728em;"><span class="pstrut" style="height:3em;"></span>'
                '<span class="hide-tail" style="min-width:0.853em;height:1.08em;"><svg '
                'width="400em" height="1.08em" viewBox="0 0 400000 1080" '
                'preserveAspectRatio="xMinYMin slice"><path d="M95,702 c-2.7,0,-7.17,-2.7,'
                '-13.5,-8c-5.8,-5.3,-9.5,-10,-9.5,-14 c0,-2,0.3,-3.3,1,-4c1.3,-2.7,23.83,'
                '-20.7,67.5,-54 H400000v40H845.2724z"></path></svg></span></span></span>'
                '<span class="vlist-s">\u200b</span></span></span></span>')
    if k == "mover":
        return (f'<span class="mord accent"><span class="mord">{_kx(node[1])}</span>'
                f'<span class="accent-body">{_esc(node[2])}</span></span>')
    if k == "mspace":
        return '<span class="mspace" style="margin-right:0.1667em;"></span>'
    if k == "mtable":
        cols = "".join(
            '<span class="col-align-c">' + "".join(f'<span class="mord">{_kx(c)}</span>'
                                                   for c in row) + "</span>"
            for row in node[1]
        )
        return f'<span class="mord"><span class="mtable">{cols}</span></span>'
    raise ValueError(k)


def _mj(node: tuple, ids: Iterator[int]) -> str:
    """MathJax v2 HTML-CSS output spans."""
    k = node[0]
    i = next(ids)
    if k in ("mi", "mn", "mo", "mtext"):
        font = "MathJax_Math-italic" if k == "mi" and len(node[1]) == 1 else "MathJax_Main"
        return (f'<span class="{k}" id="MathJax-Span-{i}" style="font-family: {font};">'
                f"{_esc(node[1])}</span>")
    if k == "mspace":
        return f'<span class="mspace" id="MathJax-Span-{i}" style="height: 0em; width: 0.167em;"></span>'
    if k == "mrow":
        kids = node[1]
    elif k == "mtable":
        kids = [c for row in node[1] for c in row]
    elif k == "mover":
        kids = [node[1], ("mo", node[2])]
    else:
        kids = list(node[1:])
    cls = "mfrac" if k == "binom" else k
    return f'<span class="{cls}" id="MathJax-Span-{i}">' + "".join(_mj(c, ids) for c in kids) + "</span>"


_SUP = str.maketrans("0123456789+−-n()=i", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻ⁿ⁽⁾⁼ⁱ")
_SUB = str.maketrans("0123456789+−-()=", "₀₁₂₃₄₅₆₇₈₉₊₋₋₍₎₌")
_SUP_OK = set("0123456789+−-n()=i")
_SUB_OK = set("0123456789+−-()=")


def _plain(node: tuple) -> str:
    """Linear Unicode rendering, the way plain-text math pages write formulas."""
    k = node[0]
    if k in ("mi", "mn", "mtext"):
        return node[1]
    if k == "mo":
        s = node[1]
        if s in _REL or s in _BIN:
            return f" {s} "
        return s + " " if s == "," else s
    if k == "mrow":
        out, prev = "", None
        for c in node[1]:
            if prev and prev[0] == "mi" and prev[1] in _FUNCS and c[0] in ("mi", "mn"):
                out += " "
            out += _plain(c)
            prev = c
        return out
    if k in ("msup", "msub", "msubsup"):
        base = _plain(node[1])
        if len(base) > 1 and node[1][0] not in ("mi", "mn", "mrow"):
            base = f"({base})"
        out = base
        pairs = [(node[2], False), (node[3], True)] if k == "msubsup" else [(node[2], k == "msup")]
        for script, is_sup in pairs:
            s = _plain(script).replace(" ", "")
            ok = _SUP_OK if is_sup else _SUB_OK
            if s and all(ch in ok for ch in s):
                out += s.translate(_SUP if is_sup else _SUB)
            else:
                out += ("^" if is_sup else "_") + (s if len(s) == 1 else f"({s})")
        return out
    if k in ("mfrac", "binom"):
        a, b = _plain(node[1]).strip(), _plain(node[2]).strip()
        a = a if re.fullmatch(r"[\w.]+", a) else f"({a})"
        b = b if re.fullmatch(r"[\w.]+", b) else f"({b})"
        return f"C({a}, {b})" if k == "binom" else f"{a}/{b}"
    if k in ("msqrt", "mroot"):
        s = _plain(node[1]).strip()
        return "√" + (s if re.fullmatch(r"\w+", s) else f"({s})")
    if k == "mover":
        return _plain(node[1])
    if k == "mspace":
        return " "
    if k == "mtable":
        return "; ".join(", ".join(_plain(c) for c in row) for row in node[1])
    raise ValueError(k)


def _plain_math(tex: str) -> str:
    return re.sub(r"\s+", " ", _plain(_tex_tree(tex))).strip()


# ---------------------------------------------------------------------------
# math markup renderers: one object per page, collecting the TeX it embeds
# ---------------------------------------------------------------------------

_MATH_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_MATHML_NS = "http://www.w3.org/1998/Math/MathML"


def _segments(text: str) -> list[tuple[str, str]]:
    """Split authoring text into ("t", text) / ("i", tex) / ("d", tex) pieces."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _MATH_RE.finditer(text):
        if m.start() > pos:
            out.append(("t", text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(("d", m.group(1).strip()))
        else:
            out.append(("i", m.group(2).strip()))
        pos = m.end()
    if pos < len(text):
        out.append(("t", text[pos:]))
    return out


class MathRenderer:
    """Turns TeX into one site's math markup and remembers the TeX it used."""

    def __init__(self, markup: str, style: str = "") -> None:
        assert markup in MARKUPS, markup
        self.markup = markup
        self.style = style
        self.formulas: list[str] = []
        self._elem = 0
        self._span = 0

    def math(self, tex: str, display: bool) -> str:
        if self.markup == "none":
            s = _esc(_plain_math(tex))
            return f'<p class="formula" style="text-align:center">{s}</p>' if display else s
        if tex not in self.formulas:
            self.formulas.append(tex)
        return getattr(self, "_" + self.markup)(tex, display)

    # MathJax 2 leaves preview + rendered spans + the original script behind
    def _mathjax_script(self, tex: str, display: bool) -> str:
        self._elem += 1
        n = self._elem
        stype = "math/tex; mode=display" if display else "math/tex"
        script = f'<script type="{stype}" id="MathJax-Element-{n}">{tex}</script>'
        if self.style == "bare":
            return f"<div>{script}</div>" if display else script
        tree = _tex_tree(tex)
        mml = _mml(tree)
        first = self._span + 1
        ids = iter(range(first + 1, 10**9))
        inner = _mj(tree, ids)
        self._span = next(ids)
        width = round(0.55 * max(1, len(_plain_math(tex))), 1)
        disp = ' display="block"' if display else ""
        math_el = f'<math xmlns="{_MATHML_NS}"{disp}>{mml}</math>'
        frame = (
            f'<span class="MathJax" id="MathJax-Element-{n}-Frame" tabindex="0" '
            f'style="position: relative;" data-mathml="{_attr(math_el)}" role="presentation">'
            f'<nobr aria-hidden="true"><span class="math" id="MathJax-Span-{first}" '
            f'style="width: {width}em; display: inline-block;"><span style="display: '
            f'inline-block; position: relative; width: {width}em; height: 0px; font-size: '
            f'120%;"><span style="position: absolute; clip: rect(1.3em, 1000{width}em, 2.6em, '
            f'-999.997em); top: -2.2em; left: 0em;">{inner}<span style="display: '
            'inline-block; width: 0px; height: 2.2em;"></span></span></span></span></nobr>'
            f'<span class="MJX_Assistive_MathML{" MJX_Assistive_MathML_Block" if display else ""}'
            f'" role="presentation">{math_el}</span></span>'
        )
        preview = '<span class="MathJax_Preview" style="color: inherit;"></span>'
        if display:
            return (f'{preview}<div class="MathJax_Display" style="text-align: center;">'
                    f"{frame}</div>{script}")
        return preview + frame + script

    def _mathjax_delims(self, tex: str, display: bool) -> str:
        if self.style == "dollar":
            return f"<p>$${_esc(tex)}$$</p>" if display else f"${_esc(tex)}$"
        return f"<p>\\[{_esc(tex)}\\]</p>" if display else f"\\({_esc(tex)}\\)"

    def _katex(self, tex: str, display: bool) -> str:
        tree = _tex_tree(tex)
        disp = ' display="block"' if display else ""
        body = (
            f'<span class="katex"><span class="katex-mathml"><math xmlns="{_MATHML_NS}"{disp}>'
            f"<semantics>{_mml(tree)}<annotation encoding=\"application/x-tex\">{_esc(tex)}"
            '</annotation></semantics></math></span><span class="katex-html" aria-hidden="true">'
            '<span class="base"><span class="strut" style="height:1.0641em;vertical-align:'
            f'-0.25em;"></span>{_kx(tree)}</span></span></span>'
        )
        return f'<p><span class="katex-display">{body}</span></p>' if display else body

    def _mathml(self, tex: str, display: bool) -> str:
        disp = "block" if display else "inline"
        el = (f'<math xmlns="{_MATHML_NS}" display="{disp}"><semantics>{_mml(_tex_tree(tex))}'
              f'<annotation encoding="application/x-tex">{_esc(tex)}</annotation>'
              "</semantics></math>")
        return f'<div class="displaymath">{el}</div>' if display else el

    def _mathml_alttext(self, tex: str, display: bool) -> str:
        disp = "block" if display else "inline"
        inner = _mml(_tex_tree(tex))[len("<mrow>"):-len("</mrow>")]
        el = f'<math xmlns="{_MATHML_NS}" display="{disp}" alttext="{_attr(tex)}">{inner}</math>'
        return f'<div class="eqn">{el}</div>' if display else el

    def _latex_img(self, tex: str, display: bool) -> str:
        style = self.style
        if style == "wp":
            src = ("https://s0.wp.com/latex.php?latex=" + quote(tex, safe="")
                   + "&bg=ffffff&fg=333333&s=0&c=20201002")
            img = (f'<img src="{_attr(src)}" alt="{_attr(tex)}" title="{_attr(tex)}" '
                   'class="latex" />')
        elif style == "codecogs":
            src = "https://latex.codecogs.com/png.latex?" + tex.replace(" ", "%20")
            img = f'<img src="{_attr(src)}" alt="{_attr(tex)}" style="vertical-align:middle">'
        elif style == "mimetex":
            src = "/cgi-bin/mimetex.cgi?" + tex.replace(" ", "%20")
            img = f'<img src="{_attr(src)}" alt="{_attr(tex)}" align="middle" border="0">'
        else:  # texvc-style hashed PNGs, as old MediaWiki installs serve them
            h = hashlib.md5(tex.encode("utf-8")).hexdigest()
            img = (f'<img class="tex" alt="{_attr(tex)}" '
                   f'src="/images/math/{h[0]}/{h[1]}/{h[2]}/{h}.png">')
        if display:
            return f'<p style="text-align:center;">{img}</p>' if style == "wp" else f"<center>{img}</center>"
        return img

    def _math_container(self, tex: str, display: bool) -> str:
        if not display:
            return f'<span class="math-container">${_esc(tex)}$</span>'
        if self.style == "div":
            return f'<div class="math-container">$${_esc(tex)}$$</div>'
        return f'<p><span class="math-container">$${_esc(tex)}$$</span></p>'


def _inline_html(text: str, r: MathRenderer, parse: bool) -> str:
    if not parse:
        return _esc(text)
    return "".join(_esc(v) if k == "t" else r.math(v, k == "d") for k, v in _segments(text))


def _para_html(text: str, r: MathRenderer, parse: bool, tag: str = "p") -> list[str]:
    """A paragraph; display math breaks it into separate block elements."""
    if not parse:
        return [f"<{tag}>{_esc(text)}</{tag}>"]
    out: list[str] = []
    buf = ""
    for k, v in _segments(text):
        if k == "d":
            if buf.strip():
                out.append(f"<{tag}>{buf.strip()}</{tag}>")
            buf = ""
            out.append(r.math(v, True))
        else:
            buf += _esc(v) if k == "t" else r.math(v, False)
    if buf.strip():
        out.append(f"<{tag}>{buf.strip()}</{tag}>")
    return out


def _render_blocks(blocks: list[Block], r: MathRenderer, parse: bool = True) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind in ("h2", "h3", "h4"):
            out.append(f"<{kind}>{_inline_html(b[1], r, parse)}</{kind}>")
        elif kind == "p":
            out.extend(_para_html(b[1], r, parse))
        elif kind == "raw":  # verbatim text (prices, benchmark quotes with "$")
            out.append(f"<p>{_esc(b[1])}</p>")
        elif kind == "quote":
            out.append("<blockquote>" + "".join(_para_html(b[1], r, parse)) + "</blockquote>")
        elif kind == "rawquote":
            out.append(f"<blockquote><p>{_esc(b[1])}</p></blockquote>")
        elif kind in ("ul", "ol"):
            items = "".join(f"<li>{_inline_html(x, r, parse)}</li>" for x in b[1])
            out.append(f"<{kind}>{items}</{kind}>")
        elif kind == "pre":
            out.append(f"<pre>{_esc(b[1])}</pre>")
        elif kind == "html":
            out.append(b[1])
        else:
            raise ValueError(kind)
    return "\n".join(out)


def _blocks_text(blocks: list[Block]) -> str:
    """Plain-text (with $-delimited TeX) version of blocks, for the seed corpus."""
    parts: list[str] = []
    for b in blocks:
        if b[0] in ("ul", "ol"):
            parts.append("\n".join("- " + x for x in b[1]))
        elif b[0] == "html":
            continue
        else:
            parts.append(b[1])
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------
# math content: seeded generators of worked problems with specific numbers
# ---------------------------------------------------------------------------


@dataclass
class MathDoc:
    """One piece of math content; sites render it in their own style."""

    topic: str
    title: str  # neutral title, plain text
    ask: str  # forum-style question title
    tags: list[str]
    intro: list[Block]  # theory / definitions
    question: list[Block]  # the problem as a student would post it
    answer: list[Block]  # worked solution
    remark: list[Block] = field(default_factory=list)


def _p(*texts: str) -> list[Block]:
    return [("p", t) for t in texts]


def _xpow(n: int, var: str = "x") -> str:
    return var if n == 1 else f"{var}^{n}" if n < 10 else f"{var}^{{{n}}}"


def _g_quadratic(rng: Rng) -> MathDoc:
    a = rng.choice([1, 1, 1, 2, 3])
    r1, r2 = rng.sample([n for n in range(-9, 10) if n != 0], 2)
    b, c = -a * (r1 + r2), a * r1 * r2
    disc = b * b - 4 * a * c
    s = isqrt(disc)
    x1, x2 = (-b + s) // (2 * a), (-b - s) // (2 * a)
    kw = dict(lhs=_poly([a, b, c]), a=a, b=b, c=c, pb=_par(b), pc=_par(c), d=disc, s=s,
              nb=-b, ta=2 * a, x1=x1, x2=x2, sm=_ftex(Fraction(-b, a)), fx1=_lin(x1),
              pr=_ftex(Fraction(c, a)),
              fact=("" if a == 1 else str(a)) + f"({_lin(x1)})({_lin(x2)})")
    q = rng.choice([
        r"I have to solve $@lhs = 0$ for real $x$. I tried completing the square but the "
        r"fractions got messy and I ended up with two different answers on two attempts. Is "
        r"there a cleaner method, and how can I check which answer is right?",
        r"Our teacher gave us the equation $$@lhs = 0$$ and asked for all real solutions. I "
        r"know there is a formula for this but I am not sure how to use it when some of the "
        r"coefficients are negative. Could someone walk me through it step by step?",
        r"Find all real roots of $@lhs = 0$. I got $x = @x1$ but the answer key lists two "
        r"roots, so I must have lost one somewhere when I divided.",
    ])
    ans = _p(
        rng.choice(["Use the quadratic formula.", "The cleanest route is the quadratic formula.",
                    "Nothing fancy is needed here; the quadratic formula does it."])
        + r" For $ax^2 + bx + c = 0$ with $a \neq 0$ the solutions are "
        r"$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}.$$ Here $a = @a$, $b = @b$ and $c = @c$, so "
        r"the discriminant is $$\Delta = b^2 - 4ac = @pb^2 - 4 \cdot @a \cdot @pc = @d.$$",
        r"Since $\Delta = @d > 0$ and $\sqrt{@d} = @s$, there are two distinct real roots: "
        r"$$x_{1,2} = \frac{@nb \pm @s}{@ta},$$ that is $x_1 = @x1$ and $x_2 = @x2$.",
        r"To check, use Vieta's formulas: the sum of the roots must be $-\frac{b}{a} = @sm$ and "
        r"the product must be $\frac{c}{a} = @pr$. Both hold, and indeed the polynomial "
        r"factors as $$@lhs = @fact.$$ If you divide by a factor like $@fx1$ you silently "
        r"drop the root $x = @x1$, which is the usual way a solution gets lost.",
    )
    intro = _p(
        r"A quadratic equation is an equation of the form $ax^2 + bx + c = 0$ with $a \neq 0$. "
        r"The number of real solutions is decided by the discriminant $\Delta = b^2 - 4ac$: "
        r"if $\Delta > 0$ there are two real roots, if $\Delta = 0$ there is one repeated root, "
        r"and if $\Delta < 0$ there are two complex conjugate roots.",
        r"Completing the square explains the formula. Dividing by $a$ and adding "
        r"$\left(\frac{b}{2a}\right)^2$ to both sides gives "
        r"$$\left(x + \frac{b}{2a}\right)^2 = \frac{b^2 - 4ac}{4a^2},$$ and taking square "
        r"roots of both sides yields $x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$.",
    )
    rem = _p(r"When $a = 1$ you can often factor by inspection: look for two numbers whose "
             r"product is $c$ and whose sum is $b$. Here that means two numbers with product "
             r"$@pr$ and sum $@mb$, namely $@n1$ and $@n2$.")
    rem = [("p", _fill(rem[0][1], pr=_ftex(Fraction(c, a)), mb=_ftex(Fraction(b, a)),
                       n1=-x1, n2=-x2))]
    return MathDoc("quadratic", rng.choice(["Solving a quadratic equation",
                                            "The quadratic formula in practice",
                                            "Roots of a quadratic by formula and by factoring"]),
                   rng.choice(["How do I solve this quadratic equation?",
                               "Quadratic formula with negative coefficients",
                               "Why did I lose a root of this quadratic?"]),
                   ["algebra-precalculus", "quadratics"], intro,
                   _p(_fill(q, **kw)), [(k, _fill(t, **kw)) for k, t in ans], rem)


def _g_integral(rng: Rng) -> MathDoc:
    p, q, r = rng.randint(1, 6), rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]), rng.randint(-4, 6)
    a = rng.randint(-2, 1)
    b = a + rng.randint(1, 3)

    def big_f(x: int) -> Fraction:
        return Fraction(p, 3) * x**3 + Fraction(q, 2) * x**2 + r * x

    fb, fa = big_f(b), big_f(a)
    val = fb - fa
    kw = dict(f=_poly([p, q, r]), F=_poly([Fraction(p, 3), Fraction(q, 2), r, 0]), a=a, b=b,
              Fb=_ftex(fb), Fa=_ftex(fa), pFa=_par(fa), val=_ftex(val), ba=b - a,
              avg=_ftex(val / (b - a)))
    q_txt = rng.choice([
        r"I am practising for my calculus exam and got stuck on $$\int_{@a}^{@b} \left(@f\right)"
        r"\,dx.$$ I found an antiderivative but my final number does not match the answer key. "
        r"I suspect I am messing up the signs when I plug in the lower limit.",
        r"Evaluate the definite integral $\int_{@a}^{@b} (@f)\,dx$. Please show the steps, I "
        r"want to understand where the fundamental theorem of calculus comes in.",
    ])
    ans = [
        r"Work term by term with the power rule $\int x^n\,dx = \frac{x^{n+1}}{n+1} + C$ for "
        r"$n \neq -1$. An antiderivative of $f(x) = @f$ is $$F(x) = @F.$$",
        r"By the fundamental theorem of calculus the integral equals $F(@b) - F(@a)$. "
        r"Evaluating carefully, $F(@b) = @Fb$ and $F(@a) = @Fa$, so "
        r"$$\int_{@a}^{@b} \left(@f\right)\,dx = @Fb - @pFa = @val.$$",
    ]
    if a < 0:
        ans.append(r"The usual slip is in the second evaluation: the lower limit is negative, "
                   r"so odd powers change sign. Write out $F(@a)$ with parentheses around "
                   r"every occurrence of $@a$ before simplifying and the discrepancy goes away.")
    else:
        ans.append(r"A quick sanity check: the average value of $f$ on $[@a, @b]$ is "
                   r"$\frac{1}{@ba}\int_{@a}^{@b} f(x)\,dx = @avg$, which has to lie between "
                   r"the smallest and the largest value of $f$ on the interval, and it does.")
    intro = _p(
        r"The definite integral $\int_a^b f(x)\,dx$ measures the signed area between the graph "
        r"of $f$ and the $x$-axis over $[a, b]$. If $f$ is continuous on $[a, b]$ and $F$ is "
        r"any antiderivative of $f$, the fundamental theorem of calculus states that "
        r"$$\int_a^b f(x)\,dx = F(b) - F(a).$$",
        r"For polynomials the antiderivative comes from the power rule applied term by term, "
        r"together with linearity: $\int (\alpha f + \beta g)\,dx = \alpha \int f\,dx + "
        r"\beta \int g\,dx$ for constants $\alpha$ and $\beta$.",
    )
    return MathDoc("integral", rng.choice(["Definite integral of a quadratic polynomial",
                                           "Evaluating a definite integral with the power rule",
                                           "Area under a parabola"]),
                   rng.choice(["How do I evaluate this definite integral?",
                               "Definite integral of a polynomial: where is my sign error?",
                               "Checking a definite integral from a practice exam"]),
                   ["calculus", "integration", "definite-integrals"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_derivative(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        n, k = rng.randint(2, 5), rng.randint(2, 7)
        sign = "" if k % 2 == 0 else "-"
        kw = dict(n=n, k=k, xn=_xpow(n), xn1=_xpow(n - 1), sign=sign,
                  cn="" if n == 1 else str(n))
        q_txt = (r"Differentiate $f(x) = @xn \sin(@k x)$ and evaluate $f'(\pi)$. I know I need "
                 r"the product rule, but I always forget where the chain rule factor goes.")
        ans = [
            r"The product rule says $(uv)' = u'v + uv'$. Take $u = @xn$ and $v = \sin(@k x)$. "
            r"Then $u' = @cn@xn1$ and, by the chain rule, $v' = @k \cos(@k x)$: the inner "
            r"function $@k x$ has derivative $@k$, and that is where the extra factor comes from.",
            r"Putting it together, $$f'(x) = @cn@xn1 \sin(@k x) + @k @xn \cos(@k x).$$",
            r"At $x = \pi$ we have $\sin(@k\pi) = 0$ and $\cos(@k\pi) = (-1)^{@k}$, so the first "
            r"term vanishes and $$f'(\pi) = @sign@k\pi^@n.$$",
        ]
        kw["cn"] = str(n)
        topic_title = "Product rule with a chain rule inside"
    else:
        p, c, m = rng.randint(1, 5), rng.randint(1, 6), rng.randint(3, 7)
        g1 = 2 * p * m * (p + c) ** (m - 1)
        kw = dict(inner=_poly([p, 0, c]), m=m, m1=m - 1, tp=2 * p, coef=2 * p * m, pc=p + c,
                  g1=_thousands(g1).replace(",", "{,}"), p=p)
        q_txt = (r"What is the derivative of $g(x) = (@inner)^@m$? Do I really have to expand "
                 r"the power? I also need the slope of the tangent line at $x = 1$.")
        ans = [
            r"No expansion needed. Write $g = h \circ u$ with $u(x) = @inner$ and $h(u) = u^@m$. "
            r"The chain rule gives $g'(x) = h'(u(x))\,u'(x)$, where $h'(u) = @m u^@m1$ and "
            r"$u'(x) = @tp x$.",
            r"Therefore $$g'(x) = @m(@inner)^@m1 \cdot @tp x = @coef x (@inner)^@m1.$$",
            r"At $x = 1$ the inner function equals $@pc$, so the slope of the tangent line is "
            r"$g'(1) = @coef \cdot @pc^@m1 = @g1$.",
        ]
        topic_title = "Chain rule for a power of a polynomial"
    intro = _p(
        r"The derivative of $f$ at $a$ is the limit $$f'(a) = \lim_{h \to 0} "
        r"\frac{f(a+h) - f(a)}{h},$$ when it exists. It is the slope of the tangent line to "
        r"the graph at $(a, f(a))$.",
        r"Two rules do most of the work in practice: the product rule $(uv)' = u'v + uv'$ and "
        r"the chain rule $(h \circ u)'(x) = h'(u(x))\,u'(x)$. Combined with the derivatives "
        r"$\frac{d}{dx} x^n = n x^{n-1}$, $\frac{d}{dx}\sin x = \cos x$ and "
        r"$\frac{d}{dx}\cos x = -\sin x$ they handle every elementary function.",
    )
    return MathDoc("derivative", topic_title,
                   rng.choice(["Derivative using the chain rule", "Where does the extra "
                               "factor in the chain rule come from?",
                               "Differentiating without expanding"]),
                   ["calculus", "derivatives"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_limit(rng: Rng) -> MathDoc:
    if rng.random() < 0.6:
        r, s = rng.sample([n for n in range(-6, 7) if n != 0], 2)
        kw = dict(num=_poly([1, -(r + s), r * s]), den=_lin(r), r=r, lim=r - s, fr=_lin(r),
                  fs=_lin(s), d2=_poly([2, -(r + s)]))
        q_txt = (r"Find $$\lim_{x \to @r} \frac{@num}{@den}.$$ Plugging in $x = @r$ gives "
                 r"$\frac{0}{0}$. Does that mean the limit does not exist?")
        ans = [
            r"No: $\frac{0}{0}$ is an indeterminate form, it only tells you that more work is "
            r"needed. Since $x = @r$ is a root of the numerator, $@fr$ is a factor: "
            r"$$@num = (@fr)(@fs).$$",
            r"For $x \neq @r$ we may cancel, and the limit only looks at $x \neq @r$: "
            r"$$\lim_{x \to @r} \frac{(@fr)(@fs)}{@fr} = \lim_{x \to @r} (@fs) = @lim.$$",
            r"L'Hôpital's rule confirms it: the derivative of the numerator is $@d2$, which "
            r"equals $@lim$ at $x = @r$, while the derivative of the denominator is $1$.",
        ]
    else:
        k, m = rng.randint(2, 9), rng.randint(2, 9)
        kw = dict(k=k, m=m, lim=_ftex(Fraction(k, m)))
        q_txt = (r"How do I compute $\lim_{x \to 0} \frac{\sin(@k x)}{@m x}$ without a "
                 r"calculator? Our book only proves $\lim_{x \to 0} \frac{\sin x}{x} = 1$.")
        ans = [
            r"That standard limit is all you need. Substitute $u = @k x$, so $u \to 0$ as "
            r"$x \to 0$, and rewrite $$\frac{\sin(@k x)}{@m x} = \frac{@k}{@m} \cdot "
            r"\frac{\sin(@k x)}{@k x} = \frac{@k}{@m} \cdot \frac{\sin u}{u}.$$",
            r"Hence $$\lim_{x \to 0} \frac{\sin(@k x)}{@m x} = \frac{@k}{@m} \cdot 1 = @lim.$$",
            r"Geometrically, $\sin u \approx u$ for small $u$ (the graph of $\sin$ is tangent to "
            r"the line $y = u$ at the origin), so the quotient behaves like $\frac{@k x}{@m x}$.",
        ]
    intro = _p(
        r"We write $\lim_{x \to a} f(x) = L$ if for every $\varepsilon > 0$ there is a "
        r"$\delta > 0$ such that $0 < |x - a| < \delta$ implies $|f(x) - L| < \varepsilon$. "
        r"The value $f(a)$ itself plays no role; $f$ need not even be defined at $a$.",
        r"When direct substitution produces $\frac{0}{0}$, the usual tools are factoring and "
        r"cancelling, rationalising, known limits such as $\lim_{x \to 0} \frac{\sin x}{x} = 1$, "
        r"or L'Hôpital's rule.",
    )
    return MathDoc("limit", rng.choice(["Evaluating a limit of the form 0/0",
                                        "Indeterminate forms and how to resolve them"]),
                   rng.choice(["Limit gives 0/0, what now?", "Evaluating a limit without "
                               "L'Hôpital", "Is a 0/0 limit undefined?"]),
                   ["calculus", "limits"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_geometric(rng: Rng) -> MathDoc:
    a, qd = rng.randint(2, 9), rng.randint(2, 5)
    ratio = Fraction(rng.choice([1, -1]), qd)
    terms = [a * ratio**i for i in range(4)]
    series = _ftex(terms[0])
    for t in terms[1:]:
        series += (" - " if t < 0 else " + ") + _ftex(abs(t))
    series += r" + \cdots" if ratio > 0 else r" \pm \cdots"
    total = a / (1 - ratio)
    s5 = a * (1 - ratio**5) / (1 - ratio)
    kw = dict(series=series, a=a, r=_ftex(ratio), pr=r"\left(" + _ftex(ratio) + r"\right)",
              total=_ftex(total),
              s5=_ftex(s5), diff=_ftex(abs(total - s5)), absr=_ftex(abs(ratio)))
    q_txt = (r"What is the sum of the infinite series $$@series$$ and how close do the first "
             r"five terms get? I can see the terms shrink but I do not know how to add "
             r"infinitely many of them.")
    ans = _p(
        r"Each term is the previous one multiplied by $@r$, so this is a geometric series with "
        r"first term $a = @a$ and ratio $r = @r$. The partial sums are "
        r"$$S_n = a + ar + \cdots + ar^{n-1} = a\,\frac{1 - r^n}{1 - r},$$ which you can verify "
        r"by computing $S_n - rS_n = a - ar^n$.",
        r"Because $|r| = @absr < 1$, $r^n \to 0$ and the series converges to "
        r"$$\sum_{n=0}^{\infty} @a \cdot @pr^n = \frac{a}{1 - r} = @total.$$",
        r"The first five terms give $S_5 = @a \cdot \frac{1 - @pr^5}{1 - @pr} = @s5$, which "
        r"differs from the limit by $@diff$.",
    )
    intro = _p(
        r"A geometric series has the form $\sum_{n=0}^{\infty} ar^n$. It converges exactly when "
        r"$|r| < 1$, and then its sum is $\frac{a}{1-r}$; for $|r| \geq 1$ the terms do not "
        r"tend to zero, so the series diverges.",
        r"Geometric series appear everywhere: repeating decimals such as "
        r"$0.\overline{3} = \sum_{n=1}^{\infty} 3 \cdot 10^{-n} = \frac{1}{3}$, compound "
        r"interest, and the comparison test for other series.",
    )
    return MathDoc("geometric", "Sum of an infinite geometric series",
                   rng.choice(["How do I add infinitely many terms?",
                               "Sum of a geometric series with a fractional ratio"]),
                   ["sequences-and-series", "calculus"], intro, _p(_fill(q_txt, **kw)),
                   [(k, _fill(t, **kw)) for k, t in ans])


_INDUCTION = [
    ("Sum of the first n odd numbers",
     r"1 + 3 + 5 + \cdots + (2n - 1) = n^2",
     r"For $n = 1$ the left side is $1$ and the right side is $1^2 = 1$.",
     r"Assume $1 + 3 + \cdots + (2n - 1) = n^2$ for some $n \geq 1$. Adding the next odd number "
     r"$2(n+1) - 1 = 2n + 1$ to both sides gives $$1 + 3 + \cdots + (2n-1) + (2n+1) = "
     r"n^2 + 2n + 1 = (n+1)^2,$$ which is the statement for $n + 1$.",
     lambda n: (sum(2 * k - 1 for k in range(1, n + 1)), n * n)),
    ("Sum of the first n squares",
     r"\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}",
     r"For $n = 1$ both sides equal $1$, since $\frac{1 \cdot 2 \cdot 3}{6} = 1$.",
     r"Assume the formula holds for $n$. Then $$\sum_{k=1}^{n+1} k^2 = \frac{n(n+1)(2n+1)}{6} "
     r"+ (n+1)^2 = \frac{(n+1)\left(2n^2 + 7n + 6\right)}{6} = \frac{(n+1)(n+2)(2n+3)}{6},$$ "
     r"which is the formula with $n$ replaced by $n + 1$.",
     lambda n: (sum(k * k for k in range(1, n + 1)), n * (n + 1) * (2 * n + 1) // 6)),
    ("Divisibility of n^3 + 2n by 3",
     r"3 \mid n^3 + 2n \text{ for all } n \geq 1",
     r"For $n = 1$ we get $1 + 2 = 3$, which is divisible by $3$.",
     r"Assume $3 \mid n^3 + 2n$. Expanding, $$(n+1)^3 + 2(n+1) = n^3 + 3n^2 + 3n + 1 + 2n + 2 "
     r"= (n^3 + 2n) + 3(n^2 + n + 1).$$ The first bracket is divisible by $3$ by hypothesis "
     r"and the second is a multiple of $3$, so $3 \mid (n+1)^3 + 2(n+1)$.",
     lambda n: ((n**3 + 2 * n) % 3, 0)),
    ("Bernoulli's inequality",
     r"(1 + x)^n \geq 1 + nx \text{ for } x \geq -1",
     r"For $n = 1$ both sides equal $1 + x$.",
     r"Assume $(1+x)^n \geq 1 + nx$. Since $1 + x \geq 0$ we may multiply both sides by it: "
     r"$$(1+x)^{n+1} \geq (1 + nx)(1 + x) = 1 + (n+1)x + nx^2 \geq 1 + (n+1)x,$$ because "
     r"$nx^2 \geq 0$.",
     lambda n: (3**n, 1 + 2 * n)),
    ("Powers of two beat squares",
     r"2^n > n^2 \text{ for all } n \geq 5",
     r"For $n = 5$ we have $2^5 = 32 > 25 = 5^2$.",
     r"Assume $2^n > n^2$ for some $n \geq 5$. Then $2^{n+1} = 2 \cdot 2^n > 2n^2$, and "
     r"$2n^2 \geq (n+1)^2$ is equivalent to $(n-1)^2 \geq 2$, which is true for $n \geq 3$. "
     r"Hence $2^{n+1} > (n+1)^2$.",
     lambda n: (2**n, n * n)),
]


def _g_induction(rng: Rng) -> MathDoc:
    title, stmt, base, step, check = rng.choice(_INDUCTION)
    n = rng.randint(5, 12)
    lhs, rhs = check(n)
    q_txt = _fill(r"Prove by induction that $$@stmt$$ I checked it numerically (for $n = @n$ the "
                  r"two sides give $@lhs$ and $@rhs$) but I do not see how to write the "
                  r"inductive step properly.", stmt=stmt, n=n, lhs=lhs, rhs=rhs)
    if "mid" in stmt:
        q_txt = _fill(r"Prove by induction that $@stmt$. For example $n = @n$ gives "
                      r"$@v$, which is divisible by $3$, but I want a proof for every $n$.",
                      stmt=stmt, n=n, v=n**3 + 2 * n)
    elif "Bernoulli" in title:
        q_txt = _fill(r"Prove by induction on $n$ that $$@stmt$$ and every integer $n \geq 1$. "
                      r"With $x = 2$ and $n = @n$ this says $@lhs \geq @rhs$, which is clearly "
                      r"true, but how does the induction go?", stmt=stmt, n=n, lhs=lhs, rhs=rhs)
    ans = [
        ("p", r"A proof by induction has two parts: a base case and an inductive step."),
        ("p", r"**Base case.** " + base),
        ("p", r"**Inductive step.** " + step),
        ("p", r"By the principle of mathematical induction the statement holds for every "
              r"admissible $n$. $\blacksquare$"),
    ]
    ans = [(k, t.replace("**", "")) for k, t in ans]
    intro = _p(
        r"The principle of mathematical induction: if $P(n_0)$ is true, and $P(n)$ implies "
        r"$P(n+1)$ for every $n \geq n_0$, then $P(n)$ is true for every integer $n \geq n_0$. "
        r"It follows from the well-ordering of the natural numbers: a smallest counterexample "
        r"cannot exist.",
    )
    return MathDoc("induction", "Proof by induction: " + title.lower(),
                   rng.choice(["How do I write the inductive step?",
                               "Induction proof: " + title.lower(),
                               "Stuck on an induction exercise"]),
                   ["induction", "proof-writing", "elementary-number-theory"], intro,
                   _p(q_txt), ans)


def _lincomb(terms: list[tuple[int, str]]) -> str:
    out = ""
    for c, v in terms:
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else str(abs(c))
        if not out:
            out = ("-" if c < 0 else "") + mag + v
        else:
            out += (" - " if c < 0 else " + ") + mag + v
    return out


def _g_linsys(rng: Rng) -> MathDoc:
    while True:
        x0, y0 = rng.randint(-6, 6), rng.randint(-6, 6)
        a1, b1, a2, b2 = (rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]) for _ in range(4))
        det = a1 * b2 - a2 * b1
        if det != 0:
            break
    c1, c2 = a1 * x0 + b1 * y0, a2 * x0 + b2 * y0
    dx, dy = c1 * b2 - c2 * b1, a1 * c2 - a2 * c1
    kw = dict(e1=_lincomb([(a1, "x"), (b1, "y")]) + f" = {c1}",
              e2=_lincomb([(a2, "x"), (b2, "y")]) + f" = {c2}",
              a1=a1, b1=b1, a2=a2, b2=b2, c1=c1, c2=c2, det=det, dx=dx, dy=dy, x0=x0, y0=y0,
              px=_par(x0), py=_par(y0), pb1=_par(b1), pb2=_par(b2), pa2=_par(a2), pc2=_par(c2))
    q_txt = (r"Solve the system $$\begin{cases} @e1 \\ @e2 \end{cases}$$ using Cramer's rule. "
             r"I know the formula involves determinants but I mix up which column gets replaced.")
    ans = [
        r"Write the system as $A\mathbf{v} = \mathbf{c}$ with $$A = \begin{pmatrix} @a1 & @b1 "
        r"\\ @a2 & @b2 \end{pmatrix}, \qquad \mathbf{c} = \begin{pmatrix} @c1 \\ @c2 "
        r"\end{pmatrix}.$$ First $\det A = @a1 \cdot @pb2 - @pa2 \cdot @pb1 = @det \neq 0$, so "
        r"there is exactly one solution.",
        r"For $x$, replace the first column (the $x$-coefficients) by $\mathbf{c}$; for $y$, "
        r"replace the second column: $$x = \frac{1}{@det}\begin{vmatrix} @c1 & @b1 \\ @c2 & @b2 "
        r"\end{vmatrix} = \frac{@dx}{@det} = @x0, \qquad y = \frac{1}{@det}\begin{vmatrix} @a1 "
        r"& @c1 \\ @a2 & @c2 \end{vmatrix} = \frac{@dy}{@det} = @y0.$$",
        r"Check in the first equation: $@a1 \cdot @px + @pb1 \cdot @py = @c1$. It is always "
        r"worth substituting back, since a sign error in one determinant is easy to make.",
    ]
    intro = _p(
        r"Cramer's rule: if $A$ is an $n \times n$ matrix with $\det A \neq 0$, the system "
        r"$A\mathbf{x} = \mathbf{b}$ has the unique solution $x_i = \frac{\det A_i}{\det A}$, "
        r"where $A_i$ is $A$ with its $i$-th column replaced by $\mathbf{b}$.",
        r"For a $2 \times 2$ matrix, $\det \begin{pmatrix} a & b \\ c & d \end{pmatrix} = "
        r"ad - bc$. Cramer's rule is convenient for small systems; for large ones Gaussian "
        r"elimination is far cheaper.",
    )
    return MathDoc("linsys", "Solving a 2 by 2 linear system with Cramer's rule",
                   rng.choice(["Which column do I replace in Cramer's rule?",
                               "Solving a system of two equations with determinants"]),
                   ["linear-algebra", "systems-of-equations"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_eigen(rng: Rng) -> MathDoc:
    m, d = rng.randint(-3, 6), rng.randint(1, 5)
    l1, l2 = m + d, m - d
    kw = dict(m=m, d=d, l1=l1, l2=l2, pl1=_par(l1), tr=2 * m, det=m * m - d * d,
              cp=_poly([1, -2 * m, m * m - d * d], r"\lambda"),
              f1=_lin(l1, r"\lambda"), f2=_lin(l2, r"\lambda"), pd=_par(d),
              mm1=(f"{m} - " if m else "-") + r"\lambda")
    q_txt = (r"Find the eigenvalues and eigenvectors of $$A = \begin{pmatrix} @m & @d \\ @d & @m "
             r"\end{pmatrix}.$$ Is $A$ diagonalizable?")
    ans = [
        r"The characteristic polynomial is $$\det(A - \lambda I) = (@mm1)^2 - @d^2 = @cp = "
        r"(@f1)(@f2),$$ so the eigenvalues are $\lambda_1 = @l1$ and $\lambda_2 = @l2$. As a "
        r"check, $\lambda_1 + \lambda_2 = @tr = \operatorname{tr} A$ and "
        r"$\lambda_1 \lambda_2 = @det = \det A$.",
        r"For $\lambda_1 = @l1$, the matrix $A - @pl1 I$ has both rows proportional to "
        r"$(-1, 1)$, so the eigenvectors are the nonzero multiples of $(1, 1)^T$. For "
        r"$\lambda_2 = @l2$ we get the multiples of $(1, -1)^T$.",
        r"Two distinct eigenvalues give two independent eigenvectors, so $A$ is diagonalizable: "
        r"$$A = P D P^{-1}, \quad P = \begin{pmatrix} 1 & 1 \\ 1 & -1 \end{pmatrix}, \quad "
        r"D = \begin{pmatrix} @l1 & 0 \\ 0 & @l2 \end{pmatrix}.$$ In fact $A$ is symmetric, "
        r"so by the spectral theorem it is even orthogonally diagonalizable.",
    ]
    intro = _p(
        r"A scalar $\lambda$ is an eigenvalue of a square matrix $A$ if $A\mathbf{v} = \lambda "
        r"\mathbf{v}$ for some nonzero vector $\mathbf{v}$, called an eigenvector. Equivalently, "
        r"$\det(A - \lambda I) = 0$, so the eigenvalues are the roots of the characteristic "
        r"polynomial.",
        r"For a $2 \times 2$ matrix the characteristic polynomial is "
        r"$\lambda^2 - (\operatorname{tr} A)\lambda + \det A$, which gives a quick check on "
        r"any computation: the eigenvalues sum to the trace and multiply to the determinant.",
    )
    return MathDoc("eigen", "Eigenvalues of a symmetric 2 by 2 matrix",
                   rng.choice(["Eigenvalues and eigenvectors of a 2x2 matrix",
                               "Is this symmetric matrix diagonalizable?"]),
                   ["linear-algebra", "eigenvalues-eigenvectors"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


_TRIALS = [
    ("toss a fair coin", "heads", Fraction(1, 2)),
    ("roll a fair six-sided die", "sixes", Fraction(1, 6)),
    ("spin a spinner with three equal sectors, one of them red,", "reds", Fraction(1, 3)),
    ("let a player who makes 70% of her free throws shoot", "made shots", Fraction(7, 10)),
]


def _g_binomial(rng: Rng) -> MathDoc:
    what, succ, p = rng.choice(_TRIALS)
    n = rng.randint(5, 10)
    k = rng.randint(1, n - 1)
    prob = comb(n, k) * p**k * (1 - p) ** (n - k)
    none = (1 - p) ** n
    kw = dict(what=what, succ=succ, n=n, k=k, nk=n - k, p=_ftex(p), q=_ftex(1 - p),
              c=comb(n, k), prob=_ftex(prob), dec=_dec(float(prob)),
              atl=_dec(float(1 - none)), mean=_ftex(n * p), var=_ftex(n * p * (1 - p)))
    q_txt = (r"If you @what $@n$ times, what is the probability of getting exactly $@k$ @succ? "
             r"And what is the probability of getting at least one?")
    ans = [
        r"The trials are independent with success probability $p = @p$, so the number $X$ of "
        r"@succ has a binomial distribution: $$P(X = k) = \binom{n}{k} p^k (1 - p)^{n - k}.$$",
        r"Here $$P(X = @k) = \binom{@n}{@k} \left(@p\right)^{@k} \left(@q\right)^{@nk} = @c "
        r"\cdot \left(@p\right)^{@k} \left(@q\right)^{@nk} = @prob \approx @dec.$$",
        r"For at least one success use the complement: $P(X \geq 1) = 1 - P(X = 0) = "
        r"1 - \left(@q\right)^{@n} \approx @atl$. As a side remark, $E[X] = np = @mean$ and "
        r"$\operatorname{Var}(X) = np(1-p) = @var$.",
    ]
    intro = _p(
        r"A binomial random variable counts successes in $n$ independent trials with the same "
        r"success probability $p$. The coefficient $\binom{n}{k} = \frac{n!}{k!(n-k)!}$ counts "
        r"the positions of the $k$ successes, and each such arrangement has probability "
        r"$p^k (1-p)^{n-k}$.",
    )
    return MathDoc("binomial", "Binomial probabilities with a worked example",
                   rng.choice(["Probability of exactly k successes", "Binomial distribution "
                               "question", "How many ways, and what probability?"]),
                   ["probability", "binomial-distribution"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _ext_gcd(a: int, b: int) -> tuple[int, int, int]:
    if b == 0:
        return a, 1, 0
    g, x, y = _ext_gcd(b, a % b)
    return g, y, x - (a // b) * y


def _g_euclid(rng: Rng) -> MathDoc:
    while True:
        g, m = rng.randint(2, 30), rng.randint(10, 60)
        n = rng.randint(5, m - 1)
        if gcd(m, n) == 1:
            break
    a, b = g * m, g * n
    lines, x, y = [], a, b
    while y:
        q, r = divmod(x, y)
        lines.append(f"{x} &= {q} \\cdot {y} + {r}")
        x, y = y, r
    _, s, t = _ext_gcd(a, b)
    kw = dict(a=a, b=b, g=g, steps=r" \\ ".join(lines), s=_par(s), t=_par(t),
              lcm=a * b // g, nsteps=len(lines))
    q_txt = (r"Use the Euclidean algorithm to find $\gcd(@a, @b)$, and then find integers $s$ "
             r"and $t$ with $@a s + @b t = \gcd(@a, @b)$.")
    ans = [
        r"Divide repeatedly, each time replacing the pair by (divisor, remainder): "
        r"$$\begin{aligned} @steps \end{aligned}$$",
        r"The last nonzero remainder is the gcd, so $\gcd(@a, @b) = @g$. This took @nsteps "
        r"divisions; the remainders shrink at least by half every two steps, so the algorithm "
        r"is fast even for huge numbers.",
        r"Running the equations backwards (the extended Euclidean algorithm) expresses the gcd "
        r"as a combination: $$@g = @a \cdot @s + @b \cdot @t.$$ As a bonus, "
        r"$\operatorname{lcm}(@a, @b) = \frac{@a \cdot @b}{@g} = @lcm$.",
    ]
    intro = _p(
        r"The Euclidean algorithm rests on one identity: if $a = qb + r$ then "
        r"$\gcd(a, b) = \gcd(b, r)$, because any common divisor of $a$ and $b$ divides "
        r"$r = a - qb$, and conversely.",
        r"Bézout's identity states that for integers $a, b$ not both zero there are integers "
        r"$s, t$ with $as + bt = \gcd(a, b)$; moreover $\gcd(a, b)$ is the smallest positive "
        r"integer of this form.",
    )
    return MathDoc("euclid", "The Euclidean algorithm and Bézout coefficients",
                   rng.choice(["Extended Euclidean algorithm example", "Finding gcd and "
                               "Bezout coefficients by hand"]),
                   ["elementary-number-theory", "gcd-and-lcm"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_taylor(rng: Rng) -> MathDoc:
    t, n = rng.randint(1, 5), rng.randint(3, 5)
    x = t / 10
    approx = sum(x**k / factorial(k) for k in range(n + 1))
    bound = 2 * x ** (n + 1) / factorial(n + 1)
    terms = " + ".join(["1", "x"] + [rf"\frac{{x^{k}}}{{{factorial(k)}}}" for k in range(2, n + 1)])
    kw = dict(x=f"{x:.1f}", n=n, n1=n + 1, terms=terms, approx=_dec(approx, 6),
              true=_dec(exp(x), 6), bound=f"{bound:.2e}".replace("e-0", r" \times 10^{-") + "}",
              fact=factorial(n + 1))
    q_txt = (r"Use the Taylor polynomial of degree $@n$ of $e^x$ at $0$ to approximate "
             r"$e^{@x}$, and give an upper bound for the error.")
    ans = [
        r"All derivatives of $e^x$ equal $e^x$, which is $1$ at $0$, so the Maclaurin polynomial "
        r"of degree $@n$ is $$P_@n(x) = @terms.$$ Plugging in $x = @x$ gives "
        r"$P_@n(@x) = @approx$.",
        r"By Taylor's theorem with the Lagrange remainder, $e^{@x} - P_@n(@x) = "
        r"\frac{e^{c}}{@n1!}(@x)^{@n1}$ for some $c$ between $0$ and $@x$. Since "
        r"$e^c < e^{0.5} < 2$, $$0 < e^{@x} - P_@n(@x) < \frac{2 \cdot (@x)^{@n1}}{@fact} "
        r"\approx @bound.$$",
        r"For comparison, a calculator gives $e^{@x} = @true$, comfortably within the bound.",
    ]
    intro = _p(
        r"If $f$ has $n+1$ continuous derivatives near $a$, Taylor's theorem gives "
        r"$$f(x) = \sum_{k=0}^{n} \frac{f^{(k)}(a)}{k!}(x-a)^k + R_n(x), \qquad "
        r"R_n(x) = \frac{f^{(n+1)}(c)}{(n+1)!}(x - a)^{n+1}$$ for some $c$ between $a$ and $x$.",
        r"For the exponential function the series converges for every real $x$: "
        r"$e^x = \sum_{k=0}^{\infty} \frac{x^k}{k!}$.",
    )
    return MathDoc("taylor", "Approximating the exponential with a Taylor polynomial",
                   rng.choice(["Error bound for a Taylor approximation of e^x",
                               "How accurate is the Taylor polynomial here?"]),
                   ["calculus", "taylor-expansion", "approximation"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_arith(rng: Rng) -> MathDoc:
    a1, d, n = rng.randint(12, 30), rng.randint(2, 4), rng.randint(15, 35)
    an = a1 + (n - 1) * d
    total = n * (a1 + an) // 2 if (n * (a1 + an)) % 2 == 0 else None
    if total is None:
        n += 1
        an = a1 + (n - 1) * d
        total = n * (a1 + an) // 2
    kw = dict(a1=a1, d=d, n=n, n1=n - 1, an=an, tot=_thousands(total).replace(",", "{,}"),
              s=a1 + an, totplain=_thousands(total))
    q_txt = (r"A theatre has @n rows of seats. The first row has @a1 seats and every row has "
             r"@d more seats than the row in front of it. How many seats are in the last row, "
             r"and how many seats does the theatre have in total?")
    ans = [
        r"The row sizes form an arithmetic sequence with first term $a_1 = @a1$ and common "
        r"difference $d = @d$. Its $n$-th term is $a_n = a_1 + (n-1)d$, so the last row has "
        r"$$a_{@n} = @a1 + @n1 \cdot @d = @an$$ seats.",
        r"For the total use Gauss's trick: write the sum forwards and backwards and add, so "
        r"each of the $n$ pairs sums to $a_1 + a_n$. Hence "
        r"$$S_n = \frac{n(a_1 + a_n)}{2} = \frac{@n \cdot (@a1 + @an)}{2} = "
        r"\frac{@n \cdot @s}{2} = @tot.$$ The theatre has @totplain seats.",
    ]
    intro = _p(
        r"An arithmetic sequence has a constant difference $d$ between consecutive terms, so "
        r"$a_n = a_1 + (n-1)d$. The sum of its first $n$ terms is "
        r"$S_n = \frac{n}{2}(a_1 + a_n) = \frac{n}{2}\left(2a_1 + (n-1)d\right)$.",
        r"The young Gauss is said to have summed $1 + 2 + \cdots + 100$ by pairing $1$ with "
        r"$100$, $2$ with $99$, and so on: $50$ pairs of $101$ give $5050$.",
    )
    return MathDoc("arith", "Arithmetic sequences: seats in a theatre",
                   rng.choice(["Arithmetic sequence word problem", "Sum of an arithmetic "
                               "progression, seats problem"]),
                   ["sequences-and-series", "algebra-precalculus"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_cosines(rng: Rng) -> MathDoc:
    a, b = rng.randint(3, 12), rng.randint(3, 12)
    ang = rng.choice([60, 120])
    c2 = a * a + b * b + (-a * b if ang == 60 else a * b)
    area = Fraction(a * b, 4)
    kw = dict(a=a, b=b, ang=ang, c2=c2, c=_sqrt_tex(c2), ab=a * b, aa=a * a, bb=b * b,
              cos=r"\frac{1}{2}" if ang == 60 else r"-\frac{1}{2}",
              sgn="-" if ang == 60 else "+", cdec=_dec(sqrt(c2), 2),
              area=_ftex(area) + r"\sqrt{3}", adec=_dec(float(area) * sqrt(3), 2))
    q_txt = (r"Two hikers leave a camp along straight trails that make an angle of @ang° with "
             r"each other. One walks @a km and the other @b km. How far apart are they, and "
             r"what is the area of the triangle formed by the camp and the two hikers?")
    ans = [
        r"Let $C$ be the angle at the camp, so $C = @ang^\circ$ and the sides next to it are "
        r"$a = @a$ and $b = @b$. The law of cosines gives $$c^2 = a^2 + b^2 - 2ab\cos C = "
        r"@aa + @bb - 2 \cdot @ab \cdot \left(@cos\right) = @c2,$$ so "
        r"$c = @c \approx @cdec$ km.",
        r"For the area use $\frac{1}{2}ab\sin C$ with $\sin @ang^\circ = \frac{\sqrt{3}}{2}$: "
        r"$$\text{Area} = \frac{1}{2} \cdot @a \cdot @b \cdot \frac{\sqrt{3}}{2} = @area "
        r"\approx @adec \text{ km}^2.$$",
    ]
    intro = _p(
        r"In a triangle with sides $a, b, c$ and angle $C$ opposite $c$, the law of cosines "
        r"states $c^2 = a^2 + b^2 - 2ab\cos C$. For $C = 90^\circ$ it reduces to the "
        r"Pythagorean theorem, since $\cos 90^\circ = 0$.",
        r"It follows from placing $C$ at the origin with $a$ along the $x$-axis: the third "
        r"vertex is $(b\cos C, b\sin C)$, and the squared distance to $(a, 0)$ is "
        r"$(a - b\cos C)^2 + b^2\sin^2 C = a^2 + b^2 - 2ab\cos C$.",
    )
    return MathDoc("cosines", "The law of cosines in a word problem",
                   rng.choice(["Law of cosines: distance between two hikers",
                               "Triangle with a 60 or 120 degree angle"]),
                   ["trigonometry", "geometry"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _cplx(re_: Fraction | int, im: Fraction | int) -> str:
    re_, im = Fraction(re_), Fraction(im)
    if im == 0:
        return _ftex(re_)
    mag = "" if abs(im) == 1 else _ftex(abs(im))
    if re_ == 0:
        return ("-" if im < 0 else "") + mag + "i"
    return _ftex(re_) + (" - " if im < 0 else " + ") + mag + "i"


def _g_complex(rng: Rng) -> MathDoc:
    nz = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    a, b, c, d = (rng.choice(nz) for _ in range(4))
    den = c * c + d * d
    kw = dict(z=_cplx(a, b), w=_cplx(c, d), wb=_cplx(c, -d), prod=_cplx(a * c - b * d, a * d + b * c),
              quot=_cplx(Fraction(a * c + b * d, den), Fraction(b * c - a * d, den)),
              num=_cplx(a * c + b * d, b * c - a * d), den=den, mod=_sqrt_eq(a * a + b * b),
              m2=a * a + b * b, pa=_par(a), pb=_par(b), pc=_par(c), pd=_par(d))
    q_txt = (r"Let $z = @z$ and $w = @w$. Compute $zw$, $\frac{z}{w}$ and $|z|$. How do I get "
             r"rid of the $i$ in the denominator?")
    ans = [
        r"Multiply out using $i^2 = -1$: $$zw = (@z)(@w) = @prod.$$",
        r"For the quotient multiply numerator and denominator by the conjugate "
        r"$\overline{w} = @wb$; then the denominator becomes the real number "
        r"$w\overline{w} = |w|^2 = @pc^2 + @pd^2 = @den$: $$\frac{z}{w} = "
        r"\frac{(@z)(@wb)}{@den} = \frac{@num}{@den} = @quot.$$",
        r"Finally $|z| = \sqrt{@pa^2 + @pb^2} = @mod$.",
    ]
    intro = _p(
        r"Complex numbers $a + bi$ are added componentwise and multiplied using $i^2 = -1$. "
        r"The conjugate of $z = a + bi$ is $\overline{z} = a - bi$, and "
        r"$z\overline{z} = a^2 + b^2 = |z|^2$ is real and nonnegative, which is exactly what "
        r"makes division possible: $\frac{1}{z} = \frac{\overline{z}}{|z|^2}$ for $z \neq 0$.",
    )
    return MathDoc("complex", "Arithmetic with complex numbers",
                   rng.choice(["Dividing complex numbers", "How to compute z/w for complex "
                               "numbers"]),
                   ["complex-numbers"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_logeq(rng: Rng) -> MathDoc:
    base = rng.choice([2, 2, 3])
    m = rng.randint(3, 7) if base == 2 else rng.randint(2, 4)
    s = rng.randint(m // 2 + 1, m)
    x0, other = base**s, base ** (m - s)
    k = x0 - other
    kw = dict(B=base, m=m, k=k, P=base**m, x0=x0, o=other, quad=_poly([1, -k, -(base**m)]),
              f1=_lin(x0), f2=_lin(-other))
    q_txt = (r"Solve $\log_@B x + \log_@B (x - @k) = @m$. I get two solutions from the "
             r"quadratic, but my teacher says one of them is not allowed. Why?")
    ans = [
        r"First the domain: both logarithms need positive arguments, so $x > 0$ and "
        r"$x - @k > 0$, that is $x > @k$.",
        r"On that domain, $\log_@B x + \log_@B(x - @k) = \log_@B\bigl(x(x - @k)\bigr)$, so the "
        r"equation says $x(x - @k) = @B^@m = @P$, i.e. $$@quot = (@f1)(@f2) = 0.$$",
        r"The roots are $x = @x0$ and $x = -@o$. Only $x = @x0$ satisfies $x > @k$; the other "
        r"root was introduced when we combined the logarithms, because $\log_@B(x(x-@k))$ is "
        r"defined for more values of $x$ than the original expression. So the only solution "
        r"is $x = @x0$. Check: $\log_@B @x0 + \log_@B @o = @s + @ms = @m$.",
    ]
    kw.update(quot=kw["quad"], s=s, ms=m - s)
    intro = _p(
        r"The logarithm $\log_b x$ (for $b > 0$, $b \neq 1$) is the exponent $y$ with $b^y = x$; "
        r"it is only defined for $x > 0$. The product rule $\log_b(xy) = \log_b x + \log_b y$ "
        r"holds for $x, y > 0$.",
        r"When solving equations, applying the product rule can enlarge the domain, so every "
        r"candidate solution has to be checked against the original equation.",
    )
    return MathDoc("logeq", "Logarithmic equations and extraneous roots",
                   rng.choice(["Why is one solution of my log equation rejected?",
                               "Extraneous root in a logarithmic equation"]),
                   ["logarithms", "algebra-precalculus"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_decay(rng: Rng) -> MathDoc:
    half = rng.choice([5, 8, 12, 30])
    m0 = rng.randrange(40, 210, 10)
    j = rng.randint(2, 4)
    t2 = half * j + rng.randint(1, half - 1)
    kw = dict(T=half, m0=m0, t1=half * j, j=j, m1=_ftex(Fraction(m0, 2**j)),
              t2=t2, m2=_dec(m0 * 2 ** (-t2 / half), 2), k=_dec(log(2) / half, 4),
              t10=_dec(half * log(10) / log(2), 1), pj=2**j)
    q_txt = (r"A radioactive sample has a half-life of @T years and initially contains @m0 "
             r"grams. How much is left after @t1 years and after @t2 years? When is only 10% "
             r"left?")
    ans = [
        r"Decay at a rate proportional to the amount means $m'(t) = -k\,m(t)$, whose solution is "
        r"$m(t) = m_0 e^{-kt}$. The half-life $T$ satisfies $e^{-kT} = \frac{1}{2}$, so "
        r"$k = \frac{\ln 2}{T} = \frac{\ln 2}{@T} \approx @k$ per year, and "
        r"$$m(t) = @m0 \cdot 2^{-t/@T}.$$",
        r"After $@t1 = @j \cdot @T$ years, @j half-lives have passed: "
        r"$m(@t1) = \frac{@m0}{@pj} = @m1$ grams. After @t2 years, "
        r"$m(@t2) = @m0 \cdot 2^{-@t2/@T} \approx @m2$ grams.",
        r"For 10% we need $2^{-t/@T} = \frac{1}{10}$, so "
        r"$t = @T \log_2 10 = \frac{@T \ln 10}{\ln 2} \approx @t10$ years.",
    ]
    intro = _p(
        r"The differential equation $y' = ky$ has the general solution $y(t) = y_0 e^{kt}$, "
        r"where $y_0 = y(0)$. For $k > 0$ this is exponential growth with doubling time "
        r"$\frac{\ln 2}{k}$; for $k < 0$ it is exponential decay with half-life "
        r"$\frac{\ln 2}{|k|}$.",
    )
    return MathDoc("decay", "Exponential decay and half-life",
                   rng.choice(["Half-life problem with an exponential model",
                               "Radioactive decay: how much is left?"]),
                   ["ordinary-differential-equations", "exponential-function"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


_WORDS = ["BANANA", "MISSISSIPPI", "STATISTICS", "LETTER", "COMMITTEE", "BOOKKEEPER",
          "ALGEBRA", "PEPPER", "CALCULUS", "TENNESSEE"]


def _g_combinatorics(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        n, k = rng.randint(8, 15), rng.randint(3, 5)
        kw = dict(n=n, k=k, n1=n - 1, k1=k - 1, tot=_thousands(comb(n, k)),
                  with_=_thousands(comb(n - 1, k - 1)), chair=_thousands(k * comb(n, k)))
        kw = {key: str(v).replace(",", "{,}") for key, v in kw.items()}
        q_txt = (r"A club has @n members. In how many ways can a committee of @k be chosen? "
                 r"How many of these committees include the club president, and in how many "
                 r"ways can we choose a committee of @k together with its chair?")
        ans = [
            r"Order does not matter, so the number of committees is "
            r"$$\binom{@n}{@k} = \frac{@n!}{@k!\,(@n - @k)!} = @tot.$$",
            r"If the president is on the committee, we only choose the remaining @k1 members "
            r"from the other @n1 people: $\binom{@n1}{@k1} = @with_$.",
            r"For a committee with a chair, first choose the committee and then one of its @k "
            r"members as chair: $@k \binom{@n}{@k} = @chair$. Choosing the chair first gives "
            r"$@n \binom{@n1}{@k1}$, the same number, which is a nice double-counting identity.",
        ]
        title = "Counting committees with binomial coefficients"
    else:
        word = rng.choice(_WORDS)
        counts: dict[str, int] = {}
        for ch in word:
            counts[ch] = counts.get(ch, 0) + 1
        reps = [(ch, c) for ch, c in counts.items() if c > 1]
        denom = 1
        for _, c in reps:
            denom *= factorial(c)
        total = factorial(len(word)) // denom
        kw = dict(word=word, L=len(word), den=r" \, ".join(f"{c}!" for _, c in reps),
                  reps=", ".join(f"{ch} appears {c} times" for ch, c in reps),
                  tot=_thousands(total).replace(",", "{,}"), totp=_thousands(total))
        q_txt = (r"How many different arrangements of the letters of the word @word are "
                 r"there? I got $@L!$ but that seems too big.")
        ans = [
            r"$@L!$ counts arrangements of @L distinguishable tiles. But in @word, @reps. "
            r"Swapping identical letters does not produce a new word, so every word was "
            r"counted once for each way of permuting the repeated letters among themselves.",
            r"Dividing out those overcounts gives the multinomial coefficient "
            r"$$\frac{@L!}{@den} = @tot.$$ So there are @totp distinct arrangements.",
        ]
        title = "Arrangements of a word with repeated letters"
    intro = _p(
        r"The number of ways to choose $k$ objects from $n$ without regard to order is "
        r"$\binom{n}{k} = \frac{n!}{k!(n-k)!}$. Arrangements of $n$ objects in which there are "
        r"$n_1, n_2, \ldots, n_r$ identical copies of each kind number "
        r"$\frac{n!}{n_1!\,n_2!\cdots n_r!}$.",
    )
    return MathDoc("combinatorics", title,
                   rng.choice(["Counting problem: did I overcount?", "Combinatorics: how "
                               "many ways?"]),
                   ["combinatorics"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_amgm(rng: Rng) -> MathDoc:
    side = rng.randint(4, 20)
    area = side * side
    kw = dict(A=area, s=side, P=4 * side)
    q_txt = (r"A farmer wants to fence a rectangular pen with area $@A\text{ m}^2$. What "
             r"dimensions minimise the length of the fence? I would like a solution without "
             r"derivatives if possible.")
    ans = [
        r"If the sides are $x$ and $y$ with $xy = @A$, the fence has length $2(x + y)$. By the "
        r"AM-GM inequality, $$\frac{x + y}{2} \geq \sqrt{xy} = \sqrt{@A} = @s,$$ so "
        r"$2(x + y) \geq @P$.",
        r"Equality in AM-GM holds exactly when $x = y$, so the minimum @P m of fence is "
        r"attained by the square pen with $x = y = @s$ m.",
        r"The inequality itself is one line: for $x, y \geq 0$, "
        r"$0 \leq (\sqrt{x} - \sqrt{y})^2 = x + y - 2\sqrt{xy}$. With calculus you get the same "
        r"answer from $P(x) = 2\left(x + \frac{@A}{x}\right)$: $P'(x) = 2 - \frac{2 \cdot @A}{x^2} "
        r"= 0$ gives $x = @s$.",
    ]
    intro = _p(
        r"The inequality of arithmetic and geometric means: for nonnegative reals "
        r"$x_1, \ldots, x_n$, $$\frac{x_1 + \cdots + x_n}{n} \geq \sqrt[n]{x_1 \cdots x_n},$$ with "
        r"equality if and only if all the $x_i$ are equal.",
    )
    return MathDoc("amgm", "Optimisation with the AM-GM inequality",
                   rng.choice(["Minimising a fence without calculus", "AM-GM optimisation "
                               "problem"]),
                   ["inequality", "optimization"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_vectors(rng: Rng) -> MathDoc:
    while True:
        u = [rng.randint(-4, 5) for _ in range(3)]
        v = [rng.randint(-4, 5) for _ in range(3)]
        cr = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
        if any(u) and any(v) and any(cr):
            break
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    nu, nv = sum(a * a for a in u), sum(b * b for b in v)
    ang = _dec(degrees(acos(dot / sqrt(nu * nv))), 1)
    kw = dict(u=", ".join(map(str, u)), v=", ".join(map(str, v)), dot=dot, nu=nu, nv=nv,
              su=_sqrt_eq(nu), sv=_sqrt_eq(nv), ang=ang, cr=", ".join(map(str, cr)),
              prods=" + ".join(f"{_par(a)} \\cdot {_par(b)}" for a, b in zip(u, v, strict=True)))
    q_txt = (r"Given $\mathbf{u} = (@u)$ and $\mathbf{v} = (@v)$, find the angle between them "
             r"and a vector perpendicular to both.")
    ans = [
        r"The dot product is $\mathbf{u} \cdot \mathbf{v} = @prods = @dot$, and "
        r"$\|\mathbf{u}\| = @su$, $\|\mathbf{v}\| = @sv$.",
        r"Hence $$\cos\theta = \frac{\mathbf{u} \cdot \mathbf{v}}{\|\mathbf{u}\|\,"
        r"\|\mathbf{v}\|} = \frac{@dot}{\sqrt{@nu}\sqrt{@nv}},$$ which gives "
        r"$\theta \approx @ang^\circ$.",
        r"A vector perpendicular to both is the cross product $$\mathbf{u} \times \mathbf{v} = "
        r"(@cr).$$ You can confirm that its dot product with $\mathbf{u}$ and with "
        r"$\mathbf{v}$ is zero.",
    ]
    intro = _p(
        r"For vectors in $\mathbb{R}^n$, $\mathbf{u} \cdot \mathbf{v} = \sum_i u_i v_i = "
        r"\|\mathbf{u}\|\,\|\mathbf{v}\|\cos\theta$, where $\theta$ is the angle between them. "
        r"In particular $\mathbf{u} \perp \mathbf{v}$ if and only if "
        r"$\mathbf{u} \cdot \mathbf{v} = 0$.",
        r"In $\mathbb{R}^3$ the cross product $\mathbf{u} \times \mathbf{v}$ is orthogonal to "
        r"both factors and its length $\|\mathbf{u}\|\,\|\mathbf{v}\|\sin\theta$ is the area "
        r"of the parallelogram they span.",
    )
    return MathDoc("vectors", "Angles between vectors and the cross product",
                   rng.choice(["Angle between two vectors in R^3", "Dot and cross product "
                               "example"]),
                   ["linear-algebra", "vectors"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_byparts(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        a = rng.randint(2, 5)
        val = ((a - 1) * exp(a) + 1) / (a * a)
        kw = dict(a=a, a2=a * a, am1="" if a == 2 else a - 1, val=_dec(val, 4))
        q_txt = r"Compute $\int_0^1 x e^{@a x}\,dx$. Which part should I differentiate?"
        ans = [
            r"Use integration by parts, $\int u\,dv = uv - \int v\,du$, with $u = x$ (it gets "
            r"simpler when differentiated) and $dv = e^{@a x}\,dx$, so $du = dx$ and "
            r"$v = \frac{1}{@a}e^{@a x}$.",
            r"Then $$\int_0^1 x e^{@a x}\,dx = \left[\frac{x}{@a}e^{@a x}\right]_0^1 - "
            r"\frac{1}{@a}\int_0^1 e^{@a x}\,dx = \frac{e^{@a}}{@a} - \frac{e^{@a} - 1}{@a2} = "
            r"\frac{@am1 e^{@a} + 1}{@a2} \approx @val.$$",
        ]
    else:
        n = rng.randint(1, 4)
        val = (n * exp(n + 1) + 1) / (n + 1) ** 2
        kw = dict(n="" if n == 1 else n, n1=n + 1, n12=(n + 1) ** 2, xn=_xpow(n), xn1=_xpow(n + 1),
                  val=_dec(val, 4))
        q_txt = r"How do I integrate $\int_1^e @xn \ln x\,dx$? Substitution does not seem to work."
        ans = [
            r"Integrate by parts with $u = \ln x$ and $dv = @xn\,dx$, so $du = \frac{dx}{x}$ and "
            r"$v = \frac{@xn1}{@n1}$. The logarithm disappears after differentiation, which is "
            r"the whole point.",
            r"$$\int_1^e @xn \ln x\,dx = \left[\frac{@xn1 \ln x}{@n1}\right]_1^e - \frac{1}{@n1}"
            r"\int_1^e @xn\,dx = \frac{e^{@n1}}{@n1} - \frac{e^{@n1} - 1}{@n12} = "
            r"\frac{@n e^{@n1} + 1}{@n12} \approx @val.$$",
        ]
    intro = _p(
        r"Integration by parts is the product rule read backwards: from $(uv)' = u'v + uv'$ we "
        r"get $$\int_a^b u(x) v'(x)\,dx = \bigl[u(x)v(x)\bigr]_a^b - \int_a^b u'(x) v(x)\,dx.$$",
        r"A common heuristic for choosing $u$ is LIATE: logarithms, inverse trigonometric "
        r"functions, algebraic, trigonometric, exponential.",
    )
    return MathDoc("byparts", "Integration by parts, worked example",
                   rng.choice(["Integration by parts: which factor is u?", "Definite integral "
                               "by parts"]),
                   ["calculus", "integration"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_partfrac(rng: Rng) -> MathDoc:
    while True:
        p, q = rng.sample(range(-5, 6), 2)
        m, n = rng.randint(1, 5), rng.randint(-6, 6)
        A, B = Fraction(m * p + n, p - q), Fraction(m * q + n, q - p)
        if A != 0 and B != 0:
            break

    def term(c: Fraction, r: int, first: bool) -> str:
        s = ("-" if c < 0 else "") if first else (" - " if c < 0 else " + ")
        return s + ("" if abs(c) == 1 else _ftex(abs(c)) + " ") + r"\ln|" + _lin(r) + "|"

    kw = dict(num=_poly([m, n]), den=f"({_lin(p)})({_lin(q)})", p=p, q=q, A=_ftex(A),
              B=_ftex(B), fp=_lin(p), fq=_lin(q), integral=term(A, p, True) + term(B, q, False),
              Anum=m * p + n, pq=p - q, Bnum=m * q + n, qp=q - p)
    q_txt = r"Evaluate $\int \frac{@num}{@den}\,dx$ using partial fractions."
    ans = [
        r"Write $$\frac{@num}{@den} = \frac{A}{@fp} + \frac{B}{@fq}.$$ The cover-up method "
        r"finds the constants quickly: cover the factor $@fp$ and set $x = @p$ in what is "
        r"left, which gives $A = \frac{@Anum}{@pq} = @A$; cover $@fq$ and set $x = @q$ to get "
        r"$B = \frac{@Bnum}{@qp} = @B$.",
        r"Each piece integrates to a logarithm: $$\int \frac{@num}{@den}\,dx = @integral + C.$$",
    ]
    intro = _p(
        r"A proper rational function whose denominator factors into distinct linear factors "
        r"can be written as a sum $\sum_i \frac{A_i}{x - r_i}$. Since "
        r"$\int \frac{dx}{x - r} = \ln|x - r| + C$, this reduces the integral to logarithms.",
    )
    return MathDoc("partfrac", "Partial fraction decomposition",
                   rng.choice(["Partial fractions with two linear factors", "How does the "
                               "cover-up method work?"]),
                   ["calculus", "integration", "partial-fractions"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_modpow(rng: Rng) -> MathDoc:
    p = rng.choice([7, 11, 13, 17, 19, 23, 29])
    a, k = rng.randint(2, p - 1), rng.randint(100, 999)
    while k % (p - 1) == 0:  # keep a nonzero leftover exponent
        k += 1
    qd, r = divmod(k, p - 1)
    kw = dict(p=p, a=a, k=k, p1=p - 1, qd=qd, r=r, res=pow(a, k, p))
    q_txt = (r"What is the remainder when $@a^{@k}$ is divided by $@p$? Obviously I cannot "
             r"compute the power directly.")
    ans = [
        r"Since $@p$ is prime and does not divide $@a$, Fermat's little theorem gives "
        r"$@a^{@p1} \equiv 1 \pmod{@p}$.",
        r"Write the exponent as $@k = @qd \cdot @p1 + @r$. Then $$@a^{@k} = "
        r"\left(@a^{@p1}\right)^{@qd} \cdot @a^{@r} \equiv @a^{@r} \equiv @res \pmod{@p}.$$",
        r"So the remainder is $@res$. The remaining small power can be done by repeated "
        r"squaring, reducing modulo $@p$ after every multiplication.",
    ]
    intro = _p(
        r"Fermat's little theorem: if $p$ is prime and $p \nmid a$, then "
        r"$a^{p-1} \equiv 1 \pmod{p}$. Consequently exponents can be reduced modulo $p - 1$ "
        r"when computing powers modulo $p$.",
    )
    return MathDoc("modpow", "Large powers modulo a prime",
                   rng.choice(["Remainder of a huge power", "Using Fermat's little theorem "
                               "for a remainder"]),
                   ["modular-arithmetic", "elementary-number-theory"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_epsdelta(rng: Rng) -> MathDoc:
    m = rng.choice([-7, -5, -4, -3, -2, 2, 3, 4, 5, 6, 7])
    b, c = rng.randint(-9, 9), rng.randint(-5, 5)
    kw = dict(f=_poly([m, b]), c=c, L=m * c + b, am=abs(m), pc=_par(c), m=m, pL=_par(m * c + b),
              fc=_lin(c))
    q_txt = (r"Prove from the definition that $\lim_{x \to @c} (@f) = @L$. How do I choose "
             r"$\delta$?")
    ans = [
        r"Scratch work first: we want $|(@f) - @pL| < \varepsilon$. Simplify the left side: "
        r"$$|(@f) - @pL| = |@m(x - @pc)| = @am\,|@fc|.$$ So it suffices to make "
        r"$|@fc| < \frac{\varepsilon}{@am}$.",
        r"Proof. Let $\varepsilon > 0$ and put $\delta = \frac{\varepsilon}{@am}$. If "
        r"$0 < |x - @pc| < \delta$, then $|(@f) - @pL| = @am\,|x - @pc| < @am\delta = "
        r"\varepsilon$. Hence the limit is $@L$. $\blacksquare$",
        r"For linear functions $\delta$ can be read off directly; for nonlinear ones one "
        r"usually first restricts to $|x - c| < 1$ to bound the extra factor.",
    ]
    intro = _p(
        r"The $\varepsilon$-$\delta$ definition makes 'f(x) gets close to L' precise: for every "
        r"tolerance $\varepsilon > 0$ there is a $\delta > 0$ such that "
        r"$0 < |x - c| < \delta \implies |f(x) - L| < \varepsilon$. A proof must produce "
        r"$\delta$ as a function of $\varepsilon$.",
    )
    return MathDoc("epsdelta", "An epsilon-delta proof for a linear function",
                   rng.choice(["Epsilon-delta proof, how to pick delta",
                               "Proving a limit from the definition"]),
                   ["real-analysis", "limits", "epsilon-delta"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_mvt(rng: Rng) -> MathDoc:
    b, k = rng.randint(2, 6), rng.randint(1, 9)
    kw = dict(b=b, k=k, f=_poly([1, 0, -k, 0]), fb=b**3 - k * b, sl=b * b - k,
              c=_sqrt_tex(b * b * 3), cd=_dec(b / sqrt(3), 4), b2=b * b)
    kw["c"] = (_ftex(Fraction(b, 3)) if b % 3 else "" if b == 3 else str(b // 3)) + r"\sqrt{3}"
    q_txt = (r"Find all $c$ in $(0, @b)$ that satisfy the conclusion of the mean value theorem "
             r"for $f(x) = @f$ on $[0, @b]$.")
    ans = [
        r"$f$ is a polynomial, hence continuous on $[0, @b]$ and differentiable on $(0, @b)$, "
        r"so the theorem applies. The average slope is "
        r"$$\frac{f(@b) - f(0)}{@b - 0} = \frac{@fb}{@b} = @sl.$$",
        r"We need $f'(c) = 3c^2 - @k = @sl$, i.e. $3c^2 = @b2$ and $c = \pm\frac{@b}{\sqrt{3}}$. "
        r"Only the positive value lies in $(0, @b)$, so $c = @c \approx @cd$.",
    ]
    intro = _p(
        r"Mean value theorem: if $f$ is continuous on $[a, b]$ and differentiable on $(a, b)$, "
        r"there is $c \in (a, b)$ with $$f'(c) = \frac{f(b) - f(a)}{b - a}.$$ Geometrically, "
        r"some tangent line is parallel to the secant through the endpoints.",
    )
    return MathDoc("mvt", "Applying the mean value theorem",
                   rng.choice(["Finding c in the mean value theorem", "Mean value theorem "
                               "for a cubic"]),
                   ["calculus", "real-analysis"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


_GENERATORS: list[Callable[[Rng], MathDoc]] = [
    _g_quadratic, _g_integral, _g_derivative, _g_limit, _g_geometric, _g_induction, _g_linsys,
    _g_eigen, _g_binomial, _g_euclid, _g_taylor, _g_arith, _g_cosines, _g_complex, _g_logeq,
    _g_decay, _g_combinatorics, _g_amgm, _g_vectors, _g_byparts, _g_partfrac, _g_modpow,
    _g_epsdelta, _g_mvt,
]


def _math_doc(rng: Rng, i: int | None = None) -> MathDoc:
    gen = _GENERATORS[i % len(_GENERATORS)] if i is not None else rng.choice(_GENERATORS)
    return gen(rng)


# ---------------------------------------------------------------------------
# hand-written theorem and definition pages (wiki / reference style)
# ---------------------------------------------------------------------------


def _doc_blocks(text: str) -> list[Block]:
    """Authoring format: blank-line separated paragraphs, '## ' headings, '- ' lists."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [ln.strip() for ln in chunk.strip().splitlines()]
        if lines[0].startswith("## "):
            blocks.append(("h2", lines[0][3:]))
            lines = lines[1:]
            if not lines:
                continue
        if all(ln.startswith("- ") for ln in lines):
            blocks.append(("ul", [ln[2:] for ln in lines]))
        else:
            blocks.append(("p", " ".join(lines)))
    return blocks


_THEOREMS: list[tuple[str, str]] = [
    ("Pythagorean Theorem", r"""
## Theorem
Let $\triangle ABC$ be a right triangle with legs $a$ and $b$ and hypotenuse $c$. Then
$$a^2 + b^2 = c^2.$$

## Proof
Place four copies of the triangle inside a square of side $a + b$, with the right angles at
the corners, so that the hypotenuses enclose a tilted inner square of side $c$. Computing
the area of the big square in two ways gives
$$(a + b)^2 = c^2 + 4 \cdot \frac{ab}{2}.$$
Expanding the left side, $a^2 + 2ab + b^2 = c^2 + 2ab$, hence $a^2 + b^2 = c^2$.
$\blacksquare$

## Converse
If the sides of a triangle satisfy $a^2 + b^2 = c^2$, the angle opposite $c$ is a right
angle. This follows from the law of cosines $c^2 = a^2 + b^2 - 2ab\cos\gamma$, which forces
$\cos\gamma = 0$.

## Pythagorean triples
Positive integers with $a^2 + b^2 = c^2$ form a Pythagorean triple, the smallest being
$(3, 4, 5)$. For integers $m > n > 0$, Euclid's formula
$$a = m^2 - n^2, \quad b = 2mn, \quad c = m^2 + n^2$$
always produces a triple, since $(m^2 - n^2)^2 + (2mn)^2 = (m^2 + n^2)^2$. Every primitive
triple arises this way with $m, n$ coprime and not both odd.
"""),
    ("Euclid's Theorem", r"""
## Theorem
There are infinitely many prime numbers.

## Proof
Suppose to the contrary that $p_1, p_2, \ldots, p_n$ is a complete list of the primes, and
consider $$N = p_1 p_2 \cdots p_n + 1.$$ Since $N > 1$, it has at least one prime divisor
$q$. But $q$ cannot be any $p_i$: if $p_i \mid N$ then $p_i$ divides
$N - p_1 \cdots p_n = 1$, which is impossible. So $q$ is a prime not in the list, a
contradiction. $\blacksquare$

## Remarks
The number $N$ itself need not be prime: $2 \cdot 3 \cdot 5 \cdot 7 \cdot 11 \cdot 13 + 1 =
30031 = 59 \cdot 509$. The argument only shows that a new prime divides it.

A quantitative refinement is the prime number theorem, $\pi(x) \sim \frac{x}{\ln x}$, where
$\pi(x)$ counts the primes not exceeding $x$.
"""),
    ("Square Root of 2 is Irrational", r"""
## Theorem
$\sqrt{2}$ is irrational.

## Proof
Suppose $\sqrt{2} = \frac{p}{q}$ with integers $p, q$, $q \neq 0$, and the fraction in
lowest terms. Squaring gives $p^2 = 2q^2$, so $p^2$ is even, and therefore $p$ is even
(the square of an odd number is odd). Write $p = 2r$. Then $4r^2 = 2q^2$, i.e.
$q^2 = 2r^2$, so $q$ is even too. Both $p$ and $q$ are even, contradicting that
$\frac{p}{q}$ was in lowest terms. $\blacksquare$

## Generalization
The same argument, with the fundamental theorem of arithmetic in place of parity, shows
that $\sqrt{n}$ is irrational for every positive integer $n$ that is not a perfect square:
if $n = \frac{p^2}{q^2}$ then every prime appears in $n q^2 = p^2$ to an even power, so it
appears in $n$ to an even power.
"""),
    ("Fundamental Theorem of Calculus", r"""
## Theorem
Let $f$ be continuous on $[a, b]$.

- Part 1: the function $F(x) = \int_a^x f(t)\,dt$ is differentiable on $(a, b)$ and $F'(x) = f(x)$.
- Part 2: if $G$ is any antiderivative of $f$ on $[a, b]$, then $\int_a^b f(t)\,dt = G(b) - G(a)$.

## Proof of Part 1
For $h \neq 0$ small, $$\frac{F(x + h) - F(x)}{h} = \frac{1}{h}\int_x^{x+h} f(t)\,dt.$$
By the mean value theorem for integrals there is $c_h$ between $x$ and $x + h$ with
$\int_x^{x+h} f(t)\,dt = h f(c_h)$. As $h \to 0$, $c_h \to x$, and continuity of $f$ gives
$f(c_h) \to f(x)$. Hence $F'(x) = f(x)$.

## Proof of Part 2
By Part 1, $F$ and $G$ are both antiderivatives of $f$, so $(G - F)' = 0$ and $G - F$ is a
constant $C$ by the mean value theorem. Therefore $$G(b) - G(a) = F(b) - F(a) =
\int_a^b f(t)\,dt - 0.$$ $\blacksquare$

## Example
$\int_0^{\pi} \sin t\,dt = \left[-\cos t\right]_0^{\pi} = -\cos\pi + \cos 0 = 2.$
"""),
    ("Binomial Theorem", r"""
## Theorem
For every integer $n \geq 0$ and all $x, y$ in a commutative ring,
$$(x + y)^n = \sum_{k=0}^{n} \binom{n}{k} x^{n-k} y^k.$$

## Proof
Induction on $n$. For $n = 0$ both sides equal $1$. Assume the statement for $n$. Then
$$(x + y)^{n+1} = (x + y)\sum_{k=0}^{n} \binom{n}{k} x^{n-k} y^k = \sum_{k=0}^{n+1}
\left[\binom{n}{k} + \binom{n}{k-1}\right] x^{n+1-k} y^k,$$ with the convention
$\binom{n}{-1} = \binom{n}{n+1} = 0$. Pascal's rule $\binom{n}{k} + \binom{n}{k-1} =
\binom{n+1}{k}$ completes the step. $\blacksquare$

## Corollaries
Setting $x = y = 1$ gives $\sum_{k=0}^{n} \binom{n}{k} = 2^n$, the number of subsets of an
$n$-element set. Setting $x = 1$, $y = -1$ gives $\sum_{k=0}^{n} (-1)^k \binom{n}{k} = 0$
for $n \geq 1$: a finite nonempty set has as many subsets of even size as of odd size.
"""),
    ("Fermat's Little Theorem", r"""
## Theorem
Let $p$ be a prime and $a$ an integer not divisible by $p$. Then
$$a^{p-1} \equiv 1 \pmod{p}.$$

## Proof
The numbers $a, 2a, \ldots, (p-1)a$ are pairwise incongruent modulo $p$: if
$ia \equiv ja$ then $p \mid (i - j)a$, and since $p \nmid a$ we get $p \mid i - j$, so
$i = j$. None of them is divisible by $p$. Hence they are a rearrangement of
$1, 2, \ldots, p - 1$ modulo $p$, and multiplying them all together,
$$a^{p-1}(p-1)! \equiv (p-1)! \pmod{p}.$$ Since $\gcd((p-1)!, p) = 1$ we may cancel
$(p-1)!$, which proves the claim. $\blacksquare$

## Remarks
Equivalently $a^p \equiv a \pmod{p}$ for every integer $a$. The converse fails: $561 = 3
\cdot 11 \cdot 17$ satisfies $a^{560} \equiv 1 \pmod{561}$ for every $a$ coprime to it;
such numbers are called Carmichael numbers. Euler's theorem generalizes the result to
$a^{\varphi(n)} \equiv 1 \pmod{n}$ whenever $\gcd(a, n) = 1$.
"""),
    ("Cauchy-Schwarz Inequality", r"""
## Theorem
For vectors $u, v$ in a real inner product space,
$$|\langle u, v \rangle| \leq \|u\|\,\|v\|,$$
with equality if and only if $u$ and $v$ are linearly dependent.

## Proof
If $v = 0$ both sides vanish. Otherwise consider, for real $t$,
$$0 \leq \|u + tv\|^2 = \|u\|^2 + 2t\langle u, v \rangle + t^2\|v\|^2.$$
A quadratic in $t$ that is never negative has nonpositive discriminant:
$4\langle u, v\rangle^2 - 4\|u\|^2\|v\|^2 \leq 0$, which is the inequality. Equality means
the quadratic has a real root $t_0$, i.e. $u + t_0 v = 0$. $\blacksquare$

## Special cases
In $\mathbb{R}^n$: $\left(\sum_{i=1}^n x_i y_i\right)^2 \leq \left(\sum_{i=1}^n x_i^2\right)
\left(\sum_{i=1}^n y_i^2\right)$. For integrals: $\left(\int_a^b fg\right)^2 \leq \int_a^b
f^2 \int_a^b g^2$.
"""),
    ("Mean Value Theorem", r"""
## Theorem
Let $f$ be continuous on $[a, b]$ and differentiable on $(a, b)$. Then there exists
$c \in (a, b)$ such that $$f'(c) = \frac{f(b) - f(a)}{b - a}.$$

## Proof
Define $$g(x) = f(x) - f(a) - \frac{f(b) - f(a)}{b - a}(x - a).$$ Then $g$ is continuous
on $[a, b]$, differentiable on $(a, b)$, and $g(a) = g(b) = 0$. By Rolle's theorem there is
$c \in (a, b)$ with $g'(c) = 0$, that is $f'(c) = \frac{f(b) - f(a)}{b - a}$.
$\blacksquare$

## Consequences
If $f' = 0$ on an interval, $f$ is constant there. If $f' > 0$ on an interval, $f$ is
strictly increasing. If $|f'| \leq M$, then $|f(x) - f(y)| \leq M|x - y|$, so $f$ is
Lipschitz continuous; for example $|\sin x - \sin y| \leq |x - y|$.
"""),
    ("Intermediate Value Theorem", r"""
## Theorem
Let $f \colon [a, b] \to \mathbb{R}$ be continuous and let $y$ lie strictly between $f(a)$
and $f(b)$. Then $f(c) = y$ for some $c \in (a, b)$.

## Proof
Assume $f(a) < y < f(b)$ and let $S = \{x \in [a, b] : f(x) < y\}$. $S$ contains $a$ and is
bounded above by $b$, so $c = \sup S$ exists. If $f(c) < y$, continuity gives
$f < y$ on some interval $[c, c + \delta)$, contradicting that $c$ is an upper bound of
$S$. If $f(c) > y$, then $f > y$ on some $(c - \delta, c]$, so $c - \delta$ would already
be an upper bound, contradicting minimality. Hence $f(c) = y$. $\blacksquare$

## Application
Every polynomial of odd degree has a real root: $p(x) = x^3 - 2x - 5$ satisfies $p(2) = -1 < 0$
and $p(3) = 16 > 0$, so it has a root in $(2, 3)$. Bisection narrows it down to
$x \approx 2.0946$.
"""),
    ("De Moivre's Formula", r"""
## Theorem
For every real $\theta$ and every integer $n \geq 0$,
$$(\cos\theta + i\sin\theta)^n = \cos(n\theta) + i\sin(n\theta).$$

## Proof
Induction on $n$; the case $n = 0$ is trivial. Using the angle addition formulas,
$$(\cos\theta + i\sin\theta)^{n+1} = (\cos n\theta + i\sin n\theta)(\cos\theta +
i\sin\theta) = \cos(n+1)\theta + i\sin(n+1)\theta,$$ because the real part is
$\cos n\theta\cos\theta - \sin n\theta\sin\theta$ and the imaginary part is
$\sin n\theta\cos\theta + \cos n\theta\sin\theta$. $\blacksquare$

## Application
Taking $n = 3$ and comparing real parts,
$\cos 3\theta = \cos^3\theta - 3\cos\theta\sin^2\theta = 4\cos^3\theta - 3\cos\theta$.
The formula also gives the $n$-th roots of unity $e^{2\pi i k/n}$, $k = 0, \ldots, n-1$.
"""),
    ("Bayes' Theorem", r"""
## Theorem
Let $A$ and $B$ be events with $P(B) > 0$. Then $$P(A \mid B) = \frac{P(B \mid A)\,P(A)}{P(B)},
\qquad P(B) = P(B \mid A)P(A) + P(B \mid A^c)P(A^c).$$

## Proof
By the definition of conditional probability, $P(A \cap B) = P(A \mid B)P(B) =
P(B \mid A)P(A)$. Dividing by $P(B)$ gives the formula; the expression for $P(B)$ is the
law of total probability for the partition $\{A, A^c\}$. $\blacksquare$

## Example
A disease affects $1\%$ of a population. A test detects it with probability $0.99$ and
gives a false positive with probability $0.05$. For a random person who tests positive,
$$P(D \mid +) = \frac{0.99 \cdot 0.01}{0.99 \cdot 0.01 + 0.05 \cdot 0.99} = \frac{1}{6}
\approx 0.167.$$ Most positives are false positives because the disease is rare.
"""),
    ("Lagrange's Theorem (Group Theory)", r"""
## Theorem
If $G$ is a finite group and $H$ a subgroup of $G$, then $|H|$ divides $|G|$. More
precisely, $|G| = [G : H]\,|H|$, where $[G : H]$ is the number of left cosets of $H$.

## Proof
The left cosets $gH$ partition $G$: every $g$ lies in $gH$, and if $g_1H \cap g_2H \neq
\varnothing$ then $g_1H = g_2H$. Each coset has exactly $|H|$ elements, since
$h \mapsto gh$ is a bijection $H \to gH$. Counting the elements of $G$ coset by coset
gives $|G| = [G : H]\,|H|$. $\blacksquare$

## Corollaries
The order of every element divides $|G|$, so $g^{|G|} = e$. A group of prime order $p$
is cyclic. Applied to the group $(\mathbb{Z}/p\mathbb{Z})^\times$ of order $p - 1$ this
gives Fermat's little theorem.
"""),
    ("Squeeze Theorem", r"""
## Theorem
Suppose $g(x) \leq f(x) \leq h(x)$ for all $x \neq a$ near $a$, and
$\lim_{x \to a} g(x) = \lim_{x \to a} h(x) = L$. Then $\lim_{x \to a} f(x) = L$.

## Proof
Let $\varepsilon > 0$. Choose $\delta > 0$ so that $0 < |x - a| < \delta$ implies
$L - \varepsilon < g(x)$ and $h(x) < L + \varepsilon$. For such $x$,
$L - \varepsilon < g(x) \leq f(x) \leq h(x) < L + \varepsilon$, i.e.
$|f(x) - L| < \varepsilon$. $\blacksquare$

## Example
Since $-1 \leq \sin\frac{1}{x} \leq 1$, we have $-x^2 \leq x^2\sin\frac{1}{x} \leq x^2$
for $x \neq 0$, and both bounds tend to $0$. Hence
$\lim_{x \to 0} x^2\sin\frac{1}{x} = 0$, although $\sin\frac{1}{x}$ itself has no limit.
"""),
    ("Divergence of the Harmonic Series", r"""
## Theorem
The harmonic series $\sum_{n=1}^{\infty} \frac{1}{n}$ diverges.

## Proof
Group the terms in blocks of length $1, 2, 4, 8, \ldots$:
$$1 + \frac{1}{2} + \left(\frac{1}{3} + \frac{1}{4}\right) + \left(\frac{1}{5} + \cdots +
\frac{1}{8}\right) + \cdots \geq 1 + \frac{1}{2} + \frac{1}{2} + \frac{1}{2} + \cdots,$$
because each block $\frac{1}{2^k + 1} + \cdots + \frac{1}{2^{k+1}}$ has $2^k$ terms, each
at least $\frac{1}{2^{k+1}}$. Hence $H_{2^k} \geq 1 + \frac{k}{2}$, which is unbounded.
$\blacksquare$

## Growth rate
More precisely $H_n = \sum_{k=1}^{n} \frac{1}{k} = \ln n + \gamma + O\left(\frac{1}{n}\right)$,
where $\gamma \approx 0.5772$ is the Euler-Mascheroni constant. The partial sums grow very
slowly: $H_{1000} \approx 7.485$.
"""),
    ("Rank-Nullity Theorem", r"""
## Theorem
Let $T \colon V \to W$ be a linear map with $V$ finite-dimensional. Then
$$\dim V = \dim \ker T + \dim \operatorname{im} T.$$

## Proof
Choose a basis $u_1, \ldots, u_k$ of $\ker T$ and extend it to a basis
$u_1, \ldots, u_k, v_1, \ldots, v_r$ of $V$. We claim $T v_1, \ldots, T v_r$ is a basis of
$\operatorname{im} T$. They span, since $T u_i = 0$. If $\sum_j c_j T v_j = 0$ then
$\sum_j c_j v_j \in \ker T$, so it is a combination of the $u_i$; by linear independence of
the whole basis all $c_j = 0$. Hence $\dim \operatorname{im} T = r = \dim V - k$.
$\blacksquare$

## Example
For $A = \begin{pmatrix} 1 & 2 & 3 \\ 2 & 4 & 6 \end{pmatrix}$ the rank is $1$, so the
null space of $A$ in $\mathbb{R}^3$ has dimension $3 - 1 = 2$.
"""),
    ("Euler's Formula", r"""
## Theorem
For every real $\theta$, $$e^{i\theta} = \cos\theta + i\sin\theta.$$ In particular
$e^{i\pi} + 1 = 0$.

## Proof
Substitute $z = i\theta$ into the everywhere convergent series
$e^z = \sum_{n=0}^{\infty} \frac{z^n}{n!}$ and separate even and odd powers, using
$i^{2k} = (-1)^k$: $$e^{i\theta} = \sum_{k=0}^{\infty} \frac{(-1)^k\theta^{2k}}{(2k)!} +
i\sum_{k=0}^{\infty} \frac{(-1)^k\theta^{2k+1}}{(2k+1)!} = \cos\theta + i\sin\theta.$$
Rearranging is allowed because the series converges absolutely. $\blacksquare$

## Consequences
Every nonzero complex number can be written as $z = re^{i\theta}$ with $r = |z|$, and
multiplication becomes $r_1e^{i\theta_1} \cdot r_2e^{i\theta_2} = r_1r_2e^{i(\theta_1 +
\theta_2)}$. Also $\cos\theta = \frac{e^{i\theta} + e^{-i\theta}}{2}$ and
$\sin\theta = \frac{e^{i\theta} - e^{-i\theta}}{2i}$.
"""),
]

_DEFINITIONS: list[tuple[str, str]] = [
    ("Prime Number", r"""
## Definition
A prime number is an integer $p > 1$ whose only positive divisors are $1$ and $p$. An
integer $n > 1$ that is not prime is composite, i.e. $n = ab$ with $1 < a, b < n$.

## Examples
The primes below $30$ are $2, 3, 5, 7, 11, 13, 17, 19, 23, 29$. The number $1$ is not
prime by convention, which makes the factorization in the fundamental theorem of
arithmetic unique: every $n > 1$ is $n = p_1^{e_1} \cdots p_k^{e_k}$ in exactly one way.
"""),
    ("Continuous Function", r"""
## Definition
A function $f \colon D \to \mathbb{R}$ is continuous at $a \in D$ if for every
$\varepsilon > 0$ there is $\delta > 0$ such that $|x - a| < \delta$ and $x \in D$ imply
$|f(x) - f(a)| < \varepsilon$. It is continuous if it is continuous at every point of $D$.

## Equivalent forms
Continuity at $a$ is equivalent to the sequential condition: $x_n \to a$ implies
$f(x_n) \to f(a)$. Sums, products, quotients (where defined) and compositions of
continuous functions are continuous. The function $f(x) = \frac{1}{x}$ is continuous on
its domain $\mathbb{R} \setminus \{0\}$.
"""),
    ("Group", r"""
## Definition
A group is a set $G$ with a binary operation $\cdot$ such that:

- associativity: $(ab)c = a(bc)$ for all $a, b, c \in G$;
- identity: there is $e \in G$ with $ea = ae = a$ for all $a$;
- inverses: for every $a$ there is $a^{-1}$ with $aa^{-1} = a^{-1}a = e$.

## Examples
$(\mathbb{Z}, +)$ is a group with identity $0$. The nonzero rationals under
multiplication form a group. The symmetric group $S_n$ of permutations of
$\{1, \ldots, n\}$ has $n!$ elements and is non-abelian for $n \geq 3$.
"""),
    ("Vector Space", r"""
## Definition
A vector space over a field $F$ is a set $V$ with an addition $V \times V \to V$ and a
scalar multiplication $F \times V \to V$ such that $(V, +)$ is an abelian group and, for
all $a, b \in F$ and $u, v \in V$: $a(u + v) = au + av$, $(a + b)v = av + bv$,
$(ab)v = a(bv)$ and $1v = v$.

## Examples
$F^n$ with componentwise operations; the polynomials of degree at most $n$, of dimension
$n + 1$; the continuous functions $[0, 1] \to \mathbb{R}$, which form an
infinite-dimensional space.
"""),
    ("Derivative", r"""
## Definition
Let $f$ be defined on an open interval containing $a$. The derivative of $f$ at $a$ is
$$f'(a) = \lim_{h \to 0} \frac{f(a + h) - f(a)}{h},$$ provided the limit exists; $f$ is
then called differentiable at $a$.

## Example
For $f(x) = x^2$, $\frac{(a + h)^2 - a^2}{h} = 2a + h \to 2a$, so $f'(a) = 2a$. The
function $|x|$ is continuous but not differentiable at $0$: the one-sided limits of the
difference quotient are $1$ and $-1$.
"""),
    ("Convergent Sequence", r"""
## Definition
A real sequence $(a_n)$ converges to $L$ if for every $\varepsilon > 0$ there is $N$ such
that $|a_n - L| < \varepsilon$ for all $n \geq N$. We then write
$\lim_{n \to \infty} a_n = L$.

## Examples
$a_n = \frac{1}{n}$ converges to $0$: given $\varepsilon$, take $N > \frac{1}{\varepsilon}$.
The sequence $a_n = (-1)^n$ does not converge. Every convergent sequence is bounded, and
by the Bolzano-Weierstrass theorem every bounded sequence has a convergent subsequence.
"""),
]


# ---------------------------------------------------------------------------
# non-math content: news, recipes, travel, sports, reviews, site chrome pages
# ---------------------------------------------------------------------------

_FIRST = ["Maria", "James", "Aisha", "Tomasz", "Elena", "David", "Priya", "Kenji", "Laura",
          "Samuel", "Fatima", "Oliver", "Chloe", "Marcus", "Ingrid", "Rafael", "Nadia", "Peter",
          "Grace", "Hugo", "Amara", "Lucas", "Sofia", "Daniel", "Mei", "Jonas", "Rosa", "Ethan"]
_LAST = ["Okafor", "Lindqvist", "Moreno", "Chen", "Novak", "Harris", "Patel", "Yamamoto",
         "Schmidt", "Brennan", "Haddad", "Kowalski", "Dubois", "Reyes", "Andersen", "Murphy",
         "Rossi", "Nakamura", "Walsh", "Fischer", "Adeyemi", "Costa", "Bergström", "Kim"]
_TOWNS = ["Millbrook", "Harlow Bay", "Eastfield", "Cedar Falls", "Port Ashton", "Glenmore",
          "Riverton", "Westbury", "Oakridge", "Fairhaven"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _person(rng: Rng) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


_NEWS_TOPICS: list[tuple[str, str, list[str]]] = [
    ("local", "@town council approves $@amt million budget after long debate", [
        "The @town city council voted @votes on @day night to approve a $@amt million budget "
        "for the coming fiscal year, ending weeks of debate over funding for libraries, road "
        "repairs and public transit.",
        "The plan raises spending on street maintenance by @pct percent and adds @n new "
        "positions in the parks department, according to documents released by the mayor's "
        "office on @day afternoon.",
        "\"This budget reflects what residents told us at every town hall,\" said council "
        "member @p1, who chairs the finance committee. \"It is not perfect, but it keeps the "
        "buses running and the libraries open on weekends.\"",
        "Not everyone was convinced. @p2, one of the members who voted against the plan, "
        "argued that it relies on optimistic sales tax estimates. \"If the economy slows down "
        "next spring, we will be back here cutting services,\" @p2s said.",
        "Residents who spoke during the public comment period focused mostly on the closure of "
        "the @street branch library, which will now reopen in the fall after repairs to its "
        "roof and heating system.",
        "The budget takes effect on July 1. A separate hearing on proposed changes to parking "
        "fees is scheduled for @month @date at City Hall and will be streamed online.",
    ]),
    ("weather", "Storm brings heavy rain and power cuts to @town area", [
        "A fast-moving storm swept through @town on @day, bringing up to @n centimetres of rain "
        "in a few hours and leaving about @k households without electricity at the peak of "
        "the outage.",
        "Crews from the regional utility worked through the night, and by @day morning power "
        "had been restored to all but a few hundred customers, a spokesperson said.",
        "Several roads near the river were closed because of flooding, including parts of "
        "@street and the underpass at the railway station. Police asked drivers to avoid the "
        "area and not to drive through standing water.",
        "\"We have not seen water this high since the spring of 2011,\" said @p1, who has run "
        "a hardware store on @street for more than twenty years. \"Everybody is out with "
        "sandbags and shovels this morning.\"",
        "Forecasters expect drier weather for the rest of the week, with temperatures rising "
        "to around @temp degrees by the weekend. The city has opened a cleanup hotline and "
        "will collect storm debris from the curb free of charge until the end of the month.",
    ]),
    ("education", "New @town school building opens its doors to @k students", [
        "After three years of construction, the new @town Community School welcomed about @k "
        "students on @day, replacing two older buildings that had been in use since the 1960s.",
        "The building includes a larger library, a gym that doubles as an emergency shelter, "
        "and a rooftop garden that students will help maintain. Classrooms were designed with "
        "more daylight and better ventilation, said principal @p1.",
        "\"The kids walked in this morning and just looked up at the ceiling,\" @p1s said. "
        "\"It is a space that tells them their education matters.\"",
        "The project cost $@amt million, funded mostly by a bond measure approved by voters. "
        "Parents said drop-off traffic was the main complaint on the first day, and the "
        "district promised to add crossing guards at the @street entrance.",
        "An open house for families and neighbours is planned for @month @date, with guided "
        "tours, a book sale organised by the parent association and music from the school band.",
    ]),
    ("transit", "Bus fares in @town to rise for the first time in a decade", [
        "Riders on @town's bus network will pay more starting next month after the transit "
        "board voted on @day to raise the standard fare from $2.50 to $2.75.",
        "Monthly passes will go up by $@small, while fares for students, seniors and riders "
        "with disabilities stay the same. The board said the increase will bring in about "
        "$@amt million a year to cover higher fuel and maintenance costs.",
        "\"Nobody likes a fare increase, but the alternative was cutting service on the routes "
        "people depend on,\" said board chair @p1.",
        "Rider groups criticised the decision. @p2 of the @town Riders Union said many "
        "passengers already struggle with the cost of commuting and asked the board to expand "
        "the discount program for low-income residents.",
        "The agency also announced that real-time arrival screens will be installed at @n of "
        "the busiest stops by the end of the year, and that a new route along @street will "
        "start running in the spring.",
    ]),
    ("business", "Local bakery expands to second location on @street", [
        "A family-run bakery that started at a weekend farmers market is opening its second "
        "shop on @street this @day, owners @p1 and @p2 said.",
        "The new location will have seating for about @n customers and a larger kitchen, which "
        "means the bakery can finally take wholesale orders from cafes in the area.",
        "\"When we started, we baked everything in a borrowed kitchen at four in the morning,\" "
        "@p1s said. \"Now we get to hire @k more people from the neighbourhood.\"",
        "The shop is known for its rye sourdough, cardamom buns and seasonal fruit tarts. "
        "To celebrate the opening, every customer on the first day gets $5 off any whole cake "
        "and a free coffee with any pastry.",
        "The bakery will be open from 7 a.m. to 6 p.m. Tuesday through Sunday. The original "
        "shop near the market will keep its current hours.",
    ]),
    ("festival", "Summer music festival returns to @town waterfront", [
        "The @town Waterfront Festival returns this weekend with more than @n bands on three "
        "stages, food trucks, and a night market along the harbour promenade.",
        "Organisers expect around @k visitors over the two days. Day tickets cost $@small0, "
        "weekend passes $@big, and children under twelve get in free with an adult.",
        "\"We listened to feedback from last year and added more shade, more water stations "
        "and more seating,\" festival director @p1 said.",
        "Headliners include a local jazz orchestra, a folk trio from the coast and a DJ set to "
        "close Saturday night. A quieter family area with workshops and a puppet theatre will "
        "run near the old boathouse.",
        "Parking near the waterfront will be limited, and the city is running free shuttle "
        "buses from the @street park-and-ride every fifteen minutes from 10 a.m.",
    ]),
    ("health", "Hospital opens new emergency wing in @town", [
        "@town General Hospital opened its new emergency department on @day, nearly doubling "
        "the number of treatment rooms to @n.",
        "Hospital officials said waiting times in the old department had grown steadily over "
        "the past five years, with some patients waiting more than six hours on busy nights.",
        "\"This expansion lets us separate urgent cases from minor injuries much faster,\" said "
        "@p1, the hospital's chief of emergency medicine.",
        "The $@amt million project also includes a new ambulance bay and a quiet room for "
        "families. Construction was partly funded by a community fundraising campaign that "
        "collected donations from more than @k residents.",
        "The hospital reminded residents that non-emergency concerns can also be handled by "
        "the walk-in clinic on @street, which is open every day until 9 p.m.",
    ]),
    ("library", "Central library reopens after renovation", [
        "The @town Central Library reopened on @day after an eighteen-month renovation that "
        "added a makerspace, new study rooms and a children's wing with a reading garden.",
        "Library director @p1 said the building now has @n public computers and free Wi-Fi "
        "throughout, and that the old card catalogue drawers were kept as a design feature in "
        "the lobby.",
        "\"People told us they wanted a place to work, to meet and to bring their kids,\" "
        "@p1s said. \"We tried to make room for all of that without losing the quiet corners.\"",
        "Visitors on opening day lined up along @street before the doors opened at 10 a.m. "
        "More than @k people signed up for new library cards during the first week.",
        "Regular hours are 9 a.m. to 8 p.m. on weekdays and 10 a.m. to 5 p.m. on weekends. "
        "Late fees on children's books have been permanently eliminated.",
    ]),
    ("fire", "Crews contain brush fire near @town hiking trails", [
        "Firefighters contained a brush fire on @day that burned about @n hectares of dry "
        "grass and scrub near the trailheads north of @town.",
        "No injuries were reported, and no homes were damaged, although residents of a few "
        "streets near @street were briefly told to be ready to leave.",
        "\"The wind shifted at exactly the right moment for us,\" said fire chief @p1. "
        "\"Another hour of those gusts and this would have been a very different day.\"",
        "The cause of the fire is under investigation. Officials reminded hikers that open "
        "flames and barbecues are banned in the park until the end of the dry season.",
        "The trails will remain closed for at least a week while crews check for hot spots and "
        "repair damaged signs and fencing.",
    ]),
    ("tech", "@company reports higher revenue, plans to hire in @town", [
        "@company, the software firm headquartered in @town, said on @day that its quarterly "
        "revenue rose @pct percent compared with a year earlier, to $@amt million.",
        "The company credited growth in its subscription business and new contracts with "
        "hospitals and school districts. It now has about @k employees worldwide.",
        "Chief executive @p1 told analysts the company plans to open a new office on @street "
        "next year and hire about @n engineers and support staff locally.",
        "\"We want to grow where we started,\" @p1s said. \"There is a lot of talent here that "
        "used to leave for bigger cities.\"",
        "Shares of the company rose about @pct2 percent in early trading after the announcement.",
    ]),
]

_STREETS = ["Elm Street", "Harbour Road", "Maple Avenue", "King Street", "Station Road",
            "Mill Lane", "Church Street", "Riverside Drive", "Market Square", "Queen's Road"]
_COMPANIES = ["Brightlane Software", "Northwind Systems", "Kestrel Labs", "Bluefern Analytics"]


_NEWS_TOPICS += [
    ("roads", "Bridge repairs to close @street for the summer", [
        "Drivers in @town should plan for detours: the bridge that carries @street over the "
        "railway will close on @month @date for repairs expected to last about @n weeks.",
        "Engineers found corroded steel in the deck during a routine inspection last autumn. "
        "The bridge is not in danger of collapse, officials stressed, but the weight limit has "
        "already been lowered and buses were rerouted in February.",
        "Pedestrians and cyclists will still be able to cross on a temporary walkway for most "
        "of the closure. Signs will direct traffic to the ring road, which is expected to add "
        "ten minutes to a typical rush-hour journey.",
        "\"We know this is disruptive, and we scheduled the work for the school holidays on "
        "purpose,\" said @p1 of the public works department.",
        "Shop owners along the route worry about losing customers. The business association "
        "plans a campaign reminding shoppers that every store on the street stays open.",
    ]),
    ("housing", "Council backs @n-unit affordable housing project near the station", [
        "Plans for @n affordable apartments on a former car park next to the railway station "
        "won approval from the @town planning committee on @day.",
        "The six-storey building will include a ground-floor nursery, a bike room with space for "
        "two hundred bicycles and a shared roof terrace. Rents will be capped at 70 percent of "
        "the local market rate.",
        "Neighbours had objected to the height of the building and the loss of parking. The "
        "developer reduced the design by one floor and agreed to fund a residents' parking "
        "scheme on nearby streets.",
        "\"Young families and key workers are being priced out of this town,\" said @p1, who "
        "chairs the committee. \"This will not solve that alone, but it is a real start.\"",
        "Construction could begin next spring if the final funding agreement is signed. The "
        "first tenants would move in about two years later.",
    ]),
    ("river", "Volunteers pull record haul of rubbish from the river", [
        "More than @n volunteers spent Saturday morning wading, paddling and raking along the "
        "banks of the river in @town, collecting what organisers called a record amount of "
        "rubbish.",
        "Among the finds: three shopping trolleys, a scooter, dozens of tyres, a garden gnome "
        "and an astonishing number of plastic bottles. Everything was sorted for recycling on "
        "the riverside car park.",
        "\"Every year we think there cannot be more, and every year there is,\" said @p1, who "
        "founded the clean-up group a decade ago.",
        "The group is asking the council for more bins along the towpath and better lighting "
        "near the footbridge, where most of the dumping seems to happen at night.",
        "The next clean-up is planned for the autumn. Gloves, grabbers and hot soup are "
        "provided; volunteers are asked to bring boots and a reusable cup.",
    ]),
    ("police", "Police warn cyclists after spate of bike thefts", [
        "Police in @town are urging cyclists to use better locks after @n bicycles were "
        "reported stolen from the town centre in the past month.",
        "Most of the thefts happened in broad daylight outside the library, the leisure centre "
        "and the station, and in many cases cable locks were simply cut.",
        "\"A good D-lock costs less than a tank of fuel, and it makes a thief walk on to the "
        "next bike,\" said sergeant @p1. Officers will offer free bike marking at the market "
        "on Saturday.",
        "Two people were arrested on @day in connection with the thefts, and several bikes "
        "have already been returned to their owners thanks to registered frame numbers.",
        "Anyone with information is asked to call the non-emergency number. Residents can also "
        "report suspicious activity anonymously online.",
    ]),
    ("theatre", "Little theatre on @street celebrates fifty seasons", [
        "The @town Playhouse, a volunteer-run theatre with just 140 seats, opens its fiftieth "
        "season this month with a revival of the comedy that launched it in 1974.",
        "Founded by a group of teachers in a converted chapel, the theatre now stages six "
        "productions a year, runs youth workshops and hosts a popular summer festival of short "
        "plays.",
        "\"People think of amateur theatre as something small, but the commitment here is "
        "enormous,\" said artistic director @p1, who first appeared on its stage as a child.",
        "The anniversary season includes a new play written by a local author, a musical in "
        "December and a week of readings by members of the original company.",
        "Tickets start at $12, with discounts for students. The box office is open on weekday "
        "afternoons and one hour before each performance.",
    ]),
    ("shelter", "Animal shelter reports busiest year for adoptions", [
        "The @town animal shelter found new homes for @k animals last year, the highest number "
        "in its history, according to its annual report released on @day.",
        "Cats made up more than half of the adoptions, followed by dogs, rabbits and a "
        "surprising number of guinea pigs. The shelter credits a new website that shows every "
        "animal's personality in a short video.",
        "\"The best day here is when someone walks out with a dog who waited eight months,\" "
        "said shelter manager @p1.",
        "The shelter still needs foster families, especially for older cats and for dogs that "
        "do not get along with other pets. Foster carers receive food, supplies and vet care.",
        "An open day with tours and a pet photo booth is planned for @month @date.",
    ]),
    ("market", "Farmers market moves to the old bus depot", [
        "The weekly farmers market in @town will move from the town square to the renovated "
        "bus depot on @street starting next month, organisers announced on @day.",
        "The new site has a roof, running water and space for about @n stalls, compared with "
        "thirty-five in the square. Traders had complained for years about setting up in rain "
        "and wind.",
        "\"We lose half our customers when the weather turns,\" said @p1, who sells cheese and "
        "eggs from a farm just outside town. \"Under a roof, people will stay and chat.\"",
        "Some shoppers said they would miss the square, where the market has been held since "
        "the 1980s. The council promised to keep a smaller craft market there on Sundays.",
        "The market runs on Saturdays from 8 a.m. to 1 p.m. Parking at the depot is free "
        "during market hours.",
    ]),
    ("airport", "Regional airport adds direct flights to three cities", [
        "Travellers from @town will soon be able to fly directly to three new destinations, "
        "the regional airport announced on @day.",
        "The routes, operated by a low-cost airline, start in the spring with four flights a "
        "week each. Introductory fares begin at $49 one way, including a small cabin bag.",
        "\"Until now, most people drove two hours to the big airport,\" said airport director "
        "@p1. \"We want to give them a reason to fly from home.\"",
        "Environmental groups criticised the expansion, pointing to noise over the villages "
        "under the flight path and the climate impact of short-haul flights.",
        "The airport expects to handle about @k passengers a month once all routes are running, "
        "and says it will hire @n additional staff for security and ground handling.",
    ]),
    ("retire", "After forty years, the corner hardware store closes its doors", [
        "For four decades, @p1 has opened the hardware store on @street at 7:30 sharp. On "
        "@day, the store will open for the last time.",
        "The shop sold everything from single screws to lawnmowers, and locals say it was the "
        "only place in town where you could buy exactly three nails and get advice on fixing "
        "a leaky tap for free.",
        "\"I am seventy-one, my knees are done, and none of my children want to sell paint,\" "
        "@p1s said with a laugh. \"It is time.\"",
        "Customers have been stopping by all week to say goodbye, some bringing photos of the "
        "store from the 1980s. A farewell party with coffee and cake is planned for Saturday.",
        "The building has been sold, and the new owners plan to open a cafe with a small repair "
        "workshop in the back, which regulars say @p1s would approve of.",
    ]),
    ("marathon", "Record field expected for Sunday's city marathon", [
        "About @k runners are registered for Sunday's @town marathon, the largest field since "
        "the race began, organisers said on @day.",
        "The course starts at the waterfront, loops through the old town and finishes in the "
        "park after crossing both river bridges. Roads along the route will close from 6 a.m. "
        "until early afternoon.",
        "\"The atmosphere on the bridges is something special,\" said race director @p1. "
        "\"We have music at every mile and a lot of very loud grandparents.\"",
        "Spectators are encouraged to take public transport, which will run extra trains on "
        "Sunday morning. Several bus routes will be diverted until the last runner finishes.",
        "Proceeds from the race support the children's hospital, which received more than $@amt "
        "thousand from last year's event.",
    ]),
]


def _news_article(rng: Rng, topic: tuple | None = None) -> tuple[str, list[Block], str]:
    key, head, paras = topic or rng.choice(_NEWS_TOPICS)
    p1, p2 = _person(rng), _person(rng)
    kw = dict(town=rng.choice(_TOWNS), amt=f"{rng.randint(12, 480)}.{rng.randint(1, 9)}",
              votes=rng.choice(["6-3", "5-4", "7-2", "8-1"]), day=rng.choice(_WEEKDAYS),
              pct=rng.randint(3, 18), n=rng.randint(4, 60), k=_thousands(rng.randint(300, 9000)),
              p1=p1, p2=p2, p1s=p1.split()[1], p2s=p2.split()[1], street=rng.choice(_STREETS),
              month=rng.choice(_MONTHS), date=rng.randint(2, 28), temp=rng.randint(18, 29),
              small=rng.choice([5, 6, 8, 10]), small0=rng.choice([35, 40, 45, 55]),
              big=rng.choice([70, 85, 95, 110]), company=rng.choice(_COMPANIES),
              pct2=rng.randint(2, 9))
    blocks: list[Block] = [("p", _fill(t, **kw)) for t in paras]
    return _fill(head, **kw), blocks, key


_RECIPES: list[tuple[str, list[str], list[str]]] = [
    ("Banana bread with walnuts", ["3 very ripe bananas", "1/3 cup melted butter",
     "3/4 cup brown sugar", "1 egg, beaten", "1 teaspoon vanilla extract",
     "1 teaspoon baking soda", "a pinch of salt", "1 1/2 cups all-purpose flour",
     "1/2 cup chopped walnuts"],
     ["Preheat the oven to 350°F (175°C) and butter a 4x8-inch loaf pan.",
      "Mash the bananas in a large bowl, then stir in the melted butter.",
      "Mix in the sugar, egg and vanilla. Sprinkle the baking soda and salt over the mixture.",
      "Fold in the flour until just combined, then the walnuts. Do not overmix.",
      "Bake for 55 to 65 minutes, until a skewer comes out clean. Cool in the pan for 10 "
      "minutes before turning out."]),
    ("Roasted tomato soup", ["1 kg ripe tomatoes, halved", "1 red onion, quartered",
     "4 garlic cloves", "3 tablespoons olive oil", "500 ml vegetable stock",
     "a handful of basil leaves", "salt and black pepper", "a splash of cream (optional)"],
     ["Heat the oven to 200°C. Spread the tomatoes, onion and garlic on a tray.",
      "Drizzle with olive oil, season well and roast for 35 minutes until soft and charred "
      "at the edges.",
      "Tip everything into a pot, add the stock and simmer for 10 minutes.",
      "Blend until smooth, add the basil and adjust the seasoning. Finish with cream."]),
    ("Weeknight chickpea curry", ["2 tablespoons oil", "1 onion, finely chopped",
     "2 garlic cloves, grated", "a thumb of ginger, grated", "2 tablespoons curry paste",
     "1 can chopped tomatoes", "1 can coconut milk", "2 cans chickpeas, drained",
     "2 big handfuls of spinach", "juice of half a lime"],
     ["Fry the onion in the oil for 8 minutes until golden.",
      "Add garlic, ginger and curry paste and cook for another minute, stirring.",
      "Pour in the tomatoes and coconut milk, add the chickpeas and simmer for 15 minutes.",
      "Stir in the spinach until wilted, then add the lime juice. Serve with rice or naan."]),
    ("Fluffy buttermilk pancakes", ["2 cups flour", "2 tablespoons sugar",
     "2 teaspoons baking powder", "1/2 teaspoon baking soda", "1/2 teaspoon salt",
     "2 cups buttermilk", "2 eggs", "3 tablespoons melted butter"],
     ["Whisk the dry ingredients in one bowl and the wet ingredients in another.",
      "Pour the wet into the dry and stir just until combined; lumps are fine.",
      "Let the batter rest for 10 minutes while the pan heats over medium heat.",
      "Cook 1/4 cup of batter per pancake until bubbles form, flip and cook 1 more minute."]),
    ("Chewy chocolate chip cookies", ["1 cup butter, softened", "3/4 cup white sugar",
     "3/4 cup brown sugar", "2 eggs", "2 teaspoons vanilla", "2 1/4 cups flour",
     "1 teaspoon baking soda", "1 teaspoon salt", "2 cups chocolate chips"],
     ["Cream the butter and both sugars until light, then beat in the eggs and vanilla.",
      "Stir in the flour, baking soda and salt, then the chocolate chips.",
      "Chill the dough for at least 30 minutes; this is the secret to thick cookies.",
      "Bake heaping spoonfuls at 375°F for 9 to 11 minutes. They firm up as they cool."]),
    ("Lemon and pea risotto", ["1 litre hot stock", "1 tablespoon butter", "1 shallot, diced",
     "300 g arborio rice", "125 ml dry white wine", "200 g frozen peas",
     "zest and juice of 1 lemon", "50 g grated parmesan"],
     ["Melt the butter and soften the shallot for 5 minutes.",
      "Add the rice and toast it for 2 minutes, then pour in the wine and let it bubble away.",
      "Add the stock a ladle at a time, stirring, for about 18 minutes.",
      "Stir in the peas, lemon and parmesan, rest for 2 minutes with the lid on, and serve."]),
    ("Classic guacamole", ["3 ripe avocados", "1 lime", "1/2 teaspoon salt",
     "1/2 red onion, minced", "1 jalapeño, seeded and minced", "2 Roma tomatoes, diced",
     "a handful of cilantro, chopped"],
     ["Halve the avocados, remove the pits and scoop the flesh into a bowl.",
      "Mash with the lime juice and salt, leaving it a little chunky.",
      "Fold in the onion, jalapeño, tomato and cilantro. Taste and adjust.",
      "Press plastic wrap onto the surface if not serving right away to stop browning."]),
    ("Apple crumble", ["6 apples, peeled and sliced", "2 tablespoons sugar",
     "1 teaspoon cinnamon", "150 g flour", "100 g cold butter, cubed", "75 g brown sugar",
     "50 g rolled oats"],
     ["Heat the oven to 190°C. Toss the apples with sugar and cinnamon in a baking dish.",
      "Rub the butter into the flour until it looks like breadcrumbs, then stir in the brown "
      "sugar and oats.",
      "Scatter the crumble over the fruit without pressing it down.",
      "Bake for 40 minutes until golden and bubbling. Serve with custard or ice cream."]),
    ("Vegetable stir-fry with peanut sauce", ["2 tablespoons peanut butter",
     "2 tablespoons soy sauce", "1 tablespoon rice vinegar", "1 teaspoon honey",
     "1 red pepper", "1 head of broccoli", "2 carrots", "a handful of snap peas",
     "2 spring onions", "noodles or rice to serve"],
     ["Whisk the peanut butter, soy sauce, vinegar and honey with 3 tablespoons of water.",
      "Cut the vegetables into bite-sized pieces.",
      "Stir-fry in a very hot wok for 4 to 5 minutes, hardest vegetables first.",
      "Pour over the sauce, toss for 30 seconds and serve over noodles."]),
    ("Shakshuka", ["2 tablespoons olive oil", "1 onion, sliced", "1 red pepper, sliced",
     "3 garlic cloves", "1 teaspoon cumin", "1 teaspoon smoked paprika",
     "2 cans chopped tomatoes", "6 eggs", "feta and parsley to finish"],
     ["Soften the onion and pepper in the oil for 10 minutes.",
      "Add garlic and spices, cook for a minute, then add the tomatoes and simmer for 10 "
      "minutes until thick.",
      "Make six wells and crack an egg into each. Cover and cook for 6 to 8 minutes.",
      "Crumble over the feta, scatter parsley and bring the pan to the table with bread."]),
    ("Homemade granola", ["3 cups rolled oats", "1 cup mixed nuts, chopped",
     "1/2 cup pumpkin seeds", "1/3 cup maple syrup", "1/4 cup olive oil",
     "1 teaspoon cinnamon", "1/2 teaspoon salt", "2/3 cup dried cherries"],
     ["Heat the oven to 325°F and line a large baking sheet.",
      "Mix everything except the cherries and spread it out in an even layer.",
      "Bake for 20 to 25 minutes, stirring halfway, until golden.",
      "Let it cool completely on the tray (it crisps as it cools), then add the cherries."]),
    ("Slow-cooker beef chili", ["1 kg beef mince", "2 onions, chopped", "3 garlic cloves",
     "2 tablespoons chili powder", "1 tablespoon cumin", "2 cans kidney beans",
     "2 cans tomatoes", "2 tablespoons tomato paste", "1 square dark chocolate"],
     ["Brown the beef in batches and transfer to the slow cooker.",
      "Soften the onions and garlic in the same pan, add the spices and cook 1 minute.",
      "Add everything to the slow cooker and cook on low for 8 hours.",
      "Stir in the chocolate at the end. Serve with sour cream, cheese and cornbread."]),
]

_RECIPE_INTROS = [
    "This is the recipe I make more than any other, usually on a rainy Sunday when the kitchen "
    "needs warming up. It has been tweaked over the years, but the basic idea came from my "
    "grandmother's handwritten card, stained and folded at the corners.",
    "I first ate something like this at a tiny cafe on holiday and spent a whole winter trying "
    "to recreate it at home. After a dozen attempts and some very patient taste testers, I "
    "think this version is close enough.",
    "Quick, cheap and forgiving: this is the kind of dish that works with whatever you have in "
    "the fridge. My kids ask for it every week, which is the highest praise in our house.",
    "Every autumn our neighbours leave a basket of produce on the doorstep, and this recipe is "
    "how we use it up. It freezes well, so I usually make a double batch.",
]
_RECIPE_NOTES = [
    "Storage: keeps for 3 days in an airtight container, or up to 3 months in the freezer.",
    "If you are short on time, the first step can be done the night before.",
    "Swap in whatever is in season; the method stays the same.",
    "A reader suggested adding a pinch of chili flakes, and honestly it is an improvement.",
    "Serves 4 generously. Nutrition per serving (approximate): 410 kcal, 14 g protein.",
]


def _recipe(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    name, ingr, steps = _RECIPES[idx % len(_RECIPES)] if idx is not None else rng.choice(_RECIPES)
    prep, cook = rng.choice([10, 15, 20, 25]), rng.choice([15, 25, 40, 55, 60])
    blocks: list[Block] = [
        ("p", rng.choice(_RECIPE_INTROS)),
        ("p", f"Prep time: {prep} minutes. Cook time: {cook} minutes. "
              f"Total: {prep + cook} minutes. Serves {rng.randint(2, 8)}."),
        ("h2", "Ingredients"), ("ul", list(ingr)),
        ("h2", "Instructions"), ("ol", list(steps)),
        ("h2", "Notes"), ("ul", rng.sample(_RECIPE_NOTES, 2)),
        ("p", f"Rated {rng.choice(['4.5', '4.7', '4.8', '4.9'])} out of 5 by "
              f"{rng.randint(12, 900)} readers. Did you make this? Leave a comment below and "
              "tag us in your photos!"),
    ]
    return name, blocks


_CITIES: list[tuple[str, str, list[str], str, str]] = [
    ("Lisbon", "€", ["the Alfama district", "Belém Tower", "the LX Factory", "the viewpoint at "
     "Miradouro da Graça"], "pastéis de nata",
     "Lisbon is built on seven steep hills, and the old yellow trams that grind up them are "
     "as much a means of transport as a tourist attraction. Tram 28 is famous and always full; "
     "tram 12 covers much of the same ground with half the queue."),
    ("Kyoto", "¥", ["Fushimi Inari shrine", "the Arashiyama bamboo grove", "Nishiki Market",
     "the Philosopher's Path"], "matcha sweets",
     "Kyoto has more than a thousand temples, and trying to see them all is the surest way to "
     "enjoy none of them. We picked a handful, went at opening time and spent the afternoons in "
     "quiet neighbourhood tea houses instead."),
    ("Edinburgh", "£", ["the Royal Mile", "Arthur's Seat", "Dean Village", "the Scottish "
     "National Gallery"], "a proper full breakfast",
     "Edinburgh's old town and new town face each other across a valley that used to be a "
     "loch, and the contrast between the crooked medieval closes and the tidy Georgian "
     "crescents never gets old."),
    ("Oaxaca", "MXN ", ["Monte Albán", "the Sunday market in Tlacolula", "the Santo Domingo "
     "church", "the mezcal distilleries in the valley"], "mole negro",
     "Oaxaca takes its food seriously. Every market has a smoke-filled aisle where you choose "
     "raw meat from one stall and hand it to a grill cook at the next, then eat it with "
     "tortillas, radishes and salsa at long shared tables."),
    ("Tallinn", "€", ["the Old Town walls", "Kadriorg Park", "the Telliskivi creative city",
     "the seaplane harbour museum"], "black bread and smoked fish",
     "Tallinn's medieval centre is almost absurdly well preserved, but the more interesting "
     "city lies just outside the walls, in old factories turned into studios, food halls and "
     "a surprising number of excellent bakeries."),
    ("Hanoi", "VND ", ["Hoan Kiem Lake", "the Old Quarter", "the Temple of Literature",
     "a train street cafe"], "bún chả",
     "Crossing the road in Hanoi is a skill: walk slowly and steadily, never stop suddenly, "
     "and the river of scooters flows around you. By day three we were doing it without "
     "holding our breath."),
    ("Porto", "€", ["the Ribeira waterfront", "Livraria Lello", "the port cellars in Gaia",
     "the Dom Luís I bridge"], "francesinha",
     "Porto feels like Lisbon's grittier, friendlier sibling. The blue and white tiles on the "
     "churches are stunning, and the river light in the evening made us forgive the city for "
     "its relentless hills."),
    ("Quebec City", "CA$", ["the Old Town ramparts", "Château Frontenac", "Montmorency "
     "Falls", "the Petit Champlain quarter"], "poutine and maple taffy",
     "Quebec City is the only walled city north of Mexico, and in winter, with snow on the "
     "ramparts and the river half frozen, it looks like a painting. In summer it is warmer, "
     "busier and just as charming."),
    ("Ljubljana", "€", ["the castle hill", "the Triple Bridge", "Tivoli Park", "a day trip to "
     "Lake Bled"], "štruklji",
     "Ljubljana banned cars from its centre years ago, and it shows: the riverbanks belong to "
     "cafes, cyclists and people doing nothing in particular, which is exactly what we came "
     "to do."),
    ("Tbilisi", "GEL ", ["the sulphur baths", "Narikala fortress", "the Dry Bridge flea "
     "market", "the old town balconies"], "khachapuri",
     "Tbilisi wears its history in layers: Persian baths, Russian boulevards, Soviet "
     "apartment blocks and glass bridges, all stacked along the river within a few minutes' "
     "walk of each other."),
    ("Bergen", "NOK ", ["Bryggen wharf", "the funicular up Mount Fløyen", "the fish market",
     "a fjord cruise"], "fish soup",
     "Bergen is said to get rain on more than two hundred days a year, and the locals have "
     "simply stopped noticing. We bought proper rain jackets on the first day and never "
     "regretted it."),
    ("Valparaíso", "CLP ", ["the funiculars", "the street art on Cerro Alegre", "Pablo "
     "Neruda's house", "the harbour boat tours"], "empanadas",
     "Valparaíso tumbles down forty-odd hills into the Pacific, and nearly every wall is "
     "painted. Getting lost in the stairways between the hills is not a risk here, it is the "
     "main activity."),
]

_TRAVEL_INTROS = [
    "We finally made it to @city this @season, and it was worth every hour of the delayed "
    "flight. Here is our @days-day itinerary, with what we ate, where we slept and what we "
    "would skip next time.",
    "@city had been on our list for years, and this @season we stopped talking about it and "
    "booked. @days days turned out to be just about right for a first visit.",
    "People kept telling us that @city was overrated. After @days days there, we respectfully "
    "disagree, and this post is our attempt to explain why.",
    "This was a last-minute trip: cheap tickets, @days free days and no plan at all. Somehow "
    "@city turned out to be one of our favourite places so far.",
    "A short post for once, because several readers asked what we did in @city. The short "
    "answer is: a lot of walking, a lot of eating and not much sleep.",
]
_TRAVEL_ARRIVE = [
    "We flew in late and took the airport bus into the centre, which was cheap and easy. Once "
    "in town we walked almost everywhere; comfortable shoes matter more than any guidebook.",
    "The train from the airport takes about half an hour and drops you a short walk from most "
    "guesthouses. Buy a transport card at the machine; the single tickets add up quickly.",
    "Our taxi driver gave us a running commentary on every building we passed, half of it "
    "probably invented. It was the best introduction to a city we have ever had.",
    "Public transport is good, but the city is compact enough that we only used it twice. "
    "Rental bikes are everywhere and cost very little for a day pass.",
    "We arrived by overnight bus, which saved a night of accommodation but not our backs. "
    "Breakfast at the station cafe and a strong coffee put things right.",
]
_TRAVEL_DAYS = [
    "We started slowly with coffee and a walk to @sight. Go early: by ten the crowds arrive "
    "and the light is much harsher for photos.",
    "The whole day went to @sight. We booked a small guided tour for about @cur@price each, and "
    "the guide's stories made the history come alive.",
    "In the morning we visited @sight, then wandered without a plan and ended up in a "
    "neighbourhood we had never heard of, eating lunch with the locals.",
    "Rain in the morning, so we hid in museums and cafes, and only made it to @sight late in "
    "the afternoon, when it was almost empty and completely magical.",
    "We hired bikes and rode out to @sight. It is further than the map suggests, and the last "
    "hill nearly finished us, but the view from the top was the highlight of the trip.",
    "A lazy day: a long breakfast, a bookshop, a nap, and a sunset walk to @sight with a "
    "picnic from the market.",
    "We joined a free walking tour that ended at @sight. Tip the guide properly; ours had "
    "clearly spent years collecting the stories she told.",
    "Our last full day, and we saved @sight for it. If you only have a weekend, prioritise it "
    "over the big-name attractions.",
]
_TRAVEL_FOOD = [
    "The food deserves its own post. The one dish you must try is @food; we had it three "
    "times and it was different, and excellent, every time.",
    "We ate @food at a family-run place with six tables and no menu. The owner simply brought "
    "whatever was good that day, and the bill was smaller than our lunch at the airport.",
    "Street food was cheaper and often better than restaurants. Look for the stalls with "
    "queues of locals, and do not leave without trying @food.",
    "Our best meal was in the least promising place: a plastic-chair cafe near the station, "
    "where the @food was so good we went back the next morning.",
]
_TRAVEL_STAY = [
    "We stayed in a small guesthouse in the old town for @cur@hotel a night including "
    "breakfast. The room was tiny but spotless, and the owners were lovely.",
    "Our apartment cost @cur@hotel a night and had a kitchen, which saved money on breakfasts. "
    "The walls were thin, so bring earplugs if you are a light sleeper.",
    "Hotels in the centre were expensive, so we stayed two stops out on the metro for "
    "@cur@hotel a night. It was quieter and the neighbourhood bakery was worth the commute.",
]
_TRAVEL_TIPS = [
    "Carry some cash; smaller cafes and market stalls often do not take cards.",
    "Book popular sights online a few days ahead to skip the ticket queue.",
    "Most museums are free on the first Sunday of the month.",
    "Tap water is safe to drink, so bring a refillable bottle.",
    "Learn a few words of the local language; it opens doors.",
    "Evenings can be cold even in summer, so pack a light jumper.",
    "Travel insurance: do not skip it, we needed it once in Morocco.",
    "Avoid restaurants with photos of the food on the menu outside.",
    "Download offline maps before you arrive.",
    "Sunday mornings are the quietest time for photos in the old town.",
]
_TRAVEL_OUTROS = [
    "Would we go back to @city? Without hesitation. Tell us your favourite spots in the "
    "comments; we are already planning the next trip.",
    "That is it for @city. Next up: a long train journey and a lot of very bad coffee, so stay "
    "tuned.",
    "If you have questions about @city, leave a comment and we will answer as best we can.",
    "@city, we will be back, hopefully with more time and better weather.",
]


def _travel_post(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    city, cur, sights, food, blurb = (_CITIES[idx % len(_CITIES)] if idx is not None
                                      else rng.choice(_CITIES))
    days = rng.randint(3, 6)
    s = list(sights)
    rng.shuffle(s)
    kw = dict(city=city, days=days, season=rng.choice(["spring", "autumn", "summer", "winter"]),
              food=food, cur=cur, hotel=rng.randint(45, 160))
    title = rng.choice([f"{days} days in {city}: an unhurried itinerary",
                        f"{city} on a budget: what we loved and what we skipped",
                        f"A long weekend in {city}", f"First impressions of {city}",
                        f"What to do in {city} when it rains"])
    day_tpls = rng.sample(_TRAVEL_DAYS, min(days - 1, 4))
    blocks: list[Block] = [("p", _fill(rng.choice(_TRAVEL_INTROS), **kw)), ("p", blurb)]
    if rng.random() < 0.6:
        blocks += [("h2", "Getting there and getting around"), ("p", rng.choice(_TRAVEL_ARRIVE))]
    for n, tpl in enumerate(day_tpls):
        blocks += [("h2", f"Day {n + 1}"),
                   ("p", _fill(tpl, sight=s[n % len(s)], cur=cur, price=rng.randint(15, 60)))]
    blocks += [("h2", "Food"), ("p", _fill(rng.choice(_TRAVEL_FOOD), **kw)),
               ("h2", "Where we stayed"), ("p", _fill(rng.choice(_TRAVEL_STAY), **kw)),
               ("h2", "Practical tips"), ("ul", rng.sample(_TRAVEL_TIPS, 3)),
               ("p", _fill(rng.choice(_TRAVEL_OUTROS), **kw))]
    return title, blocks


_TEAMS = ["Riverton Rovers", "Harlow Bay United", "Eastfield Athletic", "Glenmore City",
          "Port Ashton Wanderers", "Oakridge FC", "Westbury Town", "Fairhaven Albion"]
_HOOPS = ["Millbrook Hawks", "Cedar Falls Comets", "Riverton Rapids", "Harlow Bay Mariners",
          "Eastfield Foxes", "Glenmore Giants"]
_FB_OPEN = [
    "@home @result @away in front of @att fans on Saturday, in a game that swung back and "
    "forth until the final whistle.",
    "A cold, wet afternoon produced a surprisingly lively match as @home @result @away before a "
    "crowd of @att.",
    "There was little to separate the sides for long spells, but in the end @home @result "
    "@away at a packed ground.",
    "@home @result @away on Sunday, and on the evidence of this performance both teams have "
    "plenty to work on before the cup tie next week.",
]
_FB_FIRST = [
    "@scorer opened the scoring in the @m1 minute, curling a shot into the far corner after "
    "a quick exchange on the edge of the box.",
    "The breakthrough came in the @m1 minute: a corner was only half cleared and @scorer "
    "volleyed it back through a crowd of bodies.",
    "It took until the @m1 minute for a clear chance, and @scorer made no mistake, rounding "
    "the goalkeeper and rolling the ball into an empty net.",
    "@scorer should have scored twice before the half-hour, and when the goal finally came in "
    "the @m1 minute it was almost a relief.",
]
_FB_SECOND = [
    "After the break @away pushed higher up the pitch, and @keeper had to make two fine saves.",
    "The second half was scrappy, with more fouls than shots, until a substitution changed "
    "the shape of the game.",
    "@away dominated possession after the interval but rarely tested @keeper, who dealt "
    "calmly with a string of crosses.",
    "A scramble in the @m2 minute produced the moment of the match, a clearance off the line "
    "that had the whole stadium on its feet.",
]
_FB_QUOTE = [
    "\"I am proud of the effort, but we need to be more clinical,\" said manager @coach. "
    "\"We created enough chances to win two games.\"",
    "\"That is the kind of result you build a season on,\" @coach told reporters. \"The lads "
    "dug in when it mattered.\"",
    "@coach was blunt afterwards: \"We were second to every ball in the first half. That "
    "cannot happen again.\"",
    "\"Honestly, a draw would have been fair,\" admitted @coach, \"but I will take it.\"",
]
_BB_RUNS = [
    "The game was tied at the half before a 14-2 run early in the third quarter opened up a "
    "lead that was never seriously threatened.",
    "It was close for three quarters, then the visitors went cold from the floor and missed "
    "eight straight shots in the fourth.",
    "A fast start, a long lead and a nervous finish: the margin shrank to two with a minute "
    "left before a steal sealed it.",
    "Both teams shot well from deep early on, but the defence tightened after halftime and the "
    "second half was a grind.",
]
_BB_QUOTE = [
    "\"We finally played four quarters of our basketball,\" the coach said. \"Everyone touched "
    "the ball, everyone defended.\"",
    "\"We talk about effort every day, and tonight you could see it,\" said the coach.",
    "\"I just tried to stay aggressive,\" @star said. \"My teammates kept finding me.\"",
    "\"We have to close games better,\" the coach said, \"but a win is a win.\"",
]


def _sports_report(rng: Rng) -> tuple[str, list[Block]]:
    if rng.random() < 0.55:
        home, away = rng.sample(_TEAMS, 2)
        hg, ag = rng.randint(0, 4), rng.randint(0, 3)
        m1, m2 = sorted(rng.sample(range(3, 90), 2))
        kw = dict(home=home, away=away, scorer=_person(rng), keeper=_person(rng),
                  coach=_person(rng), m1=_ordinal(m1), m2=_ordinal(m2),
                  att=_thousands(rng.randint(4000, 28000)),
                  result="beat" if hg > ag else "were held by" if hg == ag else "lost to")
        kind = rng.choice(["match report", "report and ratings", "what we learned"])
        title = f"{home} {hg}-{ag} {away}: {kind}"
        pos = rng.randint(38, 62)
        blocks: list[Block] = [
            ("p", _fill(rng.choice(_FB_OPEN), **kw)),
            ("p", _fill(rng.choice(_FB_FIRST), **kw)),
            ("p", _fill(rng.choice(_FB_SECOND), **kw)),
            ("p", _fill(rng.choice(_FB_QUOTE), **kw)),
            ("h2", "Key stats"),
            ("ul", [f"Possession: {pos}% - {100 - pos}%",
                    f"Shots on target: {rng.randint(2, 9)} - {rng.randint(1, 7)}",
                    f"Corners: {rng.randint(2, 11)} - {rng.randint(1, 8)}",
                    f"Yellow cards: {rng.randint(0, 4)} - {rng.randint(0, 4)}"]),
            ("p", f"{home} travel to {rng.choice(_TOWNS)} next, while {away} "
                  f"{rng.choice(['host the league leaders', 'have a week off', 'face a cup replay'])}."),
        ]
    else:
        home, away = rng.sample(_HOOPS, 2)
        hp, ap = rng.randint(88, 124), rng.randint(85, 120)
        if hp == ap:
            hp += 3
        win, lose = (home, away) if hp > ap else (away, home)
        star, bench = _person(rng), _person(rng)
        title = f"{win} {rng.choice(['win', 'hold off', 'outlast'])} {lose} behind {star}"
        blocks = [
            ("p", f"{star} scored {rng.randint(24, 41)} points and grabbed {rng.randint(6, 15)} "
                  f"rebounds as the {win} beat the {lose} {max(hp, ap)}-{min(hp, ap)}."),
            ("p", rng.choice(_BB_RUNS)),
            ("p", f"{bench} added {rng.randint(10, 22)} points off the bench"
                  + rng.choice([", including four three-pointers.", " in just 19 minutes.",
                                ", and handed out six assists."])),
            ("p", _fill(rng.choice(_BB_QUOTE), star=star)),
            ("p", f"The win moves them to {rng.randint(10, 30)}-{rng.randint(5, 25)} on the "
                  "season." + rng.choice([" Tickets for Sunday's home game start at $19, and "
                                          "fans with a student ID get $5 off.",
                                          " Next up is a three-game road trip.", ""])),
        ]
    return title, blocks


_PRODUCTS: list[tuple[str, str, list[str], list[str], str]] = [
    ("Wireless earbuds", "Auralis Pod 3", ["Punchy, balanced sound", "Comfortable for hours",
     "Solid noise cancelling for the price"], ["Case scratches easily",
     "Touch controls are too sensitive"],
     "Battery life is rated at seven hours, and we got just over six with noise cancelling on. "
     "Calls sound clear indoors, less so on a windy street."),
    ("Robot vacuum", "SweepMate S7", ["Maps the flat quickly", "Quiet mode is really quiet",
     "Handles pet hair well"], ["App needs an account", "Gets stuck under the sofa"],
     "The first mapping run took twenty minutes for a two-bedroom flat, and after that it "
     "cleaned room by room without drama, apart from one memorable fight with a phone cable."),
    ("E-reader", "Paperleaf 6", ["Crisp screen", "Weeks of battery life",
     "Warm light for night reading"], ["No physical page buttons", "Store is cluttered"],
     "Text is sharp at every size, and the warm light makes bedtime reading pleasant. We read "
     "four novels on a single charge."),
    ("Espresso machine", "Barista One", ["Heats up in under a minute", "Steam wand is "
     "powerful", "Compact footprint"], ["Small water tank", "Drip tray fills quickly"],
     "Shots are consistent once you dial in the grind, and the steam wand textures milk well "
     "enough for latte art, if you have the patience to practise."),
    ("Running shoes", "Stride Air 2", ["Light and bouncy", "Breathable upper",
     "Grippy outsole in the wet"], ["Runs half a size small", "Laces are too short"],
     "We put about 200 kilometres on our pair, mostly easy runs and one half marathon, and the "
     "foam still feels lively."),
    ("Mechanical keyboard", "Tactyl 75", ["Satisfying switches", "Solid aluminium case",
     "Hot-swappable keys"], ["Heavy", "Software is Windows-only"],
     "Typing feels deep and muted rather than clacky, and swapping switches took two minutes "
     "with the included tool."),
    ("Air fryer", "CrispBox 5L", ["Even cooking", "Basket is dishwasher safe",
     "Easy presets"], ["Loud fan", "Takes up a lot of counter space"],
     "Frozen chips came out crisp in fifteen minutes, and chicken thighs were better than in "
     "our oven, with far less preheating."),
    ("Travel backpack", "Nomad 35", ["Opens like a suitcase", "Fits under most airline "
     "seats", "Comfortable hip belt"], ["Few outside pockets", "Zips are stiff at first"],
     "We lived out of it for a ten-day trip with a laptop, and the clamshell opening made "
     "packing and unpacking at each stop painless."),
    ("Smartwatch", "Pulse Fit 4", ["Accurate GPS", "Bright always-on display",
     "Good sleep tracking"], ["Battery lasts only two days", "Strap attracts lint"],
     "GPS tracks matched our phone closely on runs and rides, and the display stays readable "
     "in direct sunlight."),
    ("Camping tent", "Ridgeline 2P", ["Pitches in five minutes", "Stays dry in heavy rain",
     "Two doors"], ["Pegs are flimsy", "Tight for two tall people"],
     "We spent a stormy night on a hillside in it, and apart from some flapping the tent "
     "stayed taut and dry inside."),
]
_REVIEW_DESIGN = [
    "Out of the box it feels well made, with no creaks or rough edges. The packaging is "
    "mostly cardboard, which we appreciate.",
    "Build quality is good for the price: the materials feel durable, if a little plain, and "
    "nothing rattled after weeks of use.",
    "It looks more expensive than it is. The finish resists fingerprints, and the controls are "
    "sensibly placed.",
    "Nothing about the design is flashy, but every detail seems to have been thought about "
    "by someone who actually uses this kind of product.",
]
_REVIEW_USE = [
    "In daily use it simply gets out of the way, which is the best compliment we can give.",
    "A few quirks showed up over time, listed below, but none of them were deal breakers.",
    "Compared with last year's model, the improvements are small but noticeable.",
    "It does the basics very well and skips the gimmicks, which we think is the right call.",
]


def _review(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    kind, name, pros, cons, detail = (_PRODUCTS[idx % len(_PRODUCTS)] if idx is not None
                                      else rng.choice(_PRODUCTS))
    price = rng.choice([49, 79, 99, 129, 149, 199, 249, 299])
    verdict = rng.choice(["worth the money?", "a great mid-range pick", "almost perfect",
                          "good, not great"])
    title = f"{name} review: {verdict}"
    blocks: list[Block] = [
        ("p", f"The {name} is the latest {kind.lower()} to land on our desk, and at ${price} it "
              f"sits in the crowded middle of the market. We used it for {rng.randint(2, 6)} "
              "weeks to see whether it deserves a spot on your shopping list."),
        ("h2", "Design"), ("p", rng.choice(_REVIEW_DESIGN)),
        ("h2", "Performance"), ("p", detail + " " + rng.choice(_REVIEW_USE)),
        ("h2", "Pros"), ("ul", list(pros)),
        ("h2", "Cons"), ("ul", list(cons)),
        ("h2", "Price and verdict"),
        ("p", f"At the time of writing several retailers have it for "
              f"${price - rng.choice([10, 20, 30])}, and newsletter subscribers get $5 off with "
              f"the code SAVE5. Score: {rng.choice(['7', '7.5', '8', '8.5', '9'])}/10."),
    ]
    return title, blocks



# ---------------------------------------------------------------------------
# sites and page chrome (the boilerplate main-content extraction must drop)
# ---------------------------------------------------------------------------


@dataclass
class Site:
    host: str
    name: str
    tagline: str
    nav: list[tuple[str, str]]
    server: str
    layout: str  # modern | news | forum | wiki | legacy
    accent: str
    scheme: str = "https"
    cookie: bool = True
    lang: str = "en"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{path}"


@dataclass
class Draft:
    """A page before its site chrome is applied."""

    path: str
    title: str
    main: str  # rendered main content (no <h1>)
    is_math: bool
    markup: str
    formulas: list[str]
    blocks: list[Block] = field(default_factory=list)  # kept for near-duplicates
    style: str = ""
    head_extra: str = ""
    meta_line: str = ""
    quotes_benchmark: str | None = None
    near_dup_of: str | None = None
    full: bool = False  # main already contains the whole page body (forum pages)


@dataclass
class Page:
    url: str
    html: str
    is_math: bool
    markup: str
    formulas: list[str]
    near_dup_of: str | None = None
    quotes_benchmark: str | None = None
    charset: str = "utf-8"
    declare_charset: bool = True
    content_encoding: str | None = None
    chunked: bool = False
    server: str = "nginx"

    @property
    def domain(self) -> str:
        return self.url.split("/")[2].lower()


_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{font-size:16px;-webkit-text-size-adjust:100%}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;line-height:1.6;color:#222;background:#fafafa}
a{color:@accent;text-decoration:none}a:hover{text-decoration:underline}
.site-header{background:#fff;border-bottom:3px solid @accent;padding:12px 24px;display:flex;
align-items:center;justify-content:space-between;flex-wrap:wrap}
.site-header .logo a{font-weight:700;font-size:1.5rem;color:#111}
.main-nav ul{list-style:none;margin:0;padding:0;display:flex;gap:18px}
.main-nav a{color:#333;font-weight:500;text-transform:uppercase;font-size:.85rem}
.container{max-width:1180px;margin:0 auto;display:grid;grid-template-columns:1fr 300px;
gap:32px;padding:24px}
main article h1{font-size:2.2rem;line-height:1.2;margin:.2em 0 .4em}
.meta{color:#777;font-size:.9rem;margin-bottom:1.5em}
.sidebar .widget{background:#fff;border:1px solid #e5e5e5;border-radius:6px;padding:16px;
margin-bottom:24px}.sidebar h3{margin-top:0;font-size:1rem;text-transform:uppercase}
.sidebar ul{padding-left:18px}.ad-slot{min-height:250px;background:#f0f0f0;display:flex;
align-items:center;justify-content:center;color:#aaa;font-size:.75rem}
footer.site-footer{background:#1d1d1f;color:#bbb;padding:40px 24px;font-size:.9rem}
footer.site-footer a{color:#ddd}.footer-cols{display:flex;gap:48px;flex-wrap:wrap}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#eee;padding:14px
24px;display:flex;gap:16px;align-items:center;z-index:999}
.cookie-banner button{background:@accent;color:#fff;border:0;padding:8px 14px;border-radius:4px}
.share a{display:inline-block;margin-right:10px;font-size:.85rem}
.newsletter input[type=email]{width:100%;padding:8px;border:1px solid #ccc}
@media (max-width:900px){.container{grid-template-columns:1fr}.sidebar{order:2}}
"""

_SCRIPTS = (
    '<script async src="https://www.googletagmanager.com/gtag/js?id=@gid"></script>\n'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','@gid',{anonymize_ip:true});</script>\n"
)


def _gid(host: str) -> str:
    return "G-" + hashlib.sha1(host.encode()).hexdigest()[:10].upper()


def _head(site: Site, title: str, url: str, extra: str, charset: str = "utf-8",
          desc: str = "") -> str:
    css = _CSS.replace("@accent", site.accent)
    return (
        f'<!DOCTYPE html>\n<html lang="{site.lang}">\n<head>\n<meta charset="{charset}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)} | {_esc(site.name)}</title>\n"
        f'<meta name="description" content="{_attr(desc or title)}">\n'
        f'<meta property="og:title" content="{_attr(title)}">\n'
        f'<meta property="og:site_name" content="{_attr(site.name)}">\n'
        f'<meta property="og:url" content="{_attr(url)}">\n'
        '<meta name="twitter:card" content="summary">\n'
        f'<link rel="canonical" href="{_attr(url)}">\n'
        '<link rel="icon" href="/favicon.ico">\n'
        '<link rel="stylesheet" href="/static/css/main.4f1c2a9e.css">\n'
        f"<style>{css}</style>\n{extra}"
        + _SCRIPTS.replace("@gid", _gid(site.host))
        + "</head>\n"
    )


def _nav_html(site: Site) -> str:
    items = "".join(f'<li><a href="{_attr(p)}">{_esc(label)}</a></li>' for label, p in site.nav)
    return (f'<header class="site-header"><div class="logo"><a href="/">{_esc(site.name)}</a>'
            f'</div><p class="tagline">{_esc(site.tagline)}</p>'
            f'<nav class="main-nav" aria-label="Main"><ul>{items}</ul></nav>'
            '<form class="search" action="/search" method="get" role="search">'
            '<input type="search" name="q" placeholder="Search..." aria-label="Search">'
            "<button type=\"submit\">Search</button></form></header>\n")


def _footer_html(site: Site, year: int = 2024) -> str:
    return (
        '<footer class="site-footer"><div class="footer-cols">'
        f'<div><h4>{_esc(site.name)}</h4><p>{_esc(site.tagline)}</p></div>'
        '<div><h4>About</h4><ul><li><a href="/about">About us</a></li>'
        '<li><a href="/contact">Contact</a></li><li><a href="/careers">Careers</a></li></ul></div>'
        '<div><h4>Legal</h4><ul><li><a href="/privacy">Privacy policy</a></li>'
        '<li><a href="/terms">Terms of use</a></li><li><a href="/cookies">Cookie settings</a>'
        '</li></ul></div><div><h4>Follow</h4><ul><li><a href="https://twitter.example.com/">'
        'Twitter</a></li><li><a href="https://facebook.example.com/">Facebook</a></li>'
        '<li><a href="/feed.xml">RSS</a></li></ul></div></div>'
        f"<p>&copy; {year} {_esc(site.name)}. All rights reserved. Reproduction without "
        "permission is prohibited.</p></footer>\n"
    )


_COOKIE = (
    '<div id="cookie-notice" class="cookie-banner" role="dialog" aria-live="polite"><p>We use '
    "cookies and similar technologies to improve your experience, analyse traffic and show "
    "personalised content. By clicking \"Accept all\" you agree to our use of cookies. "
    '<a href="/cookies">Learn more</a></p><button id="cookie-accept">Accept all</button>'
    '<button id="cookie-manage">Manage preferences</button></div>\n'
)


def _sidebar(site: Site, related: list[tuple[str, str]], news: bool) -> str:
    rel = "".join(f'<li><a href="{_attr(p)}">{_esc(t)}</a></li>' for t, p in related)
    out = (f'<aside class="sidebar"><div class="widget"><h3>'
           f'{"Most read" if news else "Related posts"}</h3><ul>{rel}</ul></div>'
           '<div class="widget ad-slot" data-ad-unit="sidebar-300x250">Advertisement</div>'
           '<div class="widget newsletter"><h3>Newsletter</h3><p>Get the best stories in your '
           'inbox every week. No spam, unsubscribe any time.</p><form action="/subscribe" '
           'method="post"><input type="email" name="email" placeholder="you@example.com">'
           "<button>Subscribe</button></form></div>")
    if not news:
        out += ('<div class="widget"><h3>Archives</h3><ul><li><a href="/2024/04/">April 2024'
                '</a></li><li><a href="/2024/03/">March 2024</a></li><li><a href="/2024/02/">'
                "February 2024</a></li><li><a href=\"/2024/01/\">January 2024</a></li></ul></div>")
    return out + "</aside>\n"


def _chrome_modern(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    news = site.layout == "news"
    crumbs = " &rsaquo; ".join(
        ['<a href="/">Home</a>'] + [f'<a href="/{_attr(seg)}/">{_esc(seg.title())}</a>'
                                     for seg in d.path.strip("/").split("/")[:1] if seg]
    )
    share = (f'<div class="share">Share this: <a href="https://twitter.example.com/intent/tweet?'
             f'url={quote(url, safe="")}">Twitter</a><a href="https://facebook.example.com/'
             f'sharer.php?u={quote(url, safe="")}">Facebook</a><a href="mailto:?subject='
             f'{quote(d.title)}">Email</a></div>')
    ticker = ""
    if news:
        ticker = ('<div class="ticker"><strong>Breaking:</strong> Traffic delays on the ring '
                  'road after a lane closure &middot; <a href="/weather">Weather: 14&deg;C, '
                  "cloudy</a> &middot; <a href=\"/subscribe\">Subscribe from $1/week</a></div>\n")
    return (
        _head(site, d.title, url, d.head_extra)
        + f'<body class="{site.layout} single">\n<a class="skip-link" href="#main">Skip to '
        "content</a>\n" + _nav_html(site) + ticker
        + f'<div class="breadcrumbs">{crumbs}</div>\n<div class="container">\n'
        f'<main id="main"><article class="post">\n<h1 class="entry-title">{_esc(d.title)}</h1>\n'
        f'<div class="meta">{d.meta_line}</div>\n<div class="entry-content">\n{d.main}\n'
        f"</div>\n</article>\n{share}\n"
        '<section class="comments"><h3>Comments</h3><p>Comments are closed for this post.</p>'
        "</section></main>\n" + _sidebar(site, related, news) + "</div>\n"
        + _footer_html(site) + (_COOKIE if site.cookie else "")
        + '<script src="/static/js/app.min.js" defer></script>\n</body>\n</html>\n'
    )


def _chrome_wiki(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    rel = "".join(f'<li><a href="{_attr(p)}">{_esc(t)}</a></li>' for t, p in related)
    return (
        _head(site, d.title, url, d.head_extra)
        + '<body class="mediawiki ltr skin-vector">\n<div id="mw-page-base"></div>\n'
        '<div id="mw-head"><div id="p-personal"><ul><li><a href="/wiki/Special:UserLogin">'
        'Log in</a></li><li><a href="/wiki/Special:CreateAccount">Create account</a></li></ul>'
        '</div><div id="left-navigation"><ul><li class="selected"><a href="#">Page</a></li><li>'
        '<a href="#">Discussion</a></li></ul></div><div id="right-navigation"><ul><li><a '
        'href="#">Read</a></li><li><a href="#">Edit</a></li><li><a href="#">View history</a>'
        '</li></ul><form id="searchform" action="/index.php"><input name="search" '
        'placeholder="Search ProofWiki"></form></div></div>\n'
        '<div id="content" class="mw-body" role="main">\n'
        f'<h1 id="firstHeading" class="firstHeading">{_esc(d.title)}</h1>\n'
        f'<div id="bodyContent"><div id="siteSub">From {_esc(site.name)}</div>'
        '<div id="jump-to-nav"></div>\n<div id="mw-content-text" class="mw-body-content">'
        f'<div class="mw-parser-output">\n{d.main}\n</div></div>\n'
        '<div id="catlinks" class="catlinks"><div id="mw-normal-catlinks"><a '
        'href="/wiki/Special:Categories">Categories</a>: <ul><li><a href="/wiki/Category:Proven_'
        'Results">Proven Results</a></li><li><a href="/wiki/Category:Definitions">Definitions'
        "</a></li></ul></div></div></div></div>\n"
        '<div id="mw-panel"><div class="portal" id="p-navigation"><h3>Navigation</h3><ul>'
        '<li><a href="/wiki/Main_Page">Main page</a></li><li><a href="/wiki/Special:Recent'
        'Changes">Recent changes</a></li><li><a href="/wiki/Special:Random">Random proof</a>'
        '</li><li><a href="/wiki/Help:Contents">Help</a></li></ul></div>'
        f'<div class="portal" id="p-related"><h3>See also</h3><ul>{rel}</ul></div>'
        '<div class="portal" id="p-tb"><h3>Tools</h3><ul><li><a href="#">What links here</a>'
        '</li><li><a href="#">Printable version</a></li><li><a href="#">Permanent link</a>'
        "</li></ul></div></div>\n"
        '<div id="footer" role="contentinfo"><ul id="footer-info"><li id="footer-info-lastmod">'
        "This page was last modified on 14 March 2024, at 09:12.</li><li>Content is available "
        "under Creative Commons Attribution-ShareAlike License unless otherwise noted.</li></ul>"
        '<ul id="footer-places"><li><a href="/wiki/ProofWiki:Privacy_policy">Privacy policy'
        '</a></li><li><a href="/wiki/ProofWiki:About">About ProofWiki</a></li><li><a href="/'
        'wiki/ProofWiki:General_disclaimer">Disclaimers</a></li></ul></div>\n</body>\n</html>\n'
    )


def _chrome_legacy(site: Site, d: Draft, related: list[tuple[str, str]],
                   charset: str = "") -> str:
    rel = "\n".join(f'<LI><A HREF="{_attr(p)}">{_esc(t)}</A>' for t, p in related)
    meta = (f'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset={charset}">\n'
            if charset else "")
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML>\n<HEAD>\n'
        f"{meta}<TITLE>{_esc(d.title)}</TITLE>\n{d.head_extra}</HEAD>\n"
        '<BODY BGCOLOR="#FFFFFF" TEXT="#000000" LINK="#0000CC" VLINK="#551A8B">\n'
        f'<TABLE WIDTH="100%" BORDER="0" CELLPADDING="4"><TR><TD BGCOLOR="#DDDDEE">'
        f'<FONT FACE="Arial" SIZE="2"><A HREF="/~hartmann/">Home</A> | <A HREF="/~hartmann/'
        'teaching.html">Teaching</A> | <A HREF="/~hartmann/notes/">Notes</A> | <A HREF="/">'
        f"Department</A></FONT></TD></TR></TABLE>\n<H1>{_esc(d.title)}</H1>\n"
        f"{d.main}\n<HR>\n<P><B>Other notes:</B></P>\n<UL>\n{rel}\n</UL>\n<HR>\n"
        f"<ADDRESS>{_esc(site.name)}<BR>Last modified: Tue Oct 3 14:02:11 CEST 2006</ADDRESS>\n"
        '<P><FONT SIZE="1">Visitors since 1998: <IMG SRC="/cgi-bin/counter.gif" ALT="counter">'
        "</FONT></P>\n</BODY>\n</HTML>\n"
    )


def _chrome_forum(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    rel = "".join(
        f'<div class="spacer"><a href="{_attr(p)}" class="question-hyperlink">{_esc(t)}</a>'
        "</div>" for t, p in related
    )
    hot = ("<li><a href=\"https://cooking.example.org/q/1\">Why does my bread collapse in the "
           "oven?</a></li><li><a href=\"https://travel.example.org/q/2\">Do I need a transit "
           "visa for a layover?</a></li><li><a href=\"https://diy.example.org/q/3\">How to fix "
           "a squeaky floorboard under carpet</a></li>")
    body = d.main if d.full else f'<h1>{_esc(d.title)}</h1>\n{d.main}'
    return (
        _head(site, d.title, url, d.head_extra)
        + '<body class="question-page unified-theme">\n<header class="s-topbar"><div '
        f'class="s-topbar--container"><a class="s-topbar--logo" href="/">{_esc(site.name)}</a>'
        '<ol class="s-navigation"><li><a href="/about">About</a></li><li><a href="/help">Help'
        '</a></li></ol><form id="search" action="/search"><input name="q" placeholder="Search'
        '..." autocomplete="off"></form><ol class="s-topbar--content"><li><a href="/users/'
        'login" class="s-btn">Log in</a></li><li><a href="/users/signup" class="s-btn '
        's-btn__primary">Sign up</a></li></ol></div></header>\n'
        '<div class="container"><div id="left-sidebar"><nav role="navigation"><ol class="nav-'
        'links"><li><a href="/">Home</a></li><li><a href="/questions">Questions</a></li><li>'
        '<a href="/tags">Tags</a></li><li><a href="/users">Users</a></li><li><a href="/'
        'unanswered">Unanswered</a></li></ol></nav></div>\n'
        f'<div id="content"><div id="mainbar" role="main">\n{body}\n</div>\n'
        '<div id="sidebar"><div class="s-sidebarwidget"><ul><li>The Overflow Blog</li><li><a '
        'href="/blog/1">How we rebuilt search this year</a></li><li><a href="/blog/2">Community '
        "moderator elections are open</a></li></ul></div>"
        f'<div class="module sidebar-related"><h4>Related</h4>{rel}</div>'
        f'<div id="hot-network-questions" class="module"><h4>Hot Network Questions</h4><ul>{hot}'
        "</ul></div></div></div></div>\n"
        '<footer id="footer" class="site-footer"><div class="site-footer--container"><ul><li>'
        '<a href="/tour">Tour</a></li><li><a href="/help">Help</a></li><li><a href="/legal/'
        'privacy-policy">Privacy</a></li><li><a href="/legal/terms-of-service">Terms</a></li>'
        '</ul><p class="site-footer--copyright">Site design / logo &copy; 2024 Forum Network '
        "Inc; user contributions licensed under CC BY-SA. rev 2024.4.30.8412</p></div></footer>\n"
        + (_COOKIE if site.cookie else "")
        + '<script src="/js/stub.en.js?v=8f1c" defer></script>\n</body>\n</html>\n'
    )


def _finish(site: Site, drafts: list[Draft], rng: Rng,
            pool: list[Draft] | None = None) -> list[Page]:
    """Apply the site's chrome, with 'related' links drawn from the same site."""
    pages: list[Page] = []
    for d in drafts:
        others = [(o.title, o.path) for o in (pool or drafts) if o.path != d.path]
        related = rng.sample(others, min(5, len(others)))
        if site.layout == "wiki":
            doc = _chrome_wiki(site, d, related)
        elif site.layout == "forum":
            doc = _chrome_forum(site, d, related)
        elif site.layout == "legacy":
            doc = _chrome_legacy(site, d, related)
        else:
            doc = _chrome_modern(site, d, related)
        pages.append(Page(site.url(d.path), doc, d.is_math, d.markup, list(d.formulas),
                          d.near_dup_of, d.quotes_benchmark, server=site.server))
    return pages


def _draft(path: str, title: str, blocks: list[Block], markup: str, style: str = "",
           is_math: bool = True, parse: bool | None = None, **kw: object) -> Draft:
    r = MathRenderer(markup, style)
    main = _render_blocks(blocks, r, parse=is_math if parse is None else parse)
    return Draft(path, title, main, is_math, markup, r.formulas, blocks=blocks, style=style,
                 **kw)  # type: ignore[arg-type]


_SYN = {"said": "stated", "more than": "over", "However": "But", "quickly": "rapidly",
        "big": "large", "usual": "typical", "Use": "Apply", "need": "require",
        "simply": "just", "gives": "yields", "very": "really", "easy": "simple",
        "So": "Thus", "Then": "Next", "also": "additionally", "new": "brand-new",
        "people": "residents", "lovely": "nice", "exactly": "precisely"}
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
_PARAPHRASES: list[tuple[str, ...]] = [
    (", so ", ", hence ", ", therefore "),
    (". So ", ". Thus ", ". Hence ", ". Therefore ", ". Consequently "),
    (" gives ", " yields "),
    ("we get", "we obtain", "one gets"),
    ("For example", "For instance"),
    ("is called", "is known as"),
    ("Note that", "Notice that", "Observe that"),
    ("exactly", "precisely"),
    ("usually", "typically", "normally"),
    ("often", "frequently"),
    ("However,", "That said,", "Still,"),
    (" said ", " explained ", " noted "),
    ("residents", "locals"),
    (" big ", " large "),
    (" very ", " extremely ", " truly "),
    ("lovely", "beautiful", "wonderful"),
    ("great", "excellent"),
    ("compute", "calculate", "work out"),
    ("Compute", "Calculate"),
    ("computing", "calculating"),
    ("shows", "demonstrates"),
    ("Use the ", "Apply the ", "Try the "),
    (" use the ", " apply the "),
    ("it suffices", "it is enough"),
    (". Then ", ". Next, "),
    ("Finally", "Lastly"),
    ("clearly", "obviously"),
    (" easy ", " simple ", " straightforward "),
    ("started", "began"),
    ("Of course", "Naturally"),
    ("kids", "children"),
    ("delicious", "tasty"),
    ("cheap", "inexpensive"),
    ("walked", "strolled"),
    ("important", "crucial"),
    ("quickly", "rapidly"),
    ("the whole", "the entire"),
    ("Here $", "In this case $"),
    ("we may", "we can"),
    ("In particular", "Specifically"),
    ("Suppose", "Assume"),
    ("a lot of", "plenty of", "lots of"),
    ("enjoyed", "loved"),
    ("I think", "I believe"),
    ("tried", "attempted"),
    ("we have", "one has"),
    (", that is ", ", i.e. ", ", in other words, "),
    ("for every", "for all"),
    ("there is", "there exists"),
    ("Putting it together", "Combining the two", "Altogether"),
    ("As a check", "To double-check", "As a sanity check"),
    ("In fact", "Indeed", "Actually"),
    ("the usual", "the typical", "the standard"),
    ("Write the ", "Express the "),
    ("Plugging in", "Substituting", "Inserting"),
    ("equals", "is equal to"),
    ("Find ", "Determine "),
    (" find ", " determine "),
    ("show that", "prove that", "demonstrate that"),
    ("Let $", "Take $"),
    ("A quick", "A short"),
    ("The usual", "The typical", "The most common"),
    ("the whole point", "the entire idea", "the key"),
    ("directly", "straight away"),
    ("carefully", "with care"),
    ("comes from", "stems from", "arises from"),
    ("number of ways", "number of possibilities"),
]
# one-way swaps: the reverse direction would break other senses of the word
_ONE_WAY: dict[str, tuple[str, ...]] = {
    ", because ": (", because ", ", since ", ", as "),
    ". Since ": (". Since ", ". Because ", ". As "),
}
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


# ---------------------------------------------------------------------------
# benchmark problems (some pages quote them verbatim)
# ---------------------------------------------------------------------------

BENCHMARK: list[tuple[str, str, str]] = [
    ("bench-001", "A bakery sells muffins in boxes of 6. On Monday it sold 14 boxes, and on "
     "Tuesday it sold 9 more boxes than on Monday. How many muffins did the bakery sell on the "
     "two days altogether?", "222"),
    ("bench-002", "Tom reads 12 pages of his book on every weekday and 20 pages on each day of "
     "the weekend. If the book has 400 pages and he starts on a Monday, how many full weeks "
     "does he need to finish it?", "4"),
    ("bench-003", "A school trip costs $18 per student for the bus and $7 per student for the "
     "museum ticket. If 32 students go on the trip and the school pays $200 of the total, how "
     "much do the students' families pay altogether?", "600"),
    ("bench-004", "Lena has 3 times as many stickers as Omar. Omar has 8 fewer stickers than "
     "Priya, who has 25 stickers. How many stickers do the three children have in total?", "93"),
    ("bench-005", "A water tank holds 1200 liters and is 3/4 full. A pipe drains water at 15 "
     "liters per minute. How many minutes will it take until the tank is only 1/4 full?", "40"),
    ("bench-006", "Carlos earns $15 per hour and works 6 hours a day, 5 days a week. He saves "
     "20% of his earnings. How much money does he save in 4 weeks?", "360"),
    ("bench-007", r"Simplify $\dfrac{x^2 - 9}{x^2 + 6x + 9}$ for $x \neq -3$.",
     r"\frac{x-3}{x+3}"),
    ("bench-008", r"Let $f(x) = 3x^2 - 2x + 1$. What is the value of $f(f(1))$?", "9"),
    ("bench-009", r"How many positive divisors does $360$ have?", "24"),
    ("bench-010", r"If $\log_3(x+4) + \log_3(x-4) = 2$, what is the value of $x$?", "5"),
]
_BENCH = {b[0]: b[1] for b in BENCHMARK}


# ---------------------------------------------------------------------------
# site builders
# ---------------------------------------------------------------------------


def _date(rng: Rng, y0: int = 2019, y1: int = 2024) -> datetime:
    return datetime(rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28),
                    rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def _nice_date(d: datetime) -> str:
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


_COMMENTS = [
    "What have you tried so far? Please add your own attempt to the question.",
    "Welcome to the site! It helps to show your work so people can see where you got stuck.",
    "Thanks, that makes sense now. I was forgetting one case.",
    "Nice answer, the second part was exactly what I was missing.",
    "Is this homework? That is fine, but please say so and tell us what you tried.",
    "Could you fix the formatting? It is hard to read the expression as written.",
    "I voted to reopen; the question is clear enough after the edit.",
    "Great explanation, thank you for taking the time.",
]
_BIOS = [
    "Software developer living in Lyon. I answer questions here while my code is compiling.",
    "Retired engineer. I enjoy birdwatching, chess and long walks with my dog.",
    "High school teacher from Ohio. Coffee enthusiast and amateur woodworker.",
    "PhD student. Views are my own. Currently learning to play the cello, badly.",
    "Undergraduate, mostly here to learn. I also post on the cooking forum.",
    "Data analyst by day, runner by night. Training for my third marathon.",
    "Former accountant, now a stay-at-home dad with a lot of curiosity.",
    "I like puzzles of every kind: crosswords, escape rooms and jigsaws.",
]
_HANDLES = ["calc_student", "Jyrki", "user10342", "Eleanor R.", "Tomasz N.", "quasicoherent",
            "MrPineapple", "Priya", "hvd", "Andrés", "k.lindqvist", "Nadia H.", "epsilon_ish",
            "Bernard", "Matt S."]
_FORUM_TAGS = [
    ("calculus", "Questions about limits, derivatives, integrals and related topics."),
    ("linear-algebra", "Questions about vector spaces, matrices and linear maps."),
    ("probability", "Questions about chance, random variables and distributions."),
    ("elementary-number-theory", "Divisibility, primes, congruences and similar topics."),
    ("algebra-precalculus", "Basic algebra: equations, inequalities, functions, graphs."),
    ("combinatorics", "Counting problems, arrangements and selections."),
    ("real-analysis", "Rigorous treatment of real numbers, sequences and functions."),
    ("sequences-and-series", "Questions about sequences and the sums of series."),
    ("trigonometry", "Questions about angles, triangles and trigonometric functions."),
    ("complex-numbers", "Arithmetic and geometry of the complex numbers."),
    ("proof-writing", "How to write clear and correct proofs."),
    ("homework", "Do not use this tag; it was removed in 2013 and is kept for history."),
    ("soft-question", "Questions about studying, careers, books and the profession."),
    ("logarithms", "Questions about logarithms and their properties."),
    ("geometry", "Points, lines, shapes and their properties."),
    ("induction", "Proofs by mathematical induction."),
]


def _post_html(kind: str, pid: int, body: str, votes: int, user: tuple[int, str, int],
               when: datetime, tags: list[str], comments: list[str],
               accepted: bool = False) -> str:
    uid, uname, rep = user
    tag_html = ""
    if tags:
        tag_html = ('<div class="post-taglist"><ul class="js-post-tag-list-wrapper">' + "".join(
            f'<li><a href="/questions/tagged/{t}" class="post-tag" rel="tag">{t}</a></li>'
            for t in tags) + "</ul></div>")
    com = "".join(f'<li class="comment"><div class="comment-body"><span class="comment-copy">'
                  f"{_esc(c)}</span> &ndash; <a class=\"comment-user\" href=\"/users/"
                  f"{uid + 7}/x\">{_esc(_HANDLES[(uid + i) % len(_HANDLES)])}</a></div></li>"
                  for i, c in enumerate(comments))
    cls = "answer accepted-answer" if accepted else kind
    return (
        f'<div class="{cls}" id="{kind}-{pid}" data-{kind}id="{pid}">'
        f'<div class="votecell"><button class="js-vote-up-btn" aria-label="Up vote">&#9650;'
        f'</button><div class="js-vote-count" itemprop="upvoteCount" data-value="{votes}">'
        f'{votes}</div><button class="js-vote-down-btn" aria-label="Down vote">&#9660;</button>'
        + ('<div class="js-accepted-answer-indicator" title="accepted">&#10004;</div>'
           if accepted else "")
        + f'</div><div class="postcell"><div class="s-prose js-post-body" itemprop="text">\n'
        f"{body}\n</div>{tag_html}"
        f'<div class="post-signature"><div class="user-info"><div class="user-action-time">'
        f'{"asked" if kind == "question" else "answered"} <span title="{when.isoformat()}Z">'
        f"{_nice_date(when)} at {when:%H:%M}</span></div><div class=\"user-details\"><a href=\""
        f'/users/{uid}/{_slug(uname)}">{_esc(uname)}</a><div class="-flair"><span class='
        f'"reputation-score">{_thousands(rep)}</span></div></div></div></div></div>'
        f'<div class="comments js-comments-container"><ul class="comments-list">{com}</ul>'
        '<a class="js-add-link comments-link" href="#">Add a comment</a></div></div>\n'
    )


_QUOTE_LEADS = {
    "bench-001": ("I found this in my son's homework and we disagree about the answer:",
                  r"He says $138$ because Tuesday is $14 + 9 = 23$ boxes and $23 \cdot 6 = 138$. "
                  r"I think that ignores Monday. Who is right?",
                  r"You are. Tuesday's sales are $14 + 9 = 23$ boxes, so the two days together "
                  r"are $14 + 23 = 37$ boxes. Each box holds $6$ muffins, so the total is "
                  r"$$37 \times 6 = 222$$ muffins. Your son computed Tuesday alone: "
                  r"$23 \cdot 6 = 138$ is only the second day. A quick check is to count "
                  r"Monday separately: $14 \cdot 6 = 84$, and $84 + 138 = 222$."),
    "bench-010": ("This is from a contest practice sheet:",
                  r"I combined the logarithms to get $(x+4)(x-4) = 9$, so $x^2 = 25$. But then "
                  r"both $5$ and $-5$ seem to be solutions. Which one is right, or are both?",
                  r"Only $x = 5$. The original equation needs $x + 4 > 0$ and $x - 4 > 0$, i.e. "
                  r"$x > 4$. On that set $\log_3(x+4) + \log_3(x-4) = \log_3(x^2 - 16)$, so "
                  r"$x^2 - 16 = 3^2 = 9$ and $x^2 = 25$. The root $x = -5$ makes both "
                  r"arguments negative, so it is extraneous: it solves $\log_3(x^2 - 16) = 2$ "
                  r"but not the equation you started with. Check: $\log_3 9 + \log_3 1 = "
                  r"2 + 0 = 2$."),
}


def _build_forum(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("mathforum.example.org", "Mathematics Forum", "Questions and answers for people "
                "studying math at any level", [("Questions", "/questions"), ("Tags", "/tags"),
                ("Users", "/users"), ("About", "/about")], "nginx/1.18.0", "forum", "#0a74c9")
    users = []
    used_ids: set[int] = set()
    for h in _HANDLES:
        uid = rng.randint(1000, 999999)
        while uid in used_ids:
            uid += 1
        used_ids.add(uid)
        users.append((uid, h, rng.randint(11, 98000)))
    drafts: list[Draft] = []
    questions: list[tuple[str, str, tuple]] = []
    quote_at = {5: "bench-001", 17: "bench-010"}
    qids: set[int] = set()
    for i in range(40):
        doc = _math_doc(rng, i)
        qid = rng.randint(1_000_000, 4_900_000)
        while qid in qids:
            qid += 1
        qids.add(qid)
        bench = quote_at.get(i)
        r = MathRenderer("math_container", rng.choice(["span", "span", "div"]))
        asker = rng.choice(users)
        asked = _date(rng, 2014, 2023)
        if bench:
            lead, tail, solution = _QUOTE_LEADS[bench]
            qkind = "rawquote" if "$" not in _BENCH[bench] else "quote"
            qblocks = [("p", lead), (qkind, _BENCH[bench]), ("p", tail)]
            ablocks: list[list[Block]] = [_p(solution)]
            title = ("Which solution of this log equation is valid?" if bench == "bench-010"
                     else "Who is right about this word problem?")
            tags = ["algebra-precalculus"] + (["logarithms"] if bench == "bench-010" else [])
        else:
            qblocks = list(doc.question)
            if rng.random() < 0.5:
                qblocks.append(("p", rng.choice([
                    "Any hints would be appreciated. This is not graded, I am studying on my own.",
                    "I am self-studying from an old textbook that has no solutions.",
                    "Sorry if this is a basic question, it has been years since I took a math "
                    "class.", "Edit: fixed a typo in the statement."])))
            ablocks = [list(doc.answer)]
            if rng.random() < 0.55:
                extra = doc.remark or doc.intro
                lead = rng.choice(["Some background that may help:", "To add to the other answer:",
                                   "A slightly different way to see it."])
                ablocks.append([("p", lead), *extra])
            title = doc.ask
            tags = doc.tags
        qblocks = _vary_blocks(qblocks, rng)
        ablocks = [_vary_blocks(ab, rng) for ab in ablocks]
        path = f"/questions/{qid}/{_slug(title)}"
        body = (f'<div id="question-header"><h1 itemprop="name" class="fs-headline1">'
                f'<a href="{path}" class="question-hyperlink">{_esc(title)}</a></h1></div>\n'
                f'<div class="question-stats">Asked <time datetime="{asked.isoformat()}">'
                f"{_nice_date(asked)}</time> &middot; Viewed {_thousands(rng.randint(40, 90000))}"
                " times</div>\n")
        qhtml = _render_blocks(qblocks, r)
        body += _post_html("question", qid, qhtml, rng.randint(-1, 60), asker, asked, tags,
                           rng.sample(_COMMENTS, rng.randint(0, 2)))
        body += (f'<div id="answers"><div id="answers-header"><h2 class="mb0">{len(ablocks)} '
                 f'Answer{"s" if len(ablocks) > 1 else ""}</h2><div>Sorted by: <select><option>'
                 "Highest score (default)</option><option>Date modified</option></select></div>"
                 "</div>\n")
        all_blocks = list(qblocks)
        for j, ab in enumerate(ablocks):
            ahtml = _render_blocks(ab, r)
            body += _post_html("answer", qid + 17 + j, ahtml, rng.randint(0, 80),
                               rng.choice(users), asked + timedelta(hours=rng.randint(1, 400)),
                               [], rng.sample(_COMMENTS, rng.randint(0, 1)), accepted=j == 0)
            all_blocks += [("h2", "Answer"), *ab]
        body += ('</div>\n<h2 class="bottom-notice">Not the answer you\'re looking for? Browse '
                 'other questions tagged ' + " ".join(f'<a class="post-tag" href="/questions/'
                                                      f'tagged/{t}">{t}</a>' for t in tags)
                 + ' or <a href="/questions/ask">ask your own question</a>.</h2>\n')
        d = Draft(path, title, body, True, "math_container", r.formulas, blocks=all_blocks,
                  style=r.style, quotes_benchmark=bench, full=True)
        drafts.append(d)
        questions.append((title, path, asker))
    for uid, uname, rep in users:
        mine = [(t, p) for t, p, a in questions if a[0] == uid][:5] or rng.sample(
            [(t, p) for t, p, _ in questions], 2)
        tops = rng.sample(_FORUM_TAGS[:11], 4)
        since = rng.randint(1, 11)
        main = (
            f'<div id="user-card" class="profile"><div class="avatar"><img src="https://'
            f'avatars.example.com/{uid}?s=128" alt="" width="128" height="128"></div>'
            f'<div class="details"><div class="location">{_esc(rng.choice(_TOWNS))}</div>'
            f"<ul class=\"stats\"><li><b>{_thousands(rep)}</b> reputation</li><li><b>"
            f"{rng.randint(0, 900)}</b> answers</li><li><b>{rng.randint(0, 90)}</b> questions"
            f"</li><li>reached {_thousands(rng.randint(1000, 900000))} people</li></ul>"
            f"<p>Member for {since} year{'s' if since > 1 else ''}, {rng.randint(1, 11)} months"
            f"</p><p>Last seen {rng.choice(['this week', 'today', 'more than a month ago'])}"
            "</p></div></div>\n"
            f'<div class="about-me"><h2>About</h2><p>{_esc(rng.choice(_BIOS))}</p></div>\n'
            '<div class="top-tags"><h2>Top tags</h2><ul>' + "".join(
                f'<li><a class="post-tag" href="/questions/tagged/{t}">{t}</a> Score '
                f"{rng.randint(5, 900)} &middot; Posts {rng.randint(3, 300)}</li>"
                for t, _ in tops) + "</ul></div>\n"
            '<div class="top-posts"><h2>Top posts</h2><ul>' + "".join(
                f'<li><a href="{p}">{_esc(t)}</a></li>' for t, p in mine) + "</ul></div>\n"
            f'<div class="badges"><h2>Badges</h2><p>{rng.randint(0, 9)} gold &middot; '
            f"{rng.randint(0, 60)} silver &middot; {rng.randint(1, 140)} bronze</p></div>"
        )
        drafts.append(Draft(f"/users/{uid}/{_slug(uname)}", f"User {uname}", main, False,
                            "none", []))
    for page in (1, 2):
        tags = _FORUM_TAGS[:8] if page == 1 else _FORUM_TAGS[8:]
        main = ("<p>A tag is a keyword or label that categorizes your question with other, "
                "similar questions. Using the right tags makes it easier for others to find "
                "and answer your question.</p><div id=\"tags-browser\">" + "".join(
                    f'<div class="s-card"><a class="post-tag" href="/questions/tagged/{t}">{t}'
                    f'</a><p>{_esc(desc)}</p><div>{_thousands(rng.randint(900, 190000))} '
                    f"questions &middot; {rng.randint(1, 90)} asked today</div></div>"
                    for t, desc in tags) + f'</div><div class="pager">Page {page} of 2 '
                '<a href="/tags?page=2">Next</a></div>')
        drafts.append(Draft("/tags" if page == 1 else "/tags?page=2", "Tags", main, False,
                            "none", []))
    help_blocks: list[Block] = _p(
        "We would love to help you. To improve your chances of getting an answer, here are "
        "some tips.",
        "Search, and research. Have you thoroughly searched for an answer before asking your "
        "question? Sharing your research helps everyone. Tell us what you found and why it "
        "did not meet your needs.",
        "Write a title that summarizes the specific problem. The title is the first thing "
        "potential answerers will see, and if your title is not interesting, they will not "
        "read the rest.",
        "Introduce the problem before you post any formulas. Explain how you encountered the "
        "problem you are trying to solve, and any difficulties that have prevented you from "
        "solving it yourself.",
        "Proof-read before posting! Now that you are ready to ask, take a deep breath and "
        "read through it from start to finish. Pretend you are seeing it for the first time.",
        "Post the question and respond to feedback. After you post, leave the question open "
        "in your browser for a bit, and see if anyone comments. If you missed an obvious "
        "piece of information, be ready to respond by editing your question.",
    )
    drafts.append(_vdraft(rng, "/help/how-to-ask", "How do I ask a good question?", help_blocks,
                         "none", is_math=False))
    about = _p(
        "Mathematics Forum is a question and answer site for people studying math at any "
        "level and professionals in related fields. It is built and run by you as part of "
        "a network of Q&A communities.",
        "With your help, we are working together to build a library of detailed answers to "
        "every question about mathematics. We are a little bit different from other sites: "
        "there is no chit-chat, just questions and answers, and the best answers are voted "
        "up and rise to the top.",
        "You earn reputation when people vote on your posts. At 15 reputation you can vote "
        "up, at 50 you can comment everywhere, and at 2,000 you can edit other people's posts.",
    )
    drafts.append(_vdraft(rng, "/about", "About Mathematics Forum", about, "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_LECTURE_TOPICS = ["integral", "derivative", "limit", "geometric", "taylor", "byparts",
                   "partfrac", "mvt", "epsdelta", "decay", "arith", "amgm", "logeq"]


def _gen_by_topic(topic: str) -> Callable[[Rng], MathDoc]:
    return next(g for g in _GENERATORS if g.__name__ == "_g_" + topic)


_MATHJAX2_HEAD = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: '
    "[['$','$'], ['\\\\(','\\\\)']], processEscapes: true}, \"HTML-CSS\": {linebreaks: "
    '{automatic: true}}});</script>\n<script type="text/javascript" async src="https://cdn.'
    'example.net/mathjax/2.7.7/MathJax.js?config=TeX-AMS-MML_HTMLorMML"></script>\n'
)
_MATHJAX3_HEAD = (
    "<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']]}, svg: "
    "{fontCache: 'global'}};</script>\n<script id=\"MathJax-script\" async src=\"https://cdn."
    'example.net/npm/mathjax@3/es5/tex-chtml.js"></script>\n'
)
_KATEX_HEAD = ('<link rel="stylesheet" href="https://cdn.example.net/npm/katex@0.16.9/dist/'
               'katex.min.css" crossorigin="anonymous">\n')


def _build_course(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("calc-notes.example.edu", "MATH 1310: Calculus I", "Course notes, Department "
                "of Mathematics", [("Lectures", "/lectures/"), ("Syllabus", "/syllabus"),
                ("Staff", "/staff"), ("News", "/news/"), ("About", "/about")],
                "Apache/2.4.41 (Ubuntu)", "modern", "#8a1538", cookie=False)
    drafts: list[Draft] = []
    names = ["Limits and continuity", "The derivative", "Differentiation rules",
             "The chain rule", "Applications of the derivative", "The mean value theorem",
             "Optimisation", "Exponential growth and decay", "Riemann sums",
             "The definite integral", "The fundamental theorem", "Integration by parts",
             "Partial fractions", "Sequences", "Series and convergence", "Taylor polynomials",
             "Rigorous limits", "Logarithms revisited", "Arithmetic and geometric sums",
             "Inequalities", "Review for the midterm", "Review for the final"]
    prof = "Prof. " + rng.choice(_LAST)
    for i, name in enumerate(names):
        topics = rng.sample(_LECTURE_TOPICS, 2)
        docs = [_gen_by_topic(t)(rng) for t in topics]
        blocks: list[Block] = [("p", rng.choice([
            f"These notes accompany lecture {i + 1}. They are not a substitute for the "
            "textbook, but they contain every definition and example from the board.",
            "Reading for this lecture: sections of chapter " + str(2 + i // 3) + " in the "
            "textbook. Please read them before class.",
        ]))]
        blocks += [("h2", docs[0].title), *docs[0].intro]
        for k, d in enumerate(docs):
            if k:
                blocks += [("h2", d.title), *d.intro]
            blocks += [("h3", f"Example {i + 1}.{k + 1}"), *d.question]
            blocks += [("h3", "Solution"), *d.answer]
        ex = _gen_by_topic(rng.choice(_LECTURE_TOPICS))(rng)
        blocks += [("h2", "Exercises"), ("ol", [b[1] for b in ex.question if b[0] == "p"]
                                         + ["Redo the examples above with different numbers "
                                            "and check your answers with a computer algebra "
                                            "system."])]
        slug = f"{i + 1:02d}-{_slug(name)}"
        style = "bare" if i % 4 == 3 else ""
        drafts.append(_vdraft(rng, f"/lectures/{slug}.html", f"Lecture {i + 1}: {name}", blocks,
                             "mathjax_script", style, head_extra=_MATHJAX2_HEAD,
                             meta_line=f"{prof} &middot; Fall 2024"))
    info = {
        "/about": ("About this course", [
            "MATH 1310 is a first course in differential and integral calculus for students in "
            "science and engineering. It meets three times a week in Hall B, with weekly "
            "recitation sections led by graduate teaching assistants.",
            "The course website is maintained by the teaching staff. If you find a broken link "
            "or a typo, please email the course account and we will fix it as soon as possible.",
            "Accessibility: if you need accommodations, contact the disability resources office "
            "in the first two weeks of term so that arrangements can be made in time for the "
            "first quiz.",
        ]),
        "/syllabus": ("Syllabus and policies", [
            "Grading: homework 20 percent, quizzes 15 percent, two midterms 20 percent each, "
            "final exam 25 percent. The lowest quiz score is dropped.",
            "Late homework is accepted up to 48 hours after the deadline with a 10 percent "
            "penalty. Extensions are granted for documented illness or family emergencies.",
            "Academic integrity: you may discuss homework with classmates, but you must write "
            "up your own solutions and list the people you worked with. Copying from online "
            "solution sites is a violation of the honour code.",
            "Office hours are listed on the staff page. The tutoring centre in the library "
            "basement is open Monday to Thursday from 4 to 9 p.m.",
        ]),
        "/staff": ("Course staff", [
            f"Instructor: {prof}. Office: Science Building 412. Office hours: Tuesday 2-4 p.m. "
            "and by appointment.",
            f"Teaching assistants: {_person(rng)}, {_person(rng)} and {_person(rng)}. "
            "Recitation sections meet on Thursdays; check the registrar for rooms.",
            "Please use the course forum for questions about homework so that everyone can "
            "benefit from the answers. Email is for private matters only.",
        ]),
        "/calendar": ("Course calendar", [
            "Week 1: introduction and review. Week 2: first quiz on Friday. Week 6: first "
            "midterm, in class. Week 8: fall break, no classes. Week 11: second midterm.",
            "The final exam is scheduled by the registrar and will be announced in week 10. "
            "Do not book travel before the exam schedule is published.",
        ]),
    }
    for path, (title, paras) in info.items():
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    news = [
        ("Office hours moved this week", "Because of the faculty meeting, Tuesday office hours "
         "move to Wednesday from 1 to 3 p.m. in the same room. Recitations are not affected."),
        ("Welcome to the new semester", "Welcome! Please make sure you are registered for a "
         "recitation section and that you can log into the homework system. The first "
         "assignment is due next Friday at midnight."),
        ("Midterm room change", "The first midterm will take place in the Lecture Hall in the "
         "Engineering building instead of our usual room. Bring your student ID and a pencil; "
         "calculators are not allowed."),
        ("Campus closed on Monday due to snow", "The university has announced that campus will "
         "be closed on Monday. The homework deadline is extended by two days and Monday's "
         "lecture will be recorded and posted online."),
        ("We are hiring graders", "The department is looking for undergraduate graders for next "
         "term. Applicants should have earned an A in this course. Pay is $16 per hour for "
         "about 6 hours a week. Apply through the student jobs portal."),
        ("Mid-semester feedback survey", "Please fill out the anonymous feedback survey by "
         "Sunday. It takes about five minutes and really does change how the course is run."),
    ]
    for title, text in news:
        when = _date(rng, 2023, 2024)
        drafts.append(_vdraft(rng, f"/news/{when:%Y-%m-%d}-{_slug(title)}", title,
                             _p(text, "Posted by the course staff. Questions? Use the course "
                                "forum or come to office hours."), "none", is_math=False,
                             meta_line=_nice_date(when)))
    return _finish(site, drafts, rng), drafts, site


def _build_wiki(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("proofwiki.example.org", "ProofWiki", "The online compendium of mathematical "
                "proofs", [("Main page", "/wiki/Main_Page")], "Apache", "wiki", "#3366cc",
                cookie=False)
    drafts: list[Draft] = []
    for name, text in _THEOREMS + _DEFINITIONS:
        is_def = any(name == n for n, _ in _DEFINITIONS)
        blocks = _doc_blocks(text)
        blocks.append(("h2", "Sources"))
        book = rng.choice(["Elements of Analysis", "A First Course in Algebra",
                           "Number Theory for Beginners", "Calculus (3rd ed.)"])
        blocks.append(("ul", [f"{rng.randint(1965, 2015)}: {_person(rng)}: {book} ... (previous) "
                              f"... (next): Chapter {rng.randint(1, 12)}"]))
        path = "/wiki/" + ("Definition:" if is_def else "") + name.replace(" ", "_")
        drafts.append(_vdraft(rng, path, ("Definition:" if is_def else "") + name, blocks, "mathml"))
    chrome = [
        ("/wiki/Help:Contents", "Help:Contents", [
            "This page is the starting point for help on using ProofWiki. If you are new, "
            "read the introduction for new users first.",
            "Editing: any registered user can edit pages. Please preview your changes before "
            "saving, and add a short summary so that other editors know what you changed.",
            "House style: every proof page should have a statement section, a proof section "
            "and a sources section. Use the templates provided rather than formatting by hand.",
        ]),
        ("/wiki/Special:RecentChanges", "Recent changes", [
            "Track the most recent changes to the wiki on this page. Showing the last 50 "
            "changes in the last 7 days.",
            "14:02 Definition:Group (diff | hist) . . (+31) . . Editor41 (Talk | contribs) "
            "(fixed link)",
            "13:47 User talk:Prime.mover (diff | hist) . . (+512) . . Newbie2024 (thanks for "
            "the welcome)",
            "11:20 Category:Proven Results (diff | hist) . . (0) . . Bot (Talk | contribs) "
            "(maintenance)",
        ]),
        ("/wiki/ProofWiki:About", "ProofWiki:About", [
            "ProofWiki is an online compendium of mathematical proofs, run by volunteers since "
            "2008. Its goal is the collection, collaboration and classification of proofs.",
            "The site is funded entirely by donations and hosted on a single server in a "
            "university data centre. We do not show advertisements.",
        ]),
        ("/wiki/ProofWiki:Community_Portal", "ProofWiki:Community portal", [
            "Welcome to the community portal. This is the place to discuss the running of the "
            "site, propose new policies and coordinate maintenance work.",
            "Current drives: tidying up the Sources sections, and adding categories to pages "
            "that are missing them. Volunteers are always welcome.",
        ]),
        ("/wiki/User:Editor41", "User:Editor41", [
            "Hello, I am a retired schoolteacher from Yorkshire. I mostly fix links and "
            "categories, and occasionally typos. I also enjoy gardening and brass band music.",
            "Feel free to leave a message on my talk page.",
        ]),
        ("/wiki/Main_Page", "Main Page", [
            "Welcome to ProofWiki. Since 2008 we have been building the internet's largest "
            "collection of proofs. Browse by category, or use the search box at the top.",
            "Featured: this month's featured page was chosen by the community. Previous "
            "featured pages are listed in the archive.",
            "News: the server will be briefly unavailable on Saturday night for maintenance.",
        ]),
    ]
    for path, title, paras in chrome:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_ENTRY_NAMES = {"quadratic": "Quadratic Equation", "integral": "Definite Integral",
                "derivative": "Chain Rule", "limit": "Limit", "geometric": "Geometric Series",
                "linsys": "Cramer's Rule", "eigen": "Eigenvalue", "binomial":
                "Binomial Distribution", "euclid": "Euclidean Algorithm", "taylor":
                "Taylor Series", "cosines": "Law of Cosines", "complex": "Complex Number",
                "logeq": "Logarithm", "combinatorics": "Binomial Coefficient", "vectors":
                "Dot Product", "modpow": "Fermat's Little Theorem"}


def _build_encyclopedia(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("mathref.example.org", "MathRef Encyclopedia", "A free reference for "
                "mathematical concepts", [("Browse", "/entries/"), ("Random", "/random"),
                ("About", "/about"), ("Donate", "/donate")], "cloudflare", "modern", "#2f6f4f")
    drafts: list[Draft] = []
    topics = list(_ENTRY_NAMES)
    rng.shuffle(topics)
    for t in topics[:12]:
        doc = _gen_by_topic(t)(rng)
        name = _ENTRY_NAMES[t]
        blocks = [*doc.intro, ("h2", "Example"), *doc.question, ("h2", "Solution"), *doc.answer,
                  ("h2", "See also"), ("ul", rng.sample(list(_ENTRY_NAMES.values()), 3))]
        drafts.append(_vdraft(rng, f"/entries/{name.replace(' ', '').replace(chr(39), '')}.html",
                             name, blocks, "mathml_alttext",
                             meta_line=f"Contributed by {_person(rng)}"))
    for path, title, paras in [
        ("/about", "About MathRef", [
            "MathRef is a volunteer project that began as a set of lecture handouts and grew "
            "into a free online reference with thousands of entries.",
            "Entries are written and reviewed by teachers and students from around the world. "
            "We welcome corrections; use the feedback link at the bottom of every page."]),
        ("/contributors", "Contributors", [
            "More than 300 people have contributed to MathRef. We are grateful to all of them, "
            "and especially to the reviewers who check every new entry.",
            "Want to help? We need writers, reviewers, illustrators and translators. No "
            "experience with web publishing is necessary."]),
        ("/donate", "Support MathRef", [
            "MathRef is free and has no advertising. Running the servers costs about $400 a "
            "month. A donation of $5 covers the hosting of about a thousand page views.",
            "Donations are tax-deductible in some countries. Monthly donors get a thank-you "
            "note and their name on the supporters page, if they wish."]),
    ]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_ALLOTMENT = [
    "The broad beans are finally up, a good three weeks later than last year. The slugs had "
    "a go at the first sowing, so I have put copper tape around the raised bed and crossed my "
    "fingers.",
    "Spent most of Saturday digging out couch grass from the far corner. It is back-breaking "
    "work but the soil underneath is lovely and dark after two winters of mulching.",
    "The neighbour on plot 14 gave me a bag of rhubarb crowns, which went in next to the "
    "compost bins. Rhubarb crumble in two years' time, if all goes to plan.",
    "Rain, rain and more rain. The shed roof held up, the water butts are full and the "
    "potatoes seem happy. The tomatoes in the greenhouse are sulking, though.",
    "Harvested the first courgettes today, and as always it is the start of a glut. If you "
    "live nearby and want some, leave a note on the gate.",
    "Frost on the leeks this morning and a robin following me up and down the paths, waiting "
    "for worms every time I turned a spade of soil.",
    "The committee has finally agreed to fix the water trough by the top gate, after only "
    "three years of letters. Progress moves at allotment speed.",
    "Onion sets in, garlic cloves in, and a row of early carrots under fleece. The pigeons "
    "are watching, so the netting goes on tomorrow.",
    "Lifted the last of the main-crop potatoes: two full sacks, barely any slug damage, and "
    "one potato shaped exactly like a duck, which my daughter has adopted.",
    "A quiet visit to sit in the sun with a flask of tea. Sometimes the best job on the plot "
    "is admiring everybody else's sweet peas.",
    "Built a new cold frame out of an old window a neighbour was throwing away. It is not "
    "pretty, but the lettuce seedlings do not seem to mind.",
    "The blackcurrants were heavier than ever this year. Jam session this weekend: sixteen "
    "jars, two burnt fingers and a kitchen that smells wonderful.",
]
_BOOKS = [
    ("The Salt Path", [
        "I finally read The Salt Path, the memoir of a couple who lose their home and decide to "
        "walk the South West Coast Path with almost no money.",
        "It is a hard book in places, but never self-pitying, and the descriptions of wild "
        "camping on the cliffs made me want to pack a rucksack immediately.",
        "Four stars. I would have liked a little more about the people they met along the way."]),
    ("Piranesi", [
        "Piranesi is the strangest novel I have read in years: a man lives alone in an endless "
        "house of statues, tides and staircases, and keeps meticulous notebooks.",
        "Saying more would spoil it. It starts slowly and then clicks into place with a "
        "wonderful shiver halfway through.",
        "Five stars, and I have already pressed my copy on two colleagues."]),
    ("The Remains of the Day", [
        "Rereading The Remains of the Day after twenty years, I noticed how funny it is, in a "
        "very quiet, very English way.",
        "The butler's refusal to say what he feels is almost unbearable by the end. Every "
        "polite sentence hides something he cannot admit.",
        "A masterpiece, and short enough to read in a weekend."]),
    ("A Month in the Country", [
        "A Month in the Country is barely a hundred pages long: a war veteran spends a summer "
        "uncovering a medieval mural in a Yorkshire church.",
        "Nothing much happens, and yet it is one of the most moving books I know. It is about "
        "healing, and about how short a perfect summer is.",
        "Read it in August, ideally outdoors."]),
]

_BLOG_MATH_LEADS = [
    "Here is this week's puzzle, which came up in a Year 12 lesson and caused a lively "
    "argument. I have written up the solution the way I would explain it on the board.",
    "A student asked me about this after school on Thursday, and I thought it deserved a "
    "proper write-up. Have a go yourself before reading the solution.",
    "Back to maths after the half-term break. This one is a favourite of mine because it "
    "rewards careful thinking rather than memorised tricks.",
    "Several readers have emailed about problems like this one, so here is a full worked "
    "solution with the reasoning behind each step.",
]


def _build_blog(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("blog.example.co.uk", "Mr Hartley Explains", "Maths, allotments and the "
                "occasional walk, from a teacher in Yorkshire", [("Home", "/"), ("Maths",
                "/category/maths/"), ("Allotment", "/category/allotment/"), ("Books",
                "/category/books/"), ("About", "/about/")], "nginx", "modern", "#c0392b")
    drafts: list[Draft] = []
    for i in range(12):
        when = _date(rng, 2016, 2024)
        if i == 4:  # quotes a benchmark word problem word for word
            blocks: list[Block] = [
                ("p", "A parent emailed me this one from a Year 6 worksheet, saying the answer "
                      "in the back of the book looked wrong. Here it is exactly as printed:"),
                ("rawquote", _BENCH["bench-003"]),
                ("p", r"The key is to find the cost per student first: $18 + 7 = 25$ pounds... "
                      r"sorry, dollars, since the worksheet is American. For $32$ students the "
                      r"trip costs $25 \times 32 = 800$ in total."),
                ("p", r"The school pays $200$ of that, so the families pay $800 - 200 = 600$. "
                      r"The book was right after all: the common mistake is to subtract the "
                      r"school's share from the per-student cost, giving $25 - 200$, which "
                      r"makes no sense."),
                ("p", "I like this problem because it rewards reading carefully: the numbers "
                      "are easy, but the order of operations is the whole point."),
            ]
            title, bench = "Reading the question carefully: a Year 6 money problem", "bench-003"
        else:
            doc = _math_doc(rng, i + 7)
            blocks = [("p", rng.choice(_BLOG_MATH_LEADS)), *doc.question, ("h2", "Solution"),
                      *doc.answer, *doc.remark,
                      ("p", "As always, comments and alternative solutions are welcome below.")]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, blocks, "latex_img",
                             "wp", quotes_benchmark=bench,
                             meta_line=f"Posted on {_nice_date(when)} by Tom Hartley"))
    allot = rng.sample(_ALLOTMENT, len(_ALLOTMENT))
    for n in range(4):
        when = _date(rng, 2018, 2024)
        paras = allot[3 * n:3 * n + 3]
        job = rng.choice(["net the brassicas", "turn the compost", "sow more lettuce",
                          "fix the gate"])
        blocks = _p(*paras, f"Jobs for next week: {job}, and finally sort out the shed. "
                    "Weather permitting, of course.")
        title = f"Allotment diary, {_MONTHS[when.month - 1]} {when.year}"
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, blocks, "none",
                             is_math=False, meta_line=f"Posted on {_nice_date(when)}"))
    for _ in range(2):
        t, blocks = _travel_post(rng)
        when = _date(rng, 2018, 2024)
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(t)}/", t, blocks, "none", is_math=False,
                             meta_line=f"Posted on {_nice_date(when)}"))
    for book, paras in _BOOKS:
        when = _date(rng, 2018, 2024)
        title = f"Book review: {book}"
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, _p(*paras), "none",
                             is_math=False, meta_line=f"Posted on {_nice_date(when)}"))
    return _finish(site, drafts, rng), drafts, site


_NOTES_LEADS = [
    "I keep getting this kind of problem wrong after a few months away from it, so here is a "
    "worked example for future me.",
    "A colleague asked me about this over lunch. Writing it down properly took longer than "
    "I expected, which usually means I did not understand it as well as I thought.",
    "Short note today. This came up while helping with homework, and the textbook explanation "
    "skipped the one step that actually matters.",
    "Another entry in the series of things I relearn every year. The numbers are made up, the "
    "method is not.",
    "I found this in an old notebook from university, tidied it up and checked every step "
    "again. Corrections welcome by email.",
    "This is the example I wish someone had shown me the first time round.",
]


def _build_notes(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("notes.example.io", "Lin's notes", "Mostly mathematics, written down so I "
                "do not forget it", [("Posts", "/posts/"), ("About", "/about/"), ("Now",
                "/now/")], "Netlify", "modern", "#6b4fbb", cookie=False)
    drafts: list[Draft] = []
    for i in range(15):
        when = _date(rng, 2020, 2024)
        if i == 6:
            blocks: list[Block] = [
                ("p", "My nephew brought this home from school last week and asked why the "
                      "percentage comes at the end. The problem, word for word:"),
                ("rawquote", _BENCH["bench-006"]),
                ("p", r"Weekly earnings are $15 \times 6 \times 5 = 450$ dollars, so four weeks "
                      r"bring in $4 \times 450 = 1800$. Saving $20\%$ of that gives "
                      r"$$0.2 \times 1800 = 360.$$"),
                ("p", r"It does not matter when you apply the percentage: $20\%$ of each week's "
                      r"pay is $90$, and $4 \times 90 = 360$ as well. Multiplication is "
                      r"associative and commutative, which is the real lesson here."),
            ]
            title, bench = "Percentages and the order of operations", "bench-006"
        else:
            doc = _math_doc(rng, i + 11)
            # a personal lead instead of the textbook intro the tutoring and reference sites use
            blocks = [("p", rng.choice(_NOTES_LEADS)), ("h2", "Problem"), *doc.question,
                      ("h2", "Solution"), *doc.answer, *doc.remark]
            if i % 3 == 0:
                blocks += [("h2", "Background"), *doc.intro]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/posts/{_slug(title)}-{i}/", title, blocks, "katex",
                             head_extra=_KATEX_HEAD, quotes_benchmark=bench,
                             meta_line=f"{_nice_date(when)} &middot; {rng.randint(3, 12)} min read"))
    for path, title, paras in [
        ("/about/", "About", [
            "Hi, I am Lin. I work as a data engineer and studied mathematics a long time ago. "
            "This site is where I write things down so that I do not have to relearn them.",
            "The site is built with a static site generator and hosted for free. There are no "
            "trackers and no comments; if you want to get in touch, email works best."]),
        ("/now/", "What I am doing now", [
            "Living in Rotterdam, cycling to work every day regardless of the weather. Reading "
            "a lot of science fiction and trying to learn Dutch properly this time.",
            "Work is busy: we are migrating everything to a new data platform. Outside work I "
            "am training for a half marathon in October."]),
        ("/reading/", "Reading list", [
            "Books I have enjoyed recently, in no particular order: a history of the Dutch "
            "water boards, two Ursula K. Le Guin novels and a very good cookbook about "
            "fermentation.",
            "I keep a longer list in a notebook; this page is updated whenever I remember."]),
        ("/uses/", "Uses", [
            "Hardware: a six-year-old laptop that refuses to die, a mechanical keyboard and a "
            "secondhand monitor. Software: a plain text editor, a terminal and a lot of patience.",
            "Bike: a heavy Dutch city bike with a basket, which is the most useful thing I own."]),
    ]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_tutor(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("tutor.example.com", "Bright Tutoring", "One-to-one maths tutoring online "
                "and in person", [("Lessons", "/lessons/"), ("Worksheets", "/worksheets/"),
                ("Pricing", "/pricing"), ("Contact", "/contact")], "cloudflare", "modern",
                "#e67e22")
    drafts: list[Draft] = []
    for i in range(14):
        style = "dollar" if i % 2 == 0 else "paren"
        if i == 8:
            blocks: list[Block] = [
                ("p", r"Composition of functions means feeding the output of one function into "
                      r"another. If $g$ and $f$ are functions, $(f \circ g)(x) = f(g(x))$: "
                      r"first apply $g$, then apply $f$ to the result."),
                ("p", "Here is a typical exam question of this kind:"),
                ("quote", _BENCH["bench-008"]),
                ("p", r"Work from the inside out. First $f(1) = 3 \cdot 1^2 - 2 \cdot 1 + 1 = 2$. "
                      r"Then $f(f(1)) = f(2) = 3 \cdot 4 - 4 + 1 = 9$."),
                ("p", r"A common mistake is to compute $f(1) \cdot f(1) = 4$ instead. The "
                      r"notation $f(f(1))$ never means multiplication: it means evaluate $f$ at "
                      r"the number $f(1)$."),
                ("h2", "Practice"),
                ("ol", [r"Let $g(x) = x + 4$. Compute $g(g(g(0)))$.",
                        r"Let $h(x) = x^2 - 1$. Find all $x$ with $h(h(x)) = 0$."]),
            ]
            title, bench, style = "Composition of functions", "bench-008", "dollar"
        else:
            doc = _math_doc(rng, i + 3)
            more = _math_doc(rng)
            blocks = [*doc.intro, ("h2", "Worked example"), *doc.question, ("h2", "Solution"),
                      *doc.answer, ("h2", "Practice problems"),
                      ("ol", [b[1] for b in more.question if b[0] == "p"]),
                      ("p", "Stuck? Book a free 20-minute trial lesson with one of our tutors.")]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/lessons/{_slug(title)}", title, blocks, "mathjax_delims",
                             style, head_extra=_MATHJAX3_HEAD if i % 3 else _MATHJAX2_HEAD,
                             quotes_benchmark=bench))
    for i in range(3):  # plain-text (Unicode) math, no markup at all
        doc = _math_doc(rng, 17 + 2 * i)
        blocks = [("p", "Printable worksheet. Work through the example, then try the "
                        "questions at the end without looking at the solution."),
                  *doc.intro, ("h2", "Example"), *doc.question, ("h2", "Solution"), *doc.answer]
        drafts.append(_vdraft(rng, f"/worksheets/{_slug(doc.title)}-{i + 1}", "Worksheet: "
                             + doc.title, blocks, "none"))
    for path, title, paras in [
        ("/pricing", "Pricing", [
            "Single lesson (60 minutes): $45. Package of 10 lessons: $400, which saves you $50.",
            "New students get $5 off their first lesson with the code WELCOME5, and the first "
            "20-minute consultation is always free.",
            "Group sessions for two or three students cost $30 per student per hour. All prices "
            "include worksheets and a short written progress report every month.",
            "Cancellations less than 24 hours before a lesson are charged in full, except in "
            "case of illness."]),
        ("/contact", "Contact us", [
            "Call us on 555-0143 between 9 a.m. and 6 p.m., Monday to Friday, or use the form "
            "below and we will get back to you within one working day.",
            "Our office is on the second floor of the old post office building, above the "
            "bookshop. Parking is available behind the building."]),
        ("/testimonials", "What parents say", [
            "\"Our daughter went from dreading maths to actually enjoying it. Her tutor is "
            "patient and kind, and her grades improved within a term.\" - Sarah, parent",
            "\"Flexible scheduling made all the difference with two working parents.\" - Mark",
            "\"Professional, friendly and reliable. Highly recommended.\" - Amina"]),
        ("/faq", "Frequently asked questions", [
            "Do you offer online lessons? Yes, all our tutors teach online as well as in "
            "person. You only need a laptop and a reasonable internet connection.",
            "Who are the tutors? All tutors have a university degree and a background check. "
            "Most are qualified teachers or postgraduate students.",
            "Can I change tutors? Of course. Just let us know and we will arrange it."]),
        ("/blog/summer-schedule", "Our summer schedule", [
            "During the summer holidays we run a reduced timetable from mid-July to the end of "
            "August. Morning slots fill up quickly, so book early.",
            "The office will be closed for two weeks in August. Emails will be answered when we "
            "return. Have a lovely summer!"]),
    ]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_oldmath(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("www.math.example.edu", "Dr. K. Hartmann, Department of Mathematics", "",
                [], "Apache/1.3.41 (Unix)", "legacy", "#0000cc", scheme="http", cookie=False)
    drafts: list[Draft] = []
    styles = ["mimetex", "codecogs", "texclass"]
    for i in range(12):
        doc = _math_doc(rng, i + 5)
        # exercise-sheet style: no theory section, so the notes differ from the other sites
        blocks = [("p", f"Exercise sheet {i // 3 + 1}, problem {i % 3 + 1}. Solutions are "
                        "discussed in the tutorial; try the problem before reading on."),
                  ("h3", "Problem"), *doc.question, ("h3", "Solution"), *doc.answer]
        if i < 10:
            drafts.append(_vdraft(rng, f"/~hartmann/notes/{doc.topic}{i + 1}.html", doc.title, blocks,
                                 "latex_img", styles[i % 3]))
        else:  # ASCII/Unicode math typed straight into the page
            drafts.append(_vdraft(rng, f"/~hartmann/notes/{doc.topic}{i + 1}.html", doc.title, blocks,
                                 "none"))
    drafts.append(_vdraft(rng, "/~hartmann/", "Dr. Klaus Hartmann", _p(
        "Welcome to my home page. I am a lecturer in the Department of Mathematics. My office "
        "is room 3.17 in the old building; office hours are Wednesdays from 10 to 12.",
        "Secretary: Mrs. B. Vogel, room 3.01, telephone extension 2231.",
        "Please note that this page is no longer updated regularly. Current course information "
        "is on the department learning platform."), "none", is_math=False))
    drafts.append(_vdraft(rng, "/~hartmann/teaching.html", "Teaching", _p(
        "Winter term: Analysis I (lecture, 4 hours per week), Proseminar. Summer term: "
        "Analysis II, Seminar on the history of mathematics.",
        "Exam registration closes two weeks before the exam. Registration is only possible "
        "through the examination office, not by email to me.",
        "Old exams are available in the student council room, not online."), "none",
        is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_news(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("www.dailynews.example.com", "The Daily Courier", "Local news since 1887",
                [("Local", "/sections/local"), ("Business", "/sections/business"),
                 ("Sports", "/sections/sports"), ("Weather", "/weather"),
                 ("Opinion", "/sections/opinion")], "nginx", "news", "#b00020")
    drafts: list[Draft] = []
    for topic in _NEWS_TOPICS[:17]:  # one article per topic: templated siblings would be near-dups
        head, blocks, _key = _news_article(rng, topic)
        when = _date(rng, 2022, 2024)
        author = _person(rng)
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(head)}", head, blocks, "none",
                             is_math=False, meta_line=f"By {author} &middot; "
                             f"{_nice_date(when)} &middot; {rng.randint(2, 6)} min read"))
    for k, sec in enumerate(("local", "business")):
        main = (f"<p>The latest {sec} news from around the region.</p>"
                + _teasers(drafts[k:17:2])
                + f"<p><a href=\"/sections/{sec}?page=2\">Older stories</a></p>")
        drafts.append(Draft(f"/sections/{sec}", sec.title() + " news", main, False, "none", []))
    return _finish(site, drafts, rng), drafts, site


def _teasers(drafts: list[Draft]) -> str:
    """River of headlines with the opening words of each story, as index pages show them."""
    out = []
    for d in drafts:
        first = next((b[1] for b in d.blocks if b[0] == "p"), "")
        words = first.split()
        teaser = " ".join(words[:28]) + (" ..." if len(words) > 28 else "")
        out.append(f'<article class="teaser"><h3><a href="{_attr(d.path)}">{_esc(d.title)}</a>'
                   f"</h3><p>{_esc(teaser)}</p></article>")
    return '<div class="river">' + "".join(out) + "</div>"


def _simple_site(rng: Rng, site: Site, items: list[tuple[str, str, list[Block]]]) -> list[Page]:
    drafts = [_vdraft(rng, path, title, blocks, "none", is_math=False,
                     meta_line=f"By {_person(rng)} &middot; {_nice_date(_date(rng, 2021, 2024))}")
              for path, title, blocks in items]
    return _finish(site, drafts, rng)


_FRENCH_PAGE = """<!DOCTYPE html>
<html lang="fr">
<head>
<title>Crème brûlée à la vanille – Recettes de Mamie Françoise</title>
<link rel="stylesheet" href="/css/style.css">
</head>
<body>
<div id="entete"><a href="/">Recettes de Mamie Françoise</a>
<ul class="menu"><li><a href="/entrees/">Entrées</a></li><li><a href="/plats/">Plats</a></li>
<li><a href="/desserts/">Desserts</a></li><li><a href="/contact.html">Contact</a></li></ul></div>
<div id="contenu">
<h1>Crème brûlée à la vanille</h1>
<p class="date">Publié le 12 février 2009 par Françoise</p>
<p>C’est le dessert préféré de toute la famille, et c’est beaucoup plus facile qu’on ne le
croit. Le secret, c’est une cuisson très douce au four et une nuit entière au réfrigérateur
avant de caraméliser le sucre.</p>
<h2>Ingrédients (pour 6 ramequins)</h2>
<ul><li>6 jaunes d’œufs</li><li>100 g de sucre en poudre</li><li>50 cl de crème entière</li>
<li>1 gousse de vanille</li><li>cassonade pour caraméliser</li></ul>
<h2>Préparation</h2>
<ol><li>Préchauffez le four à 100 °C. Fendez la gousse de vanille et grattez les graines dans
la crème, puis faites chauffer doucement sans faire bouillir.</li>
<li>Fouettez les jaunes d’œufs avec le sucre jusqu’à ce que le mélange blanchisse.</li>
<li>Versez la crème chaude sur les œufs en fouettant, puis répartissez dans les ramequins.</li>
<li>Faites cuire 1 heure environ : la crème doit être prise mais encore tremblotante au
centre. Laissez refroidir, puis réservez au frais toute la nuit.</li>
<li>Au moment de servir, saupoudrez de cassonade et caramélisez au chalumeau.</li></ol>
<p>Coût : environ 6 € pour six personnes. Très économique pour un dessert aussi élégant !</p>
<p>Astuce de Françoise : gardez les blancs d’œufs au congélateur, ils serviront pour des
meringues ou des financiers.</p>
</div>
<div id="pied">© 2009 Recettes de Mamie Françoise – Tous droits réservés –
<a href="/mentions-legales.html">Mentions légales</a></div>
</body>
</html>
"""

_GERMAN_BLOCKS = r"""
Wir zeigen, dass die Exponentialfunktion ihre eigene Ableitung ist, das heißt für alle reellen
Zahlen $x$ gilt $$\frac{d}{dx} e^x = e^x.$$

## Beweis
Wir verwenden die Reihendarstellung $e^x = \sum_{n=0}^{\infty} \frac{x^n}{n!}$, die für alle
$x$ absolut konvergiert. Potenzreihen dürfen im Inneren ihres Konvergenzkreises gliedweise
differenziert werden. Also ist $$\frac{d}{dx} e^x = \sum_{n=1}^{\infty} \frac{n x^{n-1}}{n!} =
\sum_{n=1}^{\infty} \frac{x^{n-1}}{(n-1)!} = \sum_{m=0}^{\infty} \frac{x^m}{m!} = e^x.$$

## Übungsaufgabe
Bestimmen Sie die Nullstellen von $f(x) = x^2 - 5x + 6$ und berechnen Sie das Integral
$\int_0^1 f(x)\,dx$.

## Lösung
Die Nullstellen sind $x_1 = 2$ und $x_2 = 3$, denn $f(x) = (x - 2)(x - 3)$. Für das Integral
gilt $$\int_0^1 (x^2 - 5x + 6)\,dx = \frac{1}{3} - \frac{5}{2} + 6 = \frac{23}{6}.$$ Größere
Übungsblätter finden Sie in der Übungsgruppe am Donnerstag; die Abgabe erfolgt über den
Briefkasten im Erdgeschoß.
"""


def _build_legacy(rng: Rng) -> list[Page]:
    fr = Page("https://recettes.example.fr/desserts/creme-brulee-vanille.html", _FRENCH_PAGE,
              False, "none", [], charset="cp1252", declare_charset=False, server="Apache")
    r = MathRenderer("mathjax_delims", "dollar")
    main = _render_blocks(_doc_blocks(_GERMAN_BLOCKS), r)
    de_html = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html lang="de">\n'
        '<head>\n<meta http-equiv="content-type" content="text/html; charset=iso-8859-1">\n'
        "<title>Analysis I - Die Ableitung der Exponentialfunktion</title>\n" + _MATHJAX2_HEAD
        + '</head>\n<body>\n<div class="kopf"><a href="/">Startseite</a> | <a href="/lehre/">'
        'Lehre</a> | <a href="/impressum.html">Impressum</a></div>\n'
        "<h1>Die Ableitung der Exponentialfunktion</h1>\n" + main
        + '\n<div class="fuss">Letzte Änderung: 3. Mai 2011. Fragen bitte an die Übungsleitung.'
        "</div>\n</body>\n</html>\n"
    )
    de = Page("https://mathe.example.de/lehre/analysis1/exponentialfunktion.html", de_html,
              True, "mathjax_delims", r.formulas, charset="iso-8859-1", declare_charset=False,
              server="Apache/2.2.22 (Debian)")
    return [fr, de]


def _build_near_dup_sites(rng: Rng, news: list[Draft], forum: list[Draft],
                          travel_site: Site, travel: list[Draft], recipes: list[Draft],
                          blog_site: Site, blog: list[Draft], news_site: Site,
                          forum_site: Site, course_site: Site, course: list[Draft]) -> list[Page]:
    pages: list[Page] = []
    old = []
    for d in (course[3], course[7]):  # last year's copy of a lecture, lightly edited
        old.append(_draft("/2023" + d.path, d.title, _perturb(d.blocks, rng, 2), d.markup,
                          d.style, head_extra=d.head_extra, near_dup_of=course_site.url(d.path),
                          meta_line=d.meta_line.replace("Fall 2024", "Fall 2023")))
    pages += _finish(course_site, old, rng, pool=course)
    wire = Site("www.wirenews.example.com", "Regional Wire", "News from across the region",
                [("Latest", "/latest"), ("Regions", "/regions"), ("About", "/about")],
                "cloudflare", "news", "#1f4e79")
    wdrafts: list[Draft] = []
    for d in news[1:7]:
        blocks = [*_perturb(d.blocks, rng, 1, math=False),
                  ("p", "This story was first published by The Daily Courier and is republished "
                        "under a content-sharing agreement.")]
        wdrafts.append(_draft("/regional/" + d.path.rsplit("/", 1)[1], d.title, blocks,
                              "none", is_math=False, near_dup_of=news_site.url(d.path),
                              meta_line=d.meta_line))
    for topic in _NEWS_TOPICS[17:]:
        head, blocks, _k = _news_article(rng, topic)
        wdrafts.append(_vdraft(rng, "/regional/" + _slug(head) + f"-{rng.randint(100, 999)}", head,
                              blocks, "none", is_math=False, meta_line="Staff report"))
    pages += _finish(wire, wdrafts, rng)

    mirror = Site("answers-mirror.example.info", "MathAnswers Archive", "Answers to "
                  "math questions", [("Home", "/"), ("Privacy", "/privacy")], "nginx",
                  "modern", "#555555")
    mdrafts: list[Draft] = []
    for d in forum[10:14]:  # scraped whole, with a few words changed
        qid = d.path.split("/")[2]
        mdrafts.append(Draft(f"/answers/{qid}.html", d.title, _perturb_html(d.main, rng, 2),
                             True, "math_container", list(d.formulas),
                             near_dup_of=forum_site.url(d.path),
                             meta_line="Source: community Q&amp;A, licensed CC BY-SA"))
    links = "".join(f'<li><a href="{m.path}">{_esc(m.title)}</a></li>' for m in mdrafts)
    mdrafts.append(Draft("/", "MathAnswers Archive - home", "<p>Browse thousands of answers to "
                         "math questions, collected from public question and answer sites and "
                         "organised by topic. New answers are added every night.</p><p>Recently "
                         f"added:</p><ul>{links}</ul><p>Looking for something specific? Use "
                         "the search box at the top of every page.</p>", False, "none", []))
    mdrafts.append(_vdraft(rng, "/privacy", "Privacy policy", _p(
        "We collect anonymous usage statistics and show advertising from third-party networks, "
        "which may set cookies in your browser.",
        "You can opt out of personalised advertising in your browser settings. We never sell "
        "email addresses."), "none", is_math=False))
    pages += _finish(mirror, mdrafts, rng)

    amp = []
    for d in travel[:2]:
        amp.append(_draft("/amp" + d.path, d.title, _perturb(d.blocks, rng, 2, math=False),
                          "none", is_math=False, near_dup_of=travel_site.url(d.path)))
    pages += _finish(travel_site, amp, rng, pool=travel)
    d = recipes[0]
    repost = _draft("/2023/06/02/" + d.path.rsplit("/", 1)[1] + "/", d.title,
                    [("p", "Reposted with permission from a favourite recipe site."),
                     *_perturb(d.blocks, rng, 2, math=False)], "none", is_math=False,
                    near_dup_of="https://recipes.example.net" + d.path)
    pages += _finish(blog_site, [repost], rng, pool=blog)
    return pages


# ---------------------------------------------------------------------------
# WARC writing
# ---------------------------------------------------------------------------

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MON3 = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _http_date(dt: datetime) -> str:
    # spelled out by hand: strftime's %a/%b depend on the locale
    return (f"{_DAYS[dt.weekday()]}, {dt.day:02d} {_MON3[dt.month - 1]} {dt.year} "
            f"{dt:%H:%M:%S} GMT")


def _warc_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_id(seed: int, *parts: object) -> str:
    h = hashlib.sha1("|".join(map(str, (seed, *parts))).encode("utf-8")).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=h[:16], version=4)}>"


def _ip(host: str) -> str:
    h = hashlib.sha1(host.encode()).digest()
    net = ["192.0.2", "198.51.100", "203.0.113"][h[0] % 3]
    return f"{net}.{1 + h[1] % 254}"


def _png(seed: int, w: int = 48, h: int = 48) -> bytes:
    rows = b"".join(
        b"\x00" + bytes(c for x in range(w) for c in ((x * 5 + seed) % 256, (y * 5) % 256,
                                                         (x * y + seed) % 256))
        for y in range(h)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _chunked(body: bytes, rng: Rng) -> bytes:
    out, pos = [], 0
    while pos < len(body):
        n = rng.randint(1500, 6000)
        piece = body[pos:pos + n]
        out.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        pos += n
    return b"".join(out) + b"0\r\n\r\n"


@dataclass
class Fetch:
    """One HTTP exchange to be written as (request +) response records."""

    url: str
    status: str
    headers: list[tuple[str, str]]
    payload: bytes
    page: Page | None = None
    with_request: bool = True


def _page_fetch(p: Page, rng: Rng) -> Fetch:
    body = p.html.encode(p.charset)
    ctype = "text/html; charset=utf-8" if p.declare_charset else "text/html"
    headers = [("Date", ""), ("Server", p.server), ("Content-Type", ctype)]  # Date: at write time
    if p.content_encoding == "gzip":
        body = gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: reproducible bytes
        headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    if p.chunked:
        payload = _chunked(body, rng)
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        payload = body
        headers.append(("Content-Length", str(len(body))))
    if p.server == "cloudflare":
        headers += [("CF-Cache-Status", "HIT"), ("CF-RAY", hashlib.md5(p.url.encode())
                                                 .hexdigest()[:16] + "-AMS")]
    headers += [("Cache-Control", "max-age=600"), ("Connection", "close")]
    return Fetch(p.url, "200 OK", headers, payload, page=p)


def _other_fetches(seed: int, redirect_to: str) -> list[Fetch]:
    """Non-page records every real crawl contains."""
    not_found = (b"<!DOCTYPE html>\n<html><head><title>Page not found | The Daily Courier</title>"
                 b"</head><body><h1>404 - Page not found</h1><p>Sorry, the story you are "
                 b"looking for has been moved or removed.</p><p><a href=\"/\">Back to the front "
                 b"page</a></p></body></html>\n")
    moved = (b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center>"
             b"<h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
             b"</body>\r\n</html>\r\n")
    png = _png(seed % 251)
    robots = (b"User-agent: *\nDisallow: /users/login\nDisallow: /search\n"
              b"Crawl-delay: 2\nSitemap: https://mathforum.example.org/sitemap.xml\n")
    old_q = redirect_to.split("/")
    d = ""  # filled in when the record is written
    return [
        Fetch("https://www.dailynews.example.com/2019/05/02/old-story-removed", "404 Not Found",
              [("Date", d), ("Server", "nginx"), ("Content-Type", "text/html; charset=utf-8"),
               ("Content-Length", str(len(not_found))), ("Connection", "close")], not_found),
        Fetch("https://calc-notes.example.edu/static/img/logo.png", "200 OK",
              [("Date", d), ("Server", "Apache/2.4.41 (Ubuntu)"), ("Content-Type", "image/png"),
               ("Content-Length", str(len(png))), ("Cache-Control", "max-age=31536000"),
               ("Connection", "close")], png, with_request=False),
        Fetch("http://mathforum.example.org/questions/" + old_q[4], "301 Moved Permanently",
              [("Date", d), ("Server", "nginx/1.18.0"), ("Content-Type", "text/html"),
               ("Content-Length", str(len(moved))), ("Location", redirect_to),
               ("Connection", "close")], moved),
        Fetch("https://mathforum.example.org/robots.txt", "200 OK",
              [("Date", d), ("Server", "nginx/1.18.0"), ("Content-Type", "text/plain"),
               ("Content-Length", str(len(robots))), ("Connection", "close")], robots),
    ]


_UA = "CCBot/2.0 (https://commoncrawl.org/faq/)"


def _write_warc(path: Path, seed: int, index: int, fetches: list[Fetch], base: datetime) -> int:
    """Write one WARC file; returns the number of records."""
    n = 0
    info_id = _record_id(seed, "warcinfo", index)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        info = (f"software: mathmine-sample/1.0 (warcio)\r\nformat: WARC File Format 1.0\r\n"
                f"conformsTo: http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf"
                f"\r\nisPartOf: MATHMINE-SAMPLE-{seed}\r\ndescription: deterministic demo crawl "
                f"(seed {seed}, part {index})\r\nrobots: checked via crawler-commons\r\n"
                f"operator: mathmine test fixture\r\n").encode()
        rec = writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info), length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Type": "warcinfo", "WARC-Date": _warc_date(base),
                               "WARC-Filename": path.name, "WARC-Record-ID": info_id})
        writer.write_record(rec)
        n += 1
        for i, f in enumerate(fetches):
            when = base + timedelta(seconds=5 + 4 * i)
            host = f.url.split("/")[2]
            resp_id = _record_id(seed, "response", f.url, index, i)
            common = {"WARC-Date": _warc_date(when), "WARC-IP-Address": _ip(host),
                      "WARC-Warcinfo-ID": info_id}
            if f.with_request:
                target = "/" + f.url.split("/", 3)[3] if f.url.count("/") >= 3 else "/"
                req_headers = StatusAndHeaders(
                    f"GET {target} HTTP/1.1",
                    [("Host", host), ("User-Agent", _UA),
                     ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                     ("Accept-Language", "en-US,en;q=0.5"), ("Accept-Encoding", "br,gzip"),
                     ("Connection", "Keep-Alive")], is_http_request=True)
                req = writer.create_warc_record(
                    f.url, "request", http_headers=req_headers,
                    warc_headers_dict={"WARC-Type": "request",
                                       "WARC-Record-ID": _record_id(seed, "request", f.url, i),
                                       **common, "WARC-Concurrent-To": resp_id,
                                       "WARC-Target-URI": f.url})
                writer.write_record(req)
                n += 1
            # the server's Date is a few seconds before the crawler logs the capture
            served = _http_date(when - timedelta(seconds=2))
            http = StatusAndHeaders(f.status, [(k, served if k == "Date" else v)
                                               for k, v in f.headers], protocol="HTTP/1.1")
            resp = writer.create_warc_record(
                f.url, "response", payload=io.BytesIO(f.payload), length=len(f.payload),
                http_headers=http,
                warc_headers_dict={"WARC-Type": "response", "WARC-Record-ID": resp_id,
                                   **common, "WARC-Target-URI": f.url})
            writer.write_record(resp)
            n += 1
    return n


# ---------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------


def _negatives_corpus(rng: Rng, n: int = 300) -> list[dict]:
    """Known non-math texts from the same generators as the sample's news, recipe, travel, sports
    and review pages: the sample is half math (a focused crawl), so random crawl pages alone are
    poor negatives (`classify.negatives_corpus`)."""
    makers: list[Callable[[Rng], tuple]] = [_news_article, _recipe, _travel_post, _sports_report, _review]
    docs = []
    for i in range(n):
        title, blocks = makers[i % len(makers)](rng)[:2]
        docs.append({"id": f"negative-{i:04d}", "text": title + "\n\n" + _blocks_text(blocks),
                     "source": "sample-negatives"})
    return docs


# The demo annotator's file: what a person writes after reading iteration 1's queue of the
# sample (the math sections of the flagged sites). It lives with the sample, so the checkout's
# annotation/url_patterns/ stays the user's own.
DEMO_PATTERNS = """\
# The bundled sample's demo annotator (read only for the sample; annotation.sample_patterns)
@PATTERNS"""
_DEMO_PATTERN_LINES = [
    "mathforum.example.org/questions/*\tmath\tdemo-annotator\tQ&A threads",
    "mathforum.example.org/users/*\texclude\tdemo-annotator\tprofiles, not math",
    "calc-notes.example.edu/lectures/*\tmath\tdemo-annotator\tlecture notes; /news is not math",
    "tutor.example.com/lessons/*\tmath\tdemo-annotator\tworked lessons",
    "notes.example.io/posts/*\tmath\tdemo-annotator\tevery post is math",
]


def _seed_corpus(rng: Rng, n: int = 300) -> list[dict]:
    docs: list[dict] = []
    theorems = _THEOREMS + _DEFINITIONS
    for i in range(n):
        if i % 6 == 5:
            name, text = theorems[(i // 6) % len(theorems)]
            body = name + "\n\n" + _blocks_text(_doc_blocks(text))
        else:
            doc = _math_doc(rng, i)
            body = "\n\n".join([doc.title, _blocks_text(doc.intro), _blocks_text(doc.question),
                                _blocks_text(doc.answer)] + ([_blocks_text(doc.remark)]
                                                            if doc.remark else []))
        docs.append({"id": f"seed-{i:04d}", "text": body, "source": "sample-seed"})
    return docs


def _collect_pages(seed: int) -> tuple[list[Page], Rng]:
    master = random.Random(seed)

    def sub() -> Rng:  # independent streams so one site's edits don't reshuffle the others
        return random.Random(master.getrandbits(64))

    forum_pages, forum_drafts, forum_site = _build_forum(sub())
    course_pages, course_drafts, course_site = _build_course(sub())
    wiki_pages, _, _ = _build_wiki(sub())
    enc_pages, _, _ = _build_encyclopedia(sub())
    blog_pages, blog_drafts, blog_site = _build_blog(sub())
    notes_pages, _, _ = _build_notes(sub())
    tutor_pages, _, _ = _build_tutor(sub())
    old_pages, _, _ = _build_oldmath(sub())
    news_pages, news_drafts, news_site = _build_news(sub())

    rng = sub()
    recipes_site = Site("recipes.example.net", "Simply Home Cooking", "Easy recipes for "
                        "busy weeknights", [("Recipes", "/recipe/"), ("Dinner", "/category/"
                        "dinner"), ("Baking", "/category/baking"), ("About", "/about")],
                        "nginx", "modern", "#2e7d32")
    recipe_items = []
    for i in range(len(_RECIPES)):
        name, blocks = _recipe(rng, i)
        recipe_items.append((f"/recipe/{_slug(name)}", name, blocks))
    recipe_drafts = [_vdraft(rng, p, t, b, "none", is_math=False,
                            meta_line=f"By {_person(rng)} &middot; Updated "
                            f"{_nice_date(_date(rng, 2021, 2024))}") for p, t, b in recipe_items]
    for k, cat in enumerate(("dinner", "baking")):
        recipe_drafts.append(Draft(f"/category/{cat}", f"{cat.title()} recipes",
                                   f"<p>Our favourite {cat} recipes, tested in a real home "
                                   "kitchen.</p>" + _teasers(recipe_drafts[k:len(_RECIPES):2]),
                                   False, "none", []))
    recipe_pages = _finish(recipes_site, recipe_drafts, rng)

    travel_site = Site("travelblog.example.com", "Two Backpacks", "Slow travel, good food, "
                       "cheap trains", [("Destinations", "/destinations"), ("Itineraries",
                       "/itineraries"), ("About us", "/about")], "nginx", "modern", "#00796b")
    travel_drafts = []
    for i in range(14):
        t, blocks = _travel_post(rng, i)
        travel_drafts.append(_vdraft(rng, f"/posts/{_slug(t)}-{i + 1}/", t, blocks, "none",
                                    is_math=False, meta_line=f"{_nice_date(_date(rng))}"))
    travel_pages = _finish(travel_site, travel_drafts, rng)

    sports_site = Site("sports.example.com", "Regional Sports Weekly", "Scores, reports and "
                       "analysis", [("Football", "/football"), ("Basketball", "/basketball"),
                       ("Results", "/results"), ("Tickets", "/tickets")], "cloudflare",
                       "news", "#0d47a1")
    sports_items = []
    for i in range(14):
        t, blocks = _sports_report(rng)
        sports_items.append((f"/match-report/{_slug(t)}-{i + 1}", t, blocks))
    sports_pages = _simple_site(rng, sports_site, sports_items)

    gadgets_site = Site("gadgets.example.com", "Gadget Lab", "Honest reviews of everyday tech",
                        [("Reviews", "/reviews"), ("Deals", "/deals"), ("Guides", "/guides")],
                        "cloudflare", "modern", "#37474f")
    review_items = []
    for i in range(len(_PRODUCTS)):
        t, blocks = _review(rng, i)
        review_items.append((f"/reviews/{_slug(t)}", t, blocks))
    review_pages = _simple_site(rng, gadgets_site, review_items)

    dup_pages = _build_near_dup_sites(sub(), news_drafts, forum_drafts, travel_site,
                                      travel_drafts, recipe_drafts, blog_site, blog_drafts,
                                      news_site, forum_site, course_site, course_drafts)
    legacy_pages = _build_legacy(sub())

    pages = (forum_pages + course_pages + wiki_pages + enc_pages + blog_pages + notes_pages
             + tutor_pages + old_pages + news_pages + recipe_pages + travel_pages
             + sports_pages + review_pages + dup_pages + legacy_pages)

    # exact copies at different URLs (tracking parameters, short links, index.php)
    copies = []
    for orig, url in [
        (news_pages[0], news_pages[0].url + "?utm_source=newsletter&utm_medium=email"),
        (forum_pages[1], "https://mathforum.example.org/q/" + forum_pages[1].url.split("/")[4]),
        (wiki_pages[0], "https://proofwiki.example.org/index.php?title="
         + wiki_pages[0].url.rsplit("/", 1)[1]),
    ]:
        copies.append(Page(url, orig.html, orig.is_math, orig.markup, list(orig.formulas),
                           near_dup_of=orig.url, server=orig.server))
    pages += copies
    forum_pages[2].chunked = True  # raw chunked transfer encoding in the payload
    course_pages[0].content_encoding = "gzip"

    urls = [p.url for p in pages]
    dups = sorted({u for u in urls if urls.count(u) > 1})
    assert not dups, f"duplicate URLs in sample crawl: {dups}"
    return pages, sub()


def build_sample(out_dir: str | Path, seed: int = 20240501) -> dict:
    """Write the demo crawl under out_dir and return a summary dict."""
    out = Path(out_dir)
    for sub_dir in ("warc", "seed", "benchmarks"):
        (out / sub_dir).mkdir(parents=True, exist_ok=True)
    pages, rng = _collect_pages(seed)
    base = datetime(2024, 4, 12, 3, 0, 0) + timedelta(seconds=(seed * 7919) % (5 * 86400))

    fetches = [_page_fetch(p, rng) for p in pages]
    for f in fetches:
        f.with_request = rng.random() < 0.6
    fetches += _other_fetches(seed, pages[0].url)
    rng.shuffle(fetches)

    warc_files: list[str] = []
    records = 0
    for k in range(N_WARC_FILES):
        path = out / "warc" / f"sample-{k:05d}.warc.gz"
        part = fetches[k::N_WARC_FILES]  # round-robin
        records += _write_warc(path, seed, k, part, base + timedelta(hours=6 * k))
        warc_files.append(str(path))

    labels = []
    for k in range(N_WARC_FILES):
        for f in fetches[k::N_WARC_FILES]:
            if f.page is None:
                continue
            p = f.page
            labels.append({"url": p.url, "domain": p.domain, "is_math": p.is_math,
                           "markup": p.markup, "near_dup_of": p.near_dup_of,
                           "quotes_benchmark": p.quotes_benchmark, "formulas": p.formulas})
    _write_jsonl(out / "labels.jsonl", labels)
    seed_docs = _seed_corpus(random.Random(seed + 1))
    _write_jsonl(out / "seed" / "seed.jsonl", seed_docs)
    (out / "negatives").mkdir(exist_ok=True)
    negatives = _negatives_corpus(random.Random(seed + 2))
    _write_jsonl(out / "negatives" / "negatives.jsonl", negatives)
    (out / "annotation" / "url_patterns").mkdir(parents=True, exist_ok=True)
    (out / "annotation" / "url_patterns" / "sample-annotator.tsv").write_text(
        DEMO_PATTERNS.replace("@PATTERNS", "".join(f"{line}\n" for line in _DEMO_PATTERN_LINES)),
        encoding="utf-8")
    _write_jsonl(out / "benchmarks" / "sample_bench.jsonl",
                 [{"id": i, "question": q, "answer": a} for i, q, a in BENCHMARK])
    return {
        "warc_files": warc_files,
        "pages": len(labels),
        "records": records,
        "math_pages": sum(1 for lb in labels if lb["is_math"]),
        "domains": sorted({lb["domain"] for lb in labels}),
        "seed_docs": len(seed_docs),
        "negative_docs": len(negatives),
        "bytes": sum(Path(w).stat().st_size for w in warc_files),
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build the deterministic mathmine demo crawl.")
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args(argv)
    print(json.dumps(build_sample(args.out_dir, args.seed), indent=2))


if __name__ == "__main__":
    main()
