"""One uplift evaluation: train on some customers, compare targeting policies on the others.

Policies ranked on the held-out customers: the uplift model, churn risk (the churn model trained
on the same customers, as a rule's ``risk > x`` targets), random targeting (the mean over
``RANDOM_ORDERS`` random orders) and, on simulated data, the oracle (the true individual effect)
and the observable ceiling: a regression of the true effect on the same features, fitted on the
training customers. No learner can know the true effects, so the ceiling is out of reach too, but
it splits the gap to the oracle into what the features cannot tell (oracle - ceiling) and what the
learner leaves on the table (ceiling - model).
"""

from __future__ import annotations

import numpy as np

from models.dataset import fingerprint
from models.train import Splits, TrainConfig, fit_booster
from models.uplift import OUTCOME, TREATED, UpliftModel, fit_uplift, split_by_customer
from models.uplift_eval import compare, qini_coefficient, uplift_calibration

RANDOM_ORDERS = 20


def evaluate_table(table, feature_names, categorical, *, holdout_share: float = 0.3, budget: float = 0.2,
                   n_boot: int = 200, seed: int = 0, progress=None) -> tuple[dict, UpliftModel]:
    """Fit on ``1 - holdout_share`` of the customers; Qini etc. of every policy on the rest."""
    train, test = split_by_customer(table, holdout_share, salt=f"uplift-eval-{seed}")
    model = fit_uplift(train, feature_names, categorical=categorical)
    scores = {"uplift": model.predict(test)}
    if "label" in table:  # churn risk, as the churn model would rank them
        rest, calib = split_by_customer(train, 0.25, salt="risk-calib")
        risk = fit_booster(Splits(rest, rest.iloc[:0], calib, calib.iloc[:0]), "label", list(feature_names),
                           list(categorical), TrainConfig(), group_column="customer_id")
        scores["risk"] = risk.predict(test)
    truth = test["true_effect"].to_numpy() if "true_effect" in test else None
    if truth is not None:
        scores["oracle"] = truth
        scores["observable"] = observable_ceiling(train, test, feature_names, categorical)
    treated, outcome = test[TREATED].to_numpy(), test[OUTCOME].to_numpy()
    rng = np.random.default_rng(seed)
    random_scores = [rng.random(len(test)) for _ in range(RANDOM_ORDERS)]
    scores["random"] = random_scores[0]
    result = compare(scores, treated, outcome, groups=test["customer_id"].to_numpy(), true_effect=truth,
                     budget=budget, n_boot=n_boot, seed=seed, progress=progress)
    result["random"]["qini"] = float(np.mean([qini_coefficient(s, treated, outcome) for s in random_scores]))
    measured = outcome[treated == 1].mean() - outcome[treated == 0].mean()
    summary = {
        "qini": result["uplift"]["qini"], "qini_interval": result["uplift"]["qini_interval"],
        "qini_random": result["random"]["qini"], "qini_random_interval": result["random"]["qini_interval"],
        "auuc": result["uplift"]["auuc"], "auuc_random": result["random"]["auuc"],
        "predicted_mean_uplift": float(scores["uplift"].mean()), "measured_mean_uplift": float(measured),
        "uplift_calibration": uplift_calibration(scores["uplift"], treated, outcome),
        "budget_share": budget, "rows_train": int(len(train)), "rows_test": int(len(test)),
        "customers_test": result["customers"], "bootstrap": n_boot, "confidence": result["confidence"],
        "retained_per_1000_messages": {name: result[name]["retained_per_1000"] for name in scores},
        "retained_per_1000_basis": "true individual effects" if truth is not None else "measured arm difference",
        "fingerprint": fingerprint(table),
    }
    if "risk" in scores:
        summary.update(qini_risk_targeting=result["risk"]["qini"],
                       qini_risk_targeting_interval=result["risk"]["qini_interval"],
                       auuc_risk_targeting=result["risk"]["auuc"],
                       qini_minus_risk_targeting=result["uplift_minus"]["risk"]["qini"],
                       qini_minus_risk_targeting_interval=result["uplift_minus"]["risk"]["qini_interval"])
    if truth is not None:
        summary.update(oracle_qini=result["oracle"]["qini"], oracle_qini_interval=result["oracle"]["qini_interval"],
                       oracle_auuc=result["oracle"]["auuc"],
                       observable_ceiling_qini=result["observable"]["qini"],
                       observable_ceiling_qini_interval=result["observable"]["qini_interval"],
                       true_mean_uplift=float(truth.mean()))
    return summary, model


def observable_ceiling(train, test, feature_names, categorical) -> np.ndarray:
    """The true effect as the features can tell it: LightGBM regression on ``true_effect`` (simulated data only)."""
    import lightgbm as lgb

    from models.train import encode, vocabularies
    from models.tuning import dataset

    names = list(feature_names)
    categories = vocabularies(train, names)
    cats = [c for c in [*categorical, *categories] if c in names]
    x, y = encode(train, names, categories), train["true_effect"].to_numpy()
    # The target has no outcome noise, so a fixed, moderate number of trees does not chase any.
    params = {"objective": "regression", "num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 50,
              "verbose": -1, "seed": 0}
    return lgb.train(params, dataset(x, y, names, cats), num_boost_round=300).predict(encode(test, names, categories))
