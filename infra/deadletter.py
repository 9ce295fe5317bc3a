"""The dead-letter record: an input we could not process, with why and where it came from.

Nothing is dropped silently: the raw payload is kept (as text when it is UTF-8, else base64) so
it can be fixed and replayed, and ``reason`` names the offending fields.

A record always fits: at most ``MAX_RECORD_BYTES`` however it is encoded (the stdlib's
ASCII-escaping JSON is the largest form: ``\\x01`` becomes ``\\u0001``, six bytes), below every
producer that writes it (Faust's 4 MiB in ``infra.stream_app``, aiokafka's default 1 MiB in
outreach) and Kafka's default 1 MB message limit. A payload that does not fit is kept as a
prefix, with ``payload_truncated`` true; ``payload_bytes`` and ``payload_sha256`` always describe
the whole original input, so a truncated one can still be identified upstream. An oversized key
or reason is cut the same way; ``deadletter_key`` keeps the Kafka key of the record short.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import ValidationError

MAX_RECORD_BYTES = 512 * 1024
MAX_KEY_CHARS = 1000
MAX_REASON_CHARS = 4000
MAX_KAFKA_KEY_BYTES = 256
_CUT = "...[cut]"


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
    """The JSON-ready dead-letter record of one failed input, at most ``MAX_RECORD_BYTES`` as JSON."""
    data = raw.encode() if isinstance(raw, str) else raw
    payload, encoding = payload_text(data)
    record: dict[str, Any] = {
        "reason": _cut(reason, MAX_REASON_CHARS),
        "stage": stage,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "key": _cut(_text(key), MAX_KEY_CHARS),
        "payload": None,
        "payload_encoding": encoding,
        "payload_bytes": None if data is None else len(data),
        "payload_sha256": None if data is None else hashlib.sha256(data).hexdigest(),
        "payload_truncated": False,
        "failed_at": now.astimezone(dt.timezone.utc).isoformat(),
    }
    budget = MAX_RECORD_BYTES - _size(record) - 16  # what the payload's JSON string may take
    if payload is not None and _size(payload) > budget:
        payload = _prefix(payload, budget, encoding)
        record["payload_truncated"] = True
    record["payload"] = payload
    return record


def deadletter_key(key: bytes | str | None) -> bytes | None:
    """The Kafka key to write a dead-letter record under: the input's, or a digest of an oversized one."""
    data = key.encode() if isinstance(key, str) else key
    if data is None or len(data) <= MAX_KAFKA_KEY_BYTES:
        return data
    return b"sha256:" + hashlib.sha256(data).hexdigest().encode()


def original_payload(record: dict[str, Any]) -> bytes | None:
    """The raw bytes of the failed input (for replay); ``None`` when none or only a prefix was kept."""
    payload = record.get("payload")
    if payload is None or record.get("payload_truncated"):
        return None
    return payload_bytes(payload, record.get("payload_encoding", "utf-8"))


def payload_text(raw: bytes | None) -> tuple[str | None, str]:
    """Raw bytes as JSON-able text and its encoding: UTF-8 text when they are, else base64."""
    if raw is None:
        return None, "none"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def payload_bytes(payload: str | None, encoding: str) -> bytes | None:
    """The raw bytes ``payload_text`` made ``payload`` from."""
    if payload is None:
        return None
    return base64.b64decode(payload) if encoding == "base64" else payload.encode()


def _size(value: Any) -> int:
    """Bytes of ``value`` as the largest JSON encoder here writes it (ASCII escapes, spaced separators)."""
    return len(json.dumps(value))


def _prefix(payload: str, budget: int, encoding: str) -> str:
    """The longest prefix of ``payload`` whose JSON string fits ``budget`` bytes."""
    if encoding == "base64":  # base64 is plain ASCII: 4 characters per 3 bytes, cut on a group
        return payload[: max(0, budget - 2) // 4 * 4]
    low, high = 0, min(len(payload), budget)
    while low < high:  # binary search: JSON escaping makes a character cost 1 to 12 bytes
        mid = (low + high + 1) // 2
        if _size(payload[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return payload[:low]


def _cut(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + _CUT


def _text(key: bytes | str | None) -> str | None:
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return key
