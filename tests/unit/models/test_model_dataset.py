"""Dataset builder: no leakage, labels per definition, censored horizons dropped, file loading."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from model_event_factory import START, event, order
from signals import features
from models.dataset import LabelSpec, build_dataset, fingerprint
from models.events_file import EventFileError, load_events
from models.schedule import observation_dates
from signals.events import event_to_dict

D = dt.timedelta(days=1)
OBS = START + 20 * D


def history():
    return [
        event("c1", "customer.profile", START, plan="pro"),
        event("c1", "subscription.changed", START, subscription_id="s1", plan="pro", monthly_amount=40.0),
        order("c1", START + 2 * D, "o1", 20.0),
        event("c1", "product.usage", START + 15 * D, sessions=3),
        event("c9", "product.usage", START + 60 * D, sessions=1),  # keeps the data running past the horizon
    ]


def test_a_planted_future_event_changes_no_feature():
    """Leakage: events at or after the observation date must not reach its features."""
    base = build_dataset(history(), [OBS], LabelSpec("activity", 30), progress=False)
    planted = history() + [order("c1", OBS, "future", 9999.0), order("c1", OBS + 3 * D, "later", 5000.0),
                           event("c1", "subscription.cancelled", OBS + D, subscription_id="s1")]
    leaked = build_dataset(planted, [OBS], LabelSpec("activity", 30), progress=False)
    cols = list(features.FEATURE_NAMES)
    row, planted_row = base[base.customer_id == "c1"], leaked[leaked.customer_id == "c1"]
    pd.testing.assert_frame_equal(row[cols].reset_index(drop=True), planted_row[cols].reset_index(drop=True))
    # ...while the label, which looks forward, does see them
    assert row["label"].item() == 1 and planted_row["label"].item() == 0


@pytest.mark.parametrize(
    ("future", "kind", "expected"),
    [
        ([], "activity", 1),  # nothing happens within the horizon: churned
        ([("product.usage", 10, {"sessions": 1})], "activity", 0),
        ([("product.usage", 31, {"sessions": 1})], "activity", 1),  # activity only after the horizon
        ([("subscription.cancelled", 5, {"subscription_id": "s1"})], "subscription", 1),
        ([("subscription.cancelled", 40, {"subscription_id": "s1"})], "subscription", 0),
        ([("product.usage", 3, {"sessions": 1})], "subscription", 0),
    ],
)
def test_labels(future, kind, expected):
    extra = [event("c1", t, OBS + days * D, **props) for t, days, props in future]
    table = build_dataset(history() + extra, [OBS], LabelSpec(kind, 30), progress=False)
    assert table.loc[table.customer_id == "c1", "label"].item() == expected


def test_rows_whose_horizon_passes_the_end_of_data_are_dropped():
    dates = observation_dates(START + 10 * D, START + 50 * D, 10)
    table = build_dataset(history(), dates, LabelSpec("activity", 30), progress=False)
    assert table["observed_at"].max() == START + 30 * D  # data ends on day 60


def test_customers_not_yet_seen_or_already_cancelled_get_no_row():
    events = history() + [event("c1", "subscription.cancelled", START + 10 * D, subscription_id="s1")]
    table = build_dataset(events, [OBS], LabelSpec("subscription", 30), progress=False)
    assert table.empty  # c1 cancelled before OBS, c9 first appears after it


def test_duplicate_event_ids_count_once():
    events = history()
    twice = build_dataset(events + [events[2]], [OBS], progress=False)
    once = build_dataset(events, [OBS], progress=False)
    assert twice["orders_total"].tolist() == once["orders_total"].tolist() == [1.0]


@pytest.mark.parametrize(
    "layout",
    [
        "jsonl",
        "parquet-json",  # properties stored as JSON text
        "parquet-struct",  # properties as a struct column: the union of all payload fields
    ],
)
def test_load_events_reads_json_lines_and_parquet(tmp_path, layout):
    rows = [event_to_dict(e) for e in history()]
    path = tmp_path / ("events.jsonl" if layout == "jsonl" else "events.parquet")
    if layout == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif layout == "parquet-json":
        pd.DataFrame([{**r, "properties": json.dumps(r["properties"])} for r in rows]).to_parquet(path)
    else:
        # (parquet cannot store an empty struct such as the default consent {})
        frame = pd.DataFrame([{**r, "properties": {k: v for k, v in r["properties"].items() if v != {}}} for r in rows])
        frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
        frame.to_parquet(path)
    loaded = load_events(path)
    assert [e.event_id for e in loaded.events] == [r["event_id"] for r in rows]
    assert loaded.events[2].properties.amount == 20.0


def test_a_bad_line_is_named_or_skipped_and_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    good = json.dumps(event_to_dict(history()[0]))
    path.write_text(good + "\n" + '{"type": "order.placed"}\n' + good + "\n")
    with pytest.raises(EventFileError, match="line 2"):
        load_events(path)
    lenient = load_events(path, strict=False)
    assert len(lenient.events) == 2 and [n for n, _ in lenient.examples] == [2] and lenient.rejected == 1


def test_fingerprint_changes_with_content_only():
    a = pd.DataFrame({"x": [1.0, 2.0], "label": [0, 1]})
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.assign(x=[1.0, 2.5]))


def test_every_month_gives_calendar_months():
    """Finding: ``--every-days`` could not produce calendar months."""
    start = dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc)
    got = observation_dates(start, dt.datetime(2026, 5, 31, tzinfo=dt.timezone.utc), "month")
    assert [d.date().isoformat() for d in got] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]


def test_loading_errors_are_summarised_by_reason_with_line_numbers(tmp_path):
    """Finding: strict mode was a long traceback and --no-strict rejected silently."""
    good = json.dumps(event_to_dict(history()[2]))
    no_order_id = json.dumps({**event_to_dict(history()[2]), "properties": {"amount": 3}})
    naive = good.replace("00Z", "00")  # no offset: not an aware time
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([good, no_order_id, good, naive, no_order_id, "{not json"]) + "\n")
    report = load_events(path, strict=False)
    summary = report.summary()
    assert summary["read"] == 6 and summary["rejected"] == 4
    assert sorted(summary["by_reason"].values()) == [1, 1, 2]
    assert [line for line, _ in summary["examples"]] == [2, 4, 5, 6]
    assert any("order_id" in reason for reason in summary["by_reason"])


def test_memory_is_bounded_by_customers_not_events():
    """Finding: the builder kept every event (about 2.3 KB each); a shop's history does not fit."""
    import tracemalloc

    def stream(per_day):
        for day in range(70):
            for c in range(40):
                for k in range(per_day):
                    yield event(f"c{c}", "product.usage", START + day * D + dt.timedelta(minutes=10 * k + c), sessions=1)

    def peak(per_day):
        tracemalloc.start()
        table = build_dataset(stream(per_day), [START + 20 * D, START + 30 * D], LabelSpec("activity", 30),
                              progress=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(table) == 80
        return top

    assert peak(12) < 1.5 * peak(2)
