"""Start-up steps wait out an unavailable database instead of ending the process (found by tests/chaos).

A ``retain up`` restarted during a PostgreSQL outage died in the single-box recovery with
``OperationalError``; ``until_the_infrastructure_answers`` retries such a step with backoff while
the error is transient, says why through ``on_wait`` and raises anything else at once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from infra.backoff import Backoff, until_the_infrastructure_answers

DOWN = OperationalError("SELECT 1", {}, Exception("connection failed: server closed the connection"))
BAD = IntegrityError("INSERT", {}, Exception("duplicate key"))


class Step:
    """Fails with ``errors`` in order, then answers ``value``."""

    def __init__(self, errors: list[BaseException], value: object = "done") -> None:
        self.errors, self.value, self.calls = list(errors), value, 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def _run(step: Step, waits: list[str]) -> object:
    return asyncio.run(until_the_infrastructure_answers(step, what="restoring", on_wait=waits.append,
                                                        backoff=Backoff(base=0.0, cap=0.0)))


@pytest.mark.parametrize("outage", [0, 1, 5])
def test_a_step_is_tried_until_the_database_answers(outage):
    step, waits = Step([DOWN] * outage), []
    assert _run(step, waits) == "done"
    assert step.calls == outage + 1
    assert len(waits) == outage and all(w.startswith("restoring: waiting for the database") for w in waits)


@pytest.mark.parametrize("error", [BAD, ValueError("a bug"), KeyError("x")])
def test_anything_but_an_unavailable_dependency_is_raised_at_once(error):
    step, waits = Step([error]), []
    with pytest.raises(type(error)):
        _run(step, waits)
    assert step.calls == 1 and waits == []


def test_a_bad_answer_after_an_outage_is_still_raised():
    step, waits = Step([DOWN, DOWN, BAD]), []
    with pytest.raises(IntegrityError):
        _run(step, waits)
    assert step.calls == 3 and len(waits) == 2
