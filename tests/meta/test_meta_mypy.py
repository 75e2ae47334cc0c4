"""The type checker finds nothing: a new type error fails CI with its file, line and message.

What mypy checks and what it leaves out (the transport speed-ups) is in ``[tool.mypy]`` of
pyproject.toml, so a developer's ``python3 -m mypy`` and this test see the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def test_mypy_reports_no_error(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed: pip install -c constraints.txt -e '.[test]'")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "agent"), str(ROOT / "plugins")])}
    # A cache of its own: a stale one elsewhere must not hide an error, and the tree stays clean.
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, ("mypy found type errors; fix them (or say why in a narrow ignore):\n"
                                  f"{done.stdout}{done.stderr}")
    assert "Success: no issues found" in done.stdout
