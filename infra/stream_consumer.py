"""Faust's Kafka consumer with eager message delivery: the same semantics, a third of the cost.

Where Faust's per-record time goes (cProfile of a no-op agent, docs/streaming.md): the fetch
loop ``Consumer._drain_messages`` hands every record to the topic conductor through
``await self.wait_first(callback(message), self.suspend_flow.wait())``. ``wait_first`` wraps each
of its awaitables *and* the service's stopped/crashed events in a task and calls
``asyncio.wait``: four tasks, a wait and several event-loop turns per record, which is most of
what a no-op agent spends. The race exists for one case only: the conductor blocks on a full
stream buffer while a rebalance suspends the flow, and the blocked delivery must be abandoned.

``deliver`` starts the delivery coroutine by hand. Almost always it finishes without
suspending (the buffer had room): the record is delivered and nothing was scheduled, exactly as
if ``wait_first`` had run it and it won. If it does suspend, the half-run coroutine is handed to
the same ``wait_first`` race Faust uses, so a blocked delivery is still abandoned on rebalance or
stop. ``EagerConsumer._drain_messages`` is faust-streaming 0.15.3's loop with that one call
changed (``tests/unit/test_stream_consumer.py`` fails if the upstream loop changes), and
records fetched but not handled read again (``infra.stream_rewind``): a partition with a pending
rewind delivers nothing until the loop seeks it back, before its next fetch.

``RetainApp`` is ``faust.App`` whose ``kafka://`` transport uses this consumer and whose
``flow_control`` reports the records it discards.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any, Coroutine, Generator, cast

import faust
from aiokafka.errors import IllegalStateError
from faust import transport as faust_transport
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver
from mode.utils.objects import cached_property

from infra.stream_rewind import Rewinds, RewindingFlowControl, unyielded

# The transports whose consumer we replace (Faust's own aiokafka driver); others stay stock.
EAGER_SCHEMES = frozenset({"kafka", "aiokafka"})


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, Any]:
    """Continue ``coro`` after its first suspension (it yielded ``pending``), under a task.

    What ``await coro`` would have done from that point: every value the task sends or throws in
    goes to ``coro``, every future ``coro`` yields goes out to the task, its result is returned.
    """
    while True:
        try:
            sent = yield pending
        except BaseException as exc:  # noqa: BLE001 - cancellation must reach the coroutine
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                pending = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _finish(coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    # A real coroutine object: ``wait_first`` only wraps ``Awaitable``s, not generator coroutines.
    return await _resume(coro, pending)


async def deliver(consumer: Any, delivery: Coroutine[Any, Any, Any]) -> None:
    """Run ``delivery`` to completion, or race it against a flow suspension as Faust does."""
    try:
        pending = delivery.send(None)
    except StopIteration:
        return  # delivered without suspending: the common case, no task created
    await consumer.wait_first(_finish(delivery, pending), consumer.suspend_flow.wait())


class EagerConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, delivering records with ``deliver`` and reading dropped ones again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rewinds = Rewinds()
        self._fetched: Any = {}  # the batch getmany is yielding
        flow_control = self.app.flow_control
        if isinstance(flow_control, RewindingFlowControl):
            flow_control.on_discard = self.rewind_messages

    def rewind_messages(self, messages: Any) -> None:
        """Read these records of stream partitions again (fetched, never handled)."""
        for message in messages:
            if not self._is_changelog_tp(message.tp):  # table recovery seeks its changelogs itself
                self.rewinds.note(message.tp, message.offset, message.generation_id)

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active_partitions = await super()._wait_next_records(timeout)
        self._fetched = records or {}
        return records, active_partitions

    async def getmany(self, timeout: float) -> Any:
        """Faust's ``getmany``; whatever of the batch it does not yield is read again."""
        last_yielded: dict[Any, int] = {}
        generation = self.app.consumer_generation_id
        try:
            async for tp, message in super().getmany(timeout):
                last_yielded[tp] = message.offset
                yield tp, message
        finally:
            fetched, self._fetched = self._fetched, {}
            for tp, record in unyielded(fetched, last_yielded).items():
                if not self._is_changelog_tp(tp):
                    self.rewinds.note(tp, record.offset, generation)

    async def _seek_rewinds(self) -> None:
        """Seek every partition with a pending rewind of this generation back (before the next fetch)."""
        if not self.rewinds or not self.flow_active:
            return
        seeks = self.rewinds.take(self.app.consumer_generation_id, self.assignment())
        if not seeks:
            return
        self.log.info("Reading again records fetched but not handled: %r", seeks)
        try:
            await self.seek_wait(seeks)  # also resets the read offsets the fetch loop filters on
        except IllegalStateError as exc:  # revoked meanwhile: the new assignment starts at the commit
            self.log.info("Rewind skipped, partitions reassigned: %r", exc)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - ported loop
        # Ported from faust-streaming 0.15.3 Consumer._drain_messages; the only change is
        # ``await deliver(self, callback(message))`` in place of
        # ``await self.wait_first(callback(message), self.suspend_flow.wait())``.
        callback = self.callback
        getmany = self.getmany
        rewinds = self.rewinds
        flow_control = self.app.flow_control
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                await self._seek_rewinds()
                ait = getmany(timeout=1.0)
                # getmany may never release the event loop when records keep coming.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        if tp in rewinds:
                            continue  # fetched before the seek back: read again after it, in order
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset:  # a gap in incoming offsets
                                if acks_enabled_for(message.topic):
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            clears = getattr(flow_control, "clears", 0)
                            await deliver(self, callback(message))
                            if getattr(flow_control, "clears", 0) != clears:
                                # a clear under way cancels a put blocked on a full buffer, and the
                                # delivery returns as if it had put the record
                                rewinds.note(tp, offset, message.generation_id)
                            else:  # delivered, or given up on a stopped flow (its put still lands)
                                set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class EagerTransport(aiokafka_driver.Transport):
    """The aiokafka transport with ``EagerConsumer``."""

    Consumer = EagerConsumer


class RetainApp(faust.App):
    """``faust.App`` using ``EagerTransport`` for Kafka URLs (any other transport stays stock)."""

    @cached_property
    def flow_control(self) -> RewindingFlowControl:
        """Faust's flow control of the stream buffers, reporting the records a clear discards."""
        return RewindingFlowControl(loop=self.loop)

    def _new_transport(self) -> Any:
        url = self.conf.broker_consumer[0]
        if url.scheme in EAGER_SCHEMES:
            return EagerTransport(self.conf.broker_consumer, self)
        return cast(Any, faust_transport.by_url(url))(self.conf.broker_consumer, self)
