"""The deploy inventory: which hosts get the agent, how to reach them, what each gets (issue #10).

A TOML file with an optional ``[deploy]`` table, shared ``[defaults]`` and one table per host, written
either as ``[hosts.NAME]`` or as ``[[hosts]]`` with ``name = "..."``. Paths are relative to the inventory.
No secret is ever in it: the SSH key is a path, its passphrase comes from an environment variable or
a file (issue #10, "Never a secret in the inventory").
"""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sf1630.config.locate import SourceMap
from sf1630.errors import ConfigError

SERVICES = ("systemd", "none", "command")
DOCTOR = ("online", "offline", "off")  # run the new release's doctor; offline: without connecting
SECRET_WORDS = ("password", "passphrase", "secret", "token")
HOST_KEYS = {
    "address", "port", "user", "key", "key_passphrase_env", "key_passphrase_file", "known_hosts", "dir",
    "service", "unit", "restart_command", "sudo", "owner", "keep_releases", "connect_timeout",
    "min_free_mb", "files", "name", "doctor",
}
FILE_KEYS = {"config", "municipalities", "plugins", "secrets"}
DEPLOY_KEYS = {"parallel", "binary"}


@dataclass(frozen=True)
class HostFiles:
    """Local files a host gets: the agent config, municipality files, a plugin folder, secret files."""

    config: Path | None = None
    municipalities: tuple[Path, ...] = ()
    plugins: Path | None = None
    secrets: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Host:
    """One host of the inventory, with defaults applied."""

    name: str
    address: str
    user: str
    key: Path
    known_hosts: Path
    dir: str = "/opt/sf1630"
    port: int = 22
    key_passphrase_env: str | None = None
    key_passphrase_file: Path | None = None
    service: str = "none"
    unit: str = "sf1630.service"
    restart_command: str | None = None
    sudo: bool = False
    owner: str | None = None
    keep_releases: int = 3
    connect_timeout: float = 10.0
    min_free_mb: int = 100
    doctor: str = "online"
    files: HostFiles = field(default_factory=HostFiles)

    def passphrase(self) -> str | None:
        """The key's passphrase from the environment or its file, or None for an unencrypted key."""
        if self.key_passphrase_env:
            value = os.environ.get(self.key_passphrase_env)
            if value is None:
                raise ConfigError(f"host {self.name}: environment variable {self.key_passphrase_env} "
                                  "(key_passphrase_env) is not set; export it before deploying")
            return value
        if self.key_passphrase_file:
            try:
                return self.key_passphrase_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"host {self.name}: cannot read key_passphrase_file "
                                  f"{self.key_passphrase_file}: {exc.strerror}") from None
        return None


@dataclass(frozen=True)
class Inventory:
    """Every host of one inventory file, in file order."""

    path: Path
    hosts: dict[str, Host]
    parallel: int = 4
    binary: Path | None = None

    def select(self, names: list[str] | None) -> list[Host]:
        """The named hosts (all when ``names`` is empty); an unknown name is an error."""
        if not names:
            return list(self.hosts.values())
        unknown = [n for n in names if n not in self.hosts]
        if unknown:
            raise ConfigError(f"{self.path}: no host named {', '.join(unknown)}; "
                              f"the inventory has {', '.join(self.hosts) or 'no hosts'}")
        return [self.hosts[n] for n in names]


class _Reader:
    """Turns the parsed TOML into records, reporting file, line and key of every problem."""

    def __init__(self, path: Path, text: str):
        self.path, self.base = path, path.parent
        self.map = SourceMap(text)

    def fail(self, where: tuple[Any, ...], key: str | None, message: str) -> ConfigError:
        line = self.map.line(where, key)
        dotted = ".".join(str(p) for p in where + ((key,) if key else ()))
        return ConfigError(f"{self.path}:{line}: {dotted}: {message}")

    def local_path(self, value: Any, where: tuple[Any, ...], key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.fail(where, key, "expected a path as a string")
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base / path

    def check_keys(self, table: dict[str, Any], allowed: set[str], where: tuple[Any, ...]) -> None:
        for key in table:
            if key in allowed:
                continue
            if any(word in key.lower() for word in SECRET_WORDS):
                raise self.fail(where, key, "never put a secret in the inventory; name an environment "
                                "variable with key_passphrase_env or a file with key_passphrase_file")
            raise self.fail(where, key, f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def files(self, defaults: dict[str, Any], own: dict[str, Any], where: tuple[Any, ...]) -> HostFiles:
        self.check_keys(defaults, FILE_KEYS, ("defaults", "files"))
        self.check_keys(own, FILE_KEYS, where)
        merged = {**defaults, **own}

        def at(key: str) -> tuple[Any, ...]:
            return where if key in own else ("defaults", "files")

        config, plugins = merged.get("config"), merged.get("plugins")
        return HostFiles(
            config=self.existing(config, at("config"), "config", Path.is_file) if config else None,
            municipalities=tuple(self.globbed(merged.get("municipalities", []), at("municipalities"),
                                              "municipalities")),
            plugins=self.existing(plugins, at("plugins"), "plugins", Path.is_dir) if plugins else None,
            secrets=tuple(self.globbed(merged.get("secrets", []), at("secrets"), "secrets")),
        )

    def existing(self, value: Any, where: tuple[Any, ...], key: str, test: Any) -> Path:
        path = self.local_path(value, where, key)
        if not test(path):
            kind = "folder" if test is Path.is_dir else "file"
            raise self.fail(where, key, f"{path} is not an existing {kind}")
        return path

    def globbed(self, values: Any, where: tuple[Any, ...], key: str) -> list[Path]:
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            raise self.fail(where, key, "expected a list of paths or glob patterns")
        found: list[Path] = []
        for value in values:
            pattern = self.local_path(value, where, key)
            matches = sorted(Path(p) for p in glob.glob(str(pattern)))
            if not matches:
                raise self.fail(where, key, f"{pattern} matches no file")
            found += matches
        return found

    def host(self, name: str, table: dict[str, Any], defaults: dict[str, Any], where: tuple[Any, ...]) -> Host:
        self.check_keys(table, HOST_KEYS, where)
        v = _Values(self, {**defaults, **table}, table, where)
        for key in ("address", "user", "key", "known_hosts"):
            if key not in v.merged:
                raise self.fail(where, None, f"host {name} has no {key} (give it here or in [defaults])")
        service = v.choice("service", SERVICES, "none")
        if service == "command" and not v.get("restart_command", str):
            raise self.fail(where, "service", 'service = "command" needs restart_command')
        keep = v.get("keep_releases", int, 3)
        if keep < 1:
            raise v.fail("keep_releases", "must be at least 1 (2 keeps a rollback)")
        remote_dir = v.get("dir", str, "/opt/sf1630")
        if not remote_dir.startswith("/"):
            raise v.fail("dir", "the install directory must be an absolute path")
        return Host(
            name=name, address=v.get("address", str), user=v.get("user", str), key=v.path("key"),
            known_hosts=v.path("known_hosts"), dir=remote_dir.rstrip("/") or "/", port=v.get("port", int, 22),
            key_passphrase_env=v.get("key_passphrase_env", str),
            key_passphrase_file=v.path("key_passphrase_file") if "key_passphrase_file" in v.merged else None,
            service=service, unit=v.get("unit", str, "sf1630.service"),
            restart_command=v.get("restart_command", str), sudo=v.get("sudo", bool, False),
            owner=v.get("owner", str), keep_releases=keep,
            connect_timeout=float(v.get("connect_timeout", (int, float), 10.0)),
            min_free_mb=v.get("min_free_mb", int, 100), doctor=v.choice("doctor", DOCTOR, "online"),
            files=self.files(defaults.get("files", {}), table.get("files", {}), where + ("files",)),
        )


class _Values:
    """One host's settings with defaults applied; each error points at the table that set the key."""

    def __init__(self, reader: _Reader, merged: dict[str, Any], own: dict[str, Any], where: tuple[Any, ...]):
        self.reader, self.merged, self.own, self.where = reader, merged, own, where

    def fail(self, key: str, message: str) -> ConfigError:
        return self.reader.fail(self.where if key in self.own else ("defaults",), key, message)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = self.merged.get(key, default)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is int):
            raise self.fail(key, f"expected {_kind_name(kind)}, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}")
        return value

    def path(self, key: str) -> Path:
        return self.reader.local_path(self.merged[key], self.where if key in self.own else ("defaults",), key)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_inventory(path: Path) -> Inventory:
    """Read and check an inventory file; a problem raises ConfigError with file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the inventory: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    reader = _Reader(path, text)
    reader.check_keys(data, {"deploy", "defaults", "hosts"}, ())
    deploy = data.get("deploy", {})
    reader.check_keys(deploy, DEPLOY_KEYS, ("deploy",))
    defaults = data.get("defaults", {})
    reader.check_keys(defaults, HOST_KEYS - {"name"}, ("defaults",))
    hosts: dict[str, Host] = {}
    for name, table, where in _host_tables(reader, data.get("hosts", {})):
        if name in hosts:
            raise reader.fail(where, "name", f"host {name} is named twice")
        hosts[name] = reader.host(name, table, defaults, where)
    if not hosts:
        raise ConfigError(f"{path}: no hosts; add a [hosts.NAME] table with address, user, key and known_hosts")
    parallel = deploy.get("parallel", 4)
    if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
        raise reader.fail(("deploy",), "parallel", "expected a whole number of at least 1")
    binary = deploy.get("binary")
    return Inventory(path=path, hosts=hosts, parallel=parallel,
                     binary=reader.local_path(binary, ("deploy",), "binary") if binary else None)


def _host_tables(reader: _Reader, hosts: Any):
    """(name, table, where) for ``[hosts.NAME]`` tables and for ``[[hosts]]`` entries."""
    if isinstance(hosts, dict):
        for name, table in hosts.items():
            if not isinstance(table, dict):
                raise reader.fail(("hosts",), name, "expected a table [hosts.NAME]")
            yield name, table, ("hosts", name)
    elif isinstance(hosts, list):
        for index, table in enumerate(hosts):
            name = table.get("name")
            if not isinstance(name, str) or not name:
                raise reader.fail(("hosts", index), None, "each [[hosts]] entry needs name = \"...\"")
            yield name, {k: v for k, v in table.items() if k != "name"}, ("hosts", index)
    else:
        raise reader.fail((), "hosts", "expected [hosts.NAME] tables or [[hosts]] entries")
