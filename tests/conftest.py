"""Fixtures shared across test folders: the one-file executable (issue #4), built once per session.

`SF1630_BUILD=1` (or `CI=true`) builds dist/sf1630 with build/build.sh when it is missing or older
than the sources. Otherwise an up-to-date dist/sf1630 is used, and the tests that need it skip.
The build tests and the deploy test of the real executable both take it from here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


PG_SERVER = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_journal_url():
    """A postgresql:// journal URL whose tables go into a fresh schema of the test database; dropped after."""
    import uuid

    import psycopg

    name = f"sf1630_journal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield f"{PG_SERVER}?options=-csearch_path%3D{name}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
