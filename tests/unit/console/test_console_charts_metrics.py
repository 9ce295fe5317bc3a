"""SVG charts and the overview's day series (the Prometheus text format: tests/unit/test_metrics.py)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

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
