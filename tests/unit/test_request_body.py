"""Request bodies are capped while they stream in: refused at the cap, never read to the end, answered in JSON."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

from infra.request_body import BodyLimit, body_cap
from infra.settings import Settings
from retain.api.app import create_app
from signals.publisher import InMemoryEventPublisher
from tests.streamed_body import Offered, post_streamed

CHUNK = 1_000


class Note(BaseModel):
    text: str


def small_app() -> FastAPI:
    """Default cap 10 kB; one route parsed by FastAPI, one reading its own body under a 50 kB cap, one not reading."""
    app = FastAPI()
    app.add_middleware(BodyLimit, default=10_000)

    @app.post("/parsed")
    def parsed(note: Note) -> dict:
        return {"length": len(note.text)}

    raw = APIRouter(dependencies=[Depends(body_cap(50_000))])

    @raw.post("/raw")
    async def read_raw(request: Request) -> dict:
        return {"length": len(await request.body())}

    @raw.post("/unread")
    async def unread() -> dict:
        return {"ok": True}

    app.include_router(raw)
    return app


@pytest.mark.parametrize(
    ("path", "chunks", "cap"),
    [
        ("/parsed", 10_000, 10_000),  # a body FastAPI parses itself, under the default cap
        ("/raw", 10_000, 50_000),  # a body the route reads, under its own cap
    ],
)
async def test_a_streamed_body_is_refused_once_past_its_cap_and_read_no_further(path, chunks, cap):
    body = Offered(chunks, CHUNK)  # 10 MB offered
    answer = await post_streamed(small_app(), path, body, {"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"request body larger than {cap} bytes"}
    assert body.pulled == cap // CHUNK + 1  # the chunk that passed the cap was the last one read


async def test_a_declared_length_past_the_cap_is_refused_before_any_byte_is_read():
    body = Offered(100, CHUNK)
    answer = await post_streamed(small_app(), "/raw", body, {"content-length": "50001"})
    assert answer.status_code == 413 and body.pulled == 0


@pytest.mark.parametrize(("path", "chunks", "status"), [("/raw", 50, 200), ("/raw", 20, 200), ("/unread", 10_000, 200)])
async def test_bodies_within_their_cap_and_unread_bodies_pass(path, chunks, status):
    # /raw takes 50 kB although the default is 10 kB: the route's own cap wins; /unread never pulls its body.
    body = Offered(chunks, CHUNK)
    answer = await post_streamed(small_app(), path, body)
    assert answer.status_code == status
    assert body.pulled == (chunks if path == "/raw" else 0)


async def test_ingest_takes_bodies_up_to_its_own_cap_above_the_default():
    app = create_app(Settings(max_request_body_bytes=10_000, ingest_max_body_bytes=100_000),
                     publisher=InMemoryEventPublisher())
    padded = b" " * 50_000 + b"{}"  # valid JSON, not an event: ingest's own answer (422), not 413
    json_body = {"content-type": "application/json"}
    assert (await post_streamed(app, "/v1/events", padded, json_body)).status_code == 422
    assert (await post_streamed(app, "/v1/events", Offered(200, CHUNK), json_body)).status_code == 413
