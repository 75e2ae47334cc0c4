"""Fixtures for testing sf1630 plugins with pytest.

Installing sf1630-agent registers this module with pytest (entry point ``pytest11``), so the
fixtures are there in every test without an import:

- ``sf1630_host``: a fresh PluginHost with the built-ins and nothing else;
- ``register_plugin(plugin, name=...)``: register a module, class or object with hook
  implementations into ``sf1630_host``; it is removed again after the test;
- ``make_job(source, options=None, **kw)`` and ``make_delivery(rows=..., header=..., **kw)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sf1630.testing import conformance

__all__ = ["make_delivery", "make_job", "register_plugin", "sf1630_host"]


@pytest.fixture
def sf1630_host() -> Any:
    """A fresh plugin host: the built-ins only (no entry points, no plugin_paths)."""
    # late: this module loads in every pytest run of a project that installs sf1630 (pytest11)
    from sf1630.plugins import make_plugin_host

    return make_plugin_host(entry_points=False)


@pytest.fixture
def register_plugin(sf1630_host: Any) -> Iterator[Callable[..., str]]:
    """Register a plugin into ``sf1630_host`` for one test; returns its name."""
    names: list[str] = []

    def register(plugin: Any, name: str | None = None) -> str:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if not sf1630_host.add(plugin, name, "test"):
            failure = next((f for f in sf1630_host.failures() if f.name == name), None)
            raise AssertionError(f"plugin {name!r} was not registered: {failure}")
        names.append(name)
        return name

    yield register
    for name in names:
        sf1630_host.remove(name)


@pytest.fixture
def make_job() -> Callable[..., Any]:
    """Factory: ``make_job(source, options=None, municipality=..., recipient=..., created=...)``."""
    return conformance.make_job


@pytest.fixture
def make_delivery(tmp_path: Any) -> Callable[..., Any]:
    """Factory: ``make_delivery(rows=ROWS, header=HEADER, file_transfer_uuid=None, source=...)``
    writes a ``;`` CSV file in ``tmp_path`` and returns ``(Delivery, path)``."""

    def make(*args: Any, **kwargs: Any) -> Any:
        return conformance.write_delivery(tmp_path, *args, **kwargs)

    return make
