"""The one-file executable for the binary tests: built once per session when asked (issue #4).

`SF1630_BUILD=1` (or `CI=true`) builds dist/sf1630 with build/build.sh when it is missing or older
than the sources. Otherwise an up-to-date dist/sf1630 is used, and the tests skip when there is none.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "dist" / "sf1630"
SOURCES = ("agent", "plugins", "build/sf1630.spec", "build/sf1630_main.py", "build/build.sh", "pyproject.toml")
HOW = "run `SF1630_BUILD=1 python -m pytest -m binary` (or `bash build/build.sh` first)"


def newest_source() -> float:
    """mtime of the newest file the executable is built from."""
    newest = 0.0
    for name in SOURCES:
        top = ROOT / name
        paths = [top] if top.is_file() else top.rglob("*")
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


def binary_state() -> str | None:
    """None when dist/sf1630 is usable, else why not."""
    if not BINARY.exists():
        return "dist/sf1630 is missing"
    if BINARY.stat().st_mtime < newest_source():
        return "dist/sf1630 is older than the sources"
    return None


def wants_build() -> bool:
    return os.environ.get("SF1630_BUILD") == "1" or os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def sf1630_binary() -> Path:
    """Path of an up-to-date dist/sf1630, building it once when SF1630_BUILD=1 or CI=true."""
    problem = binary_state()
    if problem and wants_build():
        done = subprocess.run(["bash", str(ROOT / "build" / "build.sh")], cwd=ROOT, capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            pytest.fail(f"build/build.sh failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        problem = binary_state()
        if problem == "dist/sf1630 is older than the sources":
            problem = None  # a source changed during the build; the new binary is still the one to test
    if problem:
        pytest.skip(f"{problem}; {HOW}")
    return BINARY


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
