"""Uplift models in the model registry: their own folder, model card and the same promotion rules.

Layout under the churn registry ``root``::

    uplift/versions/<version>/treated.txt, control.txt          LightGBM text of each arm
    uplift/versions/<version>/treated_calibrator.json, ...      each arm's calibration map
    uplift/versions/<version>/card.json                         model card (kind "uplift", Qini, ...)
    uplift/promoted.json, uplift/audit.jsonl                    pointer and audit, as for churn

A candidate replaces the serving uplift model only when it is not worse (Qini coefficient not
lower, within ``tolerance``) on the metrics its card records, its feature list matches, or
``force`` (recorded); the audit line, card note and pointer move are ``registry.record_promotion``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.private_files import open_private, private_dir
from models import registry
from models.uplift import Recalibration, UpliftModel, UpliftScorer

FOLDER = "uplift"
ARMS = ("treated", "control")


@dataclass
class RegisteredUplift:
    """A stored uplift version: both arms and the card."""

    version: str
    model: UpliftModel
    card: dict[str, Any]

    def scorer(self) -> UpliftScorer:
        """The compiled online scorer of this version."""
        return UpliftScorer(self.model, version=self.version)


def uplift_root(root: str | Path) -> Path:
    """Where uplift versions live inside a registry folder."""
    return Path(root) / FOLDER


def save(root: str | Path, model: UpliftModel, *, metrics: dict[str, Any], fingerprint: str,
         extra: dict[str, Any] | None = None) -> str:
    """Store an uplift model as a new version under ``root/uplift``; returns the version id."""
    base_dir = uplift_root(root)
    private_dir(Path(root))  # the registry folder itself stays owner-only too
    version, staging, created = registry.new_version(base_dir, fingerprint)
    for name, arm in zip(ARMS, (model.treated, model.control)):
        with open_private(staging / f"{name}.txt", "w") as handle:
            handle.write(arm.booster.model_to_string())
        with open_private(staging / f"{name}_calibrator.json", "w") as handle:
            json.dump(arm.calibrator.to_dict(), handle)
    card = {
        "kind": "uplift", "learner": "T-learner (LightGBM per arm, calibrated per arm)",
        "version": version, "created_at": created.isoformat(), "feature_names": model.feature_names,
        "categorical": model.treated.categorical, "categories": model.treated.categories,
        "params": model.treated.params, "best_iteration": {name: arm.best_iteration for name, arm in
                                                           zip(ARMS, (model.treated, model.control))},
        "calibration": model.treated.calibrator.kind,
        "recalibration": {"slope": model.recalibration.slope, "offset": model.recalibration.offset},
        "metrics": metrics, "training_data_fingerprint": fingerprint,
        "output": "uplift = offset + slope * (P(good outcome | messaged) - P(good outcome | held out)), in probability",
        "library_versions": registry.library_versions(), "promotions": [], **(extra or {}),
    }
    return registry.publish_version(base_dir, version, staging, card)


def load(root: str | Path, version: str) -> RegisteredUplift:
    """Load one stored uplift version."""
    path, card = registry.read_card(uplift_root(root), version, "uplift model")
    arms = [registry.read_trained(path / f"{name}.txt", path / f"{name}_calibrator.json", card,
                                  card["best_iteration"][name]) for name in ARMS]
    # Versions stored before the difference was recalibrated serve it raw.
    recalibration = Recalibration(**card.get("recalibration", {}))
    return RegisteredUplift(version, UpliftModel(*arms, recalibration=recalibration), card)


def promoted_version(root: str | Path) -> str | None:
    """The serving uplift version, or None."""
    return registry.promoted_version(uplift_root(root))


def load_promoted(root: str | Path) -> RegisteredUplift | None:
    """The serving uplift model, or None when none is promoted."""
    version = promoted_version(root)
    return load(root, version) if version else None


def list_versions(root: str | Path) -> list[dict[str, Any]]:
    """Cards of all uplift versions, oldest first, the serving one marked."""
    return registry.list_versions(uplift_root(root))


def _gate(candidate: RegisteredUplift, current: RegisteredUplift, tolerance: float,
          force: bool) -> registry.PromotionResult:
    if candidate.model.feature_names != current.model.feature_names:
        text = "not comparable: its feature list differs from the serving uplift model's"
        return registry.PromotionResult(force, candidate.version, current.version, text, force)
    cand = {"qini": candidate.card["metrics"]["qini"]}
    cur = {"qini": current.card["metrics"]["qini"]}
    better = cand["qini"] >= cur["qini"] - tolerance
    text = (f"{'not worse' if better else 'worse'} on the metrics recorded in the model cards: "
            f"qini {cand['qini']:.5f} vs {cur['qini']:.5f}")
    return registry.PromotionResult(better or force, candidate.version, current.version, text, force and not better,
                                    cand, cur)


def promote(root: str | Path, version: str, *, tolerance: float = 0.0, force: bool = False,
            reason: str = "") -> registry.PromotionResult:
    """Point uplift serving at ``version`` if it is not worse than the current one (or ``force``)."""
    candidate = load(root, version)
    previous = promoted_version(root)
    if previous is None or previous == version:
        text = "no uplift model was serving" if previous is None else "already serving"
        result = registry.PromotionResult(True, version, previous, text)
    else:
        result = _gate(candidate, load(root, previous), tolerance, force)
    return registry.record_promotion(uplift_root(root), result, reason)
