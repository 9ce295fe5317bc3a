"""Eager record delivery (infra/stream_consumer.py): Faust's fetch-loop semantics, fewer tasks."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
from types import SimpleNamespace

import faust
import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from mode import Service

from infra.settings import Settings
from infra.stream_app import create_app
from infra.stream_consumer import EagerConsumer, EagerTransport, RetainApp, deliver
from infra.stream_rewind import RewindingFlowControl

# sha256 of faust-streaming 0.15.3's Consumer._drain_messages, the loop EagerConsumer ports.
PORTED_DRAIN_LOOP = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


class FlowConsumer(Service):
    """What ``deliver`` needs of a consumer: ``suspend_flow`` and mode's ``wait_first``."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


async def test_a_delivery_that_does_not_suspend_runs_inline_without_tasks():
    consumer = FlowConsumer()
    delivered = []

    async def delivery():
        delivered.append(1)
        return "ignored"

    tasks_before = len(asyncio.all_tasks())
    coro = delivery()
    # Spy on task creation: the fast path must not schedule anything.
    loop = asyncio.get_running_loop()
    created = []
    original_factory = loop.get_task_factory()
    loop.set_task_factory(lambda lp, c, **kw: created.append(c) or asyncio.Task(c, loop=lp, **kw))
    try:
        await deliver(consumer, coro)
    finally:
        loop.set_task_factory(original_factory)
    assert delivered == [1]
    assert created == []
    assert len(asyncio.all_tasks()) == tasks_before


async def test_a_delivery_that_suspends_is_finished_under_the_flow_race():
    consumer = FlowConsumer()
    room = asyncio.Event()
    steps = []

    async def delivery():
        steps.append("start")
        await room.wait()  # a full stream buffer
        steps.append("put")
        return "done"

    task = asyncio.ensure_future(deliver(consumer, delivery()))
    await asyncio.sleep(0)
    assert steps == ["start"] and not task.done()
    room.set()
    await asyncio.wait_for(task, timeout=5)
    assert steps == ["start", "put"]


async def test_a_suspended_delivery_is_abandoned_when_the_flow_is_suspended():
    consumer = FlowConsumer()
    never = asyncio.Event()
    steps = []

    async def delivery():
        steps.append("start")
        try:
            await never.wait()
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise
        steps.append("put")

    task = asyncio.ensure_future(deliver(consumer, delivery()))
    await asyncio.sleep(0)
    consumer.suspend_flow.set()  # a rebalance starts: Faust gives up on the blocked delivery
    await asyncio.wait_for(task, timeout=5)
    assert steps == ["start", "cancelled"]


@pytest.mark.parametrize("suspends", [False, True], ids=["inline", "after-suspending"])
async def test_a_failing_delivery_raises_to_the_fetch_loop(suspends):
    consumer = FlowConsumer()

    async def delivery():
        if suspends:
            await asyncio.sleep(0)
        raise KeyError("no callback for this partition")

    with pytest.raises(KeyError):
        await asyncio.wait_for(deliver(consumer, delivery()), timeout=5)


def test_the_ported_fetch_loop_matches_the_installed_faust():
    source = inspect.getsource(FaustConsumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == PORTED_DRAIN_LOOP, (
        "faust-streaming's Consumer._drain_messages changed: re-port it into "
        "infra/stream_consumer.py (EagerConsumer) and update PORTED_DRAIN_LOOP"
    )
    assert issubclass(EagerConsumer, aiokafka_driver.Consumer)


def test_kafka_apps_use_the_eager_transport_and_others_stay_stock():
    app = create_app(Settings(), broker_url="kafka://127.0.0.1:9", app_id="t-eager")
    assert isinstance(app, RetainApp)
    assert type(app.transport) is EagerTransport
    assert app.transport.Consumer is EagerConsumer
    stock = create_app(Settings(), broker_url="kafka://127.0.0.1:9", app_id="t-stock", app_type=faust.App)
    assert type(stock.transport) is aiokafka_driver.Transport


def test_an_app_keeps_its_table_directories_under_the_data_dir_not_the_working_directory(tmp_path):
    # Faust's default datadir is "<app id>-data" in the current directory: every worker started
    # from a checkout left such directories behind there.
    app = create_app(Settings(data_dir=tmp_path / "data"), broker_url="kafka://127.0.0.1:9", app_id="t-dirs")
    assert Path(app.conf.datadir).resolve().is_relative_to((tmp_path / "data").resolve())
    app._create_directories()  # what Faust does at start; it fails when a parent is missing
    assert Path(app.conf.tabledir).is_dir()


def test_records_a_clear_discards_are_read_again_except_changelog_ones():
    app = create_app(Settings(), broker_url="kafka://127.0.0.1:9", app_id="t-rewind")
    assert isinstance(app.flow_control, RewindingFlowControl)
    consumer = app.consumer
    assert app.flow_control.on_discard == consumer.rewind_messages
    changelog = app.Table("states", default=int).changelog_topic.get_topic_name()
    consumer.rewind_messages([SimpleNamespace(tp=TP("events", 0), offset=7, generation_id=3),
                              SimpleNamespace(tp=TP(changelog, 0), offset=2, generation_id=3)])
    assert consumer.rewinds.take(3, [TP("events", 0), TP(changelog, 0)]) == {TP("events", 0): 7}


# sha256 of the Faust and mode internals the refetch (infra/stream_rewind.py) relies on: what
# getmany yields and when it stops, and that resume() empties every stream buffer through clear().
REWIND_RELIES_ON = {
    "faust.transport.consumer:Consumer.getmany": "4b168d84882a70d6e3e2f9804430a63b92f8fd117d3187cbb4aeb54305bda34e",
    "faust.transport.consumer:Consumer._wait_next_records":
        "6218e1969a636b3ff504ad1b8e7ad58a113572e43d746cc96d684ed5153032c6",
    "mode.utils.queues:FlowControlEvent.resume": "4dcdc1253fd0dcb40de18a3702503c01d21e9da7e5e55b122fb92615f27648d9",
    "mode.utils.queues:FlowControlEvent.clear": "dda5e40d80288a8f4244cffdf3e7a648773579a72e64b40182bbbc2424752524",
}


@pytest.mark.parametrize("where", sorted(REWIND_RELIES_ON))
def test_the_internals_the_refetch_relies_on_are_unchanged(where):
    import importlib

    module, qualname = where.split(":")
    owner, name = qualname.split(".")
    source = inspect.getsource(getattr(getattr(importlib.import_module(module), owner), name))
    assert hashlib.sha256(source.encode()).hexdigest() == REWIND_RELIES_ON[where], (
        f"{where} changed: check infra/stream_rewind.py and EagerConsumer.getmany still see every record "
        "fetched but not handled, then update REWIND_RELIES_ON")
