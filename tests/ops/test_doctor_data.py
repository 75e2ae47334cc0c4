"""``sf1630 doctor`` checks the data ends: each sink is reached and written (rolled back), each source
adapter is read, against a real PostgreSQL and real SQLite files and folders (issue #17)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .conftest import HERNING, in_process
from .test_doctor import doctor, edit, findings

PG_URL = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TOPIC = f"sink {HERNING.key} postgres"


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"sf1630_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def role() -> Iterator[str]:
    """A login role with a password and no right to create anything in database test."""
    name = f"sf1630_doctor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'right-one'")
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def lis(platform, options: dict) -> Path:
    return platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,),
                                        sinks=[{"type": "postgres", "options": options}])


def schema_exists(name: str) -> bool:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is not None


def test_a_postgres_sink_that_takes_writes_passes_and_is_left_as_it_was(platform, schema, capsys) -> None:
    status, report = doctor(capsys, lis(platform, {"dsn": PG_URL, "db_schema": schema}), "--offline")
    assert status == 0, report
    [sink] = findings(report, "ok", TOPIC)
    assert sink["message"] == (f"postgres@127.0.0.1:5432/test: may create tables and insert in schema "
                               f"'{schema}' (tried, rolled back)")
    assert not schema_exists(schema)  # the tried write was rolled back


def test_a_postgres_sink_the_agent_cannot_write_is_an_error(platform, schema, role, capsys) -> None:
    # The test server trusts 127.0.0.1 (any password gets in): a role without rights and a wrong user.
    agent = lis(platform, {"dsn": f"postgresql://{role}@127.0.0.1:5432/test", "db_schema": schema})
    status, report = doctor(capsys, agent, "--offline")
    assert status == 1, [f for f in report["findings"] if f["level"] != "ok"]
    [bad] = findings(report, "error", TOPIC)
    assert bad["message"] == "LoadError: postgres sink: permission denied for database test"
    assert "user, password" in bad["fix"]

    edit(agent.parent / "municipalities" / f"{HERNING.key}.toml", lambda d: d["receive"]["sinks"][0]["options"].update(
        dsn="postgresql://sf1630_nobody@127.0.0.1:5432/test"))
    status, report = doctor(capsys, agent, "--offline")
    assert status == 1
    assert 'role "sf1630_nobody" does not exist' in findings(report, "error", TOPIC)[0]["message"]


def test_an_unset_dsn_env_variable_fails_doctor_naming_it(platform, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SF1630_LIS_DSN_NOT_SET", raising=False)
    status, report = doctor(capsys, lis(platform, {"dsn_env": "SF1630_LIS_DSN_NOT_SET"}), "--offline")
    assert status == 1
    [bad] = findings(report, "error", "config")
    assert "the environment variable SF1630_LIS_DSN_NOT_SET named by dsn_env is not set or is empty" in bad["message"]


def test_sqlite_and_directory_sinks_are_tried(platform, tmp_path, capsys) -> None:
    database = tmp_path / "lis" / "lis.sqlite3"
    agent = platform.sandbox.write_agent("lis", send=False, municipalities=(HERNING,), sinks=[
        {"type": "sqlite", "options": {"path": str(database)}},
        {"type": "directory", "options": {"folder": str(tmp_path / "archive")}}])
    status, report = doctor(capsys, agent, "--offline")
    assert status == 0, report
    assert "not created yet; the first load creates it" in findings(report, "ok", f"sink {HERNING.key} sqlite")[0][
        "message"]
    sqlite3.connect(database).close()
    database.chmod(0o600)
    _, report = doctor(capsys, agent, "--offline")
    assert findings(report, "ok", f"sink {HERNING.key} sqlite")[0]["message"] == (
        f"{database}: may create tables and insert (tried, rolled back)")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_source_adapters_are_reached_and_a_relative_sqlite_url_follows_the_file(platform, capsys) -> None:
    agent = platform.sandbox.write_agent("sender", receive=False, municipalities=(HERNING,))
    municipality = agent.parent / "municipalities" / f"{HERNING.key}.toml"
    edit(municipality, lambda d: d["send"][0]["options"].update(
        adapter="sql", url="sqlite:///ky.db", query="SELECT * FROM payments WHERE period = :period"))
    topic = f"source {HERNING.key} ky"

    status, report = doctor(capsys, agent, "--offline")
    assert status == 1
    assert f"no SQLite database at '{municipality.parent / 'ky.db'}'" in findings(report, "error", topic)[0]["message"]

    with sqlite3.connect(municipality.parent / "ky.db") as db:  # beside the file, not in the working folder
        db.execute("CREATE TABLE other (x)")
    status, report = doctor(capsys, agent, "--offline")
    assert status == 1 and "does not take the query" in findings(report, "error", topic)[0]["message"]

    with sqlite3.connect(municipality.parent / "ky.db") as db:
        db.execute("CREATE TABLE payments (period TEXT)")
    status, report = doctor(capsys, agent, "--offline")
    assert status == 0, report
    assert findings(report, "ok", topic)[0]["message"].startswith("sqlite database answers and plans the query")

    edit(municipality, lambda d: d["send"][0].update(options={"adapter": "directory", "folder": "/nonexistent/ky"}))
    status, report = doctor(capsys, agent, "--offline")
    assert status == 1 and "export folder /nonexistent/ky does not exist" in findings(report, "error", topic)[0][
        "message"]


def test_a_key_others_can_read_is_fixed_with_chmod_not_the_firewall(platform, capsys) -> None:
    agent = platform.sandbox.write_agent("agent", receive=False, municipalities=(HERNING,))
    key = platform.sandbox.key_of("KY_SFTPSIMPEL")
    key.chmod(0o644)
    status, report = doctor(capsys, agent)
    assert status == 1
    [connect] = findings(report, "error", "connect KY")
    assert connect["fix"] == f"chmod 600 {key}" and "firewall" not in connect["fix"]
    status, out, _ = in_process("doctor", "--config", str(agent))(capsys)
    assert f"fix: chmod 600 {key}" in out and "firewall" not in out
