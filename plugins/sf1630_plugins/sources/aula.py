"""AULA: school and day-care usage (attendance and use of the communication platform).

One row per child and institution for the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: dynamic (AULA uses
routes, PROTOCOL.md "Parties").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import FOUR_DIGITS, Draws, cpr_date
from sf1630_plugins.sources.base import Column, Descriptor, ExtractOptions, TabularSource, previous_month


# -- options ---------------------------------------------------------------------------------------

@dataclass
class Options(ExtractOptions):
    """AULA's ``[send.options]``: the adapter and its settings (see ExtractOptions)."""

    rows: int = option(250, "synthetic: how many children to write")


# -- descriptor ------------------------------------------------------------------------------------

DESCRIPTOR = Descriptor(
    name="aula",
    code="AULA",
    title="school and day-care usage",
    routing="dynamic",
    schedule="0 5 2 * *",
    period=previous_month,
    columns=(
        Column("institution_number", "text", "the institution's number"),
        Column("institution_type", "text", "school, after-school club, kindergarten or nursery"),
        Column("institution_name", "text", "the institution's name"),
        Column("child_id", "text", "the child's CPR number"),
        Column("group_name", "text", "class or group"),
        Column("days_present", "integer", "days checked in during the month"),
        Column("days_sick", "integer", "days reported sick"),
        Column("days_absent_other", "integer", "other days of absence (holiday, leave)"),
        Column("parent_logins", "integer", "parents' logins to AULA during the month"),
        Column("messages_sent", "integer", "messages between staff and parents about the child"),
    ),
)


# -- writer ----------------------------------------------------------------------------------------

INSTITUTIONS = (
    ("school", "Søndre Skole", 6, 16, ("0.A", "1.B", "3.A", "5.C", "7.B", "9.A")),
    ("after-school club", "Fritidshjemmet Kløverløkken", 6, 10, ("Blå", "Grøn")),
    ("kindergarten", "Børnehaven Troldehøj", 3, 6, ("Troldene", "Myrerne", "Bierne")),
    ("nursery", "Vuggestuen Mælkebøtten", 0, 3, ("Spirerne", "Frøene")),
)


SICK_DAYS = (0, 0, 0, 1, 2, 3, 5)
OTHER_ABSENCE = (0, 0, 0, 1, 5)


def fake_rows(rng: Draws, job: Job, count: int) -> Iterator[str]:
    """``count`` plausible children's months at one institution each, as CSV lines."""
    r, first = rng.random, rng.month.first
    town = job.municipality.authority_id[-3:]
    places = [(f"{town}{number + 1:03d};{kind};{name}", low, high - 1, groups)
              for number, (kind, name, low, high, groups) in enumerate(INSTITUTIONS)]
    for _ in range(count):
        place, low, high, groups = places[int(r() * len(places))]
        sick = SICK_DAYS[int(r() * 7)]
        other = OTHER_ABSENCE[int(r() * 5)]
        present = max(0, 21 - sick - other - int(r() * 3))
        born = first - low * 365 - int(r() * ((high - low) * 365 + 364))
        yield (f"{place};{cpr_date(born)}{FOUR_DIGITS[int(r() * 10000)]};{groups[int(r() * len(groups))]};"
               f"{present};{sick};{other};{int(r() * 60)};{int(r() * 25)}\n")

# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_rows)


@hookimpl
def sf1630_register_sources(register):
    """Register the AULA source."""
    register(SOURCE)
