"""Cron expressions: parse five fields, test a time, find the next or previous matching minute.

Pure functions, no clock of their own: the scheduler passes the time in, so tests drive it with a
fake clock (issue #14). Fields are minute, hour, day of month, month, day of week (0 or 7 = Sunday),
each ``*``, a number, a name (``jan``, ``mon``), a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n``, or a comma list of those. As in classic cron, when both day fields are restricted a day
matches if either does. ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` are
accepted. Times are compared on their wall-clock fields; a tz-aware datetime keeps its tzinfo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = {name: i + 1 for i, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
DAYS = {name: i for i, name in enumerate("sun mon tue wed thu fri sat".split())}
# (name, lowest, highest, names) per field, in the order they are written.
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
SEARCH_YEARS = 8  # a valid expression fires at least once in 8 years (29 February: every 4 or 8)


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    any_day: bool  # day of month was "*"
    any_weekday: bool  # day of week was "*"

    def matches(self, when: datetime) -> bool:
        """True when ``when`` (to the minute) is a time this expression fires."""
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self._day_matches(when)
        )

    def _day_matches(self, when: datetime) -> bool:
        in_month = when.day in self.days
        in_week = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week  # classic cron: either restricted day field may match


def parse(text: str) -> Cron:
    """Parse a cron expression; ``ValueError`` says which field is wrong and why."""
    expr = MACROS.get(text.strip().lower(), text)
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron expression {text!r} has {len(parts)} fields; "
            "write 5: minute hour day-of-month month day-of-week, e.g. '0 2 1 * *'"
        )
    values = [_field(part, *spec) for part, spec in zip(parts, FIELDS)]
    weekdays = frozenset(d % 7 for d in values[4])
    cron = Cron(text, values[0], values[1], values[2], values[3], weekdays, parts[2] == "*", parts[4] == "*")
    next_time(cron, datetime(2000, 1, 1))  # raises when it can never fire, e.g. "0 0 30 2 *"
    return cron


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        allowed |= _item(item, name, low, high, names)
    return frozenset(allowed)


def _item(item: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    span, _, step_text = item.partition("/")
    step = _number(step_text, name, 1, high - low + 1, {}) if step_text else 1
    if span == "*":
        first, last = low, high
    elif "-" in span:
        a, _, b = span.partition("-")
        first, last = _number(a, name, low, high, names), _number(b, name, low, high, names)
        if first > last:
            raise ValueError(f"{name} range {span!r} runs backwards; write the lower value first")
    else:
        first = _number(span, name, low, high, names)
        last = high if step_text else first  # "5/15" means from 5 to the end, every 15
    return set(range(first, last + 1, step))


def _number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    key = text.strip().lower()
    if key in names:
        return names[key]
    if not key.isdigit():
        raise ValueError(f"{name} value {text!r} is not a number between {low} and {high}")
    value = int(key)
    if not low <= value <= high:
        raise ValueError(f"{name} value {value} is outside {low}-{high}")
    return value


def _as_cron(expr: str | Cron) -> Cron:
    return expr if isinstance(expr, Cron) else parse(expr)


def next_time(expr: str | Cron, after: datetime) -> datetime:
    """The first minute strictly after ``after`` at which ``expr`` fires."""
    cron = _as_cron(expr)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = after.year + SEARCH_YEARS
    while t.year <= limit:
        if t.month not in cron.months:
            t = _first_of_next_month(t)
        elif not cron._day_matches(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif t.hour not in cron.hours:
            t = t.replace(minute=0) + timedelta(hours=1)
        elif t.minute not in cron.minutes:
            t += timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"cron expression {cron.text!r} never fires (check the day and month)")


def prev_time(expr: str | Cron, before: datetime) -> datetime:
    """The last minute at or before ``before`` at which ``expr`` fires."""
    cron = _as_cron(expr)
    t = before.replace(second=0, microsecond=0)
    limit = before.year - SEARCH_YEARS
    while t.year >= limit:
        if t.month not in cron.months:
            t = t.replace(day=1, hour=0, minute=0) - timedelta(minutes=1)
        elif not cron._day_matches(t):
            t = t.replace(hour=0, minute=0) - timedelta(minutes=1)
        elif t.hour not in cron.hours:
            t = t.replace(minute=0) - timedelta(minutes=1)
        elif t.minute not in cron.minutes:
            t -= timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"cron expression {cron.text!r} never fires (check the day and month)")


def _first_of_next_month(t: datetime) -> datetime:
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=year, month=month, day=1, hour=0, minute=0)


def last_deadline(expr: str | Cron, grace_seconds: float, now: datetime) -> tuple[datetime, datetime] | None:
    """The latest deadline (a fire time plus grace) at or before ``now``, and where its window opens.

    An extract expected on this schedule counts as arrived for that deadline when it arrived after
    the window opened (the previous deadline). None when no deadline has passed yet. Issue #14.
    """
    grace = timedelta(seconds=grace_seconds)
    try:
        fired = prev_time(expr, now - grace)
        previous = prev_time(expr, fired - timedelta(minutes=1))
    except ValueError:
        return None
    return previous + grace, fired + grace
