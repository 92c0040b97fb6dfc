"""The classifier loop's rules (DESIGN.md section 1, steps 1-6) as plain functions over rows.

`jobs/loop.py` runs each step on Spark as read -> apply -> write and calls these, per partition
or on small results collected to the driver; the unit tests (`tests/test_loop_rules.py`) call the
same functions on hand-made lists of rows. Nothing here imports pyspark.

The rules:

- **negatives**: a seeded random sample of candidate pages that depends on the ids alone (not on
  partitioning or row order): order by `(sample_key(seed, id), id)` and take the first N
  (`sample_ids`). How many come from a user's negatives corpus and how many from crawl pages is
  `negative_counts`.
- **seed growth**: the next seed is this seed plus the pages that a math pattern matched and the
  classifier did not recall (`seed_additions`).
- **ranking and recall**: pages ordered by score descending, ties by id ascending (`rank_order`),
  numbered with a running token total (`number_ranked`, per Spark partition with the offsets of
  `partition_offsets`); `RecallRule.recalls` says which ranks a rule keeps.
- **overlap and convergence**: the paper's stopping rule (`overlap`, `convergence`), plus: an
  iteration whose training input would equal the previous one's is not run (`same_training`).
- **selection**: recalled pages plus math-pattern pages minus excluded ones (`select`).
- **health of a model**: warnings, in words, when scores collapse or held-out metrics mean little
  (`score_warnings`), and precision / recall against known labels (`label_metrics`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RECALL_RULES = ("threshold", "top_pages", "top_tokens")


# ------------------------------------------------------------------------------- negatives


def sample_key(seed: int, key: str) -> int:
    """A signed 64-bit key of (seed, id): sorting by it is a seeded shuffle that depends on the
    ids alone, so the same pages give the same sample however Spark partitions them."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def sample_ids(ids: Iterable[str], wanted: int, seed: int) -> list[str]:
    """The `wanted` ids first in `(sample_key, id)` order (all of them when there are fewer)."""
    if wanted <= 0:
        return []
    return sorted(ids, key=lambda i: (sample_key(seed, i), i))[:wanted]


def negative_counts(positives: int, ratio: float, corpus_docs: int, corpus_share: float) -> tuple[int, int]:
    """(from the negatives corpus, from crawl pages) for `positives` seed documents.

    `round(positives * ratio)` negatives in all; a negatives corpus gives `corpus_share` of them
    (up to its size) and crawl pages give the rest, so a small corpus is topped up from the crawl
    rather than shrinking the training set."""
    wanted = round(positives * ratio)
    from_corpus = min(corpus_docs, round(wanted * corpus_share)) if corpus_docs else 0
    return from_corpus, wanted - from_corpus


# ---------------------------------------------------------------------------------- seed


def joins_next_seed(label: str | None, recalled: bool, in_seed: bool) -> bool:
    """The seed-growth rule for one page: a math pattern matched it (an exclude match makes the
    label `exclude`), this iteration's classifier did not recall it, and it is not in the seed."""
    return label == "math" and not recalled and not in_seed


def seed_additions(matches: Iterable[Mapping[str, Any]], seed_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(id, source) of the `matches` rows (id, source, label, recalled) that join the next seed,
    by id (`joins_next_seed`)."""
    seen = set(seed_ids)
    return sorted(
        (m["id"], m["source"]) for m in matches if joins_next_seed(m["label"], m["recalled"], m["id"] in seen)
    )


def same_training(additions: int, math_matched_negatives: int) -> bool:
    """Whether the next iteration would train on exactly this iteration's data: its seed is this
    seed plus `additions` pages, and its negatives are this iteration's minus the pages a math
    pattern matched (`math_matched_negatives` of them were sampled this time). Same data, same
    seed, one thread: the same model, the same scores, the same recall."""
    return additions == 0 and math_matched_negatives == 0


# ------------------------------------------------------------------------ ranking and recall


def rank_order(score: float, page_id: str) -> tuple[float, str]:
    """Sort key of the global ranking: score descending, then id ascending (a missing or NaN
    score ranks last)."""
    if score is None or math.isnan(score):
        return (math.inf, page_id)
    return (-score, page_id)


def partition_offsets(totals: Mapping[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """For ranked partitions with (pages, tokens) totals, the (pages, tokens) that come before
    each partition: partition i's first page has rank offset + 1."""
    offsets, pages, tokens = {}, 0, 0
    for index in sorted(totals):
        offsets[index] = (pages, tokens)
        pages += totals[index][0]
        tokens += totals[index][1]
    return offsets


def number_ranked(
    rows: Iterable[tuple[str, float, int]], pages_before: int = 0, tokens_before: int = 0
) -> Iterator[tuple[str, float, int, int, int]]:
    """(id, score, tokens, rank, tokens_before) for rows already in ranking order; rank is
    1-based and `tokens_before` sums the tokens of every better-ranked page."""
    rank, before = pages_before, tokens_before
    for page_id, score, tokens in rows:
        rank += 1
        yield page_id, score, tokens, rank, before
        before += tokens


@dataclass(frozen=True)
class RecallRule:
    """Which ranked pages an iteration recalls (the `recall` config section).

    - threshold: score >= threshold;
    - top_pages: the N best-ranked pages;
    - top_tokens: the best-ranked pages until N tokens: a page is recalled when the pages ranked
      above it hold fewer than N tokens, so the last one may pass N (the paper kept the top 40B).
    """

    rule: str = "top_tokens"
    threshold: float = 0.5
    top_pages: int = 1000
    top_tokens: int = 40_000

    def __post_init__(self) -> None:
        if self.rule not in RECALL_RULES:
            raise ValueError(f"recall.rule: one of {', '.join(RECALL_RULES)}, got {self.rule!r}")

    @property
    def needs_rank(self) -> bool:
        return self.rule != "threshold"

    @property
    def value(self) -> float | int:
        values = {"threshold": self.threshold, "top_pages": self.top_pages, "top_tokens": self.top_tokens}
        return values[self.rule]

    def recalls(self, score: float, rank: int = 0, tokens_before: int = 0) -> bool:
        if self.rule == "threshold":
            return score is not None and score >= self.threshold
        if self.rule == "top_pages":
            return rank <= self.top_pages
        return tokens_before < self.top_tokens


def recall(rows: Iterable[tuple[str, float, int]], rule: RecallRule) -> list[tuple[str, float, int]]:
    """The recalled (id, score, tokens) of all scored rows, in ranking order (the whole rule on
    one list; Spark does the same per range partition)."""
    ordered = sorted(rows, key=lambda r: rank_order(r[1], r[0]))
    return [(i, s, t) for i, s, t, rank, before in number_ranked(ordered) if rule.recalls(s, rank, before)]


# ---------------------------------------------------------------------------- convergence


def overlap(recalled: Iterable[str], previous: Iterable[str]) -> float:
    """The paper's stopping measure: the share of this iteration's recalled pages that the
    previous iteration recalled too (1.0 when this one recalls nothing)."""
    now = set(recalled)
    return overlap_share(len(now & set(previous)), len(now))


def overlap_share(common: int, recalled: int) -> float:
    """`overlap` from counts: `common` of this iteration's `recalled` pages were recalled before."""
    return common / recalled if recalled else 1.0


def convergence(
    n: int, overlap_now: float | None, threshold: float, max_iterations: int, next_same_training: bool
) -> str | None:
    """Why the loop stops after iteration `n`, in words, or None to go on."""
    if overlap_now is not None and overlap_now >= threshold:
        return (
            f"converged: iteration {n} recalled {overlap_now:.1%} of what iteration {n - 1} did "
            f"(>= classify.convergence {threshold:.0%})"
        )
    if next_same_training:
        return (
            f"converged: iteration {n + 1} would train on exactly iteration {n}'s data (the patterns add "
            f"no page to the seed and take no page out of the negatives), so it would recall the same "
            f"pages: 100% overlap (>= classify.convergence {threshold:.0%}); not run"
        )
    if n >= max_iterations:
        last = "-" if overlap_now is None else f"{overlap_now:.1%}"
        return (
            f"stopped after {max_iterations} iteration(s) without converging "
            f"(classify.max_iterations; the last overlap was {last}, "
            f"classify.convergence {threshold:.0%})"
        )
    return None


# ------------------------------------------------------------------------------ selection


def selection(recalled: bool, label: str | None, source: str | None) -> tuple[str, str] | None:
    """The final-selection rule for one page: (selected_by, source) or None. An exclude match
    drops the page even when the classifier recalled it; a recalled page is `score` (with the
    source of a math pattern that also matched it); a math-pattern page is `pattern`."""
    if label == "exclude":
        return None
    if recalled:
        return "score", source or ""
    if label == "math":
        return "pattern", source or ""
    return None


def select(recalled: Iterable[str], matches: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(id, selected_by, source) of the final corpus, by id, from the recalled ids and the
    `matches` rows (id, source, label): `selection` per page."""
    recalled = set(recalled)
    labels = {m["id"]: (m["label"], m["source"]) for m in matches}
    out = []
    for page_id in sorted(recalled | set(labels)):
        label, source = labels.get(page_id, (None, None))
        chosen = selection(page_id in recalled, label, source)
        if chosen is not None:
            out.append((page_id, *chosen))
    return out


# ------------------------------------------------------------------------- patterns' effects

TALLY_FIELDS = ("matched", "recalled", "excluded", "added")


def tally_patterns(matcher: Any, pages: Iterable[tuple[str, str, bool, bool]]) -> dict[str, dict[str, int]]:
    """What each pattern line does, from (host, path, recalled, in_seed) pages: per pattern
    source, pages `matched` by its glob, of them `recalled` by the classifier, `excluded` (an
    exclude pattern matched the page: for a math line, its match is overruled; for an exclude
    line, every match), and `added` to the next seed by this line (it is the first math line
    matching the page, as in the `matches` table, and `joins_next_seed`). Tallies of two sets
    of pages add up (`merge_tallies`), so Spark computes one per partition."""
    out: dict[str, dict[str, int]] = {}
    for host, path, recalled, in_seed in pages:
        hits = matcher.matching(host or "", path or "/")
        if not hits:
            continue
        claim = matcher.label(host or "", path or "/")
        excluded = claim is not None and claim[1] == "exclude"
        for pattern in hits:
            counts = out.setdefault(pattern.source, dict.fromkeys(TALLY_FIELDS, 0))
            counts["matched"] += 1
            counts["recalled"] += bool(recalled)
            counts["excluded"] += excluded
            if claim == (pattern.source, "math") and joins_next_seed("math", recalled, in_seed):
                counts["added"] += 1
    return out


def merge_tallies(tallies: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for tally in tallies:
        for source, counts in tally.items():
            mine = out.setdefault(source, dict.fromkeys(TALLY_FIELDS, 0))
            for key in TALLY_FIELDS:
                mine[key] += counts[key]
    return out


def pattern_table(
    patterns: Sequence[Any], tally: Mapping[str, Mapping[str, int]], shown_path: Any = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(one row per pattern line in file/line order, one warning per line that matches no page).
    `shown_path(pattern)` names the file as the user should see it (default: `pattern.file`)."""
    rows, warnings = [], []
    for p in sorted(patterns, key=lambda p: (p.file, p.line)):
        counts = tally.get(p.source, dict.fromkeys(TALLY_FIELDS, 0))
        where = f"{shown_path(p) if shown_path else p.file}:{p.line}"
        rows.append(
            {
                "where": where,
                "pattern": p.glob,
                "label": p.label,
                "annotator": p.annotator,
                **{key: int(counts[key]) for key in TALLY_FIELDS},
            }
        )
        if not counts["matched"]:
            warnings.append(
                f"{where}: pattern '{p.glob}' ({p.label}) matches no page of this crawl "
                "(a typo in the host or path?)"
            )
    return rows, warnings


# ---------------------------------------------------------------------------- model health


@dataclass(frozen=True)
class ScoreSpread:
    """What the crawl's scores look like: enough to tell a model that ranks from one that does
    not (every page at 0.5)."""

    pages: int
    distinct: int  # distinct scores rounded to 4 decimals
    p10: float
    p50: float
    p90: float
    minimum: float
    maximum: float

    @property
    def spread(self) -> float:
        return self.p90 - self.p10

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "distinct": self.distinct,
            "p10": self.p10,
            "p50": self.p50,
            "p90": self.p90,
            "min": self.minimum,
            "max": self.maximum,
            "spread": round(self.spread, 6),
        }


def score_spread(scores: Sequence[float] | Any) -> ScoreSpread:
    """Percentiles and distinct values of a list (or numpy array) of scores."""
    import numpy as np

    values = np.asarray(scores, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return ScoreSpread(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p10, p50, p90 = (round(float(v), 6) for v in np.percentile(values, [10, 50, 90]))
    return ScoreSpread(
        len(values),
        len(np.unique(np.round(values, 4))),
        p10,
        p50,
        p90,
        round(float(values.min()), 6),
        round(float(values.max()), 6),
    )


# Below these the numbers mean little; the defaults are documented in README's loop section.
MIN_SPREAD = 0.05  # p90 - p10 of the crawl's scores
MIN_DISTINCT = 20  # distinct scores (4 decimals) among the crawl's pages
MIN_AUC = 0.8
MIN_HELDOUT = 20  # held-out positives and negatives, each


def score_warnings(spread: ScoreSpread, metrics: Mapping[str, Any]) -> list[str]:
    """One sentence per reason not to trust this iteration's ranking."""
    out = []
    if spread.pages and (spread.spread < MIN_SPREAD or spread.distinct < min(MIN_DISTINCT, spread.pages)):
        out.append(
            f"scores collapsed: the middle 80% of the {spread.pages} crawl pages lie within "
            f"{spread.spread:.4f} of each other ({spread.p10:.4f} to {spread.p90:.4f}, "
            f"{spread.distinct} distinct values): the model does not rank, so recall is close to "
            "arbitrary (a larger seed, or more epochs: classify.min_example_passes)"
        )
    positives, negatives = metrics.get("heldout_positives", 0), metrics.get("heldout_negatives", 0)
    if min(positives, negatives) < MIN_HELDOUT:
        out.append(
            f"held-out set too small to mean much: {positives} positives and {negatives} negatives "
            f"(fewer than {MIN_HELDOUT} of either; classify.holdout)"
        )
    auc = metrics.get("auc")
    if isinstance(auc, (int, float)) and not math.isnan(auc) and auc < MIN_AUC:
        out.append(
            f"held-out AUC {auc:.3f} is low (< {MIN_AUC}): the negatives may be mostly math "
            "(a focused crawl: give negatives with classify.negatives_corpus) or the seed is unlike "
            "the crawl"
        )
    return out


def label_metrics(recalled: int, labelled: int, math_hits: int, math_pages: int) -> dict[str, Any]:
    """Precision and recall of the recalled pages against known labels: of `recalled` pages,
    `labelled` have a label and `math_hits` are math; `math_pages` labelled math pages were scored.
    Unlabelled pages count in neither precision nor recall."""
    return {
        "recalled": recalled,
        "recalled_labelled": labelled,
        "recalled_math": math_hits,
        "math_pages": math_pages,
        "precision": round(math_hits / labelled, 4) if labelled else None,
        "recall": round(math_hits / math_pages, 4) if math_pages else None,
    }


def fasttext_epochs(examples: int, epoch: int, min_example_passes: int, max_epoch: int) -> int:
    """Passes over the training file: the configured `epoch` (the paper's 3) unless that makes
    fewer than `min_example_passes` example updates (examples x epochs), then enough passes to
    reach it, at most `max_epoch`. fastText makes one gradient step per example (line) and decays
    its learning rate to 0 over the run, so 3 passes over a few hundred seed documents leave every
    score at 0.5 however long the documents are; on the paper's 500k + 500k pages the configured
    epochs pass the minimum many times over and nothing changes."""
    if examples <= 0 or min_example_passes <= 0:
        return epoch
    return max(epoch, min(max_epoch, math.ceil(min_example_passes / examples)))
