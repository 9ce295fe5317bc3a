"""The state table's changelog codec (orjson) writes what the standard json codec wrote."""

from __future__ import annotations

import json

from simulator import Simulator
from signals.changelog import StateCodec
from signals.customer_fold import default_fold
from signals.events import parse_event

CODEC = StateCodec()


def test_every_state_of_a_simulated_stream_round_trips_like_stdlib_json():
    fold = default_fold()
    states: dict[str, dict] = {}
    checked = 0
    for raw in Simulator(40, 45, seed=3).run():
        event = parse_event(raw)
        state, _ = fold.on_event(states.get(event.customer_id), event)
        states[event.customer_id] = state
        encoded = CODEC.dumps(state)
        # Strict JSON (no NaN/Infinity, which orjson would turn into null): stdlib reads it back
        # to exactly what a stdlib round trip gives, and so does the codec itself.
        reference = json.loads(json.dumps(state, allow_nan=False))
        assert json.loads(encoded) == reference
        assert CODEC.loads(encoded) == reference
        checked += 1
    assert checked > 1000 and len(states) == 40


def test_non_string_keys_are_written_as_json_writes_them():
    state = {"counts": {3: 1, 7: 2}, "flag": True, "none": None}
    assert json.loads(CODEC.dumps(state)) == json.loads(json.dumps(state))
