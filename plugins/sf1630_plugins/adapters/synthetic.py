"""The ``synthetic`` adapter: deterministic fake rows for the demo, benchmarks and tests.

The same municipality, source, period and ``seed`` option always give the same bytes: the random
generator is seeded with SHA-256 of ``authority_id|code|period|year|seed``, where ``year`` is the
year of the month the period names. ``rows`` sets how many rows are written.

Person ids look like CPR numbers (ten digits, DDMMYY plus four) but are never valid ones: the
month field is the birth month plus 20 (21-32), which no CPR number has, and the day field stays
01-28 so the scheme can't be mistaken for substitute numbers (day plus 60). ``is_fake_cpr`` tells
them apart; nothing here ever produces a real person's number.

Rows are cheap because every extract of a run makes them (issue #23: in the 1,470-delivery
benchmark they were a sixth of the sender's CPU). Each source's ``fake_rows`` makes its lines
itself, one f-string per row, with what is the same for a whole extract (the authority id in the
ids, the month's dates) worked out once per extract; each draw is one call into C
(``r = rng.random``, ``int(r() * n)``); days are day numbers (``date.toordinal``) whose text is
made once per process (``iso``, ``cpr_date``); the CPR's last four digits and the øre of an amount
come from tables (``FOUR_DIGITS``, ``CENTS``).
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from sf1630.api import ExtractResult, Job
from sf1630_plugins.adapters import write_lines


@dataclass(frozen=True)
class Month:
    """The month an extract covers: its first and last day as day numbers (``date.toordinal``)."""

    first: int
    last: int

_MONTHLY = re.compile(r"M(0[1-9]|1[0-2])")
FAKE_MONTH_OFFSET = 20
CENTS = tuple(f".{n:02d}" for n in range(100))  # øre as the decimals of an amount: CENTS[cents % 100]
FOUR_DIGITS = tuple(f"{n:04d}" for n in range(10000))  # the CPR's last four digits


class Draws(random.Random):
    """The random numbers for one extract, and the month it covers (``month``).

    Draws are cheap: ``int(random() * n)`` is one C call, no rejection loop. Its bias (under
    n / 2**53) is nothing a fake row can show; the same seed gives the same draws.
    """

    def __init__(self, seed: int, month: Month) -> None:
        super().__init__(seed)
        self.month = month



def extract(job: Job, source: Any, options: Any, out: BinaryIO) -> ExtractResult:
    """Write ``options.rows`` fake rows made by ``source.fake_rows``."""
    rng = Draws(seed_for(job, source.code, options.seed), month_of(job))
    count = write_lines(out, source.header, source.fake_rows(rng, job, options.rows))
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
    return date.fromordinal(month_of(job).first)


def month_of(job: Job) -> Month:
    """The covered month of ``job`` (see ``covered_month``), worked out once per period and month."""
    return _month(job.period, job.created.year, job.created.month)


@functools.lru_cache(maxsize=256)
def _month(period: str, year: int, month: int) -> Month:
    match = _MONTHLY.fullmatch(period)
    covered = int(match[1]) if match else (month - 2) % 12 + 1
    first = date(year if covered < month else year - 1, covered, 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Month(first.toordinal(), following.toordinal() - 1)


@functools.cache
def iso(day: int) -> str:
    """``YYYY-MM-DD`` for a day number, made once per day and process."""
    return date.fromordinal(day).isoformat()


@functools.cache
def cpr_date(day: int) -> str:
    """The DDMMYY part of a fake CPR id for someone born on day number ``day``; the sources add
    four drawn digits (``FOUR_DIGITS``)."""
    born = date.fromordinal(day)
    return f"{min(born.day, 28):02d}{born.month + FAKE_MONTH_OFFSET:02d}{born.year % 100:02d}"


def is_fake_cpr(value: str) -> bool:
    """True for ids made from ``cpr_date`` (and never for a valid CPR number)."""
    return len(value) == 10 and value.isdigit() and 21 <= int(value[2:4]) <= 32
