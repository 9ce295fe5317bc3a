"""A local HTTP server speaking the OpenAI chat completions API, with scripted drafts.

It checks what the real API checks (bearer token, ``model``, ``messages``, ``response_format``
json_schema) and answers from a script, one scenario per request (``good`` once the script runs
out). The "model" reads the ``<data>`` block of the user message, so a good draft carries the
request's own facts, and the bad ones are bad in one known way each::

    with FakeOpenAI() as server:
        server.script("wrong_date", "good")
        client = OpenAI(base_url=server.base_url, api_key=server.api_key, timeout=0.5, max_retries=0)

``slow`` waits on an Event (released when the server stops) instead of sleeping, so a client
timeout fires without the test waiting on a clock.

Triage requests (``response_format`` named ``reply_triage``) are answered, in the ``good``
scenario, from ``triage_answers`` (reply text -> labels): an oracle, not a model. It makes the LLM
path's plumbing measurable (request shape, structured output, parsing, fallbacks on the scripted
faults), not a real model's judgement; unknown replies are answered ``other``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

ROLES = {"system", "developer", "user", "assistant", "tool"}
Reply = tuple[int, dict[str, str], dict[str, Any]]


def _error(status: int, message: str, kind: str, param: str | None = None, code: str | None = None) -> Reply:
    return status, {}, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def validate_request(body: Any) -> Reply | None:
    """A 400 reply naming the bad field, or None when the request is well-formed."""
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object", "invalid_request_error")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _error(400, "you must provide a model parameter", "invalid_request_error", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "messages must be a non-empty array", "invalid_request_error", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(message.get("content"), str):
            return _error(400, f"invalid message at index {i}", "invalid_request_error", f"messages[{i}]")
    fmt = body.get("response_format")
    if fmt is not None:
        schema = (fmt.get("json_schema") or {}) if isinstance(fmt, dict) else {}
        if fmt.get("type") != "json_schema" or not schema.get("name") or not isinstance(schema.get("schema"), dict):
            return _error(400, "response_format must be a json_schema with name and schema", "invalid_request_error",
                          "response_format")
    return None


def data_block(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON between <data> and </data> in the first user message ({} when absent)."""
    for message in body["messages"]:
        if message["role"] == "user":
            match = re.search(r"<data>\n(.*)\n</data>", message["content"], re.S)
            if match:
                return json.loads(match.group(1))
    return {}


def _schema_name(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name")


def _is_sms(body: dict[str, Any]) -> bool:
    return _schema_name(body) == "sms_draft"


def good_parts(data: dict[str, Any], *, shift_days: int = 0) -> dict[str, str]:
    """A correct, short draft from the data block (English or German)."""
    customer = data.get("customer") or {}
    facts = (data.get("signal") or {}).get("facts") or {}
    name = customer.get("first_name") or ""
    german = str(customer.get("locale") or "en").startswith("de")
    order = facts.get("order_id", "")
    date = facts.get("new_delivery_date")
    if date and shift_days:
        date = (dt.date.fromisoformat(date) + dt.timedelta(days=shift_days)).isoformat()
    if german:
        when = f" Sie soll nun am {date} ankommen." if date else ""
        text = f"Hallo {name}, Ihre Bestellung {order} verspätet sich leider.{when} Antworten Sie einfach, wenn Sie Hilfe brauchen."
        return {"subject": f"Ihre Bestellung {order} verspätet sich", "preheader": "Ein kurzer Hinweis von uns",
                "body": text + " Wir sind für Sie da und kümmern uns darum."}
    when = f" It should now arrive on {date}." if date else ""
    text = f"Hi {name}, your order {order} is running late, and we are sorry.{when} Just reply if you need help."
    return {"subject": f"Your order {order} is running late", "preheader": "A short update from us",
            "body": text + " We are here for you and will keep an eye on it."}


def _content(body: dict[str, Any], parts: dict[str, str]) -> str:
    if _is_sms(body):
        return json.dumps({"text": parts["body"].split(" We are here")[0].split(" Wir sind")[0]})
    return json.dumps(parts)


def _completion(body: dict[str, Any], content: str | None, *, finish: str = "stop", refusal: str | None = None) -> Reply:
    return 200, {}, {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
    }


def _with(body: dict[str, Any], extra: str, **kw: Any) -> Reply:
    parts = good_parts(data_block(body), **kw)
    parts["body"] = parts["body"].replace(" Just reply", f"{extra} Just reply").replace(" Antworten", f"{extra} Antworten")
    return _completion(body, _content(body, parts))


SCENARIOS: dict[str, Callable[[dict[str, Any]], Reply]] = {
    "good": lambda b: _completion(b, _content(b, good_parts(data_block(b)))),
    "too_long": lambda b: _with(b, " We know waiting is annoying and we are truly sorry about it." * 60),
    "foreign_link": lambda b: _with(b, " Track it at https://track.example.net/abc123."),
    "invented_discount": lambda b: _with(b, " Enjoy 20% off your next order with code SAVE20."),
    "wrong_date": lambda b: _completion(b, _content(b, good_parts(data_block(b), shift_days=3))),
    "injection_echo": lambda b: _with(b, " " + str((data_block(b).get("signal") or {}).get("facts", {}).get("carrier", ""))),
    "refusal": lambda b: _completion(b, None, refusal="I can't help with that request."),
    "length": lambda b: _completion(b, '{"text": "Hi, your order is runn', finish="length"),
    "invalid_json": lambda b: _completion(b, "Sure! Here is your message: Hi there."),
    "rate_limited": lambda b: (429, {"Retry-After": "1", "retry-after-ms": "20"},
                               _error(429, "Rate limit reached", "requests", code="rate_limit_exceeded")[2]),
    "server_error": lambda b: _error(500, "The server had an error", "server_error"),
}


class FakeOpenAI:
    """The server; ``script`` queues scenarios, ``requests`` records every parsed request body."""

    def __init__(self, api_key: str = "sk-test-fake", slow_wait_seconds: float = 10.0):
        self.api_key = api_key
        self.slow_wait_seconds = slow_wait_seconds
        self.requests: list[dict[str, Any]] = []
        self.triage_answers: dict[str, dict[str, Any]] = {}
        self.release = threading.Event()  # set to let "slow" answers go (and on stop)
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval (the default 0.5 s adds up over tests).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the OpenAI client."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *scenarios: str) -> None:
        """Queue scenarios for the next requests, in order."""
        unknown = [s for s in scenarios if s not in SCENARIOS and s != "slow"]
        if unknown:
            raise ValueError(f"unknown scenarios: {unknown}")
        with self._lock:
            self._script.extend(scenarios)

    def _next(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "good"

    def reply(self, headers: dict[str, str], path: str, body: Any) -> Reply:
        """The answer to one request (auth, schema, then the next scripted scenario)."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided", "invalid_request_error", code="invalid_api_key")
        if path.rstrip("/") != "/v1/chat/completions":
            return _error(404, f"unknown path {path}", "invalid_request_error")
        invalid = validate_request(body)
        if invalid:
            return invalid
        with self._lock:
            self.requests.append(body)
        scenario = self._next()
        if scenario == "slow":
            self.release.wait(self.slow_wait_seconds)
            scenario = "good"
        if scenario == "good" and _schema_name(body) == "reply_triage":
            reply = str(data_block(body).get("reply", ""))
            answer = self.triage_answers.get(reply, {"intent": "other", "sentiment": "neutral", "frustrated": False,
                                                     "language": "en"})
            return _completion(body, json.dumps(answer))
        return SCENARIOS[scenario](body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except json.JSONDecodeError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = server.reply(headers, self.path, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout fired): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def start(self) -> "FakeOpenAI":
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release slow answers, stop serving and close the socket."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
