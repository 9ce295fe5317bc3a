"""``POST /v1/events`` and ``POST /v1/segment``: validate every event, then publish them all.

Contract for clients:

- Body: one event object or a JSON array of up to ``ingest_max_batch`` events (retain envelope,
  see ``GET /v1/schema/event.json``, or Segment ``track``/``identify`` messages, recognised by
  ``type`` + ``messageId``). ``/v1/segment`` also takes Segment's ``{"batch": [...]}`` shape.
- All events are validated before anything is published: one invalid event -> 422 listing each
  problem as ``{"loc": [index, field, ...], "msg", "type"}`` and nothing is published. An
  ``occurred_at`` more than ``max_future_skew_seconds`` (24 h) ahead of the server clock is one
  (type ``future_event_time``, see ``signals.event_time``).
- 202 ``{"accepted": n, "event_ids": [...]}`` only after the broker acknowledged every event.
- 503 with ``Retry-After`` when the broker is down or slow. Some events of the batch may already be
  published then; retrying the whole batch is safe because consumers de-duplicate by ``event_id``.
- 401 without the bearer token (when one is configured), 413 for too many events or bytes,
  415 for a non-JSON content type, 400 for malformed JSON.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from functools import lru_cache
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from infra.settings import Settings
from signals.event_time import PROBLEM_TYPE as FUTURE_TIME
from signals.event_time import future_time_problem
from signals.events import EVENT_TYPES, json_schema, parse_event
from signals.publisher import PublishError
from signals.segment import SegmentError, is_segment_message, segment_loc, segment_to_envelope

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])

RETRY_AFTER_SECONDS = 5


class IngestRejected(Exception):
    """A request refused before any event was published (status, JSON body, headers)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def _check_token(request: Request, settings: Settings) -> None:
    if settings.ingest_token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.ingest_token.get_secret_value().encode()
    # compare_digest: the time taken must not reveal how much of the token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise IngestRejected(401, {"detail": "missing or wrong bearer token"}, {"WWW-Authenticate": "Bearer"})


def _check_content_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise IngestRejected(415, {"detail": f"content type must be application/json, got {media_type or 'none'!r}"})


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = IngestRejected(413, {"detail": f"request body larger than {limit} bytes"})
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():  # stop reading as soon as the cap is passed
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _items(body: Any, *, segment: bool) -> tuple[list[Any], bool]:
    """The list of messages in a body and whether it was a batch."""
    if isinstance(body, list):
        return body, True
    if segment and isinstance(body, dict) and isinstance(body.get("batch"), list):
        return body["batch"], True
    if isinstance(body, dict):
        return [body], False
    raise IngestRejected(422, {"detail": [{"loc": [], "msg": "body must be an event object or an array of events",
                                           "type": "body_type"}]})


def _envelope_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Discriminated-union errors start with the event type tag; the client wants the field path.
    return loc[1:] if loc and loc[0] in EVENT_TYPES else loc


def _pydantic_problems(exc: pydantic.ValidationError) -> list[tuple[tuple[Any, ...], str, str]]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = _envelope_loc(tuple(error["loc"]))
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ("type",)
        problems.append((loc, error["msg"], error["type"]))
    return problems


def validate_item(item: Any, *, segment: bool, now: dt.datetime | None = None,
                  max_future: dt.timedelta | None = None) -> tuple[Any | None, list[tuple[tuple[Any, ...], str, str]]]:
    """One message -> (event, []) or (None, [(loc, msg, type), ...]); Segment locs name Segment fields.

    With ``now`` and ``max_future``, an ``occurred_at`` further ahead is a problem too.
    """
    is_segment = segment or is_segment_message(item)
    if is_segment:
        try:
            envelope = segment_to_envelope(item)
        except SegmentError as exc:
            return None, [(exc.loc, exc.msg, "segment")]
    try:
        event = parse_event(envelope if is_segment else item)
    except pydantic.ValidationError as exc:
        problems = _pydantic_problems(exc)
        return None, [(segment_loc(loc, item), msg, kind) for loc, msg, kind in problems] if is_segment else problems
    too_late = None if now is None or max_future is None else future_time_problem(
        event.occurred_at, now=now, max_future=max_future)
    if too_late is not None:
        loc = ("occurred_at",)
        return None, [(segment_loc(loc, item) if is_segment else loc, too_late, FUTURE_TIME)]
    return event, []


def validate_batch(items: list[Any], *, batch: bool, segment: bool, now: dt.datetime | None = None,
                   max_future: dt.timedelta | None = None) -> tuple[list[Any], list[dict[str, Any]]]:
    """Validate every item; returns (events, errors) where errors carry the batch index in ``loc``."""
    events, errors = [], []
    for index, item in enumerate(items):
        event, problems = validate_item(item, segment=segment, now=now, max_future=max_future)
        prefix = [index] if batch else []
        errors.extend({"loc": [*prefix, *loc], "msg": msg, "type": kind} for loc, msg, kind in problems)
        if event is not None:
            events.append(event)
    return events, errors


async def _ingest(request: Request, *, segment: bool) -> JSONResponse:
    settings: Settings = request.app.state.settings
    try:
        _check_token(request, settings)
        _check_content_type(request)
        raw = await _read_body(request, settings.ingest_max_body_bytes)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise IngestRejected(400, {"detail": f"body is not valid JSON: {exc}"}) from None
        items, batch = _items(body, segment=segment)
        if len(items) > settings.ingest_max_batch:
            raise IngestRejected(413, {"detail": f"{len(items)} events in one request; "
                                                 f"the limit is {settings.ingest_max_batch}"})
        if not items:
            raise IngestRejected(422, {"detail": [{"loc": [], "msg": "empty batch", "type": "too_short"}]})
        events, errors = validate_batch(items, batch=batch, segment=segment, now=dt.datetime.now(dt.timezone.utc),
                                        max_future=dt.timedelta(seconds=settings.max_future_skew_seconds))
        if errors:
            invalid = len({e["loc"][0] for e in errors}) if batch else 1
            raise IngestRejected(422, {"detail": errors,
                                       "message": f"{invalid} of {len(items)} events invalid; nothing was accepted"})
    except IngestRejected as rejected:
        log.info("ingest rejected: %s", rejected.status)
        return rejected.response()
    try:
        await request.app.state.publisher.publish(events)
    except PublishError as exc:
        log.warning("ingest of %d events failed: %s", len(events), exc)
        return JSONResponse(
            {"detail": "event broker unavailable; retry the whole request (event_id makes retries safe)"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.info("ingested %d events", len(events))
    return JSONResponse({"accepted": len(events), "event_ids": [e.event_id for e in events]}, status_code=202)


_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}


@router.post("/v1/events", status_code=202, openapi_extra=_BODY_DOC)
async def ingest_events(request: Request) -> JSONResponse:
    """Accept retain events (or Segment track/identify messages), one or an array."""
    return await _ingest(request, segment=False)


@router.post("/v1/segment", status_code=202, openapi_extra=_BODY_DOC)
async def ingest_segment(request: Request) -> JSONResponse:
    """Accept Segment track/identify messages: one, an array, or ``{"batch": [...]}``."""
    return await _ingest(request, segment=True)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json_schema()


@router.get("/v1/schema/event.json")
async def event_schema() -> JSONResponse:
    """The JSON Schema every event on ``/v1/events`` must satisfy."""
    return JSONResponse(_schema(), media_type="application/schema+json")
