"""File names (issue #8 section 1, issue #12 "Non-ASCII names", PROTOCOL.md rule 7)."""

from __future__ import annotations

from datetime import datetime

import pytest

from sf1630.documents import (DataName, check_name, data_file_name, data_name_from_trigger, metadata_name,
                              parse_data_name, receipt_name, trigger_name)
from sf1630.documents.names import delivery_period, full_period
from sf1630.errors import DocumentError

WHEN = datetime(2018, 4, 2, 13, 48, 58)


def test_data_file_name_as_the_seed_shows_it() -> None:
    name = data_file_name("KY", "LIS", "11111111", "M03", WHEN)
    assert name == "KY_LIS_11111111_M03_20180402134858.csv"
    assert parse_data_name(name) == DataName("KY", "LIS", "11111111", "M03", WHEN)


def test_companion_names() -> None:
    data = "KY_LIS_11111111_M03_20180402134858.csv"
    assert trigger_name(data) == data + ".trigger"
    assert receipt_name(data) == data + ".sftpreceipt"
    assert metadata_name(data) == data + ".metadata"
    assert data_name_from_trigger(trigger_name(data)) == data


@pytest.mark.parametrize("name", ["KY_LIS-DATA_201901.csv", "x.csv", "KY_LIS_1_M03_20181332000000.csv",
                                  "KY_LIS_1_M03_2018040213485.csv", "a/b_LIS_1_M03_20180402134858.csv"])
def test_other_names_do_not_parse_but_are_no_gate(name: str) -> None:
    assert parse_data_name(name) is None  # rule 7: a convenience, never a gate


@pytest.mark.parametrize("name", ["Ærø_Kommune_ØÅæøå.csv", "KY_LIS-DATA_201901.csv", "a b (1).csv",
                                  "x" * 255, "æ" * 127 + "x", ".hidden"])
def test_safe_names_pass(name: str) -> None:
    assert check_name(name) == name


def test_danish_letters_in_a_data_file_name() -> None:
    name = data_file_name("KY", "LIS", "Ærø", "Å2024", WHEN)
    assert check_name(name) == name == "KY_LIS_Ærø_Å2024_20180402134858.csv"
    assert parse_data_name(name).authority_id == "Ærø"


@pytest.mark.parametrize("name, why", [
    ("", "empty"),
    ("../etc/passwd", "slash '/'"),
    ("/abs.csv", "slash '/'"),
    ("a\\b.csv", "backslash"),
    ("..", "'..'"),
    ("a..b.csv", "'..'"),
    (".", "folder"),
    ("a\x00b.csv", "U+0000"),
    ("a\nb.csv", "U+000A"),
    ("a\u2028b.csv", "U+2028"),
    ("x" * 256, "256 characters"),
    ("æ" * 128, "256 bytes in UTF-8"),
    ("data.trigger", "'.trigger'"),
    ("data.TRIGGER", "'.trigger'"),
])
def test_hostile_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(DocumentError) as info:
        check_name(name, "source ky")
    assert why in info.value.reason and str(info.value).startswith("source ky: unsafe file name")


def test_parts_must_not_carry_the_separator() -> None:
    with pytest.raises(DocumentError, match="'_' separates"):
        data_file_name("KY", "LIS_X", "1", "M03", WHEN)
    with pytest.raises(DocumentError, match="slash"):
        data_file_name("KY", "../LIS", "1", "M03", WHEN)


def test_companion_name_must_fit_255_bytes() -> None:
    data = "d" * 250
    with pytest.raises(DocumentError, match="too long to take the suffix '.sftpreceipt'"):
        receipt_name(data)
    assert trigger_name("d" * 247) == "d" * 247 + ".trigger"


def test_not_a_trigger_name() -> None:
    with pytest.raises(DocumentError, match="must end in '.trigger'"):
        data_name_from_trigger("x.csv")


@pytest.mark.parametrize("period, stamp, expected", [
    ("M03", datetime(2026, 4, 2), "2026-M03"),  # the previous month, the same year
    ("M04", datetime(2026, 4, 30), "2026-M04"),  # the month itself
    ("M12", datetime(2027, 1, 2), "2026-M12"),  # a month later than the stamp's: the year before
    ("M01", datetime(2027, 12, 31), "2027-M01"),
    ("Q1", datetime(2026, 4, 2), "Q1"),  # other forms as written
    ("20260331", datetime(2026, 4, 2), "20260331"),
    ("M13", datetime(2026, 4, 2), "M13"),  # not a month
    ("m03", datetime(2026, 4, 2), "m03"),
])
def test_full_period_gives_the_covered_month_its_year(period: str, stamp: datetime, expected: str) -> None:
    assert full_period(period, stamp) == expected


def test_delivery_period_from_a_name_and_none_outside_the_pattern() -> None:
    assert delivery_period("KY_LIS_11111111_M12_20270102030405.csv") == ("11111111", "2026-M12")
    assert delivery_period("KY_LIS-DATA_201901.csv") is None  # rule 7: never a gate
