"""Every built-in plugin, imported statically (as rclone's backend/all does).

Plain import statements, not a list of strings: PyInstaller follows only static imports, so the
one-file executable bundles every built-in. ``sf1630.plugins`` registers each entry below as a
plugin of its own, named by the key, exactly as it registers a third-party one: a module as it is, a
class as a fresh instance per plugin host (a plugin with state, such as the alerts' channels).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sf1630_plugins import alerts
from sf1630_plugins.sinks import directory as directory_sink
from sf1630_plugins.sinks import mariadb, postgres, sqlite
from sf1630_plugins.sources import aula, dubu, ksd, kp, ky

PLUGINS: dict[str, ModuleType | type[Any]] = {
    "dubu": dubu,
    "ky": ky,
    "ksd": ksd,
    "aula": aula,
    "kp": kp,
    "sqlite": sqlite,
    "postgres": postgres,
    "mariadb": mariadb,
    "directory": directory_sink,
    "alerts": alerts.Alerts,
}
