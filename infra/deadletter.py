"""The dead-letter record: an input we could not process, with why and where it came from.

Nothing is dropped silently: the raw payload is kept (as text when it is UTF-8, else base64) so
it can be fixed and replayed, and ``reason`` names the offending fields.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from pydantic import ValidationError


def describe_error(exc: BaseException) -> str:
    """A one-line reason; for validation errors, every ``field.path: message``."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in err.get("loc", ())) or "(event)"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return "invalid event: " + "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"


def deadletter_record(
    *,
    raw: bytes | str | None,
    reason: str,
    stage: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The JSON-ready dead-letter record of one failed input."""
    payload, encoding = _payload_text(raw)
    return {
        "reason": reason,
        "stage": stage,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "key": _text(key),
        "payload": payload,
        "payload_encoding": encoding,
        "failed_at": now.astimezone(dt.timezone.utc).isoformat(),
    }


def original_payload(record: dict[str, Any]) -> bytes | None:
    """The raw bytes of the failed input (for replay)."""
    payload = record.get("payload")
    if payload is None:
        return None
    if record.get("payload_encoding") == "base64":
        return base64.b64decode(payload)
    return payload.encode()


def _payload_text(raw: bytes | str | None) -> tuple[str | None, str]:
    if raw is None:
        return None, "none"
    if isinstance(raw, str):
        return raw, "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def _text(key: bytes | str | None) -> str | None:
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return key
