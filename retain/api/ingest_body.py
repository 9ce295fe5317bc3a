"""Reading an ingest request body: strict JSON, then the shape and limits of each event. Pure.

The body is parsed with orjson, which refuses what Python's ``json`` lets through and Kafka
consumers then choke on: ``NaN``/``Infinity``, numbers that overflow a double, lone UTF-16
surrogates (``"\\ud800"``), bytes that are not UTF-8, a byte order mark, and nesting deeper than
1024 levels (it does not recurse on the C stack, so 100,000 ``[`` cost nothing). Its message
names the line and column. Each event is then walked once, without recursion, for what orjson
accepts but retain must not: nesting deeper than ``max_depth`` and U+0000 in a string or key
(PostgreSQL cannot store it). Every refusal is an ``IngestRejected``: status and a body that
names where.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

Problem = dict[str, Any]  # {"loc": [...], "msg": ..., "type": ...}


class IngestRejected(Exception):
    """A request refused before any event was published (status, JSON body, headers)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, headers or {}

    def response(self) -> JSONResponse:
        """The answer to send."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def problem(loc: list[Any], msg: str, kind: str) -> Problem:
    """One entry of a 4xx ``detail`` list."""
    return {"loc": loc, "msg": msg, "type": kind}


def parse_json(raw: bytes) -> Any:
    """The body as Python values, or 400 naming what is wrong and where (line, column)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise IngestRejected(400, {"detail": f"body is not valid JSON: {exc}"}) from None


def items_of(body: Any, *, segment: bool) -> tuple[list[Any], bool]:
    """The list of messages in a body and whether it was a batch (422 for any other shape)."""
    if isinstance(body, list):
        return body, True
    if segment and isinstance(body, dict) and isinstance(body.get("batch"), list):
        return body["batch"], True
    if isinstance(body, dict):
        return [body], False
    raise IngestRejected(422, {"detail": [problem([], "body must be an event object or an array of events",
                                                  "body_type")]})


def structure_problems(item: Any, *, max_depth: int, prefix: list[Any]) -> list[Problem]:
    """Nesting deeper than ``max_depth`` and U+0000 in strings or keys of one event, each with its path.

    The event object itself is depth 1, so ``{"properties": {"a": [1]}}`` reaches depth 3.
    """
    problems: list[Problem] = []
    stack: list[tuple[Any, list[Any], int]] = [(item, prefix, 1)]
    while stack:
        value, loc, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                problems.append(problem(loc, "strings must not contain U+0000", "string_nul"))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            problems.append(problem(loc, f"nested deeper than {max_depth} levels", "too_deep"))
            continue  # one error per too-deep branch, and no walk into it
        if isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in key:
                    problems.append(problem([*loc, key], "keys must not contain U+0000", "string_nul"))
                stack.append((child, [*loc, key], depth + 1))
        else:
            stack.extend((child, [*loc, index], depth + 1) for index, child in enumerate(value))
    return sorted(problems, key=lambda p: [str(part) for part in p["loc"]])
