"""KP: pension cases (state pension, early-retirement and senior pension).

One row per pension case in force at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: dynamic (KP uses
routes, PROTOCOL.md "Parties").
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
    """KP's ``[send.options]``: the adapter and its settings (see ExtractOptions)."""

    rows: int = option(200, "synthetic: how many pension cases to write")


# -- descriptor ------------------------------------------------------------------------------------

DESCRIPTOR = Descriptor(
    name="kp",
    code="KP",
    title="pension cases",
    routing="dynamic",
    schedule="0 6 2 * *",
    period=previous_month,
    columns=(
        Column("case_id", "text", "KP case number"),
        Column("cpr", "text", "the pensioner's CPR number"),
        Column("pension_type", "text", "folkepension, førtidspension or seniorpension"),
        Column("decision_date", "date", "when the pension was granted"),
        Column("start_date", "date", "first day of payment"),
        Column("base_amount", "decimal", "basic amount paid in the month, DKK"),
        Column("supplement_amount", "decimal", "pension supplement paid in the month, DKK"),
        Column("personal_allowance", "decimal", "personal allowance in the month, DKK"),
        Column("status", "text", "active, suspended or ended"),
        Column("end_date", "date", "last day of payment; empty while active"),
    ),
)


# -- writer ----------------------------------------------------------------------------------------

PENSIONS = (("folkepension", 67, 99), ("førtidspension", 25, 66), ("seniorpension", 60, 66))


def fake_rows(rng: Draws, job: Job, count: int) -> Iterator[str]:
    """``count`` plausible pension cases in force during the covered month, as CSV lines.

    Decided up to 7,000 days before the month, started within 60 days of the decision; one case in
    twenty ended in the month, one in ten has a personal allowance. Amounts are in øre until written.
    """
    r, first, last = rng.random, rng.month.first, rng.month.last
    case = f"KP-{job.municipality.authority_id}-"
    for index in range(count):
        kind, low, high = PENSIONS[int(r() * len(PENSIONS))]
        decided = first - 20 - int(r() * 6980)
        start = decided + int(r() * 60)
        ended = first + int(r() * (last - first + 1)) if r() < 0.05 else None
        status = "ended" if ended else ("suspended" if r() < 0.05 else "active")
        allowance = int(300000 * r()) if r() < 0.1 else 0
        born = first - low * 365 - int(r() * ((high - low) * 365 + 364))
        cpr = f"{cpr_date(born)}{FOUR_DIGITS[int(r() * 10000)]}"
        base = int(600000 + 1350000 * r())
        supplement = int(900000 * r())
        yield (f"{case}{index + 1:06d};{cpr};{kind};{iso(decided)};{iso(start)};"
               f"{base // 100}{CENTS[base % 100]};{supplement // 100}{CENTS[supplement % 100]};"
               f"{allowance // 100}{CENTS[allowance % 100]};{status};{iso(ended) if ended else ''}\n")

# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_rows)


@hookimpl
def sf1630_register_sources(register):
    """Register the KP source."""
    register(SOURCE)
