"""The customer facts a signal carries: folded from ``customer.profile`` events, newest event time wins."""

from __future__ import annotations

from typing import Any

from signals.detectors.base import iso

# Profile facts the later stages need: quiet hours (time zone, phone area code, region), drafting
# (first name, locale), consent as upstream knows it. The e-mail address itself is not kept.
PROFILE_FIELDS = ("first_name", "time_zone", "locale", "country", "region", "phone", "plan")


def fold_profile(profile: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The customer's facts after a ``customer.profile`` event (newest event time wins)."""
    if event.type != "customer.profile":
        return profile
    at = iso(event.occurred_at)
    if profile is not None and profile.get("as_of", "") > at:
        return profile
    props = event.properties
    new = dict(profile or {})
    for name in PROFILE_FIELDS:
        value = getattr(props, name, None)
        if value is not None:
            new[name] = value
    if props.email is not None:
        new["email_present"] = True
    new.setdefault("email_present", False)
    new["phone_present"] = bool(new.get("phone"))
    consent = dict(new.get("consent") or {})
    consent.update({k: v for k, v in props.consent.model_dump().items() if v is not None})
    new["consent"] = consent
    new["as_of"] = at
    return new
