# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Retrain the churn-risk model
#
# Load events, build the training table with the project's own feature code (the same fold the
# service runs online), train LightGBM beside the logistic baseline, look at ROC, calibration,
# importance and lift, compare with the serving model and promote through the gate.
#
# Parameters come from the environment so the test suite can run this on a small sample:
# `RETAIN_NOTEBOOK_EVENTS` (an events file; unset = run the simulator), `RETAIN_NOTEBOOK_CUSTOMERS`,
# `RETAIN_NOTEBOOK_DAYS`, `RETAIN_NOTEBOOK_SEED`, `RETAIN_NOTEBOOK_REGISTRY`.

# %% tags=["parameters"]
import os
from pathlib import Path

EVENTS = os.environ.get("RETAIN_NOTEBOOK_EVENTS") or None
CUSTOMERS = int(os.environ.get("RETAIN_NOTEBOOK_CUSTOMERS", "2000"))
DAYS = int(os.environ.get("RETAIN_NOTEBOOK_DAYS", "150"))
SEED = int(os.environ.get("RETAIN_NOTEBOOK_SEED", "0"))
REGISTRY = os.environ.get("RETAIN_NOTEBOOK_REGISTRY") or None
HORIZON_DAYS = 30.0

# %%
import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from models import evaluate, registry
from signals import features
from models.dataset import LabelSpec, build_dataset, fingerprint, load_events, observation_dates
from models.runs import Run
from models.train import baseline_predict, fit

if REGISTRY is None:
    from infra.settings import get_settings

    _settings = get_settings()
    REGISTRY = _settings.model_registry_dir or _settings.data_dir / "models"
REGISTRY = Path(REGISTRY)

# %% [markdown]
# ## 1. Events -> training table

# %%
if EVENTS:
    loaded = load_events(EVENTS, strict=False, progress=True)
    events = loaded.events
    first = min(e.occurred_at for e in events)
    last = max(e.occurred_at for e in events)
    label = LabelSpec("activity", HORIZON_DAYS)
    dates = observation_dates(first + dt.timedelta(days=features.USAGE_DAYS), last - dt.timedelta(days=HORIZON_DAYS), 7)
    table = build_dataset(events, dates, label)
    source = {"name": Path(EVENTS).name, "events": len(events), "rejected_events": len(loaded.rejected)}
else:
    from models.simulated import simulated_dataset

    data = simulated_dataset(CUSTOMERS, DAYS, SEED)
    table, label = data.table, data.label
    source = {"name": "simulated", "customers": CUSTOMERS, "days": DAYS, "seed": SEED, "events": len(data.events)}
print(f"{len(table)} rows, {table['customer_id'].nunique()} customers, churn rate {table['label'].mean():.3f}")
table.groupby("observed_at")["label"].agg(["size", "mean"])

# %% [markdown]
# ## 2. Train (time split with an embargo, customers split for early stopping and calibration)

# %%
result = fit(table, "label", feature_names=features.FEATURE_NAMES, categorical=features.CATEGORICAL_FEATURES,
             time_column="observed_at", group_column="customer_id", embargo=pd.Timedelta(days=label.horizon_days))
pd.DataFrame({"model": result.report, "baseline": result.baseline_report}).drop(index=["calibration"])

# %%
test = result.splits.test
y = test["label"].to_numpy()
p_model = result.model.predict(test)
p_base = baseline_predict(result.baseline, test, result.model.feature_names, result.model.categorical)

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, p in (("LightGBM", p_model), ("logistic baseline", p_base)):
    fpr, tpr, _ = roc_curve(y, p)
    axes[0].plot(fpr, tpr, label=f"{name} (AUC {evaluate.report(y, p)['auc']:.3f})")
    curve = evaluate.calibration_curve(y, p)
    axes[1].plot([c["predicted"] for c in curve], [c["observed"] for c in curve], marker="o", label=name)
    order = np.argsort(-p)
    axes[2].plot(np.arange(1, len(y) + 1) / len(y), np.cumsum(y[order]) / max(1, y.sum()), label=name)
axes[0].plot([0, 1], [0, 1], "k:")
axes[0].set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
axes[1].plot([0, 1], [0, 1], "k:")
axes[1].set(title="Calibration (test)", xlabel="predicted", ylabel="observed")
axes[2].plot([0, 1], [0, 1], "k:")
axes[2].set(title="Cumulative capture (lift)", xlabel="share contacted", ylabel="share of churners reached")
for ax in axes:
    ax.legend()
plt.show()

# %%
importance = pd.Series(result.model.booster.feature_importance("gain"), index=result.model.feature_names)
importance.sort_values().tail(15).plot.barh(figsize=(7, 5), title="Feature importance (gain)")
plt.show()

# %% [markdown]
# ## 3. Compare with the serving model on the same test rows, then promote through the gate

# %%
serving = registry.load_promoted(REGISTRY)
comparable = serving is not None and set(serving.model.feature_names) <= set(test.columns)
if comparable:
    comparison = {"candidate": evaluate.report(y, p_model), f"serving {serving.version}": evaluate.report(y, serving.model.predict(test))}
    display(pd.DataFrame(comparison).loc[["auc", "pr_auc", "brier", "lift_top10", "capture_top10"]])  # noqa: F821
else:
    print("no comparable serving model yet" if serving is None else f"serving {serving.version} uses other features")

# %%
run = Run(result, fingerprint(table), source)
version = registry.save_run(REGISTRY, run)
outcome = registry.promote(REGISTRY, version, holdout=test if comparable else None, reason="notebooks/retrain")
print(version, "promoted" if outcome.promoted else "kept the serving model", "-", outcome.reason)
