"""KSD: sickness-benefit cases (sygedagpenge) and their follow-up.

One row per case open at some time during the month the extract covers.

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


EMPLOYEES_PER_CASE = ("1", "1", "2", "2", "2", "3")


def fake_rows(rng: Draws, job: Job, count: int) -> Iterator[str]:
    """``count`` plausible sickness-benefit cases open during the covered month, as CSV lines.

    Absence began up to 300 days before the month; one case in four closed in the month; most
    have an employer (a CVR-like number starting with 0, which no CVR number does).
    """
    r, first, last = rng.random, rng.month.first, rng.month.last
    case = f"KSD-{job.municipality.authority_id}-"
    for index in range(count):
        absent = first - int(r() * 300)
        notified = absent + 1 + int(r() * 34)
        closed = first + int(r() * (last - first + 1)) if r() < 0.25 else None
        employer = f"0{int(r() * 10 ** 7):07d}" if r() < 0.85 else ""
        weeks = max(1, ((closed or last) - absent) // 7)
        born = first - 18 * 365 - int(r() * (52 * 365 + 364))
        cpr = f"{cpr_date(born)}{FOUR_DIGITS[int(r() * 10000)]}"
        employees = EMPLOYEES_PER_CASE[int(r() * 6)]
        paid = int(400000 + 1600000 * r())
        state = "closed" if closed else "open"
        end = f"{iso(closed)};{REASONS[int(r() * len(REASONS))]}" if closed else ";"
        yield (f"{case}{index + 1:06d};{cpr};{employer};{iso(absent)};{iso(notified)};{employees};{state};"
               f"{weeks};{paid // 100}{CENTS[paid % 100]};{end}\n")

# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_rows)


@hookimpl
def sf1630_register_sources(register):
    """Register the KSD source."""
    register(SOURCE)
