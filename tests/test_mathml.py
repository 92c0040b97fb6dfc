"""MathML -> TeX (pipeline/mathml.py): hand-written presentation MathML with the TeX it means, through
both DOMs the extractor uses (lxml and resiliparse)."""

from __future__ import annotations

import re

import lxml.etree
import pytest
from resiliparse.parse.html import HTMLTree

from pipeline.extract import _ResiliparseDom
from pipeline.mathml import LxmlMathDom, MathMLConverter

# (MathML, TeX). The TeX is what the formula means, written the usual way; compared without
# whitespace and braces, which TeX ignores here.
FIXTURES = [
    ("<mfrac><mn>1</mn><mn>2</mn></mfrac>", r"\frac{1}{2}"),
    ("<msup><mi>x</mi><mn>2</mn></msup><mo>+</mo><mn>1</mn>", r"x^{2}+1"),
    ("<msub><mi>a</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub>", r"a_{ij}"),
    ("<msubsup><mo>&#x222B;</mo><mn>0</mn><mn>1</mn></msubsup><mi>f</mi>", r"\int_{0}^{1}f"),
    ("<msqrt><msup><mi>b</mi><mn>2</mn></msup><mo>-</mo><mn>4</mn><mi>a</mi><mi>c</mi></msqrt>", r"\sqrt{b^{2}-4ac}"),
    ("<mroot><mi>x</mi><mn>3</mn></mroot>", r"\sqrt[3]{x}"),
    ("<munderover><mo>&#x2211;</mo><mrow><mi>k</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover><mi>k</mi>",
     r"\sum_{k=1}^{n}k"),
    ("<mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>0</mn></mtd></mtr><mtr><mtd><mn>0</mn></mtd><mtd><mn>1</mn></mtd>"
     "</mtr></mtable>", r"\begin{matrix}1&0\\0&1\end{matrix}"),
    ("<mfenced><mi>a</mi><mi>b</mi></mfenced>", r"\left(a,b\right)"),
    ("<mfenced open='[' close=']'><mi>x</mi></mfenced>", r"\left[x\right]"),
    ("<mfenced open='{' close=''><mi>x</mi></mfenced>", r"\left\{x\right."),
    ("<mi>&#x3B1;</mi><mo>&#x2264;</mo><mi>&#x3B2;</mi>", r"\alpha\leq\beta"),
    ("<mi>sin</mi><mo>&#x2061;</mo><mi>x</mi>", r"\sin x"),
    ("<mi>x</mi><mo>&#x2208;</mo><mi mathvariant='double-struck'>R</mi>", r"x\in\mathbb{R}"),
    ("<mover><mi>x</mi><mo>&#xAF;</mo></mover>", r"\overline{x}"),
    ("<mover><mi>v</mi><mo>&#x2192;</mo></mover>", r"\vec{v}"),
    ("<munder><mo>lim</mo><mrow><mi>x</mi><mo>&#x2192;</mo><mn>0</mn></mrow></munder><mfrac><mrow><mi>sin</mi>"
     "<mi>x</mi></mrow><mi>x</mi></mfrac>", r"\lim_{x\to0}\frac{\sin x}{x}"),
    ("<mrow><mo>(</mo><mfrac linethickness='0'><mi>n</mi><mi>k</mi></mfrac><mo>)</mo></mrow>", r"\binom{n}{k}"),
    ("<mi>x</mi><mo>=</mo><mfrac><mrow><mo>&#x2212;</mo><mi>b</mi><mo>&#xB1;</mo><msqrt><msup><mi>b</mi><mn>2</mn>"
     "</msup><mo>&#x2212;</mo><mn>4</mn><mi>a</mi><mi>c</mi></msqrt></mrow><mrow><mn>2</mn><mi>a</mi></mrow></mfrac>",
     r"x=\frac{-b\pm\sqrt{b^{2}-4ac}}{2a}"),
    ("<mtext>if </mtext><mi>n</mi><mo>&gt;</mo><mn>0</mn>", r"\text{if }n>0"),
    ("<msup><mrow><mo>(</mo><mi>a</mi><mo>+</mo><mi>b</mi><mo>)</mo></mrow><mi>n</mi></msup>", r"{(a+b)}^{n}"),
    ("<msub><mi>x</mi><mi>i</mi></msub><mo>&#x22C5;</mo><msub><mi>y</mi><mi>i</mi></msub><mo>&#x2260;</mo>"
     "<mn>3.5</mn>", r"x_{i}\cdot y_{i}\neq3.5"),
    ("<mi mathvariant='bold'>v</mi><mo>&#xD7;</mo><mi mathvariant='bold'>w</mi>", r"\mathbf{v}\times\mathbf{w}"),
    ("<mi>&#x221E;</mi><mo>,</mo><mi mathvariant='normal'>&#x2202;</mi><mi>f</mi><mo>,</mo><mo>&#x2207;</mo><mi>g</mi>",
     r"\infty,\partial f,\nabla g"),
    ("<mo>{</mo><mi>x</mi><mo>}</mo><mo>#</mo><mi>%</mi>", r"\{x\}\#\%"),
    ("<semantics><mi>y</mi><annotation encoding='text/plain'>why</annotation></semantics>", r"y"),
    ("<mmultiscripts><mi>C</mi><mi>k</mi><none/><mprescripts/><mi>n</mi><none/></mmultiscripts>", r"{}_{n}C_{k}"),
    ("<menclose notation='box'><mi>x</mi></menclose><mspace width='1em'/><mi>y</mi>", r"\boxed{x}\quad y"),
]


def squash(tex: str) -> str:
    return re.sub(r"[\s{}]", "", tex)


@pytest.mark.parametrize(("mathml", "tex"), FIXTURES)
def test_lxml_dom(mathml, tex):
    root = lxml.etree.fromstring(f'<math xmlns="http://www.w3.org/1998/Math/MathML">{mathml}</math>')
    assert squash(MathMLConverter(LxmlMathDom()).convert(root)) == squash(tex)


@pytest.mark.parametrize(("mathml", "tex"), FIXTURES)
def test_resiliparse_dom(mathml, tex):
    tree = HTMLTree.parse(f"<html><body><p><math>{mathml}</math></p></body></html>")
    dom = _ResiliparseDom(tree)
    math = dom.select("math")[0]
    assert squash(MathMLConverter(dom).convert(math)) == squash(tex)


def test_wikipedia_comments_and_whitespace_are_not_formula_text():
    """Wikipedia's MathML carries comments inside <mo> and indentation around every token."""
    root = lxml.etree.fromstring(
        '<math xmlns="http://www.w3.org/1998/Math/MathML">\n  <mi>\n    A\n  </mi>\n  <mo stretchy="false">'
        "\n    &#x27FA;<!-- ⟺ -->\n  </mo>\n  <mi>B</mi></math>")
    assert MathMLConverter(LxmlMathDom()).convert(root) == r"A\iff B"
