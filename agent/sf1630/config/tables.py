"""The tables of the agent file and of a municipality file, declared as plugin ``Options`` are.

Each dataclass is one TOML table as written: its keys, their types, defaults and help. The one
validator (``sf1630.options.check_options``) checks a table against it; ``sf1630 init`` takes its
starter values from it, and tests/meta holds the configuration reference in docs/AGENT.md to it.
Checks beyond a key's type (a CVR, a cron schedule, an account that exists) stay with the readers.
A key whose value is itself a table (``route``, ``sinks``) is declared ``Any``: its reader checks
its shape and its own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sf1630.config.model import INF_REF
from sf1630.options import REQUIRED, option


@dataclass(kw_only=True)
class AgentFile:
    """The top level of the agent file: its tables."""

    agent: Any = option({}, "[agent]: where the agent keeps its state, and how it works")
    environments: Any = option(REQUIRED, "add [environments.test] with host, port and known_hosts")
    accounts: Any = option({}, "[accounts.NAME]: the SFTP users")
    defaults: Any = option(None, "[defaults]: what every municipality inherits")
    alerts: Any = option({}, "[alerts]: e-mail and webhook alerts (the alerts plugin checks it)")


@dataclass(kw_only=True)
class AgentTable:
    """``[agent]``: where the agent keeps its state, and how it works."""

    journal: str = option("state/journal.sqlite", "a SQLite file's path or a postgresql:// URL")
    journal_env: str | None = option(None, "instead of journal: an environment variable holding the URL")
    spool: str = option("state/spool", "local copies of files on their way")
    environment: str | None = option(None, "which [environments.*] to use", shown="the only one defined")
    municipalities: Any = option("municipalities/*.toml", "globs or names of municipality files and CSV lists")
    plugin_paths: list[str] = option([], "folders with extra plugins")
    disabled_plugins: list[str] = option([], "names of plugins not to load")
    concurrency: int = option(8, "municipalities worked on at once", at_least=1)
    connections_per_host: int = option(4, "SFTP connections per platform host", at_least=1,
                                       shown="the accounts in use at once, at least 4")
    receipt_timeout: float = option(600.0, "seconds before a missing receipt raises an alert", at_least=1)
    poll_interval: float = option(30.0, "seconds between looks at IN/", at_least=0.1)
    grace_seconds: float = option(3600.0, "grace for a data file without metadata", at_least=0)
    warn_days: int = option(20, "retention warning for own files on the server", at_least=1)
    key_max_age_days: int = option(365, "key age warning", at_least=1)
    give_up_seconds: float = option(20.0, "one-shot commands: how long an account that cannot connect is tried",
                                    at_least=1)
    retry_failed_seconds: float = option(300.0, "run: first retry of a failed period", at_least=1)
    unreachable_alert_seconds: float = option(900.0, "run: alert once the platform is unreachable this long",
                                              at_least=1)
    lease_seconds: float = option(20.0, "a shared journal: how long work stays with a silent process", at_least=2)
    log_level: str = option("INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: str = option("text", "text or json")
    http_port: int = option(0, "run: the port of the status page and metrics; 0: none")
    http_bind: str = option("127.0.0.1", "run: the address the status page listens on")


@dataclass(kw_only=True)
class EnvironmentTable:
    """``[environments.NAME]``: the platform's SFTP server in one environment."""

    host: str = option(REQUIRED, "the platform's SFTP host name")
    port: int = option(22, "the SFTP port")
    known_hosts: str = option(REQUIRED, "a file with the platform's host key (OpenSSH known_hosts format; "
                                        "`sf1630 doctor` prints how to add it)")


@dataclass(kw_only=True)
class AccountTable:
    """``[accounts.NAME]``: one SFTP user, or a pattern for one per municipality."""

    user: str = option(REQUIRED, 'the SFTP user name, e.g. "KY_SFTPSIMPEL"')
    keys: list[str] = option(REQUIRED, 'private key files, tried in order, e.g. ["keys/ky_ed25519"]')
    passphrase_env: str | None = option(None, "an environment variable holding the keys' passphrase")
    passphrase_file: str | None = option(None, "a file holding the keys' passphrase (owner-only)")
    environment: str | None = option(None, "the environment of this account", shown="the chosen one")


@dataclass(kw_only=True)
class DefaultsTable:
    """``[defaults]``: what every municipality inherits."""

    send: Any = option([], "[[defaults.send]]: streams every municipality sends")
    receive: Any = option(None, "[defaults.receive]: how every municipality receives")


@dataclass(kw_only=True)
class MunicipalityFile:
    """The top level of a municipality file: its tables."""

    municipality: Any = option(REQUIRED, "add [municipality] with key, name and cvr")
    send: Any = option([], "[[send]]: the streams of a source vendor")
    receive: Any = option(None, "[receive]: what a LIS loads")


@dataclass(kw_only=True)
class MunicipalityTable:
    """``[municipality]``: who the municipality is."""

    key: str | None = option(None, "used on the command line", shown="the file name")
    name: str = option(REQUIRED, 'the municipality\'s name, e.g. "Ikast-Brande Kommune"')
    cvr: str | int = option(REQUIRED, 'the municipality\'s CVR number, 8 digits as a string: cvr = "12345678"')
    authority_id: str | None = option(None, "goes into data file names", shown="cvr")


@dataclass(kw_only=True)
class SendTable:
    """``[[send]]``: one extract stream."""

    source: str = option(REQUIRED, 'the source plugin\'s name, e.g. "ky"')
    account: str = option(REQUIRED, "the name of an account in the agent file's [accounts]")
    routing: str | None = option(None, '"simple" (recipients) or "dynamic" ([send.route])',
                                 shown="dynamic with a route, else simple")
    recipients: list[str] = option([], "the LIS SFTP users (simple routing)")
    recipient_code: str = option("LIS", "goes into data file names")
    schedule: str | None = option(None, "a cron expression", shown="the source's")
    file_type: bool = option(True, "send the file type with the file (PROTOCOL.md rule 5)")
    route: Any = option(None, "[send.route]: the route values (dynamic routing)")
    options: Any = option({}, "[send.options]: the source's options")
    enabled: bool = option(True, "false leaves out an inherited stream")


@dataclass(kw_only=True)
class RouteTable:
    """``[send.route]``: the route values registered with KOMBIT."""

    sender_it_system: str = option(REQUIRED, "the UUID KOMBIT registered for the system, "
                                             'e.g. "3f1c2a9e-0b6d-4c1e-9a57-2d8e4b6f0a11"')
    recipient_it_system: str | None = option(None, "the recipient system's UUID")
    recipient_authority: str | int | None = option(None, "the recipient's CVR", shown="the municipality's CVR")
    inf_ref: str = option(INF_REF, "the InfRef of the route")


@dataclass(kw_only=True)
class ReceiveTable:
    """``[receive]``: the LIS account and what it loads."""

    account: str = option(REQUIRED, "the name of an account in the agent file's [accounts]")
    expected_senders: list[str] = option([], "SFTP users whose files are accepted (empty: any)")
    accept_authorities: list[str] = option([], "authority ids of other municipalities whose files are loaded here")
    sinks: Any = option([], "[[receive.sinks]]: where delivered files are loaded")
    expect: Any = option([], "[[receive.expect]]: extracts expected on a schedule")
    enabled: bool = option(True, "false leaves out an inherited [receive]")


@dataclass(kw_only=True)
class SinkTable:
    """``[[receive.sinks]]``: one place delivered files are loaded into."""

    type: str = option(REQUIRED, 'the sink plugin\'s name, e.g. "sqlite"')
    options: Any = option({}, "[receive.sinks.options]: the sink's options")
    enabled: bool = option(True, "false leaves out an inherited sink")


@dataclass(kw_only=True)
class ExpectTable:
    """``[[receive.expect]]``: an extract that should arrive on a schedule."""

    source: str = option(REQUIRED, 'the source whose extract is expected, e.g. "ky"')
    schedule: str = option(REQUIRED, 'a cron expression: minute hour day month weekday, e.g. "0 6 5 * *"')
    grace: float | str = option(0.0, 'how late it may be: seconds or "30m", "6h", "2d"')
    enabled: bool = option(True, "false leaves out an inherited expectation")


# The tables as docs/AGENT.md names them; tests/meta checks the reference lists every key.
AGENT_FILE: dict[str, type] = {"[agent]": AgentTable, "[environments.NAME]": EnvironmentTable,
                               "[accounts.NAME]": AccountTable, "[defaults]": DefaultsTable}
MUNICIPALITY_FILE: dict[str, type] = {"[municipality]": MunicipalityTable, "[[send]]": SendTable,
                                      "[send.route]": RouteTable, "[receive]": ReceiveTable,
                                      "[[receive.sinks]]": SinkTable, "[[receive.expect]]": ExpectTable}
