"""Versioned model artifacts on disk, gated promotion, and a serving holder that hot-reloads.

Layout of a registry directory::

    versions/<version>/model.txt         LightGBM model text
    versions/<version>/calibrator.json   calibration map (plain JSON)
    versions/<version>/card.json         model card: metrics, features, fingerprint, params, versions
    promoted.json                        the serving pointer {"version", "promoted_at", "forced"}
    audit.jsonl                          one line per promotion attempt, accepted or refused

A candidate replaces the serving model only when it is not worse on the holdout (AUC not lower,
Brier not higher, within ``tolerance``) or when ``force=True``, which is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn

from infra.private_files import open_private, private_dir
from models import evaluate
from models.calibration import Calibrator
from models.scorer import DEFAULT_BUCKETS, DEFAULT_CUT_POINTS, Scorer
from models.train import TrainedModel

log = logging.getLogger(__name__)

POINTER = "promoted.json"
AUDIT = "audit.jsonl"


def _write_json(path: Path, data: Any) -> None:
    # Write-then-rename so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def library_versions() -> dict[str, str]:
    """Versions that produced an artifact (LightGBM text can change between releases)."""
    return {"lightgbm": lgb.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


@dataclass
class RegisteredModel:
    """A stored version: the trained model and its card."""

    version: str
    model: TrainedModel
    card: dict[str, Any]

    def scorer(self, cut_points: Sequence[float] = DEFAULT_CUT_POINTS, buckets: Sequence[str] = DEFAULT_BUCKETS) -> Scorer:
        """A compiled online scorer for this version."""
        return Scorer(self.model.booster, self.model.calibrator, self.model.feature_names,
                      cut_points=cut_points, buckets=buckets, version=self.version)


@dataclass
class PromotionResult:
    """What ``promote`` decided and why."""

    promoted: bool
    version: str
    previous: str | None
    reason: str
    forced: bool = False
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    current_metrics: dict[str, float] = field(default_factory=dict)


def save(
    root: str | Path,
    model: TrainedModel,
    *,
    metrics: dict[str, Any],
    fingerprint: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """Store a trained model as a new version; returns the version id."""
    root = Path(root)
    version, staging, created = new_version(root, fingerprint)
    with open_private(staging / "model.txt", "w") as handle:  # mkdtemp's folder and mkstemp's files are 0700/0600
        handle.write(model.booster.model_to_string())
    _write_json(staging / "calibrator.json", model.calibrator.to_dict())
    card = {
        "version": version,
        "created_at": created.isoformat(),
        "feature_names": model.feature_names,
        "categorical": model.categorical,
        "categories": model.categories,
        "params": model.params,
        "best_iteration": model.best_iteration,
        "calibration": model.calibrator.kind,
        "metrics": metrics,
        "training_data_fingerprint": fingerprint,
        "library_versions": library_versions(),
        "promotions": [],
        **(extra or {}),
    }
    return publish_version(root, version, staging, card)


def new_version(root: Path, fingerprint: str) -> tuple[str, Path, dt.datetime]:
    """(version id, private staging folder, creation time) for a new version under ``root/versions``."""
    private_dir(root)
    private_dir(root / "versions")
    created = dt.datetime.now(dt.timezone.utc)
    base = f"{created:%Y%m%dT%H%M%S}-{fingerprint[:8]}"
    version, n = base, 1
    while (root / "versions" / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version, Path(tempfile.mkdtemp(dir=root / "versions", prefix=".staging-")), created


def publish_version(root: Path, version: str, staging: Path, card: dict[str, Any]) -> str:
    """Write the card and move the staged folder into place in one rename (readers never see half)."""
    _write_json(staging / "card.json", card)
    os.replace(staging, root / "versions" / version)
    return version


def read_card(root: Path, version: str, what: str = "model") -> tuple[Path, dict[str, Any]]:
    """(folder, card) of a stored version; FileNotFoundError naming it when absent."""
    path = root / "versions" / version
    if not (path / "card.json").exists():
        raise FileNotFoundError(f"no {what} version {version!r} in {root}")
    return path, json.loads((path / "card.json").read_text())


def load(root: str | Path, version: str) -> RegisteredModel:
    """Load one stored version."""
    path, card = read_card(Path(root), version)
    model = read_trained(path / "model.txt", path / "calibrator.json", card, card["best_iteration"])
    return RegisteredModel(version, model, card)


def read_trained(model_file: Path, calibrator_file: Path, card: dict[str, Any], best_iteration: int) -> TrainedModel:
    """A stored booster and calibrator with the feature facts of its card (churn models and uplift arms)."""
    booster = lgb.Booster(model_str=model_file.read_text())
    calibrator = Calibrator.from_dict(json.loads(calibrator_file.read_text()))
    return TrainedModel(booster, calibrator, card["feature_names"], card["categorical"], card["categories"],
                        card["params"], best_iteration)


def promoted_version(root: str | Path) -> str | None:
    """The version the pointer names, or None before the first promotion."""
    pointer = Path(root) / POINTER
    return json.loads(pointer.read_text())["version"] if pointer.exists() else None


def load_promoted(root: str | Path) -> RegisteredModel | None:
    """The serving model, or None when nothing is promoted yet."""
    version = promoted_version(root)
    return load(root, version) if version else None


def list_versions(root: str | Path) -> list[dict[str, Any]]:
    """Cards of all versions, oldest first, each with ``promoted`` set on the serving one."""
    base = Path(root) / "versions"
    current = promoted_version(root)
    cards = [json.loads(p.read_text()) for p in sorted(base.glob("*/card.json"))] if base.exists() else []
    for card in cards:
        card["promoted"] = card["version"] == current
    return cards


def _holdout_metrics(registered: RegisteredModel, holdout: pd.DataFrame, label: str) -> dict[str, float]:
    missing = [c for c in registered.model.feature_names if c not in holdout]
    if missing:
        raise ValueError(f"holdout lacks features of version {registered.version}: {missing[:5]}")
    full = evaluate.report(holdout[label].to_numpy(), registered.model.predict(holdout))
    return {"auc": full["auc"], "brier": full["brier"]}


def _gate(candidate: RegisteredModel, current: RegisteredModel, holdout: pd.DataFrame | None, label: str,
          tolerance: float, force: bool) -> PromotionResult:
    """Compare a candidate with the serving model: on ``holdout`` if given, else on the cards."""
    if candidate.model.feature_names != current.model.feature_names:
        # Different inputs: the online feature vector cannot feed both, so no silent swap.
        text = "not comparable: its feature list differs from the serving model's"
        return PromotionResult(force, candidate.version, current.version, text, force)
    if holdout is not None:
        cand, cur = _holdout_metrics(candidate, holdout, label), _holdout_metrics(current, holdout, label)
        basis = f"on a holdout of {len(holdout)} rows"
    else:
        cand = {k: candidate.card["metrics"][k] for k in ("auc", "brier")}
        cur = {k: current.card["metrics"][k] for k in ("auc", "brier")}
        basis = "on the metrics recorded in the model cards"
    better = cand["auc"] >= cur["auc"] - tolerance and cand["brier"] <= cur["brier"] + tolerance
    text = (f"{'not worse' if better else 'worse'} {basis}: auc {cand['auc']:.4f} vs {cur['auc']:.4f}, "
            f"brier {cand['brier']:.4f} vs {cur['brier']:.4f}")
    return PromotionResult(better or force, candidate.version, current.version, text, force and not better, cand, cur)


def promote(
    root: str | Path,
    version: str,
    *,
    holdout: pd.DataFrame | None = None,
    label: str = "label",
    tolerance: float = 0.0,
    force: bool = False,
    reason: str = "",
) -> PromotionResult:
    """Point serving at ``version`` if it is not worse than the current model (or ``force``)."""
    root = Path(root)
    candidate = load(root, version)
    previous = promoted_version(root)
    if previous is None or previous == version:
        result = PromotionResult(True, version, previous, "no model was serving" if previous is None else "already serving")
    else:
        result = _gate(candidate, load(root, previous), holdout, label, tolerance, force)
    return record_promotion(root, result, reason)


def record_promotion(root: Path, result: PromotionResult, reason: str = "") -> PromotionResult:
    """Audit a gate's decision, note it on the version's card and move the pointer when promoted.

    Shared by every kind of model kept in a registry folder (churn here, uplift in ``models.uplift_registry``).
    """
    version, previous = result.version, result.previous
    if reason:
        result.reason += f"; {reason}"
    entry = {"at": _now(), "version": version, "previous": previous, "promoted": result.promoted,
             "forced": result.forced, "reason": result.reason,
             "candidate_metrics": result.candidate_metrics, "current_metrics": result.current_metrics}
    private_dir(root)
    with open_private(root / AUDIT, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
    card_path = root / "versions" / version / "card.json"
    card = json.loads(card_path.read_text())
    card.setdefault("promotions", []).append(entry)
    _write_json(card_path, card)
    if result.promoted and previous != version:
        _write_json(root / POINTER, {"version": version, "promoted_at": entry["at"], "forced": result.forced})
    return result


def save_run(root: str | Path, run: Any) -> str:
    """Store a ``models.runs.Run`` (model, test metrics, baseline metrics, dataset) as a new version."""
    result = run.result
    metrics = {**result.report, **run.extra_metrics}
    summary = {k: v for k, v in run.summary.items() if k != "tuning"}
    extra = {"baseline_metrics": result.baseline_report, "dataset": run.dataset,
             "slices": {k: len(getattr(result.splits, k)) for k in ("train", "valid", "calib", "test")},
             "dates": result.splits.dates, "feature_spec": run.feature_spec, "tuning": result.model.tuning,
             "evaluation": summary}
    return save(root, result.model, metrics=metrics, fingerprint=run.fingerprint, extra=extra)


def ensure_model(root: str | Path, *, customers: int = 2000, days: int = 150, seed: int = 0,
                 progress: bool = True, spec: Any = None) -> str:
    """The serving version; when nothing is promoted yet, train one on the simulator (with the
    feature ``spec`` the service runs, default the built-in one) and promote it."""
    current = promoted_version(root)
    if current is not None:
        return current
    from models.runs import run_simulated  # late: only a cold start pays for the simulator

    version = save_run(root, run_simulated(customers, days, seed, folds=1, spec=spec, progress=progress))
    promote(root, version, reason="first model, trained on simulated events by ensure_model")
    return version
