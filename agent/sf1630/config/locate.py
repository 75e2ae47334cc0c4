"""Where a key is in a TOML file: a small scan of the source text for line numbers.

``tomllib`` reports line numbers for syntax errors only. Errors found later (an unknown account, a bad
CVR) must still say file, line and key (issue #13), so this module maps a table path plus key to the
line that wrote it. Arrays of tables count: ``("send", 1, "route")`` is the second ``[[send]]``'s
``[send.route]``. Lines inside multi-line strings and arrays are skipped, never mistaken for keys.
"""

from __future__ import annotations

from collections.abc import Sequence

PathPart = str | int
BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class SourceMap:
    """Lines of the tables and keys of one TOML text."""

    def __init__(self, text: str):
        self.tables: dict[tuple[PathPart, ...], int] = {(): 1}
        self.keys: dict[tuple[PathPart, ...], int] = {}
        self._arrays: dict[tuple[PathPart, ...], int] = {}
        self._scan(text)

    def line(self, path: Sequence[PathPart], key: str | None = None) -> int:
        """The line of ``key`` in table ``path``; else of the nearest enclosing key or table header."""
        full = tuple(path) + ((key,) if key is not None else ())
        for end in range(len(full), -1, -1):
            prefix = full[:end]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.tables:
                return self.tables[prefix]
        return 1

    def _scan(self, text: str) -> None:
        table: tuple[PathPart, ...] = ()
        value = _ValueScanner()
        for number, raw in enumerate(text.splitlines(), start=1):
            if value.open:
                value.feed(raw)
                continue
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                table = self._header(line, number)
                continue
            parts, rest = _split_key(line, 0)
            if not parts or not rest.lstrip().startswith("="):
                continue
            for i in range(1, len(parts)):  # dotted keys define implicit tables
                self.tables.setdefault(table + tuple(parts[:i]), number)
                self.keys.setdefault(table + tuple(parts[:i]), number)
            self.keys[table + tuple(parts)] = number
            value.feed(rest.lstrip()[1:])

    def _header(self, line: str, number: int) -> tuple[PathPart, ...]:
        is_array = line.startswith("[[")
        parts, _ = _split_key(line, 2 if is_array else 1)
        path: list[PathPart] = []
        for i, part in enumerate(parts):
            path.append(part)
            prefix = tuple(path)
            last = i == len(parts) - 1
            if last and is_array:
                self._arrays[prefix] = self._arrays.get(prefix, 0) + 1
            if prefix in self._arrays:
                self.tables.setdefault(prefix, number)
                path.append(self._arrays[prefix] - 1)
        self.tables[tuple(path)] = number
        return tuple(path)


def _split_key(text: str, pos: int) -> tuple[list[str], str]:
    """Parse a possibly dotted, possibly quoted key from ``text[pos:]``; return parts and the rest."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            return parts, ""
        quote = text[pos]
        if quote in "\"'":
            end = pos + 1
            while end < len(text) and text[end] != quote:
                end += 2 if (quote == '"' and text[end] == "\\") else 1
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            end = pos
            while end < len(text) and text[end] in BARE:
                end += 1
            if end == pos:
                return parts, text[pos:]
            parts.append(text[pos:end])
            pos = end
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, text[pos:]


class _ValueScanner:
    """Follows a value across lines: open brackets and multi-line strings."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open multi-line delimiter, if any

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.string is not None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.string:
                i = self._in_multiline(text, i)
                continue
            ch = text[i]
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.string, i = text[i : i + 3], i + 3
            elif ch in "\"'":
                i = _end_of_string(text, i)
            elif ch == "#":
                return
            else:
                self.depth += (ch in "[{") - (ch in "]}")
                i += 1

    def _in_multiline(self, text: str, i: int) -> int:
        assert self.string is not None
        if self.string == '"""' and text[i] == "\\":
            return i + 2
        if text.startswith(self.string, i):
            self.string = None
            return i + 3
        return i + 1


def _end_of_string(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if (quote == '"' and text[i] == "\\") else 1
    return i + 1
