"""The risk score as the triggers stage sees it: probability, bucket, top drivers and the uplift.

``uplift`` is the served uplift model's estimate for this customer, in probability POINTS
(``P(goal | messaged) - P(goal | held out)`` times 100; negative when a message would hurt),
None when no uplift model is served.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, field_validator


class Risk(BaseModel):
    """Churn risk of one customer; ``drivers`` are (feature, contribution) pairs, largest first."""

    model_config = ConfigDict(frozen=True)

    probability: float | None = None
    bucket: str | None = None
    drivers: tuple[tuple[str, float], ...] = ()
    uplift: float | None = None

    @field_validator("drivers", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        # Accept [("f", 0.1)], [{"feature": "f", "contribution": 0.1}] and bare names.
        pairs = []
        for item in value or ():
            if isinstance(item, Mapping):
                pairs.append((str(item.get("feature") or item.get("name")), float(item.get("contribution", 0.0))))
            elif isinstance(item, str):
                pairs.append((item, 0.0))
            else:
                pairs.append(tuple(item))
        return tuple(pairs)

    @classmethod
    def coerce(cls, value: Any) -> "Risk":
        """A ``Risk`` from None, a mapping, or any object with probability/bucket/drivers (a Score)."""
        if value is None:
            return cls()
        if isinstance(value, Risk):
            return value
        if isinstance(value, Mapping):
            return cls.model_validate(dict(value))
        return cls(
            probability=getattr(value, "probability", None),
            bucket=getattr(value, "bucket", None),
            drivers=getattr(value, "drivers", ()) or (),
            uplift=getattr(value, "uplift", None),
        )

    def context(self) -> dict[str, Any]:
        """The ``risk.*`` fields rule conditions can read."""
        return {"probability": self.probability, "bucket": self.bucket, "uplift": self.uplift}
