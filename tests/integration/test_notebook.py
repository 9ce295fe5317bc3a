"""notebooks/retrain.ipynb runs end to end on a small simulated sample (and matches its twin)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "retrain.ipynb"
TWIN = ROOT / "notebooks" / "retrain.py"


def _code(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def test_notebook_and_its_jupytext_twin_hold_the_same_code():
    assert _code(nbformat.read(NOTEBOOK, as_version=4)) == _code(jupytext.read(TWIN))


@pytest.mark.slow
def test_retrain_notebook_extends_the_spec_evaluates_compares_and_keeps_the_gate(tmp_path, monkeypatch):
    from models import registry

    # A serving model to compare against (built-in spec, another seed), as in real retraining.
    first = registry.ensure_model(tmp_path, customers=300, days=120, seed=1, progress=False)
    assert registry.ensure_model(tmp_path) == first  # a second call finds it and trains nothing
    for name, value in {"CUSTOMERS": "400", "DAYS": "120", "REGISTRY": str(tmp_path), "SCENARIO": "product",
                        "TUNE_SECONDS": "4", "FOLDS": "2", "UPLIFT_BOOTSTRAP": "20"}.items():
        monkeypatch.setenv(f"RETAIN_NOTEBOOK_{name}", value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Any failing cell raises CellExecutionError and fails the test.
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    printed = "".join(o.get("text", "") for o in outputs)
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "usage_reports_28d" in printed and "sessions_trend_3d" in printed  # the extended spec
    assert "95 % interval" in printed and "bar to clear" in printed  # the rolling evaluation
    assert "trials" in printed and "chosen" in printed  # the tuner's record
    assert "serving " + first in shown  # compared on the same test rows
    versions = [card["version"] for card in registry.list_versions(tmp_path)]
    assert len(versions) == 2
    new = next(v for v in versions if v != first)
    assert (tmp_path / "versions" / new / "feature_spec.yaml").exists()
    # Other features than the serving model's: the gate keeps the serving model and says why.
    assert "kept the serving model" in printed and registry.promoted_version(tmp_path) == first
    audit = (tmp_path / registry.AUDIT).read_text().splitlines()
    assert len(audit) == 2 and "feature list differs" in audit[-1]
    # The uplift section: Qini of every policy, then its own version promoted through the uplift gate.
    assert "uplift qini" in printed and "random" in printed and "oracle" in printed
    from models import uplift_registry

    uplift_versions = [card["version"] for card in uplift_registry.list_versions(tmp_path)]
    assert len(uplift_versions) == 1 and uplift_registry.promoted_version(tmp_path) == uplift_versions[0]
    assert "uplift " + uplift_versions[0] + " promoted" in printed
