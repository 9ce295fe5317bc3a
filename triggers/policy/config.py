"""Contact policy configuration: caps, send windows, regional rules, consent defaults.

Defaults follow common US practice: SMS only 08:00-21:00 recipient time; Florida and Oklahoma
(their "mini-TCPA" laws) 08:00-20:00 and at most 3 messages per 24 h on the same subject;
at most 1 SMS per 24 h and 3 messages per 7 days per customer; e-mail at any hour.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.settings import PolicySettings
from triggers.durations import Duration
from triggers.rule import Channel


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyWindow(_Frozen):
    """Local wall-clock hours when sending is allowed: ``start`` inclusive, ``end`` exclusive."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> "DailyWindow":
        if not self.start < self.end:
            raise ValueError("window start must be before its end (overnight windows are not supported)")
        return self

    def contains(self, local: dt.time) -> bool:
        """True when the local wall-clock time is inside the window."""
        return self.start <= local < self.end

    def narrowed(self, other: "DailyWindow") -> "DailyWindow":
        """The stricter of two windows: latest start, earliest end."""
        return DailyWindow(start=max(self.start, other.start), end=min(self.end, other.end))


class FrequencyCap(_Frozen):
    """At most ``max_messages`` over the rolling ``window``, on ``channel`` (None = all channels)."""

    channel: Channel | None = None
    max_messages: int = Field(ge=0)
    window: Duration


class RegionalRule(_Frozen):
    """Stricter rules where a region's law asks for them (applied to SMS)."""

    sms_window: DailyWindow | None = None
    max_same_subject_per_24h: int | None = Field(default=None, ge=0)


def _hours(start: int, end: int) -> DailyWindow:
    return DailyWindow(start=dt.time(start), end=dt.time(end))


_MINI_TCPA = RegionalRule(sms_window=_hours(8, 20), max_same_subject_per_24h=3)


class PolicyConfig(_Frozen):
    """Everything the policy needs besides the rules; defaults documented in the module docstring."""

    marketing_email_requires_opt_in: bool = False
    caps: tuple[FrequencyCap, ...] = (
        FrequencyCap(channel="sms", max_messages=1, window=dt.timedelta(hours=24)),
        FrequencyCap(channel=None, max_messages=3, window=dt.timedelta(days=7)),
    )
    sms_window: DailyWindow = _hours(8, 21)
    email_window: DailyWindow | None = None
    regions: dict[str, RegionalRule] = Field(default_factory=lambda: {"US-FL": _MINI_TCPA, "US-OK": _MINI_TCPA})
    # Used when neither the customer nor the phone number tells the time zone: both US coasts,
    # so the window holds wherever in the mainland the customer is.
    fallback_time_zones: tuple[str, ...] = ("America/New_York", "America/Los_Angeles")
    # How far ahead to look for the next allowed moment before giving up (no_send_window).
    defer_horizon: Duration = dt.timedelta(days=8)
    # How long an escalated reply (complaint, frustration, cancellation) stops automated outreach.
    escalation_pause: Duration = dt.timedelta(hours=72)

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> "PolicyConfig":
        """The policy settings an entry point reads from the environment (the rest at their defaults)."""
        return cls(marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in,
                   escalation_pause=dt.timedelta(hours=settings.escalation_pause_hours))
