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
def test_retrain_notebook_executes_compares_and_promotes(tmp_path, monkeypatch):
    from models import registry

    # A serving model to compare against (trained on another seed), as in real retraining.
    first = registry.ensure_model(tmp_path, customers=300, days=120, seed=1, progress=False)
    assert registry.ensure_model(tmp_path) == first  # a second call finds it and trains nothing
    monkeypatch.setenv("RETAIN_NOTEBOOK_CUSTOMERS", "400")
    monkeypatch.setenv("RETAIN_NOTEBOOK_DAYS", "120")
    monkeypatch.setenv("RETAIN_NOTEBOOK_REGISTRY", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Any failing cell raises CellExecutionError and fails the test.
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "serving " + first in "".join(
        str(o.get("data", {}).get("text/plain", "")) for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    versions = [card["version"] for card in registry.list_versions(tmp_path)]
    assert len(versions) == 2
    assert ("promoted" in printed) or ("kept the serving model" in printed)
    audit = (tmp_path / registry.AUDIT).read_text().splitlines()
    assert len(audit) == 2 and "holdout" in audit[-1]
