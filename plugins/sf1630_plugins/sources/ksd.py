"""KSD: sickness-benefit cases (sygedagpenge) and their follow-up.

One row per case open at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import Draws, amount, birth_day, case_id, day_in, fake_cpr, iso
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


def fake_row(rng: Draws, index: int, job: Job) -> list[str]:
    """One plausible sickness-benefit case open during the covered month."""
    month = rng.month
    absent = month.first - rng.below(300)
    notified = absent + 1 + rng.below(34)
    closed = day_in(rng, month.first, month.last) if rng.random() < 0.25 else None
    employer = "0" + str(rng.below(10 ** 7)).zfill(7) if rng.random() < 0.85 else ""
    weeks = max(1, ((closed or month.last) - absent) // 7)
    born = birth_day(rng, month.first, 18, 70)
    return [case_id("KSD", job, index), fake_cpr(rng, born), employer, iso(absent), iso(notified),
            str(rng.pick((1, 1, 2, 2, 2, 3))), "closed" if closed else "open", str(weeks),
            amount(rng, 4000, 20000), iso(closed) if closed else "", rng.pick(REASONS) if closed else ""]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the KSD source."""
    register(SOURCE)
