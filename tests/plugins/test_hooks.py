"""One test per hook (tests/meta checks that every hook in hookspecs.py has its test_hook_<name>)."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime

import pytest

import sf1630
from sf1630.api import API_VERSION, Delivery, ExtractResult, LoadResult, SchemaChange, Transfer, option

TRANSFER = Transfer(id=7, kind="send", key="KY_LIS_1_M03_20240402101010.csv@KY", file_name="KY_LIS_1_M03_20240402101010.csv",
                    account="KY", state="delivered", municipality="testby", source="KY", file_transfer_uuid="u-1")
DELIVERY = Delivery("u-1", "KY_LIS_1_M03_20240402101010.csv", "KY_SFTPSIMPEL", "TESTBY_LIS01_SIMPEL", 10, source="KY")


class Recorder:
    """A plugin that implements every event hook and records what it got."""

    def __init__(self):
        self.calls = []

    @sf1630.hookimpl
    def sf1630_on_delivered(self, transfer):
        self.calls.append(("delivered", transfer.file_name))

    @sf1630.hookimpl
    def sf1630_on_failed(self, transfer, reason):
        self.calls.append(("failed", transfer.id, reason))

    @sf1630.hookimpl
    def sf1630_on_received(self, delivery):
        self.calls.append(("received", delivery.file_transfer_uuid))

    @sf1630.hookimpl
    def sf1630_on_loaded(self, delivery, sink, result):
        self.calls.append(("loaded", delivery.file_transfer_uuid, sink, result.rows))

    @sf1630.hookimpl
    def sf1630_on_retention_warning(self, account, path, age_days):
        self.calls.append(("retention", account, path, age_days))

    @sf1630.hookimpl
    def sf1630_on_schema_changed(self, delivery, sink, changes):
        self.calls.append(("schema", sink, [c.column for c in changes]))

    @sf1630.hookimpl
    def sf1630_on_receipt_overdue(self, transfer, waited):
        self.calls.append(("overdue", transfer.id, waited))

    @sf1630.hookimpl
    def sf1630_on_stray(self, account, path, sender):
        self.calls.append(("stray", account, path, sender))

    @sf1630.hookimpl
    def sf1630_on_unreachable(self, account, reason):
        self.calls.append(("unreachable", account, reason))


class Exploding:
    """A plugin whose every event hook raises."""


for _hook in ("delivered", "failed", "received", "loaded", "retention_warning", "schema_changed", "receipt_overdue",
              "stray", "unreachable"):
    def _boom(self, **kwargs):
        raise RuntimeError("alert service down")
    _boom.__name__ = f"sf1630_on_{_hook}"
    setattr(Exploding, _boom.__name__, sf1630.hookimpl(_boom))


@pytest.fixture
def recorder(sf1630_host, register_plugin):
    """A recorder registered first and an exploding plugin after it (so it is called before it)."""
    plugin = Recorder()
    register_plugin(plugin, "recorder")
    return plugin


def events_reach_everyone(sf1630_host, register_plugin, recorder, fire, expected, caplog):
    register_plugin(Exploding(), "exploding")
    with caplog.at_level(logging.ERROR, logger="sf1630.plugins"):
        fire(sf1630_host)  # must not raise
    assert recorder.calls == [expected]
    assert "plugin 'exploding' raised" in caplog.text and "alert service down" in caplog.text


class Weekly:
    name, code, routing, schedule, api_version = "weekly", "WK", "simple", "0 1 * * 1", API_VERSION

    class Options:
        pass

    def period(self, when):
        return f"U{when.isocalendar().week:02d}"

    def file_name(self, job):
        return f"WK_{job.recipient}_{job.municipality.authority_id}_{job.period}_{job.created:%Y%m%d%H%M%S}.csv"

    def write_extract(self, job, out):
        out.write(b"a\n1\n")
        return ExtractResult(1, ("a",))

    def delivered(self, job):
        pass


def test_hook_sf1630_register_sources(sf1630_host, register_plugin):
    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_sources(self, register):
            register(Weekly())

    register_plugin(Plugin(), "weekly-plugin")
    source = sf1630_host.source("weekly")
    assert source.period(datetime(2024, 4, 2)) == "U14"
    assert sf1630_host.owner("source", "weekly") == "weekly-plugin"
    assert next(p for p in sf1630_host.plugins() if p.name == "weekly-plugin").hooks == ("sf1630_register_sources",)


def test_hook_sf1630_register_sinks(sf1630_host, register_plugin, tmp_path):
    from dataclasses import dataclass

    @dataclass
    class CountingOptions:
        suffix: str = option("!", "appended to the table")

    class Counting:
        name, api_version = "counting", API_VERSION
        Options = CountingOptions

        def load(self, delivery, path, options):
            return LoadResult(path.read_text().count("\n") - 1, "t" + options.suffix)

    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_sinks(self, register):
            register(Counting())

    register_plugin(Plugin(), "counting-plugin")
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n2\n")
    sink = sf1630_host.sink("counting")
    assert sink.load(DELIVERY, path, sink.Options()) == LoadResult(2, "t!")


def test_hook_sf1630_register_commands(sf1630_host, register_plugin, capsys):
    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_commands(self, subparsers):
            parser = subparsers.add_parser("hello", help="greet")
            parser.add_argument("--name", default="world")
            parser.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    register_plugin(Plugin(), "hello-plugin")
    parser = argparse.ArgumentParser(prog="sf1630")
    sf1630_host.register_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hello", "--name", "Testby"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == "hello Testby\n"


def test_hook_sf1630_on_delivered(sf1630_host, register_plugin, recorder, caplog):
    events_reach_everyone(sf1630_host, register_plugin, recorder, lambda h: h.on_delivered(transfer=TRANSFER),
                          ("delivered", TRANSFER.file_name), caplog)


def test_hook_sf1630_on_failed(sf1630_host, register_plugin, recorder, caplog):
    events_reach_everyone(sf1630_host, register_plugin, recorder,
                          lambda h: h.on_failed(transfer=TRANSFER, reason="code 3: no route"),
                          ("failed", 7, "code 3: no route"), caplog)


def test_hook_sf1630_on_received(sf1630_host, register_plugin, recorder, caplog):
    events_reach_everyone(sf1630_host, register_plugin, recorder, lambda h: h.on_received(delivery=DELIVERY),
                          ("received", "u-1"), caplog)


def test_hook_sf1630_on_loaded(sf1630_host, register_plugin, recorder, caplog):
    events_reach_everyone(sf1630_host, register_plugin, recorder,
                          lambda h: h.on_loaded(delivery=DELIVERY, sink="sqlite", result=LoadResult(12, "ky")),
                          ("loaded", "u-1", "sqlite", 12), caplog)


def test_hook_sf1630_on_retention_warning(sf1630_host, register_plugin, recorder, caplog):
    events_reach_everyone(sf1630_host, register_plugin, recorder,
                          lambda h: h.on_retention_warning(account="KY", path="OUT/x.csv", age_days=21.5),
                          ("retention", "KY", "OUT/x.csv", 21.5), caplog)


def test_hook_sf1630_on_schema_changed(sf1630_host, register_plugin, recorder, caplog):
    changes = (SchemaChange("ky", "extra", "added", "TEXT"),)
    events_reach_everyone(sf1630_host, register_plugin, recorder,
                          lambda h: h.on_schema_changed(delivery=DELIVERY, sink="postgres", changes=changes),
                          ("schema", "postgres", ["extra"]), caplog)


def test_an_implementation_may_take_fewer_arguments(sf1630_host, register_plugin):
    seen = []

    class Plugin:
        @sf1630.hookimpl
        def sf1630_on_loaded(self, result):  # pluggy passes only what is named
            seen.append(result.rows)

    register_plugin(Plugin(), "few")
    sf1630_host.on_loaded(delivery=DELIVERY, sink="sqlite", result=LoadResult(3))
    assert seen == [3]


def test_wrapper_hooks_are_refused(sf1630_host):
    class Plugin:
        @sf1630.hookimpl(wrapper=True)
        def sf1630_on_loaded(self, result):
            yield

    assert not sf1630_host.add(Plugin(), "wrapping", "test")
    assert "wrapper hooks are not part of the sf1630 API" in sf1630_host.failures()[-1].error


def test_registration_failure_registers_nothing_of_that_plugin(sf1630_host):
    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_sources(self, register):
            register(Weekly())
            raise RuntimeError("then it broke")

    assert not sf1630_host.add(Plugin(), "half", "test")
    assert "weekly" not in sf1630_host.sources()
    assert sf1630_host.failures()[-1].error == "RuntimeError: then it broke"


def test_trace_output_goes_to_stderr_only(monkeypatch, capsys):
    from sf1630.plugins import make_plugin_host

    monkeypatch.setenv("SF1630_TRACE_PLUGINS", "1")
    host = make_plugin_host(builtins=False, entry_points=False)
    host.add(Recorder(), "traced", "test")
    host.on_delivered(transfer=TRANSFER)
    out, err = capsys.readouterr()
    assert out == "" and "sf1630_on_delivered(transfer=Transfer(id=7" in err and "-> plugin 'traced'" in err


def test_a_badly_named_source_disables_its_plugin(sf1630_host):
    class Shouting(Weekly):
        name = "Weekly Extract"

    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_sources(self, register):
            register(Shouting())

    assert not sf1630_host.add(Plugin(), "shouting", "test")
    assert "a name is a lower-case letter" in sf1630_host.failures()[-1].error


def test_register_commands_refuses_a_taken_name(sf1630_host, register_plugin, caplog):
    class Plugin:
        @sf1630.hookimpl
        def sf1630_register_commands(self, subparsers):
            subparsers.add_parser("send", help="would shadow the built-in send")

    register_plugin(Plugin(), "shadow-plugin")
    parser = argparse.ArgumentParser(prog="sf1630")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("send", help="the built-in")
    added = sf1630_host.register_commands(sub)
    assert added.added == []
    assert "exists already" in caplog.text and "shadow-plugin" in caplog.text


# The newer event hooks are fired the way the agent fires them: an event of sf1630.events, handed to
# PluginHost.fire through the emitter that the runtime builds (the hook name comes from the event).

def fired(event):
    from sf1630.events import plugin_emitter

    return lambda host: plugin_emitter(host)(event)


def test_hook_sf1630_on_receipt_overdue(sf1630_host, register_plugin, recorder, caplog):
    from sf1630.events import ReceiptOverdue

    events_reach_everyone(sf1630_host, register_plugin, recorder, fired(ReceiptOverdue(transfer=TRANSFER, waited=600.0)),
                          ("overdue", 7, 600.0), caplog)


def test_hook_sf1630_on_stray(sf1630_host, register_plugin, recorder, caplog):
    from sf1630.events import Stray

    event = Stray(account="LIS", path="IN/x.csv", reason="unexpected sender", sender="EVIL_SFTPSIMPEL")
    events_reach_everyone(sf1630_host, register_plugin, recorder, fired(event),
                          ("stray", "LIS", "IN/x.csv", "EVIL_SFTPSIMPEL"), caplog)


def test_hook_sf1630_on_unreachable(sf1630_host, register_plugin, recorder, caplog):
    from sf1630.events import Unreachable

    event = Unreachable(account="KY", environment="test", since=1.0, reason="connection refused")
    events_reach_everyone(sf1630_host, register_plugin, recorder, fired(event),
                          ("unreachable", "KY", "connection refused"), caplog)


def test_failed_carries_the_receipt_codes_as_a_tuple(sf1630_host, register_plugin):
    from sf1630.events import Failed

    got = []

    class Codes:
        @sf1630.hookimpl
        def sf1630_on_failed(self, codes):
            got.append(codes)

    register_plugin(Codes(), "codes")
    fired(Failed(transfer=TRANSFER, reason="401 No route: x", codes=(401,)))(sf1630_host)
    assert got == [(401,)]


class Lifecycle:
    """A plugin with state of its own, as sf1630_configure asks: opened at start, closed at the end."""

    def __init__(self):
        self.calls = []

    @sf1630.hookimpl
    def sf1630_configure(self, config, command):
        if config.alerts.get("fail"):
            raise sf1630.ConfigError("agent.toml:9 [alerts]: this plugin refuses to start")
        self.calls.append(("configure", config.environment.name, command))

    @sf1630.hookimpl
    def sf1630_unconfigure(self):
        self.calls.append(("unconfigure",))


def _runtime_round(config, host):
    import asyncio

    from sf1630.agent.runtime import build_runtime

    async def go():
        rt = build_runtime(config, command="run", host=host)
        await rt.aclose()

    asyncio.run(go())


def test_hook_sf1630_configure(sf1630_host, register_plugin, make_site):
    from sf1630.config.load import load_config

    plugin = Lifecycle()
    register_plugin(plugin, "lifecycle")
    config = load_config(make_site())
    _runtime_round(config, sf1630_host)
    assert plugin.calls[0] == ("configure", config.environment.name, "run")

    config.alerts["fail"] = True  # a plugin that cannot start stops the command, with its message
    with pytest.raises(sf1630.ConfigError, match="this plugin refuses to start"):
        _runtime_round(config, sf1630_host)


def test_hook_sf1630_unconfigure(sf1630_host, register_plugin, make_site):
    from sf1630.config.load import load_config

    plugin = Lifecycle()
    register_plugin(plugin, "lifecycle")
    _runtime_round(load_config(make_site()), sf1630_host)
    assert [c[0] for c in plugin.calls] == ["configure", "unconfigure"]


def test_hook_sf1630_doctor(make_site, tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "plug"
    folder.mkdir()
    (folder / "pager.py").write_text(
        "import sf1630\nfrom sf1630.api import Check\n\n"
        "@sf1630.hookimpl\ndef sf1630_doctor(config, send_test):\n"
        "    return [Check('error', 'pager', 'PAGER_TOKEN is not set', 'set it in the service environment')]\n")
    agent = make_site(plugin_paths=[str(folder)])
    done = subprocess.run([sys.executable, "-m", "sf1630", "doctor", "--offline", "--config", str(agent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PAGER_TOKEN is not set" in done.stdout and "set it in the service environment" in done.stdout
