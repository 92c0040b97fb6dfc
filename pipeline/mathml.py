"""Presentation MathML -> TeX, for MathML that carries no TeX of its own.

Pages rendered by MathJax 3 (`mjx-assistive-mml`), KaTeX without its annotation, and hand-written
or converted MathML keep their formulas only as MathML; its linear text (`a x 2 + b x + c = 0`)
loses every superscript and fraction. This walks the tree and writes TeX.

Why not a library: measured on the MathML of two real Wikipedia pages (100 formulas with their
x-tex annotation as the answer) and 26 hand-written fixtures (in tests/test_mathml.py), `mml2tex`
0.1.0 (transpect XSLT on Saxon) writes good TeX but takes ~200 ms a formula, which would make a
Wikipedia page cost seconds; `mathml-to-latex` 1.0.0 writes invalid TeX on common input
(`\\left{\\right.` for a brace, U+2061 left in, tables without an environment) and parses a
string, so the resiliparse DOM would have to be serialised and reparsed; the XSLTML stylesheet
bundled in `py-asciimath` is unmaintained and pulls in a parser stack; `mathml2latex` 0.2.12
fails on tables and roots. This converter works on either backend's DOM through a small adapter
and costs well under a millisecond a formula.

The output is TeX that compiles, not TeX identical to an author's source: `\\frac{a}{b}` for
mfrac, `x^{2}` for msup, `\\sqrt[3]{x}` for mroot, `\\begin{matrix}..\\end{matrix}` for mtable,
`\\left( .. \\right)` for mfenced, `\\sum_{k=1}^{n}` for munderover of a large operator, and
symbols mapped to their commands (`≤` -> `\\leq`, `α` -> `\\alpha`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class MathDom(Protocol):
    """The four things the converter needs from a DOM (lxml or resiliparse)."""

    def tag(self, el: Any) -> str: ...

    def children(self, el: Any) -> Iterable[Any]: ...

    def attr(self, el: Any, name: str) -> str: ...

    def has(self, el: Any, name: str) -> bool: ...

    def text(self, el: Any) -> str: ...


_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "varepsilon", "ϵ": "epsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ϑ": "vartheta", "ι": "iota", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ϖ": "varpi", "ρ": "rho",
    "ϱ": "varrho", "σ": "sigma", "ς": "varsigma", "τ": "tau", "υ": "upsilon", "φ": "varphi",
    "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta",
    "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi",
    "Ω": "Omega",
}
_SYMBOLS = {
    "−": "-", "∗": "*", "±": r"\pm", "∓": r"\mp", "×": r"\times", "÷": r"\div", "⋅": r"\cdot",
    "·": r"\cdot", "∘": r"\circ", "∙": r"\bullet", "⊕": r"\oplus", "⊗": r"\otimes", "⊙": r"\odot",
    "≤": r"\leq", "≥": r"\geq", "≦": r"\leqq", "≧": r"\geqq", "≠": r"\neq", "≈": r"\approx",
    "≡": r"\equiv", "≅": r"\cong", "∼": r"\sim", "≃": r"\simeq", "∝": r"\propto", "≪": r"\ll",
    "≫": r"\gg", "≺": r"\prec", "≻": r"\succ", "⊥": r"\perp", "∥": r"\parallel", "∣": r"\mid",
    "∈": r"\in", "∉": r"\notin", "∋": r"\ni", "⊂": r"\subset", "⊃": r"\supset", "⊆": r"\subseteq",
    "⊇": r"\supseteq", "⊊": r"\subsetneq", "∪": r"\cup", "∩": r"\cap", "∖": r"\setminus",
    "∅": r"\emptyset", "∀": r"\forall", "∃": r"\exists", "∄": r"\nexists", "¬": r"\neg",
    "∧": r"\wedge", "∨": r"\vee", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow",
    "⟹": r"\Longrightarrow", "⟸": r"\Longleftarrow", "⟺": r"\iff", "→": r"\to", "←": r"\leftarrow",
    "↔": r"\leftrightarrow", "↦": r"\mapsto", "⟶": r"\longrightarrow", "↑": r"\uparrow",
    "↓": r"\downarrow", "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla", "ℏ": r"\hbar",
    "ℓ": r"\ell", "℘": r"\wp", "ℵ": r"\aleph", "′": "'", "″": "''", "…": r"\ldots", "⋯": r"\cdots",
    "⋮": r"\vdots", "⋱": r"\ddots", "⟨": r"\langle", "⟩": r"\rangle", "⌊": r"\lfloor",
    "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil", "‖": r"\|", "†": r"\dagger", "‡": r"\ddagger",
    "⊤": r"\top", "⊢": r"\vdash", "⊨": r"\models", "□": r"\square", "△": r"\triangle",
    "∠": r"\angle", "°": r"^{\circ}", "∑": r"\sum", "∏": r"\prod", "∐": r"\coprod", "∫": r"\int",
    "∬": r"\iint", "∭": r"\iiint", "∮": r"\oint", "⋃": r"\bigcup", "⋂": r"\bigcap",
    "⨁": r"\bigoplus", "⨂": r"\bigotimes", "⋁": r"\bigvee", "⋀": r"\bigwedge", "√": r"\surd",
    "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_",
    "\\": r"\backslash", "~": r"\sim", "^": r"\hat{}",
    # Invisible operators (function application, invisible times and separator, invisible plus)
    # say something to a screen reader and nothing to TeX.
    "\u2061": "", "\u2062": "", "\u2063": "", "\u2064": "", "\u200b": "",
}
_DOUBLE_STRUCK = {"ℝ": "R", "ℕ": "N", "ℤ": "Z", "ℚ": "Q", "ℂ": "C", "ℙ": "P", "ℍ": "H"}
_FUNCTIONS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "coth", "log", "ln", "lg", "exp", "lim", "liminf", "limsup", "max", "min", "sup", "inf", "det",
    "dim", "ker", "deg", "gcd", "arg", "hom", "Pr", "mod",
}
_LARGE_OPS = {
    r"\sum", r"\prod", r"\coprod", r"\int", r"\iint", r"\iiint", r"\oint", r"\bigcup", r"\bigcap",
    r"\bigoplus", r"\bigotimes", r"\bigvee", r"\bigwedge", r"\lim", r"\liminf", r"\limsup", r"\max",
    r"\min", r"\sup", r"\inf", r"\det", r"\gcd", r"\Pr",
}
_OVER_ACCENTS = {
    "¯": "overline", "‾": "overline", "_": "overline", "―": "overline", "^": "hat", "ˆ": "hat",
    "̂": "hat", "~": "tilde", "˜": "tilde", "̃": "tilde", "→": "vec", "⃗": "vec", "˙": "dot",
    "̇": "dot", "¨": "ddot", "̈": "ddot", "ˇ": "check", "˘": "breve", "⏞": "overbrace",
    "⏜": "overbrace", "←": "overleftarrow", "↔": "overleftrightarrow", "´": "acute",
}
_UNDER_ACCENTS = {"_": "underline", "¯": "underline", "‾": "underline", "⏟": "underbrace",
                  "⏝": "underbrace"}
_VARIANTS = {
    "normal": "mathrm", "bold": "mathbf", "double-struck": "mathbb", "script": "mathcal",
    "bold-script": "mathcal", "fraktur": "mathfrak", "bold-fraktur": "mathfrak",
    "sans-serif": "mathsf", "monospace": "mathtt", "bold-italic": "boldsymbol",
}
_FENCES = {"{": r"\{", "}": r"\}", "⟨": r"\langle", "⟩": r"\rangle", "‖": r"\|", "|": "|",
           "⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil", "": "."}
_TEXT_ESCAPES = str.maketrans({c: "\\" + c for c in "#$%&_{}"} | {"\\": r"\textbackslash{}"})
_ZERO = ("0", "0px", "0pt", "0em", "0ex")
_NEEDS_SPACE = re.compile(r"\\[A-Za-z]+$")
_SPACES = {"veryverythinmathspace": "", "verythinmathspace": "", "thinmathspace": r"\,",
           "mediummathspace": r"\:", "thickmathspace": r"\;", "1em": r"\quad", "2em": r"\qquad"}


def _symbol(ch: str) -> str:
    if ch in _SYMBOLS:
        return _SYMBOLS[ch]
    if ch in _GREEK:
        return "\\" + _GREEK[ch]
    if ch in _DOUBLE_STRUCK:
        return rf"\mathbb{{{_DOUBLE_STRUCK[ch]}}}"
    if ord(ch) >= 0x1D400:  # mathematical alphanumerics (𝑎, 𝐱): the plain letter or digit
        plain = unicodedata.normalize("NFKC", ch)
        return _symbol(plain) if plain != ch else ch
    return ch


def _tokens(text: str) -> str:
    return _join(_symbol(ch) for ch in text)


def _join(parts: Iterable[str]) -> str:
    """Concatenate TeX pieces; a space only where a command name would run into a letter."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and _NEEDS_SPACE.search(out) and (part[0].isalpha()):
            out += " "
        out += part
    return out


def _group(tex: str) -> str:
    return "{" + tex + "}"


def _base(tex: str) -> str:
    """A script's base: braced unless it is one symbol, so `(a+b)^{n}` stays one base."""
    if len(tex) == 1 or (re.fullmatch(r"\\[A-Za-z]+|\{.*\}", tex) and _balanced(tex[1:-1])):
        return tex
    return _group(tex)


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


class MathMLConverter:
    """Converts one `<math>` element (or any MathML element) of a DOM to TeX."""

    def __init__(self, dom: MathDom) -> None:
        self.dom = dom
        self.handlers: dict[str, Callable[[Any], str]] = {
            "mi": self._mi, "mn": self._mn, "mo": self._mo, "mtext": self._mtext, "ms": self._mtext,
            "mspace": self._mspace, "mfrac": self._mfrac, "msup": self._msup, "msub": self._msub,
            "msubsup": self._msubsup, "msqrt": self._msqrt, "mroot": self._mroot,
            "mover": self._mover, "munder": self._munder, "munderover": self._munderover,
            "mtable": self._mtable, "mfenced": self._mfenced, "menclose": self._menclose,
            "mmultiscripts": self._mmultiscripts, "semantics": self._semantics,
            "mphantom": lambda el: "", "annotation": lambda el: "", "annotation-xml": lambda el: "",
            "none": lambda el: "", "mprescripts": lambda el: "", "maction": self._first,
            "mstyle": self._mstyle,
        }

    def convert(self, el: Any) -> str:
        return " ".join(self._node(el).split())

    def _kids(self, el: Any) -> list[Any]:
        return list(self.dom.children(el))

    def _node(self, el: Any) -> str:
        tag = self.dom.tag(el).rsplit(":", 1)[-1].rsplit("}", 1)[-1].lower()
        handler = self.handlers.get(tag)
        if handler is not None:
            return handler(el)
        return self._row(el)  # math, mrow, mpadded, merror, unknown wrappers: their children

    def _row(self, el: Any) -> str:
        kids = self._kids(el)
        parts = []
        i = 0
        while i < len(kids):
            # ( mfrac[linethickness=0] ) is how a binomial coefficient is written in MathML.
            if (i + 2 < len(kids) and self._is_mo(kids[i], "(") and self._is_mo(kids[i + 2], ")")
                    and self.dom.tag(kids[i + 1]).endswith("mfrac")
                    and self.dom.attr(kids[i + 1], "linethickness") in _ZERO):
                num, den = self._parts(kids[i + 1], 2)
                parts.append(rf"\binom{{{num}}}{{{den}}}")
                i += 3
                continue
            parts.append(self._node(kids[i]))
            i += 1
        return _join(parts)

    def _is_mo(self, el: Any, text: str) -> bool:
        tag = self.dom.tag(el)
        if tag.endswith("mrow"):  # MathJax wraps a fence in its own mrow (texclass OPEN / CLOSE)
            kids = self._kids(el)
            return len(kids) == 1 and self._is_mo(kids[0], text)
        return tag.endswith("mo") and self.dom.text(el).strip() == text

    def _first(self, el: Any) -> str:
        kids = self._kids(el)
        return self._node(kids[0]) if kids else ""

    def _semantics(self, el: Any) -> str:
        return self._first(el)  # the presentation child; annotations are handled by the caller

    def _mstyle(self, el: Any) -> str:
        return self._row(el)

    def _mi(self, el: Any) -> str:
        text = self.dom.text(el).strip()
        variant = self.dom.attr(el, "mathvariant")
        if len(text) > 1 and text in _FUNCTIONS:
            return "\\" + text
        tex = _tokens(text)
        command = _VARIANTS.get(variant)
        if not text.isascii() or not text.isalpha():
            command = None if command == "mathrm" else command  # `∂`, `Γ`: upright already
        elif len(text) > 1 and command is None:
            command = "mathrm"  # a multi-letter identifier is upright, like an operator name
        if command and text:
            return rf"\{command}{{{tex}}}"
        return tex

    def _mn(self, el: Any) -> str:
        tex = _tokens(self.dom.text(el).strip())
        command = _VARIANTS.get(self.dom.attr(el, "mathvariant"))
        return rf"\{command}{{{tex}}}" if command and command != "mathrm" and tex else tex

    def _mo(self, el: Any) -> str:
        text = self.dom.text(el).strip()
        if text in _FUNCTIONS:
            return "\\" + text
        return _tokens(text)

    def _mtext(self, el: Any) -> str:
        text = self.dom.text(el)
        if not text.strip():
            return r"\ " if text else ""
        # Keep the text's own edge spaces ("if "), collapsed to one: they separate words in TeX too.
        text = re.sub(r"\s+", " ", text)
        return rf"\text{{{text.translate(_TEXT_ESCAPES)}}}"

    def _mspace(self, el: Any) -> str:
        return _SPACES.get(self.dom.attr(el, "width").strip(), "")

    def _parts(self, el: Any, n: int) -> list[str]:
        kids = [self._node(k) for k in self._kids(el)]
        return (kids + [""] * n)[:n]

    def _mfrac(self, el: Any) -> str:
        num, den = self._parts(el, 2)
        if self.dom.attr(el, "linethickness") in _ZERO:
            return rf"\genfrac{{}}{{}}{{0pt}}{{}}{{{num}}}{{{den}}}"
        return rf"\frac{{{num}}}{{{den}}}"

    def _msup(self, el: Any) -> str:
        base, sup = self._parts(el, 2)
        return f"{_base(base)}^{_group(sup)}"

    def _msub(self, el: Any) -> str:
        base, sub = self._parts(el, 2)
        return f"{_base(base)}_{_group(sub)}"

    def _msubsup(self, el: Any) -> str:
        base, sub, sup = self._parts(el, 3)
        return f"{_base(base)}_{_group(sub)}^{_group(sup)}"

    def _msqrt(self, el: Any) -> str:
        return rf"\sqrt{{{self._row(el)}}}"

    def _mroot(self, el: Any) -> str:
        base, index = self._parts(el, 2)
        return rf"\sqrt[{index}]{{{base}}}"

    def _mover(self, el: Any) -> str:
        return self._accented(el, _OVER_ACCENTS, "^", "overset")

    def _munder(self, el: Any) -> str:
        return self._accented(el, _UNDER_ACCENTS, "_", "underset")

    def _accented(self, el: Any, accents: dict[str, str], script: str, stack: str) -> str:
        """<mover>/<munder>: an accent command when the second child is a known accent, a
        limit script on a large operator, else \\overset / \\underset."""
        kids = self._kids(el)
        base, mark = self._parts(el, 2)
        accent = accents.get(self.dom.text(kids[1]).strip()) if len(kids) > 1 else None
        if accent:
            return rf"\{accent}{{{base}}}"
        if base in _LARGE_OPS:
            return f"{base}{script}{_group(mark)}"
        return rf"\{stack}{{{mark}}}{{{base}}}"

    def _munderover(self, el: Any) -> str:
        base, under, over = self._parts(el, 3)
        if base in _LARGE_OPS:
            return f"{base}_{_group(under)}^{_group(over)}"
        return rf"\overset{{{over}}}{{\underset{{{under}}}{{{base}}}}}"

    def _mtable(self, el: Any) -> str:
        rows = []
        for row in self._kids(el):
            tag = self.dom.tag(row).lower()
            cells = self._kids(row)
            if tag.endswith("mlabeledtr"):
                cells = cells[1:]  # the equation label is not part of the formula
            elif not tag.endswith("mtr"):
                cells = [row]  # an mtd or stray content directly in the table
            rows.append(" & ".join(self._node(c) for c in cells))
        return r"\begin{matrix}" + r" \\ ".join(rows) + r"\end{matrix}"

    def _mfenced(self, el: Any) -> str:
        opening = self.dom.attr(el, "open") if self._has(el, "open") else "("
        closing = self.dom.attr(el, "close") if self._has(el, "close") else ")"
        separators = (self.dom.attr(el, "separators") if self._has(el, "separators") else ",").split()
        seps = "".join(separators) or ""
        parts = [self._node(k) for k in self._kids(el)]
        body = ""
        for i, part in enumerate(parts):
            if i:
                body += _symbol(seps[min(i - 1, len(seps) - 1)]) if seps else ""
            body += part
        return rf"\left{_FENCES.get(opening, opening)} {body} \right{_FENCES.get(closing, closing)}"

    def _has(self, el: Any, name: str) -> bool:
        # An attribute present but empty (open="") means "no fence", unlike a missing one.
        return self.dom.has(el, name)

    def _menclose(self, el: Any) -> str:
        body = self._row(el)
        notation = self.dom.attr(el, "notation")
        if "box" in notation or "roundedbox" in notation:
            return rf"\boxed{{{body}}}"
        if "updiagonalstrike" in notation:
            return rf"\cancel{{{body}}}"
        return body

    def _mmultiscripts(self, el: Any) -> str:
        parts, pre, seen_pre = [], [], False
        for kid in self._kids(el):
            if self.dom.tag(kid).endswith("mprescripts"):
                seen_pre = True
                continue
            (pre if seen_pre else parts).append(self._node(kid))
        base, post = (parts[0] if parts else ""), parts[1:]

        def scripts(items: list[str]) -> str:
            out = ""
            for i in range(0, len(items) - 1, 2):
                out += (f"_{_group(items[i])}" if items[i] else "") + (
                    f"^{_group(items[i + 1])}" if items[i + 1] else "")
            return out

        prefix = "{}" + scripts(pre) if pre else ""
        return prefix + _base(base) + scripts(post)


def mathml_to_tex(el: Any, dom: MathDom | None = None) -> str:
    """TeX for one MathML element; `dom` defaults to the lxml adapter."""
    return MathMLConverter(dom or LxmlMathDom()).convert(el)


class LxmlMathDom:
    """The converter's view of an lxml tree (comments and processing instructions skipped)."""

    @staticmethod
    def tag(el: Any) -> str:
        return el.tag if isinstance(el.tag, str) else ""

    @staticmethod
    def children(el: Any) -> Iterable[Any]:
        return (kid for kid in el if isinstance(kid.tag, str))

    @staticmethod
    def attr(el: Any, name: str) -> str:
        return el.get(name) or ""

    @staticmethod
    def has(el: Any, name: str) -> bool:
        return el.get(name) is not None

    @staticmethod
    def text(el: Any) -> str:
        # string() skips comments, which Wikipedia's MathML carries inside <mo> (`⟺<!-- ⟺ -->`).
        return el.xpath("string()") if isinstance(el.tag, str) else ""
