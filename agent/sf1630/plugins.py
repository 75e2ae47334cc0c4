"""The plugin host: discovery, registration, and one typed method per hook.

``make_plugin_host(config)`` builds a fresh host (importing this module loads nothing). It loads,
in this order (STYLE.md, "Discovery and registration"):

1. the built-ins, by a static import of ``sf1630_plugins.all`` (PyInstaller follows only those);
2. the ``sf1630`` entry points of installed distributions;
3. each ``plugin_paths`` folder: distributions installed there with ``pip install --target`` (their
   entry points), then single ``*.py`` modules.

Each plugin is loaded on its own. One that fails to import, implements an unknown hook, or
registers an object for another API version is recorded with its origin in ``failures()``; only
the jobs that name its sources or sinks fail. No other code calls ``pm.hook``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pluggy

from sf1630 import __version__, hookspecs
from sf1630.api import API_VERSION, Check, Commands, PluginError, Sink, Source
from sf1630.errors import Sf1630Error
from sf1630.events import Event, all_events
from sf1630.options import build_options, check_options

__all__ = ["ENTRY_POINT_GROUP", "PluginFailure", "PluginHost", "PluginInfo", "build_options",
           "check_options", "make_plugin_host"]

log = logging.getLogger("sf1630.plugins")

ENTRY_POINT_GROUP = "sf1630"
_MEMBERS = {"source": ("name", "code", "routing", "schedule", "api_version", "Options", "period", "file_name",
                       "write_extract", "delivered"),
            "sink": ("name", "api_version", "Options", "load")}


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``sf1630 plugins`` lists it. ``status`` is "active", "disabled" or "failed"."""

    name: str
    version: str
    origin: str
    hooks: tuple[str, ...] = ()
    status: str = "active"
    error: str = ""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be used, where it came from, and why."""

    name: str
    origin: str
    error: str

    def __str__(self) -> str:
        return f"plugin '{self.name}' ({self.origin}): {self.error}"


class PluginHost:
    """A typed facade over one pluggy manager, like tox's ``Plugin``."""

    def __init__(self, *, blocked: Iterable[str] = (), trace: bool = False) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._trace = trace
        self._infos: dict[str, PluginInfo] = {}
        self._sources: dict[str, Source] = {}
        self._sinks: dict[str, Sink] = {}
        self._owners: dict[tuple[str, str], str] = {}
        for name in blocked:
            self._pm.set_blocked(name)

    # -- registration ---------------------------------------------------------------------------

    def add(self, plugin: object, name: str, origin: str, version: str = "") -> bool:
        """Register ``plugin`` (a module or object with hook implementations); False if not used."""
        if self._pm.is_blocked(name):
            self._infos.setdefault(name, PluginInfo(name, version, origin, status="disabled"))
            return False
        if name in self._infos:
            self.fail(name, origin, f"another plugin of this name was loaded first ({self._infos[name].origin})")
            return False
        try:
            self._pm.register(plugin, name)
            self._check(plugin)
            objects = self._collect(plugin, name, origin)
        except Exception as exc:  # any fault of a plugin disables that plugin only
            if self._pm.get_plugin(name) is not None:
                self._pm.unregister(name=name)
            self.fail(name, origin, _describe(exc), version)
            return False
        for kind, obj in objects:
            (self._sources if kind == "source" else self._sinks)[obj.name] = obj
            self._owners[(kind, obj.name)] = name
        hooks = tuple(sorted(c.name for c in self._pm.get_hookcallers(plugin) or ()))
        self._infos[name] = PluginInfo(name, version, origin, hooks)
        return True

    def remove(self, name: str) -> None:
        """Unregister a plugin and forget its sources and sinks (tests register and remove)."""
        if self._pm.get_plugin(name) is not None:
            self._pm.unregister(name=name)
        for (kind, obj_name), owner in list(self._owners.items()):
            if owner == name:
                del self._owners[(kind, obj_name)]
                (self._sources if kind == "source" else self._sinks).pop(obj_name, None)
        self._infos.pop(name, None)

    def fail(self, name: str, origin: str, error: str, version: str = "") -> None:
        """Record a plugin that could not be used."""
        log.error("plugin %r (%s) disabled: %s", name, origin, error)
        self._infos[name] = PluginInfo(name, version, origin, status="failed", error=error)

    def _check(self, plugin: object) -> None:
        # A hook name that is not in hookspecs (a typo) fails here, as tox runs check_pending().
        self._pm.check_pending()
        for caller in self._pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper):
                    raise PluginError(f"{caller.name}: wrapper hooks are not part of the sf1630 API")

    def _collect(self, plugin: object, name: str, origin: str) -> list[tuple[str, Any]]:
        objects: list[tuple[str, Any]] = []
        for kind, hook in (("source", "sf1630_register_sources"), ("sink", "sf1630_register_sinks")):
            def register(obj: Any, kind: str = kind) -> None:
                objects.append((kind, self._accept(kind, obj, objects)))
            for impl in self._impls(hook, plugin):
                self._invoke(impl, hook, {"register": register})
        return objects

    def _accept(self, kind: str, obj: Any, pending: list) -> Any:
        protocol = Source if kind == "source" else Sink
        label = f"{kind} {getattr(obj, 'name', obj)!r}"
        version = getattr(obj, "api_version", None)
        if version != API_VERSION:
            raise PluginError(f"{label} targets sf1630 plugin API version {version}, this agent has version "
                              f"{API_VERSION}; install a plugin release made for API version {API_VERSION}")
        if not isinstance(obj, protocol):
            missing = [m for m in _MEMBERS[kind] if not hasattr(obj, m)]
            raise PluginError(f"{label} lacks {', '.join(missing)} of the {protocol.__name__} protocol")
        name = obj.name
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise PluginError(f"{label}: a name is a lower-case letter, then letters a-z, digits, '-' and '_'")
        taken = self._owners.get((kind, name)) or any(k == kind and o.name == name for k, o in pending)
        if taken:
            raise PluginError(f"{label} is already registered by plugin {taken!r}; disable one of them "
                              "with disabled_plugins")
        return obj

    # -- queries --------------------------------------------------------------------------------

    def sources(self) -> dict[str, Source]:
        """Every registered source by name."""
        return dict(self._sources)

    def sinks(self) -> dict[str, Sink]:
        """Every registered sink by name."""
        return dict(self._sinks)

    def source(self, name: str) -> Source:
        """The source registered as ``name``; PluginError saying why when there is none."""
        return self._lookup("source", self._sources, name)

    def sink(self, name: str) -> Sink:
        """The sink registered as ``name``; PluginError saying why when there is none."""
        return self._lookup("sink", self._sinks, name)

    def is_blocked(self, name: str) -> bool:
        """Whether a plugin name is disabled by config or SF1630_DISABLE_PLUGINS."""
        return self._pm.is_blocked(name)

    def origin(self, name: str) -> str | None:
        """Where a plugin seen so far came from."""
        info = self._infos.get(name)
        return info.origin if info else None

    def owner(self, kind: str, name: str) -> str | None:
        """The plugin that registered a source or sink."""
        return self._owners.get((kind, name))

    def failures(self) -> list[PluginFailure]:
        """Plugins that could not be used, with their origin and error."""
        return [PluginFailure(i.name, i.origin, i.error) for i in self._infos.values() if i.status == "failed"]

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, in load order, active, disabled or failed."""
        return list(self._infos.values())

    def _lookup(self, kind: str, table: dict, name: str) -> Any:
        if name in table:
            return table[name]
        lines = [f"no {kind} named {name!r}; available: {', '.join(sorted(table)) or 'none'}"]
        lines += [f"  failed to load: {f}" for f in self.failures()]
        blocked = [i.name for i in self._infos.values() if i.status == "disabled"]
        if blocked:
            lines.append(f"  disabled plugins: {', '.join(blocked)}")
        raise PluginError("\n".join(lines))

    # -- hooks ----------------------------------------------------------------------------------

    def register_commands(self, subparsers: argparse._SubParsersAction) -> Commands:
        """Let every plugin add sub-commands (``sf1630_register_commands``); what they added."""
        commands = Commands(subparsers)
        self._broadcast("sf1630_register_commands", subparsers=commands)
        return commands

    def fire(self, event: Event) -> None:
        """Hand ``event`` to every plugin through its hook (``event.hook``); exceptions are logged."""
        if event.hook is not None:
            self._broadcast(event.hook, **event.hook_args())

    def configure(self, config: Any, command: str = "") -> None:
        """``sf1630_configure`` for every plugin; a plugin that cannot start stops the command."""
        for impl in self._impls("sf1630_configure"):
            try:
                self._invoke(impl, "sf1630_configure", {"config": config, "command": command})
            except Sf1630Error:
                raise  # a ConfigError already names the file, line and key
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} cannot start: {_describe(exc)}") from exc

    def unconfigure(self) -> None:
        """``sf1630_unconfigure`` for every plugin; exceptions are logged."""
        self._broadcast("sf1630_unconfigure")

    def doctor(self, config: Any, send_test: bool = False) -> list[Check]:
        """What each plugin's ``sf1630_doctor`` finds; a plugin that raises is an error finding."""
        found: list[Check] = []
        for impl in self._impls("sf1630_doctor"):
            try:
                found += self._invoke(impl, "sf1630_doctor", {"config": config, "send_test": send_test}) or []
            except Exception as exc:
                found.append(Check("error", f"plugin {impl.plugin_name}", f"its doctor check raised: {_describe(exc)}"))
        return found

    def plugin(self, name: str) -> Any:
        """The registered plugin object (module or instance) of ``name``, or None."""
        return self._pm.get_plugin(name)

    def _broadcast(self, hook: str, **kwargs: Any) -> None:
        # Called per implementation, not through pm.hook, so one failing plugin cannot keep the
        # event from the others (STYLE.md: every plugin receives each event).
        for impl in self._impls(hook):
            try:
                self._invoke(impl, hook, kwargs)
            except Exception:
                log.exception("plugin %r raised in %s; ignored", impl.plugin_name, hook)

    def _impls(self, hook: str, plugin: object | None = None) -> list:
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        return [i for i in reversed(impls) if plugin is None or i.plugin is plugin]

    def _invoke(self, impl: Any, hook: str, kwargs: dict) -> Any:
        if self._trace:
            args = ", ".join(f"{k}={kwargs[k]!r}" for k in impl.argnames)
            print(f"sf1630 trace: {hook}({args}) -> plugin {impl.plugin_name!r}", file=sys.stderr)
        return impl.function(*(kwargs[name] for name in impl.argnames))


def _event_method(hook: str) -> Any:
    def fire(self: PluginHost, **kwargs: Any) -> None:
        self._broadcast(hook, **kwargs)
    fire.__name__ = hook.removeprefix("sf1630_")
    fire.__doc__ = f"Fire ``{hook}`` to every plugin; exceptions are logged."
    return fire


# PluginHost.on_delivered(...), on_failed(...), ...: one per event hook, from the table in sf1630.events.
for _event in all_events():
    if _event.hook is not None:
        setattr(PluginHost, _event.hook.removeprefix("sf1630_"), _event_method(_event.hook))


def make_plugin_host(config: Any = None, *, plugin_paths: Iterable[Path | str] = (),
                     disabled: Iterable[str] = (), builtins: bool = True,
                     entry_points: bool = True) -> PluginHost:
    """Build a fresh PluginHost: built-ins, then entry points, then ``plugin_paths`` folders.

    ``config`` (an AgentConfig) adds its ``plugin_paths`` and ``disabled_plugins``; the variable
    SF1630_DISABLE_PLUGINS (comma-separated names) blocks more, and SF1630_TRACE_PLUGINS=1 prints
    every hook call to stderr.
    """
    paths = [*getattr(config, "plugin_paths", ()), *plugin_paths]
    blocked = {*getattr(config, "disabled_plugins", ()), *disabled, *_env_names("SF1630_DISABLE_PLUGINS")}
    host = PluginHost(blocked=blocked, trace=os.environ.get("SF1630_TRACE_PLUGINS") == "1")
    if builtins:
        _load_builtins(host)
    if entry_points:
        _load_entry_points(host, importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    for folder in paths:
        _load_folder(host, Path(folder))
    return host


def _load_builtins(host: PluginHost) -> None:
    try:
        from sf1630_plugins import all as builtin  # static import: PyInstaller bundles every built-in
    except Exception as exc:
        host.fail("sf1630_plugins", "built-in", _describe(exc), __version__)
        return
    for name, plugin in builtin.PLUGINS.items():
        # A class is a plugin with state: each host gets its own instance, never a shared one.
        host.add(plugin() if isinstance(plugin, type) else plugin, name, "built-in", __version__)


def _load_entry_points(host: PluginHost, eps: Iterable[importlib.metadata.EntryPoint]) -> None:
    for ep in eps:
        dist = getattr(ep, "dist", None)
        version = dist.version if dist else ""
        origin = f"entry point {ep.value} of {dist.name if dist else '?'} {version}".rstrip()
        if host.origin(ep.name) == origin:
            continue  # the same distribution seen again through plugin_paths
        if host.is_blocked(ep.name):
            host.add(None, ep.name, origin, version)
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            host.fail(ep.name, origin, _describe(exc), version)
            continue
        host.add(plugin, ep.name, origin, version)


def _load_folder(host: PluginHost, folder: Path) -> None:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        host.fail(str(folder), "plugin_paths", "no such folder; fix plugin_paths in the agent config")
        return
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # appended: a plugin folder must never shadow the agent's modules
        importlib.invalidate_caches()
    owned: set[str] = set()
    for dist in importlib.metadata.distributions(path=[str(folder)]):
        owned.update(Path(str(f)).parts[0].removesuffix(".py") for f in dist.files or ())
        eps = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
        _load_entry_points(host, eps)
    for path in sorted(folder.glob("*.py")):
        if path.stem not in owned and not path.stem.startswith("_"):
            _load_module_file(host, path)


def _load_module_file(host: PluginHost, path: Path) -> None:
    name, origin = path.stem, f"plugin_paths {path}"
    if host.is_blocked(name):
        host.add(None, name, origin)
        return
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) != str(path):
        host.fail(name, origin, f"a module named {name!r} is already imported from elsewhere; rename the file")
        return
    try:
        module = loaded or _exec_module(name, path)
    except Exception as exc:
        host.fail(name, origin, _describe(exc))
        return
    host.add(module, name, origin, str(getattr(module, "__version__", "")))


def _exec_module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: cannot be loaded as a Python module; give a .py file or a package folder")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _env_names(variable: str) -> list[str]:
    return [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
