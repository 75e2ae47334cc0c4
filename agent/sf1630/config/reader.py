"""Reading one TOML file, collecting every problem instead of stopping at the first.

A table is checked against its declaration (``sf1630.config.tables``) by the one validator of
``sf1630.options``. Every problem carries the file, the line (from ``SourceMap``) and the dotted key,
e.g. ``send[1].route.sender_it_system`` (issue #13: every error with file, line and key).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sf1630.config.locate import PathPart, SourceMap
from sf1630.config.model import Problem
from sf1630.options import show_value, table_values

# Words that name a secret. Keys ending _env or _file say where a secret is, which is allowed.
SECRET_WORDS = {"passphrase", "password", "passwd", "secret", "token", "apikey"}
URL_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")
SYNTAX_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def dotted(where: Sequence[PathPart], key: str | None = None) -> str:
    """``("send", 1, "route"), "x"`` -> ``send[1].route.x``."""
    out = ""
    for part in [*where, *([key] if key is not None else [])]:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            out += f".{name}" if out else name
    return out


def is_secret_key(key: str) -> bool:
    """True for keys such as ``password`` or ``smtp_token`` that would hold a secret in the file."""
    lower = key.lower()
    if lower.endswith(("_env", "_file", "_path")):
        return False
    return lower.replace("-", "_").split("_")[-1] in SECRET_WORDS


class TomlFile:
    """One TOML file: its data, where its keys are, and the problems found in it."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        self.map = SourceMap("")
        self.data: dict[str, Any] | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent

    def load(self) -> dict[str, Any] | None:
        """Parse the file; on failure record the problem (with tomllib's line) and return None."""
        try:
            text = self.path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            self.problems.append(Problem(self.path, None, "", "no such file; `sf1630 init DIR` writes a starter config"))
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(self.path, None, "", f"cannot read the file: {exc}"))
            return None
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = SYNTAX_LINE.search(str(exc))
            line = int(match.group(1)) if match else None
            self.problems.append(Problem(self.path, line, "", f"TOML syntax error: {exc}"))
            return None
        self.map = SourceMap(text)
        self._find_secrets(self.data, ())
        return self.data

    def report(self, where: Sequence[PathPart], key: str | None, message: str) -> None:
        """Record a problem at ``key`` of table ``where`` (or at the table when key is None)."""
        self.problems.append(Problem(self.path, self.map.line(where, key), dotted(where, key), message))

    def place(self, where: Sequence[PathPart]) -> tuple[Path, int]:
        """The file and line that wrote table ``where`` (records keep it for later messages)."""
        return self.path, self.map.line(where)

    def base(self, where: Sequence[PathPart]) -> Path:
        """The folder relative paths inside table ``where`` are relative to."""
        return self.folder

    def _find_secrets(self, table: dict[str, Any], where: tuple[PathPart, ...]) -> None:
        for key, value in table.items():
            if is_secret_key(key):
                self.report(where, key, "secrets never go in a config file; for an SSH key use passphrase_env "
                            "(the name of an environment variable) or passphrase_file (a file readable only "
                            "by the agent's user); for other secrets use the plugin's *_env or *_file option")
            elif isinstance(value, str) and URL_PASSWORD.match(value):
                self.report(where, key, "this URL holds a password; leave it out of the URL and give it through "
                            "the environment (for PostgreSQL: PGPASSWORD, or a ~/.pgpass file)")
            elif isinstance(value, dict):
                self._find_secrets(value, (*where, key))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        self._find_secrets(item, (*where, key, i))

    def check(self, declared: type, table: dict[str, Any], where: Sequence[PathPart],
              skip: Sequence[str] = ()) -> dict[str, Any]:
        """Check ``table`` against its declaration (``sf1630.config.tables``), reporting each problem
        at its key; return every declared key's value, the default where it is missing or wrong.

        Secrets are reported already; keys in ``skip`` have a message of the caller's own.
        """
        values, problems = table_values(declared, table, lambda key: key in skip or is_secret_key(key))
        for key, message in problems:
            if key not in skip:
                self.report(where, key, message)
        return values

    def resolve(self, value: str) -> Path:
        """Resolve ``value`` against this file's folder."""
        return (self.folder / Path(value).expanduser()).resolve()

    def subtable(self, table: dict[str, Any], where: Sequence[PathPart], key: str,
                 *, required: str | None = None) -> dict[str, Any] | None:
        """A table; None when missing (reported when ``required``) or of another type (reported)."""
        value = table.get(key)
        if value is None and required is not None:
            self.report(where, key, f"missing; {required}")
        elif value is not None and not isinstance(value, dict):
            self.report(where, key, f"must be a table, not {show_value(value)}")
            return None
        return value

    def tables(self, table: dict[str, Any], where: Sequence[PathPart], key: str) -> list[dict[str, Any]]:
        """An array of tables such as ``[[send]]``."""
        value = table.get(key, [])
        if isinstance(value, dict):
            self.report(where, key, f"write [[{dotted(where, key)}]] (an array of tables), not [{dotted(where, key)}]")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.report(where, key, f"write [[{dotted(where, key)}]] tables, not {show_value(value)}")
            return []
        return value

