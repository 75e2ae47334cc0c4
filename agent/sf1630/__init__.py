"""sf1630: transfer agent for Serviceplatformen's SF1630 SFTP integration.

Public names for plugin authors: ``hookimpl``, the ``Source`` and ``Sink`` protocols, the records
of ``sf1630.api``, the event types of ``sf1630.events`` and the errors. ``hookimpl`` and the event
types load on first use, so importing ``sf1630.documents`` or ``sf1630.transport`` never imports
pluggy (STYLE.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from sf1630.api import (
    API_VERSION,
    Delivery,
    Expectation,
    ExtractError,
    ExtractResult,
    Job,
    LoadError,
    LoadResult,
    Municipality,
    PluginError,
    SchemaChange,
    Sink,
    Source,
    Transfer,
    option,
)
from sf1630.errors import (
    ConfigError,
    DocumentError,
    HostKeyError,
    RemoteMissing,
    RemoteRefused,
    Sf1630Error,
    TransportError,
)

__version__ = "0.1.0"

# name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "hookimpl": "sf1630.hookspecs",
    "Delivered": "sf1630.events",
    "Failed": "sf1630.events",
    "Received": "sf1630.events",
    "Loaded": "sf1630.events",
    "RetentionWarning": "sf1630.events",
    "SchemaChanged": "sf1630.events",
    "Missing": "sf1630.events",
}

__all__ = [
    "API_VERSION", "ConfigError", "Delivery", "DocumentError", "Expectation", "ExtractError", "ExtractResult",
    "HostKeyError", "Job", "LoadError", "LoadResult", "Municipality", "PluginError", "RemoteMissing",
    "RemoteRefused", "SchemaChange", "Sf1630Error", "Sink", "Source", "Transfer", "TransportError",
    "option", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sf1630' has no attribute {name!r}")
