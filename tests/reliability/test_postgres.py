"""PostgreSQL restarted in the middle of a load into the postgres sink (issue #5).

The load is one transaction, so the restart rolls it back: the delivery is quarantined with a
clear error and loaded exactly once by the next round. The server is restarted with
``pg_ctlcluster --skip-systemctl-redirect <version> main restart`` and is running again when the
test ends, whatever happens; without that command (or the rights to run it) the test is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from sf1630.testing.faultproxy import wait_for

from .conftest import IKAST, sf1630
from .world import Process, states, stories

DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
ROWS = 150_000


def _cluster() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        pytest.skip("no local PostgreSQL cluster managed by pg_ctlcluster")
    return versions[-1]


def _ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0


@pytest.fixture
def postgres():
    psycopg = pytest.importorskip("psycopg")
    version = _cluster()
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 (database test) is not reachable: {exc}")
    schema = f"rel_{uuid.uuid4().hex[:10]}"

    def restart() -> None:
        done = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot restart PostgreSQL here: {done.stderr.strip()}")

    try:
        yield psycopg, schema, restart
    finally:
        if not _ready():  # never leave it down
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
            wait_for(_ready, timeout=60, every=0.2)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _loading(psycopg) -> bool:
    with psycopg.connect(DSN, autocommit=True) as conn:
        # COPY straight into the table, or into staging and then INSERT from it (sinks/pgcopy.py)
        return bool(conn.execute("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND "
                                 "(query LIKE 'COPY %FROM STDIN%' OR query LIKE 'INSERT INTO%sf1630_stage%')"
                                 ).fetchone())


def test_postgres_restarted_during_a_load(make_world, postgres):
    psycopg, schema, restart = postgres
    world = make_world(rows=ROWS, sinks=[{"type": "postgres", "options": {"dsn": DSN, "db_schema": schema}}])
    sent = sf1630("send", "--config", str(world.sender))
    assert sent.returncode == 0, sent.stderr
    world.platform.wait_idle()
    agent = Process(["--log-level", "INFO", "receive", "--config", str(world.lis)],
                    world.lis.parent / "receive.log").start()

    wait_for(lambda: _loading(psycopg), timeout=60, every=0.01)
    restart()
    assert agent.wait(60) == 1
    assert "PostgreSQL refused the load" in agent.output() and "nothing was loaded" in agent.output()
    assert states(world.lis, "receive") == {"quarantined": 1}
    assert world.platform.files(IKAST.lis_user, "IN") == []  # rule 4: the copy waits here, not there

    wait_for(_ready, timeout=60, every=0.2)
    again = sf1630("receive", "--config", str(world.lis))
    assert again.returncode == 0, again.stdout + again.stderr

    [name] = stories(world.lis, "receive")
    assert stories(world.lis, "receive")[name] == ["seen", "downloaded", "remote_deleted", "quarantined", "loaded"]
    with psycopg.connect(DSN) as conn:
        deliveries = conn.execute(f'SELECT file_name, rows FROM "{schema}".deliveries').fetchall()
        count, lines = conn.execute(f'SELECT count(*), count(DISTINCT _line) FROM "{schema}".ky').fetchone()
    assert deliveries == [(name, ROWS)] and (count, lines) == (ROWS, ROWS)
    spool = world.lis.parent / "state" / "spool"
    assert [p for p in spool.rglob("*") if p.is_file()] == []
