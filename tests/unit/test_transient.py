"""infra.transient draws the line between the infrastructure's errors and the record's; infra.backoff."""

from __future__ import annotations

import doctest

import pytest
from aiokafka import errors as kafka_errors
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc

from infra import backoff as backoff_module
from infra import transient as transient_module
from infra.backoff import Backoff
from infra.transient import is_transient


class _Strict(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Strict(n="x")
    return caught.value


def _caused_by(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("wrapped") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sa_exc.OperationalError("INSERT", {}, Exception("database is locked")), True),  # SQLite busy
        (sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")), True),  # PostgreSQL down
        (sa_exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),  # the pool waited for a connection
        (kafka_errors.KafkaConnectionError("broker down"), True),
        (kafka_errors.KafkaTimeoutError(), True),  # a produce was not acknowledged in time
        (kafka_errors.NotLeaderForPartitionError(), True),  # retriable per aiokafka
        (ConnectionResetError(), True),
        (_caused_by(sa_exc.OperationalError("INSERT", {}, Exception("locked"))), True),  # a wrapped cause
        (sa_exc.IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")), False),  # the record's
        (sa_exc.DataError("INSERT", {}, Exception("value too long")), False),
        (kafka_errors.RecordTooLargeError(), False),
        (_validation_error(), False),
        (ValueError("not a decision"), False),
        (KeyError("customer_id"), False),
    ],
)
def test_is_transient(error, transient):
    assert is_transient(error) is transient


def test_backoff_grows_to_its_cap_and_resets():
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.next() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))
    backoff.reset()
    assert backoff.failures == 0 and backoff.next() <= 1.0


def test_doctests():
    assert doctest.testmod(transient_module).failed == 0
    assert doctest.testmod(backoff_module).failed == 0
