"""``retain uplift-data``: uplift training rows from the stored decisions (the database twin of
``retain rules uplift-data``, which builds them from a backtest with the same builder).

Each engage/defer/holdout decision since ``--days`` ago with its features becomes a row whose
outcome is the results page's (``retain.console.outcomes.uplift_table``); rows whose goal window
is still open are left out. Feed the file to ``retain model evaluate-uplift --dataset FILE``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer


def uplift_data(
    out: Annotated[Path, typer.Option("--out", help="uplift table to write (.parquet or .csv)")],
    days: Annotated[int, typer.Option("--days", min=1, help="decisions of the last N days")] = 90,
) -> None:
    """Uplift training rows from the stored decisions: engage/holdout, features, goal reached in the window."""
    from infra.database import make_engine, session_scope
    from infra.settings import Settings
    from models.uplift_data import check_uplift_out, serving_feature_names, write_uplift_table
    from retain.console.outcomes import uplift_table
    from retain.migrations import migrate

    check_uplift_out(out)
    settings = Settings()
    names = serving_feature_names(settings)
    now = dt.datetime.now(dt.timezone.utc)
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            rows = uplift_table(session=session, since=now - dt.timedelta(days=days), now=now, feature_names=names)
    finally:
        engine.dispose()
    typer.echo(write_uplift_table(rows, out), err=True)
