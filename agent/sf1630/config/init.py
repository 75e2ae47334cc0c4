"""Starter configs for ``sf1630 init``: data built as dicts, written with tomli-w, comments added after.

The ``[agent]`` values are the declared defaults (``sf1630.config.tables``), and every key of a
declared table gets its declared help as a comment. tomli-w writes no comments, so each file gets a
header written here, and a comment line is put before chosen table headers of tomli-w's output
(issue #13: init writes a starter with tomli-w).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from sf1630.config.tables import AGENT_FILE, MUNICIPALITY_FILE, AgentTable
from sf1630.options import default_of

Kind = Literal["source", "lis"]

AGENT_HEADER = """\
# sf1630 agent file ({kind} vendor), written by `sf1630 init`.
#
# Paths are relative to this file. No secret goes in here: keys are paths, and a key's passphrase
# comes from an environment variable (passphrase_env) or a file (passphrase_file).
# The "local" environment is the simulator (`sf1630 platform serve`); test before production
# (PROTOCOL.md rule 9). Check this config with: sf1630 config check --config {name}
"""
MUNICIPALITY_HEADER = """\
# Municipality file for {name}, written by `sf1630 init`. Add one file per municipality.
"""
COMMENTS = {
    "[agent]": "# journal: the agent's memory of every transfer; spool: local copies (both owner-only)",
    "[environments.local]": "# Each environment: the platform's SFTP host, port, and a known_hosts file with its host key",
    "[environments.test]": "# Replace the host with the one KOMBIT gives for the test environment",
    "[environments.production]": "# Replace the host with the production one",
    "[municipality]": "# cvr: the municipality's CVR number (8 digits); replace the example value",
    "[[send]]": "# A source this municipality's extracts come from; recipients: the LIS SFTP users (simple routing)",
    "[send.options]": "# The source's options: adapter is \"synthetic\" (fake rows), \"sql\" or \"directory\"",
    "[receive]": "# expected_senders: SFTP users whose files are accepted (empty: any)",
    "[[receive.sinks]]": "# Where delivered files are loaded: \"sqlite\", \"postgres\" or \"directory\"",
    "[accounts.LIS]": "# One SFTP user per municipality (PROTOCOL.md rule 1), made from this pattern for each one",
    "[[defaults.send]]": "# Every municipality of the list sends this; {MUNICIPALITY} is its key in capitals",
    "[defaults.receive]": "# Every municipality of the list receives like this; a file municipalities/<key>.toml\n"
                          "# may override any key for one of them (then add it to [agent].municipalities)",
    "[[defaults.receive.sinks]]": "# {municipality} is replaced by each municipality's key",
}
SITE_HEADER = """\
# The municipalities come from municipalities.csv (key, name, cvr and any column of your own, which
# becomes a placeholder: a column lis_user is {{lis_user}}). Show what one municipality ends up with:
#   sf1630 config show --config {name} --municipality KEY
"""


def starter_files(kind: Kind, municipality: str = "example", cvr: str = "11111111") -> dict[str, str]:
    """The files of a starter config, by path relative to its folder."""
    import tomli_w  # late: only `sf1630 init` writes TOML

    name = "-".join(part.capitalize() for part in municipality.split("-")) + " Kommune"
    user_prefix = municipality.upper()
    agent = _agent(kind, municipality, user_prefix)
    town = _municipality(kind, municipality, name, cvr, user_prefix)
    return {
        "agent.toml": AGENT_HEADER.format(kind=kind, name="agent.toml") + "\n" + _comment(tomli_w.dumps(agent)),
        f"municipalities/{municipality}.toml": MUNICIPALITY_HEADER.format(name=name) + "\n"
        + _comment(tomli_w.dumps(town)),
    }


def site_files(kind: Kind, csv_text: str) -> dict[str, str]:
    """A site for every municipality of a CSV list: the agent file with [defaults], and the list."""
    import tomli_w  # late: only `sf1630 init` writes TOML

    agent = _agent(kind, "example", "EXAMPLE")
    agent["agent"]["municipalities"] = "municipalities.csv"
    if kind == "source":
        agent["defaults"] = {"send": [{"source": "ky", "account": "KY", "routing": "simple",
                                       "recipients": ["{MUNICIPALITY}_LIS01_SIMPEL"], "schedule": "0 2 1 * *",
                                       "options": {"adapter": "synthetic"}}]}
    else:
        agent["accounts"] = {"LIS": {"user": "{MUNICIPALITY}_LIS01_SIMPEL", "keys": ["keys/{municipality}_ed25519"]}}
        agent["defaults"] = {"receive": {"account": "LIS", "expected_senders": [],
                                         "sinks": [{"type": "sqlite", "options": {"path": "lis/{municipality}.sqlite3"}}]}}
    header = AGENT_HEADER.format(kind=kind, name="agent.toml") + SITE_HEADER.format(name="agent.toml")
    return {"agent.toml": header + "\n" + _comment(tomli_w.dumps(agent)), "municipalities.csv": csv_text}


def _agent(kind: Kind, municipality: str, user_prefix: str) -> dict[str, Any]:
    if kind == "source":
        accounts = {"KY": {"user": "KY_SFTPSIMPEL", "keys": ["keys/ky_ed25519"]}}
    else:
        accounts = {municipality: {"user": f"{user_prefix}_LIS01_SIMPEL", "keys": [f"keys/{municipality}_ed25519"]}}
    return {
        "agent": {**defaults_of(AgentTable, STARTER_AGENT_KEYS), "environment": "local"},
        "environments": {
            "local": {"host": "127.0.0.1", "port": 2222, "known_hosts": "keys/known_hosts.local"},
            "test": {"host": "sftp-test.platform.invalid", "port": 22, "known_hosts": "keys/known_hosts.test"},
            "production": {"host": "sftp.platform.invalid", "port": 22, "known_hosts": "keys/known_hosts.production"},
        },
        "accounts": accounts,
    }


STARTER_AGENT_KEYS = ("journal", "spool", "environment", "municipalities", "plugin_paths", "concurrency", "receipt_timeout",
                      "poll_interval", "warn_days")
HELP_WIDTH = 100  # a key's help is put after it when the line stays this short


def defaults_of(declared: type, keys: tuple[str, ...]) -> dict[str, Any]:
    """The declared defaults of ``keys``, whole numbers written as such (600, not 600.0)."""
    fields = {f.name: f for f in dataclasses.fields(declared)}
    out = {}
    for key in keys:
        value = default_of(fields[key])
        out[key] = int(value) if isinstance(value, float) and value.is_integer() else value
    return out


def declared_for(header: str) -> type | None:
    """The declaration of a table header as tomli-w writes it: ``[environments.local]`` is
    ``[environments.NAME]``, ``[[defaults.send]]`` is ``[[send]]``."""
    brackets = 2 if header.startswith("[[") else 1
    parts = header.strip("[]").split(".")
    if parts[0] == "defaults":
        parts = parts[1:]
    if parts and parts[0] in ("environments", "accounts") and len(parts) == 2:
        parts[1] = "NAME"
    name = "[" * brackets + ".".join(parts) + "]" * brackets
    return {**AGENT_FILE, **MUNICIPALITY_FILE}.get(name)


def _help(declared: type | None, line: str) -> str:
    """``line`` with its key's declared help after it, when there is one and room for it."""
    key = line.split("=", 1)[0].strip()
    helps = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(declared)} if declared else {}
    if " = " not in line or key not in helps or "[" in helps[key][:1]:
        return line
    text = f"{line}  # {helps[key]}"
    return text if len(text) <= HELP_WIDTH else line


def _municipality(kind: Kind, key: str, name: str, cvr: str, user_prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = {"municipality": {"key": key, "name": name, "cvr": cvr}}
    if kind == "source":
        data["send"] = [{
            "source": "ky",
            "account": "KY",
            "routing": "simple",
            "recipients": [f"{user_prefix}_LIS01_SIMPEL"],
            "schedule": "0 2 1 * *",
            "options": {"adapter": "synthetic"},
        }]
    else:
        data["receive"] = {"account": key, "expected_senders": [], "sinks": [{"type": "sqlite"}]}
    return data


def _comment(body: str) -> str:
    lines: list[str] = []
    declared: type | None = None
    for line in body.splitlines():
        if line == "[defaults]":  # tomli-w writes the empty parent table; the sub-tables say it all
            continue
        if line.startswith("["):
            declared = declared_for(line)
        if line in COMMENTS:
            if lines and lines[-1] != "":
                lines.append("")
            lines.append(COMMENTS[line])
        lines.append(_help(declared, line))
    return "\n".join(lines) + "\n"
