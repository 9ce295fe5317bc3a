"""The ``retain`` command line: run the service, simulate, and the ops and data-science tools."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from infra.settings import ProductionSettingsError, Settings
from retain.explain_cli import explain
from retain.uplift_data_cli import uplift_data
from simulator.cli import simulate

app = typer.Typer(help="retain: proactive outreach and churn prevention on event streams.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
app.command("simulate", help="Write a simulated event history (and churn labels) to a file.")(simulate)
app.command("explain", help="Why did (or didn't) a customer get a message? Their timeline.")(explain)
app.command("uplift-data", help="Uplift training rows from the stored decisions (goal reached in the window).")(uplift_data)


# Commands that run the service: after a restart their API must answer within seconds, so they do
# not pay for the tool groups' imports (LightGBM and scikit-learn alone take ~0.9 s).
SERVICE_COMMANDS = frozenset({"up", "worker", "broker"})


def _mount_optional_groups(argv: list[str]) -> None:
    # Sub-apps own their dependencies (LightGBM for `model`); mounted here so `retain --help` lists them.
    if len(argv) > 1 and argv[1] in SERVICE_COMMANDS:
        return
    from models.cli import app as model_app
    from retain.console.cli import users_app
    from retain.console.customers_cli import customers_app
    from retain.producers.cli import producers_app
    from retain.quarantine_cli import quarantine_app
    from retain.triage_cli import app as triage_app
    from triggers.cli import app as rules_app

    app.add_typer(model_app, name="model", help="Build datasets, train, evaluate and promote the risk model.")
    app.add_typer(rules_app, name="rules", help="Validate, backtest and inspect trigger rules.")
    app.add_typer(users_app, name="users", help="Console users and API tokens.")
    app.add_typer(producers_app, name="producers", help="Ingest credentials: create, list, revoke.")
    app.add_typer(triage_app, name="triage", help="Build and evaluate the triage of customers' replies.")
    app.add_typer(customers_app, name="customers", help="Customer profiles: the console's search index.")
    app.add_typer(quarantine_app, name="quarantine", help="Customers whose stream state was set aside; release one.")


_mount_optional_groups(sys.argv)


@app.command()
def demo(
    duration: Annotated[Optional[float], typer.Option(help="Stop after this many seconds (default: until Ctrl-C)")] = None,
    customers: Annotated[int, typer.Option(min=10, help="Simulated customers")] = 300,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 7,
    speedup: Annotated[float, typer.Option(min=1.0, help="Simulated seconds per real second")] = 60.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON summary at the end")] = False,
    inject_bad_rule: Annotated[bool, typer.Option(
        "--inject-bad-rule", help="Add one rule its recipients do not want, to watch the reputation guard pause it")] = False,
) -> None:
    """Start broker, worker, API and scheduler on embedded defaults, with a simulated shop feeding them."""
    from retain.demo import run_demo
    from infra.logs import configure_logging
    from infra.private_files import private_dir

    settings = Settings()
    configure_logging(file=private_dir(settings.data_dir) / "demo.log")
    console = Console(stderr=json_out)
    summary = asyncio.run(run_demo(settings, duration=duration, customers=customers, seed=seed,
                                   speedup=speedup, console=console, show_progress=console.is_terminal,
                                   inject_bad_rule=inject_bad_rule))
    if json_out:
        print(json.dumps(summary))
    else:
        console.print_json(json.dumps(summary))


@app.command()
def up(
    port: Annotated[Optional[int], typer.Option(help="HTTP port (default: settings api_port)")] = None,
) -> None:
    """Run the service (worker, API, scheduler; embedded broker and SQLite unless configured) until Ctrl-C."""
    from infra.logs import configure_logging
    from retain.runtime import Runtime

    configure_logging()
    settings = Settings()

    async def serve() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # Says as soon as the API answers which mode runs and what it keeps, then when all is ready.
        async with Runtime(settings, api_port=port, announce=lambda line: print(line, file=sys.stderr, flush=True)):
            await stop.wait()

    try:
        asyncio.run(serve())
    except ProductionSettingsError as exc:  # a configuration answer, not a crash: no traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


@app.command()
def worker(
    broker: Annotated[Optional[str], typer.Option(help="kafka://host:port (default: KAFKA_URL)")] = None,
) -> None:
    """Run one stream worker (scale out by starting more on the same KAFKA_URL)."""
    from retain.worker import main

    url = broker or Settings().kafka_url
    if not url:
        raise typer.BadParameter("set KAFKA_URL or pass --broker (start one with `retain broker`)")
    main(["--broker", url if "://" in url else f"kafka://{url}"])


@app.command()
def broker() -> None:
    """Run the embedded Kafka-protocol broker alone and print its URL (for workers on this machine)."""
    import signal
    import threading

    from infra.broker import EmbeddedBroker

    settings = Settings()
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with EmbeddedBroker(settings.data_dir) as running:
        print(f"KAFKA_URL={running.url}", flush=True)
        done.wait()


@app.command()
def migrate() -> None:
    """Apply database migrations (SQLite file or DATABASE_URL) up to the latest revision."""
    from infra.database import make_engine
    from retain.migrations import current_revision
    from retain.migrations import migrate as run_migrations

    engine = make_engine(Settings())
    run_migrations(engine)
    print(f"database at revision {current_revision(engine)}")


@app.command()
def schema(
    out: Annotated[Optional[Path], typer.Option(help="Write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of the event envelope."""
    from signals.events import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True)
    if out:
        out.write_text(text + "\n")
    else:
        print(text)

