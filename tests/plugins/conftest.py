"""Fixtures for the plugin tests: sf1630.testing's fixtures plus PostgreSQL and export helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from plugin_support import MARIADB, PG_URL


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema name on the local server (127.0.0.1:5432, database test); dropped after."""
    import psycopg

    name = f"sf1630_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def maria_db() -> Iterator[str]:
    """A fresh MariaDB database name on the local server (127.0.0.1:3306, root); dropped after."""
    import pymysql

    name = f"sf1630_test_{uuid.uuid4().hex[:12]}"
    yield name
    conn = pymysql.connect(**MARIADB, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture
def now() -> datetime:
    """The extract time used by tests that need a real clock (export folders compare mtimes)."""
    return datetime.now().replace(microsecond=0)


@pytest.fixture
def make_site(tmp_path):
    """A starter LIS site written by ``sf1630 init`` (in a folder of its own); the agent file's path.

    ``plugin_paths`` are written into its ``[agent]`` table.
    """
    import subprocess
    import sys

    def make(plugin_paths: list[str] | None = None):
        folder = tmp_path / f"site{len(list(tmp_path.glob('site*')))}"
        subprocess.run([sys.executable, "-m", "sf1630", "init", str(folder), "--kind", "lis"], check=True,
                       capture_output=True, timeout=60)
        agent = folder / "agent.toml"
        if plugin_paths:
            agent.write_text(agent.read_text().replace("plugin_paths = []", f"plugin_paths = {plugin_paths!r}"
                                                       .replace("'", '"')))
        return agent

    return make
