"""Make the model test helpers (``model_event_factory``) importable under --import-mode=importlib."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def telco_fit():
    """One Telco training run shared by the model tests (about a second)."""
    from models import telco
    from models.train import fit

    train, test = telco.load_telco()
    return fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL, test=test)
