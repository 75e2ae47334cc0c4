"""``sf1630 config show --municipality M``: one municipality's configuration as it ends up, each value
with the file and line that wrote it (issue #20): the agent file's ``[defaults]``, a CSV line, or
the municipality's own file. Placeholders are shown filled in; accounts made from a pattern too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sf1630.config.locate import SourceMap
from sf1630.config.model import MunicipalityConfig

BARE = re.compile(r"[A-Za-z0-9_-]+")
WIDTH = 48  # the column where origins start


def show_municipality(m: MunicipalityConfig, agent_file: Path, accounts: dict[str, Any]) -> str:
    """The text ``config show`` prints for ``m``; ``accounts`` are the config's accounts by name."""
    root = agent_file.parent
    out = [f"# {m.municipality.key}: the configuration it ends up with; after each value the file:line",
           "# that wrote it (relative to " + str(root) + ")",
           "# placeholders: " + ", ".join(f"{{{k}}} = {v!r}" for k, v in sorted(m.values.items()))]

    def origin(path: tuple) -> str:
        file, line, _, layer = m.merged.locate(path)
        shown = f"{os.path.relpath(file, root)}:{line or 1}"
        return shown if layer.own else f"{shown} (inherited)"

    first = ("municipality", "send", "receive")
    data = m.merged.data
    _table({**{k: data[k] for k in first if k in data}, **data}, (), None, out, origin)
    out += _accounts(m, agent_file, accounts)
    return "\n".join(out) + "\n"


def _table(table: dict[str, Any], path: tuple, header: str | None, out: list[str], origin) -> None:
    if header is not None:
        out += ["", _pad(header, origin(path))]
    for key, value in table.items():
        if not isinstance(value, dict) and not _tables(value):
            out.append(_pad(f"{_name(key)} = {_value(value)}", origin((*path, key))))
    for key, value in table.items():
        names = ".".join(_name(p) for p in (*path, key) if isinstance(p, str))
        if isinstance(value, dict):
            _table(value, (*path, key), f"[{names}]", out, origin)
        elif _tables(value) and value:
            for i, item in enumerate(value):
                _table(item, (*path, key, i), f"[[{names}]]", out, origin)


def _accounts(m: MunicipalityConfig, agent_file: Path, accounts: dict[str, Any]) -> list[str]:
    """The accounts this municipality uses, as made (a pattern filled in for it)."""
    smap = SourceMap(agent_file.read_text(encoding="utf-8"))
    used = [s.account for s in m.sends] + ([m.receive.account] if m.receive else [])
    out: list[str] = []
    for name in dict.fromkeys(used):
        account = accounts.get(name)
        if account is None:
            continue
        written = name if ("accounts", name) in smap.tables else name.split(":")[0]
        where = f"{agent_file.name}:{smap.line(('accounts', written))}"
        made = "" if written == name else f", made from the pattern [accounts.{written}]"
        out += ["", _pad(f"[accounts.{_name(name)}]", where + made)]
        out.append(f"user = {_value(account.user)}")
        out.append(f"keys = {_value([os.path.relpath(k, agent_file.parent) for k in account.keys])}")
        for key in ("passphrase_env", "passphrase_file", "environment"):
            value = getattr(account, key)
            if value:
                out.append(f"{key} = {_value(str(value))}")
    return out


def _pad(text: str, origin: str) -> str:
    return f"{text:<{WIDTH}}  # {origin}" if len(text) < WIDTH else f"{text}  # {origin}"


def _name(key: Any) -> str:
    return key if BARE.fullmatch(str(key)) else f'"{key}"'


def _value(value: Any) -> str:
    import tomli_w  # late: only this command writes TOML values

    if isinstance(value, list):  # on one line, as a person writes it
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).split(" = ", 1)[1].rstrip("\n")


def _tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
