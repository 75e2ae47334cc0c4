"""Columns that change (issue #14): the table sinks add, keep and widen columns, or refuse in strict mode."""

from __future__ import annotations

import sqlite3

import pytest

from plugin_support import PG_URL, maria_rows, pg_rows
from sf1630.api import LoadError, SchemaChange
from sf1630_plugins.sinks import mariadb, postgres, sqlite

FIRST = (["id", "amount"], [["1", "10"], ["2", "20"]])
GAINED = (["id", "amount", "extra"], [["3", "n/a", "x"]])  # new column; amount no longer a number
LOST = (["id"], [["4"]])  # extra and amount missing


def sqlite_options(tmp_path, **kw):
    return sqlite.Options(path=tmp_path / "lis.sqlite3", **kw)


def sqlite_table(options) -> list[tuple]:
    with sqlite3.connect(options.path) as conn:
        return conn.execute("SELECT id, amount, extra FROM ky ORDER BY _line, id").fetchall()


def load_all(sink, make_delivery, options, *files):
    results = []
    for header, rows in files:
        delivery, path = make_delivery(rows, header, source="KY")
        results.append(sink.load(delivery, path, options))
    return results


def test_sqlite_adds_keeps_and_widens_columns(make_delivery, tmp_path):
    options = sqlite_options(tmp_path)
    with sqlite3.connect(tmp_path / "lis.sqlite3") as conn:  # a LIS report that reads the table
        conn.execute("CREATE VIEW report AS SELECT 1")
    [first] = load_all(sqlite.SINK, make_delivery, options, FIRST)
    with sqlite3.connect(options.path) as conn:  # the LIS's own index, or one an earlier version made
        conn.execute("CREATE INDEX ky_delivery ON ky (_file_transfer_uuid)")
    gained, lost = load_all(sqlite.SINK, make_delivery, options, GAINED, LOST)
    assert first.changes == ()
    assert set(gained.changes) == {SchemaChange("ky", "extra", "added", "TEXT"),
                                   SchemaChange("ky", "amount", "widened", "INTEGER -> TEXT")}
    assert set(lost.changes) == {SchemaChange("ky", "amount", "missing"), SchemaChange("ky", "extra", "missing")}
    assert sorted(sqlite_table(options)) == [(1, "10", None), (2, "20", None), (3, "n/a", "x"), (4, None, None)]
    with sqlite3.connect(options.path) as conn:
        types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(ky)")}
        indexes = [r[1] for r in conn.execute("PRAGMA index_list(ky)")]
    assert (types["amount"], types["extra"], indexes) == ("TEXT", "TEXT", ["ky_delivery"])


def test_sqlite_strict_refuses_any_change_and_loads_nothing(make_delivery, tmp_path):
    options = sqlite_options(tmp_path, schema="strict")
    load_all(sqlite.SINK, make_delivery, options, FIRST)
    for changed in (GAINED, LOST):
        delivery, path = make_delivery(changed[1], changed[0], source="KY")
        with pytest.raises(LoadError, match=r'schema = "strict"'):
            sqlite.SINK.load(delivery, path, options)
    with sqlite3.connect(options.path) as conn:
        assert conn.execute("SELECT count(*) FROM ky").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone() == (1,)
        assert [r[1] for r in conn.execute("PRAGMA table_info(ky)")] == [
            "authority", "period", "source", "id", "amount", "_file_transfer_uuid", "_line"]


def test_postgres_adds_keeps_and_widens_columns(make_delivery, pg_schema):
    options = postgres.Options(dsn=PG_URL, db_schema=pg_schema)
    first, gained, lost = load_all(postgres.SINK, make_delivery, options, FIRST, GAINED, LOST)
    assert set(gained.changes) == {SchemaChange("ky", "extra", "added", "TEXT"),
                                   SchemaChange("ky", "amount", "widened", "INTEGER -> TEXT")}
    assert len(lost.changes) == 2
    assert pg_rows(pg_schema, "SELECT id, amount, extra FROM ky ORDER BY id") == [
        (1, "10", None), (2, "20", None), (3, "n/a", "x"), (4, None, None)]
    types = dict(pg_rows(pg_schema, "SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_schema = %s AND table_name = 'ky'", (pg_schema,)))
    assert (types["id"], types["amount"], types["extra"]) == ("bigint", "text", "text")


def test_postgres_strict_refuses_any_change_and_loads_nothing(make_delivery, pg_schema):
    options = postgres.Options(dsn=PG_URL, db_schema=pg_schema, schema="strict")
    load_all(postgres.SINK, make_delivery, options, FIRST)
    delivery, path = make_delivery(GAINED[1], GAINED[0], source="KY")
    with pytest.raises(LoadError, match="extra added"):
        postgres.SINK.load(delivery, path, options)
    assert pg_rows(pg_schema, "SELECT count(*) FROM ky") == [(2,)]
    assert pg_rows(pg_schema, "SELECT count(*) FROM deliveries") == [(1,)]


# A value past the rows sampled for types (table.SAMPLE_ROWS) that breaks the guess: the load is redone
# with the types the whole file needs, and every row arrives once with its value unchanged.
LATE = (["id", "amount"], [[str(i), str(i * 10)] for i in range(1, 2501)] + [["2501", "12,5"]])


def test_sqlite_value_past_the_sample_widens_and_loads_every_row(make_delivery, tmp_path):
    options = sqlite_options(tmp_path)
    (result,) = load_all(sqlite.SINK, make_delivery, options, LATE)
    assert result.rows == 2501
    with sqlite3.connect(options.path) as conn:
        types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(ky)")}
        amounts = conn.execute("SELECT amount FROM ky ORDER BY _line").fetchall()
    assert types["amount"] == "TEXT"
    assert [a for (a,) in amounts] == [str(i * 10) for i in range(1, 2501)] + ["12,5"]


def test_postgres_value_past_the_sample_widens_and_loads_every_row(make_delivery, pg_schema):
    options = postgres.Options(dsn=PG_URL, db_schema=pg_schema)
    (result,) = load_all(postgres.SINK, make_delivery, options, LATE)
    assert result.rows == 2501
    amounts = pg_rows(pg_schema, "SELECT amount FROM ky ORDER BY _line")
    assert [a for (a,) in amounts] == [str(i * 10) for i in range(1, 2501)] + ["12,5"]


def test_mariadb_adds_keeps_and_widens_columns_and_strict_refuses(make_delivery, maria_db):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1/{maria_db}")
    first, gained, lost = load_all(mariadb.SINK, make_delivery, options, FIRST, GAINED, LOST)
    assert set(gained.changes) == {SchemaChange("ky", "extra", "added", "TEXT"),
                                   SchemaChange("ky", "amount", "widened", "INTEGER -> TEXT")}
    assert len(lost.changes) == 2
    assert maria_rows(maria_db, "SELECT id, amount, extra FROM ky ORDER BY id") == [
        (1, "10", None), (2, "20", None), (3, "n/a", "x"), (4, None, None)]
    strict = mariadb.Options(dsn=options.dsn, schema="strict")
    delivery, path = make_delivery([["5", "1", "y", "z"]], ["id", "amount", "extra", "newer"], source="KY")
    with pytest.raises(LoadError, match="newer added"):
        mariadb.SINK.load(delivery, path, strict)
    assert maria_rows(maria_db, "SELECT count(*) FROM ky") == [(4,)]
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(3,)]


def test_mariadb_value_past_the_sample_widens_and_loads_every_row(make_delivery, maria_db):
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1/{maria_db}")
    (result,) = load_all(mariadb.SINK, make_delivery, options, LATE)
    assert result.rows == 2501
    amounts = maria_rows(maria_db, "SELECT amount FROM ky ORDER BY _line")
    assert [a for (a,) in amounts] == [str(i * 10) for i in range(1, 2501)] + ["12,5"]
