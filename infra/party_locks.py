"""Transaction-scoped advisory locks per customer and per contact point (PostgreSQL; no-op on SQLite).

The primitives of the order between opt-outs and send decisions (``outreach.consent.locks`` says
who takes which and why). They live here because writers in more than one layer take them: the
consent store and the webhooks (outreach) and the projection of upstream consent flags (signals).
Keys are taken in one statement, customers before contact hashes, each group in key order, so any
two transactions that take them first cannot deadlock on them.
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


def lock_parties(session: Session, *, shared: bool, customer_ids: Iterable[str] = (),
                 contact_hashes: Iterable[str | None] = ()) -> None:
    """Take the shared or exclusive lock of each customer and contact hash, until the transaction ends."""
    if not applies(session):
        return
    keys = lock_keys(customer_ids, contact_hashes)
    if keys:  # unnest yields the keys in array order, so they are taken in that order
        session.execute(_SHARED if shared else _EXCLUSIVE, {"keys": keys})


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
