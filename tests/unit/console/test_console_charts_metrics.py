"""SVG charts, the overview's day series, and the Prometheus text format."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from infra.metrics import Histogram
from retain.api.metrics import family, render_metrics
from retain.console.charts import bar_chart, line_chart
from retain.console.overview import daily_series, day_labels

SVG = "{http://www.w3.org/2000/svg}"


def test_line_chart_is_valid_svg_with_one_line_per_series():
    svg = ET.fromstring(line_chart(["2026-11-01", "2026-11-02", "2026-11-03"], {"signals": [1, 5, 2], "sent": [0, 1, 1]},
                                   title="per <day>"))
    lines = svg.findall(f"{SVG}polyline")
    assert len(lines) == 2
    # The highest value touches the top of the plot, zero the baseline.
    ys = [float(p.split(",")[1]) for p in lines[0].get("points").split()]
    assert min(ys) == ys[1] and max(ys) > ys[2] > ys[1]
    assert svg.get("aria-label") == "per <day>"


def test_bar_chart_sorts_longest_first_and_handles_nothing():
    svg = ET.fromstring(bar_chart({"cooldown": 2, "opted_out": 9}))
    labels = [t.text for t in svg.findall(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels == ["opted_out", "cooldown"]
    assert "nothing yet" in bar_chart({})


def test_day_labels_and_series_fill_missing_days():
    labels = day_labels(dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.timezone.utc), 3)
    assert labels == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert daily_series(labels, {"2026-11-21": 4}) == [0, 4, 0]


def test_histogram_buckets_are_cumulative():
    h = Histogram(buckets=(0.1, 1.0, float("inf")))
    for value in (0.05, 0.5, 3.0):
        h.observe(value, provider="twilio")
    lines = h.samples("retain_x")
    assert 'retain_x_bucket{provider="twilio",le="0.1"} 1' in lines
    assert 'retain_x_bucket{provider="twilio",le="1.0"} 2' in lines
    assert 'retain_x_bucket{provider="twilio",le="+Inf"} 3' in lines
    assert 'retain_x_count{provider="twilio"} 3' in lines


def test_family_escapes_label_values():
    lines = family("retain_y", "counter", "help", [({"kind": 'a"b\\c'}, 2)])
    assert lines == ["# HELP retain_y help", "# TYPE retain_y counter", 'retain_y{kind="a\\"b\\\\c"} 2']


def test_every_metric_is_prefixed_and_typed():
    text = render_metrics(counters={"events": 5, "deadletter": 1}, lag={("events", 0): 7}, database=[])
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names and all(name.startswith("retain_") for name in names)
    assert "retain_events_total 5" in text and 'retain_consumer_lag{topic="events",partition="0"} 7' in text
