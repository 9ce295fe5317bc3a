"""How long a login key (a user name, a client address) must wait after failed attempts. Pure.

Each attempt is counted before its password is checked (so parallel guesses cannot slip through
together) and refunded when it succeeds. A few failures cost nothing; after that every failure
doubles the wait, up to a cap, and a key with no failure for ``forget_after`` starts over. There
is no permanent lock: an attacker who keeps guessing only keeps a name waiting up to the cap
between single tries (about 100 guesses a day at a 15-minute cap), and the real user gets in
once the wait has passed.

>>> policy = Backoff(free=2, first_wait=dt.timedelta(seconds=1), longest_wait=dt.timedelta(minutes=15))
>>> [int(policy.wait(n).total_seconds()) for n in range(1, 7)]
[0, 0, 1, 2, 4, 8]
>>> int(policy.wait(40).total_seconds())
900
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyState:
    """What is stored for one key: failures counted, the end of its wait, its last change."""

    failures: int
    blocked_until: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Backoff:
    """Free failures, then a doubling wait from ``first_wait`` up to ``longest_wait``."""

    free: int
    first_wait: dt.timedelta
    longest_wait: dt.timedelta
    forget_after: dt.timedelta = dt.timedelta(hours=24)

    def wait(self, failures: int) -> dt.timedelta:
        """The wait after ``failures`` counted failures."""
        over = failures - self.free
        if over <= 0:
            return dt.timedelta(0)
        if over > 40:  # 2**40 seconds is past any cap; avoid building huge numbers
            return self.longest_wait
        return min(self.first_wait * 2 ** (over - 1), self.longest_wait)

    def remaining(self, state: KeyState | None, now: dt.datetime) -> dt.timedelta:
        """How long the key must still wait at ``now`` (zero: it may try)."""
        if state is None or state.blocked_until <= now:
            return dt.timedelta(0)
        return state.blocked_until - now

    def counted(self, state: KeyState | None, now: dt.datetime) -> KeyState:
        """The state after one more attempt counted as a failure at ``now``."""
        forgotten = state is None or now - state.updated_at >= self.forget_after
        failures = 1 if forgotten else state.failures + 1
        return KeyState(failures, now + self.wait(failures), now)

    def refunded(self, state: KeyState, previous: KeyState | None, now: dt.datetime) -> KeyState:
        """The state after an attempt counted by ``counted`` succeeded: one failure fewer, the old wait."""
        failures = max(state.failures - 1, 0)
        until = previous.blocked_until if previous is not None else now
        return KeyState(failures, min(until, now), now)


def retry_after_seconds(wait: dt.timedelta) -> int:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait.total_seconds()))


# A user name: five typos are free; then 1 s, 2 s, 4 s ... up to 15 minutes between tries.
NAME_POLICY = Backoff(free=5, first_wait=dt.timedelta(seconds=1), longest_wait=dt.timedelta(minutes=15))
# A client address (an office behind one NAT shares it): twenty failures free, then the same doubling.
ADDRESS_POLICY = Backoff(free=20, first_wait=dt.timedelta(seconds=1), longest_wait=dt.timedelta(minutes=15))
