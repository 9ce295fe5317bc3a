"""Account actions shared by the JSON API, the pages and the CLI: disable, enable, sign out everywhere.

Each one is audited the same way wherever it comes from. Disabling signs the user out everywhere
(every session ended, every API token revoked) in the same transaction, so access stops at the
commit, not at the next expiry. An admin cannot disable their own account from the console (a
slip that would lock the last admin out; the CLI can still do it). The caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlmodel import Session

from retain.console.users import audit, set_disabled, sign_out_everywhere

AccountAction = Literal["disable", "enable", "sign-out"]
ACTIONS: tuple[str, ...] = ("disable", "enable", "sign-out")


class SelfLockout(ValueError):
    """An admin tried to disable their own account from the console."""


def change_account(*, session: Session, actor: str, username: str, action: AccountAction, now: dt.datetime,
                   from_console: bool = True) -> dict[str, Any]:
    """Apply ``action`` to ``username`` and audit it; ValueError for an unknown user, ``SelfLockout`` for oneself."""
    if action == "disable" and from_console and username == actor:
        raise SelfLockout("you cannot disable your own account (another admin or the CLI can)")
    if action == "sign-out":
        ended, revoked = sign_out_everywhere(session=session, username=username, now=now)
        disabled = None
    else:
        disabled = action == "disable"
        ended, revoked = set_disabled(session=session, username=username, disabled=disabled, now=now)
    detail = {"sessions_ended": ended, "tokens_revoked": revoked} if action != "enable" else {}
    audit(session=session, actor=actor, action=f"user.{action}", target=f"user:{username}", now=now, detail=detail)
    result: dict[str, Any] = {"username": username, "sessions_ended": ended, "tokens_revoked": revoked}
    if disabled is not None:
        result["disabled"] = disabled
    return result
