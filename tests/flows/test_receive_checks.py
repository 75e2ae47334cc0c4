"""What the receiver refuses or counts, through the simulator: a file of another municipality's
authority, a sink whose connection setting resolves to nothing, rows over several sinks (issue #17)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from sf1630 import hookimpl
from sf1630.api import API_VERSION, Municipality
from sf1630.events import Failed, Recorder

from .conftest import HERNING, IKAST, KY, edit_toml, journal_rows, run_send

PG_URL = os.environ.get("SF1630_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
UNSET = "SF1630_TEST_LIS_DSN_NOT_SET"


def deliver(make_platform, make_agent_config, sinks: list[dict], authority: str | None = None):
    """KY sends one 10-row extract for Ikast-Brande (named with ``authority`` when given) to its LIS."""
    platform = make_platform(sources=(KY,), municipalities=(IKAST,))
    sender = make_agent_config(platform, "source-vendor", receive=False, rows=10)
    if authority:  # the source vendor's municipality file carries another municipality's id
        edit_toml(sender.parent / "municipalities" / "ikast-brande.toml",
                  lambda doc: doc["municipality"].update(authority_id=authority))
    lis = make_agent_config(platform, "lis-vendor", send=False, sinks=sinks)
    summary, _ = run_send(sender)
    platform.wait_idle()
    return platform, lis, summary.transfers[0]


def receive(lis: Path, host: Any = None) -> tuple[list, Recorder, Any]:
    """One receive round in-process with metrics attached; returns reports, events and the metrics."""
    from sf1630.config.load import load_config
    from sf1630.agent.flow import make_receiver, receive_round
    from sf1630.ops.metrics import Metrics
    from sf1630.agent.runtime import Selection, build_runtime

    recorder, metrics = Recorder(), Metrics()

    async def go():
        rt = build_runtime(load_config(lis), emitters=[recorder, metrics], host=host)
        try:
            return await receive_round(rt, make_receiver(rt, asyncio.Event()), Selection())
        finally:
            await rt.aclose()

    return asyncio.run(go()), recorder, metrics


def cli(capsys, *args: str) -> tuple[int, str]:
    from sf1630.cli.main import main

    status = main(["--log-level", "ERROR", *args])
    return status, capsys.readouterr().out


def rows_total(metrics: Any) -> float:
    line = next(x for x in metrics.render().splitlines() if x.startswith('sf1630_rows_total{kind="receive"'))
    return float(line.rsplit(" ", 1)[1])


def tables(database: Path) -> set[str]:
    if not database.exists():
        return set()
    with sqlite3.connect(database) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_file_naming_another_authority_is_quarantined_until_accepted(make_platform, make_agent_config,
                                                                        tmp_path, capsys):
    database = tmp_path / "lis.sqlite3"
    platform, lis, sent = deliver(make_platform, make_agent_config, [{"type": "sqlite", "options": {
        "path": str(database)}}], authority=HERNING.cvr)
    assert f"_{HERNING.cvr}_" in sent.file_name

    reports, events, _ = receive(lis)

    [t] = reports[0].quarantined
    assert t.error.startswith(f"AuthorityMismatch: {sent.file_name} names authority {HERNING.cvr}, but this "
                              "account receives for Ikast-Brande Kommune (cvr 11111111")
    assert f'add "{HERNING.cvr}" to accept_authorities' in t.error
    assert tables(database) & {"ky", "deliveries"} == set()  # nothing loaded
    assert [e.transfer.file_name for e in events.of(Failed)] == [sent.file_name]  # the load_failed alert
    assert platform.files(IKAST.lis_user, "IN") == []  # kept locally in quarantine (rule 4)
    status, out = cli(capsys, "status", "--config", str(lis), "--json")
    [failure] = json.loads(out)["failures"]
    assert failure["file_name"] == sent.file_name and "AuthorityMismatch" in failure["error"]
    from sf1630.receive.expect import Expected, arrivals
    from sf1630.journal import open_journal

    with open_journal(lis.parent / "state" / "journal.sqlite") as journal:  # not Ikast-Brande's KY extract
        assert arrivals(journal, Expected("ikast-brande", "ky", "* * * * *", 0, frozenset({"ky"})), 0) == []

    edit_toml(lis.parent / "municipalities" / "ikast-brande.toml",
              lambda doc: doc["receive"].update(accept_authorities=[HERNING.cvr]))
    status, out = cli(capsys, "receive", "--config", str(lis))

    assert status == 0, out
    [line] = [x for x in out.splitlines() if sent.file_name in x]
    assert line.split()[:3] == ["ikast-brande", "ky", sent.period] and line.split()[-2:] == [sent.file_name, "10"]
    [t] = journal_rows(lis, "receive")
    assert (t.state, t.rows, t.error, t.period) == ("loaded", 10, None, sent.period)  # the old note is gone


def test_names_outside_the_pattern_carry_no_authority_and_load_as_before() -> None:
    from sf1630.receive.inbound import authority_problem

    here = Municipality(key="ikast-brande", name="Ikast-Brande Kommune", authority_id="0123", cvr="11111111")
    assert authority_problem("KY_LIS-DATA_201901.csv", here) is None  # rule 7: no authority in it
    assert authority_problem("KY_LIS_11111111_M03_20240402010000.csv", here) is None  # the cvr
    assert authority_problem("KY_LIS_0123_M03_20240402010000.csv", here) is None  # the authority_id
    assert authority_problem("KY_LIS_22222222_M03_20240402010000.csv", here)
    assert authority_problem("KY_LIS_22222222_M03_20240402010000.csv", here, ("22222222",)) is None


def test_two_sinks_count_the_files_rows_once_and_keep_each_count(make_platform, make_agent_config, tmp_path,
                                                                 capsys):
    sinks = [{"type": "sqlite", "options": {"path": str(tmp_path / "lis.sqlite3")}},
             {"type": "directory", "options": {"folder": str(tmp_path / "archive")}}]
    _, lis, sent = deliver(make_platform, make_agent_config, sinks)

    reports, _, metrics = receive(lis)

    [t] = reports[0].loaded
    assert t.rows == 10 and t.details["sink_rows"] == {"sqlite": 10, "directory": 10}
    assert rows_total(metrics) == 10
    _, out = cli(capsys, "status", "--config", str(lis), "--json")
    assert [r["rows"] for r in json.loads(out)["recent"] if r["kind"] == "receive"] == [10]


class Miscounting:
    """A sink that loads like the sqlite sink but reports one row more."""

    name, api_version = "miscount", API_VERSION

    def __init__(self) -> None:
        from sf1630_plugins.sinks import sqlite

        self.inner, self.Options = sqlite.SINK, sqlite.Options

    def load(self, delivery, path, options):
        result = self.inner.load(delivery, path, options)
        return result if result.duplicate else type(result)(result.rows + 1, result.table)


class MiscountingPlugin:
    @hookimpl
    def sf1630_register_sinks(self, register):
        register(Miscounting())


def test_sinks_that_disagree_on_the_rows_keep_the_file_in_quarantine(make_platform, make_agent_config, tmp_path):
    from sf1630.plugins import make_plugin_host

    host = make_plugin_host(entry_points=False)
    assert host.add(MiscountingPlugin(), "miscounting", "test")
    sinks = [{"type": "sqlite", "options": {"path": str(tmp_path / "a.sqlite3")}},
             {"type": "miscount", "options": {"path": str(tmp_path / "b.sqlite3")}}]
    _, lis, sent = deliver(make_platform, make_agent_config, sinks)

    reports, events, metrics = receive(lis, host)

    [t] = reports[0].quarantined
    assert "SinksDisagree: the sinks loaded different numbers of rows (miscount 11, sqlite 10)" in t.error
    assert [e.transfer.file_name for e in events.of(Failed)] == [sent.file_name]
    reports, _, _ = receive(lis, host)  # every sink has it now: the disagreement is not forgotten
    assert [t.state for t in reports[0].quarantined] == ["quarantined"] and reports[0].loaded == []


def test_an_unset_dsn_env_variable_loads_nothing_anywhere_and_names_it(make_platform, make_agent_config, tmp_path,
                                                                       monkeypatch, capsys):
    import psycopg

    monkeypatch.delenv(UNSET, raising=False)
    database, schema = tmp_path / "lis.sqlite3", f"sf1630_test_{uuid.uuid4().hex[:12]}"
    sinks = [{"type": "sqlite", "options": {"path": str(database)}},
             {"type": "postgres", "options": {"dsn_env": UNSET, "db_schema": schema}}]
    _, lis, sent = deliver(make_platform, make_agent_config, sinks)
    status, out = cli(capsys, "config", "check", "--config", str(lis))
    assert status == 1 and f"the environment variable {UNSET} named by dsn_env is not set or is empty" in out

    monkeypatch.setenv(UNSET, "")  # empty is no better than unset
    reports, _, _ = receive(lis)

    [t] = reports[0].quarantined
    assert t.error == (f"LoadError: sink postgres: the environment variable {UNSET} named by dsn_env is not set or "
                       "is empty; set it in the agent's environment (e.g. the service's EnvironmentFile); "
                       "nothing was loaded")
    assert tables(database) & {"ky", "deliveries"} == set()  # not even the sink before it

    monkeypatch.setenv(UNSET, PG_URL)
    try:
        reports, _, metrics = receive(lis)
        [t] = reports[0].loaded
        assert (t.rows, t.error, t.details["sink_rows"]) == (10, None, {"sqlite": 10, "postgres": 10})
        assert rows_total(metrics) == 10
        with psycopg.connect(PG_URL) as conn:
            assert conn.execute(f'SELECT count(*) FROM "{schema}".ky').fetchone()[0] == 10
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("options", [{}, {"dsn_env": UNSET}])
def test_the_postgres_sink_never_falls_back_to_libpqs_default_database(options, monkeypatch, tmp_path) -> None:
    from sf1630.api import Delivery, LoadError
    from sf1630_plugins.sinks import postgres

    monkeypatch.delenv(UNSET, raising=False)
    path = tmp_path / "KY_LIS_11111111_M03_20240402010000.csv"
    path.write_text("a;b\n1;2\n")
    delivery = Delivery("u-1", path.name, "KY_SFTPSIMPEL", IKAST.lis_user, path.stat().st_size, "KY")
    with pytest.raises(LoadError, match=UNSET if options else "neither dsn nor dsn_env is set"):
        postgres.SINK.load(delivery, path, postgres.Options(**options))
