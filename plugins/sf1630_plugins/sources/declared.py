"""The columns the built-in sources declare, as the table sinks read them (issue #19).

Each source declares its columns once, in its ``DESCRIPTOR``; the source writes its header from
that declaration and the sinks type their tables from it, so a table's types no longer depend on
which municipality's file happened to arrive first. Identifiers and codes are declared ``text``
(leading zeros are kept). A source the agent does not know declares nothing: its columns are guessed.
"""

from __future__ import annotations

from sf1630_plugins.sources import aula, dubu, kp, ksd, ky
from sf1630_plugins.sources.base import Column

DECLARED: dict[str, tuple[Column, ...]] = {
    m.DESCRIPTOR.code: m.DESCRIPTOR.columns for m in (dubu, ky, ksd, aula, kp)
}


def declared_types(source: str | None) -> dict[str, str]:
    """Column name (lower case) -> declared type (text, integer, decimal, date); empty when unknown."""
    columns = DECLARED.get((source or "").upper(), ())
    return {c.name.lower(): c.type for c in columns}
