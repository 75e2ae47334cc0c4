"""KY: benefit payments (cash benefits and related payments made by the municipality).

One row per payment made during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: simple.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import CENTS, FOUR_DIGITS, Draws, cpr_date, iso
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


TAX_PERCENT = (0, 30, 37, 40)


def fake_rows(rng: Draws, job: Job, count: int) -> Iterator[str]:
    """``count`` plausible payments made during the covered month, as CSV lines.

    Amounts are in øre until written; ids carry the authority id; the recipient is 18 to 66.
    """
    r, first, last = rng.random, rng.month.first, rng.month.last
    aid = job.municipality.authority_id
    covers = f"{iso(first)};{iso(last)}"
    benefits = [(f"{name};{covers}", low * 100, (high - low) * 100) for name, low, high in BENEFITS]
    for index in range(count):
        benefit, low, width = benefits[int(r() * len(benefits))]
        gross = low + int(r() * width)
        tax = (gross * TAX_PERCENT[int(r() * 4)] + 50) // 100
        paid = first + int(r() * (last - first + 1))
        born = first - 18 * 365 - int(r() * (48 * 365 + 364))
        net = gross - tax
        yield (f"KY-P-{aid}-{index + 1:07d};KY-{aid}-{int(r() * (index + 1)) + 1:06d};"
               f"{cpr_date(born)}{FOUR_DIGITS[int(r() * 10000)]};{benefit};{iso(paid)};"
               f"{gross // 100}{CENTS[gross % 100]};{tax // 100}{CENTS[tax % 100]};{net // 100}{CENTS[net % 100]}\n")

# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_rows)


@hookimpl
def sf1630_register_sources(register):
    """Register the KY source."""
    register(SOURCE)
