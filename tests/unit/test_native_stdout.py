"""``stdout_to_stderr`` moves C-level writes to descriptor 1 onto stderr, and only inside the block."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import ctypes, os
from infra.native_stdout import stdout_to_stderr
print("before", flush=True)
with stdout_to_stderr():
    with stdout_to_stderr():  # nested (a command's block around training's): no deadlock, still stderr
        os.write(1, b"nested-write\\n")
    os.write(1, b"native-write\\n")
    ctypes.CDLL(None).puts(b"libc-puts"); ctypes.CDLL(None).fflush(None)
    print("python-inside")
print("after")
"""


def test_writes_inside_the_block_reach_stderr_and_stdout_keeps_the_rest():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env={"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["before", "after"]
    assert {"nested-write", "native-write", "libc-puts", "python-inside"} <= set(done.stderr.split())
