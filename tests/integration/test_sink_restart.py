"""The local sink's "was this already delivered?" survives a restart of the process.

A sender dies after the sink took the message but before ``sent`` was recorded; the row stays in
``sending``. A new process (new channels built from the same settings and database) reconciles it
after the lease from what the sink recorded durably: ``sent``, never delivered a second time.
A message the sink never received is sent once after the lease. Provider channels that cannot
look a message up keep holding such rows for review (tests/integration/test_outreach_delivery.py).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlmodel import Session

from infra.settings import Settings
from outreach.channels.base import OutgoingMessage, SendResult
from outreach.channels.from_settings import build_channels
from outreach.outbox import service as outbox
from outreach.outbox.sender import Sender
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine

pytestmark = pytest.mark.integration


class DiesOnSend:
    """Stands for a process killed around the provider call (``after``: once the sink has the message)."""

    def __init__(self, inner, *, after: bool) -> None:
        self.inner, self.after = inner, after
        self.name, self.provider = inner.name, inner.provider

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.after:
            self.inner.send(message)
        raise KeyboardInterrupt("killed")  # not an Exception: nothing in the sender may swallow it

    def lookup(self, message_id: str):
        return self.inner.lookup(message_id)


def _process(engine, settings, *, dying_after: bool | None = None) -> tuple[Sender, dict]:
    """A fresh 'process': its own channels, built from the settings the way the runtime builds them."""
    channels = build_channels(settings, engine=engine)
    used = dict(channels)
    if dying_after is not None:
        used["email"] = DiesOnSend(channels["email"], after=dying_after)
    return Sender(engine, channels=used, compose=simple_compose, config=CONFIG, rng=random.Random(1)), channels


def _states(engine) -> list[str]:
    with Session(engine) as session:
        return [row.state for row in outbox.list_messages(session=session)]


@pytest.mark.parametrize("sink_had_it", [True, False])
def test_a_send_killed_in_sending_is_reconciled_from_the_sinks_durable_record(tmp_path, sink_had_it):
    engine = sqlite_engine(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=None)
    add_customer(engine, "c1", email="ada@example.com")
    with Session(engine) as session:
        outbox.enqueue(session=session, decision=decision("c1"), now=T0)
        session.commit()

    dying, first_channels = _process(engine, settings, dying_after=sink_had_it)
    with pytest.raises(KeyboardInterrupt):
        dying.run_once(T0)
    assert _states(engine) == ["sending"]
    assert len(first_channels["email"].delivered) == (1 if sink_had_it else 0)

    restarted, channels = _process(engine, settings)  # the first process is gone, memory and all
    restarted.run_once(T0 + dt.timedelta(seconds=10))  # lease still held: untouched
    assert _states(engine) == ["sending"]
    restarted.run_once(T0 + CONFIG.lease + dt.timedelta(seconds=1))
    restarted.run_once(T0 + CONFIG.lease + dt.timedelta(seconds=2))
    assert _states(engine) == ["sent"]
    delivered = len(first_channels["email"].delivered) + len(channels["email"].delivered)
    assert delivered == 1  # exactly once across both processes
    engine.dispose()
