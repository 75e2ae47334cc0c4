"""Placeholders such as ``{municipality}`` and accounts written once as a pattern (issue #20).

A value may name the municipality it ends up in: ``{municipality}`` (its key), ``{MUNICIPALITY}``
(the key in capitals, as SFTP user names are written), ``{name}``, ``{cvr}``, ``{authority_id}``, and
every extra column of a municipality CSV. An account whose user, keys or passphrase names one is a
pattern: each municipality that uses it gets its own account, named ``PATTERN:municipality``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sf1630.api import Municipality
from sf1630.config.model import Account, Problem

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PATTERN_KEYS = ("user", "keys", "passphrase_env", "passphrase_file")
MAX_REPORTS = 3  # problems of one pattern account shown for this many municipalities


def values_of(m: Municipality, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The placeholder values of one municipality."""
    return {**(extra or {}), "municipality": m.key, "MUNICIPALITY": m.key.upper(), "name": m.name,
            "cvr": m.cvr, "authority_id": m.authority_id}


def names_in(value: Any) -> set[str]:
    """The placeholder names written anywhere in a value (strings, arrays, tables)."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return {n for v in value.values() for n in names_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in names_in(v)}
    return set()


def fill(value: Any, values: dict[str, str]) -> Any:
    """``value`` with every known placeholder replaced; unknown ones stay (a plugin may have its own)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def unknown_in(value: Any, values: dict[str, str], where: tuple = (),
               skip: Callable[[tuple], bool] = lambda path: False) -> Iterator[tuple[tuple, str]]:
    """(path, name) of each placeholder with no value, outside the paths ``skip`` accepts."""
    if skip(where):
        return
    if isinstance(value, str):
        for name in PLACEHOLDER.findall(value):
            if name not in values:
                yield where, name
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from unknown_in(v, values, (*where, k), skip)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from unknown_in(v, values, (*where, i), skip)


def is_pattern(table: dict[str, Any]) -> bool:
    """True when an ``[accounts.NAME]`` table names a placeholder: one account per municipality."""
    return any(names_in(table.get(key)) for key in PATTERN_KEYS)


class AccountBook:
    """The agent file's accounts: plain ones, and patterns made into one account per municipality.

    ``make(name, table)`` builds an Account from a table, reporting into the agent file's problems
    at the table's own place (``[accounts.PATTERN]``).
    """

    def __init__(self, plain: dict[str, Account], patterns: dict[str, dict[str, Any]], defined: set[str],
                 problems: list[Problem], make: Callable[[str, str, dict[str, Any]], Account | None],
                 report: Callable[[tuple, str, str], None]):
        self.accounts = dict(plain)
        self.patterns = patterns
        self.defined = defined  # every [accounts.*] name, even broken ones: no echo errors
        self.problems, self.make, self.report = problems, make, report
        self.made_from: dict[str, str] = {}  # expanded name -> pattern name
        self._failed: set[str] = set()  # reported once, not again for the next use
        self._failures: dict[str, int] = {}  # pattern -> municipalities whose account failed

    def __contains__(self, name: object) -> bool:
        return name in self.defined

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.defined))

    def use(self, name: str, values: dict[str, str]) -> str | None:
        """The account a municipality with these placeholder values uses under ``name``."""
        if name not in self.patterns:
            return name
        own = f"{name}:{values['municipality']}"
        if own in self.accounts or own in self._failed:
            return None if own in self._failed else own
        table = self.patterns[name]
        before = len(self.problems)
        missing = list(unknown_in({k: table.get(k) for k in PATTERN_KEYS}, values))
        for path, placeholder in missing:
            self.report(("accounts", name), str(path[0]), f"no value for {{{placeholder}}}; known: "
                        f"{', '.join('{' + v + '}' for v in sorted(values))}")
        account = None if missing else self.make(own, name, fill(table, values))
        for i in range(before, len(self.problems)):  # say whose account it was
            p = self.problems[i]
            self.problems[i] = replace(p, message=f"{p.message} (account of municipality {values['municipality']!r})")
        if account is None:
            self._failed.add(own)
            self._failures[name] = self._failures.get(name, 0) + 1
            if self._failures[name] > MAX_REPORTS:
                del self.problems[before:]  # a typo in a pattern would repeat for every municipality
            return None
        self.accounts[own] = account
        self.made_from[own] = name
        return own
