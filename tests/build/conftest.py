"""Fixtures of the executable's tests; dist/sf1630 itself comes from tests/conftest.py (sf1630_binary)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def run_binary(sf1630_binary, tmp_path):
    """Run dist/sf1630 with ARGS in a clean folder, without the source tree on sys.path."""

    def run(*args: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SF1630_"))}
        return subprocess.run([str(sf1630_binary), *map(str, args)], cwd=cwd or tmp_path, env=env,
                               capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def binary_commands(sf1630_binary) -> set[str]:
    """The commands the built executable offers (from its --help)."""
    out = subprocess.run([str(sf1630_binary), "--help"], capture_output=True, text=True, timeout=60).stdout
    return {m.group(1) for m in re.finditer(r"^    (\w[\w-]*)\b", out, re.MULTILINE)}
