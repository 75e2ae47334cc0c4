"""KP: pension cases (state pension, early-retirement and senior pension).

One row per pension case in force at some time during the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: dynamic (KP uses
routes, PROTOCOL.md "Parties").
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


def fake_row(rng: Draws, index: int, job: Job) -> list[str]:
    """One plausible pension case in force during the covered month."""
    month = rng.month
    kind, low, high = rng.pick(PENSIONS)
    decided = month.first - 20 - rng.below(6980)
    start = decided + rng.below(60)
    ended = day_in(rng, month.first, month.last) if rng.random() < 0.05 else None
    status = "ended" if ended else ("suspended" if rng.random() < 0.05 else "active")
    allowance = amount(rng, 0, 3000) if rng.random() < 0.1 else "0.00"
    return [case_id("KP", job, index), fake_cpr(rng, birth_day(rng, month.first, low, high)), kind,
            iso(decided), iso(start), amount(rng, 6000, 19500), amount(rng, 0, 9000),
            allowance, status, iso(ended) if ended else ""]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the KP source."""
    register(SOURCE)
