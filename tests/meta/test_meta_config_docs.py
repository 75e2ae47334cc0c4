"""The configuration reference follows the declarations: every key of every declared table (the agent
file, a municipality file, [alerts], the simulator's file) is in its table's rows of docs/AGENT.md or
docs/SIMULATOR.md, and no row names a key the validator would refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sf1630.config.load import ACCOUNT_KEYS, AGENT_KEYS, ENVIRONMENT_KEYS
from sf1630.config.tables import AGENT_FILE, MUNICIPALITY_FILE
from sf1630.options import keys_of
from sf1630.simulator.config import PLATFORM_FILE
from sf1630_plugins.alerts.dispatch import AlertOptions
from sf1630_plugins.alerts.email import EmailOptions
from sf1630_plugins.alerts.webhook import WebhookOptions

DOCS = Path(__file__).parents[2] / "docs"
AGENT_MD = DOCS / "AGENT.md"
ALERTS = {"[alerts]": AlertOptions, "[alerts.email]": EmailOptions, "[alerts.webhook]": WebhookOptions}
AGENT_TABLES = {**AGENT_FILE, **MUNICIPALITY_FILE, **ALERTS}
# `[send.route]` in a row names the key `route`; `passphrase_env` / `passphrase_file` name both.
KEY = re.compile(r"`\[*(?:[a-z_]+\.)*([a-z_]+)\]*`")


def keys_in(cell: str) -> set[str]:
    """The keys a row names; what is in parentheses is a default (`dynamic`), not a key."""
    return set(KEY.findall(re.sub(r"\([^()]*\)", "", cell)))


def documented_keys(path: Path = AGENT_MD) -> dict[str, set[str]]:
    """Table header as written (e.g. "[agent]") -> the keys its rows name, from every "table | keys" table."""
    found: dict[str, set[str]] = {}
    table = None
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or cells[0] in ("table", "---"):
            continue
        table = cells[0].strip("`") or table
        found.setdefault(table, set()).update(keys_in(cells[1]))
    return found


def simulator_keys() -> dict[str, set[str]]:
    """docs/SIMULATOR.md: a "### `[server]`" heading, then a table whose first column is the key."""
    found: dict[str, set[str]] = {}
    table = None
    for line in (DOCS / "SIMULATOR.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"### `(\[+[a-z_.]+\]+)`", line)
        if line.startswith("#"):
            table = heading.group(1) if heading else None
        elif table and line.startswith("| `"):
            found.setdefault(table, set()).update(re.findall(r"^\| `([a-z_]+)`", line))
    return found


@pytest.mark.parametrize("table, keys", [("[agent]", AGENT_KEYS), ("[environments.NAME]", ENVIRONMENT_KEYS),
                                         ("[accounts.NAME]", ACCOUNT_KEYS)])
def test_every_key_of_the_agent_file_is_documented(table, keys):
    missing = set(keys) - documented_keys().get(table, set())
    assert not missing, f"docs/AGENT.md's {table} rows lack: {', '.join(sorted(missing))}"


@pytest.mark.parametrize("table", sorted(AGENT_TABLES))
def test_every_declared_table_of_the_agent_is_documented_key_for_key(table):
    declared, documented = set(keys_of(AGENT_TABLES[table])), documented_keys().get(table, set())
    assert not declared - documented, f"docs/AGENT.md's {table} rows lack: {', '.join(sorted(declared - documented))}"
    assert not documented - declared, f"docs/AGENT.md's {table} rows name keys the validator refuses: " \
                                      f"{', '.join(sorted(documented - declared))}"


@pytest.mark.parametrize("table", sorted(PLATFORM_FILE))
def test_every_declared_table_of_the_simulator_is_documented_key_for_key(table):
    declared, documented = set(keys_of(PLATFORM_FILE[table])), simulator_keys().get(table, set())
    assert declared == documented, f"docs/SIMULATOR.md's {table}: missing {sorted(declared - documented)}, " \
                                   f"not declared {sorted(documented - declared)}"


def test_a_key_left_out_of_the_docs_is_found(tmp_path):
    # A test that cannot fail is a defect: the parser must see a row's keys, and miss an absent one.
    page = tmp_path / "AGENT.md"
    page.write_text("| table | keys (default) | meaning |\n|---|---|---|\n"
                    "| `[[send]]` | `source`, `routing` (`dynamic`), `[send.route]` | x |\n")
    assert documented_keys(page) == {"[[send]]": {"source", "routing", "route"}}
    assert set(keys_of(MUNICIPALITY_FILE["[[send]]"])) - documented_keys(page)["[[send]]"]
