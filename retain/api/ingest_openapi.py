"""The OpenAPI description of the ingest routes: real request schemas and every answer they give.

The request body of ``/v1/events`` is the published event JSON Schema (``signals.events``), one or
an array; ``/v1/segment`` describes the Segment messages retain maps. Both are inlined (no
``$defs``), so clients and fuzzers resolve them without knowing where the event schema lives.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from signals.events import EVENT_TYPES, json_schema
from signals.segment import SUPPORTED_CALLS, TRACK_EVENT_TYPES

_PROBLEM = {
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {"type": "array", "description": "where: [event index in a batch, field, ...]",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
}
_REFUSAL = {"type": "object", "required": ["detail"], "properties": {
    "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": _PROBLEM}]},
    "message": {"type": "string"},
}}


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REFUSAL}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "the broker acknowledged every event", "content": {"application/json": {"schema": {
        "type": "object", "required": ["accepted", "event_ids"],
        "properties": {"accepted": {"type": "integer"}, "event_ids": {"type": "array", "items": {"type": "string"}}},
    }}}},
    400: _answer("the body is not strict JSON (NaN, Infinity, invalid UTF-8 or lone surrogates, nesting past "
                 "1024 levels); the message names line and column"),
    401: _answer("no ingest credential, or an unknown or revoked one"),
    403: _answer("the credential lacks the scope an event needs (contact details and consent need 'profile'); "
                 "loc names the event"),
    413: _answer("too many bytes in the body, too many events, or one event larger than the broker accepts "
                 "(loc names it)"),
    415: _answer("the content type is not JSON"),
    422: _answer("an event is invalid, nested too deep or holds U+0000; every problem with its loc"),
    503: {**_answer("the broker (or the credential store) is unavailable; retry the whole request after "
                   "Retry-After seconds (event_id makes retries safe)"),
          "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``#/$defs/...`` reference replaced by its definition (no recursion allowed)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            # The discriminator's mapping points into $defs; the oneOf alone says the same.
            return {k: resolve(v) for k, v in node.items() if k not in ("$defs", "$schema", "discriminator")}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def _one_or_many(item: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [item, {"type": "array", "minItems": 1, "items": item}, *extra]}


def _segment_message() -> dict[str, Any]:
    names = sorted({*TRACK_EVENT_TYPES, *EVENT_TYPES})
    return {
        "type": "object", "required": ["type", "messageId", "userId"],
        "properties": {
            "type": {"enum": list(SUPPORTED_CALLS)},
            "messageId": {"type": "string", "minLength": 1, "maxLength": 128},
            "userId": {"type": "string", "minLength": 1, "maxLength": 128},
            "event": {"enum": names, "description": "track only: the event name"},
            "timestamp": {"type": "string", "format": "date-time"},
            "properties": {"type": "object"},
            "traits": {"type": "object", "description": "identify only"},
        },
    }


@lru_cache(maxsize=None)
def request_body(segment: bool) -> dict[str, Any]:
    """``openapi_extra`` for an ingest route: its JSON request body."""
    if segment:
        message = _segment_message()
        schema = _one_or_many(message, {"type": "object", "required": ["batch"],
                                        "properties": {"batch": {"type": "array", "minItems": 1, "items": message}}})
    else:
        schema = _one_or_many(inline_refs(json_schema()))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
