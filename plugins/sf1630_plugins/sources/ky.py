"""KY: benefit payments (cash benefits and related payments made by the municipality).

One row per payment made during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import Draws, birth_day, case_id, day_in, fake_cpr, iso, kroner
from sf1630_plugins.sources.base import Column, Descriptor, ExtractOptions, TabularSource, previous_month


# -- options ---------------------------------------------------------------------------------------

@dataclass
class Options(ExtractOptions):
    """KY's ``[send.options]``: the adapter and its settings (see ExtractOptions)."""

    rows: int = option(300, "synthetic: how many payments to write")


# -- descriptor ------------------------------------------------------------------------------------

DESCRIPTOR = Descriptor(
    name="ky",
    code="KY",
    title="benefit payments",
    routing="simple",
    schedule="0 3 2 * *",
    period=previous_month,
    columns=(
        Column("payment_id", "text", "KY payment number"),
        Column("case_id", "text", "the benefit case the payment belongs to"),
        Column("cpr", "text", "the recipient's CPR number"),
        Column("benefit_type", "text", "the benefit paid"),
        Column("period_from", "date", "first day the payment covers"),
        Column("period_to", "date", "last day the payment covers"),
        Column("payment_date", "date", "when it was paid out"),
        Column("gross_amount", "decimal", "amount before tax, DKK"),
        Column("tax_amount", "decimal", "tax withheld, DKK"),
        Column("net_amount", "decimal", "amount paid out, DKK"),
    ),
)


# -- writer ----------------------------------------------------------------------------------------

BENEFITS = (
    ("kontanthjælp", 6000, 16500),
    ("uddannelseshjælp", 3000, 12000),
    ("selvforsørgelses- og hjemrejseydelse", 4000, 11000),
    ("ledighedsydelse", 12000, 19000),
    ("revalideringsydelse", 14000, 19000),
)


def fake_row(rng: Draws, index: int, job: Job) -> list[str]:
    """One plausible payment made during the covered month."""
    month = rng.month
    benefit, low, high = rng.pick(BENEFITS)
    gross = low * 100 + rng.below((high - low) * 100)  # øre
    tax = (gross * rng.pick((0, 30, 37, 40)) + 50) // 100
    paid = day_in(rng, month.first, month.last)
    born = birth_day(rng, month.first, 18, 66)
    return [f"KY-P-{job.municipality.authority_id}-" + str(index + 1).zfill(7), case_id("KY", job, rng.below(index + 1)),
            fake_cpr(rng, born), benefit, iso(month.first), iso(month.last), iso(paid),
            kroner(gross), kroner(tax), kroner(gross - tax)]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the KY source."""
    register(SOURCE)
