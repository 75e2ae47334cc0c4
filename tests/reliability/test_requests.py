"""Issue #21: operator commands while `sf1630 run` holds the site, on a SQLite and a PostgreSQL journal.

`send` (a period, a resend, a catch-up) and `receive` are handed to the running service through the
journal's requests table; the service does them with its own connections and the command prints the
outcome. `--no-wait` returns at once and `status` lists the request until the service has done it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox
from sf1630.testing.faultproxy import wait_for

from .world import PlatformProcess, Process, database_rows

SOURCES = tuple(s for s in FIVE_SOURCES if s.source == "ky")
TOWNS = tuple(LisMunicipality(f"m{i:02d}", f"Kommune {i}", f"{32000000 + i}", f"M{i:02d}_LIS01_SIMPEL")
              for i in range(2))


def sf1630(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sf1630", "--log-level", "WARNING", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def world(tmp_path: Path):
    sandbox = Sandbox(tmp_path, sources=SOURCES, municipalities=TOWNS)
    platform = PlatformProcess(sandbox, tmp_path / "platform", settle_seconds=0).start()
    sandbox.trust(platform.port)
    yield sandbox, platform
    platform.stop()


def _service(agent: Path, name: str = "run") -> Process:
    """`sf1630 run`, once it is working (it logs how many jobs it runs)."""
    proc = Process(["--log-level", "INFO", "run", "--config", str(agent)], agent.parent / f"{name}.log").start()
    wait_for(lambda: "running " in proc.output() or not proc.running, timeout=60, every=0.1)
    assert proc.running, proc.output()
    return proc


@pytest.fixture
def second_pg_journal_url(pg_journal_url: str):
    """A second site's journal: another schema of the test database."""
    import psycopg

    server, schema = pg_journal_url.split("?options=-csearch_path%3D")
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}_lis"')
    yield f"{server}?options=-csearch_path%3D{schema}_lis"
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}_lis" CASCADE')


@pytest.mark.parametrize("journal", ["sqlite", "postgresql"])
def test_send_and_receive_are_done_by_the_running_service(world, journal: str, request, tmp_path: Path) -> None:
    sandbox, platform = world
    url = request.getfixturevalue("pg_journal_url") if journal == "postgresql" else None
    source_journal = {"journal": url} if url else {}
    sender = sandbox.write_agent("sender", receive=False, rows=3,
                                 agent={"receipt_timeout": 120, "lease_seconds": 4, **source_journal})
    database = tmp_path / "lis.sqlite3"
    lis_journal = {"journal": request.getfixturevalue("second_pg_journal_url")} if url else {}
    lis = sandbox.write_agent("lis", send=False, sinks=[{"type": "sqlite", "options": {"path": str(database)}}],
                              agent={"poll_interval": 3600, **lis_journal})  # only the operator's receive loads
    service = _service(sender)
    lis_services = [_service(lis, "lis-run"), *([_service(lis, "lis-run2")] if url else [])]
    try:
        if url:  # on a shared journal a request goes to the holder of the unit's lease
            wait_for(lambda: "took over" in service.output(), timeout=30, every=0.1)
            wait_for(lambda: all("took over" in p.output() for p in lis_services), timeout=30, every=0.1)
        sent = sf1630("send", "--config", str(sender), "--municipality", "m00", "--source", "ky", "--period", "M03")
        assert sent.returncode == 0, sent.stderr + service.output()[-3000:]
        assert "handed to the running sf1630 service" in sent.stderr
        assert [line.split()[:4] for line in sent.stdout.splitlines()[1:]] == [["m00", "ky", "M03", "delivered"]]

        again = sf1630("send", "--config", str(sender), "--resend", "--municipality", "m00", "--source", "ky",
                       "--period", "M03", "--reason", "the LIS lost the March load")
        assert again.returncode == 0, again.stderr
        assert "resending m00 ky M03 again after KY_" in again.stdout
        assert "resend: the LIS lost the March load" in again.stdout

        caught = sf1630("send", "--config", str(sender), "--catch-up", "--municipality", "m01")
        assert caught.returncode == 0, caught.stderr
        assert " delivered " in caught.stdout

        # Frozen, the service takes nothing: --no-wait returns with the id and status lists it.
        service.proc.send_signal(signal.SIGSTOP)
        try:
            asked = sf1630("send", "--config", str(sender), "--no-wait", "--municipality", "m01", "--period", "M05")
            assert asked.returncode == 0, asked.stderr
            assert "as request" in asked.stdout
            listed = json.loads(sf1630("status", "--config", str(sender), "--json").stdout)
            assert [r["state"] for r in listed["requests"]] == ["new"]
            assert "--period M05" in listed["requests"][0]["command"]
        finally:
            service.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: json.loads(sf1630("status", "--config", str(sender), "--json").stdout)["requests"] == [],
                 timeout=60, every=0.5)

        doctor = sf1630("doctor", "--config", str(sender))
        assert "another sf1630 process" not in doctor.stdout + doctor.stderr

        received = sf1630("receive", "--config", str(lis))
        assert received.returncode == 0, received.stderr + lis_services[0].output()[-3000:]
        assert "handed to the running sf1630 service" in received.stderr
        assert received.stdout.count(" loaded ") == 4, received.stdout
    finally:
        exits = [service.stop(), *(p.stop() for p in lis_services)]
    assert set(exits) == {0}, service.output()[-3000:]
    assert len(database_rows(database)) == 4  # M03, its resend, m01's current period and M05
    for m in TOWNS:
        assert platform.files(m.lis_user, "IN") == []
