"""Qini curve, coefficient, AUUC and retained-per-1,000 on hand-checkable data."""

import numpy as np
import pytest

from models.uplift_eval import auuc, compare, qini_coefficient, qini_curve, retained_per_1000


def test_qini_curve_by_hand():
    # ranked: treated good, control bad, treated bad, control good
    score = np.array([4, 3, 2, 1])
    treated = np.array([1, 0, 1, 0])
    outcome = np.array([1, 0, 0, 1])
    # k=1: 1 - 0; k=2: 1 - 0*1/1 = 1; k=3: 1 - 0*2/1 = 1; k=4: 1 - 1*2/2 = 0
    assert qini_curve(score, treated, outcome).tolist() == pytest.approx([0, 0.25, 0.25, 0.25, 0.0])


def _experiment(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    effect = rng.choice([0.2, 0.0, -0.1], n)
    treated = rng.integers(0, 2, n)
    outcome = (rng.random(n) < 0.5 + treated * effect).astype(int)
    return effect, treated, outcome


def test_ranking_by_the_true_effect_beats_random_and_reverse():
    effect, treated, outcome = _experiment()
    rng = np.random.default_rng(1)
    best = qini_coefficient(effect, treated, outcome)
    random_ = qini_coefficient(rng.random(len(effect)), treated, outcome)
    worst = qini_coefficient(-effect, treated, outcome)
    assert best > 0.01 > 0.005 > abs(random_) and worst < -0.01
    assert auuc(effect, treated, outcome) > auuc(-effect, treated, outcome)


def test_retained_per_1000_true_and_measured():
    effect, treated, outcome = _experiment()
    assert retained_per_1000(effect, 0.2, true_effect=effect) == pytest.approx(200.0)
    measured = retained_per_1000(effect, 0.2, treated=treated, outcome=outcome)
    assert measured == pytest.approx(200.0, abs=40.0)


def test_compare_gives_intervals_around_the_estimate():
    effect, treated, outcome = _experiment(4000)
    groups = np.arange(len(effect)) // 2  # two rows per customer, resampled together
    out = compare({"oracle": effect, "reverse": -effect}, treated, outcome, groups=groups, true_effect=effect,
                  n_boot=60)
    lo, hi = out["oracle"]["qini_interval"]
    assert lo < out["oracle"]["qini"] < hi
    assert out["oracle"]["qini"] > out["reverse"]["qini"]
    assert out["customers"] == 2000


def test_the_paired_difference_separates_scores_whose_own_intervals_overlap():
    effect, treated, outcome = _experiment(4000)
    groups = np.arange(len(effect)) // 2
    rng = np.random.default_rng(2)
    noisy = effect + rng.normal(0, 0.25, len(effect))  # the same ranking, blurred
    out = compare({"uplift": effect, "noisy": noisy, "same": effect.copy()}, treated, outcome, groups=groups,
                  n_boot=80)
    better = out["uplift_minus"]["noisy"]
    assert better["qini"] == pytest.approx(out["uplift"]["qini"] - out["noisy"]["qini"])
    assert better["qini_interval"][0] > 0  # clearly better, on the same resamples
    assert out["uplift_minus"]["same"] == {"qini": 0.0, "qini_interval": [0.0, 0.0]}
    assert "uplift" not in out["uplift_minus"]


def test_uplift_calibration_bins_follow_the_true_effect():
    from models.uplift_eval import uplift_calibration

    effect, treated, outcome = _experiment()
    bins = uplift_calibration(effect, treated, outcome, bins=3)
    assert [b["predicted"] for b in bins] == pytest.approx([-0.1, 0.0, 0.2], abs=0.01)
    for b in bins:
        assert b["measured"] == pytest.approx(b["predicted"], abs=0.04)
    assert sum(b["rows"] for b in bins) == len(effect)
