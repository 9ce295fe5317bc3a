"""Uplift model: a T-learner on LightGBM, one calibrated classifier per arm, and its compiled scorer.

The training table has one row per engage/holdout decision (or simulated observation): features
at the decision, ``treated`` (1 = messaged, 0 = held out) and ``outcome`` (1 = the good outcome:
the goal reached, the customer retained). Each arm gets its own booster (``train.fit_booster``:
the same cross-validated early stopping and parameters as the churn model) and its own
calibrator, so ``uplift = P(good | messaged) - P(good | held out)`` is a difference of calibrated
probabilities, in probability points, positive when the message helps.

Why a T-learner on our own LightGBM rather than causalml: treatment is randomised by the rules'
deterministic holdouts (known propensity, no confounding to correct), which removes the main
advantage of the X-/DR-learners; two boosters reuse the churn model's training, calibration,
registry format and compiled scorer unchanged; causalml would pull in its own pinned stack
(torch/pygam/xgboost extras, a C extension built from source) for one difference of two models.

Online scoring (``UpliftScorer``) compiles both arms' trees into plain Python (``scorer.compile_trees``)
so one customer costs two compiled margins and two calibrator look-ups, no numpy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.scorer import compile_trees
from models.train import Splits, TrainConfig, TrainedModel, fit_booster, vocabularies

TREATED = "treated"
OUTCOME = "outcome"
# Uplift is a small difference of two noisy probabilities: shallow, heavily regularised trees.
UPLIFT_PARAMS: dict[str, Any] = {"num_leaves": 7, "max_depth": 4, "min_data_in_leaf": 200, "lambda_l2": 20.0}


@dataclass(frozen=True)
class Recalibration:
    """``offset + slope * raw``: the arms' difference put on the scale of effects measured on unseen customers.

    Each arm is calibrated alone, but the difference of two calibrated probabilities is not: both
    arms' errors land in it, so raw uplift is too spread and its mean drifts (on the default
    simulated shop it predicted +2.9 points where +1.5 was true). The slope and offset are the
    least-squares fit, over every training customer, of the doubly robust pseudo-outcome
    ``raw + T (Y - m1) / e - (1 - T) (Y - m0) / (1 - e)`` on ``raw = m1 - m0``, where ``m1, m0``
    are cross-fitted arm predictions (each row predicted by arms that never saw its customer) and
    ``e`` the treated share. Its expectation is the true effect when treatment is randomised, like
    the transformed outcome ``Y (T - e) / (e (1 - e))``, but only the arms' residuals carry noise:
    on the simulated shop the slope's standard error fell from about 0.3 to 0.15. With the intercept
    the mean prediction over the training rows equals their doubly robust (AIPW) effect estimate.
    The slope is kept positive so ranking (Qini) is unchanged.
    """

    slope: float = 1.0
    offset: float = 0.0

    def apply(self, raw: Any) -> Any:
        """Calibrated uplift for raw uplift (a float or an array)."""
        return self.offset + self.slope * raw


MIN_SLOPE, MAX_SLOPE = 0.05, 2.0
CROSS_FIT_FOLDS = 4


def fit_recalibration(p_treated: np.ndarray, p_control: np.ndarray, treated: np.ndarray,
                      outcome: np.ndarray) -> Recalibration:
    """The ``Recalibration`` of raw uplift from cross-fitted arm predictions and outcomes (see its docstring)."""
    p_treated, p_control, treated, outcome = (np.asarray(a, dtype=float) for a in
                                              (p_treated, p_control, treated, outcome))
    share = treated.mean() if len(treated) else 0.0
    if len(treated) < 2 or not 0.0 < share < 1.0:
        return Recalibration()
    raw = p_treated - p_control
    pseudo = raw + treated * (outcome - p_treated) / share - (1.0 - treated) * (outcome - p_control) / (1.0 - share)
    spread = raw.var()
    slope = float(np.cov(raw, pseudo, bias=True)[0, 1] / spread) if spread > 0 else 1.0
    slope = min(max(slope, MIN_SLOPE), MAX_SLOPE)
    return Recalibration(slope=slope, offset=float(pseudo.mean() - slope * raw.mean()))


@dataclass
class UpliftModel:
    """Two calibrated arms over the same feature vector, and the recalibration of their difference."""

    treated: TrainedModel
    control: TrainedModel
    recalibration: Recalibration = Recalibration()

    def __post_init__(self) -> None:
        if self.treated.feature_names != self.control.feature_names:
            raise ValueError("both arms of an uplift model must take the same features")

    @property
    def feature_names(self) -> list[str]:
        """The feature vector both arms take, in order."""
        return self.treated.feature_names

    def arms(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(P(good | messaged), P(good | held out)) per row."""
        return self.treated.predict(frame), self.control.predict(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Uplift per row in probability (multiply by 100 for points)."""
        p_treated, p_control = self.arms(frame)
        return self.recalibration.apply(p_treated - p_control)


def in_share(key: str, share: float, salt: str = "") -> bool:
    """A deterministic coin: True for about ``share`` of keys (same key, same answer)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split_by_customer(frame: pd.DataFrame, share: float, salt: str,
                      column: str = "customer_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, slice): about ``share`` of the customers (all their rows) go to the slice."""
    chosen = frame[column].astype(str).map(lambda key: in_share(key, share, salt))
    return frame[~chosen], frame[chosen]


def fit_uplift(frame: pd.DataFrame, feature_names: Sequence[str], *, categorical: Sequence[str] = (),
               treated: str = TREATED, outcome: str = OUTCOME, config: TrainConfig | None = None,
               calib_share: float = 0.25, folds: int = CROSS_FIT_FOLDS) -> UpliftModel:
    """Fit both arms on every row, then recalibrate their difference from ``folds`` cross-fitted copies.

    Each arm's calibrator is fitted on about ``calib_share`` of its customers kept from its trees.
    The recalibration needs, for every training row, arm predictions from trees that never saw
    its customer: the rows are split by customer into ``folds`` and each fold is predicted by arms
    fitted on the others (``folds`` extra fits of two small boosters).
    """
    names = list(feature_names)
    config = config or TrainConfig(params={**TrainConfig().params, **UPLIFT_PARAMS})
    categories = vocabularies(frame, names)
    cats = list(categorical) + [c for c in categories if c not in categorical]
    model = UpliftModel(*_fit_arms(frame, names, cats, categories, treated, outcome, config, calib_share))
    held = _cross_fitted_arms(frame, names, cats, categories, treated, outcome, config, calib_share, folds)
    if held is None:
        return model
    return UpliftModel(model.treated, model.control,
                       recalibration=fit_recalibration(*held, frame[treated].to_numpy(), frame[outcome].to_numpy()))


def _fit_arms(frame: pd.DataFrame, names: list[str], cats: list[str], categories: dict[str, list[str]], treated: str,
              outcome: str, config: TrainConfig, calib_share: float) -> list[TrainedModel]:
    arms = []
    for flag in (1, 0):
        rows = frame[frame[treated] == flag]
        if rows[outcome].nunique() < 2:
            raise ValueError(f"the {'messaged' if flag else 'held-out'} arm has {len(rows)} rows and needs "
                             "both outcomes; add decisions or widen the window")
        train, calib = split_by_customer(rows, calib_share, salt=f"calib-{flag}")
        splits = Splits(train=train, valid=train.iloc[:0], calib=calib, test=calib.iloc[:0])
        model = fit_booster(splits, outcome, names, cats, config, group_column="customer_id")
        model.categories = categories or model.categories
        arms.append(model)
    return arms


def _cross_fitted_arms(frame: pd.DataFrame, names: list[str], cats: list[str], categories: dict[str, list[str]],
                       treated: str, outcome: str, config: TrainConfig, calib_share: float,
                       folds: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(P(good | messaged), P(good | held out)) per row from arms that never saw the row's customer.

    None when a fold leaves an arm without both outcomes (too few rows to cross-fit): the model
    then serves the raw difference, as versions before recalibration did.
    """
    fold = frame["customer_id"].astype(str).map(lambda key: _fold_of(key, folds)).to_numpy()
    p_treated, p_control = np.zeros(len(frame)), np.zeros(len(frame))
    for k in range(folds):
        inside = fold == k
        try:
            arms = UpliftModel(*_fit_arms(frame[~inside], names, cats, categories, treated, outcome, config,
                                          calib_share))
        except ValueError:
            return None
        if inside.any():
            p_treated[inside], p_control[inside] = arms.arms(frame[inside])
    return p_treated, p_control


def _fold_of(customer: str, folds: int) -> int:
    return int.from_bytes(hashlib.sha256(f"cross-fit:{customer}".encode()).digest()[:8], "big") % folds


class UpliftScorer:
    """One feature vector -> uplift in probability, from both arms' compiled trees."""

    def __init__(self, model: UpliftModel, *, version: str | None = None) -> None:
        self.model, self.version = model, version
        self.feature_names = model.feature_names
        self._treated, _, _ = compile_trees(model.treated.booster.dump_model(), record=False)
        self._control, _, _ = compile_trees(model.control.booster.dump_model(), record=False)
        self._cal_treated: Calibrator = model.treated.calibrator
        self._cal_control: Calibrator = model.control.calibrator
        self._recalibration = model.recalibration

    def uplift(self, vector: Sequence[float]) -> float:
        """P(good | messaged) - P(good | held out) for one vector in ``feature_names`` order."""
        if len(vector) != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} features, got {len(vector)}")
        x = vector.tolist() if isinstance(vector, np.ndarray) else vector
        raw = self._cal_treated.apply_one(self._treated(x)) - self._cal_control.apply_one(self._control(x))
        return self._recalibration.offset + self._recalibration.slope * raw

    def uplift_batch(self, matrix: Any) -> np.ndarray:
        """Uplift for a 2-D float matrix (rows in ``feature_names`` order), through LightGBM in bulk."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        treated = self._cal_treated.apply(self.model.treated.booster.predict(matrix, raw_score=True))
        control = self._cal_control.apply(self.model.control.booster.predict(matrix, raw_score=True))
        return self.model.recalibration.apply(treated - control)


class ScorerWithUplift:
    """The churn scorer plus the uplift scorer behind one ``score``: what the decision stage serves.

    ``uplift_points(vector)`` takes the churn scorer's feature vector (reordered when the uplift
    model was trained on another order) and returns uplift in probability points.
    """

    def __init__(self, churn: Any, uplift: UpliftScorer) -> None:
        self.churn, self.uplift_scorer = churn, uplift
        self.feature_names = list(churn.feature_names)
        self.version = getattr(churn, "version", None)
        position = {name: i for i, name in enumerate(self.feature_names)}
        missing = [name for name in uplift.feature_names if name not in position]
        if missing:
            raise ValueError(f"the uplift model needs features the churn scorer does not take: {missing[:5]}")
        order = [position[name] for name in uplift.feature_names]
        self._order = None if order == list(range(len(self.feature_names))) else order

    def score(self, vector: Sequence[float], **kwargs: Any) -> Any:
        """The churn scorer's ``Score``."""
        return self.churn.score(vector, **kwargs)

    def uplift_points(self, vector: Sequence[float]) -> float:
        """Uplift in probability points for the churn scorer's vector."""
        x = vector.tolist() if isinstance(vector, np.ndarray) else vector
        if self._order is not None:
            x = [x[i] for i in self._order]
        return 100.0 * self.uplift_scorer.uplift(x)
