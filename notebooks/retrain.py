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
# Extend the feature spec (no fold code to touch), build the training table with the project's
# own streaming builder (the same compiled fold the service runs online), evaluate LightGBM beside
# the logistic baseline over several observation dates (rolling origin, each with its own
# embargo), with bootstrap intervals and the tuner's trials, compare with the serving model and
# promote through the gate.
#
# Parameters come from the environment so the test suite can run this on a small sample:
# `RETAIN_NOTEBOOK_EVENTS` (an events file; unset = run the simulator), `RETAIN_NOTEBOOK_SCENARIO`
# (simulator: default, product or shop), `RETAIN_NOTEBOOK_CUSTOMERS`, `RETAIN_NOTEBOOK_DAYS`,
# `RETAIN_NOTEBOOK_SEED`, `RETAIN_NOTEBOOK_REGISTRY`, `RETAIN_NOTEBOOK_TUNE_SECONDS`,
# `RETAIN_NOTEBOOK_FOLDS`.

# %% tags=["parameters"]
import os
from pathlib import Path

EVENTS = os.environ.get("RETAIN_NOTEBOOK_EVENTS") or None
SCENARIO = os.environ.get("RETAIN_NOTEBOOK_SCENARIO", "product")
CUSTOMERS = int(os.environ.get("RETAIN_NOTEBOOK_CUSTOMERS", "3000"))
DAYS = int(os.environ.get("RETAIN_NOTEBOOK_DAYS", "180"))
SEED = int(os.environ.get("RETAIN_NOTEBOOK_SEED", "0"))
REGISTRY = os.environ.get("RETAIN_NOTEBOOK_REGISTRY") or None
TUNE_SECONDS = float(os.environ.get("RETAIN_NOTEBOOK_TUNE_SECONDS", "120"))
FOLDS = int(os.environ.get("RETAIN_NOTEBOOK_FOLDS", "3"))
HORIZON_DAYS = 30.0

# %%
import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_curve

from models import evaluate, registry
from models.dataset import DatasetBuilder, LabelSpec, fingerprint
from models.events_file import LoadReport, iter_events
from models.runs import Run
from models.schedule import observation_dates
from models.train import TrainConfig
from models.validation import rolling_evaluate
from signals import features

if REGISTRY is None:
    from infra.settings import get_settings

    _settings = get_settings()
    REGISTRY = _settings.model_registry_dir or _settings.data_dir / "models"
REGISTRY = Path(REGISTRY)

# %% [markdown]
# ## 1. The feature spec: the built-in one, the product's own features, one metric of our own
#
# `usage_features` adds, per product feature found in the events, its uses over 28 days, its trend
# against the customer's own baseline and the days since it was last used. The extra metric is
# declared, not coded: the compiled fold computes it online and offline alike.

# %%
if EVENTS:
    product_features = features.discover_usage_features(iter_events(EVENTS, LoadReport(), strict=False))
else:
    from models.simulated import spec_for

    product_features = list(spec_for(SCENARIO, CUSTOMERS, SEED).spec.usage_features.names)
spec_data = features.builtin_spec().with_usage_features(product_features).to_dict()
spec_data["windows"]["3d"] = 3
spec_data["metrics"].append({"name": "sessions_trend_3d", "kind": "trend", "event": "product.usage",
                             "property": "sessions", "recent": "3d", "baseline": "28d"})
spec = features.CompiledSpec(features.parse_spec(spec_data))
print(yaml.safe_dump({k: spec_data[k] for k in ("windows", "metrics", "usage_features")}, sort_keys=False))
print(f"{len(spec.FEATURE_NAMES)} features ({len(features.core.FEATURE_NAMES)} core), spec {spec.fingerprint}; declared:")
print(", ".join(spec.FEATURE_NAMES[len(features.core.FEATURE_NAMES):]))

# %% [markdown]
# ## 2. Events -> training table (one pass, memory bounded by customers)

# %%
if EVENTS:
    report = LoadReport()
    first = min(e.occurred_at for e in iter_events(EVENTS, LoadReport(), strict=False))
    last = max(e.occurred_at for e in iter_events(EVENTS, LoadReport(), strict=False))
    label = LabelSpec("activity", HORIZON_DAYS)
    dates = observation_dates(first + dt.timedelta(days=features.USAGE_DAYS), last - dt.timedelta(days=HORIZON_DAYS), 7)
    blocks = []
    builder = DatasetBuilder(dates, label, spec, on_block=blocks.append)
    for event in iter_events(EVENTS, report, strict=False, progress=True):
        builder.add(event)
    builder.finish()
    table = pd.concat(blocks, ignore_index=True)
    oracle = None
    source = {"name": Path(EVENTS).name, "events": report.read, "rejected_events": report.rejected}
    print(report.describe() or "no rejected events")
else:
    from models.simulated import simulated_dataset

    data = simulated_dataset(CUSTOMERS, DAYS, SEED, scenario=SCENARIO, spec=spec)
    table, label, oracle = data.table, data.label, "true_probability"
    source = {"name": f"simulated-{SCENARIO}", "customers": CUSTOMERS, "days": DAYS, "seed": SEED, "events": data.events}
print(f"{len(table)} rows, {table['customer_id'].nunique()} customers, churn rate {table['label'].mean():.3f}")
table.groupby("observed_at")["label"].agg(["size", "mean"])

# %% [markdown]
# ## 3. Rolling-origin evaluation with tuned parameters
#
# One fold per test date (the latest `FOLDS` dates); each trains only on rows whose 30-day label
# window ends by its test date. Parameters are tuned once by Optuna's LightGBM tuner on the first
# fold's training rows, within `TUNE_SECONDS`.

# %%
evaluation = rolling_evaluate(table, "label", horizon_days=label.horizon_days, feature_names=spec.FEATURE_NAMES,
                              categorical=spec.CATEGORICAL_FEATURES, folds=FOLDS, oracle_column=oracle,
                              config=TrainConfig(tune_seconds=TUNE_SECONDS), progress=True)
summary = evaluation.summary
pd.DataFrame([{**{k: v for k, v in f.items() if k != "dates"}, "train dates": len(f["dates"]["train"]),
               "embargoed": ", ".join(d[:10] for d in f["dates"]["embargoed"])} for f in summary["folds"]])

# %%
low, high = summary["auc_diff_ci"]
print(f"pooled over {summary['n_test']} test rows: AUC {summary['auc']:.4f} vs baseline {summary['baseline_auc']:.4f}, "
      f"difference {summary['auc_diff']:+.4f} (95 % interval {low:+.4f} .. {high:+.4f})")
print(summary["verdict"])
print(f"Brier {summary['brier']:.4f} vs {summary['baseline_brier']:.4f}")
if "oracle_ratio" in summary:
    print(f"oracle AUC {summary['oracle_auc']:.4f}: ratio {summary['oracle_ratio']:.3f}")
print("bar to clear:", summary["bar"])

# %%
trials = pd.DataFrame(evaluation.tuning.get("trial_log", []))
if not trials.empty:
    ax = trials.plot.scatter(x="number", y="cv_logloss", c=pd.factorize(trials["stage"])[0], cmap="tab10",
                             figsize=(7, 3), title=f"tuner trials ({evaluation.tuning['chosen']} kept)")
    ax.axhline(evaluation.tuning["default_cv_logloss"], color="k", linestyle=":", label="fixed defaults")
    ax.legend()
    plt.show()
print({k: v for k, v in evaluation.tuning.items() if k != "trial_log"})

# %%
pooled = evaluation.pooled
y = pooled["label"].to_numpy()
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, column in (("LightGBM", "p_model"), ("logistic baseline", "p_baseline")):
    p = pooled[column].to_numpy()
    fpr, tpr, _ = roc_curve(y, p)
    axes[0].plot(fpr, tpr, label=f"{name} (AUC {evaluate.report(y, p)['auc']:.3f})")
    curve = evaluate.calibration_curve(y, p)
    axes[1].plot([c["predicted"] for c in curve], [c["observed"] for c in curve], marker="o", label=name)
    order = np.argsort(-p)
    axes[2].plot(np.arange(1, len(y) + 1) / len(y), np.cumsum(y[order]) / max(1, y.sum()), label=name)
axes[0].plot([0, 1], [0, 1], "k:")
axes[0].set(title="ROC (pooled folds)", xlabel="false positive rate", ylabel="true positive rate")
axes[1].plot([0, 1], [0, 1], "k:")
axes[1].set(title="Calibration", xlabel="predicted", ylabel="observed")
axes[2].plot([0, 1], [0, 1], "k:")
axes[2].set(title="Cumulative capture (lift)", xlabel="share contacted", ylabel="share of churners reached")
for ax in axes:
    ax.legend()
plt.show()

# %%
result = evaluation.last
importance = pd.Series(result.model.booster.feature_importance("gain"), index=result.model.feature_names)
importance.sort_values().tail(15).plot.barh(figsize=(7, 5), title="Feature importance (gain), latest fold")
plt.show()

# %% [markdown]
# ## 4. Compare with the serving model on the same test rows, then promote through the gate
#
# A model that takes other features than the serving one cannot replace it silently: the worker's
# fold must compute its columns first (`RETAIN_FEATURE_SPEC` pointing at the spec saved below).

# %%
test = result.splits.test
serving = registry.load_promoted(REGISTRY)
comparable = serving is not None and set(serving.model.feature_names) <= set(test.columns)
if comparable:
    y_test = test["label"].to_numpy()
    comparison = {"candidate": evaluate.report(y_test, result.model.predict(test)),
                  f"serving {serving.version}": evaluate.report(y_test, serving.model.predict(test))}
    display(pd.DataFrame(comparison).loc[["auc", "pr_auc", "brier", "lift_top10", "capture_top10"]])  # noqa: F821
else:
    print("no comparable serving model yet" if serving is None else f"serving {serving.version} uses other features")

# %%
run = Run(result, fingerprint(table), source, evaluation, feature_spec=spec.spec.to_dict())
version = registry.save_run(REGISTRY, run)
spec_file = REGISTRY / "versions" / version / "feature_spec.yaml"
spec_file.write_text(yaml.safe_dump(spec.spec.to_dict(), sort_keys=False))
outcome = registry.promote(REGISTRY, version, holdout=test if comparable else None, reason="notebooks/retrain")
print(version, "promoted" if outcome.promoted else "kept the serving model", "-", outcome.reason)
print(f"to serve it, the worker needs RETAIN_FEATURE_SPEC={spec_file}")

# %% [markdown]
# ## 5. Uplift: message the persuadable, not just the risky
#
# The churn model ranks who is likely to leave; the uplift model ranks whom a message changes:
# `P(stays | messaged) - P(stays | held out)`. It learns from randomised messages (the rules'
# holdouts; here the default simulator, whose labels carry each customer's true effect), trained
# on some customers and compared on the others: Qini curves of the uplift model, of churn-risk
# targeting (the simulator's true risk: the best any churn model could rank) and of random
# targeting, with the oracle (the true effect) as the ceiling. `RETAIN_NOTEBOOK_UPLIFT_BOOTSTRAP`
# sets the bootstrap resamples.

# %%
from models import uplift_registry
from models.uplift import split_by_customer
from models.uplift_eval import qini_curve, retained_per_1000
from models.uplift_runs import evaluate_table
from models.uplift_simulated import simulated_uplift

UPLIFT_BOOTSTRAP = int(os.environ.get("RETAIN_NOTEBOOK_UPLIFT_BOOTSTRAP", "100"))
uplift_data = simulated_uplift(CUSTOMERS, DAYS, SEED, progress=False)
uplift_summary, uplift_model = evaluate_table(uplift_data.table, uplift_data.feature_names, uplift_data.categorical,
                                              holdout_share=0.3, budget=0.2, n_boot=UPLIFT_BOOTSTRAP, seed=SEED)
print(f"uplift qini {uplift_summary['qini']:.5f} (95 % interval {uplift_summary['qini_interval']}), "
      f"risk targeting {uplift_summary.get('qini_risk_targeting', float('nan')):.5f}, "
      f"random {uplift_summary['qini_random']:.5f}, oracle {uplift_summary['oracle_qini']:.5f}")

# %%
# The held-out customers evaluate_table compared the policies on (same split, same salt).
_, uplift_test = split_by_customer(uplift_data.table, 0.3, salt=f"uplift-eval-{SEED}")
treated, stayed = uplift_test["treated"].to_numpy(), uplift_test["outcome"].to_numpy()
policies = {"uplift model": uplift_model.predict(uplift_test), "churn risk (true)": uplift_test["true_probability"],
            "oracle (true effect)": uplift_test["true_effect"],
            "random": np.random.default_rng(SEED).random(len(uplift_test))}
fig, ax = plt.subplots(figsize=(6, 4))
for name, score in policies.items():
    curve = qini_curve(np.asarray(score), treated, stayed)
    ax.plot(np.linspace(0, 1, len(curve)), curve, label=name)
ax.set(title="Qini curves, held-out customers", xlabel="share messaged", ylabel="incremental retained / customers")
ax.legend()
plt.show()

# %% [markdown]
# Targeting policies at the same budget (the top 20 % messaged): customers retained per 1,000
# messages, counted with the simulator's true effects.

# %%
truth = uplift_test["true_effect"].to_numpy()
display(pd.DataFrame({name: {"retained per 1,000 messages": retained_per_1000(np.asarray(score), 0.2, true_effect=truth)}  # noqa: F821
                      for name, score in policies.items()}).T)

# %% [markdown]
# Store the uplift model with its own card and promote it through the same gate (Qini not worse
# than the serving uplift model's, same features). Once promoted, the decision stage fills
# `risk.uplift` (points) for rules and records it on every decision.

# %%
uplift_metrics = {k: v for k, v in uplift_summary.items() if k.startswith(("qini", "auuc", "oracle", "retained"))}
uplift_version = uplift_registry.save(REGISTRY, uplift_model, metrics=uplift_metrics,
                                      fingerprint=uplift_summary["fingerprint"], extra={"dataset": uplift_data.source})
uplift_outcome = uplift_registry.promote(REGISTRY, uplift_version, reason="notebooks/retrain")
print("uplift", uplift_version, "promoted" if uplift_outcome.promoted else "kept the serving uplift model", "-",
      uplift_outcome.reason)
