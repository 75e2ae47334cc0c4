"""Every TOML table of the project, declared as a dataclass and checked by one validator.

Each source and sink declares an ``Options`` dataclass whose every field has a default and help
text (``option(default, help)``), as rclone's backends declare theirs. The agent file, municipality
files, ``[alerts]`` and the simulator's file are declared the same way (``sf1630.config.tables``,
``sf1630.simulator.config``). The same declarations drive ``sf1630 config check``, ``sf1630 init``
and the configuration reference (STYLE.md, "Configuration"). A :class:`Place` says where a table was
written, so a problem names its file and line (``agent.toml:31 [alerts.email]: ...``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from sf1630.errors import ConfigError

_TOML_TYPES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "an array", dict: "a table"}


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # ``option(REQUIRED, help)``: a key the table must have


def option(default: Any, help: str, **metadata: Any) -> Any:
    """Declare one field of an ``Options`` dataclass with its default and help text.

    Use it as ``folder: str = option("archive", "where delivered files are kept")``. Metadata the
    validator knows: ``at_least`` (the lowest number allowed) and ``shown`` (the default as the
    reference states it, when it is computed: "the file name").
    """
    if default is REQUIRED:
        return field(metadata={"help": help, "required": True, **metadata})
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return field(default=default, metadata={"help": help, **metadata})


@dataclass(frozen=True)
class OptionInfo:
    """One documented option of a source or sink."""

    name: str
    type: str
    default: Any
    help: str


def describe_options(options_cls: type) -> list[OptionInfo]:
    """List the fields of an ``Options`` dataclass with their type, default and help."""
    hints = _hints(options_cls)
    infos = []
    for f in dataclasses.fields(options_cls):
        default = f.metadata.get("shown", default_of(f))
        infos.append(OptionInfo(f.name, _type_text(hints.get(f.name, Any)), default, f.metadata.get("help", "")))
    return infos


@functools.lru_cache(maxsize=256)
def _hints(options_cls: type) -> dict[str, Any]:
    # Once per class: resolving the string annotations cost about 1 s of CPU per start of a
    # country-wide agent (1,470 send tables and their specs). Callers only read the dict.
    return typing.get_type_hints(options_cls)


def keys_of(options_cls: type) -> tuple[str, ...]:
    """The keys a table declared by ``options_cls`` accepts, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(options_cls))


def default_of(f: dataclasses.Field) -> Any:
    """A field's default (a fresh copy of a list or table), or ``REQUIRED``."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED if f.default is dataclasses.MISSING else f.default


def check_options(options_cls: type, table: dict, skip: Callable[[str], bool] = lambda key: False
                  ) -> list[tuple[str, str]]:
    """Check a TOML table against an ``Options`` dataclass: a list of (key, problem), empty if fine.

    The one validator of every table: unknown keys (with the likely one), types, required keys and
    lowest values. ``skip`` names keys reported elsewhere already (a secret in the file).
    """
    return _check(options_cls, table, skip)[0]


def table_values(options_cls: type, table: dict, skip: Callable[[str], bool] = lambda key: False
                 ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every declared key's value (the default where the key is missing or wrong), and the problems.

    Readers that judge more than types (a CVR, a cron schedule) go on from these values, so each
    mistake is reported once. A required key that is missing has the value None.
    """
    problems, values = _check(options_cls, table, skip)
    return values, problems


def _check(options_cls: type, table: dict, skip: Callable[[str], bool]) -> tuple[list[tuple[str, str]], dict]:
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    hints = _hints(options_cls)
    problems: list[tuple[str, str]] = []
    values = {name: None if default_of(f) is REQUIRED else default_of(f) for name, f in fields.items()}
    for key, value in table.items():
        if skip(key):
            continue
        if key not in fields:
            problems.append((key, _unknown_key(key, list(fields))))
            continue
        try:
            coerced = _coerce(value, hints.get(key, Any), None)
        except _Mismatch as exc:
            problems.append((key, f"key '{key}' must be {exc}, not {show_value(value)}"))
            continue
        lowest = fields[key].metadata.get("at_least")
        if lowest is not None and coerced < lowest:
            problems.append((key, f"key '{key}' must be at least {lowest}, not {value!r}"))
            continue
        values[key] = coerced
    for name, f in fields.items():
        if name not in table and default_of(f) is REQUIRED:
            problems.append((name, f"key '{name}' is required: {f.metadata.get('help', '')}"))
    return problems, values


@dataclass(frozen=True)
class Place:
    """Where a table was written: ``Place(("alerts", "email"), path, line_of)``.

    ``line_of(where, key)`` gives the line of a key (or of the table, key None) in ``file``; the
    agent's config hands one out as ``config.place(where)``, so a plugin's messages name the file
    and line without reading the file itself.
    """

    where: tuple[str | int, ...]
    file: Path | None = None
    line_of: Callable[[Sequence[str | int], str | None], int] | None = None

    def at(self, key: str | None = None) -> str:
        """``agent.toml:31 [alerts.email]``: the file and line of ``key`` (or the table), and the table."""
        label = "[" + ".".join(str(p) for p in self.where) + "]" if self.where else "[top level]"
        if self.file is None:
            return label
        line = f":{self.line_of(self.where, key)}" if self.line_of else ""
        return f"{self.file}{line} {label}"

    def sub(self, name: str | int) -> Place:
        """The place of the sub-table ``name``."""
        return Place((*self.where, name), self.file, self.line_of)


def build_options(options_cls: type, table: dict, origin: str | Place, *, base: Path | None = None) -> Any:
    """Build an ``Options`` instance from a TOML table, or raise ConfigError naming every problem.

    ``origin`` says where the table is: a text (e.g. "municipalities/a.toml:12 [send.options]") or
    a :class:`Place`, with which each problem names the line of its own key. Relative paths are
    resolved against ``base`` (normally the config file's folder) when given. An Options class with
    paths inside other values (a ``sqlite:///`` URL) resolves them in ``resolve_against(base)``.
    """
    def at(key: str | None) -> str:
        return origin.at(key) if isinstance(origin, Place) else origin

    problems = check_options(options_cls, table)
    if problems:
        raise ConfigError("\n".join(f"{at(key)}: {message}" for key, message in problems))
    hints = _hints(options_cls)
    values = {key: _coerce(value, hints.get(key, Any), base) for key, value in table.items()}
    try:
        built = options_cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{at(None)}: {exc}") from None
    if base is not None and callable(getattr(built, "resolve_against", None)):
        built.resolve_against(base)
    return built


class _Mismatch(Exception):
    """A value does not fit a field's type; the message says what was expected."""


def _coerce(value: Any, hint: Any, base: Path | None) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        return _coerce_union(value, [a for a in args if a is not type(None)], base)
    if origin is Literal:
        if value not in args:
            raise _Mismatch("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _Mismatch("an array")
        return origin(_coerce(v, args[0] if args else Any, base) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _Mismatch("a table")
        return value
    return _coerce_plain(value, hint, base)


def _coerce_union(value: Any, options: list, base: Path | None) -> Any:
    expected = []
    for hint in options:
        try:
            return _coerce(value, hint, base)
        except _Mismatch as exc:
            expected.append(str(exc))
    raise _Mismatch(" or ".join(expected))


def _coerce_plain(value: Any, hint: Any, base: Path | None) -> Any:
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise _Mismatch("a path (string)")
        path = Path(value).expanduser()
        return base / path if base is not None and not path.is_absolute() else path
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise _Mismatch("an integer")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _Mismatch(_TOML_TYPES.get(hint, f"a {hint.__name__}"))
    return value


def _unknown_key(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}; valid keys: {', '.join(valid)}"


def show_value(value: Any) -> str:
    """``'x' (string)``: a value as the file wrote it, and its TOML type."""
    kind = next((name for t, name in _TOML_TYPES.items() if isinstance(value, t)), type(value).__name__)
    shown = repr(value)
    return f"{shown if len(shown) < 60 else shown[:57] + '...'} ({kind.split()[-1]})"


def _type_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_text(a) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_text(a) for a in args)}]"
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))
