"""The simulator's TOML config: `[server]`, `[[users]]`, `[[routes]]`, `[retention]` (issues #8, #12),
and `municipalities`, a CSV list that users and routes can be written once for (issue #20).

Paths are relative to the config file. Every problem is reported with file, line and key, and all
problems are reported at once. docs/SIMULATOR.md is the reference.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.errors import ConfigError
from sf1630.simulator.expand import expand, read_municipalities

METADATA_ROOTS = ("FileMetadata", "Trigger")
DEFAULT_INF_REF = "KommunalLedelseInformationOverfør_1"
KEY_LINE = re.compile(r"^\s*(ssh-|ecdsa-sha2-|sk-)")   # an OpenSSH key line, not a path
_USER_NAME = re.compile(r"^[A-Za-z0-9ÆØÅæøå][A-Za-z0-9ÆØÅæøå_.@-]{0,99}$")


@dataclass
class ServerConfig:
    """`[server]`: where to listen and where the users' folders live.

    ``host_key_rsa`` None: no RSA host key (the default when built in code; the TOML default is
    ``<root>/.platform/host_key_rsa``).
    """

    root: Path
    host_key: Path
    host_key_rsa: Path | None = None
    host: str = "127.0.0.1"
    port: int = 2222
    metadata_root: str = "FileMetadata"
    settle_seconds: float = 1.0
    scan_seconds: float = 5.0
    fsync: bool = True
    max_routes: int = 4
    lenient_triggers: bool = False


@dataclass
class UserConfig:
    """`[[users]]`: an SFTP user with its authorized keys (paths or OpenSSH key lines)."""

    name: str
    public_keys: list[str] = field(default_factory=list)


@dataclass
class RouteConfig:
    """`[[routes]]`: the six route values and the user the file goes to (dynamic routing)."""

    sender_authority: str
    sender_it_system: str
    recipient_authority: str
    sftp_user: str
    recipient: str
    recipient_it_system: str | None = None
    infref: str = DEFAULT_INF_REF


@dataclass
class RetentionConfig:
    """`[retention]`: delete files unchanged for `days`, warn at `warn_days`; 0 days turns it off."""

    days: float = 30
    warn_days: float = 20
    sweep_seconds: float = 3600.0


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


class _Problems:
    """Collects problems with their line numbers, found by a light scan of the TOML text."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines, self.items = path, text.splitlines(), list[str]()

    def line_of(self, table: str, index: int | None, key: str | None) -> int | None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        starts = [n for n, line in enumerate(self.lines) if header.match(line)]
        if not starts:
            return None
        start = starts[min(index or 0, len(starts) - 1)]
        if key is None:
            return start + 1
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for n in range(start + 1, len(self.lines)):
            if self.lines[n].lstrip().startswith("["):
                break
            if pattern.match(self.lines[n]):
                return n + 1
        return start + 1

    def add(self, table: str, index: int | None, key: str | None, message: str) -> None:
        line = self.line_of(table, index, key)
        name = table if index is None else f"{table}[{index + 1}]"
        dotted = ".".join(part for part in (name, key) if part)
        where = f"{self.path}:{line}" if line else str(self.path)
        self.items.append(f"{where}: {dotted}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError("invalid platform config:\n  " + "\n  ".join(self.items))


def _take(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any,
          problems: _Problems, where: tuple[str, int | None]) -> Any:
    value = table.get(key, default)
    if value is default:
        return default
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float, (int, float)))
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        problems.add(where[0], where[1], key, f"expected {names}, got {value!r}")
        return default
    return value


def _unknown(table: dict[str, Any], allowed: set[str], problems: _Problems, where: tuple[str, int | None]) -> None:
    for key in sorted(set(table) - allowed):
        problems.add(where[0], where[1], key, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _server(raw: dict[str, Any], base: Path, problems: _Problems) -> ServerConfig:
    where = ("server", None)
    _unknown(raw, set(ServerConfig.__dataclass_fields__), problems, where)
    root_text = _take(raw, "root", str, None, problems, where)
    if root_text is None:
        problems.add("server", None, "root", "missing: the folder that holds every user's IN/ and OUT/")
        root_text = "platform-root"
    root = (base / root_text).resolve()
    key_text = _take(raw, "host_key", str, None, problems, where)
    host_key = (base / key_text) if key_text else root / ".platform" / "host_key_ed25519"
    rsa_text = _take(raw, "host_key_rsa", str, None, problems, where)   # "" turns the RSA key off
    host_key_rsa = root / ".platform" / "host_key_rsa" if rsa_text is None else base / rsa_text if rsa_text else None
    server = ServerConfig(root=root, host_key=host_key.absolute(),
                          host_key_rsa=host_key_rsa.absolute() if host_key_rsa else None)
    server.host = _take(raw, "host", str, server.host, problems, where)
    server.port = _take(raw, "port", int, server.port, problems, where)
    if not 0 <= server.port <= 65535:
        problems.add("server", None, "port", f"{server.port} is not a TCP port (0-65535; 0 picks a free one)")
    server.metadata_root = _take(raw, "metadata_root", str, server.metadata_root, problems, where)
    if server.metadata_root not in METADATA_ROOTS:
        problems.add("server", None, "metadata_root", f"must be one of {', '.join(METADATA_ROOTS)}")
    for key in ("settle_seconds", "scan_seconds"):
        value = float(_take(raw, key, (int, float), getattr(server, key), problems, where))
        if value < 0 or (key == "scan_seconds" and value == 0):
            problems.add("server", None, key, f"{value} is out of range")
        setattr(server, key, value)
    server.fsync = _take(raw, "fsync", bool, server.fsync, problems, where)
    server.lenient_triggers = _take(raw, "lenient_triggers", bool, server.lenient_triggers, problems, where)
    server.max_routes = _take(raw, "max_routes", int, server.max_routes, problems, where)
    if server.max_routes < 1:
        problems.add("server", None, "max_routes", "must be at least 1")
    return server


def _users(raw: Any, tables: list[tuple[int, Any]], base: Path, problems: _Problems) -> list[UserConfig]:
    users: list[UserConfig] = []
    if not isinstance(raw, list) or not raw:
        problems.add("users", None, None, "add at least one [[users]] table with name and public_keys")
        return users
    for n, table in tables:
        where = ("users", n)
        _unknown(table, {"name", "public_keys"}, problems, where)
        name = _take(table, "name", str, "", problems, where)
        if not _USER_NAME.match(name):
            problems.add("users", n, "name", f"{name!r} is not a valid user name (letters, digits, _ . @ -)")
        elif any(u.name == name for u in users):
            problems.add("users", n, "name", f"user {name!r} is defined twice")
        keys = _take(table, "public_keys", list, [], problems, where)
        resolved = [k if KEY_LINE.match(str(k)) else str((base / str(k)).absolute()) for k in keys]
        users.append(UserConfig(name=name, public_keys=resolved))
    return users


def _routes(tables: list[tuple[int, Any]], users: list[UserConfig], problems: _Problems) -> list[RouteConfig]:
    routes: list[RouteConfig] = []
    names = {u.name for u in users}
    required = ("sender_authority", "sender_it_system", "recipient_authority", "sftp_user", "recipient")
    for n, table in tables:
        where = ("routes", n)
        _unknown(table, set(RouteConfig.__dataclass_fields__), problems, where)
        values = {key: _take(table, key, str, None, problems, where) for key in RouteConfig.__dataclass_fields__}
        for key in required:
            if not values[key]:
                problems.add("routes", n, key, "missing")
        for key in ("sftp_user", "recipient"):
            if values[key] and values[key] not in names:
                problems.add("routes", n, key, f"{values[key]!r} is not one of the [[users]]")
        values["infref"] = values["infref"] or DEFAULT_INF_REF
        if all(values[key] for key in required):
            routes.append(RouteConfig(**values))
    return routes


def _retention(raw: dict[str, Any], problems: _Problems) -> RetentionConfig:
    where = ("retention", None)
    _unknown(raw, {"days", "warn_days", "sweep_seconds"}, problems, where)
    retention = RetentionConfig()
    for key in ("days", "warn_days", "sweep_seconds"):
        value = float(_take(raw, key, (int, float), getattr(retention, key), problems, where))
        if value < 0 or (key == "sweep_seconds" and value == 0):
            problems.add("retention", None, key, f"{value} is out of range")
        setattr(retention, key, value)
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
    _unknown(raw, {"server", "users", "routes", "retention", "municipalities"}, problems, ("", None))
    base = path.parent.absolute()
    server = _server(raw.get("server", {}) if isinstance(raw.get("server"), dict) else {}, base, problems)
    lists = read_municipalities(raw.get("municipalities"), base, problems)
    users = _users(raw.get("users"), expand(raw.get("users"), "users", lists, problems), base, problems)
    routes = _routes(expand(raw.get("routes", []), "routes", lists, problems), users, problems)
    retention = _retention(raw.get("retention", {}) if isinstance(raw.get("retention"), dict) else {}, problems)
    problems.raise_if_any()
    return PlatformConfig(server=server, users=users, routes=routes, retention=retention, path=path)
