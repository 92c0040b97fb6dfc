"""TeX for the sample's pages: number formatting, a tiny TeX parser, and the math markups.

The parser fakes the MathML / rendered glyphs that real MathJax and KaTeX pages contain next to
the TeX source; ``MathRenderer`` turns TeX into one site's markup and remembers the TeX it used.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from fractions import Fraction
from urllib.parse import quote

from sample.text import Block, _attr, _esc

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
