"""The console's JSON API for accounts (admins only): users, API tokens, disabling and signing out.

User names are checked by ``credentials.check_username``, the same check the form and the CLI
use, so a name the API refuses can never be created another way. Every write is audited.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import Session

from retain.console.accounts import SelfLockout, change_account
from retain.console.auth import Principal, db, request_now, require
from retain.console.credentials import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ROLES, USERNAME_RULE, check_username
from retain.console.users import audit, create_token, create_user, list_users, revoke_token

router = APIRouter(prefix="/api", tags=["console"])

UserName = Annotated[str, AfterValidator(check_username), Field(description=USERNAME_RULE)]
# An existing user's name in a path: no pattern (older names may predate it), but no control characters.
ExistingName = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f]{1,64}$", description="an existing user's name")]


class NewUser(BaseModel):
    """A console user to create."""

    username: UserName
    role: Literal["viewer", "editor", "approver", "admin"]
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class NewToken(BaseModel):
    """An API token to issue to a user."""

    username: str
    name: str = Field(min_length=1, max_length=100)


@router.get("/users")
def get_users(session: Session = Depends(db), _: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    """Console users and their roles."""
    return [{"username": u.username, "role": u.role, "disabled": u.disabled, "created_at": u.created_at.isoformat()}
            for u in list_users(session=session)]


@router.post("/users", status_code=201)
def post_user(body: NewUser, request: Request, session: Session = Depends(db),
              principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Create a console user; 409 when the name is taken."""
    now = request_now(request)
    try:
        create_user(session=session, username=body.username, role=body.role, password=body.password, now=now)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    audit(session=session, actor=principal.username, action="user.create", target=f"user:{body.username}", now=now,
          detail={"role": body.role})
    session.commit()
    return {"username": body.username, "role": body.role, "roles": list(ROLES)}


def _account(action: str, username: str, request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    try:
        result = change_account(session=session, actor=principal.username, username=username, action=action,
                                now=request_now(request))
    except SelfLockout as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    session.commit()
    return result


@router.post("/users/{username}/disable")
def post_disable(username: ExistingName, request: Request, session: Session = Depends(db),
                 principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Disable a user: their sessions end and their API tokens are revoked at once; 409 for yourself."""
    return _account("disable", username, request, session, principal)


@router.post("/users/{username}/enable")
def post_enable(username: ExistingName, request: Request, session: Session = Depends(db),
                principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Enable a disabled user again (revoked tokens stay revoked)."""
    return _account("enable", username, request, session, principal)


@router.post("/users/{username}/sign-out")
def post_sign_out(username: ExistingName, request: Request, session: Session = Depends(db),
                  principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """End every session of a user and revoke every API token of theirs; the account stays enabled."""
    return _account("sign-out", username, request, session, principal)


@router.post("/tokens", status_code=201)
def post_token(body: NewToken, request: Request, session: Session = Depends(db),
               principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Issue an API token; the secret is in this answer only (it is stored hashed)."""
    now = request_now(request)
    try:
        secret, record = create_token(session=session, username=body.username, name=body.name, now=now)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    audit(session=session, actor=principal.username, action="token.create", target=f"user:{body.username}", now=now,
          detail={"token_id": record.token_id, "name": body.name})
    session.commit()
    return {"token_id": record.token_id, "token": secret, "username": body.username}


@router.delete("/tokens/{token_id}")
def delete_token(token_id: str, request: Request, session: Session = Depends(db),
                 principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Revoke an API token; 404 when there is no such active token."""
    now = request_now(request)
    if not revoke_token(session=session, token_id=token_id, now=now):
        raise HTTPException(404, f"no active token {token_id!r}")
    audit(session=session, actor=principal.username, action="token.revoke", target=f"token:{token_id}", now=now)
    session.commit()
    return {"token_id": token_id, "revoked": True}
