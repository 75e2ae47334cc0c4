"""Every key the agent file accepts is in docs/AGENT.md's configuration table, in its table's rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sf1630.config.load import ACCOUNT_KEYS, AGENT_KEYS, ENVIRONMENT_KEYS

AGENT_MD = Path(__file__).parents[2] / "docs" / "AGENT.md"


def documented_keys() -> dict[str, set[str]]:
    """Table header as written (e.g. "[agent]") -> the keys its rows name, from the first configuration table."""
    found: dict[str, set[str]] = {}
    table = None
    for line in AGENT_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or cells[0] in ("table", "---"):
            continue
        table = cells[0].strip("`") or table
        found.setdefault(table, set()).update(re.findall(r"`([a-z_]+)`", cells[1]))
    return found


@pytest.mark.parametrize("table, keys", [("[agent]", AGENT_KEYS), ("[environments.NAME]", ENVIRONMENT_KEYS),
                                         ("[accounts.NAME]", ACCOUNT_KEYS)])
def test_every_key_of_the_agent_file_is_documented(table, keys):
    missing = set(keys) - documented_keys().get(table, set())
    assert not missing, f"docs/AGENT.md's {table} rows lack: {', '.join(sorted(missing))}"
