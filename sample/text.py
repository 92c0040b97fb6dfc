"""Small text helpers shared by the sample's generators, and the loader of its data files."""

from __future__ import annotations

import html
import json
import random
import re
from datetime import datetime
from importlib.resources import files

Block = tuple  # ("p", text) | ("h2", text) | ("ul", [text, ...]) | ("raw", text) ...
Rng = random.Random


def data_text(name: str) -> str:
    """The text of sample/data/NAME."""
    return files(__package__).joinpath("data", name).read_text(encoding="utf-8")


def data_json(name: str) -> object:
    return json.loads(data_text(name))


def rows(items: object) -> list[tuple]:
    """JSON arrays of records as the tuples the generators unpack."""
    return [tuple(item) for item in items]  # type: ignore[union-attr]

_FILL_RE = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


def _fill(tpl: str, **kw: object) -> str:
    """Substitute ``@name`` placeholders (TeX braces make str.format unusable)."""
    return _FILL_RE.sub(lambda m: str(kw[m.group(1)]), tpl)


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")
    return text[:60].rstrip("-")


def _thousands(n: int) -> str:
    return f"{n:,}"


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


def _attr(s: str) -> str:
    return html.escape(s, quote=True)


_NAMES = data_json("names.json")
_FIRST: list[str] = _NAMES["first"]
_LAST: list[str] = _NAMES["last"]
_TOWNS: list[str] = _NAMES["towns"]
_STREETS: list[str] = _NAMES["streets"]
_COMPANIES: list[str] = _NAMES["companies"]

_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _person(rng: Rng) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _date(rng: Rng, y0: int = 2019, y1: int = 2024) -> datetime:
    return datetime(rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28),
                    rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def _nice_date(d: datetime) -> str:
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"
