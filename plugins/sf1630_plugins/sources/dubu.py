"""DUBU: child and youth cases and the measures granted in them.

One row per measure in force at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job
from sf1630_plugins.adapters.synthetic import Draws, amount, birth_day, case_id, day_in, fake_cpr, iso
from sf1630_plugins.sources.base import Column, Descriptor, ExtractOptions, TabularSource, previous_month


# -- options ---------------------------------------------------------------------------------------

@dataclass
class Options(ExtractOptions):
    """DUBU's ``[send.options]``: the adapter and its settings (see ExtractOptions)."""


# -- descriptor ------------------------------------------------------------------------------------

DESCRIPTOR = Descriptor(
    name="dubu",
    code="DUBU",
    title="child and youth cases and measures",
    routing="simple",
    schedule="0 2 2 * *",
    period=previous_month,
    columns=(
        Column("case_id", "text", "DUBU case number"),
        Column("cpr", "text", "the child's CPR number"),
        Column("case_opened", "date", "when the case was opened"),
        Column("case_closed", "date", "when it was closed; empty while open"),
        Column("legal_basis", "text", "section of the act the measure is granted under"),
        Column("measure_type", "text", "the kind of measure"),
        Column("placement_type", "text", "where the child lives for a placement; empty otherwise"),
        Column("measure_start", "date", "first day of the measure"),
        Column("measure_end", "date", "last day; empty while it runs"),
        Column("monthly_cost", "decimal", "cost of the measure in the month, DKK"),
        Column("unit", "text", "the social-services unit handling the case"),
    ),
)


# -- writer ----------------------------------------------------------------------------------------

MEASURES = (
    ("Barnets lov § 32, stk. 1, nr. 1", "consultancy", "", 2000, 9000),
    ("Barnets lov § 32, stk. 1, nr. 3", "family treatment", "", 8000, 30000),
    ("Barnets lov § 32, stk. 1, nr. 5", "contact person", "", 3000, 12000),
    ("Barnets lov § 43", "placement", "foster family", 25000, 45000),
    ("Barnets lov § 43", "placement", "residential institution", 60000, 110000),
    ("Barnets lov § 43", "placement", "own room", 15000, 30000),
)
UNITS = ("Børn og Familie Nord", "Børn og Familie Syd", "Handicap og Sundhed", "Ungeenheden")


def fake_row(rng: Draws, index: int, job: Job) -> list[str]:
    """One plausible measure in force during the covered month."""
    month = rng.month
    legal, kind, placement, low, high = rng.pick(MEASURES)
    opened = month.first - 30 - rng.below(2470)
    start = day_in(rng, opened, month.last)
    end = day_in(rng, max(start, month.first), month.last) if rng.random() < 0.2 else None
    born = birth_day(rng, month.first, 0, 17)
    return [case_id("DUBU", job, index), fake_cpr(rng, born), iso(opened),
            iso(end) if end and rng.random() < 0.5 else "", legal, kind, placement,
            iso(start), iso(end) if end else "", amount(rng, low, high), rng.pick(UNITS)]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the DUBU source."""
    register(SOURCE)
