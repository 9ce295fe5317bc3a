"""Sample customers and signals for previewing a rule when no real one fits (plain data, no I/O).

A sample customer has the profile facts the fold attaches to a signal, plus contact details for
the personal-data guardrail; a sample signal has the attributes its detector emits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SAMPLE_CUSTOMERS: dict[str, dict[str, Any]] = {
    "sample-berlin": {
        "label": "Lena (Berlin, German, e-mail and SMS, marketing consent)",
        "profile": {"first_name": "Lena", "locale": "de-DE", "time_zone": "Europe/Berlin", "country": "DE",
                    "phone": "+4915112345678", "email_present": True,
                    "consent": {"email_marketing": True, "sms_marketing": True}},
        "private": {"last_name": "Beispiel", "email": "lena.beispiel@example.com", "phone": "+4915112345678"},
    },
    "sample-new-york": {
        "label": "Sam (New York, English, e-mail and SMS, no SMS marketing consent)",
        "profile": {"first_name": "Sam", "locale": "en-US", "time_zone": "America/New_York", "country": "US",
                    "region": "US-NY", "phone": "+12125550123", "email_present": True,
                    "consent": {"email_marketing": True, "sms_marketing": False}},
        "private": {"last_name": "Example", "email": "sam.example@example.com", "phone": "+12125550123"},
    },
}
RISK_SAMPLES = {"low": 0.1, "medium": 0.45, "high": 0.8}


def sample_signal(kind: str, now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """(reason, attributes) of a typical signal of ``kind`` detected at ``now``."""
    if kind == "shipping_delay":
        return "eta_slip", {
            "order_id": "O-10042", "amount": 59.9, "currency": "EUR", "items": 2, "carrier": "DHL",
            "promised_ship_by": (now - dt.timedelta(days=4)).isoformat(),
            "promised_delivery_by": (now - dt.timedelta(days=1)).isoformat(),
            "estimated_delivery_at": (now + dt.timedelta(days=2)).isoformat(),
            "shipped_at": (now - dt.timedelta(days=3)).isoformat(), "slip_hours": 72.0, "reason": "eta_slip"}
    if kind == "checkout_idle":
        return "idle", {"checkout_id": "co-2201", "cart_value": 84.5, "currency": "EUR", "items": 3,
                        "idle_seconds": 5400.0, "started_at": (now - dt.timedelta(hours=2)).isoformat(),
                        "last_activity_at": (now - dt.timedelta(minutes=90)).isoformat()}
    return "usage_drop", {"day": now.date().isoformat(), "recent_avg": 1.5, "baseline_avg": 4.0, "drop_pct": 62.5,
                          "recent_days": 7, "baseline_days": 28, "time_zone": "UTC"}
