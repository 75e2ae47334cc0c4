"""The simulator's TOML config: `[server]`, `[[users]]`, `[[routes]]`, `[retention]` (issues #8, #12),
and `municipalities`, a CSV list that users and routes can be written once for (issue #20).

Each table is declared as plugin ``Options`` are (``option(default, help)``) and checked by the one
validator of ``sf1630.options``; the checks that need more than a key's type follow here. Paths are
relative to the config file. Every problem is reported with file, line and key, all at once.
docs/SIMULATOR.md is the reference; tests/meta holds it to these declarations.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.config.locate import SourceMap
from sf1630.errors import ConfigError
from sf1630.options import REQUIRED, option, table_values
from sf1630.simulator.expand import expand, read_municipalities

METADATA_ROOTS = ("FileMetadata", "Trigger")
DEFAULT_INF_REF = "KommunalLedelseInformationOverfør_1"
KEY_LINE = re.compile(r"^\s*(ssh-|ecdsa-sha2-|sk-)")   # an OpenSSH key line, not a path
_USER_NAME = re.compile(r"^[A-Za-z0-9ÆØÅæøå][A-Za-z0-9ÆØÅæøå_.@-]{0,99}$")


@dataclass
class ServerConfig:
    """`[server]`: where to listen and where the users' folders live.

    A relative ``host_key`` is inside ``root``. ``host_key_rsa`` None: no RSA host key (the default
    when built in code; the TOML default is ``<root>/.platform/host_key_rsa``).
    """

    root: Path = option(REQUIRED, "the folder that holds every user's IN/ and OUT/")
    host_key: Path = option(Path(".platform/host_key_ed25519"), "the host key; created when missing",
                            shown="<root>/.platform/host_key_ed25519")
    host_key_rsa: Path | None = option(None, 'the RSA host key offered beside it; "" offers none',
                                       shown="<root>/.platform/host_key_rsa")
    host: str = option("127.0.0.1", "address to listen on")
    port: int = option(2222, "TCP port; 0 picks a free one")
    metadata_root: str = option("FileMetadata", "root element of metadata files: FileMetadata or Trigger")
    settle_seconds: float = option(1.0, "how long a closed trigger stays visible before it is taken", at_least=0)
    scan_seconds: float = option(5.0, "interval of the scan for triggers nobody announced")
    fsync: bool = option(True, "fsync each data file before its metadata appears")
    max_routes: int = option(4, "triggers processed at the same time", at_least=1)
    lenient_triggers: bool = option(False, "accept triggers KOMBIT's contract refuses")

    def __post_init__(self) -> None:
        if not self.host_key.is_absolute():
            self.host_key = self.root / self.host_key


@dataclass
class UserConfig:
    """`[[users]]`: an SFTP user with its authorized keys (paths or OpenSSH key lines)."""

    name: str = option(REQUIRED, "the SFTP user name (letters, digits, _ . @ -)")
    public_keys: list[str] = option([], "public key files or OpenSSH key lines; empty: cannot log in")


@dataclass
class RouteConfig:
    """`[[routes]]`: the six route values and the user the file goes to (dynamic routing)."""

    sender_authority: str = option(REQUIRED, "SenderAuthority (urn:oio:cvr-nr: + 8 digits)")
    sender_it_system: str = option(REQUIRED, "SenderIt-system (a UUID)")
    recipient_authority: str = option(REQUIRED, "RecipientAuthority")
    sftp_user: str = option(REQUIRED, "the SFTP user that uploaded the trigger")
    recipient: str = option(REQUIRED, "the user the file is delivered to (one of the [[users]])")
    recipient_it_system: str | None = option(None, "RecipientIt-system; compared only when both give one")
    infref: str = option(DEFAULT_INF_REF, "InfRef")


@dataclass
class RetentionConfig:
    """`[retention]`: delete files unchanged for `days`, warn at `warn_days`; 0 days turns it off."""

    days: float = option(30.0, "files unchanged this many days are deleted (0: never)", at_least=0)
    warn_days: float = option(20.0, "at this age a warning is logged", at_least=0)
    sweep_seconds: float = option(3600.0, "how often the sweep runs")


@dataclass(kw_only=True)
class PlatformFile:
    """The top level of the simulator's file."""

    municipalities: Any = option(None, "a municipality list (CSV) users and routes are made for")
    server: Any = option({}, "[server]: where to listen and where the users' folders live")
    users: Any = option([], "[[users]]: the SFTP users")
    routes: Any = option([], "[[routes]]: dynamic routing")
    retention: Any = option({}, "[retention]: deleting old files")


@dataclass
class PlatformConfig:
    """The whole simulator config."""

    server: ServerConfig
    users: list[UserConfig]
    routes: list[RouteConfig] = field(default_factory=list)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    path: Path | None = None

    def user(self, name: str) -> UserConfig | None:
        """The user called `name`, or None."""
        return next((u for u in self.users if u.name == name), None)


# The tables as docs/SIMULATOR.md names them; tests/meta checks the reference lists every key.
PLATFORM_FILE: dict[str, type] = {"[server]": ServerConfig, "[[users]]": UserConfig, "[[routes]]": RouteConfig,
                                  "[retention]": RetentionConfig}


class _Problems:
    """Collects problems with the line of each key (``SourceMap``), as ``file:line: users[2].name: ...``."""

    def __init__(self, path: Path, text: str):
        self.path, self.map = path, SourceMap(text)
        self.items: list[str] = []

    def add(self, table: str, index: int | None, key: str | None, message: str) -> None:
        where = tuple(p for p in (table, index) if p is not None and p != "")
        line = self.map.line(where, key)
        name = table if index is None else f"{table}[{index + 1}]"
        dotted = ".".join(part for part in (name, key) if part)
        self.items.append(f"{self.path}:{line}: {dotted}: {message}" if dotted else f"{self.path}:{line}: {message}")

    def check(self, declared: type, table: dict[str, Any], where: tuple[str, int | None]) -> dict[str, Any]:
        """Check ``table`` against its declaration; every declared key's value (default when wrong)."""
        values, problems = table_values(declared, table)
        for key, message in problems:
            self.add(where[0], where[1], key, message)
        return values

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError("invalid platform config:\n  " + "\n  ".join(self.items))


def _server(raw: dict[str, Any], base: Path, problems: _Problems) -> ServerConfig:
    v = problems.check(ServerConfig, raw, ("server", None))
    root = (base / (v["root"] or "platform-root")).resolve()
    rsa = raw.get("host_key_rsa")  # "" turns the RSA key off
    host_key_rsa = (None if rsa == "" else base / v["host_key_rsa"] if v["host_key_rsa"]
                    else root / ".platform" / "host_key_rsa")
    host_key = base / v["host_key"] if "host_key" in raw and v["host_key"].parts else root / v["host_key"]
    server = ServerConfig(**{**v, "root": root, "host_key": host_key.absolute(),
                             "host_key_rsa": host_key_rsa.absolute() if host_key_rsa else None})
    if not 0 <= server.port <= 65535:
        problems.add("server", None, "port", f"{server.port} is not a TCP port (0-65535; 0 picks a free one)")
    if server.metadata_root not in METADATA_ROOTS:
        problems.add("server", None, "metadata_root", f"must be one of {', '.join(METADATA_ROOTS)}")
    if server.scan_seconds <= 0:
        problems.add("server", None, "scan_seconds", f"{server.scan_seconds} is out of range (more than 0)")
    return server


def _users(raw: Any, tables: list[tuple[int, Any]], base: Path, problems: _Problems) -> list[UserConfig]:
    users: list[UserConfig] = []
    if not isinstance(raw, list) or not raw:
        problems.add("users", None, None, "add at least one [[users]] table with name and public_keys")
        return users
    for n, table in tables:
        v = problems.check(UserConfig, table, ("users", n))
        name = v["name"] or ""
        if v["name"] is not None and not _USER_NAME.match(name):
            problems.add("users", n, "name", f"{name!r} is not a valid user name (letters, digits, _ . @ -)")
        elif any(u.name == name for u in users):
            problems.add("users", n, "name", f"user {name!r} is defined twice")
        resolved = [k if KEY_LINE.match(k) else str((base / k).absolute()) for k in v["public_keys"]]
        users.append(UserConfig(name=name, public_keys=resolved))
    return users


def _routes(tables: list[tuple[int, Any]], users: list[UserConfig], problems: _Problems) -> list[RouteConfig]:
    routes: list[RouteConfig] = []
    names = {u.name for u in users}
    for n, table in tables:
        values = problems.check(RouteConfig, table, ("routes", n))
        empty = [key for key, value in values.items() if key in table and value == ""]
        for key in empty:
            problems.add("routes", n, key, "must not be empty")
        for key in ("sftp_user", "recipient"):
            if values[key] and values[key] not in names:
                problems.add("routes", n, key, f"{values[key]!r} is not one of the [[users]]")
        values["infref"] = values["infref"] or DEFAULT_INF_REF
        if all(value is not None for key, value in values.items() if key != "recipient_it_system") and not empty:
            routes.append(RouteConfig(**values))
    return routes


def _retention(raw: dict[str, Any], problems: _Problems) -> RetentionConfig:
    retention = RetentionConfig(**problems.check(RetentionConfig, raw, ("retention", None)))
    if retention.sweep_seconds <= 0:
        problems.add("retention", None, "sweep_seconds", f"{retention.sweep_seconds} is out of range (more than 0)")
    if retention.days and retention.warn_days >= retention.days:
        problems.add("retention", None, "warn_days", "must be less than days")
    return retention


def load_platform_config(path: Path) -> PlatformConfig:
    """Read and check a simulator config; raises ConfigError listing every problem with file:line: key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the platform config: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    problems = _Problems(path, text)
    problems.check(PlatformFile, raw, ("", None))
    base = path.parent.absolute()
    server = _server(raw.get("server", {}) if isinstance(raw.get("server"), dict) else {}, base, problems)
    lists = read_municipalities(raw.get("municipalities"), base, problems)
    users = _users(raw.get("users"), expand(raw.get("users"), "users", lists, problems), base, problems)
    routes = _routes(expand(raw.get("routes", []), "routes", lists, problems), users, problems)
    retention = _retention(raw.get("retention", {}) if isinstance(raw.get("retention"), dict) else {}, problems)
    problems.raise_if_any()
    return PlatformConfig(server=server, users=users, routes=routes, retention=retention, path=path)
