"""``POST /v1/events`` and ``POST /v1/segment``: authenticate, check every limit, validate every event, publish.

Contract for clients (docs/ingest.md has every limit, setting and status code):

- Credential: ``Authorization: Bearer <secret>`` (or HTTP Basic with the secret as user name, as
  Segment sends its write key). Per-producer credentials come from ``retain producers create``;
  ``RETAIN_INGEST_TOKEN`` is one from the environment. 401 without a valid one.
- Body: one event object or a JSON array of up to ``ingest_max_batch`` events (retain envelope,
  see ``GET /v1/schema/event.json``, or Segment ``track``/``identify`` messages, recognised by
  ``type`` + ``messageId``). ``/v1/segment`` also takes Segment's ``{"batch": [...]}`` shape.
- Everything is checked before anything is published; a refused request publishes nothing:
  415 not JSON; 413 body over ``ingest_max_body_bytes`` or more than ``ingest_max_batch`` events;
  400 not strict JSON (NaN, Infinity, invalid UTF-8, lone surrogates); 422 invalid events, nesting
  deeper than ``ingest_max_depth``, U+0000 in strings, an
  ``occurred_at`` more than ``max_future_skew_seconds`` (24 h) ahead of the server clock (type
  ``future_event_time``, see ``signals.event_time``); 403 an event the credential's scopes do not
  cover (contact details and consent need ``profile``); 413 an event larger than the producer can
  send (``loc`` names its index). Each 4xx lists problems as ``{"loc", "msg", "type"}``.
- 202 ``{"accepted": n, "event_ids": [...]}`` only once every event is durable: with KAFKA_URL
  after the broker acknowledged every event, in the single-box mode after the ingest journal
  committed them (``signals.journal_publisher``).
- 503 with ``Retry-After`` only when retrying can help; ``detail`` names what was down. With
  KAFKA_URL: the broker, or the credential store for a credential not verified in the last
  ``ingest_credential_cache_seconds`` (a database outage does not stop ingest otherwise). In the
  single-box mode: the ingest journal, i.e. the database (the journal is the only durable record,
  so no 202 without it). Some events may be stored then; retrying the whole batch is safe because
  consumers de-duplicate by ``event_id``. A request that can never succeed is never 503.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from typing import Any

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from infra.settings import Settings
from retain.api.ingest_auth import Producer, authenticate
from retain.api.ingest_body import IngestRejected, items_of, parse_json, problem, structure_problems
from retain.api.ingest_openapi import RESPONSES, request_body
from retain.producers.scopes import out_of_scope
from signals.event_time import PROBLEM_TYPE as FUTURE_TIME
from signals.event_time import future_time_problem
from signals.events import EVENT_TYPES, json_schema, parse_event
from signals.publisher import EventRecord, PublishError, encode_event, oversized
from signals.segment import SegmentError, is_segment_message, segment_loc, segment_to_envelope

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])

RETRY_AFTER_SECONDS = 5


def _check_content_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise IngestRejected(415, {"detail": f"content type must be application/json, got {media_type or 'none'!r}"})


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


def _refused(status: int, problems: list[dict[str, Any]], what: str, total: int, *, batch: bool) -> IngestRejected:
    count = len({p["loc"][0] for p in problems}) if batch else 1
    return IngestRejected(status, {"detail": problems, "message": f"{count} of {total} events {what}; nothing was accepted"})


def _check_items(items: list[Any], settings: Settings, *, batch: bool, segment: bool, now: dt.datetime) -> list[Any]:
    """The validated events, or IngestRejected: 413 too many, 422 empty/too deep/NUL/invalid/too far ahead."""
    if len(items) > settings.ingest_max_batch:
        raise IngestRejected(413, {"detail": f"{len(items)} events in one request; "
                                             f"the limit is {settings.ingest_max_batch}"})
    if not items:
        raise IngestRejected(422, {"detail": [problem([], "empty batch", "too_short")]})
    # Structure first: a value nested too deep never reaches the validator.
    shape = [p for index, item in enumerate(items)
             for p in structure_problems(item, max_depth=settings.ingest_max_depth, prefix=[index] if batch else [])]
    if shape:
        raise _refused(422, shape, "invalid", len(items), batch=batch)
    events, errors = validate_batch(items, batch=batch, segment=segment, now=now,
                                    max_future=dt.timedelta(seconds=settings.max_future_skew_seconds))
    if errors:
        raise _refused(422, errors, "invalid", len(items), batch=batch)
    return events


def _check_scopes(events: list[Any], producer: Producer, *, batch: bool) -> None:
    refused = [problem([index, "type"] if batch else ["type"],
                       f"credential {producer.name!r} may not send {kind} events (needs scope {scope!r})", "scope")
               for index, kind, scope in out_of_scope(events, producer.scopes)]
    if refused:
        raise _refused(403, refused, "not allowed for this credential", len(events), batch=batch)


def _records(events: list[Any], limit: int, *, batch: bool) -> list[EventRecord]:
    records = [encode_event(event) for event in events]
    too_large = [problem([index] if batch else [], f"event is {records[index].size} bytes as a Kafka record; "
                                                   f"the limit is {limit}", "too_large")
                 for index in oversized(records, limit)]
    if too_large:
        raise _refused(413, too_large, "too large", len(events), batch=batch)
    return records


async def _ingest(request: Request, *, segment: bool) -> JSONResponse:
    settings: Settings = request.app.state.settings
    publisher = request.app.state.publisher
    try:
        producer = await authenticate(request, settings, dt.datetime.now(dt.timezone.utc),
                                      retry_after=RETRY_AFTER_SECONDS)
        _check_content_type(request)
        body = await request.body()  # capped while it streams in (infra.request_body): 413 past the cap
        items, batch = items_of(parse_json(body), segment=segment)
        events = _check_items(items, settings, batch=batch, segment=segment, now=dt.datetime.now(dt.timezone.utc))
        _check_scopes(events, producer, batch=batch)
        records = _records(events, publisher.max_record_bytes, batch=batch)
    except IngestRejected as rejected:
        log.info("ingest rejected: %s", rejected.status)
        return rejected.response()
    try:
        await publisher.publish(records)
    except PublishError as exc:
        log.warning("ingest of %d events from %s failed: %s", len(events), producer.name, exc)
        if not exc.retriable:  # the broker's own size limit is below ours: retrying cannot help
            index = exc.oversized_index if exc.oversized_index is not None else 0
            return JSONResponse({"detail": [problem([index] if batch else [], "the broker refused this event as too "
                                                    "large; its limit is below RETAIN_INGEST_MAX_EVENT_BYTES", "too_large")],
                                 "message": "events before it may be on the topic; do not resend this one"},
                                status_code=413)
        return JSONResponse(
            {"detail": f"{exc.unavailable} unavailable, nothing was acknowledged; retry the whole request after "
                       f"Retry-After seconds (event_id makes retries safe)"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.info("ingested %d events from %s", len(events), producer.name)
    return JSONResponse({"accepted": len(events), "event_ids": [e.event_id for e in events]}, status_code=202)


@router.post("/v1/events", status_code=202, openapi_extra=request_body(False), responses=RESPONSES)
async def ingest_events(request: Request) -> JSONResponse:
    """Accept retain events (or Segment track/identify messages), one or an array."""
    return await _ingest(request, segment=False)


@router.post("/v1/segment", status_code=202, openapi_extra=request_body(True), responses=RESPONSES)
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
