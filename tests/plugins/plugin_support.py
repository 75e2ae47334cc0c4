"""Helpers the plugin tests share (a plain module: test files import it by name)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
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


AULA_HEADER = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
               "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]


def big_aula_extract(folder: Path, rows: int) -> tuple:
    """An AULA delivery of ``rows`` rows, big enough that a sink is still loading it a moment later."""
    from sf1630.testing.conformance import write_delivery

    delivery, path = write_delivery(folder, [], AULA_HEADER, source="AULA")
    with open(path, "a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\n")
        writer.writerows([f"{i % 97:04d}", "school", "Skolen ved Søen", f"child-{i}", "3.B", str(i % 23), "1", "0",
                          str(i % 7), "2"] for i in range(rows))
    return type(delivery)(**{**delivery.__dict__, "size": path.stat().st_size}), path


def wait_until(condition, seconds: float) -> bool:
    """Poll ``condition`` every 20 ms; whether it came true within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def kill_mid_load(code: str, args: list[str], running, what: str, settle: float) -> None:
    """Run ``code`` (a child that prints "loading", then loads) and SIGKILL it ``settle`` seconds after
    ``running()`` says the server is loading; the child is gone when this returns."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=os.environ.copy())
    try:
        assert child.stdout.readline().strip() == "loading"
        assert wait_until(lambda: running() > 0, 60), f"the {what} never started"
        time.sleep(settle)  # inside the load
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
