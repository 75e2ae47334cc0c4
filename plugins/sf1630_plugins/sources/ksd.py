"""KSD: sickness-benefit cases (sygedagpenge) and their follow-up.

One row per case open at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import (
    amount, birth_date, case_id, covered_month, day_in, fake_cpr, month_end,
)
from sf1630_plugins.sources.base import Column, Descriptor, ExtractOptions, TabularSource, previous_month


# -- options ---------------------------------------------------------------------------------------

@dataclass
class Options(ExtractOptions):
    """KSD's ``[send.options]``: the adapter and its settings (see ExtractOptions)."""

    rows: int = option(150, "synthetic: how many cases to write")


# -- descriptor ------------------------------------------------------------------------------------

DESCRIPTOR = Descriptor(
    name="ksd",
    code="KSD",
    title="sickness-benefit cases",
    routing="simple",
    schedule="0 4 2 * *",
    period=previous_month,
    columns=(
        Column("case_id", "text", "KSD case number"),
        Column("cpr", "text", "the sick person's CPR number"),
        Column("employer_cvr", "text", "the employer's CVR number; empty without an employer"),
        Column("first_absence_day", "date", "first day of absence"),
        Column("notified_date", "date", "when the municipality was notified"),
        Column("follow_up_category", "integer", "visitation category 1, 2 or 3"),
        Column("status", "text", "open or closed"),
        Column("weeks_paid", "integer", "weeks of benefit paid so far"),
        Column("benefit_paid", "decimal", "benefit paid in the month, DKK"),
        Column("closed_date", "date", "when the case was closed; empty while open"),
        Column("closing_reason", "text", "why it closed; empty while open"),
    ),
)


# -- writer ----------------------------------------------------------------------------------------

REASONS = ("raskmeldt", "varighedsbegrænsning", "overgået til jobafklaring", "fleksjob", "død")


def fake_row(rng: random.Random, index: int, job: Job) -> list[str]:
    """One plausible sickness-benefit case open during the covered month."""
    first = covered_month(job)
    last = month_end(first)
    absent = first - timedelta(days=rng.randrange(0, 300))
    notified = absent + timedelta(days=rng.randrange(1, 35))
    closed = day_in(rng, first, last) if rng.random() < 0.25 else None
    employer = f"0{rng.randrange(10 ** 7):07d}" if rng.random() < 0.85 else ""
    weeks = max(1, ((closed or last) - absent).days // 7)
    born = birth_date(rng, first, 18, 70)
    return [case_id("KSD", job, index), fake_cpr(rng, born), employer, absent.isoformat(), notified.isoformat(),
            str(rng.choice((1, 1, 2, 2, 2, 3))), "closed" if closed else "open", str(weeks),
            amount(rng, 4000, 20000), closed.isoformat() if closed else "",
            rng.choice(REASONS) if closed else ""]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the KSD source."""
    register(SOURCE)
