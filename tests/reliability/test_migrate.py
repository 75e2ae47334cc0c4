"""Issue #21: `sf1630 journal migrate --to postgresql://…` moves a SQLite journal into PostgreSQL.

History and open work go along: a send cut off after its data file was uploaded is finished by
`sf1630 run` on the new journal, and delivered once. A target that holds a journal is refused
unless --force, and so is a source that a running service holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from sf1630.simulator.sandbox import FIVE_SOURCES, LisMunicipality, Sandbox
from sf1630.testing.faultproxy import wait_for

from .world import PlatformProcess, Process

SOURCES = tuple(s for s in FIVE_SOURCES if s.source == "ky")
TOWN = LisMunicipality("m00", "Kommune 0", "34000000", "M00_LIS01_SIMPEL")


def sf1630(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "sf1630", "--log-level", "WARNING", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_migrate_moves_history_and_open_work_and_run_finishes_it(tmp_path: Path, pg_journal_url: str) -> None:
    sandbox = Sandbox(tmp_path, sources=SOURCES, municipalities=(TOWN,))
    platform = PlatformProcess(sandbox, tmp_path / "platform", settle_seconds=0).start()
    sandbox.trust(platform.port)
    try:
        agent = sandbox.write_agent("sender", receive=False, rows=3, agent={"receipt_timeout": 120})
        first = sf1630("send", "--config", str(agent), "--period", "M01")
        assert first.returncode == 0, first.stderr
        service = Process(["run", "--config", str(agent)], agent.parent / "run.log").start()
        wait_for(lambda: "running " in service.output(), timeout=60, every=0.1)
        held = sf1630("journal", "migrate", "--config", str(agent), "--to", pg_journal_url)
        service.stop()
        assert held.returncode == 1 and "another sf1630 process" in held.stderr
        assert "copied only while nothing writes it" in held.stderr


        cut = sf1630("send", "--config", str(agent), "--period", "M02", env={"SF1630_TEST_CRASH_AT": "data_uploaded"})
        assert cut.returncode == 137

        moved = sf1630("journal", "migrate", "--config", str(agent), "--to", pg_journal_url)
        assert moved.returncode == 0, moved.stderr
        assert "2 transfers" in moved.stdout
        again = sf1630("journal", "migrate", "--config", str(agent), "--to", pg_journal_url)
        assert again.returncode == 1 and "already holds a journal (transfers 2" in again.stderr
        assert sf1630("journal", "migrate", "--config", str(agent), "--to", pg_journal_url, "--force").returncode == 0

        with psycopg.connect(pg_journal_url, autocommit=True) as db:
            states = dict(db.execute("SELECT period, state FROM transfers").fetchall())
        assert states == {"M01": "delivered", "M02": "data_uploaded"}

        text = agent.read_text().replace('journal = "state/journal.sqlite"', f'journal = "{pg_journal_url}"')
        agent.write_text(text)
        service = Process(["--log-level", "INFO", "run", "--config", str(agent)], agent.parent / "run-pg.log").start()
        try:
            wait_for(lambda: _state(pg_journal_url, "M02") == "delivered", timeout=90, every=0.5)
        finally:
            assert service.stop() == 0, service.output()[-3000:]
        with psycopg.connect(pg_journal_url, autocommit=True) as db:
            assert db.execute("SELECT count(*) FROM transfers").fetchone()[0] == 2  # nothing sent twice
            ids = [r[0] for r in db.execute("SELECT id FROM history ORDER BY id").fetchall()]
        assert len(ids) == len(set(ids))
        assert len(platform.files(TOWN.lis_user, "IN")) == 4  # two extracts, each with its metadata
    finally:
        platform.stop()


def _state(url: str, period: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute("SELECT state FROM transfers WHERE period = %s", (period,)).fetchone()
    return row[0] if row else None
