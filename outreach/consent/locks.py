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
The primitives are ``infra.party_locks``: the projection of upstream consent flags (``customer.profile``
events, ``signals.projection``) takes the same exclusive customer locks.

Not locked: ``lift_suppression`` (a send decided just before a lift loses nothing; opt-ins lock
all the same through ``record_consent``, a short wait at worst), and the ``consent`` topic replay
(``replay.py``), which republishes stored changes to the broker and writes no consent rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from infra.party_locks import applies, lock_keys, lock_parties

__all__ = ["applies", "lock_for_opt_out", "lock_for_send", "lock_keys"]


def lock_for_opt_out(session: Session, *, customer_ids: Iterable[str] = (),
                     contact_hashes: Iterable[str | None] = ()) -> None:
    """Exclusive locks, until the commit: no chunk deciding a send to these reads consent meanwhile."""
    lock_parties(session, shared=False, customer_ids=customer_ids, contact_hashes=contact_hashes)


def lock_for_send(session: Session, *, customer_ids: Iterable[str] = (),
                  contact_hashes: Iterable[str | None] = ()) -> None:
    """Shared locks, until the commit: no opt-out of these commits between the consent read and the commit."""
    lock_parties(session, shared=True, customer_ids=customer_ids, contact_hashes=contact_hashes)
