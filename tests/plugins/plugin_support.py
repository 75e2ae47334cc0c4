"""Helpers the plugin tests share (a plain module: test files import it by name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PG_URL = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}  # the local test server


def pg_rows(schema: str, query: str, params: tuple = ()) -> list[tuple]:
    """Run a query in ``schema`` on the test server."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(query, params).fetchall()


def maria_rows(database: str, query: str, params: tuple = ()) -> list[tuple]:
    """Run a query in ``database`` on the local MariaDB server."""
    import pymysql

    conn = pymysql.connect(**MARIADB, database=database, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def pip_install(source: Path, target: Path) -> None:
    """``pip install --target``, as a vendor installs a plugin for the one-file executable."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                           "--target", str(target), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
