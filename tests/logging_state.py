"""Tests that configure logging as retain does get the process's logging back afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from infra.logs import QUIET_LOGGERS


@contextmanager
def restored_logging() -> Iterator[None]:
    """Root handlers, root level and the quieted client loggers' levels as they were before."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:], root.level = handlers, level
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)
