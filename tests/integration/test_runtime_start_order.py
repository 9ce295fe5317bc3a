"""After a (re)start the API answers before the rest of the service, and readiness says so.

An in-process ``Runtime`` on the embedded defaults: the first 202 from ingest and a working
one-click unsubscribe come while ``startup.worker`` is still starting (ingest writes the journal,
so it needs only the database), within 5 s of the start; readiness turns true once every phase
and part reports ok. The subprocess timing of a real ``retain up`` restart is in
tests/e2e/test_single_box_restart.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path

import httpx
import pytest

from infra.broker import free_port
from infra.settings import Settings
from outreach.tokens import UNSUBSCRIBE, make_token
from retain.runtime import STARTUP_PHASES, Runtime
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
AVAILABLE_WITHIN_SECONDS = 5.0


def _checkout(customer: str, at: dt.datetime) -> dict:
    return {"event_id": f"{customer}-k", "customer_id": customer, "type": "checkout.started",
            "occurred_at": at.isoformat(), "properties": {"checkout_id": "k1", "cart_value": 40}}


async def test_api_answers_before_the_rest_and_readiness_follows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", rules_dir=REPO_RULES, api_port=port, topic_partitions=2,
                        public_base_url=f"http://127.0.0.1:{port}", app_id=f"retain-{uuid.uuid4().hex[:8]}")
    now = dt.datetime.now(dt.timezone.utc)
    token = make_token(settings.unsubscribe_secret.get_secret_value().encode(), purpose=UNSUBSCRIBE,
                       customer_id="u-1", now=now, channel="email", topic="marketing")
    lines: list[str] = []
    runtime = Runtime(settings, api_port=port, announce=lines.append)
    started = time.monotonic()
    entering = asyncio.create_task(runtime.__aenter__())
    try:
        await asyncio.wait_for(runtime.api_ready.wait(), 30)
        async with httpx.AsyncClient(base_url=runtime.api_url, timeout=10) as api:
            accepted = await api.post("/v1/events", json=[_checkout("u-1", now)])
            accepted_after = time.monotonic() - started
            at_first_202 = runtime.health.snapshot()
            unsubscribed = await api.post("/outreach/unsubscribe", params={"token": token})
            unsubscribed_after = time.monotonic() - started
        assert accepted.status_code == 202, accepted.text
        assert unsubscribed.status_code == 200, unsubscribed.text
        print(f"first 202 after {accepted_after:.2f}s, unsubscribe after {unsubscribed_after:.2f}s")
        assert accepted_after < AVAILABLE_WITHIN_SECONDS and unsubscribed_after < AVAILABLE_WITHIN_SECONDS
        # Answered while the worker was still starting: readiness said "not yet".
        assert at_first_202["startup.worker"]["status"] == "starting"
        assert not runtime.health.ready() or entering.done()
        assert "single-box mode" in lines[0] and "kill -9" in lines[0]

        await asyncio.wait_for(entering, 120)
        await wait_for(runtime.health.ready, 20, lambda: f"readiness, problems {runtime.health.problems()}")
        assert {f"startup.{phase}" for phase in STARTUP_PHASES} <= set(runtime.health.snapshot())
        assert lines[-1].startswith("retain is ready")
        # The event acknowledged before the worker ran was folded once it did.
        await wait_for(lambda: runtime.worker.counters()["events"] >= 1, 30, "the early event folded")
    finally:
        if not entering.done():
            entering.cancel()
            await asyncio.gather(entering, return_exceptions=True)
        await runtime.__aexit__(None, None, None)
