"""The ``mariadb`` sink's scan: the whole numbers at the end of each row of a file without quotes
are checked in Python while the server loads them without a test."""

from __future__ import annotations

import pytest

from plugin_support import maria_rows
from sf1630.api import LoadError
from sf1630_plugins.sinks import mariadb
from sf1630_plugins.sinks.mariadb_rows import DECLARED_TEST, Statement, trailing_numbers
from sf1630_plugins.sinks.mariadb_scan import first_misfit, scan
from sf1630_plugins.sinks.table import DATE, INTEGER

AULA = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
        "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]
PLAIN = [["0101", "school", "Skolen ved Søen", "0101210000", "3.B", "20", "0", "1", "4", "2"],
         ["0102", "kindergarten", "Børnehaven", "0202210000", "Bierne", "-3", "007", "0", "12", "0"],
         ["0103", "school", "Nord-Skolen 2", "0303210000", "0.A", "1", "2", "3", "4", "5"]]
SIZES = [1, 2, 3, 5, 7, 1 << 20]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("data", "misfit"), [
    (b"a;n;m\nx;1;2\ny-1.5;-3;40\n", None),
    (b"a;n;m\r\nx;1;2\r\ny;-3;40", None),
    (b"a;n.5;m\nx;1;2\n", None),                    # the header is no row
    (b"a;n;m\nx;1;2\ny;1.5;2\nz;1e3;2\n", 3),
    (b"a;n;m\nx;1;2\ny;1;2\nz;1; 2", 4),            # the last line, without a newline
    (b"a;n;m\r\nx;1;+2\r\n", 2),
    (b"a;n;m\nx;1;2\ny;1;2;3a\n", 3),               # a row with another number of fields
    (b"a;n;m\nx;1\n", 2),
    (b"a;n;m\nx;;2\ny;1;\n", None),                 # empty: NULL
    (b"a;n;m\nx;1;2\n1", 3),                        # a last line all digits, without a newline
    (b"a;n;m\nx;1;2\n", None),
    (b"a;n;m\n", None),
    (b"a;n;m", None),
])
def test_first_misfit_finds_the_first_row_whose_last_numbers_are_not_digits(tmp_path, size, data, misfit):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert first_misfit(path, 2, size) == misfit


@pytest.mark.parametrize("size", SIZES)
def test_scan_finds_quotes(tmp_path, size):
    path = tmp_path / "x.csv"
    path.write_bytes(b'a;n\nx;1\n"y;z";2\n')
    scanned = scan(path, size)
    assert scanned is not None and scanned.quoted
    path.write_bytes(b'a;n\nx;1\ny;2\n')
    assert not scan(path, size).quoted


@pytest.mark.parametrize("size", SIZES)
def test_scan_finds_the_word_null(tmp_path, size):
    path = tmp_path / "x.csv"
    path.write_bytes(b'a;n\nx;1\n"y;z";NULL\n')
    assert scan(path, size).word_null
    path.write_bytes(b'a;n\nx;1\n"y;z";null\n')
    assert not scan(path, size).word_null


def test_only_declared_whole_numbers_at_the_end_of_a_row_are_left_to_the_scan():
    number, date = DECLARED_TEST[INTEGER], DECLARED_TEST[DATE]
    assert trailing_numbers(Statement("t", [], {}, [None, number, None, number, number])) == 2
    assert trailing_numbers(Statement("t", [], {}, [None, number, date])) == 0
    assert trailing_numbers(Statement("t", [], {}, [number, number])) == 1  # the first field never


def _options(database: str) -> mariadb.Options:
    return mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{database}")


@pytest.mark.parametrize("value", ["1.5", "abc", "1e3", "1E3", "+5", " 5", "\t5", "5 ", "0x10"])
@pytest.mark.parametrize("column", [6, 9])
def test_a_misfit_in_a_file_without_quotes_names_line_and_column_and_loads_nothing(make_delivery, maria_db,
                                                                                  value, column):
    bad = [*PLAIN[1][:column], value, *PLAIN[1][column + 1:]]
    delivery, path = make_delivery([PLAIN[0], bad, PLAIN[2]], AULA, source="AULA")
    assert not scan(path).quoted
    with pytest.raises(LoadError, match=rf"{path.name}:3: column '{AULA[column]}'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, _options(maria_db))  # found while the rows loaded: rolled back
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]
    assert maria_rows(maria_db, "SELECT count(*) FROM aula") == [(0,)]


@pytest.mark.parametrize("value", ["-", "5-3", "--5", "99999999999999999999"])
def test_digits_and_minus_that_make_no_whole_number_are_refused_by_the_server(make_delivery, maria_db, value):
    bad = [*PLAIN[2][:9], value]
    delivery, path = make_delivery([PLAIN[0], PLAIN[1], bad], AULA, source="AULA")
    with pytest.raises(LoadError, match=rf"{path.name}:4: column 'messages_sent'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, _options(maria_db))
    assert maria_rows(maria_db, "SELECT count(*) FROM aula") == [(0,)]


@pytest.mark.parametrize("ragged", [PLAIN[1][:9], [*PLAIN[1], "extra"], [*PLAIN[1], "7"]])
def test_a_ragged_row_in_a_file_without_quotes_names_its_line_and_loads_nothing(make_delivery, maria_db, ragged):
    delivery, path = make_delivery([PLAIN[0], ragged, PLAIN[2]], AULA, source="AULA")
    with pytest.raises(LoadError, match=rf"{path.name}:3: the row has another number of fields"):
        mariadb.SINK.load(delivery, path, _options(maria_db))
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]


@pytest.mark.parametrize("newline", [True, False])
@pytest.mark.parametrize("crlf", [False, True])
def test_whole_numbers_checked_by_the_scan_load_as_numbers_and_empty_ones_as_null(make_delivery, maria_db, crlf,
                                                                                   newline):
    # Without a newline at its end, the last row's empty last field is NULL all the same.
    rows = [*PLAIN, ["0104", "school", "", "0404210000", "", "", "1", "", "-2", ""]]
    delivery, path = make_delivery(rows, AULA, source="AULA")
    data = path.read_bytes().replace(b"\n", b"\r\n") if crlf else path.read_bytes()
    path.write_bytes(data if newline else data.rstrip(b"\r\n"))
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 4
    assert maria_rows(maria_db, f"SELECT {', '.join(AULA[5:])}, _line FROM aula ORDER BY _line") == [
        (20, 0, 1, 4, 2, 2), (-3, 7, 0, 12, 0, 3), (1, 2, 3, 4, 5, 4), (None, 1, None, -2, None, 5)]
