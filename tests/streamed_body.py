"""A request body offered chunk by chunk, counting how much of it the server actually read."""

from __future__ import annotations

import httpx


class Offered:
    """``chunks`` chunks of ``size`` bytes; ``pulled`` counts the chunks the app asked for.

    httpx's ASGI transport hands the app one chunk per ``receive()``: what the app does not read is
    never produced, so ``pulled`` is how much of the body was read, without timing anything.
    """

    def __init__(self, chunks: int, size: int = 65_536):
        self.chunks, self.size, self.pulled = chunks, size, 0

    async def __aiter__(self):
        chunk = b"x" * self.size
        for _ in range(self.chunks):
            self.pulled += 1
            yield chunk


async def post_streamed(app, path: str, body, headers: dict[str, str] | None = None,
                        base_url: str = "http://testserver") -> httpx.Response:
    """POST ``body`` (bytes or an ``Offered``) to the ASGI ``app``."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url) as client:
        return await client.post(path, content=body, headers=headers or {})
