"""Deterministic per-rule holdout slice: recorded as ``holdout``, never messaged.

The position of a customer in a rule's slice is sha256(rule_id, customer_id) mapped to [0, 1),
so it is the same on every worker and after every restart (Python's ``hash()`` is salted per
process and must not be used), and independent between rules.
"""

from __future__ import annotations

import hashlib

from triggers.rule import Rule

_SCALE = float(2**64)


def holdout_position(customer_id: str, rule_id: str) -> float:
    """The customer's stable position in [0, 1) for this rule."""
    digest = hashlib.sha256(f"{rule_id}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_holdout(customer_id: str, rule: Rule) -> bool:
    """True when the customer falls in the rule's holdout share."""
    return holdout_position(customer_id, rule.id) < rule.holdout_pct / 100.0
