"""Fixtures for the plugin tests: sf1630.testing's fixtures plus PostgreSQL and export helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from sf1630.testing.pytest_plugin import make_delivery, make_job, register_plugin, sf1630_host  # noqa: F401

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
