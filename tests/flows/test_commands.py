"""The commands as a user runs them: demo, send/receive with --dry-run, run until SIGTERM, postgres."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pytest

from .conftest import AULA, HERNING, IKAST, KY, journal_rows, lis_database, loaded_rows, run_send, sf1630


def test_demo_exits_0_and_prints_the_summary(tmp_path):
    started = time.monotonic()
    done = sf1630("demo", "--workdir", str(tmp_path / "demo"), "--rows", "200", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: all 10 files arrived exactly once with every row (2000 rows)." in done.stdout
    assert done.stderr == ""  # only the demo's own output (issue #17)
    for source in ("dubu", "ky", "ksd", "aula", "kp"):
        assert any(line.split()[:1] == [source] for line in done.stdout.splitlines())
    assert (tmp_path / "demo" / "lis" / "lis.sqlite3").exists()
    assert time.monotonic() - started < 30


def test_send_and_receive_dry_runs_change_nothing(make_platform, make_agent_config):
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=5)

    planned = sf1630("send", "--config", str(sender), "--dry-run")

    assert planned.returncode == 0, planned.stderr
    assert [line.split()[:3] for line in planned.stdout.splitlines()[1:]] == [
        ["send", "ikast-brande", "ky"], ["send", "ikast-brande", "aula"]]
    assert not (sender.parent / "state").exists()
    assert platform.files(KY.user, "OUT") == []

    run_send(sender)
    platform.wait_idle()
    again = sf1630("send", "--config", str(sender), "--dry-run", "--source", "ky")
    assert [line.split()[0] for line in again.stdout.splitlines()[1:]] == ["skip"]
    assert "already delivered" in again.stdout

    lis = make_agent_config(platform, "lis-vendor", send=False)
    listed = sf1630("receive", "--config", str(lis), "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(" take ") == 2
    assert len(platform.files(IKAST.lis_user, "IN")) == 4


def test_run_receives_as_files_arrive_and_stops_cleanly_on_sigterm(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST, HERNING))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=7)
    lis = make_agent_config(platform, "lis-vendor", send=False, agent={"poll_interval": 0.2})
    agent = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-level", "WARNING", "run", "--config", str(lis)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        summary, _ = run_send(sender)
        lock = lis.parent / "state" / "journal.sqlite.lock"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text().split()[:1] == [str(agent.pid)]):
            time.sleep(0.05)
        asked = sf1630("receive", "--config", str(lis))  # the running service does it (issue #21)
        assert asked.returncode == 0 and f"handed to the running sf1630 service (pid {agent.pid})" in asked.stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_loaded(lis)) < 2:
            time.sleep(0.1)
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=15)
    finally:
        agent.kill()
    assert agent.returncode == 0, err
    assert sorted(_loaded(lis)) == sorted(t.file_name for t in summary.transfers)
    assert all(v == (7, 7, 7) for v in loaded_rows(lis_database(lis)).values())


def _loaded(lis):
    if not (lis.parent / "state" / "journal.sqlite").exists():
        return []
    return [t.file_name for t in journal_rows(lis, "receive") if t.state == "loaded"]


def _postgres_or_skip():
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 (database test) is not reachable: {exc}")
    return psycopg


def test_postgres_sink_in_a_whole_flow(make_platform, make_agent_config):
    psycopg = _postgres_or_skip()
    schema = f"flow_{uuid.uuid4().hex[:10]}"
    dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=40)
    lis = make_agent_config(platform, "lis-vendor", send=False,
                            sinks=[{"type": "postgres", "options": {"dsn": dsn, "db_schema": schema}}])
    try:
        summary, _ = run_send(sender)
        platform.wait_idle()
        first = sf1630("receive", "--config", str(lis))
        assert first.returncode == 0, first.stdout + first.stderr
        with psycopg.connect(dsn) as conn:
            loaded = dict(conn.execute(f'SELECT file_name, rows FROM "{schema}".deliveries').fetchall())
            ky = conn.execute(f'SELECT count(*), count(DISTINCT _line) FROM "{schema}".ky').fetchone()
        assert loaded == {t.file_name: 40 for t in summary.transfers}
        assert ky == (40, 40)
        assert platform.files(IKAST.lis_user, "IN") == []
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_changed_host_key_stops_the_account_with_the_command_to_fix_it(make_platform, make_agent_config):
    import asyncssh

    from sf1630.transport.knownhosts import known_hosts_line

    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    lis = make_agent_config(platform, "lis-vendor", send=False)
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    (platform.sandbox.keys / "known_hosts").write_text(known_hosts_line("127.0.0.1", platform.port, stranger))

    done = sf1630("receive", "--config", str(lis), timeout=30)

    assert done.returncode == 1
    assert "ikast-brande: not received: host key of" in done.stdout
    assert "ssh-keygen -R" in done.stdout


def test_run_finishes_sends_a_killed_agent_left(make_platform, make_agent_config):
    from sf1630.core.steps import CRASH_ENV

    platform = make_platform(sources=(KY, AULA), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3)
    assert sf1630("send", "--config", str(sender), env={CRASH_ENV: "data_uploaded"}).returncode == 137

    agent = subprocess.Popen([sys.executable, "-m", "sf1630", "--log-level", "WARNING", "run", "--config", str(sender)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and [t.state for t in journal_rows(sender, "send")] != ["delivered"] * 2:
            time.sleep(0.1)
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=15)
    finally:
        agent.kill()
    assert agent.returncode == 0, err
    assert [t.state for t in journal_rows(sender, "send")] == ["delivered"] * 2  # one per extract
    assert platform.files(KY.user, "OUT") == [] and platform.files(AULA.user, "OUT") == []


def test_log_format_and_level_come_from_the_agent_file_unless_given(make_platform, make_agent_config):
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=3,
                               agent={"log_format": "json", "log_level": "INFO"})
    done = subprocess.run([sys.executable, "-m", "sf1630", "send", "--config", str(sender)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(entry["message"].startswith("delivered KY_LIS_") for entry in lines)
    assert {entry["level"] for entry in lines} <= {"info", "warning"}

    again = subprocess.run([sys.executable, "-m", "sf1630", "--log-format", "text", "--log-level", "WARNING",
                            "send", "--config", str(sender), "--municipality", IKAST.key],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "delivered" not in again.stderr and not again.stderr.lstrip().startswith("{")
