"""``retain users``: create, list, disable and enable console users, sign them out, issue API tokens (the first admin starts here).

A Typer app; the CLI mounts it with ``app.add_typer(users_app, name="users")``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from retain.console.credentials import ROLES

users_app = typer.Typer(help="Console users, roles and API tokens.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Any]:
    """A session on the migrated database; a ``ValueError`` becomes ``error: ...`` and exit code 2."""
    from infra.database import make_engine, session_scope
    from retain.migrations import migrate
    from infra.settings import Settings

    engine = make_engine(Settings())
    try:
        migrate(engine)  # creating the first user must not depend on having run `retain migrate`
        with session_scope(engine) as session:
            yield session
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()


@users_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the user name to log in with")],
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")] = "viewer",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="RETAIN_USER_PASSWORD",
                                          help="at least 10 characters (prompted when not given)")] = "",
) -> None:
    """Create a console user with a role (viewer, editor, approver, admin)."""
    from retain.console.users import audit, create_user

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    now = dt.datetime.now(dt.timezone.utc)
    with _session() as session:
        create_user(session=session, username=name, role=role, password=password, now=now)
        audit(session=session, actor="cli", action="user.create", target=f"user:{name}", now=now,
              detail={"role": role})
        session.commit()
    typer.echo(f"created {role} {name}")


@users_app.command("list")
def list_() -> None:
    """List console users and their roles."""
    from retain.console.users import list_users

    with _session() as session:
        for user in list_users(session=session):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"{user.username}\t{user.role}\t{state}")


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="the user the token acts as")],
    label: Annotated[str, typer.Option("--name", help="what the token is for")] = "cli",
) -> None:
    """Issue an API token for a user; it is printed once and stored hashed."""
    from retain.console.users import audit, create_token

    now = dt.datetime.now(dt.timezone.utc)
    with _session() as session:
        secret, record = create_token(session=session, username=name, name=label, now=now)
        audit(session=session, actor="cli", action="token.create", target=f"user:{name}", now=now,
              detail={"token_id": record.token_id, "name": label})
        session.commit()
    typer.echo(secret)


def _account(name: str, action: str) -> dict:
    from retain.console.accounts import change_account

    with _session() as session:
        result = change_account(session=session, actor="cli", username=name, action=action,
                                now=dt.datetime.now(dt.timezone.utc), from_console=False)
        session.commit()
    return result


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="the user to disable")]) -> None:
    """Disable a user: every session ends and every API token is revoked at once."""
    result = _account(name, "disable")
    typer.echo(f"disabled {name}: {result['sessions_ended']} session(s) ended, "
               f"{result['tokens_revoked']} token(s) revoked")


@users_app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="the user to enable again")]) -> None:
    """Enable a disabled user (their revoked tokens stay revoked)."""
    _account(name, "enable")
    typer.echo(f"enabled {name}")


@users_app.command("sign-out")
def sign_out(name: Annotated[str, typer.Argument(help="the user to sign out everywhere")]) -> None:
    """End every session of a user and revoke every API token of theirs; the account stays enabled."""
    result = _account(name, "sign-out")
    typer.echo(f"signed out {name}: {result['sessions_ended']} session(s) ended, "
               f"{result['tokens_revoked']} token(s) revoked")
