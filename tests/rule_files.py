"""Rule files for the tests and benches that run the whole service.

Each rule engages on one signal in the ``service`` topic with no cooldown and no frequency caps:
these runs are about delivery (exactly once, consent, restarts), not pacing, so nothing but the
behaviour under test may stop a message.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def service_rule(rule_id: str, signal: str, brief: str, *, priority: int = 10, relevance: str = "1d",
                 channels: Sequence[str] = ("email",)) -> dict:
    """One rule that messages every ``signal`` through ``channels`` with ``brief``."""
    return {"id": rule_id, "version": 1, "signals": [signal], "topic": "service", "priority": priority,
            "relevance": relevance, "cooldown": 0, "bypass_caps": True,
            "action": {"channels": list(channels), "brief": brief}}


def rules_yaml(*rules: dict) -> str:
    """A rule file holding ``rules``."""
    return yaml.safe_dump({"schema_version": 1, "rules": list(rules)}, sort_keys=False)
