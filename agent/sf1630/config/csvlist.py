"""A municipality list as a CSV file, the form vendors keep in spreadsheets (issue #20).

The first line names the columns: ``key``, ``name``, ``cvr`` (required), ``authority_id`` (optional,
default the CVR) and any others, whose values become placeholders (``{lis_user}``) for that
municipality. Columns are separated by ``,`` or ``;`` (as a Danish spreadsheet saves them); blank
lines and lines starting with ``#`` are skipped. Every problem names the file and line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from sf1630.config.model import Problem
from sf1630.config.reader import is_secret_key

REQUIRED = ("key", "name", "cvr")
IDENTITY = (*REQUIRED, "authority_id")
COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Row:
    """One municipality of the list: its line, identity columns and extra values."""

    path: Path
    line: int
    identity: dict[str, str]
    extra: dict[str, str]

    @property
    def key(self) -> str:
        return self.identity.get("key", "")


def read_rows(path: Path, problems: list[Problem]) -> list[Row]:
    """The rows of a municipality CSV; problems (file:line: column: message) go into ``problems``."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(path, None, "", "no such municipality list; write one with a header line "
                                "key,name,cvr (`sf1630 init --kind lis --municipalities FILE` shows one)"))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path, None, "", f"cannot read the municipality list: {exc} (save it as UTF-8)"))
        return []
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        problems.append(Problem(path, None, "", "the municipality list is empty; start with the line key,name,cvr"))
        return []
    first, header_text = lines[0]
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    header = [c.strip() for c in next(csv.reader([header_text], delimiter=delimiter))]
    if not _header_ok(path, first, header, problems):
        return []
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, line in lines[1:]:
        cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]
        if len(cells) != len(header):
            problems.append(Problem(path, number, "", f"{len(cells)} values, but the header line names "
                                    f"{len(header)} columns ({delimiter.join(header)})"))
            continue
        values = dict(zip(header, cells))
        key = values["key"]
        if key in seen:
            problems.append(Problem(path, number, "key", f"{key!r} is on line {seen[key]} too; one line per municipality"))
            continue
        seen[key] = number
        identity = {k: v for k, v in values.items() if k in IDENTITY and v}
        rows.append(Row(path, number, identity, {k: v for k, v in values.items() if k not in IDENTITY}))
    return rows


def _header_ok(path: Path, line: int, header: list[str], problems: list[Problem]) -> bool:
    ok = True
    for column in header:
        if not COLUMN.fullmatch(column):
            problems.append(Problem(path, line, column, "a column name must be letters, digits and '_' "
                                    "(it becomes a placeholder such as {lis_user})"))
            ok = False
        elif is_secret_key(column):
            problems.append(Problem(path, line, column, "secrets never go in a config file; give a key's "
                                    "passphrase through passphrase_env or passphrase_file"))
            ok = False
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(Problem(path, line, "", f"the header line lacks {', '.join(missing)}; "
                                "it must name at least key, name and cvr"))
        ok = False
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        problems.append(Problem(path, line, "", f"column {', '.join(twice)} is named twice"))
        ok = False
    return ok
