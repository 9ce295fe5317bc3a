"""Uplift rows from decisions: treatment from engage/holdout, the results page's goal window, closed windows only."""

from __future__ import annotations

import datetime as dt

import pytest

from triggers.rule import Goal
from triggers.uplift_data import Exposure, backtest_uplift_rows, uplift_rows

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
GOAL = Goal(events=["order.placed"], within="7d")
DAY = dt.timedelta(days=1)


def _exposure(customer, treated, decided_days=0, features=True):
    return Exposure("winback", 2, customer, T0 + decided_days * DAY, treated, GOAL,
                    {"tenure_days": 10.0, "orders_total": 2.0} if features else None)


@pytest.mark.parametrize(
    ("goal_offsets_days", "decided_days", "expected"),
    [
        ([3], 0, 1),  # inside the window
        ([7], 0, 1),  # exactly at its end
        ([8], 0, 0),  # after it
        ([-1], 0, 0),  # before the decision
        ([0], 0, 0),  # at the decision instant: not after it
        ([], 0, 0),
    ],
)
def test_outcome_is_the_goal_within_the_window(goal_offsets_days, decided_days, expected):
    times = {("c1", "order.placed"): [T0 + d * DAY for d in goal_offsets_days]}
    table = uplift_rows([_exposure("c1", True, decided_days)], times, ["tenure_days"], now=T0 + 30 * DAY)
    assert table["outcome"].tolist() == [expected]


def test_treatment_features_and_open_windows():
    exposures = [_exposure("c1", True), _exposure("c2", False), _exposure("c3", True, decided_days=25),
                 _exposure("c4", False, features=False)]
    table = uplift_rows(exposures, {}, ["tenure_days", "orders_total"], now=T0 + 30 * DAY)
    assert table["customer_id"].tolist() == ["c1", "c2"]  # c3's window is still open, c4 has no features
    assert table["treated"].tolist() == [1, 0]
    assert table[["tenure_days", "orders_total"]].iloc[0].tolist() == [10.0, 2.0]
    assert table.attrs["retain"]["feature_names"] == ["tenure_days", "orders_total"]


def test_backtest_builds_rows_from_the_replayed_decisions():
    from signals.features import FEATURE_NAMES
    from simulator.engine import Simulator
    from triggers.loader import load_rules

    rules = load_rules("rules")
    sim = Simulator(250, 45, seed=11)
    table = backtest_uplift_rows(list(sim.run()), rules, list(FEATURE_NAMES))
    assert len(table) > 20
    assert set(table["treated"]) == {0, 1}  # the rules' holdouts give a control arm
    assert set(table["rule_id"]) <= {rule.id for rule in rules}
    assert table["tenure_days"].notna().all()
    held_out_share = 1 - table["treated"].mean()
    assert 0.02 < held_out_share < 0.3  # the rules hold out 5-10 %


def test_uplift_data_cli_writes_a_table_the_uplift_evaluation_reads(tmp_path):
    from typer.testing import CliRunner

    from models.uplift_data import read_uplift_table
    from simulator.engine import Simulator
    from simulator.writer import write_events
    from triggers.cli import app

    events = tmp_path / "events.jsonl"
    write_events(events, Simulator(200, 40, seed=4).run())
    out = tmp_path / "uplift.parquet"
    result = CliRunner().invoke(app, ["uplift-data", "rules", "--events", str(events), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table, names, _, _ = read_uplift_table(out)
    assert len(table) > 0 and "tenure_days" in names and set(table["treated"]) <= {0, 1}
