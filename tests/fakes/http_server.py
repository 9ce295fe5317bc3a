"""A threaded local HTTP server with scripted faults, the base of the provider fakes.

``script(...)`` queues faults for the next requests: an HTTP status with headers and body, or
``slow`` (hold the answer until released or ``slow_seconds`` passed, longer than the client's
timeout). Slow answers are released when the server stops, so no test waits for them.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """One scripted answer instead of the normal one."""

    status: int = 500
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    slow: bool = False  # hold the answer, then answer normally (after the client gave up)


@dataclass
class Reply:
    """What a fake handler answers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a sender opening 16 connections at once would see
    # SYNs dropped and retried after a second, which no real provider's front end does.
    request_queue_size = 128


class FakeServer:
    """Runs ``handle(method, path, headers, body) -> Reply`` on 127.0.0.1 in a background thread."""

    slow_seconds = 5.0

    def __init__(self) -> None:
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output (and addresses) quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake.lock:
                    fault = fake.faults.popleft() if fake.faults else None
                    fake.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "body": body})
                if fault is not None and fault.slow:
                    fake._release.wait(fake.slow_seconds)
                    fault = None
                reply = (Reply(fault.status, fault.body, fault.headers) if fault is not None
                         else fake.handle(self.command, self.path, self.headers, body))
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            do_GET = do_POST = do_DELETE = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, in order."""
        with self.lock:
            self.faults.extend(faults)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """The normal answer (subclasses speak the provider's API)."""
        raise NotImplementedError

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
