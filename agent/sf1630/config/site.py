"""Every municipality of a site: CSV lines and municipality files, each over the agent's ``[defaults]``.

A municipality file whose key is on a CSV line refines that line (it may leave out name and cvr);
one with a key of its own adds a municipality. Two files, or two CSV lines, with one key are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sf1630.config.csvlist import Row, read_rows
from sf1630.config.layers import Layer, LayeredFile, Merged, row_layer, toml_layer
from sf1630.config.model import MunicipalityConfig, Problem
from sf1630.config.municipality import read_municipality
from sf1630.config.reader import TomlFile
from sf1630.config.tables import DefaultsTable


def defaults_layer(f: TomlFile, data: dict[str, Any]) -> Layer | None:
    """The agent file's ``[defaults]`` as the first layer of every municipality, or None."""
    table = f.subtable(data, (), "defaults")
    if table is None:
        return None
    where = ("defaults",)
    f.check(DefaultsTable, table, where)
    usable: dict[str, Any] = {}
    if "send" in table:
        usable["send"] = f.tables(table, where, "send")
    receive = f.subtable(table, where, "receive")
    if receive is not None:
        usable["receive"] = receive
    return toml_layer(f, usable, where, own=False)


def read_site(agent: TomlFile, files: list[Path], accounts: Any,
              defaults: Layer | None) -> list[tuple[TomlFile, MunicipalityConfig]]:
    """Read every municipality named by ``files`` (``.csv`` lists and ``.toml`` files)."""
    problems = agent.problems
    row: Row | None  # each name is taken up again for the merge below
    mf: TomlFile | None
    rows: dict[str, Row] = {}
    for path in files:
        if path.suffix.lower() == ".csv":
            for row in read_rows(path, problems):
                if row.key in rows:
                    problems.append(_twice(row, rows[row.key]))
                else:
                    rows[row.key] = row
    own: dict[str, TomlFile] = {}
    for path in files:
        if path.suffix.lower() == ".csv":
            continue
        mf = TomlFile(path, problems)
        data = mf.load()
        if data is None:
            continue
        key = _key_of(data, path)
        if key in own:
            mf.report(("municipality",), "key", f"{key!r} is used by {own[key].path} too")
            continue
        own[key] = mf
    seen: set = set()
    out: list[tuple[TomlFile, MunicipalityConfig]] = []
    for key in [*rows, *(k for k in own if k not in rows)]:
        line, file = rows.get(key), own.get(key)  # a CSV line, its own file, or both
        layers = [layer for layer in (defaults, line and row_layer(line.path, line.line, line.identity),
                                      file and toml_layer(file, file.data or {})) if layer]
        path = file.path if file else line.path if line else agent.path
        lf = LayeredFile(path, problems, Merged(layers), line.extra if line else {}, seen, key)
        m = read_municipality(lf, accounts)
        if m is not None:
            out.append((lf, m))
    return out


def _key_of(data: dict[str, Any], path: Path) -> str:
    table = data.get("municipality")
    key = table.get("key") if isinstance(table, dict) else None
    return key if isinstance(key, str) else path.stem


def _twice(row: Row, first: Row) -> Problem:
    where = f"line {first.line}" if first.path == row.path else f"{first.path}:{first.line}"
    return Problem(row.path, row.line, "key", f"{row.key!r} is on {where} too; one line per municipality")
