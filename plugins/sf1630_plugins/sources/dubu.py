"""DUBU: child and youth cases and the measures granted in them.

One row per measure in force at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job
from sf1630_plugins.adapters.synthetic import CENTS, FOUR_DIGITS, Draws, cpr_date, iso
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


def fake_rows(rng: Draws, job: Job, count: int) -> Iterator[str]:
    """``count`` plausible measures in force during the covered month, as CSV lines.

    A measure opened up to 2,500 days before the month, started between then and the month's end,
    and ended in the month in one case of five; the child is 0 to 17.
    """
    r, first, last = rng.random, rng.month.first, rng.month.last
    case = f"DUBU-{job.municipality.authority_id}-"
    measures = [(f"{legal};{kind};{placement}", low * 100, (high - low) * 100)
                for legal, kind, placement, low, high in MEASURES]
    for index in range(count):
        measure, low, width = measures[int(r() * len(measures))]
        opened = first - 30 - int(r() * 2470)
        start = opened + int(r() * (last - opened + 1))
        end = None
        if r() < 0.2:
            since = max(start, first)
            end = since + int(r() * (last - since + 1))
        born = first - int(r() * (17 * 365 + 364))
        cpr = f"{cpr_date(born)}{FOUR_DIGITS[int(r() * 10000)]}"
        closed = iso(end) if end and r() < 0.5 else ""
        cents = int(low + width * r())
        yield (f"{case}{index + 1:06d};{cpr};{iso(opened)};{closed};{measure};{iso(start)};"
               f"{iso(end) if end else ''};{cents // 100}{CENTS[cents % 100]};{UNITS[int(r() * len(UNITS))]}\n")

# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_rows)


@hookimpl
def sf1630_register_sources(register):
    """Register the DUBU source."""
    register(SOURCE)
