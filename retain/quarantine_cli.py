"""``retain quarantine``: list the customers the stream worker set aside, and release one.

Releasing writes a control record onto ``events``, keyed by the customer (``signals.quarantine``):
the worker that owns the customer folds the events it held into the kept state with the code it
runs now (``--reset``: into a fresh state), in order with the customer's other events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
from typing import Annotated, Optional

import typer

quarantine_app = typer.Typer(no_args_is_help=True, help="Customers whose stream state was set aside.")


@quarantine_app.command("list")
def list_command(
    all_: Annotated[bool, typer.Option("--all", help="include released ones")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Quarantined customers (as the projection last stored them), longest-held first."""
    from infra.database import make_engine, session_scope
    from infra.settings import Settings
    from signals.quarantine_store import list_quarantines

    engine = make_engine(Settings())
    try:
        with session_scope(engine) as session:
            rows = list_quarantines(session=session, include_released=all_)
    finally:
        engine.dispose()
    if json_out:
        typer.echo(json.dumps(rows))
        return
    for row in rows or []:
        typer.echo(f"{row['customer_id']}\t{row['status']}\tsince {row['since']}\t{row['held']} held\t"
                   f"{row['stage']}: {row['reason']}")
    if not rows:
        typer.echo("no quarantined customers")


@quarantine_app.command("release")
def release_command(
    customer_id: Annotated[str, typer.Argument(help="the customer to release")],
    reset: Annotated[bool, typer.Option(help="discard the kept state: fold the held events into a fresh one")] = False,
    broker: Annotated[Optional[str], typer.Option(help="kafka://host:port (default: KAFKA_URL; "
                                                       "`retain up` prints the embedded one)")] = None,
) -> None:
    """Ask the worker to fold the customer's held events again (and leave quarantine if that works)."""
    from infra.settings import Settings
    from signals.quarantine import release_request

    url = broker or Settings().kafka_url
    if not url:
        raise typer.BadParameter("set KAFKA_URL or pass --broker (the URL `retain up` printed)")
    key, value, headers = release_request(customer_id, reset=reset, requested_by=getpass.getuser(),
                                          now=dt.datetime.now(dt.timezone.utc))
    asyncio.run(_send(url.split("://", 1)[-1].replace(";", ","), key, value, headers))
    typer.echo(f"release of {customer_id} requested{' (reset)' if reset else ''}; "
               f"`retain explain {customer_id}` shows when the worker has done it")


async def _send(bootstrap: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from infra.stream_app import EVENTS

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(EVENTS, value, key=key, headers=headers)
    finally:
        await producer.stop()
