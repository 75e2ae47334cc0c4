"""Columns that change, through a whole flow (issue #14): a source gains and loses columns; the SQLite
and PostgreSQL sinks follow, or refuse everything with ``schema = "strict"``. The sinks' own tests
(tests/plugins/test_sink_columns.py) cover widening and each sink alone."""

from __future__ import annotations

import os
import sqlite3
import time

from sf1630.events import SchemaChanged
from sf1630.journal import open_journal

from .conftest import PG_URL, journal_path, pg_rows, receive, send

BASE = "payment_id;case_id;net_amount\nP1;C1;100\nP2;C2;200\n"
GAINED = "payment_id;case_id;net_amount;note\nP3;C3;300;late\n"  # a column more
DROPPED = "payment_id;case_id\nP4;C4\n"  # net_amount and note gone


def exporting(world, tmp_path):
    """A KY sender reading the export folder as it is (directory adapter), and a way to export."""
    export = tmp_path / "export"
    export.mkdir()
    sender = world.sender(options={"adapter": "directory", "folder": str(export), "settle_seconds": 0,
                                   "strict_header": False})

    def deliver(period: str, text: str) -> None:
        path = export / f"ky-{period}.csv"
        path.write_text(text, encoding="utf-8")
        os.utime(path, (time.time() - 60, time.time() - 60))
        summary, _ = send(sender, period=period)
        assert [t.state for t in summary.transfers] == ["delivered"]
        world.wait_idle()

    return deliver


def sinks(world, pg_schema, name, **extra):
    return [{"type": "sqlite", "options": {"path": str(world.root / name / "lis.sqlite3"), **extra}},
            {"type": "postgres", "options": {"dsn": PG_URL, "db_schema": pg_schema, **extra}}]


def sqlite_rows(lis) -> list[tuple]:
    with sqlite3.connect(lis.parent / "lis.sqlite3") as db:
        return db.execute("SELECT payment_id, net_amount, note FROM ky ORDER BY payment_id").fetchall()


def test_added_and_dropped_columns_load_into_sqlite_and_postgres(world, tmp_path, pg_schema):
    deliver = exporting(world, tmp_path)
    lis = world.lis(sinks=sinks(world, pg_schema, "lis-vendor"))
    changes = []
    for period, text in (("M01", BASE), ("M02", GAINED), ("M03", DROPPED)):
        deliver(period, text)
        reports, events = receive(lis)
        assert [len(r.loaded) for r in reports] == [1]
        changes.append(sorted((e.sink, c.column, c.kind) for e in events.of(SchemaChanged) for c in e.changes))

    assert changes[0] == []
    assert changes[1] == [("postgres", "note", "added"), ("sqlite", "note", "added")]
    assert changes[2] == [("postgres", "net_amount", "missing"), ("postgres", "note", "missing"),
                          ("sqlite", "net_amount", "missing"), ("sqlite", "note", "missing")]
    expected = [("P1", 100, None), ("P2", 200, None), ("P3", 300, "late"), ("P4", None, None)]
    assert sqlite_rows(lis) == expected
    assert pg_rows(pg_schema, "SELECT payment_id, net_amount, note FROM ky ORDER BY payment_id") == expected
    with open_journal(journal_path(lis)) as journal:
        journalled = [t.details.get("schema_changes", []) for t in journal.transfers(kind="receive", limit=None)]
    assert sorted(c for cs in journalled for c in cs) == sorted([
        "sqlite: ky.note added TEXT", "postgres: ky.note added TEXT",
        "sqlite: ky.net_amount missing", "sqlite: ky.note missing",
        "postgres: ky.net_amount missing", "postgres: ky.note missing"])


def test_strict_refuses_a_changed_header_with_a_clear_error_and_loads_nothing(world, tmp_path, pg_schema):
    deliver = exporting(world, tmp_path)
    lis = world.lis(sinks=sinks(world, pg_schema, "lis-vendor", schema="strict"))
    deliver("M01", BASE)
    receive(lis)
    deliver("M02", GAINED)
    deliver("M03", DROPPED)
    reports, _ = receive(lis)

    held = reports[0].quarantined
    assert len(held) == 2 and reports[0].loaded == []
    assert {t.error.split(" and schema")[0] for t in held} == {
        "LoadError: table 'ky' does not match the file (note added (TEXT))",
        "LoadError: table 'ky' does not match the file (net_amount missing)"}
    assert all('schema = "strict"; change the table, or set schema = "evolve"; nothing was loaded' in t.error
               for t in held)

    assert [r[0] for r in sqlite_rows_no_note(lis)] == ["P1", "P2"]
    assert pg_rows(pg_schema, "SELECT payment_id FROM ky ORDER BY 1") == [("P1",), ("P2",)]
    assert pg_rows(pg_schema, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                              f"'{pg_schema}' AND table_name = 'ky' AND column_name = 'note'") == [(0,)]
    with sqlite3.connect(lis.parent / "lis.sqlite3") as db:
        assert "note" not in [r[1] for r in db.execute("PRAGMA table_info(ky)")]
        assert db.execute("SELECT count(*) FROM deliveries").fetchone() == (1,)


def sqlite_rows_no_note(lis) -> list[tuple]:
    with sqlite3.connect(lis.parent / "lis.sqlite3") as db:
        return db.execute("SELECT payment_id FROM ky ORDER BY payment_id").fetchall()
