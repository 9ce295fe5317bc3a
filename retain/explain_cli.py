"""``retain explain CUSTOMER_ID``: the customer's recent signals, scores and decisions with reasons.

A plain function with Typer annotations; the CLI mounts it with ``app.command("explain")(explain)``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console


def explain(
    customer_id: Annotated[str, typer.Argument(help="the customer's id as upstream systems know it")],
    days: Annotated[int, typer.Option(min=1, help="how far back to look")] = 90,
    limit: Annotated[int, typer.Option(min=1, help="at most this many signals and decisions")] = 200,
    json_out: Annotated[bool, typer.Option("--json", help="print the timeline as JSON")] = False,
) -> None:
    """Why did (or didn't) this customer hear from us: signals, risk, decisions and reasons."""
    from infra.database import make_engine, session_scope
    from infra.settings import Settings
    from signals.quarantine_store import quarantine_of
    from signals.records import SignalRecord
    from signals.service import signal_from_record
    from sqlalchemy import select
    from triggers.explain import build_timeline, recent_since, render_timeline
    from triggers.service import list_decisions

    since = recent_since(dt.datetime.now(dt.timezone.utc), days)
    engine = make_engine(Settings())
    try:
        with session_scope(engine) as session:
            rows = session.scalars(
                select(SignalRecord)
                .where(SignalRecord.customer_id == customer_id, SignalRecord.detected_at > since)
                .order_by(SignalRecord.detected_at.desc())
                .limit(limit)
            )
            signals = [signal_from_record(r) for r in rows]
            decisions = list_decisions(session=session, customer_id=customer_id, since=since, limit=limit)
            quarantine = quarantine_of(session=session, customer_id=customer_id)
    except Exception as exc:  # noqa: BLE001 - most likely an unmigrated database; say so plainly
        typer.echo(f"cannot read the database ({type(exc).__name__}); run `retain migrate` first?", err=True)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    timeline = build_timeline(signals, decisions)
    if json_out:
        typer.echo(json.dumps({"customer_id": customer_id, "since": since.isoformat(), "timeline": timeline,
                               "quarantine": quarantine}))
        return
    console = Console()
    if quarantine is not None and quarantine["status"] == "quarantined":
        console.print(f"[bold red]stream state quarantined[/] since {quarantine['since']} "
                      f"({quarantine['stage']}: {quarantine['reason']}); {quarantine['held']} event(s) held, "
                      f"no signals until released: {quarantine['release_command']}", markup=True, highlight=False)
    render_timeline(customer_id, timeline, console)
