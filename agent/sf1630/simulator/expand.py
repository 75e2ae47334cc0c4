"""Users and routes written once for every municipality of a list (issue #20).

``municipalities = "municipalities.csv"`` names the same CSV the agents read (key, name, cvr, any
other column). A ``[[users]]`` or ``[[routes]]`` table with a placeholder (``{MUNICIPALITY}``,
``{cvr}``, a column such as ``{lis_it_system}``) becomes one per municipality, and a route that
leaves out ``sender_authority`` and ``recipient_authority`` gets the municipality's own CVR for both
(PROTOCOL.md: usually the same municipality), so the routes of a dynamic source are one table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sf1630.api import Municipality
from sf1630.config.csvlist import read_rows
from sf1630.config.patterns import fill, names_in, values_of

OWN_AUTHORITY = "urn:oio:cvr-nr:{cvr}"
CVR = re.compile(r"\d{8}")


def read_municipalities(value: Any, base: Path, problems: Any) -> list[dict[str, str]] | None:
    """The placeholder values of every municipality of the lists, or None when no list is named."""
    if value is None:
        return None
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        problems.add("municipalities", None, None, 'expected a CSV file or an array of them, e.g. "municipalities.csv"')
        return []
    found: list = []
    rows = [row for p in paths for row in read_rows((base / p).resolve(), found)]
    problems.items += [str(p) for p in found]
    out, seen = [], set()
    for row in rows:
        cvr = row.identity.get("cvr", "")
        if not CVR.fullmatch(cvr):
            problems.items.append(f"{row.path}:{row.line}: cvr: {cvr!r} is not a CVR number (8 digits)")
            continue
        if row.key in seen:
            problems.items.append(f"{row.path}:{row.line}: key: {row.key!r} is listed twice")
            continue
        seen.add(row.key)
        m = Municipality(key=row.key, name=row.identity.get("name", row.key),
                         authority_id=row.identity.get("authority_id", cvr), cvr=cvr)
        out.append(values_of(m, row.extra))
    return out


def expand(tables: Any, kind: str, lists: list[dict[str, str]] | None, problems: Any) -> list[tuple[int, Any]]:
    """(index as written, table) of every table, a pattern made into one per municipality."""
    if not isinstance(tables, list):
        return []
    out: list[tuple[int, Any]] = []
    for n, table in enumerate(tables):
        if not isinstance(table, dict):
            out.append((n, table))
            continue
        if kind == "routes" and lists is not None:
            table = {"sender_authority": OWN_AUTHORITY, "recipient_authority": OWN_AUTHORITY, **table}
        wanted = names_in(table)
        if not wanted:
            out.append((n, table))
        elif lists is None:
            problems.add(kind, n, None, "has placeholders such as {municipality} but no municipality list is "
                         'named; add municipalities = "municipalities.csv" at the top of the file')
        else:
            out += _each(n, table, kind, wanted, lists, problems)
    return out


def _each(n: int, table: dict, kind: str, wanted: set[str], lists: list[dict[str, str]],
          problems: Any) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for values in lists:
        missing = sorted(wanted - set(values))
        if missing:
            problems.add(kind, n, None, f"no value for {', '.join('{' + m + '}' for m in missing)} "
                         f"(municipality {values['municipality']!r}); known: {', '.join(sorted(values))}")
            return out
        out.append((n, fill(table, values)))
    return out
