"""``retain producers``: create, list and revoke ingest credentials from a terminal.

A Typer app; the CLI mounts it with ``app.add_typer(producers_app, name="producers")``. Changes are
recorded in the console audit log with the actor ``cli``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

# One session/error/dispose context for every admin command (a ValueError -> "error: ..." and exit 2).
from retain.console.cli import _session as admin_session
from retain.producers.scopes import EVENTS, SCOPES

producers_app = typer.Typer(help="Ingest credentials of event producers (storefront, billing, Segment).",
                            no_args_is_help=True)
CLI_ACTOR = "cli"


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@producers_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="what sends with it, e.g. storefront or segment")],
    scope: Annotated[list[str], typer.Option(
        help=f"repeat for several: {'; '.join(f'{k} = {v}' for k, v in SCOPES.items())}")] = [EVENTS],  # noqa: B006
) -> None:
    """Create an ingest credential; its secret is printed once and stored hashed."""
    from retain.producers.service import create_credential

    with admin_session() as session:
        secret, record = create_credential(session=session, name=name, scopes=scope, actor=CLI_ACTOR,
                                           now=dt.datetime.now(dt.timezone.utc))
        session.commit()
    typer.echo(f"created {record.name} ({record.credential_id}) with scopes {', '.join(record.scopes)}; "
               "the secret is shown once:", err=True)
    typer.echo(secret)


@producers_app.command("list")
def list_() -> None:
    """List credentials: id, name, scopes, state, created, last used."""
    from retain.producers.service import list_credentials

    with admin_session() as session:
        for r in list_credentials(session=session):
            state = f"revoked {_when(r.revoked_at)} by {r.revoked_by}" if r.revoked_at else "active"
            typer.echo("\t".join([r.credential_id, r.name, ",".join(r.scopes), state,
                                  f"created {_when(r.created_at)} by {r.created_by}", f"last used {_when(r.last_used_at)}"]))


@producers_app.command("revoke")
def revoke(ref: Annotated[str, typer.Argument(help="the credential's id or the name of an active one")]) -> None:
    """Revoke a credential: requests with it are refused (401) from now on."""
    from retain.producers.service import revoke_credential

    with admin_session() as session:
        record = revoke_credential(session=session, ref=ref, actor=CLI_ACTOR, now=dt.datetime.now(dt.timezone.utc))
        if record is None:
            raise ValueError(f"no active credential with id or name {ref!r}")
        session.commit()
    typer.echo(f"revoked {record.name} ({record.credential_id})")
