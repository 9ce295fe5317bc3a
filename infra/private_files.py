"""Files that hold personal data or secrets are the owner's alone (0700 folders, 0600 files), whatever the umask.

The data dir holds the SQLite database (contact details, consent, console password hashes) with
its WAL and SHM files, the logs, the broker's log, generated webhook keys and the model registry.
A umask only takes permissions away from the mode a file is created with, so the mode is set
explicitly after creating; files left world-readable by an older version are tightened too.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600

log = logging.getLogger(__name__)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current != mode:
        os.chmod(path, mode)
        if current & 0o077:
            log.info("made %s owner-only (was %o)", path, current)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as an owner-only folder: created (with its parents) when missing, tightened when not."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    _tighten(folder, DIR_MODE)
    return folder


def _owner_only(path: str, flags: int) -> int:
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away; an existing file may have had more
    return fd


def open_private(path: str | os.PathLike[str], mode: str = "ab", **options: Any) -> IO[Any]:
    """``open(path, mode)`` where the file is owner-only (created so, or tightened when it exists)."""
    return open(path, mode, opener=_owner_only, **options)  # noqa: SIM115 - the caller closes it


def private_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as an existing owner-only file (created empty when missing; its content is kept)."""
    open_private(path, "ab").close()
    return Path(path)


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty and owner-only when missing (True); an existing file is not even opened (False).

    For files another library holds POSIX locks on (a SQLite database): closing *any* descriptor of
    a file drops every lock this process holds on it, so ``private_file``'s open-and-close is unsafe there.
    """
    try:
        fd = _owner_only(os.fspath(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)  # new: no connection of this process can hold a lock on it yet
    return True


def tighten_if_present(*paths: str | os.PathLike[str]) -> None:
    """Make each of ``paths`` that exists owner-only (a file 0600, a folder 0700)."""
    for path in map(Path, paths):
        if path.exists():
            _tighten(path, DIR_MODE if path.is_dir() else FILE_MODE)
