"""Load the agent file and its municipality files into an ``AgentConfig``, reporting every problem.

Paths are relative to the file that names them. The environment comes from ``--env``, else
``SF1630_ENV``, else ``[agent].environment``, else the only one defined (issue #13).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.journal import URL_SCHEMES
from sf1630.config.collisions import check_collisions
from sf1630.config.model import Account, AgentConfig, Environment, MunicipalityConfig, Problem
from sf1630.config.patterns import AccountBook, is_pattern
from sf1630.config.reader import TomlFile
from sf1630.config.site import defaults_layer, read_site
from sf1630.config.tables import AccountTable, AgentFile, AgentTable, EnvironmentTable
from sf1630.errors import ConfigError
from sf1630.options import keys_of

CONFIG_ENV = "SF1630_CONFIG"
ENVIRONMENT_ENV = "SF1630_ENV"
DEFAULT_CONFIG = "agent.toml"
GLOB_CHARS = set("*?[")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
ENVIRONMENT_KEYS = keys_of(EnvironmentTable)
ACCOUNT_KEYS = keys_of(AccountTable)
AGENT_KEYS = keys_of(AgentTable)
# [agent] keys that are settings of AgentConfig as they are
PLAIN = ("concurrency", "connections_per_host", "receipt_timeout", "poll_interval", "grace_seconds", "warn_days",
         "key_max_age_days", "give_up_seconds", "retry_failed_seconds", "unreachable_alert_seconds",
         "lease_seconds", "log_format")


def config_path(arg: str | os.PathLike[str] | None = None) -> Path:
    """The agent file: ``--config``, else ``$SF1630_CONFIG``, else ``agent.toml`` here."""
    return Path(arg or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser().resolve()


@dataclass
class ReadResult:
    """Everything read, usable or not: the config when there were no problems, and the problems."""

    config: AgentConfig | None
    problems: list[Problem]
    municipalities: list[MunicipalityConfig] = field(default_factory=list)
    plugin_paths: list[Path] = field(default_factory=list)
    disabled_plugins: list[str] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)  # those that could be made
    warnings: list[Problem] = field(default_factory=list)  # fine to run with, shown by `config check`


def load_config(path: Path, env: str | None = None) -> AgentConfig:
    """Load and check the config; ``ConfigError`` lists every problem as file:line: key: message."""
    result = read_config(Path(path), env)
    if result.problems or result.config is None:
        problems = result.problems
        error = ConfigError(f"{len(problems)} problem(s) in the config:\n" + "\n".join(map(str, problems)))
        error.problems = problems  # type: ignore[attr-defined]
        raise error
    return result.config


def read_config(path: Path, env: str | None = None) -> ReadResult:
    """Read the agent file and every municipality file, collecting every problem found."""
    problems: list[Problem] = []
    f = TomlFile(Path(path).expanduser().resolve(), problems)
    data = f.load()
    if data is None:
        return ReadResult(None, problems)
    f.check(AgentFile, data, ())
    table = f.subtable(data, (), "agent") or {}
    agent = f.check(AgentTable, table, ("agent",))
    environments = _environments(f, data)
    chosen = _choose_environment(f, agent, environments, env)
    book = _accounts(f, data, environments, chosen)
    warnings: list[Problem] = []
    municipalities = _municipalities(f, agent, book, defaults_layer(f, data), warnings)
    settings = _settings(f, table, agent)
    if "connections_per_host" not in table:
        settings["connections_per_host"] = in_use_at_once(book.accounts, environments, municipalities,
                                                          settings["concurrency"])
    settings["alerts"] = f.subtable(data, (), "alerts") or {}  # checked by the alerts plugin (issue #4)
    result = ReadResult(None, problems, municipalities, settings["plugin_paths"], settings["disabled_plugins"],
                        book.accounts, warnings)
    if not problems and chosen is not None:
        result.config = AgentConfig(path=f.path, environment=environments[chosen], environments=environments,
                                    accounts=book.accounts, municipalities=municipalities, **settings)
    return result


def in_use_at_once(accounts: dict[str, Account], environments: dict[str, Environment],
                   municipalities: list[MunicipalityConfig], concurrency: int) -> int:
    """The default ``connections_per_host``: the accounts in use at once on the busiest host, at least 4.

    Every sending account can be busy at once (each municipality at work uses them all); receiving
    accounts are one per municipality, and ``concurrency`` municipalities work at once.
    """
    def host(name: str) -> tuple[str, int] | None:
        env = environments.get(accounts[name].environment) if name in accounts else None
        return (env.host, env.port) if env else None

    senders = {(host(s.account), s.account) for m in municipalities for s in m.sends}
    receivers = {(host(m.receive.account), m.receive.account) for m in municipalities if m.receive}
    busiest = 0
    for h in {h for h, _ in senders | receivers}:
        busiest = max(busiest, sum(1 for x, _ in senders if x == h)
                      + min(concurrency, sum(1 for x, _ in receivers if x == h)))
    return max(4, busiest)


def _settings(f: TomlFile, table: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    """The settings of AgentConfig from the checked ``[agent]`` values: types and lowest values are
    judged by its declaration (``AgentTable``), what depends on more is judged here."""
    where = ("agent",)
    out: dict[str, Any] = {key: agent[key] for key in PLAIN}
    out.update(journal=_journal(f, table, agent), spool=f.resolve(agent["spool"]),
               plugin_paths=_plugin_paths(f, agent), disabled_plugins=list(agent["disabled_plugins"]),
               log_level=agent["log_level"].upper(), http_port=agent["http_port"], http_bind=agent["http_bind"].strip())
    if out["log_level"] not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        f.report(where, "log_level", "write DEBUG, INFO, WARNING or ERROR")
    if out["log_format"] not in ("text", "json"):
        f.report(where, "log_format", 'write "text" or "json"')
    if not 0 <= out["http_port"] < 65536:
        f.report(where, "http_port", "write a port from 1 to 65535 (0 or no key: no web server)")
    if not out["http_bind"]:
        f.report(where, "http_bind", 'write an address to listen on, e.g. "127.0.0.1" or "0.0.0.0"')
    if out["warn_days"] >= 30:
        f.report(where, "warn_days", "the platform deletes files after 30 days (PROTOCOL.md rule 8); warn before that")
    return out


def _journal(f: TomlFile, table: dict[str, Any], agent: dict[str, Any]) -> Path | str:
    """A SQLite file's path, or a postgresql:// URL: given as ``journal`` or in the variable ``journal_env``."""
    where = ("agent",)
    name = agent["journal_env"]
    if name is None:
        value = agent["journal"]
        return value if value.startswith(URL_SCHEMES) else f.resolve(value)
    if "journal" in table:
        f.report(where, "journal_env", "give journal or journal_env, not both")
    if not ENV_NAME.fullmatch(name):
        f.report(where, "journal_env", f"{name!r} is not an environment variable name")
        return ""
    url = os.environ.get(name, "").strip()
    if not url:
        f.report(where, "journal_env", f"the environment variable {name} is not set (or empty); set it to the "
                 "journal's URL, e.g. postgresql://sf1630@db.example/sf1630 (a password in PGPASSWORD or ~/.pgpass)")
    elif not url.startswith(URL_SCHEMES):
        f.report(where, "journal_env", f"the environment variable {name} must hold a postgresql:// URL; a SQLite "
                 "journal is given with journal = \"path\"")
    return url


def _plugin_paths(f: TomlFile, agent: dict[str, Any]) -> list[Path]:
    paths = [f.resolve(p) for p in agent["plugin_paths"]]
    for path in paths:
        if not path.is_dir():
            f.report(("agent",), "plugin_paths", f"{path} is not a folder; create it or remove it from the list")
    return paths


def _environments(f: TomlFile, data: dict[str, Any]) -> dict[str, Environment]:
    tables = f.subtable(data, (), "environments")  # required: reported by the check of AgentFile
    out: dict[str, Environment] = {}
    for name, table in (tables or {}).items():
        where = ("environments", name)
        if not isinstance(table, dict):
            f.report(("environments",), name, f"write [environments.{name}] as a table with host, port, known_hosts")
            continue
        values = f.check(EnvironmentTable, table, where)
        if not 0 < values["port"] < 65536:
            f.report(where, "port", f"{values['port']} is not a TCP port (1-65535)")
        if values["host"] and values["known_hosts"]:
            out[name] = Environment(name=name, host=values["host"], port=values["port"],
                                    known_hosts=f.resolve(values["known_hosts"]))
    return out


def _choose_environment(f: TomlFile, agent: dict[str, Any], environments: dict[str, Environment],
                        env: str | None) -> str | None:
    given = agent["environment"]
    name, origin = (env, "--env") if env else (os.environ.get(ENVIRONMENT_ENV), ENVIRONMENT_ENV)
    if not name:
        name, origin = given, "environment"
    if not name and len(environments) == 1:
        return next(iter(environments))
    if not environments:
        return None  # already reported
    known = ", ".join(sorted(environments))
    if not name:
        f.report(("agent",), "environment", f"missing; choose one of: {known} (or pass --env)")
        return None
    if name not in environments:
        via = "" if origin == "environment" else f" (from {origin})"
        f.report(("agent",), "environment", f"no environment {name!r}{via}; the file defines: {known}")
        return None
    return name


def _accounts(f: TomlFile, data: dict[str, Any], environments: dict[str, Environment],
              chosen: str | None) -> AccountBook:
    out: dict[str, Account] = {}
    patterns: dict[str, dict[str, Any]] = {}
    tables = f.subtable(data, (), "accounts") or {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            f.report(("accounts",), name, f"write [accounts.{name}] as a table with user and keys")
            continue
        if is_pattern(table):  # made, and its values checked, per municipality; unknown keys are found here
            f.check(AccountTable, {k: v for k, v in table.items() if k not in ACCOUNT_KEYS and k != "key"},
                    ("accounts", name), skip=ACCOUNT_KEYS)
            patterns[name] = table
            continue
        account = _account(f, name, table, environments, chosen)
        if account:
            out[name] = account

    def make(own: str, pattern: str, table: dict[str, Any]) -> Account | None:
        known = {k: v for k, v in table.items() if k in ACCOUNT_KEYS or k == "key"}  # the rest is reported
        return _account(f, own, known, environments, chosen, where=("accounts", pattern))

    return AccountBook(out, patterns, set(tables), f.problems, make, f.report)


def _account(f: TomlFile, name: str, table: dict[str, Any], environments: dict[str, Environment],
             chosen: str | None, *, where: tuple = ()) -> Account | None:
    where = where or ("accounts", name)
    if "key" in table:
        f.report(where, "key", f'write keys = ["{table["key"]}"] (an account may list two keys during a rollover)')
    values = f.check(AccountTable, table, where, skip=("key", "keys") if "key" in table else ())
    user = values["user"]
    if user is not None and not USER.fullmatch(user):
        f.report(where, "user", f"{user!r} is not an SFTP user name (letters, digits, '_', '-', '.')")
    keys = [f.resolve(k) for k in values["keys"] or []]
    if table.get("keys") == []:
        f.report(where, "keys", "list at least one private key file")
    passphrase_env = values["passphrase_env"]
    if passphrase_env is not None and not ENV_NAME.fullmatch(passphrase_env):
        f.report(where, "passphrase_env", f"{passphrase_env!r} is not an environment variable name")
    passphrase_file = f.resolve(values["passphrase_file"]) if values["passphrase_file"] else None
    if passphrase_env and passphrase_file:
        f.report(where, "passphrase_file", "give passphrase_env or passphrase_file, not both")
    environment = values["environment"] or chosen or ""
    if "environment" in table and environment not in environments:
        f.report(where, "environment", f"no environment {environment!r}; the file defines: {', '.join(sorted(environments))}")
        return None
    if user is None or not keys:
        return None
    return Account(name=name, user=user, keys=tuple(keys), passphrase_env=passphrase_env,
                   passphrase_file=passphrase_file, environment=environment)


def _municipalities(f: TomlFile, agent: dict[str, Any], accounts: AccountBook, defaults: Any,
                    warnings: list[Problem]) -> list[MunicipalityConfig]:
    value = agent["municipalities"]
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        f.report(("agent",), "municipalities", "expected a glob string or an array of them, e.g. \"municipalities/*.toml\" "
                 "or a CSV list \"municipalities.csv\"")
        return []
    files = _municipality_files(f, patterns, warnings)
    loaded = read_site(f, files, accounts, defaults)
    _check_account_use(loaded)
    check_collisions(loaded)
    return [m for _, m in loaded]


def _municipality_files(f: TomlFile, patterns: list[str], warnings: list[Problem]) -> list[Path]:
    """The files the patterns name. A plain name must exist; a glob may match nothing (a warning)."""
    found: set[Path] = set()
    empty: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        matches = _glob(f.folder, pattern)
        found |= {p.resolve() for p in matches}
        if not matches:
            (empty if GLOB_CHARS & set(pattern) else missing).append(pattern)
    for name in missing:
        f.report(("agent",), "municipalities", f"no municipality file {name!r} (relative to {f.folder}); "
                 "a name without * ? or [ must exist: create the file, or take the name out of the list")
    if not found and not missing:
        f.report(("agent",), "municipalities", f"no municipality file matches {', '.join(patterns)} "
                 f"(relative to {f.folder}); add one per municipality")
    elif found:
        line = f.map.line(("agent",), "municipalities")
        warnings += [Problem(f.path, line, "agent.municipalities", f"{glob!r} matches no file (relative to "
                             f"{f.folder}); no municipality is read from it") for glob in empty]
    return sorted(found)


def _glob(folder: Path, pattern: str) -> list[Path]:
    path = Path(pattern).expanduser()
    if path.is_absolute():
        return sorted(Path(path.anchor).glob(str(path.relative_to(path.anchor))))
    return sorted(folder.glob(pattern))


def _check_account_use(loaded: list[tuple[TomlFile, MunicipalityConfig]]) -> None:
    """A LIS has one SFTP user per municipality, and a user either sends or receives (PROTOCOL.md rule 1)."""
    senders = {s.account: m.municipality.key for _, m in loaded for s in m.sends}
    receivers: dict[str, str] = {}
    for mf, m in loaded:
        if not m.receive:
            continue
        name = m.receive.account
        if name in receivers:
            mf.report(("receive",), "account", f"account {name!r} already receives for {receivers[name]!r}; "
                      "a LIS has its own SFTP user per municipality (PROTOCOL.md rule 1)")
        elif name in senders:
            mf.report(("receive",), "account", f"account {name!r} also sends for {senders[name]!r}; a source "
                      "system and a LIS each have their own SFTP user (PROTOCOL.md rule 1)")
        else:
            receivers[name] = m.municipality.key
