"""``check_config``: every problem of a config, including what only the plugins can judge.

Without a plugin host the check covers the files themselves. With one it also checks that each
``[[send]]`` source, ``[[receive.sinks]]`` type and ``[[receive.expect]]`` source is registered,
and each ``options`` table against that plugin's ``Options`` (STYLE.md, "Configuration"),
including settings that resolve to nothing in this environment (``Options.unresolved()``: an
unset ``dsn_env`` or ``url_env`` variable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sf1630.config.load import read_config
from sf1630.config.locate import SourceMap
from sf1630.config.model import MunicipalityConfig, Problem
from sf1630.config.reader import dotted
from sf1630.errors import ConfigError
from sf1630.options import build_options, check_options


def check_config(path: Path, host: Any = None, env: str | None = None) -> list[Problem]:
    """Every problem in the agent file, its municipality files and (given a host) the plugin options."""
    result = read_config(Path(path), env)
    problems = list(result.problems)
    if host is not None:
        for failure in host.failures():
            problems.append(Problem(Path(path).resolve(), None, "plugins", f"{failure}; fix or remove the plugin"))
        for m in result.municipalities:
            problems += _check_plugins(m, host)
    return list(dict.fromkeys(problems))  # an inherited value is checked once per municipality


def make_host_for(path: Path, env: str | None = None) -> Any:
    """A plugin host for the config at ``path``, or None when the plugin system cannot be loaded."""
    try:  # late: a check without plugins (--no-plugins) must not need pluggy
        from sf1630.plugins import make_plugin_host
    except ImportError:
        return None
    result = read_config(Path(path), env)
    return make_plugin_host(plugin_paths=result.plugin_paths, disabled=result.disabled_plugins)


def _check_plugins(m: MunicipalityConfig, host: Any) -> list[Problem]:
    out: list[Problem] = []
    smap = None if m.merged is not None else SourceMap(m.path.read_text(encoding="utf-8"))

    def report(where: tuple, key: str | None, message: str) -> None:
        if smap is not None:
            out.append(Problem(m.path, smap.line(where, key), dotted(where, key), message))
        else:  # the file and line that wrote the value: the agent file's [defaults] when inherited
            file, line, shown, _ = m.merged.locate((*where, *([key] if key is not None else [])))
            out.append(Problem(file, line, shown, message))

    sources, sinks = host.sources(), host.sinks()
    for send in m.sends:
        where: tuple = ("send", send.index)
        plugin = sources.get(send.source)
        if plugin is None:
            report(where, "source", _unknown("source", send.source, sources, host))
        else:
            _check_options(plugin, send.options, (*where, "options"), m, report, send.base)
    if m.receive:
        for sink in m.receive.sinks:
            where = ("receive", "sinks", sink.index)
            plugin = sinks.get(sink.type)
            if plugin is None:
                report(where, "type", _unknown("sink", sink.type, sinks, host))
            else:
                _check_options(plugin, sink.options, (*where, "options"), m, report, sink.base)
        codes = {getattr(s, "code", "").lower() for s in sources.values()}
        for expect in m.receive.expect:
            if expect.source not in sources and expect.source not in codes:
                report(("receive", "expect", expect.index), "source",
                       _unknown("source", expect.source, sources, host))
    return out


def _check_options(plugin: Any, table: dict[str, Any], where: tuple, m: MunicipalityConfig, report,
                   base: Path | None = None) -> None:
    problems = check_options(plugin.Options, table)
    for key, message in problems:
        report(where, key if key in table else None, f"{message} (options of {plugin.name!r})")
    if problems:
        return
    try:  # values that pass the type check may still be refused by the Options class itself
        built = build_options(plugin.Options, table, f"{m.path} [{dotted(where)}]", base=base or m.path.parent)
    except ConfigError as exc:
        report(where, None, str(exc))
        return
    unresolved = getattr(built, "unresolved", None)  # e.g. an unset variable: never a default database
    for message in (unresolved() if callable(unresolved) else ()):
        report(where, None, f"{message} (options of {plugin.name!r})")


def _unknown(kind: str, name: str, registered: dict[str, Any], host: Any) -> str:
    message = f"no {kind} plugin named {name!r}; registered: {', '.join(sorted(registered)) or 'none'}"
    if host.failures():
        message += " (some plugins failed to load: see the plugins problems)"
    return message
