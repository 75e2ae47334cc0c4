"""The LIS database as its analysts need it (issue #19), for each SQL sink: whose data and which period,
one current delivery per authority, source and period, and types from what the source declares."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import pytest

from plugin_support import PG_URL, maria_rows, pg_rows
from sf1630.api import LoadError
from sf1630.documents.metadata import Metadata
from sf1630.documents.trigger import FILE_TYPE, FileDescriptor
from sf1630.testing.conformance import write_delivery
from sf1630_plugins.sinks import mariadb, postgres, sqlite

APRIL, LATER = datetime(2026, 4, 2, 3, 0, 0), datetime(2026, 4, 9, 12, 0, 0)
AULA_HEADER = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
               "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]


def aula_row(institution: str, child: str, present: str = "18", sick: str = "1") -> list[str]:
    return [institution, "school", "Skolen", child, "3.B", present, sick, "0", "4", "2"]


@dataclass
class Lis:
    """One SQL sink pointed at an empty database, and a way to read it back."""

    sink: Any
    make: Callable[..., Any]  # options for a target, with overrides
    query: Callable[[str, str], list[tuple]]  # (target, SQL) -> rows
    types: Callable[[str, str], dict[str, str]]  # (target, table) -> column -> type, lower case

    def options(self, target: str, **kw: Any) -> Any:
        return self.make(target, **kw)


def _sqlite_query(path: str, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def _sqlite_types(path: str, table: str) -> dict[str, str]:
    return {r[1]: r[2].lower() for r in _sqlite_query(path, f"PRAGMA table_info({table})")}


def _pg_types(schema: str, table: str) -> dict[str, str]:
    return dict(pg_rows(schema, "SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_schema = %s AND table_name = %s", (schema, table)))


def _maria_types(database: str, table: str) -> dict[str, str]:
    return {n: t.lower() for n, t in maria_rows("information_schema", "SELECT COLUMN_NAME, DATA_TYPE FROM COLUMNS "
                                                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (database, table))}


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def lis(request, tmp_path) -> Iterator[Lis]:
    """Each SQL sink; ``"a"`` and ``"b"`` name two empty databases (schemas), dropped after the test."""
    base = f"sf1630_test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield Lis(sqlite.SINK, lambda t, **kw: sqlite.Options(path=tmp_path / f"{t}.sqlite3", **kw),
                  lambda t, q: _sqlite_query(str(tmp_path / f"{t}.sqlite3"), q),
                  lambda t, table: _sqlite_types(str(tmp_path / f"{t}.sqlite3"), table))
    elif request.param == "postgres":
        yield Lis(postgres.SINK, lambda t, **kw: postgres.Options(dsn=PG_URL, db_schema=f"{base}_{t}", **kw),
                  lambda t, q: pg_rows(f"{base}_{t}", q), lambda t, table: _pg_types(f"{base}_{t}", table))
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for t in "ab":
                conn.execute(f'DROP SCHEMA IF EXISTS "{base}_{t}" CASCADE')
    else:
        yield Lis(mariadb.SINK, lambda t, **kw: mariadb.Options(dsn=f"mariadb://root@127.0.0.1/{base}_{t}", **kw),
                  lambda t, q: maria_rows(f"{base}_{t}", q), lambda t, table: _maria_types(f"{base}_{t}", table))
        for t in "ab":
            maria_rows("information_schema", f"DROP DATABASE IF EXISTS `{base}_{t}`")


def test_every_row_says_whose_data_and_which_period(lis, tmp_path):
    delivery, path = write_delivery(tmp_path, [aula_row("101", "c1"), aula_row("101", "c2")], AULA_HEADER,
                                    source="AULA", authority="29189919", period="M12", created=datetime(2027, 1, 2))
    descriptor = FileDescriptor(delivery.file_name, delivery.size, delivery.sender, (delivery.recipient,), "id-1")
    delivery = type(delivery)(**{**delivery.__dict__, "metadata": Metadata(delivery.file_transfer_uuid, descriptor,
                                                                            file_type=FILE_TYPE)})
    lis.sink.load(delivery, path, lis.options("a"))
    rows = lis.query("a", "SELECT authority, period, source, child_id FROM aula ORDER BY child_id")
    assert [tuple(r) for r in rows] == [("29189919", "2026-M12", "AULA", "c1"), ("29189919", "2026-M12", "AULA", "c2")]
    recorded = lis.query("a", "SELECT sender, source, authority, period, file_type, d.rows, table_name, replaces, "
                              "loaded_at IS NOT NULL FROM deliveries d")  # d.rows: ROWS is a word of MariaDB's
    assert [tuple(r) for r in recorded] == [("AULA_SFTPSIMPEL", "AULA", "29189919", "2026-M12", "FilType=LIS;SF=1630",
                                             2, "aula", None, 1)]


def test_a_name_outside_the_pattern_loads_with_empty_keys(lis, tmp_path):
    delivery, path = write_delivery(tmp_path, [aula_row("101", "c1")], AULA_HEADER, source="AULA",
                                    name="AULA_LIS-DATA_202603.csv")  # rule 7: a name is never a gate
    assert lis.sink.load(delivery, path, lis.options("a")).rows == 1
    assert [tuple(r) for r in lis.query("a", "SELECT authority, period, child_id FROM aula_current")] == [
        (None, None, "c1")]


def _month_twice(tmp_path: Any) -> tuple[tuple, tuple]:
    first = write_delivery(tmp_path, [aula_row("101", "c1"), aula_row("101", "c2")], AULA_HEADER, source="AULA",
                           created=APRIL)
    resend = write_delivery(tmp_path, [aula_row("101", "c1", present="19")], AULA_HEADER, source="AULA",
                            created=LATER)
    return first, resend


def test_a_resend_kept_beside_the_first_the_current_view_shows_one(lis, tmp_path, caplog):
    (first, first_path), (resend, resend_path) = _month_twice(tmp_path)
    options = lis.options("a")
    lis.sink.load(first, first_path, options)
    with caplog.at_level(logging.WARNING, logger="sf1630.sinks"):
        result = lis.sink.load(resend, resend_path, options)
    assert (result.rows, result.repeats, result.replaced) == (1, (first.file_transfer_uuid,), ())
    assert any("repeats AULA 11111111 2026-M03" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert lis.query("a", "SELECT count(*) FROM aula")[0][0] == 3  # both deliveries stay
    current = lis.query("a", "SELECT child_id, days_present, _file_transfer_uuid FROM aula_current")
    assert [tuple(r) for r in current] == [("c1", 19, resend.file_transfer_uuid)]
    assert lis.query("a", f"SELECT replaces FROM deliveries WHERE file_transfer_uuid = "
                          f"'{resend.file_transfer_uuid}'")[0][0] == first.file_transfer_uuid


def test_replace_deletes_the_earlier_delivery_of_the_period(lis, tmp_path):
    (first, first_path), (resend, resend_path) = _month_twice(tmp_path)
    other_month, other_path = write_delivery(tmp_path, [aula_row("101", "c9")], AULA_HEADER, source="AULA",
                                             period="M02", created=APRIL)
    options = lis.options("a", on_repeat="replace")
    for delivery, path in ((first, first_path), (other_month, other_path)):
        lis.sink.load(delivery, path, options)
    result = lis.sink.load(resend, resend_path, options)
    assert result.replaced == (first.file_transfer_uuid,)
    rows = lis.query("a", "SELECT period, child_id FROM aula ORDER BY period, child_id")
    assert [tuple(r) for r in rows] == [("2026-M02", "c9"), ("2026-M03", "c1")]  # the other month is untouched
    replaced = lis.query("a", f"SELECT replaced_by, d.rows FROM deliveries d WHERE file_transfer_uuid = "
                              f"'{first.file_transfer_uuid}'")
    assert [tuple(r) for r in replaced] == [(resend.file_transfer_uuid, 2)]


def test_two_municipalities_in_either_order_give_the_same_table(lis, tmp_path):
    # Skive's institution numbers look like numbers, Ærø's start with 0: declared text, both keep their form.
    skive = write_delivery(tmp_path, [aula_row("779", "c1"), aula_row("1021", "c2", sick="")], AULA_HEADER,
                           source="AULA", authority="29189129")
    aero = write_delivery(tmp_path, [aula_row("0180042", "c3")], AULA_HEADER, source="AULA", authority="29189005")
    for target, order in (("a", (skive, aero)), ("b", (aero, skive))):
        options = lis.options(target, schema="strict")
        for delivery, path in order:
            lis.sink.load(delivery, path, options)
    assert lis.types("a", "aula") == lis.types("b", "aula")
    table = "SELECT authority, institution_number, child_id, days_present, days_sick FROM aula ORDER BY child_id"
    assert lis.query("a", table) == lis.query("b", table)
    assert [tuple(r) for r in lis.query("a", table)] == [("29189129", "779", "c1", 18, 1),
                                                          ("29189129", "1021", "c2", 18, None),
                                                          ("29189005", "0180042", "c3", 18, 1)]
    types = lis.types("a", "aula")
    assert "text" in types["institution_number"] and "int" in types["days_present"]


@pytest.mark.parametrize("column, value", [("days_sick", "many"), ("days_present", "1.5"), ("days_sick", "NULL")])
def test_a_value_that_does_not_fit_its_declared_type_fails_with_file_line_and_column(lis, tmp_path, column, value):
    rows = [aula_row("101", f"c{i}") for i in range(5)]
    rows[2][AULA_HEADER.index(column)] = value  # line 4 of the file
    delivery, path = write_delivery(tmp_path, rows, AULA_HEADER, source="AULA")
    with pytest.raises(LoadError, match=rf"{path.name}:4: column '{column}'.*nothing was loaded") as caught:
        lis.sink.load(delivery, path, lis.options("a"))
    assert value not in str(caught.value)  # no row data in errors (issue #14)
    for table in ("aula", "deliveries"):
        try:
            assert lis.query("a", f"SELECT count(*) FROM {table}")[0][0] == 0
        except Exception as exc:  # the table was never made: nothing loaded either
            assert "aula" in str(exc) or "deliveries" in str(exc) or "exist" in str(exc), exc


@pytest.mark.parametrize("quoted", [False, True])
def test_the_word_null_is_text_and_an_empty_field_null(lis, tmp_path, quoted):
    rows = [aula_row("101", "c1"), aula_row("101", "c2")]
    rows[0][2], rows[1][2] = "NULL", ""  # institution_name
    delivery, path = write_delivery(tmp_path, rows, AULA_HEADER, source="AULA")
    if quoted:
        path.write_bytes(path.read_bytes().replace(b";c1;", b';"c1";'))
    assert lis.sink.load(delivery, path, lis.options("a")).rows == 2
    assert [tuple(r) for r in lis.query("a", "SELECT child_id, institution_name FROM aula ORDER BY child_id")] == [
        ("c1", "NULL"), ("c2", None)]


def test_a_declared_date_that_is_no_date_fails(lis, tmp_path):
    header = ["payment_id", "case_id", "cpr", "benefit_type", "period_from", "period_to", "payment_date",
              "gross_amount", "tax_amount", "net_amount"]
    good = ["KY-1", "K-1", "0101210000", "kontanthjælp", "2026-03-01", "2026-03-31", "2026-03-15", "100.00", "30.00",
            "70.00"]
    delivery, path = write_delivery(tmp_path, [good, [*good[:6], "15/03/2026", *good[7:]]], header, source="KY")
    with pytest.raises(LoadError, match=rf"{path.name}:3: column 'payment_date'.*a date"):
        lis.sink.load(delivery, path, lis.options("a"))


def _with_blank_line_and_two_line_field(tmp_path: Any, sick_on_line_6: str) -> tuple:
    delivery, path = write_delivery(tmp_path, [], AULA_HEADER, source="AULA")
    rows = [";".join(aula_row("101", "c1")), "", ";".join(aula_row("101", "c2")).replace("3.B", '"3.\nB"'),
            ";".join(aula_row("101", "c3", sick=sick_on_line_6))]
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write("\n".join(rows) + "\n")  # lines 2, 3 (blank), 4-5 (one row), 6
    return type(delivery)(**{**delivery.__dict__, "size": path.stat().st_size}), path


def test_rows_keep_their_own_line_past_a_blank_line_and_a_field_over_two_lines(lis, tmp_path):
    delivery, path = _with_blank_line_and_two_line_field(tmp_path, "1")
    assert lis.sink.load(delivery, path, lis.options("a")).rows == 3
    rows = lis.query("a", "SELECT child_id, _line, group_name FROM aula ORDER BY _line")
    # A row over several lines is numbered by the line it ends on, as Python's csv module counts.
    assert [tuple(r) for r in rows] == [("c1", 2, "3.B"), ("c2", 5, "3.\nB"), ("c3", 6, "3.B")]


def test_a_misfit_past_a_blank_line_and_a_field_over_two_lines_names_its_own_line(lis, tmp_path):
    delivery, path = _with_blank_line_and_two_line_field(tmp_path, "1.5")
    with pytest.raises(LoadError, match=rf"{path.name}:6: column 'days_sick'.*nothing was loaded"):
        lis.sink.load(delivery, path, lis.options("a"))
