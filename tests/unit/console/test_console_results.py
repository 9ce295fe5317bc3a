"""Results math: Newcombe's hybrid score interval against the published values, and per-rule aggregation."""

from __future__ import annotations

import pytest

from retain.console.results import GroupCounts, compare, rule_results, wilson, z_value


@pytest.mark.parametrize(
    ("treated", "control", "low", "high"),
    [
        # Newcombe (1998) table II, method 10, examples: the published 95 % limits.
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
        ((0, 10), (0, 10), -0.2775, 0.2775),
        ((10, 10), (0, 10), 0.6075, 1.0000),
    ],
)
def test_newcombe_interval_matches_published_values(treated, control, low, high):
    c = compare(GroupCounts(treated[1], treated[0]), GroupCounts(control[1], control[0]))
    assert c.difference == pytest.approx(treated[0] / treated[1] - control[0] / control[1])
    assert (round(c.low, 4), round(c.high, 4)) == (low, high)


def test_wald_interval_is_the_textbook_formula():
    c = compare(GroupCounts(100, 30), GroupCounts(100, 20))
    half = 1.959964 * ((0.3 * 0.7 + 0.2 * 0.8) / 100) ** 0.5
    assert (c.wald_low, c.wald_high) == pytest.approx((0.1 - half, 0.1 + half), abs=1e-6)


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    (0, 10, 0.0, 0.2775),  # Wilson (1927) stays inside [0, 1] where Wald collapses to a point
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998) single-proportion example
])
def test_wilson_interval(successes, n, low, high):
    lo, hi = wilson(successes, n, z_value(0.95))
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_empty_group_gives_no_difference():
    c = compare(GroupCounts(5, 2), GroupCounts(0, 0))
    assert (c.treated_rate, c.control_rate, c.difference, c.low) == (0.4, None, None, None)


def test_rule_results_aggregates_a_constructed_data_set():
    # rule a: 40 sent, 12 returned; 20 held out, 3 returned; 2 opt-outs. rule b: only held out.
    rows = ([("a", "sent", i < 12) for i in range(40)] + [("a", "holdout", i < 3) for i in range(20)]
            + [("b", "holdout", True)])
    a, b = rule_results(rows, {"a": 2})
    assert (a.rule_id, a.sent, a.holdout, a.opt_outs) == ("a", GroupCounts(40, 12), GroupCounts(20, 3), 2)
    assert a.comparison.difference == pytest.approx(0.30 - 0.15)
    assert a.comparison.low < a.comparison.difference < a.comparison.high
    assert a.opt_out_rate == pytest.approx(0.05)
    assert (b.sent.n, b.comparison.difference, b.opt_out_rate) == (0, None, None)
    assert a.to_dict()["ci_low"] == a.comparison.low


def test_unknown_group_is_refused():
    with pytest.raises(ValueError, match="group"):
        rule_results([("a", "control", True)])
