"""Training: honest splits, calibration on its own slice, and beating the baseline on Telco."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import evaluate
from models.calibration import fit_calibrator
from models.train import TrainConfig, fit, split_frame


def test_telco_model_beats_the_logistic_baseline(telco_fit):
    summary = telco_fit.summary
    assert summary["auc"] > summary["baseline_auc"]
    assert summary["brier"] < summary["baseline_brier"]
    assert summary["n_test"] == 2113  # the shipped test.csv, untouched by training


def test_platt_calibration_matches_the_calibration_slice_on_average(telco_fit):
    calib = telco_fit.splits.calib
    p = telco_fit.model.predict(calib)
    assert abs(p.mean() - calib["churn"].mean()) < 2e-3


def test_early_stopping_kept_only_the_chosen_trees(telco_fit):
    model = telco_fit.model
    assert model.booster.num_trees() == model.best_iteration < TrainConfig().num_boost_round


def frame_over_time(n_customers=60, n_dates=10, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-01", periods=n_dates, freq="7D", tz="UTC")
    rows = [{"customer_id": f"c{c}", "observed_at": d, "x": rng.normal(), "label": int(rng.random() < 0.3)}
            for c in range(n_customers) for d in dates]
    return pd.DataFrame(rows)


def test_time_split_puts_the_latest_dates_in_test_with_an_embargo_and_disjoint_customers():
    frame = frame_over_time()
    splits = split_frame(frame, "label", time_column="observed_at", group_column="customer_id",
                         embargo=pd.Timedelta(days=14))
    test_start = splits.test["observed_at"].min()
    for part in (splits.train, splits.valid, splits.calib):
        # no training row's 14-day label window reaches into the test period
        assert (part["observed_at"] + pd.Timedelta(days=14) <= test_start).all()
    customers = [set(p["customer_id"]) for p in (splits.train, splits.valid, splits.calib)]
    assert not (customers[0] & customers[1]) and not (customers[0] & customers[2]) and not (customers[1] & customers[2])
    assert splits.test["observed_at"].nunique() == 2  # 20% of 10 dates


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "missing"}, "label column"),
        ({"feature_names": ["x", "nope"]}, "feature columns missing"),
    ],
)
def test_bad_requests_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(frame_over_time(), **{"label": "label", **kwargs})


def test_isotonic_calibrator_single_and_batch_agree():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-margin))).astype(int)
    cal = fit_calibrator(margin, y, "isotonic")
    probe = np.concatenate([rng.normal(size=200) * 3, [cal.x[0], cal.x[-1], -99, 99]])
    assert np.allclose([cal.apply_one(m) for m in probe], cal.apply(probe), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("y", "p", "lift10", "capture10"),
    [
        # the top 10% (1 of 10) is the only positive: lift 10, captures all positives
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 10.0, 1.0),
        # the top-scored customer is negative: no lift
        ([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 0.0, 0.0),
    ],
)
def test_lift_and_capture(y, p, lift10, capture10):
    report = evaluate.report(y, p)
    assert (report["lift_top10"], report["capture_top10"]) == (lift10, capture10)


D = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def shop_table():
    """An orders-only shop's training table: nobody has a plan, a subscription or usage."""
    import datetime as dt

    from model_event_factory import START, shop_population
    from models.dataset import LabelSpec, build_dataset
    from models.schedule import observation_dates

    events = shop_population(300, 150, seed=4)
    dates = observation_dates(START + dt.timedelta(days=30), START + dt.timedelta(days=119), 7)
    return build_dataset(events, dates, LabelSpec("activity", 30), progress=False)


def test_a_table_whose_customers_have_no_plan_trains_and_evaluates(shop_table):
    """Finding: no ``plan_code`` anywhere crashed the baseline (TypeError: boolean value of NA is ambiguous)."""
    from signals import features

    assert shop_table["plan_code"].isna().all()
    result = fit(shop_table, "label", feature_names=features.FEATURE_NAMES, categorical=features.CATEGORICAL_FEATURES,
                 time_column="observed_at", group_column="customer_id", embargo=30 * D)
    assert result.summary["auc"] > 0.6 and result.summary["baseline_auc"] > 0.6


def test_the_embargo_keeps_label_windows_that_end_exactly_at_the_cut():
    """Finding: ``time < cut - horizon`` dropped the rows whose label window ends exactly at the test date."""
    splits = split_frame(frame_over_time(), "label", time_column="observed_at", group_column="customer_id",
                         embargo=14 * D)
    test_start = splits.test["observed_at"].min()
    kept = pd.concat([splits.train, splits.valid, splits.calib])["observed_at"]
    assert kept.max() == test_start - 14 * D


def test_an_embargo_that_leaves_no_training_rows_says_so():
    """Finding: this ended in numpy's ``ValueError: a cannot be empty``."""
    with pytest.raises(ValueError, match="no rows left for training.*embargo"):
        split_frame(frame_over_time(n_dates=3), "label", time_column="observed_at", group_column="customer_id",
                    embargo=60 * D)


def test_chosen_test_dates_form_the_test_slice_and_every_slice_lists_its_dates():
    """Finding: the test slice was always the latest 20 % of dates, and nobody was told which dates went where."""
    frame = frame_over_time(n_customers=120, n_dates=10)
    dates = sorted(frame["observed_at"].unique())
    result = fit(frame, "label", time_column="observed_at", group_column="customer_id", embargo=14 * D,
                 test_dates=[dates[6]])
    slices = result.summary["dates"]
    iso = [pd.Timestamp(d).isoformat() for d in dates]
    assert slices["test"] == [iso[6]]
    assert slices["embargoed"] == [iso[5]]  # d5 + 14 days reaches past d6; d4 + 14 days ends exactly at it
    assert slices["train"] == slices["valid"] == slices["calib"] == iso[:5]
    assert slices["unused"] == iso[7:]
    assert set(result.splits.test["observed_at"]) == {dates[6]}


def test_parameters_are_tuned_by_cross_validation_within_the_budget_and_kept_only_when_clearly_better():
    """Finding: 7 leaves and 100 rows per leaf for every data set."""
    from models import telco

    train, test = telco.load_telco()
    result = fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL, test=test,
                 config=TrainConfig(tune_seconds=8))
    tuning = result.model.tuning
    assert tuning["budget_seconds"] == 8 and tuning["folds"] == 4
    assert tuning["trials"] >= 1 and len(tuning["trial_log"]) == tuning["trials"]
    # Tuned parameters win only by more than the defaults' standard error across the CV folds.
    better = tuning["tuned_cv_logloss"] < tuning["default_cv_logloss"] - tuning["default_cv_logloss_se"]
    assert tuning["chosen"] == ("tuned" if better else "defaults")
    if tuning["chosen"] == "tuned":
        assert {k: result.model.params[k] for k in tuning["params"]} == tuning["params"]
    assert result.model.params["max_depth"] == TrainConfig().params["max_depth"]  # the scorer's trees stay shallow


def test_the_bootstrap_interval_says_when_a_difference_is_not_clear():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.3).astype(int)
    noise = rng.normal(size=2000)
    good, weak = 1 / (1 + np.exp(-(2 * y + noise * 0.8))), 1 / (1 + np.exp(-(2 * y + noise * 3.0)))
    groups = np.repeat(np.arange(500), 4)  # four rows per customer: customers are resampled whole
    clear = evaluate.paired_difference(y, good, weak, groups, n_boot=300)
    assert clear["auc_diff_ci"][0] > 0 and "higher" in clear["verdict"]
    assert clear["auc_diff"] == pytest.approx(evaluate.report(y, good)["auc"] - evaluate.report(y, weak)["auc"], abs=1e-12)
    assert clear["brier_diff"] == pytest.approx(evaluate.report(y, good)["brier"] - evaluate.report(y, weak)["brier"])
    same = evaluate.paired_difference(y, weak, np.round(weak, 2), groups, n_boot=300)
    low, high = same["auc_diff_ci"]
    assert low < 0 < high and "straddles 0" in same["verdict"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [7, 8, 9]),  # the latest three dates, one fold each
        ({"folds": 1}, [9]),
        ({"test_from": "2026-02-26"}, [8, 9]),
        ({"test_from": "2026-02-25"}, [8, 9]),  # from a day between dates: the dates after it
        ({"test_dates": ["2026-01-29", "2026-02-12T00:00:00+00:00"]}, [4, 6]),
    ],
)
def test_test_dates_are_chosen_explicitly_from_a_date_or_the_latest(kwargs, expected):
    from models.validation import choose_test_dates

    times = frame_over_time()["observed_at"].unique()
    got = choose_test_dates(times, **kwargs)
    assert got == [pd.Timestamp(sorted(times)[i]) for i in expected]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"test_dates": ["2026-01-02"]}, "not observation dates"), ({"test_from": "2027-01-01"}, "after the last"),
     ({"folds": 0}, "at least 1")],
)
def test_impossible_test_dates_are_named(kwargs, message):
    from models.validation import choose_test_dates

    with pytest.raises(ValueError, match=message):
        choose_test_dates(frame_over_time()["observed_at"].unique(), **kwargs)


def test_rolling_evaluation_pools_folds_on_the_same_rows_for_model_and_baseline():
    from models.validation import rolling_evaluate

    rng = np.random.default_rng(4)
    frame = frame_over_time(n_customers=200, n_dates=10)
    frame["label"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-2 * frame["x"]))).astype(int)
    evaluation = rolling_evaluate(frame, horizon_days=7, feature_names=["x"], folds=2, n_boot=100)
    summary = evaluation.summary
    assert [f["test_date"] for f in summary["folds"]] == summary["test_dates"]
    assert len(evaluation.pooled) == summary["n_test"] == 400  # two dates of 200 customers
    assert summary["auc"] == pytest.approx(evaluate.report(evaluation.pooled["label"], evaluation.pooled["p_model"])["auc"])
    for fold in summary["folds"]:
        assert fold["dates"]["embargoed"] == []  # a 7-day horizon on weekly dates ends exactly at the next one
        assert fold["dates"]["train"][-1] < fold["test_date"]
    assert summary["bar"]["auc_above_baseline"] == (summary["auc"] > summary["baseline_auc"])
