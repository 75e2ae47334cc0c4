"""Fixtures for the plugin tests: sf1630.testing's fixtures plus PostgreSQL and export helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from sf1630.testing.pytest_plugin import make_delivery, make_job, register_plugin, sf1630_host  # noqa: F401

PG_URL = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema name on the local server; dropped after the test."""
    psycopg = pytest.importorskip("psycopg")
    name = f"sf1630_test_{uuid.uuid4().hex[:12]}"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_rows(schema: str, query: str, params: tuple = ()) -> list[tuple]:
    """Run a query in ``schema`` on the test server."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(query, params).fetchall()


@pytest.fixture
def now() -> datetime:
    """The extract time used by tests that need a real clock (export folders compare mtimes)."""
    return datetime.now().replace(microsecond=0)
