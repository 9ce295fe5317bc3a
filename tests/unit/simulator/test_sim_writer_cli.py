"""Event files and ``retain simulate``: round trips, byte-identical reruns, clear errors."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from simulator import ArrivalNoise, Simulator
from simulator.cli import simulate
from simulator.writer import labels_path, read_events, read_labels, write_events, write_labels
from signals.events import parse_event


def _events(malformed: float = 0.0) -> list[dict]:
    noise = ArrivalNoise(duplicate_share=0.01, late_share=0.01, malformed_share=malformed)
    return list(Simulator(30, 15, seed=2, noise=noise).run())


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_files_round_trip_exactly_including_malformed_events(tmp_path, suffix):
    events = _events(malformed=0.02)
    path = tmp_path / f"events{suffix}"
    assert write_events(path, events) == len(events)
    assert list(read_events(path)) == events


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_labels_round_trip(tmp_path, suffix):
    sim = Simulator(40, 50, seed=3)
    for _ in sim.run():
        pass
    rows = sim.labels()
    assert rows
    path = labels_path(tmp_path / f"events{suffix}")
    assert path.name == f"events.labels{suffix}"
    write_labels(path, rows)
    assert read_labels(path) == rows


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=".csv"):
        write_events(tmp_path / "events.csv", [])


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)

    @app.callback()
    def main() -> None:  # a group, as on the root ``retain`` app
        """retain"""

    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["simulate", *args])


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_simulate_writes_events_and_labels_and_summarises(tmp_path, suffix):
    out = tmp_path / f"run{suffix}"
    result = _invoke("--customers", "40", "--days", "50", "--seed", "4", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    events = list(read_events(out))
    for event in events:
        parse_event(event)
    usage = sum(e["type"] == "product.usage" for e in events)
    assert "product.usage" in result.output and f"{usage:,}" in result.output
    assert read_labels(labels_path(out))


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_simulate_is_byte_identical_for_a_seed(tmp_path, suffix):
    paths = []
    for name, seed in (("a", "9"), ("b", "9"), ("c", "10")):
        out = tmp_path / f"{name}{suffix}"
        assert _invoke("--customers", "25", "--days", "40", "--seed", seed, "--out", str(out), "--quiet").exit_code == 0
        paths.append(out)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    assert labels_path(paths[0]).read_bytes() == labels_path(paths[1]).read_bytes()


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--out", "x.csv"], "--out"),  # unsupported format
        (["--out", "x.jsonl", "--customers", "0"], "--customers"),
        (["--out", "x.jsonl", "--start", "yesterday"], "--start"),
        (["--out", "x.jsonl", "--late", "2"], "--late"),
    ],
)
def test_simulate_rejects_bad_options_naming_them(tmp_path, monkeypatch, args, mentions):
    monkeypatch.chdir(tmp_path)
    result = _invoke(*args, "--quiet")
    assert result.exit_code == 2
    assert mentions in result.output
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_malformed_flag_adds_broken_events(tmp_path):
    out = tmp_path / "bad.jsonl"
    result = _invoke("--customers", "200", "--days", "20", "--out", str(out), "--malformed", "--quiet")
    assert result.exit_code == 0, result.output
    assert "malformed demo events" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert any("_bad_" in e["event_id"] for e in lines)
