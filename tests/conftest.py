"""Suite-wide defaults and fixtures.

Services started by tests must not train a bootstrap risk model each time (that is tested once,
in tests/integration/test_notebook.py); tests that need a model build or inject one.
"""

import os

import pytest

os.environ.setdefault("RETAIN_MODEL_BOOTSTRAP", "false")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A real embedded Tansu broker per test module (in memory, free loopback port)."""
    from infra.broker import EmbeddedBroker

    with EmbeddedBroker(tmp_path_factory.mktemp("broker")) as running:
        yield running
