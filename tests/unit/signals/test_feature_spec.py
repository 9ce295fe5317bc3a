"""Declared feature specs: each metric kind's values, clear errors, purity and bounded JSON state."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

import pytest
from detector_events import ev

from signals import features
from signals.customer_fold import CustomerFold
from signals.features import CompiledSpec, SpecError, parse_spec
from signals.fold_domain import MAX_AMOUNT

D = dt.timedelta(days=1)
T = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)  # midnight: "now" in these tests is T + 40 days


def compiled(*metrics, usage_features=None, core=False, windows=None):
    return CompiledSpec(parse_spec({"core": core, "windows": windows or {"7d": 7, "28d": 28, "90d": 90},
                                    "metrics": list(metrics), "usage_features": usage_features or {}}))


def values(spec, events, now=T + 40 * D):
    state = spec.initial_state()
    for e in events:
        state = spec.on_event(state, e)
    state = json.loads(json.dumps(state))  # what a Faust table hands back
    return dict(zip(spec.FEATURE_NAMES, spec.vector(state, now)))


def order(day, amount, **extra):
    return ev("order.placed", T + day * D, order_id=f"o{day}-{amount}", amount=amount,
              promised_ship_by=T + (day + 1) * D, promised_delivery_by=T + (day + 3) * D, **extra)


def usage(day, **counts):
    return ev("product.usage", T + day * D + dt.timedelta(hours=20), sessions=sum(counts.values()) or 1,
              feature_counts=counts, day=(T + day * D).date())


def response(day, kind):
    return ev("message.response", T + day * D, message_id=f"m{day}", response=kind)


ORDERS = [order(1, 10.0), order(20, 30.0), order(35, 50.0), order(39, 70.0)]


@pytest.mark.parametrize(
    ("metric", "events", "expected"),
    [
        # now = day 40 (midnight): 7d covers days 33..39, 90d everything
        ({"name": "m", "kind": "count", "event": "order.placed", "window": "7d"}, ORDERS, 2.0),
        ({"name": "m", "kind": "sum", "event": "order.placed", "property": "amount", "window": "90d"}, ORDERS, 160.0),
        ({"name": "m", "kind": "sum", "event": "order.placed", "property": "amount", "window": "7d"}, ORDERS, 120.0),
        ({"name": "m", "kind": "count", "event": "order.placed", "window": "7d"}, [], 0.0),
        # days since the last event that matches ``where``
        ({"name": "m", "kind": "last_seen", "event": "message.response", "where": {"response": "clicked"}},
         [response(30, "clicked"), response(38, "opened")], 10.0),
        ({"name": "m", "kind": "last_seen", "event": "message.response", "where": {"response": "clicked"}},
         [response(38, "opened")], math.nan),
        ({"name": "m", "kind": "count", "event": "message.response", "where": {"response": "opened"}, "window": "90d"},
         [response(30, "opened"), response(31, "clicked"), response(32, "opened")], 2.0),
        # distinct values of a property; of a dict: the keys in use
        ({"name": "m", "kind": "distinct", "event": "message.response", "property": "response", "window": "28d"},
         [response(30, "opened"), response(31, "opened"), response(32, "clicked"), response(1, "replied")], 2.0),
        ({"name": "m", "kind": "distinct", "event": "product.usage", "property": "feature_counts", "window": "7d"},
         [usage(34, reports=2, export=0), usage(36, search=1)], 2.0),
        # dropped: used in the 28 days before the last week, not in it
        ({"name": "m", "kind": "dropped", "event": "product.usage", "property": "feature_counts", "recent": "7d",
          "baseline": "28d"}, [usage(10, reports=1, export=1), usage(20, search=1), usage(37, search=2)], 2.0),
        # trend: (recent + 1) / (baseline * 7 / 28 + 1); sessions 8 in the last week, 28 over the 28 days before
        ({"name": "m", "kind": "trend", "event": "product.usage", "property": "sessions", "recent": "7d",
          "baseline": "28d"}, [usage(d, reports=1) for d in range(5, 33)] + [usage(35, reports=8)], 9 / 8),
        ({"name": "m", "kind": "sum", "event": "product.usage", "property": "feature_counts.reports", "window": "28d"},
         [usage(20, reports=3, export=1), usage(30, export=2), usage(39, reports=4)], 7.0),
    ],
)
def test_each_metric_kind_reads_what_the_spec_says(metric, events, expected):
    got = values(compiled(metric), events)["m"]
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_ratio_divides_two_metrics_and_is_nan_over_zero():
    spec = compiled({"name": "spend", "kind": "sum", "event": "order.placed", "property": "amount", "window": "90d"},
                    {"name": "orders", "kind": "count", "event": "order.placed", "window": "90d"},
                    {"name": "avg", "kind": "ratio", "numerator": "spend", "denominator": "orders"})
    assert values(spec, ORDERS)["avg"] == pytest.approx(40.0)
    assert math.isnan(values(spec, [])["avg"])


def test_sums_and_ratios_stay_finite_and_days_before_1970_count():
    """What the envelope accepts never makes a declared metric inf, nan-in-JSON, or forget a day."""
    spec = compiled({"name": "spend", "kind": "sum", "event": "order.placed", "property": "amount", "window": "90d"},
                    {"name": "carrier", "kind": "sum", "event": "order.shipped", "property": "carrier", "window": "90d"},
                    {"name": "orders", "kind": "count", "event": "order.placed", "window": "90d"},
                    {"name": "per_spend", "kind": "ratio", "numerator": "orders", "denominator": "spend"},
                    {"name": "used", "kind": "distinct", "event": "product.usage", "property": "feature_counts",
                     "window": "7d"})
    huge = [order(30, 1.7976931348623157e308), order(30, 1e308)]  # one day
    shipped = [ev("order.shipped", T + 32 * D, order_id=f"o{text}", carrier=text) for text in ("1e400", "nan", "-5", "7")]
    got = values(spec, huge + shipped)
    assert got["spend"] == MAX_AMOUNT and got["carrier"] == 7.0  # a day's sum saturates; text adds only finite >= 0
    assert math.isnan(values(spec, [order(30, 5e-324)])["per_spend"])  # 1 / 5e-324 is inf: not a number to learn from
    old = dt.datetime(1969, 12, 30, 12, tzinfo=dt.timezone.utc)
    assert values(spec, [ev("product.usage", old, feature_counts={"reports": 1})], now=old)["used"] == 1.0


def test_usage_features_expand_into_uses_trend_and_recency_per_feature():
    spec = compiled(usage_features={"names": ["reports", "Export CSV"]})
    assert spec.FEATURE_NAMES == ("usage_reports_28d", "usage_reports_trend", "days_since_reports",
                                  "usage_export_csv_28d", "usage_export_csv_trend", "days_since_export_csv")
    got = values(spec, [usage(30, reports=2), usage(39, **{"Export CSV": 5})])
    assert got["usage_reports_28d"] == 2.0 and got["usage_export_csv_28d"] == 5.0
    assert got["days_since_reports"] == pytest.approx(10 - 20 / 24)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"metrics": [{"name": "m", "kind": "count", "event": "order.placd", "window": "7d"}]}, "metrics.0.*event must be one of"),
        ({"metrics": [{"name": "m", "kind": "sum", "event": "order.placed", "property": "amout", "window": "7d"}]},
         "order.placed has no property 'amout'"),
        ({"metrics": [{"name": "m", "kind": "count", "event": "order.placed"}]}, "needs a window"),
        ({"metrics": [{"name": "m", "kind": "count", "event": "order.placed", "window": "3d"}]}, "window '3d' is not one of"),
        ({"metrics": [{"name": "Bad-Name", "kind": "count", "event": "order.placed", "window": "7d"}]}, "snake_case"),
        ({"metrics": [{"name": "r", "kind": "ratio", "numerator": "a", "denominator": "b"}]}, "operand 'a' is not a declared"),
        ({"core": True, "metrics": [{"name": "orders_total", "kind": "count", "event": "order.placed", "window": "7d"}]},
         "not reuse core feature names.*orders_total"),
        ({"metrics": [{"name": "m", "kind": "trend", "event": "order.placed", "recent": "7d"}]}, "needs recent and baseline"),
        ({"windows": {"7d": 0}}, "windows are whole days"),
        ({"metric": []}, "metric: Extra inputs"),
    ],
)
def test_a_bad_spec_names_the_field(data, message):
    with pytest.raises(SpecError, match=message):
        CompiledSpec(parse_spec({"core": False, "windows": {"7d": 7, "28d": 28}, **data}))


def test_on_event_never_mutates_its_input_and_the_state_stays_bounded():
    spec = compiled({"name": "m", "kind": "distinct", "event": "order.shipped", "property": "carrier", "window": "90d"},
                    {"name": "n", "kind": "count", "event": "product.usage", "window": "7d"})
    state = spec.initial_state()
    for day in range(400):
        before = copy.deepcopy(state)
        kept = state
        state = spec.on_event(state, ev("order.shipped", T + day * D, order_id=f"o{day}", carrier=f"carrier{day}"))
        state = spec.on_event(state, usage(day, reports=1))
        assert kept == before
    x = json.loads(json.dumps(state))["x"]
    assert max(len(v) for v in x.values()) <= 64  # distinct values remembered; buckets pruned to the window


def test_the_builtin_spec_keeps_the_core_features_first():
    assert features.FEATURE_NAMES[: len(features.core.FEATURE_NAMES)] == features.core.FEATURE_NAMES
    assert {"usage_breadth_7d", "usage_breadth_28d", "usage_features_dropped"} <= set(features.FEATURE_NAMES)


def test_a_state_stored_before_declared_metrics_still_folds():
    older = features.core.initial_state()  # no "x": what the worker's table holds from before
    state = features.on_event(older, usage(39, reports=1, export=1))
    assert dict(zip(features.FEATURE_NAMES, features.vector(state, T + 40 * D)))["usage_breadth_7d"] == 2.0
    assert "x" not in older


def test_the_worker_fold_attaches_every_declared_metric_to_a_signal():
    spec = compiled({"name": "spend", "kind": "sum", "event": "order.placed", "property": "amount", "window": "90d"},
                    core=True)
    fold = CustomerFold(features=spec)
    state = None
    for e in [order(1, 25.0), ev("checkout.started", T + 2 * D, checkout_id="k1")]:
        state, _ = fold.on_event(json.loads(json.dumps(state)) if state else None, e)
    _, signals = fold.on_tick(state, T + 3 * D)
    assert signals and signals[0].context["features"]["spend"] == 25.0
    assert list(signals[0].context["features"]) == list(spec.FEATURE_NAMES)


def test_the_worker_fold_compiles_the_spec_the_settings_name(tmp_path):
    from infra.settings import Settings
    from signals.customer_fold import default_fold

    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("core: true\nwindows: {7d: 7}\nmetrics:\n"
                         "  - {name: shipped_7d, kind: count, event: order.shipped, window: 7d}\n")
    fold = default_fold(Settings(feature_spec=spec_file).detectors)
    assert fold.features.FEATURE_NAMES[-1] == "shipped_7d"
    assert default_fold(Settings().detectors).features.FEATURE_NAMES == features.FEATURE_NAMES  # unset: the built-in spec
    broken = tmp_path / "broken.yaml"
    broken.write_text("core: true\nmetrics: [{name: x, kind: count}]\n")
    with pytest.raises(SpecError, match="broken.yaml: metrics.0"):
        features.compiled(broken)
    with pytest.raises(SpecError, match="missing.yaml: cannot read"):
        features.compiled(tmp_path / "missing.yaml")
