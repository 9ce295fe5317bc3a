"""Training data from the project's simulator (``simulator``), with its ground truth.

The simulator knows each customer's true churn probability at every observation date, so a
model's AUC can be set beside the oracle's AUC on the very same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError
from tqdm import tqdm

from models.dataset import LabelSpec, build_dataset
from signals.features import USAGE_DAYS
from signals.events import parse_event


@dataclass
class SimulatedData:
    """Parsed events, the training table (with ``true_probability``) and the label used."""

    events: list[Any]
    table: pd.DataFrame
    label: LabelSpec
    rejected: int


def simulate_events(customers: int, days: int, seed: int = 0, *, progress: bool = True) -> tuple[Any, list[Any], int]:
    """(simulator, valid parsed events, number rejected) for a seeded run."""
    from simulator.engine import Simulator  # imported late: only this path needs it

    sim = Simulator(customers, days, seed=seed)
    events, rejected = [], 0
    with tqdm(total=days, desc="simulating", unit="day", disable=not progress) as bar:
        for raw in sim.run(progress=bar):
            try:
                events.append(parse_event(raw))
            except (ValidationError, ValueError):
                rejected += 1  # the simulator may plant malformed records on purpose
    return sim, events, rejected


def simulated_dataset(
    customers: int = 2000, days: int = 150, seed: int = 0, *, warm_up_days: int = USAGE_DAYS, progress: bool = True
) -> SimulatedData:
    """Features at the simulator's observation dates, labelled with its realised churn."""
    sim, events, rejected = simulate_events(customers, days, seed, progress=progress)
    label = LabelSpec(kind="activity", horizon_days=float(sim.horizon_days))
    # The simulated history starts empty: skip dates before the usage baseline window is filled.
    dates = [sim.start + dt.timedelta(days=d) for d in sim.observation_days if d >= warm_up_days]
    table = build_dataset(events, dates, label, data_end=sim.start + dt.timedelta(days=days), progress=progress)
    truth = pd.DataFrame(sim.labels())
    truth["observed_at"] = pd.to_datetime(truth["observed_at"], utc=True)
    table["observed_at"] = pd.to_datetime(table["observed_at"], utc=True)
    # The simulator's own label covers every kind of churn (free-plan customers just go quiet,
    # they have nothing to cancel), so its observation rows and labels are the ground truth.
    table = table.rename(columns={"label": "label_from_events"}).merge(
        truth[["customer_id", "observed_at", "true_probability", "churned"]],
        on=["customer_id", "observed_at"], how="inner")
    table["label"] = table.pop("churned").astype(int)
    return SimulatedData(events, table, label, rejected)
