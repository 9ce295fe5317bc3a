"""Human durations in rule files: ``90s``, ``30m``, ``72h``, ``7d``, ``1d12h`` or plain seconds.

Rule authors write ``cooldown: 72h``; the model holds a ``datetime.timedelta``; dumps write the
canonical short form back (``3d``), so fingerprints and diffs do not depend on spelling.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

DURATION_PATTERN = r"^\s*(\d+\s*[wdhms]\s*)+$"
_PART = re.compile(r"(\d+)\s*([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: Any) -> dt.timedelta:
    """Parse ``72h`` / ``1d12h`` / seconds (int) / timedelta into a non-negative timedelta."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("duration must be like 90s, 30m, 72h or 7d")
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and re.match(DURATION_PATTERN, value):
        seconds = float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value)))
    else:
        raise ValueError(f"duration must be like 90s, 30m, 72h or 7d, got {value!r}")
    if seconds < 0:
        raise ValueError("duration must not be negative")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    """Canonical short form of a duration: the largest units first, ``0s`` for zero."""
    remaining = int(value.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30m", "72h", "7d"]},
                {"type": "integer", "minimum": 0, "description": "seconds"},
            ]
        }
    ),
]
