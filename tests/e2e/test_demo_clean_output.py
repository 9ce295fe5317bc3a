"""``retain demo --json`` prints one JSON object on stdout and nothing else, even on a cold start.

A cold start trains the first risk model; LightGBM's native code logs from its OpenMP worker
threads straight to the C-level stdout (``verbose=-1`` and a registered Python logger only reach
the calling thread), which used to put a ``[LightGBM] [Warning]`` line before the JSON. The test
runs the real command in a subprocess with a fresh data directory, so a model is trained.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_demo_json_stdout_is_only_json_on_a_cold_start(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RETAIN_DATA_DIR": str(tmp_path / "data"),
           "RETAIN_API_PORT": str(free_port()), "RETAIN_MODEL_BOOTSTRAP": "true",
           "RETAIN_MODEL_BOOTSTRAP_CUSTOMERS": "300"}  # the suite turns bootstrapping off; this test needs it
    done = subprocess.run([sys.executable, "-m", "retain", "demo", "--duration", "2", "--customers", "20", "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "data" / "models").is_dir()  # the cold start trained a model in this run
    summary = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert {"events", "messages", "paused_rules"} <= set(summary)
