"""The built-in sinks: the conformance suite, typing, and the files and rows they leave."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from plugin_support import PG_URL, maria_rows, pg_rows
from sf1630.api import LoadError
from sf1630.documents.metadata import Metadata, parse_metadata
from sf1630.documents.trigger import FileDescriptor
from sf1630.testing.conformance import SinkConformance, write_delivery
from sf1630.testing.sshd import free_port
from sf1630_plugins.sinks import directory, mariadb, postgres, sqlite


def sqlite_rows(options: sqlite.Options) -> int:
    if not Path(options.path).exists():
        return 0
    with sqlite3.connect(options.path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables if t != "deliveries")


def postgres_rows(options: postgres.Options) -> int:
    tables = pg_rows(options.db_schema, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (options.db_schema,))
    return sum(pg_rows(options.db_schema, f'SELECT count(*) FROM "{t}"')[0][0]
               for (t,) in tables if t != "deliveries")


def mariadb_rows(options: mariadb.Options) -> int:
    database = options.dsn.rsplit("/", 1)[1]
    tables = maria_rows("information_schema", "SELECT TABLE_NAME FROM TABLES WHERE TABLE_SCHEMA = %s "
                                              "AND TABLE_TYPE = 'BASE TABLE'", (database,))
    return sum(maria_rows(database, f"SELECT count(*) FROM `{t}`")[0][0] for (t,) in tables if t != "deliveries")


def archived_rows(options: directory.Options) -> int:
    total = 0
    for record in Path(options.folder).glob("*/*/delivery.json"):
        name = json.loads(record.read_text())["file_name"]
        with open(record.parent / name, encoding="utf-8", newline="") as f:
            total += sum(1 for row in csv.reader(f, delimiter=";") if row) - 1
    return total


class TestSqliteSinkConformance(SinkConformance):
    sink = sqlite.SINK

    def make_options(self, tmp_path):
        return sqlite.Options(path=tmp_path / "lis.sqlite3")

    def count_rows(self, options):
        return sqlite_rows(options)


class TestPostgresSinkConformance(SinkConformance):
    sink = postgres.SINK

    @pytest.fixture
    def sink_options(self, pg_schema):
        return postgres.Options(dsn=PG_URL, db_schema=pg_schema)

    def count_rows(self, options):
        return postgres_rows(options)


class TestMariadbSinkConformance(SinkConformance):
    sink = mariadb.SINK

    @pytest.fixture
    def sink_options(self, maria_db):
        return mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")

    def count_rows(self, options):
        return mariadb_rows(options)


class TestDirectorySinkConformance(SinkConformance):
    sink = directory.SINK

    def make_options(self, tmp_path):
        return directory.Options(folder=tmp_path / "archive")

    def count_rows(self, options):
        return archived_rows(options)


TYPED = [["1", "Åse", "10.50", "007", ""], ["-22", "Bo", "3", "12", ""], ["", "", "", "x", ""]]
TYPED_HEADER = ["id", "name", "amount", "code", "empty"]


def test_sqlite_types_columns_from_their_values(make_delivery, tmp_path):
    delivery, path = make_delivery(TYPED, TYPED_HEADER, source="KY")
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    assert sqlite.SINK.load(delivery, path, options).table == "ky"
    with sqlite3.connect(options.path) as conn:
        declared = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(ky)")}
        stored = conn.execute("SELECT id, typeof(id), amount, typeof(amount), code, empty, _line, "
                              "_file_transfer_uuid FROM ky ORDER BY _line IS NULL, _line").fetchall()
        recorded = conn.execute("SELECT file_name, sender, source, table_name, rows FROM deliveries").fetchall()
    assert declared == {"authority": "TEXT", "period": "TEXT", "source": "TEXT", "id": "INTEGER", "name": "TEXT",
                        "amount": "REAL", "code": "TEXT", "empty": "TEXT", "_file_transfer_uuid": "TEXT",
                        "_line": "INTEGER"}
    assert stored == [(1, "integer", 10.5, "real", "007", None, 2, delivery.file_transfer_uuid),
                      (-22, "integer", 3.0, "real", "12", None, 3, delivery.file_transfer_uuid),
                      (None, "null", None, "null", "x", None, 4, delivery.file_transfer_uuid)]
    assert recorded == [(delivery.file_name, "KY_SFTPSIMPEL", "KY", "ky", 3)]
    assert stat.S_IMODE(os.stat(options.path).st_mode) == 0o600


def test_sqlite_all_text_when_asked(make_delivery, tmp_path):
    delivery, path = make_delivery(TYPED, TYPED_HEADER)
    options = sqlite.Options(path=tmp_path / "lis.sqlite3", types="text", table="everything")
    sqlite.SINK.load(delivery, path, options)
    with sqlite3.connect(options.path) as conn:
        assert {r[2] for r in conn.execute("PRAGMA table_info(everything)") if not r[1].startswith("_")} == {"TEXT"}
        assert conn.execute("SELECT id FROM everything WHERE _line = 2").fetchone() == ("1",)


def test_a_file_without_a_header_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    delivery, _ = write_delivery(tmp_path)
    with pytest.raises(LoadError, match="a header line is required"):
        sqlite.SINK.load(delivery, path, sqlite.Options(path=tmp_path / "lis.sqlite3"))


def test_sqlite_load_streams_large_files(make_delivery, tmp_path):
    rows = [[str(i), f"name {i}", f"{i}.25", "x" * 40] for i in range(60000)]
    delivery, path = make_delivery(rows, ["id", "name", "amount", "filler"])
    del rows
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    tracemalloc.start()
    started = time.perf_counter()
    result = sqlite.SINK.load(delivery, path, options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.rows == 60000
    assert peak < path.stat().st_size / 4, f"peak {peak} bytes for a {path.stat().st_size} byte file"
    print(f"sqlite: 60000 rows ({path.stat().st_size} bytes) in {time.perf_counter() - started:.2f}s, "
          f"peak {peak // 1024} KiB traced")


def test_postgres_casts_into_a_table_the_lis_vendor_made(make_delivery, pg_schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
        conn.execute(f'CREATE TABLE "{pg_schema}".ky (payment_date date, amount numeric(10, 2), note varchar(20), '
                     "_file_transfer_uuid text, _line integer)")
    delivery, path = make_delivery([["2024-03-05", "10.5", "x"], ["", "", ""]], ["payment_date", "amount", "note"],
                                   source="KY")
    options = postgres.Options(dsn=PG_URL, db_schema=pg_schema, schema="strict")
    assert postgres.SINK.load(delivery, path, options).rows == 2
    rows = pg_rows(pg_schema, "SELECT payment_date::text, amount::text, note, _line FROM ky ORDER BY _line IS NULL, _line")
    assert rows == [("2024-03-05", "10.50", "x", 2), (None, None, None, 3)]
    assert pg_rows(pg_schema, "SELECT rows, table_name FROM deliveries") == [(2, "ky")]


def test_postgres_a_bad_value_for_the_column_type_loads_nothing(make_delivery, pg_schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
        conn.execute(f'CREATE TABLE "{pg_schema}".visits (payment_date date, _file_transfer_uuid text, _line bigint)')
    delivery, path = make_delivery([["2024-03-05"], ["the fifth"]], ["payment_date"], source="VISITS")  # a source that declares no types
    with pytest.raises(LoadError, match="nothing was loaded") as caught:
        postgres.SINK.load(delivery, path, postgres.Options(dsn=PG_URL, db_schema=pg_schema))
    assert "22007" in str(caught.value) and "the fifth" not in str(caught.value)  # no row data in errors
    assert pg_rows(pg_schema, "SELECT count(*) FROM visits") == [(0,)]
    assert pg_rows(pg_schema, "SELECT to_regclass('deliveries')") == [(None,)]  # rolled back with the rest


def test_directory_archive_holds_data_metadata_and_record_owner_only(make_delivery, tmp_path):
    delivery, path = make_delivery(source="KY")
    descriptor = FileDescriptor(delivery.file_name, delivery.size, delivery.sender, (delivery.recipient,), "id-1")
    delivery = type(delivery)(**{**delivery.__dict__, "metadata": Metadata(delivery.file_transfer_uuid, descriptor)})
    options = directory.Options(folder=tmp_path / "archive")
    result = directory.SINK.load(delivery, path, options)
    folder = tmp_path / "archive" / "ky" / delivery.file_transfer_uuid
    assert (result.rows, result.table) == (4, "ky")
    assert (folder / delivery.file_name).read_bytes() == path.read_bytes()
    assert parse_metadata((folder / f"{delivery.file_name}.metadata").read_bytes()).descriptor == descriptor
    record = json.loads((folder / "delivery.json").read_text())
    assert (record["file_transfer_uuid"], record["rows"], record["sender"]) == (
        delivery.file_transfer_uuid, 4, "KY_SFTPSIMPEL")
    for item in [tmp_path / "archive", *(tmp_path / "archive").rglob("*")]:
        expected = 0o700 if item.is_dir() else 0o600
        assert stat.S_IMODE(item.stat().st_mode) == expected, item
    assert list((tmp_path / "archive" / ".incoming").iterdir()) == []


def test_directory_prunes_deliveries_older_than_keep_days(make_delivery, tmp_path):
    options = directory.Options(folder=tmp_path / "archive", keep_days=30)
    old, old_path = make_delivery(source="KY")
    directory.SINK.load(old, old_path, options)
    record = tmp_path / "archive" / "ky" / old.file_transfer_uuid / "delivery.json"
    long_ago = time.time() - 31 * 86400
    os.utime(record, (long_ago, long_ago))
    new, new_path = make_delivery(source="KY")
    directory.SINK.load(new, new_path, options)
    assert [p.name for p in (tmp_path / "archive" / "ky").iterdir()] == [new.file_transfer_uuid]


def test_directory_refuses_an_unsafe_file_name(make_delivery, tmp_path):
    delivery, path = make_delivery()
    bad = type(delivery)(**{**delivery.__dict__, "file_name": "../escape.csv"})
    with pytest.raises(LoadError, match="unsafe file name"):
        directory.SINK.load(bad, path, directory.Options(folder=tmp_path / "archive"))
    assert not (tmp_path / "escape.csv").exists()


def test_mariadb_leaves_no_delivery_constants_behind_for_the_lis_own_rows(make_delivery, maria_db):
    # The constants are the columns' defaults only while the rows load (issue #19).
    delivery, path = make_delivery([["1", "Åse", "10.50", "007", ""]], TYPED_HEADER, source="KY")
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    assert mariadb.SINK.load(delivery, path, options).rows == 1
    maria_rows(maria_db, "INSERT INTO ky (name) VALUES ('by hand')")
    rows = maria_rows(maria_db, "SELECT name, authority, period, source, _file_transfer_uuid FROM ky ORDER BY _line IS NULL, _line")
    assert rows[0][4] == delivery.file_transfer_uuid and rows[0][3] == "KY"
    assert rows[1] == ("by hand", None, None, None, None)


def test_mariadb_a_declared_number_the_server_would_round_fails_with_line_and_column(make_delivery, maria_db):
    header = ["payment_id", "case_id", "cpr", "benefit_type", "period_from", "period_to", "payment_date",
              "gross_amount", "tax_amount", "net_amount"]
    good = ["KY-1", "K-1", "0101210000", "kontanthjælp", "2026-03-01", "2026-03-31", "2026-03-15", "100.00", "30.00",
            "70.00"]
    rounded = [*good[:7], "100.12345678901", *good[8:]]  # eleven places: DECIMAL(38,10) would round it
    delivery, path = make_delivery([good, rounded], header, source="KY")
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    with pytest.raises(LoadError, match=rf"{path.name}:3: column 'gross_amount'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, options)
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]


def test_mariadb_asks_for_tls_and_takes_a_server_without_it_as_it_is(make_delivery, maria_db):
    # PyMySQL's default (TLS when offered, unverified) with the TLS context made once per process;
    # this machine's server offers no TLS: the first load learns it, later loads connect plain at once.
    import pymysql

    mariadb._PLAIN.discard(("127.0.0.1", 3306))
    options = mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{maria_db}")
    for n in range(2):
        delivery, path = make_delivery([["1", "Åse", "10.50", "007", str(n)]], TYPED_HEADER, source="KY")
        assert mariadb.SINK.load(delivery, path, options).rows == 1
        assert ("127.0.0.1", 3306) in mariadb._PLAIN
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(2,)]
    closed = free_port()
    with pytest.raises(pymysql.err.OperationalError):  # other failures are not taken for "no TLS"
        mariadb._connect({"host": "127.0.0.1", "port": closed, "user": "root", "password": "", "database": maria_db})
    assert ("127.0.0.1", closed) not in mariadb._PLAIN and mariadb._tls.cache_info().currsize == 1
