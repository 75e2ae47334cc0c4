"""The ``synthetic`` adapter: deterministic fake rows for the demo, benchmarks and tests.

The same municipality, source, period and ``seed`` option always give the same bytes: the random
generator is seeded with SHA-256 of ``authority_id|code|period|year|seed``, where ``year`` is the
year of the month the period names. ``rows`` sets how many rows are written.

Person ids look like CPR numbers (ten digits, DDMMYY plus four) but are never valid ones: the
month field is the birth month plus 20 (21-32), which no CPR number has, and the day field stays
01-28 so the scheme can't be mistaken for substitute numbers (day plus 60). ``is_fake_cpr`` tells
them apart; nothing here ever produces a real person's number.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import date, timedelta
from typing import Any, BinaryIO

from sf1630.api import ExtractResult, Job
from sf1630_plugins.adapters import write_csv

_MONTHLY = re.compile(r"M(0[1-9]|1[0-2])")
FAKE_MONTH_OFFSET = 20


def extract(job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    """Write ``options.rows`` fake rows made by ``source.fake_row``."""
    rng = random.Random(seed_for(job, source.code, options.seed))
    rows = (source.fake_row(rng, index, job) for index in range(options.rows))
    count = write_csv(out, source.header, rows)
    return ExtractResult(count, tuple(source.header))


def delivered(job: Job, source: Any, options: Any) -> None:
    """Nothing to tidy: the rows were never anywhere else."""


def check(job: Job, source: Any, options: Any) -> str:
    """Nothing outside to reach."""
    return f"synthetic rows ({options.rows} per extract), no database or folder to reach"


def seed_for(job: Job, code: str, extra: str = "") -> int:
    """The generator seed for a job: same municipality, source and period, same rows."""
    text = f"{job.municipality.authority_id}|{code}|{job.period}|{covered_month(job).year}|{extra}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def covered_month(job: Job) -> date:
    """First day of the month an ``Mnn`` period names (the latest such month before ``created``).

    Other period forms fall back to the month before ``created``.
    """
    created = job.created.date()
    match = _MONTHLY.fullmatch(job.period)
    month = int(match[1]) if match else (created.month - 2) % 12 + 1
    year = created.year if month < created.month else created.year - 1
    return date(year, month, 1)


def fake_cpr(rng: random.Random, born: date) -> str:
    """A CPR-like id for someone born on ``born`` that is never a valid CPR number."""
    day = min(born.day, 28)
    return f"{day:02d}{born.month + FAKE_MONTH_OFFSET:02d}{born.year % 100:02d}{rng.randrange(10000):04d}"


def is_fake_cpr(value: str) -> bool:
    """True for ids made by ``fake_cpr`` (and never for a valid CPR number)."""
    return len(value) == 10 and value.isdigit() and 21 <= int(value[2:4]) <= 32


def birth_date(rng: random.Random, on: date, min_age: int, max_age: int) -> date:
    """A birth date of someone aged ``min_age``..``max_age`` on ``on``."""
    return on - timedelta(days=rng.randrange(min_age * 365, max_age * 365 + 364))


def day_in(rng: random.Random, start: date, end: date) -> date:
    """A day from ``start`` to ``end``, both included."""
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def amount(rng: random.Random, low: float, high: float) -> str:
    """A money amount in kroner with two decimals and '.' as decimal point."""
    return f"{rng.uniform(low, high):.2f}"


def month_end(first: date) -> date:
    """The last day of the month that starts on ``first``."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def case_id(prefix: str, job: Job, index: int) -> str:
    """A case number unique within one extract, e.g. ``KY-11111111-000042``."""
    return f"{prefix}-{job.municipality.authority_id}-{index + 1:06d}"
