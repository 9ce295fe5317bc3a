"""What the consumer reads again (infra/stream_rewind.py): records fetched, never handled."""

from __future__ import annotations

from types import SimpleNamespace

from mode.utils.queues import FlowControlQueue

from infra.stream_rewind import Rewinds, RewindingFlowControl, unyielded


def message(partition: int, offset: int, generation: int = 1) -> SimpleNamespace:
    return SimpleNamespace(tp=("events", partition), offset=offset, generation_id=generation)


def event(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=message(partition, offset))


def test_a_rewind_keeps_the_lowest_offset_of_a_partition_and_is_taken_once():
    rewinds = Rewinds()
    rewinds.note("p0", 7, generation=1)
    rewinds.note("p0", 5, generation=1)
    rewinds.note("p0", 9, generation=1)
    rewinds.note("p1", 3, generation=1)
    assert "p0" in rewinds and "p2" not in rewinds
    assert rewinds.take(1, ["p0", "p1"]) == {"p0": 5, "p1": 3}
    assert not rewinds and rewinds.take(1, ["p0", "p1"]) == {}


def test_rewinds_of_an_older_generation_or_an_unassigned_partition_are_dropped():
    # A new assignment starts at the committed offset: seeking a stale offset from there would skip.
    rewinds = Rewinds()
    rewinds.note("p0", 5, generation=1)
    rewinds.note("p1", 3, generation=2)
    rewinds.note("p2", 4, generation=2)
    assert rewinds.take(2, ["p0", "p1"]) == {"p1": 3}
    assert not rewinds


def test_a_rewind_of_a_newer_generation_replaces_an_older_one_even_when_higher():
    rewinds = Rewinds()
    rewinds.note("p0", 2, generation=1)
    rewinds.note("p0", 8, generation=2)
    assert rewinds.take(2, ["p0"]) == {"p0": 8}


def test_the_first_record_past_the_last_yielded_one_of_each_partition_is_unyielded():
    records = {"p0": [message(0, 4), message(0, 5), message(0, 6)], "p1": [message(1, 10)], "p2": [message(2, 1)]}
    first = unyielded(records, {"p0": 4, "p2": 1})
    assert {tp: record.offset for tp, record in first.items()} == {"p0": 5, "p1": 10}
    assert unyielded(records, {"p0": 6, "p1": 10, "p2": 1}) == {}


def test_clearing_the_stream_buffers_reports_the_records_they_held():
    flow = RewindingFlowControl(initially_suspended=False)
    discarded = []
    flow.on_discard = discarded.extend
    queues = [FlowControlQueue(flow_control=flow, clear_on_resume=True) for _ in range(2)]
    queues[0].put_nowait(event(0, 3))
    queues[0].put_nowait(event(0, 4))
    queues[1].put_nowait(event(1, 9))
    flow.clear()
    assert sorted((m.tp, m.offset) for m in discarded) == [(("events", 0), 3), (("events", 0), 4), (("events", 1), 9)]
    assert all(q.empty() for q in queues) and flow.clears == 1


def test_resuming_the_flow_clears_the_buffers_and_reports_what_they_held_too():
    # Recovery.on_recovery_completed ends with flow_control.resume(): the records the fetcher
    # delivered while it sought the stream partitions were emptied out of the buffers.
    flow = RewindingFlowControl()
    discarded = []
    flow.on_discard = discarded.extend
    queue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    queue.put_nowait(event(1, 1))
    flow.resume()
    assert [(m.tp, m.offset) for m in discarded] == [(("events", 1), 1)]
    assert queue.empty() and flow.is_active() and flow.clears == 1
    flow.resume()  # nothing buffered: nothing reported
    assert len(discarded) == 1 and flow.clears == 2
