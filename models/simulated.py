"""Training data from the project's simulator (``simulator``), with its ground truth.

The simulator knows each customer's true churn probability at every observation date, so a
model's AUC can be set beside the oracle's AUC on the very same rows. Events stream from the
simulator straight into the dataset builder (nothing is kept per event). Scenarios
(``simulator.scenarios``): ``default``, ``product`` (churn depends on which product features
customers use; the spec tracks the features found in the first two simulated weeks, as
``retain model spec`` would find them in a file) and ``shop`` (orders only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import pandas as pd
from pydantic import ValidationError
from tqdm import tqdm

from models.dataset import DatasetBuilder, LabelSpec
from signals import features
from signals.events import parse_event
from signals.features import CompiledSpec

DATASETS = {"simulated": "default", "simulated-product": "product", "simulated-shop": "shop"}
DISCOVERY_DAYS = 14
UPLIFT_TRUTH = ("true_probability_if_messaged", "true_effect", "response_type")


@dataclass
class SimulatedData:
    """The training table (with ``true_probability``), the label, the spec and event counts."""

    table: pd.DataFrame
    label: LabelSpec
    spec: Any
    events: int
    rejected: int
    scenario: str = "default"


def _parsed(raw_events: Iterator[dict[str, Any]], counts: dict[str, int]) -> Iterator[Any]:
    for raw in raw_events:
        try:
            event = parse_event(raw)
        except (ValidationError, ValueError):
            counts["rejected"] += 1  # the simulator may plant malformed records on purpose
            continue
        counts["events"] += 1
        yield event


def spec_for(scenario: str, customers: int, seed: int, spec: Any = None) -> Any:
    """The spec to build with: as given; for ``product`` the built-in one plus discovered features."""
    if spec is not None or scenario != "product":
        return spec if spec is not None else features.BUILTIN
    from simulator.engine import Simulator

    first_weeks = Simulator(customers, DISCOVERY_DAYS, seed=seed, scenario=scenario)
    names = features.discover_usage_features(_parsed(first_weeks.run(), {"events": 0, "rejected": 0}))
    return CompiledSpec(features.builtin_spec().with_usage_features(names))


def simulated_dataset(customers: int = 2000, days: int = 150, seed: int = 0, *, scenario: str = "default",
                      spec: Any = None, warm_up_days: int = features.USAGE_DAYS, progress: bool = True) -> SimulatedData:
    """Features at the simulator's observation dates, labelled with its realised churn."""
    from simulator.engine import Simulator  # imported late: only this path needs it

    spec = spec_for(scenario, customers, seed, spec)
    sim = Simulator(customers, days, seed=seed, scenario=scenario)
    label = LabelSpec(kind="activity", horizon_days=float(sim.horizon_days))
    # The simulated history starts empty: skip dates before the usage baseline window is filled.
    dates = [sim.start + dt.timedelta(days=d) for d in sim.observation_days if d >= warm_up_days]
    blocks: list[pd.DataFrame] = []
    builder = DatasetBuilder(dates, label, spec, on_block=blocks.append)
    counts = {"events": 0, "rejected": 0}
    with tqdm(total=days, desc=f"simulating ({scenario})", unit="day", disable=not progress) as bar:
        for event in _parsed(sim.run(progress=bar), counts):
            builder.add(event)
    builder.finish(sim.start + dt.timedelta(days=days))
    table = pd.concat(blocks, ignore_index=True)
    truth = pd.DataFrame(sim.labels())
    truth["observed_at"] = pd.to_datetime(truth["observed_at"], utc=True)
    table["observed_at"] = pd.to_datetime(table["observed_at"], utc=True)
    # The simulator's own label covers every kind of churn (free-plan customers just go quiet,
    # they have nothing to cancel), so its observation rows and labels are the ground truth.
    # The response model's ground truth (``simulator.response``) rides along for uplift evaluation.
    truth_columns = ["customer_id", "observed_at", "true_probability", "churned",
                     *[c for c in UPLIFT_TRUTH if c in truth]]
    table = table.rename(columns={"label": "label_from_events"}).merge(
        truth[truth_columns], on=["customer_id", "observed_at"], how="inner")
    table["label"] = table.pop("churned").astype(int)
    table.attrs["retain"] = builder.metadata(source={"simulator": scenario, "customers": customers, "days": days,
                                                     "seed": seed})
    return SimulatedData(table, label, spec, counts["events"], counts["rejected"], scenario)
