"""Train the churn-risk model: LightGBM + calibration, beside a logistic-regression baseline.

``fit(frame, label)`` takes any tabular feature table (the dataset builder's, Telco's, ...):

- split: the test slice is the latest dates when ``time_column`` is given (with an embargo so no
  training label window reaches into it), train/valid/calib split by customer when
  ``group_column`` is given, else a seeded stratified shuffle; a separate ``test`` frame may be
  passed instead of carving one out;
- LightGBM on the train slice with early stopping on the valid slice, categorical features as
  LightGBM categoricals (string columns get a stored vocabulary);
- class imbalance: the loss stays unweighted and nothing is resampled, so scores keep meaning
  probabilities; the rare class is judged by PR-AUC and lift instead;
- calibration (Platt by default, isotonic optional) on the calib slice only;
- the baseline (impute + scale + one-hot + logistic regression) trains on train+valid and both
  are scored on the same test rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from infra.native_stdout import stdout_to_stderr
from models import evaluate
from models.calibration import Calibrator, fit_calibrator

log = logging.getLogger(__name__)
# LightGBM's messages go through logging (stderr), never to stdout, which carries --json output.
lgb.register_logger(logging.getLogger("lightgbm"))

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    # Small, well-regularised trees: churn labels are noisy and repeated customers invite memorising.
    "num_leaves": 7,
    "max_depth": 6,  # also keeps the scorer's compiled trees shallow
    "min_data_in_leaf": 100,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "cat_smooth": 10.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,
}


@dataclass(frozen=True)
class TrainConfig:
    """Knobs for one training run."""

    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    calibration: str = "platt"
    fractions: tuple[float, float, float, float] = (0.6, 0.1, 0.1, 0.2)  # train, valid, calib, test
    seed: int = 7
    tune_seconds: float = 0.0  # > 0: tune the parameters on the valid slice within this budget


@dataclass
class Splits:
    """The four slices of one run (``test`` may come from outside)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    calib: pd.DataFrame
    test: pd.DataFrame
    dates: dict[str, list[str]] | None = None  # per slice (and embargoed / unused) for a time split


@dataclass
class TrainedModel:
    """A booster, its calibrator and everything needed to turn a table into its input."""

    booster: lgb.Booster
    calibrator: Calibrator
    feature_names: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]  # vocabularies of string columns; code = position
    params: dict[str, Any]
    best_iteration: int
    tuning: dict[str, Any] = field(default_factory=dict)  # what the tuner tried and chose (empty: not tuned)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The float matrix the booster and scorer take (string categories -> codes, unknown -> nan)."""
        return encode(frame, self.feature_names, self.categories)

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw log-odds from the booster."""
        return self.booster.predict(self.encode(frame), raw_score=True)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities."""
        return self.calibrator.apply(self.margin(frame))


@dataclass
class FitResult:
    """Model, baseline, their test reports and the slices used."""

    model: TrainedModel
    baseline: Pipeline
    report: dict[str, Any]
    baseline_report: dict[str, Any]
    splits: Splits
    test_predictions: tuple[np.ndarray, np.ndarray] | None = None  # (model, baseline) on splits.test
    label: str = "label"

    @property
    def summary(self) -> dict[str, Any]:
        """Flat comparison (model vs baseline) plus slice sizes."""
        out = evaluate.summary(self.report, self.baseline_report)
        out.update(
            n_train=len(self.splits.train) + len(self.splits.valid),
            n_calib=len(self.splits.calib),
            n_test=len(self.splits.test),
            best_iteration=self.model.best_iteration,
        )
        if self.splits.dates is not None:
            out["dates"] = self.splits.dates
        return out


def vocabularies(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Sorted vocabularies of the non-numeric columns among ``columns``."""
    return {
        c: sorted(map(str, frame[c].dropna().unique()))
        for c in columns
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    }


def encode(frame: pd.DataFrame, feature_names: Sequence[str], categories: dict[str, list[str]]) -> np.ndarray:
    """Columns in ``feature_names`` order as float64; vocabulary columns become their codes."""
    out = np.empty((len(frame), len(feature_names)), dtype=np.float64)
    for j, name in enumerate(feature_names):
        column = frame[name]
        if name in categories:
            lookup = {v: float(i) for i, v in enumerate(categories[name])}
            out[:, j] = [lookup.get(str(v), np.nan) if pd.notna(v) else np.nan for v in column]
        else:
            out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def split_frame(
    frame: pd.DataFrame,
    label: str,
    *,
    time_column: str | None = None,
    group_column: str | None = None,
    embargo: Any = None,
    fractions: Sequence[float] = (0.6, 0.1, 0.1, 0.2),
    seed: int = 7,
    test_dates: Sequence[Any] | None = None,
) -> Splits:
    """Train/valid/calib/test slices.

    With ``time_column`` the test slice is the rows at ``test_dates`` (default: the latest
    ``fractions[3]`` of the distinct dates), and training keeps only rows whose label window
    ends by the first test date: ``time + embargo <= first test date`` (``embargo`` is the label
    horizon; ``pd.Timedelta(0)`` when labels do not look ahead). The dates in between are
    embargoed, later ones unused; ``Splits.dates`` lists them all. Train, valid and calib are then
    split by ``group_column`` (customer) when given, so early stopping and calibration see
    customers the trees never memorised; otherwise stratified at random.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or len(fractions) != 4:
        raise ValueError("fractions must be four numbers summing to 1 (train, valid, calib, test)")
    test = frame.iloc[:0]
    rest = frame
    dates = None
    if time_column is not None and (fractions[3] > 0 or test_dates is not None):
        test, rest, dates = _time_split(frame, time_column, embargo, fractions[3], test_dates)
    elif fractions[3] > 0:
        rest, test = _stratified(frame, label, fractions[3], seed)
    share = 1 - fractions[3] if test_dates is None else sum(fractions[:3])
    if group_column is not None:
        calib_share, valid_share = fractions[2] / share, fractions[1] / (fractions[0] + fractions[1])
        rest, calib = _by_group(rest, group_column, calib_share, seed + 1)
        train, valid = _by_group(rest, group_column, valid_share, seed + 2)
    else:
        rest, calib = _stratified(rest, label, fractions[2] / share, seed + 1)
        train, valid = _stratified(rest, label, fractions[1] / sum(fractions[:2]), seed + 2)
    return Splits(train=train, valid=valid, calib=calib, test=test, dates=dates)


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat()


def _time_split(frame: pd.DataFrame, column: str, embargo: Any, share: float,
                test_dates: Sequence[Any] | None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """(test, rows allowed for training, dates per slice) of a split on ``column``."""
    if embargo is None:
        raise ValueError("a time split needs the label horizon as its embargo (pd.Timedelta(0) if labels "
                         "do not look ahead); without it overlapping label windows leak into training")
    times = np.sort(frame[column].unique())
    if test_dates is None:
        # Cut on distinct times so one observation date never straddles two slices.
        chosen = times[min(len(times) - 1, int(round((1 - share) * len(times)))):]
    else:
        chosen = np.sort(pd.to_datetime(pd.Series(list(test_dates)), utc=True, format="ISO8601").unique())
        missing = [_iso(d) for d in chosen if d not in set(times)]
        if missing:
            raise ValueError(f"test dates {missing} are not observation dates of the table "
                             f"(it has {_iso(times[0])} .. {_iso(times[-1])})")
    cut = chosen[0]
    test = frame[frame[column].isin(chosen)]
    allowed = frame[(frame[column] + embargo <= cut) & (frame[column] < cut)]
    if allowed.empty:
        raise ValueError(f"no rows left for training: with an embargo of {pd.Timedelta(embargo)} (the label "
                         f"horizon) before the first test date {_iso(cut)}, no earlier observation date remains; "
                         "choose later test dates or add earlier dates")
    kept = set(allowed[column].unique())
    iso_kept = [_iso(t) for t in times if t in kept]
    dates = {"train": iso_kept, "valid": iso_kept, "calib": iso_kept, "test": [_iso(t) for t in chosen],
             "embargoed": [_iso(t) for t in times if t < cut and t not in kept],
             "unused": [_iso(t) for t in times if t > cut and t not in set(chosen)]}
    return test, allowed, dates


def _by_group(frame: pd.DataFrame, column: str, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = np.sort(frame[column].unique())
    if len(groups) < 2:
        raise ValueError(f"{len(groups)} {column} value(s) left for training: too few to hold some out "
                         "for early stopping and calibration")
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(groups, size=max(1, int(round(fraction * len(groups)))), replace=False))
    mask = frame[column].isin(chosen)
    return frame[~mask], frame[mask]


def _stratified(frame: pd.DataFrame, label: str, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    strat = frame[label] if frame[label].nunique() > 1 and frame[label].value_counts().min() >= 2 else None
    return train_test_split(frame, test_size=fraction, random_state=seed, stratify=strat)


def fit_booster(splits: Splits, label: str, feature_names: list[str], categorical: list[str], config: TrainConfig,
                group_column: str | None = None) -> TrainedModel:
    """LightGBM on the train and valid slices, then the calibrator on ``calib``.

    The parameters are tuned first when ``config.tune_seconds`` > 0; the number of trees is the
    early-stopping point of a cross-validation over the same rows (folds grouped by
    ``group_column``): a 10 % valid slice of a noisy churn label stops at a random early minimum.
    """
    from models.tuning import cv_rounds, dataset, tune_params

    both = pd.concat([splits.train, splits.valid])
    categories = vocabularies(both, feature_names)
    cats = [c for c in categorical if c in feature_names]
    x, y = encode(both, feature_names, categories), both[label].to_numpy()
    groups = both[group_column].to_numpy() if group_column is not None else None
    params = {**config.params, "seed": config.seed}
    tuning: dict[str, Any] = {}
    with stdout_to_stderr():  # LightGBM's worker threads print warnings to fd 1 whatever ``verbose`` says
        if config.tune_seconds > 0:
            params, tuning = tune_params(params, x, y, feature_names, cats, groups=groups, seconds=config.tune_seconds,
                                         rounds=config.num_boost_round, patience=config.early_stopping_rounds,
                                         seed=config.seed)
        best = cv_rounds(params, x, y, feature_names, cats, groups=groups, rounds=config.num_boost_round,
                         patience=config.early_stopping_rounds, seed=config.seed)
        booster = lgb.train(params, dataset(x, y, feature_names, cats), num_boost_round=best)
    model = TrainedModel(booster, Calibrator(kind="sigmoid"), feature_names, cats, categories, params, best, tuning)
    model.calibrator = fit_calibrator(model.margin(splits.calib), splits.calib[label].to_numpy(), config.calibration)
    return model


def fit_baseline(frame: pd.DataFrame, label: str, feature_names: list[str], categorical: list[str]) -> Pipeline:
    """Logistic regression on imputed, scaled numerics and one-hot categoricals."""
    cats = [c for c in feature_names if c in categorical or not pd.api.types.is_numeric_dtype(frame[c])]
    nums = [c for c in feature_names if c not in cats]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
                              OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    pipe = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=2000, C=1.0))])
    return pipe.fit(_baseline_input(frame, feature_names, cats), frame[label].to_numpy())


def _baseline_input(frame: pd.DataFrame, feature_names: list[str], cats: list[str]) -> pd.DataFrame:
    """Categoricals as text with missing as nan: pandas' ``NA`` breaks scikit-learn's imputer."""
    x = frame[feature_names].copy()
    for c in cats:
        x[c] = np.array([str(v) if pd.notna(v) else np.nan for v in x[c]], dtype=object)
    return x


def baseline_predict(pipe: Pipeline, frame: pd.DataFrame, feature_names: list[str], categorical: list[str]) -> np.ndarray:
    """Baseline probabilities (same column preparation as in ``fit_baseline``)."""
    cats = [c for c in feature_names if c in categorical or not pd.api.types.is_numeric_dtype(frame[c])]
    return pipe.predict_proba(_baseline_input(frame, feature_names, cats))[:, 1]


def fit(
    frame: pd.DataFrame,
    label: str = "label",
    *,
    feature_names: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    time_column: str | None = None,
    group_column: str | None = None,
    embargo: Any = None,
    test: pd.DataFrame | None = None,
    test_dates: Sequence[Any] | None = None,
    config: TrainConfig = TrainConfig(),
) -> FitResult:
    """Split, train LightGBM + calibrator and the baseline, and report both on the test rows."""
    if label not in frame:
        raise ValueError(f"label column {label!r} is not in the table")
    names = list(feature_names) if feature_names is not None else [
        c for c in frame.columns if c not in (label, time_column, group_column, "customer_id")
    ]
    missing = [c for c in names if c not in frame]
    if missing:
        raise ValueError(f"feature columns missing from the table: {missing}")
    fractions = config.fractions
    if test is not None:
        rest = sum(fractions[:3])
        fractions = (fractions[0] / rest, fractions[1] / rest, 1 - (fractions[0] + fractions[1]) / rest, 0.0)
    splits = split_frame(frame, label, time_column=time_column, group_column=group_column, embargo=embargo,
                         fractions=fractions, seed=config.seed, test_dates=test_dates)
    if test is not None:
        splits.test = test
    for name in ("train", "valid", "calib", "test"):
        part = getattr(splits, name)
        if part.empty or part[label].nunique() < 2:
            raise ValueError(f"the {name} slice has {len(part)} rows and needs both classes; add data or dates")
    cats = list(categorical) + [c for c in vocabularies(frame, names) if c not in categorical]
    model = fit_booster(splits, label, names, cats, config, group_column)
    baseline = fit_baseline(pd.concat([splits.train, splits.valid]), label, names, cats)
    y = splits.test[label].to_numpy()
    p_model, p_base = model.predict(splits.test), baseline_predict(baseline, splits.test, names, cats)
    report, baseline_report = evaluate.report(y, p_model), evaluate.report(y, p_base)
    log.info("trained: auc %.4f (baseline %.4f), %d trees", report["auc"], baseline_report["auc"], model.best_iteration)
    return FitResult(model, baseline, report, baseline_report, splits, (p_model, p_base), label)
