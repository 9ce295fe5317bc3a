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


@dataclass
class Splits:
    """The four slices of one run (``test`` may come from outside)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    calib: pd.DataFrame
    test: pd.DataFrame


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
) -> Splits:
    """Train/valid/calib/test slices.

    With ``time_column`` the test slice is the latest observation dates, and rows whose label
    window (``embargo``, e.g. the horizon) reaches into the test period are dropped. Train, valid
    and calib are then split by ``group_column`` (customer) when given, so early stopping and
    calibration see customers the trees never memorised; otherwise stratified at random.
    """
    if abs(sum(fractions) - 1.0) > 1e-9 or len(fractions) != 4:
        raise ValueError("fractions must be four numbers summing to 1 (train, valid, calib, test)")
    test = frame.iloc[:0]
    rest = frame
    if time_column is not None and fractions[3] > 0:
        # Cut on distinct times so one observation date never straddles two slices.
        times = np.sort(frame[time_column].unique())
        cut = times[min(len(times) - 1, int(round((1 - fractions[3]) * len(times))))]
        test = frame[frame[time_column] >= cut]
        limit = cut - embargo if embargo is not None else cut
        rest = frame[frame[time_column] < limit]
    elif fractions[3] > 0:
        rest, test = _stratified(frame, label, fractions[3], seed)
    share = 1 - fractions[3]
    if group_column is not None:
        calib_share, valid_share = fractions[2] / share, fractions[1] / (fractions[0] + fractions[1])
        rest, calib = _by_group(rest, group_column, calib_share, seed + 1)
        train, valid = _by_group(rest, group_column, valid_share, seed + 2)
    else:
        rest, calib = _stratified(rest, label, fractions[2] / share, seed + 1)
        train, valid = _stratified(rest, label, fractions[1] / sum(fractions[:2]), seed + 2)
    return Splits(train=train, valid=valid, calib=calib, test=test)


def _by_group(frame: pd.DataFrame, column: str, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = np.sort(frame[column].unique())
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(groups, size=max(1, int(round(fraction * len(groups)))), replace=False))
    mask = frame[column].isin(chosen)
    return frame[~mask], frame[mask]


def _stratified(frame: pd.DataFrame, label: str, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    strat = frame[label] if frame[label].nunique() > 1 and frame[label].value_counts().min() >= 2 else None
    return train_test_split(frame, test_size=fraction, random_state=seed, stratify=strat)


def fit_booster(splits: Splits, label: str, feature_names: list[str], categorical: list[str], config: TrainConfig) -> TrainedModel:
    """LightGBM with early stopping on ``valid``, then the calibrator on ``calib``."""
    categories = vocabularies(splits.train, feature_names)
    cats = [c for c in categorical if c in feature_names]
    dtrain = lgb.Dataset(encode(splits.train, feature_names, categories), splits.train[label].to_numpy(),
                         feature_name=feature_names, categorical_feature=cats, free_raw_data=False,
                         params={"verbose": -1})  # LightGBM logs to stdout, which carries --json output
    dvalid = lgb.Dataset(encode(splits.valid, feature_names, categories), splits.valid[label].to_numpy(), reference=dtrain)
    params = {**config.params, "seed": config.seed}
    with stdout_to_stderr():  # LightGBM's worker threads print warnings to fd 1 whatever ``verbose`` says
        booster = lgb.train(
            params, dtrain, num_boost_round=config.num_boost_round, valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
    best = booster.best_iteration or booster.current_iteration()
    # Keep only the trees early stopping chose, so model text, scorer and predict all agree.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    model = TrainedModel(booster, Calibrator(kind="sigmoid"), feature_names, cats, categories, params, best)
    model.calibrator = fit_calibrator(model.margin(splits.calib), splits.calib[label].to_numpy(), config.calibration)
    return model


def fit_baseline(frame: pd.DataFrame, label: str, feature_names: list[str], categorical: list[str]) -> Pipeline:
    """Logistic regression on imputed, scaled numerics and one-hot categoricals."""
    cats = [c for c in feature_names if c in categorical or not pd.api.types.is_numeric_dtype(frame[c])]
    nums = [c for c in feature_names if c not in cats]
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    pipe = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=2000, C=1.0))])
    x = frame[feature_names].copy()
    x[cats] = x[cats].astype("string").astype(object)
    return pipe.fit(x, frame[label].to_numpy())


def baseline_predict(pipe: Pipeline, frame: pd.DataFrame, feature_names: list[str], categorical: list[str]) -> np.ndarray:
    """Baseline probabilities (same column preparation as in ``fit_baseline``)."""
    cats = [c for c in feature_names if c in categorical or not pd.api.types.is_numeric_dtype(frame[c])]
    x = frame[feature_names].copy()
    x[cats] = x[cats].astype("string").astype(object)
    return pipe.predict_proba(x)[:, 1]


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
                         fractions=fractions, seed=config.seed)
    if test is not None:
        splits.test = test
    for name in ("train", "valid", "calib", "test"):
        part = getattr(splits, name)
        if part.empty or part[label].nunique() < 2:
            raise ValueError(f"the {name} slice has {len(part)} rows and needs both classes; add data or dates")
    cats = list(categorical) + [c for c in vocabularies(frame, names) if c not in categorical]
    model = fit_booster(splits, label, names, cats, config)
    baseline = fit_baseline(pd.concat([splits.train, splits.valid]), label, names, cats)
    y = splits.test[label].to_numpy()
    report = evaluate.report(y, model.predict(splits.test))
    baseline_report = evaluate.report(y, baseline_predict(baseline, splits.test, names, cats))
    log.info("trained: auc %.4f (baseline %.4f), %d trees", report["auc"], baseline_report["auc"], model.best_iteration)
    return FitResult(model, baseline, report, baseline_report, splits)
