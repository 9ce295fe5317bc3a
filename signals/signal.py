"""The ``Signal``: a detected moment worth considering for outreach.

Detectors emit signals; the triggers stage turns each into decisions. ``episode_key`` names the
episode (one late order, one usage drop, one idle checkout) so every later stage can be
idempotent on it; ``signal_id`` is derived from it, so a re-emitted signal has the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SignalKind = Literal["shipping_delay", "usage_drop", "checkout_idle"]
SIGNAL_KINDS: tuple[str, ...] = ("shipping_delay", "usage_drop", "checkout_idle")


def signal_id_for(episode_key: str) -> str:
    """Deterministic id of the signal of one episode."""
    return hashlib.sha256(episode_key.encode()).hexdigest()[:32]


class Signal(BaseModel):
    """One detected moment. ``detected_at`` is event time, never wall-clock time."""

    model_config = ConfigDict(frozen=True)

    kind: SignalKind
    customer_id: str
    episode_key: str
    detected_at: AwareDatetime
    reason: str = Field(description="machine-readable sub-kind, e.g. not_shipped, eta_slip, exception")
    attributes: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="customer facts and risk features at detection time, attached by the fold: "
        '{"customer": {...}, "features": {name: value}} so later stages need no lookup',
    )

    @property
    def signal_id(self) -> str:
        return signal_id_for(self.episode_key)

    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["signal_id"] = self.signal_id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Signal":
        data = {k: v for k, v in data.items() if k != "signal_id"}
        return cls.model_validate(data)


def utc(value: dt.datetime) -> dt.datetime:
    """Normalise an aware datetime to UTC (state keeps UTC ISO strings)."""
    return value.astimezone(dt.timezone.utc)
