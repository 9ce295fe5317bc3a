"""Login throttling kept in the database, per user name and per client address (policy: ``backoff``).

``begin`` counts one attempt on every key before the password is checked, or refuses it without
counting when a key must still wait; the caller commits the count at once, so other processes and
parallel requests see it. Each key's row is updated compare-and-swap on its ``generation``: of
two attempts racing on one key only one is counted, the other is told to retry in a second.
``succeeded`` forgets the user name's failures and refunds the address's attempt (an address is
never reset by a success: an attacker with one real account must not wipe its own record).
The state lives in SQL, so a restart or a second API process does not reset anyone's wait.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlmodel import Session

from infra.database import dialect_insert
from retain.console.backoff import ADDRESS_POLICY, NAME_POLICY, Backoff, KeyState
from retain.console.client_address import throttle_address
from retain.console.credentials import digest
from retain.console.records import LoginThrottleRecord

RACE_RETRY = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Claim:
    """One key's counted attempt: the state before and after, and the row generation it wrote."""

    key: str
    policy: Backoff
    before: KeyState | None
    after: KeyState
    generation: int


@dataclass(frozen=True)
class Attempt:
    """The outcome of ``begin``: the counted claims, or how long to wait (then nothing was counted)."""

    claims: tuple[Claim, ...] = ()
    wait: dt.timedelta = dt.timedelta(0)

    @property
    def allowed(self) -> bool:
        """True when the attempt was counted and the password may be checked."""
        return self.wait <= dt.timedelta(0)


def name_key(username: str) -> str:
    """The throttle key of a user name (a digest: whatever was typed is not stored)."""
    return "name:" + digest(username)


def address_key(address: str) -> str:
    """The throttle key of a client address (IPv6 by /64)."""
    return "addr:" + throttle_address(address)


def device_key(device: str) -> str:
    """The throttle key of a known browser (its device cookie's digest)."""
    return "device:" + digest(device)


def login_keys(username: str, address: str, known_device: str | None = None) -> list[tuple[str, Backoff]]:
    """The keys one login attempt counts against: the name (or the user's known browser) and the address.

    A browser the user logged in from before (``known_device``, its cookie) is counted on its own
    key instead of the name, so a stranger making the name wait does not make the user wait.
    """
    first = device_key(known_device) if known_device else name_key(username)
    return [(first, NAME_POLICY), (address_key(address), ADDRESS_POLICY)]


def _load(session: Session, key: str) -> tuple[KeyState | None, int]:
    row = session.get(LoginThrottleRecord, key, populate_existing=True)
    if row is None:
        return None, 0
    return KeyState(row.failures, row.blocked_until, row.updated_at), row.generation


def _write(session: Session, key: str, state: KeyState, generation: int) -> bool:
    values = {"failures": state.failures, "blocked_until": state.blocked_until, "updated_at": state.updated_at,
              "generation": generation + 1}
    if generation == 0:
        table = LoginThrottleRecord.__table__
        stmt = (dialect_insert(session, table).values(key=key, **values).on_conflict_do_nothing()
                .returning(table.c.key))
        return session.execute(stmt).first() is not None
    stmt = (update(LoginThrottleRecord)
            .where(LoginThrottleRecord.key == key, LoginThrottleRecord.generation == generation).values(**values))
    return session.execute(stmt).rowcount == 1


def begin(*, session: Session, keys: list[tuple[str, Backoff]], now: dt.datetime) -> Attempt:
    """Count one attempt on every key, or refuse it (counting nothing) with the longest wait; the caller commits.

    On a refusal the caller rolls back: a lost race may have counted the first key already.
    """
    loaded = {key: _load(session, key) for key, _ in keys}
    wait = max(policy.remaining(loaded[key][0], now) for key, policy in keys)
    if wait > dt.timedelta(0):
        return Attempt(wait=wait)
    claims = []
    for key, policy in keys:
        before, generation = loaded[key]
        after = policy.counted(before, now)
        if not _write(session, key, after, generation):
            return Attempt(wait=RACE_RETRY)  # another attempt on this key got in first
        claims.append(Claim(key, policy, before, after, generation + 1))
    if any(generation == 0 for _, generation in loaded.values()):
        forget_old(session=session, now=now)  # new rows only come with new keys: tidy then
    return Attempt(claims=tuple(claims))


def succeeded(*, session: Session, attempt: Attempt, reset: str, now: dt.datetime) -> None:
    """After a successful login: forget key ``reset`` (the name) and refund the others' attempt."""
    for claim in attempt.claims:
        if claim.key == reset:
            session.execute(delete(LoginThrottleRecord).where(LoginThrottleRecord.key == claim.key))
        else:  # if another attempt was counted meanwhile the refund is skipped: the safe side
            _write(session, claim.key, claim.policy.refunded(claim.after, claim.before, now), claim.generation)


def forget_old(*, session: Session, now: dt.datetime) -> int:
    """Delete keys whose wait is over and whose failures are all forgotten; returns how many."""
    horizon = now - max(NAME_POLICY.forget_after, ADDRESS_POLICY.forget_after)
    result = session.execute(delete(LoginThrottleRecord).where(LoginThrottleRecord.updated_at < horizon,
                                                              LoginThrottleRecord.blocked_until < now))
    return result.rowcount

