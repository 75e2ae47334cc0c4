"""A folder the agent makes for a file is synced into its parent before the file counts as kept.

A new folder's name lives in its parent's directory block; syncing the file and the folder itself
does not write that block. Without syncing the parent, a power cut after the server's copy is
deleted (rule 4) could take the folder and the only copy in it. A kill cannot show this, so the
test reads the system calls of real ``send`` and ``receive`` processes (strace).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AULA, IKAST, KY, loaded_rows, lis_database

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (Debian package strace)")

MKDIR = re.compile(r'^(\d+)\s+mkdir(?:at)?\((?:AT_FDCWD<[^>]*>, |AT_FDCWD, )?"([^"]+)", [0-7]+\) = 0')
FSYNC = re.compile(r"^(\d+)\s+f(?:data)?sync\(\d+<([^>]+)>\) = 0")


def _traced(tmp_path: Path, label: str, *args: str) -> list[str]:
    out = tmp_path / f"{label}.strace"
    done = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=mkdir,mkdirat,fsync,fdatasync", "-o", str(out),
                           sys.executable, "-m", "sf1630", "--log-level", "WARNING", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_text().splitlines()


def _unsynced_folders(trace: list[str], under: Path) -> list[str]:
    """Folders made under ``under`` whose parent was not synced after they were made."""
    made: dict[str, int] = {}
    for n, line in enumerate(trace):
        m = MKDIR.match(line)
        if m and Path(m.group(2)).is_relative_to(under):
            made[m.group(2)] = n
    synced = [(n, m.group(2)) for n, line in enumerate(trace) if (m := FSYNC.match(line))]
    return [folder for folder, at in made.items()
            if not any(n > at and path == str(Path(folder).parent) for n, path in synced)]


def test_new_spool_folders_are_synced_into_their_parents(make_platform, make_agent_config, tmp_path):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=20)
    lis = make_agent_config(platform, "lis-vendor", send=False)

    sent = _traced(tmp_path, "send", "send", "--config", str(sender))
    platform.wait_idle()
    received = _traced(tmp_path, "receive", "receive", "--config", str(lis))

    assert len(loaded_rows(lis_database(lis))) == 2  # both deliveries made it through, traced
    for trace, agent in ((sent, sender), (received, lis)):
        spool = (agent.parent / "state" / "spool").resolve()
        made = [line for line in trace if MKDIR.match(line) and str(spool) in line]
        assert made, f"no folder made under {spool}: the trace no longer shows what this test checks"
        assert _unsynced_folders(trace, spool) == []
