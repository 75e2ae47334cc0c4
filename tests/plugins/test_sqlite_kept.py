"""The SQLite sink keeps its connection between loads: what another writer does in between is seen."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import threading

import pytest
from sf1630.api import LoadError
from sf1630_plugins.sinks import sqlite, table

HEADER = ["id", "name"]
ROWS = [["1", "Åse"], ["2", "Bo"]]


def rows_in(path, table="ky") -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT id, name, _file_transfer_uuid FROM {table} ORDER BY _line").fetchall()
    finally:
        conn.close()


def other_writer(path, *sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


def kept_conn(options):
    return sqlite._KEPT._open[(os.path.abspath(options.path), options.timeout)].conn


@pytest.fixture
def options(tmp_path):
    return sqlite.Options(path=tmp_path / "lis.sqlite3")


@pytest.fixture
def load(make_delivery, options):
    def load_one(rows=ROWS, header=HEADER, **kw):
        delivery, path = make_delivery(rows, header, source="KY", **kw)
        result = sqlite.SINK.load(delivery, path, options)
        return delivery, result
    return load_one


def test_loads_share_one_connection(load, options):
    load(authority="11111111")
    first = kept_conn(options)
    load(authority="22222222")
    assert kept_conn(options) is first
    assert len(rows_in(options.path)) == 4


def test_a_table_dropped_by_another_writer_is_made_again(load, options):
    load(authority="11111111")
    other_writer(options.path, "DROP VIEW ky_current", "DROP TABLE ky")
    d, result = load(authority="22222222")
    assert result.rows == 2
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]
    assert other_view_rows(options.path) == 2


def other_view_rows(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM ky_current").fetchone()[0]
    finally:
        conn.close()


def test_a_table_altered_by_another_writer_is_read_again(load, options):
    load(authority="11111111")
    # The LIS rebuilds the table without the name column and with one of its own.
    other_writer(options.path, "DROP VIEW ky_current", "DROP TABLE ky",
                 "CREATE TABLE ky (authority TEXT, period TEXT, source TEXT, id INTEGER, note TEXT, "
                 "_file_transfer_uuid TEXT, _line INTEGER)")
    d, result = load(authority="22222222")
    assert result.rows == 2
    assert "name" in [c.column for c in result.changes]  # added again: the layout was read anew
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]


def test_the_deliveries_table_dropped_by_another_writer_is_made_again(load, options):
    first, _ = load(authority="11111111")
    other_writer(options.path, "DROP TABLE deliveries")
    _, result = load(authority="22222222")
    assert result.rows == 2
    conn = sqlite3.connect(options.path)
    try:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_delivery_removed_by_another_writer_loads_again(make_delivery, options):
    delivery, path = make_delivery(ROWS, HEADER, source="KY")
    sqlite.SINK.load(delivery, path, options)
    assert sqlite.SINK.load(delivery, path, options).duplicate
    other_writer(options.path, f"DELETE FROM deliveries WHERE file_transfer_uuid = '{delivery.file_transfer_uuid}'",
                 f"DELETE FROM ky WHERE _file_transfer_uuid = '{delivery.file_transfer_uuid}'")
    again = sqlite.SINK.load(delivery, path, options)
    assert (again.rows, again.duplicate) == (2, False)


def test_a_removed_database_file_is_created_again(load, options):
    load(authority="11111111")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{options.path}{suffix}"):
            os.remove(f"{options.path}{suffix}")
    d, result = load(authority="22222222")
    assert result.rows == 2
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]
    assert stat.S_IMODE(os.stat(options.path).st_mode) == 0o600


def test_a_replaced_database_file_is_the_one_loaded(load, options, tmp_path):
    load(authority="11111111")
    other = tmp_path / "other.sqlite3"
    other_writer(other, "CREATE TABLE report (x INTEGER)")
    os.replace(other, options.path)
    d, _ = load(authority="22222222")
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]
    conn = sqlite3.connect(options.path)
    try:
        assert conn.execute("SELECT count(*) FROM report").fetchone()[0] == 0  # the new file, kept
    finally:
        conn.close()


def test_a_failed_load_closes_the_kept_connection(load, options):
    load(authority="11111111")
    before = kept_conn(options)
    other_writer(options.path, "CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(LoadError, match="nothing was loaded"):
        load(authority="22222222")
    assert (os.path.abspath(options.path), options.timeout) not in sqlite._KEPT._open
    with pytest.raises(sqlite3.ProgrammingError):
        before.execute("SELECT 1")  # closed
    assert len(rows_in(options.path)) == 2
    other_writer(options.path, "DROP TRIGGER refuse")
    _, result = load(authority="33333333")
    assert result.rows == 2
    assert len(rows_in(options.path)) == 4


def test_between_loads_the_database_file_holds_every_row(load, options):
    load(authority="11111111")
    wal = f"{options.path}-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0


def test_loads_from_two_threads_at_once_both_land(make_delivery, options):
    made = [make_delivery(ROWS, HEADER, source="KY", authority=f"{n}1111111") for n in range(1, 9)]
    errors: list[BaseException] = []

    def run(items):
        try:
            for delivery, path in items:
                sqlite.SINK.load(delivery, path, options)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(made[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(rows_in(options.path)) == 16


def _load_in_child(delivery, path, options, done) -> None:
    try:
        done.put(sqlite.SINK.load(delivery, path, options).rows)
    except BaseException as exc:  # noqa: BLE001 - sent to the parent
        done.put(repr(exc))


def test_a_forked_child_opens_its_own_connection(make_delivery, load, options):
    load(authority="11111111")
    parent = kept_conn(options)
    delivery, path = make_delivery(ROWS, HEADER, source="KY", authority="22222222")
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    child = context.Process(target=_load_in_child, args=(delivery, path, options, done))
    child.start()
    assert done.get(timeout=60) == 2
    child.join(60)
    load(authority="33333333")
    assert kept_conn(options) is parent
    assert len(rows_in(options.path)) == 6


def test_a_duplicate_rolls_back_a_column_added_and_the_next_load_adds_it(make_delivery, load, options):
    delivery, path = make_delivery(ROWS, HEADER, source="KY", authority="11111111")
    sqlite.SINK.load(delivery, path, options)
    other_writer(options.path, "DROP VIEW ky_current", "ALTER TABLE deliveries DROP COLUMN replaced_by")  # as before
    assert sqlite.SINK.load(delivery, path, options).duplicate  # adds the column, then rolls back
    _, result = load(authority="22222222")
    assert result.rows == 2


def test_a_database_file_removed_alone_is_created_again(load, options):
    load(authority="11111111")
    os.remove(options.path)  # its -wal and -shm stay behind
    d, result = load(authority="22222222")
    assert result.rows == 2
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]
    sqlite._KEPT.close_all()
    assert rows_in(options.path) == [(1, "Åse", d.file_transfer_uuid), (2, "Bo", d.file_transfer_uuid)]


def test_loads_opening_a_new_database_at_once_all_open_it(tmp_path):
    # Two connections switching a new file to WAL at once: SQLite answered one "database is locked"
    # without waiting (it failed a two-thread load in CI about one time in twenty).
    failed = []
    for n in range(100):
        path = tmp_path / f"new{n}.sqlite3"
        start = threading.Barrier(8)

        def open_it():
            start.wait()
            try:
                sqlite.connect(path, timeout=10).close()
            except sqlite3.Error as exc:
                failed.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failed == []


def test_a_reader_in_the_way_of_emptying_the_wal_closes_the_kept_connection(load, options):
    load(authority="11111111")
    reader = sqlite3.connect(options.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM ky").fetchall()  # holds a snapshot: the WAL cannot be emptied
        load(authority="22222222")
        key = (os.path.abspath(options.path), options.timeout)
        assert key not in sqlite._KEPT._open  # a kept connection would carry a WAL the file might not match
    finally:
        reader.close()
    load(authority="33333333")
    assert len(rows_in(options.path)) == 6


def test_small_loads_through_kept_statements_keep_each_delivery_s_own_constants(load, options):
    """A small file goes in blocks of SMALL_ROWS_PER_INSERT rows and a last shorter block row by row;
    the delivery's constants are parameters of a statement kept from load to load."""
    rows = [[str(n), f"n{n}" if n % 5 else ""] for n in range(2 * sqlite.SMALL_ROWS_PER_INSERT + 3)]
    first, _ = load(rows, authority="11111111", period="M03")
    second, _ = load(rows, authority="22222222", period="M04")
    conn = sqlite3.connect(options.path)
    try:
        stored = conn.execute("SELECT _file_transfer_uuid, authority, period, source, id, name, _line FROM ky "
                              "ORDER BY rowid").fetchall()
    finally:
        conn.close()
    expected = [(d.file_transfer_uuid, authority, period, "KY", n, f"n{n}" if n % 5 else None, n + 2)
                for d, authority, period in ((first, "11111111", "2024-M03"), (second, "22222222", "2024-M04"))
                for n in range(len(rows))]
    assert stored == expected


def test_a_misfit_after_a_load_through_the_same_connection_is_still_found(make_delivery, options):
    """The check functions are registered once per connection: a later load's misfit reaches that load."""
    header = ["case_id", "cpr", "pension_type", "decision_date"]
    good, path = make_delivery([["1", "0101", "a", "2024-01-01"]] * 20, header, source="KP")
    sqlite.SINK.load(good, path, options)
    rows = [["1", "0101", "a", "2024-01-01"]] * 20
    rows[17] = ["1", "0101", "a", "soon"]
    bad, path = make_delivery(rows, header, source="KP", authority="22222222")
    with pytest.raises(LoadError, match=rf"{path.name}:19: column 'decision_date'.*nothing was loaded"):
        sqlite.SINK.load(bad, path, options)


def test_a_guess_broken_past_the_sample_in_a_later_load_widens_the_column(make_delivery, options):
    """The guessed-type check reports to the load running on the kept connection, not to the first one."""
    first, path = make_delivery([[str(n), str(n)] for n in range(10)], HEADER, source="ZZ")
    sqlite.SINK.load(first, path, options)
    rows = [[str(n), str(n)] for n in range(table.SAMPLE_ROWS + 50)]
    rows[table.SAMPLE_ROWS + 20][1] = "x"
    later, path = make_delivery(rows, HEADER, source="ZZ", authority="22222222")
    result = sqlite.SINK.load(later, path, options)
    assert result.rows == len(rows)
    assert [(c.column, c.kind) for c in result.changes] == [("name", "widened")]
    conn = sqlite3.connect(options.path)
    try:
        assert conn.execute("SELECT name FROM zz WHERE _line = ?", (table.SAMPLE_ROWS + 22,)).fetchone() == ("x",)
    finally:
        conn.close()
