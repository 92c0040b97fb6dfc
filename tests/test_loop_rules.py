"""The loop's rules (pipeline/loop.py) on small hand-made rows: the numbers are worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from pipeline.annotation import Pattern, PatternMatcher
from pipeline.loop import (
    RecallRule,
    ScoreSpread,
    convergence,
    fasttext_epochs,
    joins_next_seed,
    label_metrics,
    merge_tallies,
    negative_counts,
    number_ranked,
    overlap,
    partition_offsets,
    pattern_table,
    recall,
    same_training,
    sample_ids,
    sample_key,
    score_spread,
    score_warnings,
    seed_additions,
    select,
    selection,
    tally_patterns,
)

# --------------------------------------------------------------------------- negatives


def test_sample_depends_on_ids_alone_not_on_their_order():
    ids = [f"page-{i}" for i in range(50)]
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    assert sample_ids(ids, 10, seed=7) == sample_ids(shuffled, 10, seed=7)
    assert sample_ids(ids, 10, seed=7) != sample_ids(ids, 10, seed=8)
    # the first N of a larger sample: growing N never reshuffles what was chosen
    assert sample_ids(ids, 5, seed=7) == sample_ids(ids, 10, seed=7)[:5]
    assert sorted(sample_ids(ids, 500, seed=7)) == sorted(ids)
    assert sample_ids(ids, 0, seed=7) == [] and sample_ids([], 3, seed=7) == []


def test_sample_key_is_a_signed_64_bit_value_and_ties_fall_to_the_id():
    values = [sample_key(1, f"x{i}") for i in range(1000)]
    assert all(-(2**63) <= v < 2**63 for v in values) and min(values) < 0 < max(values)
    assert sample_key(1, "a") == sample_key(1, "a") != sample_key(2, "a")


@pytest.mark.parametrize(
    ("positives", "ratio", "corpus", "share", "expected"),
    [
        (100, 1.0, 0, 0.5, (0, 100)),  # no corpus: all from the crawl
        (100, 1.0, 500, 1.0, (100, 0)),  # corpus replaces crawl pages
        (100, 1.0, 500, 0.5, (50, 50)),
        (100, 1.0, 30, 0.5, (30, 70)),  # a small corpus is topped up from the crawl
        (100, 2.0, 500, 0.25, (50, 150)),
        (3, 1.0, 10, 0.5, (2, 1)),  # round(1.5) == 2 (banker's rounding)
        (0, 1.0, 10, 0.5, (0, 0)),
    ],
)
def test_negative_counts(positives, ratio, corpus, share, expected):
    assert negative_counts(positives, ratio, corpus, share) == expected


# ---------------------------------------------------------------------------------- seed


MATCHES = [
    {"id": "a", "source": "pattern:x.tsv:1", "label": "math", "recalled": False},
    {"id": "b", "source": "pattern:x.tsv:1", "label": "math", "recalled": True},  # recalled: not added
    {"id": "c", "source": "exclude", "label": "exclude", "recalled": False},  # excluded: never
    {"id": "d", "source": "pattern:y.tsv:3", "label": "math", "recalled": False},  # already seeded
    {"id": "0", "source": "pattern:y.tsv:3", "label": "math", "recalled": False},
]


def test_seed_grows_by_unrecalled_math_pattern_pages_not_in_the_seed():
    assert seed_additions(MATCHES, seed_ids={"d", "seed:1"}) == [("0", "pattern:y.tsv:3"), ("a", "pattern:x.tsv:1")]
    assert seed_additions([], {"d"}) == []
    assert joins_next_seed("math", False, False)
    assert not joins_next_seed("math", True, False)
    assert not joins_next_seed("math", False, True)
    assert not joins_next_seed("exclude", False, False)
    assert not joins_next_seed(None, False, False)


def test_same_training_needs_no_addition_and_no_math_page_among_the_negatives():
    assert same_training(0, 0)
    assert not same_training(1, 0)
    assert not same_training(0, 2)


# ------------------------------------------------------------------------ ranking and recall

# (id, score, tokens); ids chosen so that id order differs from input order
ROWS = [("p3", 0.9, 40), ("p1", 0.9, 30), ("p2", 0.5, 50), ("p5", 0.2, 10), ("p4", 0.7, 20)]
# ranking: score desc, then id asc -> p1 (0.9), p3 (0.9), p4 (0.7), p2 (0.5), p5 (0.2)
# tokens before each: 0, 30, 70, 90, 140


def test_ranking_breaks_ties_by_id_and_sums_tokens_before():
    ordered = [r for r in recall(ROWS, RecallRule("top_pages", top_pages=10))]
    assert [r[0] for r in ordered] == ["p1", "p3", "p4", "p2", "p5"]
    numbered = list(number_ranked([(i, s, t) for i, s, t in ordered]))
    assert [(r[0], r[3], r[4]) for r in numbered] == [
        ("p1", 1, 0), ("p3", 2, 30), ("p4", 3, 70), ("p2", 4, 90), ("p5", 5, 140)
    ]


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (1, ["p1"]),  # the first page always passes a positive budget
        (30, ["p1"]),  # p3 starts exactly at the budget: before == 30 is not < 30
        (31, ["p1", "p3"]),  # p3 starts below it and runs past it: kept
        (70, ["p1", "p3"]),
        (71, ["p1", "p3", "p4"]),
        (10_000, ["p1", "p3", "p4", "p2", "p5"]),
        (0, []),
    ],
)
def test_top_tokens_boundary(budget, expected):
    assert [r[0] for r in recall(ROWS, RecallRule("top_tokens", top_tokens=budget))] == expected


def test_top_pages_and_threshold_rules():
    assert [r[0] for r in recall(ROWS, RecallRule("top_pages", top_pages=2))] == ["p1", "p3"]
    assert [r[0] for r in recall(ROWS, RecallRule("top_pages", top_pages=0))] == []
    # threshold is inclusive
    assert [r[0] for r in recall(ROWS, RecallRule("threshold", threshold=0.5))] == ["p1", "p3", "p4", "p2"]
    assert recall([], RecallRule("top_tokens", top_tokens=5)) == []
    with pytest.raises(ValueError, match=r"recall\.rule"):
        RecallRule("best")


def test_partition_offsets_number_ranks_across_partitions_like_one_list():
    ordered = [("p1", 0.9, 30), ("p3", 0.9, 40), ("p4", 0.7, 20), ("p2", 0.5, 50), ("p5", 0.2, 10)]
    parts = {0: ordered[:2], 1: [], 2: ordered[2:]}
    offsets = partition_offsets({i: (len(r), sum(t for _, _, t in r)) for i, r in parts.items()})
    assert offsets == {0: (0, 0), 1: (2, 70), 2: (2, 70)}
    pieced = [row for i in sorted(parts) for row in number_ranked(parts[i], *offsets[i])]
    assert pieced == list(number_ranked(ordered))


def test_nan_scores_rank_last():
    rows = [("a", float("nan"), 1), ("b", 0.1, 1)]
    assert [r[0] for r in recall(rows, RecallRule("top_pages", top_pages=5))] == ["b", "a"]


# ---------------------------------------------------------------------------- convergence


def test_overlap_is_the_share_of_this_iterations_recall_seen_before():
    assert overlap(["a", "b", "c", "d"], ["a", "b", "c", "x", "y"]) == 0.75
    assert overlap([], ["a"]) == 1.0
    assert overlap(["a"], []) == 0.0


def test_convergence_reasons():
    assert convergence(1, None, 0.98, 4, False) is None
    assert "98.5%" in convergence(2, 0.985, 0.98, 4, False)
    assert convergence(2, 0.97, 0.98, 4, False) is None
    same = convergence(2, 0.5, 0.98, 4, True)
    assert "would train on exactly iteration 2's data" in same and "100% overlap" in same
    assert "without converging" in convergence(4, 0.5, 0.98, 4, False)
    # overlap exactly at the threshold stops
    assert convergence(3, 0.98, 0.98, 4, False).startswith("converged")


# ------------------------------------------------------------------------------ selection


def test_selection_exclude_wins_then_score_then_pattern():
    assert selection(True, None, None) == ("score", "")
    assert selection(True, "math", "pattern:x.tsv:1") == ("score", "pattern:x.tsv:1")
    assert selection(False, "math", "pattern:x.tsv:1") == ("pattern", "pattern:x.tsv:1")
    assert selection(True, "exclude", "exclude") is None
    assert selection(False, None, None) is None
    chosen = select(["b", "c", "z"], MATCHES)
    assert chosen == [
        ("0", "pattern", "pattern:y.tsv:3"),
        ("a", "pattern", "pattern:x.tsv:1"),
        ("b", "score", "pattern:x.tsv:1"),
        ("d", "pattern", "pattern:y.tsv:3"),
        ("z", "score", ""),
    ]
    assert select([], []) == []


# ------------------------------------------------------------------------ patterns' effects


def _pattern(line: int, glob: str, label: str = "math", file: str = "a.tsv") -> Pattern:
    return Pattern(file, line, glob, label, "tester")


def test_tally_per_pattern_line():
    patterns = [
        _pattern(1, "example.org/questions/*"),
        _pattern(2, "example.org/*"),  # overlaps line 1: matches count for both, additions go to 1
        _pattern(3, "example.org/questions/42/*", "exclude"),
        _pattern(4, "exmaple.org/*"),  # a typo: matches nothing
    ]
    matcher = PatternMatcher(patterns)
    pages = [  # (host, path, recalled, in_seed)
        ("example.org", "/questions/1/a", False, False),  # added by line 1
        ("www.example.org", "/questions/2/b", True, False),  # recalled: not added
        ("example.org", "/questions/42/c", False, False),  # excluded by line 3
        ("example.org", "/about", False, False),  # added by line 2
        ("example.org", "/questions/3/d", False, True),  # already in the seed
        ("other.org", "/questions/1/a", False, False),
    ]
    tally = tally_patterns(matcher, pages)
    assert tally["pattern:a.tsv:1"] == {"matched": 4, "recalled": 1, "excluded": 1, "added": 1}
    assert tally["pattern:a.tsv:2"] == {"matched": 5, "recalled": 1, "excluded": 1, "added": 1}
    assert tally["pattern:a.tsv:3"] == {"matched": 1, "recalled": 0, "excluded": 1, "added": 0}
    assert "pattern:a.tsv:4" not in tally
    # tallies of parts add up to the tally of the whole
    assert merge_tallies([tally_patterns(matcher, pages[:2]), tally_patterns(matcher, pages[2:])]) == tally
    rows, warnings = pattern_table(patterns, tally, lambda p: f"annotation/url_patterns/{p.file}")
    assert [r["where"] for r in rows] == [f"annotation/url_patterns/a.tsv:{i}" for i in (1, 2, 3, 4)]
    assert rows[3]["matched"] == 0
    assert warnings == ["annotation/url_patterns/a.tsv:4: pattern 'exmaple.org/*' (math) matches no page of "
                        "this crawl (a typo in the host or path?)"]


def test_matching_lists_every_line_in_file_order():
    patterns = [_pattern(2, "*.example.org/*"), _pattern(1, "example.org/a/*"), _pattern(1, "b.org/*", file="0.tsv")]
    matcher = PatternMatcher(patterns)
    assert [p.source for p in matcher.matching("math.example.org", "/a/1")] == ["pattern:a.tsv:2"]
    assert [p.source for p in matcher.matching("example.org", "/a/1")] == ["pattern:a.tsv:1", "pattern:a.tsv:2"]
    assert matcher.matching("c.org", "/") == []
    assert matcher.label("example.org", "/a/1") == ("pattern:a.tsv:1", "math")


# ---------------------------------------------------------------------------- model health


def test_collapsed_scores_are_a_warning_and_spread_ones_are_not():
    flat = score_spread([0.500008, 0.50001, 0.500012] * 100)
    assert flat.distinct == 1 and flat.spread < 1e-4
    health = {"heldout_positives": 30, "heldout_negatives": 30, "auc": 0.95}
    [warning] = score_warnings(flat, health)
    assert warning.startswith("scores collapsed") and "1 distinct" in warning
    spread = score_spread([i / 100 for i in range(101)])
    assert (spread.p10, spread.p50, spread.p90) == (0.1, 0.5, 0.9) and spread.distinct == 101
    assert score_warnings(spread, health) == []


def test_small_heldout_and_low_auc_are_warnings():
    spread = ScoreSpread(100, 100, 0.1, 0.5, 0.9, 0.0, 1.0)
    small = score_warnings(spread, {"heldout_positives": 5, "heldout_negatives": 40, "auc": 0.99})
    assert len(small) == 1 and "5 positives" in small[0]
    low = score_warnings(spread, {"heldout_positives": 50, "heldout_negatives": 50, "auc": 0.4})
    assert len(low) == 1 and "AUC 0.400" in low[0] and "negatives_corpus" in low[0]
    assert score_warnings(spread, {"heldout_positives": 50, "heldout_negatives": 50, "auc": math.nan}) == []
    assert score_spread([]).pages == 0


def test_label_metrics():
    got = label_metrics(recalled=10, labelled=8, math_hits=6, math_pages=12)
    assert got["precision"] == 0.75 and got["recall"] == 0.5
    assert label_metrics(0, 0, 0, 0)["precision"] is None


@pytest.mark.parametrize(
    ("examples", "expected"),
    [
        (900_000, 3),  # the paper's scale: its 3 epochs already pass the minimum
        (10_000, 3),  # exactly 3 passes: 30k
        (9_999, 4),  # ceil(30000 / 9999)
        (540, 56),  # the bundled sample: 600 seed + negative texts, 10% held out: ceil(55.6)
        (100, 100),  # capped
        (0, 3),
    ],
)
def test_epochs_grow_until_the_model_makes_the_minimum_updates(examples, expected):
    assert fasttext_epochs(examples, epoch=3, min_example_passes=30_000, max_epoch=100) == expected
    assert fasttext_epochs(examples, epoch=3, min_example_passes=0, max_epoch=100) == 3
