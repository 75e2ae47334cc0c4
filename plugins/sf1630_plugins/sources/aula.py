"""AULA: school and day-care usage (attendance and use of the communication platform).

One row per child and institution for the month the extract covers.

Its columns and their types are declared once, in ``DESCRIPTOR`` below: the extract's header
comes from it, and the table sinks type their tables from it (``sources/declared.py``).

Period: the previous month, ``M03`` for an extract made in April. Routing: dynamic (AULA uses
routes, PROTOCOL.md "Parties").
"""

from __future__ import annotations

from dataclasses import dataclass

from sf1630 import hookimpl
from sf1630.api import Job, option
from sf1630_plugins.adapters.synthetic import Draws, birth_day, fake_cpr
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


def fake_row(rng: Draws, index: int, job: Job) -> list[str]:
    """One plausible child's month at one institution."""
    first = rng.month.first
    number = rng.below(len(INSTITUTIONS))
    kind, name, low, high, groups = INSTITUTIONS[number]
    sick = rng.pick((0, 0, 0, 1, 2, 3, 5))
    other = rng.pick((0, 0, 0, 1, 5))
    present = max(0, 21 - sick - other - rng.below(3))
    born = birth_day(rng, first, low, high - 1)
    return [job.municipality.authority_id[-3:] + str(number + 1).zfill(3), kind, name, fake_cpr(rng, born),
            rng.pick(groups), str(present), str(sick), str(other), str(rng.below(60)), str(rng.below(25))]


# -- hookimpl --------------------------------------------------------------------------------------

SOURCE = TabularSource(DESCRIPTOR, Options, fake_row)


@hookimpl
def sf1630_register_sources(register):
    """Register the AULA source."""
    register(SOURCE)
