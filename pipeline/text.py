"""Text units shared by the steps, and why there are three ways to split a page into words.

- dedup (`pipeline.dedup.normalize_words`): `\\w+` runs after NFKC + lower case. Punctuation, `$` and
  spacing are dropped, so a page re-rendered with other quotes or spacing is the same page.
- decontamination (`pipeline.decontam.words`): letter runs, digit runs, LaTeX commands, single CJK
  characters and single symbols, after NFKC + lower case + typographic folding with `$`, braces and
  formatting dropped. A benchmark problem is mostly formulas, and a leak must be found however the
  page typesets them: `x^2+1=0` must give the grams `x ^ 2 + 1 = 0`, where `\\w+` would leave
  `x 2 1 0` (matching unrelated formulas) and read `x2` as one unit; and `$\\frac{1}{2}$` must meet
  `\\(\\dfrac12\\)`, which the classifier's text keeps apart (for it `$` and `\\frac` are signal,
  for decontamination they are typesetting).
- classifier (`pipeline.classify.normalize`): lower case and whitespace collapsed only. fastText
  learns from `$`, `\\frac` and punctuation: they are the strongest math signals.

Where the definitions agree they share one function: collapsing whitespace (dedup's exact-text key
and the classifier's input).
"""

from __future__ import annotations


def collapse_spaces(text: str) -> str:
    """Runs of whitespace (str.isspace, as `\\s` in a str regex) to one space, none at the ends."""
    return " ".join(text.split())
