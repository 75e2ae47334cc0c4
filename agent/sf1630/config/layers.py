"""A municipality's configuration from layers: the agent file's ``[defaults]``, its line of a
municipality CSV, and its own file, each value remembering where it was written (issue #20).

A later layer overrides an earlier one key by key; tables merge, other values are replaced.
Arrays of tables merge by what names an element: a ``[[send]]`` overrides the inherited streams of
the same ``source`` (and ``recipient_code``, when it gives one), a ``[[receive.sinks]]`` the inherited
sink of the same ``type``, a ``[[receive.expect]]`` the one of the same ``source``; an element that
matches nothing inherited is added.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from sf1630.config.locate import PathPart
from sf1630.config.model import Problem
from sf1630.config.reader import TomlFile, dotted

# array of tables -> the keys (with their defaults) that name one of its elements
IDENTITY: dict[tuple[str, ...], tuple[tuple[str, Any], ...]] = {
    ("send",): (("source", None), ("recipient_code", "LIS")),
    ("receive", "sinks"): (("type", None),),
    ("receive", "expect"): (("source", None),),
}
Where = tuple[PathPart, ...]


@dataclass
class Layer:
    """One source of values: its file, its data, and the (line, key as written) of a path in it."""

    file: Path
    data: dict[str, Any]
    locate: Callable[[Where], tuple[int | None, str]]
    own: bool  # written for this municipality (its file or CSV line), not inherited


def toml_layer(f: TomlFile, data: dict[str, Any], prefix: Where = (), own: bool = True) -> Layer:
    """A TOML file's table ``prefix`` as a layer (``("defaults",)`` for the agent file's defaults)."""
    return Layer(f.path, data, lambda p: (f.map.line((*prefix, *p)), dotted((*prefix, *p))), own)


def row_layer(path: Path, line: int, identity: dict[str, str]) -> Layer:
    """A line of a municipality CSV: its identity columns as the ``[municipality]`` table."""
    return Layer(path, {"municipality": dict(identity)}, lambda p: (line, str(p[1]) if len(p) > 1 else ""), True)


class Merged:
    """The layers merged, with the layer and path each value came from."""

    def __init__(self, layers: Sequence[Layer]):
        self.data: dict[str, Any] = {}
        self.origins: dict[Where, tuple[Layer, Where]] = {}
        self.layers = list(layers)
        for layer in self.layers:
            self._table(self.data, layer.data, (), layer, ())

    def locate(self, path: Sequence[PathPart]) -> tuple[Path, int | None, str, Layer]:
        """File, line and key (as written there) of the value at ``path``, else of what encloses it."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            hit = self.origins.get(path[:end])
            if hit:
                layer, source = hit
                line, key = layer.locate((*source, *path[end:]))
                return layer.file, line, key, layer
        layer = self.layers[-1]
        return layer.file, None, dotted(path), layer

    def last_file(self, path: Where) -> Path:
        """The file of the latest layer that wrote anything inside ``path`` (relative paths in an
        options table are relative to it)."""
        writers = [self.layers.index(layer) for p, (layer, _) in self.origins.items() if p[: len(path)] == path]
        return self.layers[max(writers)].file if writers else self.locate(path)[0]

    def _table(self, dst: dict, src: dict, dpath: Where, layer: Layer, spath: Where) -> None:
        self.origins.setdefault(dpath, (layer, spath))  # a table is where it was first written
        for key, value in src.items():
            d, s, old = (*dpath, key), (*spath, key), dst.get(key)
            ident = IDENTITY.get(tuple(p for p in d if isinstance(p, str)))
            if ident and _tables(value) and isinstance(old, list) and _tables(old):
                self._array(old, value, d, layer, s, ident)
            elif isinstance(value, dict) and isinstance(old, dict):
                self._table(old, value, d, layer, s)
            else:
                if key in dst:
                    self._forget(d)
                dst[key] = copy.deepcopy(value)
                self._tree(value, d, layer, s)

    def _array(self, dst: list, src: list, dpath: Where, layer: Layer, spath: Where, ident) -> None:
        inherited = len(dst)  # a layer overrides what earlier layers wrote, never its own elements
        for j, item in enumerate(src):
            matches = [i for i in range(inherited) if _same(dst[i], item, ident)]
            for i in matches:
                self._table(dst[i], item, (*dpath, i), layer, (*spath, j))
            if not matches:
                dst.append(copy.deepcopy(item))
                self._tree(item, (*dpath, len(dst) - 1), layer, (*spath, j))

    def _tree(self, value: Any, dpath: Where, layer: Layer, spath: Where) -> None:
        self.origins[dpath] = (layer, spath)
        if isinstance(value, dict):
            for k, v in value.items():
                self._tree(v, (*dpath, k), layer, (*spath, k))
        elif _tables(value):
            for i, v in enumerate(value):
                self._tree(v, (*dpath, i), layer, (*spath, i))

    def _forget(self, dpath: Where) -> None:
        for p in [p for p in self.origins if p[: len(dpath)] == dpath]:
            del self.origins[p]


def _tables(value: Any) -> TypeGuard[list[dict]]:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _same(old: dict, new: dict, ident: tuple[tuple[str, Any], ...]) -> bool:
    first = ident[0][0]
    if new.get(first) is None:
        return False
    return all(_norm(old.get(k, default)) == _norm(new.get(k, default))
               for k, default in ident if k == first or k in new)


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class LayeredFile(TomlFile):
    """A municipality read from its merged layers: problems go to the file and line of each value.

    A problem in an inherited value is reported once for all municipalities (``seen`` is shared),
    naming the first municipality it was found in.
    """

    def __init__(self, path: Path, problems: list[Problem], merged: Merged, extra: dict[str, str],
                 seen: set, label: str):
        super().__init__(path, problems)
        self.merged, self.extra, self.seen, self.label = merged, extra, seen, label
        self.data = merged.data
        self.map = _Lines(merged)  # type: ignore[assignment]

    def report(self, where: Sequence[PathPart], key: str | None, message: str) -> None:
        file, line, shown, layer = self.merged.locate((*where, *([key] if key is not None else [])))
        if not layer.own:
            if (file, line, shown, message) in self.seen:
                return
            self.seen.add((file, line, shown, message))
            message += f" (inherited by {self.label!r})"
        self.problems.append(Problem(file, line, shown, message))

    def place(self, where: Sequence[PathPart]) -> tuple[Path, int]:
        file, line, _, _ = self.merged.locate(where)
        return file, line or 1

    def base(self, where: Sequence[PathPart]) -> Path:
        return self.merged.last_file(tuple(where)).parent


class _Lines:
    """``map.line(where, key)`` for a merged file: the line in whichever file wrote the value."""

    def __init__(self, merged: Merged):
        self.merged = merged

    def line(self, path: Sequence[PathPart], key: str | None = None) -> int:
        return self.merged.locate((*path, *([key] if key is not None else [])))[1] or 1
