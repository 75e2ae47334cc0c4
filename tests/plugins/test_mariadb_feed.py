"""The ``mariadb`` sink's feed: a file without quotes goes to ``LOAD DATA`` through a pipe, empty fields as NULL."""

from __future__ import annotations

import threading
import time

import pytest

from plugin_support import maria_rows
from sf1630.api import LoadError
from sf1630_plugins.sinks import mariadb
from sf1630_plugins.sinks.mariadb_feed import Feeder, glance
from sf1630_plugins.sinks.mariadb_rows import DECLARED_TEST, Statement, load_sql
from sf1630_plugins.sinks.table import DATE, INTEGER

SIZES = [1, 2, 3, 5, 7, 1 << 20]
AULA = ["institution_number", "institution_type", "institution_name", "child_id", "group_name",
        "days_present", "days_sick", "days_absent_other", "parent_logins", "messages_sent"]
ROW = ["0101", "school", "Skolen ved Søen", "0101210000", "3.B", "20", "0", "1", "4", "2"]


def _fed(path, numbers=0, crlf=False, size=1 << 20) -> tuple[bytes, Feeder]:
    feeder = Feeder(path, numbers, crlf, size)
    with open(feeder.name, "rb") as pipe:  # as the driver reads it
        sent = pipe.read()
    feeder.close()
    return sent, feeder


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("data", "crlf", "sent", "lines"), [
    (b"a;b;c\n1;;3\n;2;\n4;5;6\n", False, b"a;b;c\n1;NULL;3\nNULL;2;NULL\n4;5;6\n", 4),
    (b"a;b;c;d\n1;;;\n;;;x\n", False, b"a;b;c;d\n1;NULL;NULL;NULL\nNULL;NULL;NULL;x\n", 3),
    (b"a;b;c\r\n;;\r\n1;2;3", True, b"a;b;c\r\nNULL;NULL;NULL\r\n1;2;3\r\n", 3),
    (b"a;b;c\n1;2;", False, b"a;b;c\n1;2;NULL\n", 2),     # the last line without a newline gets one
    (b"a;;c\n1;2;3\n", False, b"a;;c\n1;2;3\n", 2),       # the header as it is
    (b"a;b", False, b"a;b", 1),
    (b"a;b\nx;y\n", False, b"a;b\nx;y\n", 2),
    (b"a;b;c\nNULL;x;NULL\n;NULL;\nNULL;NULL;NULL\nANNULLED;NULLx;xNULL\n", False,
     b'a;b;c\n"NULL";x;"NULL"\nNULL;"NULL";NULL\n"NULL";"NULL";"NULL"\nANNULLED;NULLx;xNULL\n', 5),
    (b"a;b\r\nNULL;NULL\r\nNULL;", True, b'a;b\r\n"NULL";"NULL"\r\n"NULL";NULL\r\n', 3),
    (b"NULL;b\nx;y\n", False, b"NULL;b\nx;y\n", 2),
])
def test_the_feed_sends_whole_lines_with_each_empty_field_as_null_and_the_word_null_quoted(tmp_path, size, data,
                                                                                          crlf, sent, lines):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    got, feeder = _fed(path, crlf=crlf, size=size)
    assert (got, feeder.lines, feeder.refused, feeder.misfit) == (sent, lines, None, None)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("data", "crlf", "refused"), [
    (b"a;b\n1;2\n\n3;4\n", False, "blank lines"),
    (b"a;b\n\n1;2\n", False, "blank lines"),
    (b"a;b\r\n1;2\r\n\r\n3;4\r\n", True, "blank lines"),
    (b"a;b\n1;2\r3;4\n", False, "lone carriage returns"),
    (b"a;b\n1;2\r\n3;4\r\n", False, "line endings other than the first line's"),
    (b"a;b\r\n1;2\n3;4\r\n", True, "line endings other than the first line's"),
    (b"a;b\r\n1;2\r\n3;4\r", True, "lone carriage returns"),
])
def test_the_feed_stops_at_what_only_the_careful_path_loads(tmp_path, size, data, crlf, refused):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert refused in _fed(path, crlf=crlf, size=size)[1].refused


@pytest.mark.parametrize("size", SIZES)
def test_the_feed_stops_at_the_first_row_whose_last_numbers_are_not_whole(tmp_path, size):
    path = tmp_path / "x.csv"
    path.write_bytes(b"a;n;m\nx;1;2\ny;;-2\nz;1.5;2\n" + b"w;1;2\n" * 300_000)
    sent, feeder = _fed(path, numbers=2, size=size)
    assert feeder.misfit == 4 and len(sent) < 1 << 21  # not the whole file


def test_a_feed_nobody_reads_ends_when_it_is_closed(tmp_path):
    # A statement the server refuses never asks for the file: closing the pipe must end the feed.
    path = tmp_path / "x.csv"
    path.write_bytes(b"a;b\n" + b"1;2\n" * 2_000_000)
    feeder = Feeder(path, 0, False)
    time.sleep(0.1)  # the pipe is full by now
    start = time.monotonic()
    feeder.close()
    assert time.monotonic() - start < 5
    assert not [t for t in threading.enumerate() if t.name == "sf1630-feed"]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("data", "quoted", "crlf"), [
    (b"a;b\r\n1;2\r\n", False, True), (b"a;b\n1;2\r\n", False, False), (b'a;b\n1;"2"\n', True, False),
    (b"a;b", False, False), (b"a\r;b\r\n", False, True),
])
def test_the_glance_finds_quotes_and_how_the_first_line_ends(tmp_path, size, data, quoted, crlf):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert (glance(path, size).quoted, glance(path, size).crlf) == (quoted, crlf)


def test_with_empty_fields_as_null_every_field_without_a_test_loads_straight():
    number, date = DECLARED_TEST[INTEGER], DECLARED_TEST[DATE]
    statement = Statement("`d`.`t`", ["`a`", "`b`", "`c`"], {}, [None, date, None])
    sql = load_sql(statement, False, False, nulls=True)
    assert "(`a`, @c1, `c`)" in sql and "IF(@c1 IS NULL OR @c1 LIKE '____-__-__', @c1, " in sql
    with pytest.raises(ValueError):  # a short row and an empty last field would look the same
        load_sql(Statement("`d`.`t`", ["`a`", "`b`"], {}, [None, number]), False, False, nulls=True)


def _options(database: str) -> mariadb.Options:
    return mariadb.Options(dsn=f"mariadb://root@127.0.0.1:3306/{database}")


def test_empty_fields_anywhere_load_as_null(make_delivery, maria_db):
    rows = [ROW, ["", "school", "", "0202210000", "", "", "1", "", "", ""], ["", "", "", "", "", "", "", "", "", ""]]
    delivery, path = make_delivery(rows, AULA, source="AULA")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # the last line, all empty, without a newline
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 3
    assert maria_rows(maria_db, f"SELECT {', '.join(AULA)}, _line FROM aula ORDER BY _line") == [
        ("0101", "school", "Skolen ved Søen", "0101210000", "3.B", 20, 0, 1, 4, 2, 2),
        (None, "school", None, "0202210000", None, None, 1, None, None, None, 3),
        (*[None] * 10, 4)]


def test_a_blank_line_past_the_first_block_loads_through_the_careful_path_once(make_delivery, maria_db):
    rows = [[f"{i:04d}", *ROW[1:5], str(i), *ROW[6:]] for i in range(50_000)]
    delivery, path = make_delivery(rows, AULA, source="AULA")
    data = path.read_bytes()
    cut = data.index(b"\n", 1 << 21) + 1  # after the feed has sent more than a block
    path.write_bytes(data[:cut] + b"\n" + data[cut:])
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 50_000
    assert maria_rows(maria_db, "SELECT count(*), count(DISTINCT days_present), max(_line) FROM aula") == [
        (50_000, 50_000, 50_002)]


@pytest.mark.parametrize("quoted", [False, True])  # fed, or scanned first
@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_rows_whose_line_endings_differ_from_the_first_line_load_through_the_careful_path(make_delivery, maria_db,
                                                                                          ending, quoted):
    rows = [[*ROW[:4], f"{i}.B", *ROW[5:]] for i in range(30_000)]
    delivery, path = make_delivery(rows, AULA, source="AULA")
    data = path.read_bytes()
    lines = (data.replace(b";0.B;", b';"0.B";') if quoted else data).split(b"\n")[:-1]
    other = b"\n" if ending == b"\r\n" else b"\r\n"  # from past the first block read on
    path.write_bytes(ending.join(lines[:20_000]) + ending + other.join(lines[20_000:]) + other)
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 30_000
    assert maria_rows(maria_db, "SELECT count(*), sum(messages_sent), max(_line) FROM aula "
                                "WHERE INSTR(group_name, CHAR(13)) = 0") == [(30_000, 60_000, 30_001)]


def test_a_misfit_found_by_the_feed_names_line_and_column_and_loads_nothing(make_delivery, maria_db):
    rows = [[*ROW[:6], str(i), *ROW[7:]] for i in range(20_000)]
    rows[15_000][6] = "1.5"
    delivery, path = make_delivery(rows, AULA, source="AULA")
    with pytest.raises(LoadError, match=rf"{path.name}:15002: column 'days_sick'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, _options(maria_db))
    assert maria_rows(maria_db, "SELECT count(*) FROM aula") == [(0,)]
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]


def test_the_word_null_loads_as_text_in_a_text_column_and_fails_a_number_column(make_delivery, maria_db):
    rows = [[*ROW[:2], "NULL", *ROW[3:]], [*ROW[:4], "", *ROW[5:]]]
    delivery, path = make_delivery(rows, AULA, source="AULA")
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 2
    assert maria_rows(maria_db, "SELECT institution_name, group_name FROM aula ORDER BY _line") == [
        ("NULL", "3.B"), ("Skolen ved Søen", None)]
    bad, bad_path = make_delivery([ROW, [*ROW[:6], "NULL", *ROW[7:]]], AULA, source="AULA")
    with pytest.raises(LoadError, match=rf"{bad_path.name}:3: column 'days_sick'.*nothing was loaded"):
        mariadb.SINK.load(bad, bad_path, _options(maria_db))


KY = ["payment_id", "case_id", "cpr", "benefit_type", "period_from", "period_to", "payment_date", "gross_amount",
      "tax_amount", "net_amount"]
KY_ROW = ["P1", "C1", "0101010000", "kontanthjælp", "2024-03-01", "2024-03-31", "2024-04-01", "100.50", "30.00",
          "70.50"]


@pytest.mark.parametrize("column", [4, 7])  # a date checked by the server's test, a decimal loaded straight
def test_the_word_null_fails_a_declared_date_or_decimal(make_delivery, maria_db, column):
    bad = [*KY_ROW[:column], "NULL", *KY_ROW[column + 1:]]
    delivery, path = make_delivery([KY_ROW, bad], KY, source="KY")
    with pytest.raises(LoadError, match=rf"{path.name}:3: column '{KY[column]}'.*nothing was loaded"):
        mariadb.SINK.load(delivery, path, _options(maria_db))
    assert maria_rows(maria_db, "SELECT count(*) FROM deliveries") == [(0,)]


def test_the_word_null_in_a_file_with_quotes_loads_as_text(make_delivery, maria_db):
    delivery, path = make_delivery([[*ROW[:2], "NULL", *ROW[3:]], ROW], AULA, source="AULA")
    path.write_bytes(path.read_bytes().replace(b"3.B", b'"3.B"'))
    assert mariadb.SINK.load(delivery, path, _options(maria_db)).rows == 2
    assert maria_rows(maria_db, "SELECT institution_name FROM aula ORDER BY _line") == [("NULL",), ("Skolen ved Søen",)]
