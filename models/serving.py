"""The model a worker serves: the promoted churn scorer, with the promoted uplift model beside it.

Kept apart from the registries it reads (``models.registry`` for churn, ``models.uplift_registry``
for uplift) so neither registry has to know the other.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

from models import uplift_registry
from models.registry import POINTER, load_promoted
from models.scorer import DEFAULT_BUCKETS, DEFAULT_CUT_POINTS, Scorer
from models.uplift import ScorerWithUplift
from signals.features import FEATURE_NAMES

log = logging.getLogger(__name__)


class ServingModel:
    """Holds the promoted scorer and swaps it when the pointer file changes (no restart).

    A promoted uplift model (``models.uplift_registry``, under ``root/uplift``) is served with it:
    the scorer is then a ``models.uplift.ScorerWithUplift`` whose ``uplift_points`` fills
    ``Risk.uplift``; its pointer is watched the same way. Only models taking ``expect_features`` (default: the online feature vector of
    ``signals.features``) are served. The pointer is stat-ed at most every ``check_interval`` seconds; a changed mtime or size
    triggers a reload (the pointer is always replaced by rename). Until a model is promoted, ``scorer`` is None.
    """

    def __init__(self, root: str | Path, *, cut_points: Sequence[float] = DEFAULT_CUT_POINTS,
                 buckets: Sequence[str] = DEFAULT_BUCKETS, check_interval: float = 1.0,
                 expect_features: Sequence[str] | None = FEATURE_NAMES) -> None:
        self.root = Path(root)
        self.expect_features = list(expect_features) if expect_features is not None else None
        self.cut_points, self.buckets, self.check_interval = list(cut_points), list(buckets), check_interval
        self._stamp: tuple[Any, Any] | None = None
        self._checked = float("-inf")
        self._scorer: Any = None  # a Scorer, or a ScorerWithUplift when an uplift model is promoted

    def _pointer_stamp(self) -> tuple[Any, Any] | None:
        stamps = []
        for pointer in (self.root / POINTER, self.root / "uplift" / POINTER):
            try:
                st = os.stat(pointer)
            except FileNotFoundError:
                stamps.append(None)
                continue
            # The pointer is replaced by rename, so a new promotion always brings a new inode.
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return None if stamps[0] is None else (stamps[0], stamps[1])

    def refresh(self) -> bool:
        """Reload if the pointer changed since the last load; True when a new model was loaded."""
        self._checked = time.monotonic()
        stamp = self._pointer_stamp()
        if stamp == self._stamp:
            return False
        registered = load_promoted(self.root)
        self._stamp = stamp
        if registered is not None and self.expect_features is not None and registered.model.feature_names != self.expect_features:
            log.error("promoted model %s does not take the online feature vector; not serving it", registered.version)
            registered = None
        self._scorer = registered.scorer(self.cut_points, self.buckets) if registered else None
        if self._scorer is not None and stamp is not None and stamp[1] is not None:
            self._scorer = self._with_uplift(self._scorer)
        return True

    def _with_uplift(self, scorer: Scorer) -> Any:
        uplift = uplift_registry.load_promoted(self.root)
        if uplift is None:
            return scorer
        try:
            return ScorerWithUplift(scorer, uplift.scorer())
        except ValueError as exc:
            log.error("promoted uplift model %s is not served: %s", uplift.version, exc)
            return scorer

    @property
    def scorer(self) -> Any:
        """The current scorer (re-checking the pointer when ``check_interval`` has passed)."""
        if time.monotonic() - self._checked >= self.check_interval:
            self.refresh()
        return self._scorer

    @property
    def version(self) -> str | None:
        """Version of the model being served."""
        scorer = self.scorer
        return scorer.version if scorer else None
