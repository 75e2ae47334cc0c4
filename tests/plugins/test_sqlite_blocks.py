"""The sqlite sink's quick path (many rows to one INSERT, no test for empty fields where a block has
none) against the careful one: the same rows, lines, NULLs and errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sf1630.api import LoadError
from sf1630.testing.conformance import write_delivery
from sf1630_plugins.sinks import sqlite, table

HEADER = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
          "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]
ROWS = 250  # two full blocks of 100 rows and a short one


@pytest.fixture(autouse=True, params=["big", "small"])
def quick_path(request, monkeypatch):
    """Each test runs as for a big file (read line by line, blocks of ROWS_PER_INSERT rows; these
    files are small, so BLOCKS_FROM is lowered) and as for a small one (read at once, blocks of
    SMALL_ROWS_PER_INSERT rows)."""
    if request.param == "big":
        monkeypatch.setattr(sqlite, "BLOCKS_FROM", 0)


def row(number: int) -> list[str]:
    """Row ``number`` (line ``number + 2``); every seventh has empty fields, so some blocks have none."""
    sick = "" if number % 7 == 3 else str(number % 5)
    return [f"{number:06d}", "school", "Skolen", f"c{number}", "" if number % 7 == 3 else "3.B", "18", sick, "0",
            "4", "2"]


def query(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_each_row_keeps_its_line_and_its_empty_fields_are_null(tmp_path):
    options = sqlite.Options(path=tmp_path / "lis.sqlite3", on_repeat="replace")
    delivery, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA")
    assert sqlite.SINK.load(delivery, path, options).rows == ROWS
    again, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA", period="M04")
    assert sqlite.SINK.load(again, path, options).rows == ROWS  # into a table that has rows already
    replaced, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA")
    assert sqlite.SINK.load(replaced, path, options).rows == ROWS  # after a replace deleted the first ones
    for uuid in (again.file_transfer_uuid, replaced.file_transfer_uuid):
        stored = query(options.path, f"SELECT child_id, _line, group_name, days_sick, typeof(days_sick) FROM aula "
                                     f"WHERE _file_transfer_uuid = '{uuid}' ORDER BY rowid")
        assert stored == [(f"c{n}", n + 2, None if n % 7 == 3 else "3.B", None if n % 7 == 3 else n % 5,
                           "null" if n % 7 == 3 else "integer") for n in range(ROWS)]
    assert query(options.path, f"SELECT count(*) FROM aula WHERE _file_transfer_uuid = "
                               f"'{delivery.file_transfer_uuid}'") == [(0,)]


def test_a_misfit_in_a_later_block_names_its_line_and_column_and_loads_nothing(tmp_path):
    rows = [row(n) for n in range(ROWS)]
    rows[230][HEADER.index("days_present")] = "1.5"  # line 232, in the short last block
    delivery, path = write_delivery(tmp_path, rows, HEADER, source="AULA")
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    with pytest.raises(LoadError, match=rf"{path.name}:232: column 'days_present'.*nothing was loaded"):
        sqlite.SINK.load(delivery, path, options)
    assert query(options.path, "SELECT count(*) FROM sqlite_master WHERE name = 'aula'") == [(0,)]


@pytest.mark.parametrize("short, long", [(150, None), (150, 160)])
def test_a_row_of_another_width_in_a_block_names_its_line(tmp_path, short, long):
    rows = [row(n) for n in range(ROWS)]
    rows[short] = rows[short][:-1]  # line 152; with a longer row in the same block the block's count is right
    if long is not None:
        rows[long] = [*rows[long], "extra"]
    delivery, path = write_delivery(tmp_path, rows, HEADER, source="AULA")
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    with pytest.raises(LoadError, match=rf"{path.name}:152: 9 fields, the header has 10; nothing was loaded"):
        sqlite.SINK.load(delivery, path, options)
    assert query(options.path, "SELECT count(*) FROM sqlite_master WHERE name = 'aula'") == [(0,)]


@pytest.mark.parametrize("declared, kind", [("INTEGER", "INTEGER"), ("BIGINT", "INTEGER"), ("REAL", "REAL"),
                                            ("NUMERIC", "REAL"), ("DECIMAL(10,2)", "REAL"), ("DOUBLE", "REAL")])
def test_the_stored_check_fails_exactly_the_values_of_another_storage_class(declared, kind):
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t (x {declared})")
    values = ["20", "-0", "007", "20.0", "1.5", "-2.25", "1e20", "1e3", "1e999", "9223372036854775807",
              "9223372036854775808", "-9223372036854775808", "-9223372036854775808.0", "9223372036854775807.0",
              "9007199254740993", "abc", "12abc", "0x10", "-", "", " 5", "+5", "NaN", "Inf", None, b"\x01", b"12",
              1.5, 7, -0.0, float("inf"), -2**63, 2**63 - 1, -2.0**63]
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    allowed = ("integer", "null") if kind == "INTEGER" else ("real", "integer", "null")
    test = sqlite._STORED_MISFIT[kind].format(c="x")
    for value, stored, failed in conn.execute(f"SELECT x, typeof(x), {test} FROM t"):
        assert bool(failed) == (stored not in allowed), (value, stored)


@pytest.mark.parametrize("ending, quoted", [("\n", True), ("\r\n", False), ("\r\n", True)])
def test_quoted_fields_and_crlf_lines_load_by_csv_with_their_lines(tmp_path, ending, quoted):
    rows = [row(n) for n in range(ROWS)]
    if quoted:
        rows[120][2] = "Skolen; Nord"  # csv.writer quotes it
    delivery, path = write_delivery(tmp_path, [], HEADER, source="AULA")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(ending.join(";".join(f'"{v}"' if ";" in v else v for v in r) for r in [HEADER, *rows]) + ending)
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    assert sqlite.SINK.load(delivery, path, options).rows == ROWS
    stored = query(options.path, "SELECT child_id, _line, institution_name, days_sick FROM aula ORDER BY rowid")
    assert stored == [(f"c{n}", n + 2, r[2], None if n % 7 == 3 else n % 5) for n, r in enumerate(rows)]


def test_a_last_line_without_its_newline_loads(tmp_path):
    delivery, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    assert sqlite.SINK.load(delivery, path, options).rows == ROWS
    assert query(options.path, "SELECT child_id, _line, messages_sent FROM aula WHERE _line = 251") == [
        ("c249", 251, 2)]


def test_bytes_that_are_not_utf8_fail_the_load_and_load_nothing(tmp_path):
    delivery, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA")
    data = path.read_bytes()
    path.write_bytes(data[:-200] + b"\xff" + data[-200:])
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    with pytest.raises(LoadError, match=rf"{path.name}:\d+: unreadable .*utf-8.*nothing was loaded"):
        sqlite.SINK.load(delivery, path, options)
    assert query(options.path, "SELECT count(*) FROM sqlite_master WHERE name = 'aula'") == [(0,)]


def test_rows_past_a_blank_line_in_a_plain_file_keep_their_lines(tmp_path):
    delivery, path = write_delivery(tmp_path, [row(n) for n in range(ROWS)], HEADER, source="AULA")
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join([*lines[:150], "", *lines[150:]]), encoding="utf-8")  # line 151 is blank
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    assert sqlite.SINK.load(delivery, path, options).rows == ROWS
    stored = query(options.path, "SELECT child_id, _line FROM aula ORDER BY rowid")
    assert stored == [(f"c{n}", n + 2 if n < 149 else n + 3) for n in range(ROWS)]


def test_a_guess_broken_inside_a_block_past_the_sample_widens_the_column(tmp_path):
    """The check of a guessed type names the value's column, not its place in the block's parameters."""
    rows = [[str(n), str(n)] for n in range(table.SAMPLE_ROWS + 150)]
    rows[table.SAMPLE_ROWS + 120][1] = "x"  # in the middle of a block
    delivery, path = write_delivery(tmp_path, rows, ["id", "count"], source="ZZ")
    options = sqlite.Options(path=tmp_path / "lis.sqlite3")
    assert sqlite.SINK.load(delivery, path, options).rows == len(rows)
    assert query(options.path, f"SELECT count, typeof(count) FROM zz WHERE _line = {table.SAMPLE_ROWS + 122}") == \
        [("x", "text")]
