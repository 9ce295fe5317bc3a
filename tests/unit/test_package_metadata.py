"""The package metadata uses the current forms setuptools builds (PEP 639 licence expression)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_license_is_an_spdx_expression_not_a_table():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    # The ``{text = ...}`` table is deprecated; setuptools stops building it in February 2027.
    assert project["license"] == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # PEP 639 forbids both


def test_build_backend_understands_license_expressions():
    requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    assert setuptools == "setuptools>=77"  # the first release that reads PEP 639 ``license`` strings
