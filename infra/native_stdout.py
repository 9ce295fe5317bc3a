"""Keep native libraries' console output off the process's stdout, which carries machine output.

LightGBM logs from its OpenMP worker threads with ``printf``: its log level and log callback are
thread-local, so ``verbose=-1`` and ``lightgbm.register_logger`` only reach the calling thread
and a ``[LightGBM] [Warning] ...`` line from a worker still lands on file descriptor 1, in front
of ``retain demo --json``'s JSON. ``stdout_to_stderr`` points descriptor 1 at descriptor 2 for
the duration of a block, so such lines reach the terminal (or the log) but never stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

# Descriptor 1 is process-wide: one redirection at a time. Re-entrant, so a block may nest inside
# another (``retain model evaluate --json`` around the whole run, training around LightGBM).
_lock = threading.RLock()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (C and Python alike) to descriptor 2 inside the block."""
    with _lock:
        sys.stdout.flush()  # what Python printed before the block still goes to stdout
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
        finally:
            os.close(saved)
