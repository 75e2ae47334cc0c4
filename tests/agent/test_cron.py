"""The cron matcher: fields, next and previous times, deadlines of expected extracts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sf1630.core import cron


def brute_next(expr: str, after: datetime) -> datetime:
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    c = cron.parse(expr)
    while not c.matches(t):
        t += timedelta(minutes=1)
    return t


@pytest.mark.parametrize("expr", [
    "0 2 1 * *", "*/15 9-17 * * mon-fri", "5,35 */6 * * *", "0 0 13 * 5", "30 4 1-7 jan,jul sun",
    "10-50/20 3 * * 7", "0 12 */10 * *", "@daily", "@weekly", "59 23 31 1,3 *",
])
def test_next_time_agrees_with_minute_by_minute_search(expr: str) -> None:
    start = datetime(2024, 2, 27, 22, 47)
    t = start
    for _ in range(3):
        expected = brute_next(expr, t)
        assert cron.next_time(expr, t) == expected
        t = expected


def test_fields_lists_ranges_steps_and_names() -> None:
    c = cron.parse("*/20 1-3,22 1,15 feb-apr mon-wed")
    assert c.minutes == {0, 20, 40}
    assert c.hours == {1, 2, 3, 22}
    assert c.days == {1, 15}
    assert c.months == {2, 3, 4}
    assert c.weekdays == {1, 2, 3}
    assert cron.parse("5/20 * * * *").minutes == {5, 25, 45}
    assert cron.parse("0 0 * * 7").weekdays == {0}  # 7 is Sunday, as 0


def test_either_day_field_matches_when_both_are_restricted() -> None:
    # Classic cron: the 13th of any month, or any Friday.
    c = cron.parse("0 0 13 * fri")
    assert c.matches(datetime(2024, 3, 13))  # a Wednesday
    assert c.matches(datetime(2024, 3, 15))  # a Friday
    assert not c.matches(datetime(2024, 3, 14))


def test_monthly_schedule_and_year_wrap() -> None:
    assert cron.next_time("0 2 1 * *", datetime(2024, 12, 15, 10, 0)) == datetime(2025, 1, 1, 2, 0)
    assert cron.next_time("0 2 1 * *", datetime(2025, 1, 1, 2, 0)) == datetime(2025, 2, 1, 2, 0)
    assert cron.next_time("0 0 29 2 *", datetime(2024, 3, 1)) == datetime(2028, 2, 29)


def test_prev_time() -> None:
    assert cron.prev_time("0 6 5 * *", datetime(2024, 3, 4, 23, 59)) == datetime(2024, 2, 5, 6, 0)
    assert cron.prev_time("0 6 5 * *", datetime(2024, 3, 5, 6, 0)) == datetime(2024, 3, 5, 6, 0)


def test_aware_datetimes_keep_their_zone() -> None:
    t = cron.next_time("0 2 * * *", datetime(2024, 5, 1, 3, 0, tzinfo=timezone.utc))
    assert t == datetime(2024, 5, 2, 2, 0, tzinfo=timezone.utc)
    assert t.tzinfo is timezone.utc


def test_last_deadline_of_an_expected_extract() -> None:
    # KY's monthly extract expected by the 5th at 06:00, six hours' grace (issue #14).
    opened, deadline = cron.last_deadline("0 6 5 * *", 6 * 3600, datetime(2024, 3, 5, 13, 0))
    assert deadline == datetime(2024, 3, 5, 12, 0)
    assert opened == datetime(2024, 2, 5, 12, 0)
    _, before = cron.last_deadline("0 6 5 * *", 6 * 3600, datetime(2024, 3, 5, 11, 0))
    assert before == datetime(2024, 2, 5, 12, 0)


@pytest.mark.parametrize("expr, message", [
    ("0 2 1 *", "has 4 fields"),
    ("0 24 * * *", "hour value 24 is outside 0-23"),
    ("61 * * * *", "minute value 61 is outside 0-59"),
    ("0 0 5-1 * *", "runs backwards"),
    ("0 0 * foo *", "month value 'foo' is not a number"),
    ("0 0 30 2 *", "never fires"),
    ("*/0 * * * *", "outside"),
])
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cron.parse(expr)
