"""Whose fault is it: the infrastructure's (wait and retry) or the record's (dead-letter it)?

A database that is down, restarting or locked, a broker that does not answer: no input is wrong,
and the right reaction is to pause, retry with backoff and say so in ``Health``. Dead-lettering a
valid record, or giving a message a final state, because of such an error loses work for good.
``is_transient`` is the one place that draws that line; everything else an input raises is its
own fault (``describe_error`` in ``infra.deadletter`` says why).

>>> from sqlalchemy.exc import OperationalError, IntegrityError
>>> is_transient(OperationalError("INSERT", {}, Exception("database is locked")))
True
>>> is_transient(IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")))
False
>>> is_transient(ValueError("not a decision"))
False
"""

from __future__ import annotations

from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_exc

# The database could not be reached or did not answer in time (SQLite "database is locked" and
# "disk I/O error" are OperationalErrors too; a missing table is, and is infrastructure as well).
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                        sa_exc.TimeoutError)
# The broker did not answer or the request timed out; aiokafka marks the rest with ``retriable``.
BROKER_UNAVAILABLE = (kafka_errors.KafkaConnectionError, kafka_errors.KafkaTimeoutError,
                      kafka_errors.NodeNotReadyError, kafka_errors.RequestTimedOutError)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database or the broker is unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable(current):
            return True
        current = current.__cause__
    return False


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_UNAVAILABLE + BROKER_UNAVAILABLE):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, kafka_errors.KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, (ConnectionError, TimeoutError))  # sockets below either client
