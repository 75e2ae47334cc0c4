"""Owner-only local files and error texts without row data (issue #14: extracts hold CPR numbers).

Two layers, decided together:

1. The agent's commands that touch data (``send``, ``receive``, ``run``, ``demo``, ``status``) set
   the process umask to 077 as they start (:func:`private_umask`). That covers every file made on
   the agent's behalf by code it does not write itself: SQLite's ``-wal``/``-shm``/``-journal``
   files, a vendor's sink plugin, a library's temporary file.
2. The agent's own writes do not rely on the umask: files are created with ``os.open(..., 0o600)``
   and folders level by level with mode 0700 (:func:`private_dirs`), so the agent used as a
   library (tests, a vendor's own scheduler) under any umask still writes owner-only.

Error texts of plugins go to logs, the journal, ``sf1630 status`` and alerts. The agent's own
errors and a sink's ``LoadError`` name files, lines and columns only (docs/plugins.md). Any other
exception of a plugin may quote a value (``invalid literal for int(): '0101901234'``), so
:func:`error_text` keeps its type and its first line with quoted values and CPR-shaped numbers
blanked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sf1630.api import redact

from sf1630.errors import Sf1630Error
from sf1630.transport.localfile import fsync_dir

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077
# A CPR number as it may appear unquoted: DDMMYY, an optional dash, four digits.
CPR = re.compile(r"(?<![\w-])\d{6}-?\d{4}(?![\w-])")


def private_umask() -> int:
    """Make files this process creates owner-only by default; returns the umask before."""
    return os.umask(UMASK)


def private_dirs(folder: Path, *, durable: bool = False) -> Path:
    """Create ``folder`` and each missing parent with mode 0700, whatever the umask; return it.

    ``mkdir(parents=True)`` gives the parents the default mode, and ``mode`` itself is cut by the
    umask but never widened by it: each new level is created, then set to exactly 0700. With
    ``durable``, each new level's parent is synced after it is made (blocking: call it in a worker
    thread): a new folder's name lives in its parent, and a power cut could otherwise take the
    folder with every file synced into it.
    """
    folder = Path(folder)
    missing = []  # from the folder up to the first level that exists: one stat for an existing parent
    for level in (folder, *folder.parents):
        if level.exists():
            break
        missing.append(level)
    for level in reversed(missing):
        try:
            level.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(level, DIR_MODE)
        if durable:
            fsync_dir(level.parent)
    return folder


def create_private(path: Path) -> bool:
    """Create an empty file with mode 0600 (its folders 0700) unless it exists; True when created."""
    private_dirs(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def error_text(exc: BaseException) -> str:
    """One line about a plugin's exception that holds no row data (see the module docstring)."""
    text = str(exc).strip()
    if isinstance(exc, Sf1630Error):  # ours and the plugin contract's: names, lines, columns only
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    first = text.splitlines()[0] if text else ""
    cleaned = CPR.sub("…", redact(first))
    note = " (values left out)" if cleaned != first or len(text.splitlines()) > 1 else ""
    return f"{type(exc).__name__}: {cleaned}{note}" if cleaned else type(exc).__name__
