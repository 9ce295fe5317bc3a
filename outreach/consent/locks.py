"""Opt-outs and sends ordered per customer and per contact point: transaction-scoped advisory locks.

The sender decides a chunk in one transaction: it reads consent rows and suppressions, then
commits ``sending``. Under PostgreSQL's READ COMMITTED an opt-out committed between that read and
that commit is not seen, and the message would go out after the opt-out was acknowledged. So:

* whoever records an opt-out or a suppression takes the EXCLUSIVE lock of each customer and
  contact hash it writes (``lock_for_opt_out``), in the transaction that writes them;
* the sender's chunk transaction takes the SHARED lock of each of its rows' customers and contact
  hashes (``lock_for_send``) before it reads consent.

An opt-out then either commits before the chunk reads (the row is suppressed) or waits until the
chunk committed (the send was decided before the opt-out). Chunks share their locks, so senders
never wait on each other. On SQLite both are no-ops: the chunk's first statement (``outbox.hold``,
an UPDATE) takes the database write lock, and no opt-out commits until the chunk does.

Deadlocks: every transaction takes these locks before any other lock of its own (before
``outbox.hold``, before ``set_provider_status``), all it needs in one call, customers before
contact hashes, each group in key order. ``record_consent`` and ``suppress`` lock their own key as
well, so a writer that forgot to take them first is still ordered (a repeated lock is free);
PostgreSQL would then break a rare cycle by failing one transaction, a transient error.
The locks end with the transaction (``pg_advisory_xact_lock``): no unlock, no leak on a crash.

Not locked: ``lift_suppression`` (a send decided just before a lift loses nothing; opt-ins lock
all the same through ``record_consent``, a short wait at worst), and the ``consent`` topic replay
(``replay.py``), which republishes stored changes to the broker and writes no consent rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger)))
_SHARED = text("SELECT pg_advisory_xact_lock_shared(k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger)))


def applies(session: Session) -> bool:
    """Whether this database needs the locks (PostgreSQL); SQLite orders writers by its write lock."""
    return session.get_bind().dialect.name == "postgresql"


def lock_for_opt_out(session: Session, *, customer_ids: Iterable[str] = (),
                     contact_hashes: Iterable[str | None] = ()) -> None:
    """Exclusive locks, until the commit: no chunk deciding a send to these reads consent meanwhile."""
    _lock(session, _EXCLUSIVE, customer_ids, contact_hashes)


def lock_for_send(session: Session, *, customer_ids: Iterable[str] = (),
                  contact_hashes: Iterable[str | None] = ()) -> None:
    """Shared locks, until the commit: no opt-out of these commits between the consent read and the commit."""
    _lock(session, _SHARED, customer_ids, contact_hashes)


def lock_keys(customer_ids: Iterable[str], contact_hashes: Iterable[str | None]) -> list[int]:
    """The lock keys in the order every transaction takes them: customers first, then contact hashes.

    >>> lock_keys(["c2", "c1", "c1"], [None]) == sorted(lock_keys(["c1", "c2"], []))
    True
    >>> len(lock_keys(["x"], ["x"]))  # a customer id and a hash never share a key
    2
    """
    customers = sorted({_key("customer", value) for value in customer_ids})
    hashes = sorted({_key("contact", value) for value in contact_hashes if value})
    return customers + hashes


def _key(kind: str, value: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint); a collision only makes two unrelated parties wait."""
    digest = hashlib.blake2b(f"retain.consent\x1f{kind}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock(session: Session, statement, customer_ids: Iterable[str], contact_hashes: Iterable[str | None]) -> None:
    if not applies(session):
        return
    keys = lock_keys(customer_ids, contact_hashes)
    if keys:  # unnest yields the keys in array order, so they are taken in that order
        session.execute(statement, {"keys": keys})
