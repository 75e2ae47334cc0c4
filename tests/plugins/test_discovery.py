"""Discovery: built-ins, entry points of a really installed distribution, plugin_paths folders,
failures kept to the failing plugin, and blocking by name."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugin_support import pip_install
from sf1630.api import PluginError
from sf1630.plugins import make_plugin_host

PROBE = Path(__file__).parents[1] / "data" / "sf1630-probe"
BUILTINS = ["dubu", "ky", "ksd", "aula", "kp", "sqlite", "postgres", "mariadb", "directory"]  # then other built-ins


@pytest.fixture(scope="session")
def probe_target(tmp_path_factory) -> Path:
    """tests/data/sf1630-probe installed with ``pip install --target`` (built from a copy: no litter)."""
    work = tmp_path_factory.mktemp("probe")
    source, target = work / "src", work / "site"
    shutil.copytree(PROBE, source)
    pip_install(source, target)
    return target


@pytest.fixture(autouse=True)
def clean_imports(monkeypatch):
    """plugin_paths folders go onto sys.path and plugins into sys.modules: undo both after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("sf1630_probe", "path_")):
            del sys.modules[name]


def write_plugin(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_builtins_come_first_in_a_fixed_order(monkeypatch):
    monkeypatch.delenv("SF1630_DISABLE_PLUGINS", raising=False)
    host = make_plugin_host(entry_points=False)
    plugins = host.plugins()
    assert [p.name for p in plugins][:len(BUILTINS)] == BUILTINS
    assert {(p.origin, p.status, p.version) for p in plugins} == {("built-in", "active", "0.1.0")}
    assert host.failures() == []


def test_entry_point_of_an_installed_distribution_on_sys_path(probe_target):
    sys.path.append(str(probe_target))
    host = make_plugin_host()
    probe = next(p for p in host.plugins() if p.name == "probe")
    assert probe.origin == "entry point sf1630_probe of sf1630-probe 1.2.3"
    assert probe.version == "1.2.3" and probe.hooks == ("sf1630_on_delivered", "sf1630_register_sinks")
    assert [p.origin for p in host.plugins()].index(probe.origin) > len(BUILTINS) - 1  # after the built-ins
    assert host.owner("sink", "probe") == "probe"


def test_plugin_paths_finds_pip_target_installs_once(probe_target, tmp_path):
    host = make_plugin_host(plugin_paths=[probe_target])
    names = [p.name for p in host.plugins()]
    assert names.count("probe") == 1 and "sf1630_probe" not in names  # its module is not a second plugin
    assert "probe" in host.sinks()
    delivered = tmp_path / "x.csv"
    delivered.write_text("a\n1\n2\n")
    assert host.sink("probe").load(None, delivered, host.sink("probe").Options(label="t")).rows == 2


def test_plugin_paths_single_module(tmp_path):
    write_plugin(tmp_path / "plugins", "path_hello", """
        import sf1630
        from sf1630.api import API_VERSION, LoadResult
        __version__ = "0.9"

        class Hello:
            name = "hello"
            api_version = API_VERSION
            class Options:
                pass
            def load(self, delivery, path, options):
                return LoadResult(0)

        @sf1630.hookimpl
        def sf1630_register_sinks(register):
            register(Hello())
        """)
    host = make_plugin_host(plugin_paths=[tmp_path / "plugins"])
    info = host.plugins()[-1]
    assert (info.name, info.version, info.origin) == ("path_hello", "0.9", f"plugin_paths {tmp_path / 'plugins' / 'path_hello.py'}")
    assert host.sink("hello").name == "hello"


BROKEN = {
    "path_crash": "raise RuntimeError('the vendor module is broken')\n",
    "path_typo": "import sf1630\n@sf1630.hookimpl\ndef sf1630_on_deliverd(transfer):\n    pass\n",
    "path_future": """
        import sf1630
        class Sink:
            name, api_version, Options = "future", 2, object
            def load(self, delivery, path, options): ...
        @sf1630.hookimpl
        def sf1630_register_sinks(register):
            register(Sink())
        """,
    "path_clash": """
        import sf1630
        class Sink:
            name, api_version, Options = "sqlite", 1, object
            def load(self, delivery, path, options): ...
        @sf1630.hookimpl
        def sf1630_register_sinks(register):
            register(Sink())
        """,
    "path_incomplete": """
        import sf1630
        class Source:
            name, code, api_version = "half", "HALF", 1
        @sf1630.hookimpl
        def sf1630_register_sources(register):
            register(Source())
        """,
}


def test_a_failing_plugin_is_reported_with_its_origin_and_disables_only_itself(tmp_path):
    folder = tmp_path / "plugins"
    for name, body in BROKEN.items():
        write_plugin(folder, name, body)
    write_plugin(folder, "path_good", "import sf1630\n@sf1630.hookimpl\ndef sf1630_on_failed(transfer, reason):\n"
                                      "    pass\n")
    host = make_plugin_host(plugin_paths=[folder], entry_points=False)
    failures = {f.name: f for f in host.failures()}
    assert set(failures) == set(BROKEN)
    assert failures["path_crash"].origin == f"plugin_paths {folder / 'path_crash.py'}"
    assert "the vendor module is broken" in failures["path_crash"].error
    assert "sf1630_on_deliverd" in failures["path_typo"].error
    assert "API version 2, this agent has version 1" in failures["path_future"].error
    assert "already registered by plugin 'sqlite'" in failures["path_clash"].error
    assert "period, file_name, write_extract, delivered" in failures["path_incomplete"].error
    assert host.sink("sqlite").__class__.__name__ == "SqliteSink"  # the built-in keeps its name
    assert next(p for p in host.plugins() if p.name == "path_good").status == "active"
    with pytest.raises(PluginError) as caught:
        host.sink("future")
    assert "no sink named 'future'" in str(caught.value) and "path_future" in str(caught.value)
    assert len(host.sources()) == 5  # every job of the built-ins still runs


def test_missing_plugin_folder_is_a_failure_not_a_crash(tmp_path):
    host = make_plugin_host(plugin_paths=[tmp_path / "nowhere"], entry_points=False)
    assert "no such folder" in host.failures()[0].error and len(host.sinks()) == 4


def test_blocking_by_config_and_environment(monkeypatch, probe_target):
    class Config:
        plugin_paths = [probe_target]
        disabled_plugins = ["postgres"]

    monkeypatch.setenv("SF1630_DISABLE_PLUGINS", "probe, kp")
    host = make_plugin_host(Config(), entry_points=False)
    status = {p.name: p.status for p in host.plugins()}
    assert status["postgres"] == status["probe"] == status["kp"] == "disabled"
    assert "postgres" not in host.sinks() and "probe" not in host.sinks() and "kp" not in host.sources()
    assert "sf1630_probe" not in sys.modules  # a blocked entry point is never imported
    with pytest.raises(PluginError, match="disabled plugins: kp, postgres, probe"):
        host.sink("postgres")


def test_trace_prints_every_hook_call(monkeypatch, capsys):
    monkeypatch.setenv("SF1630_TRACE_PLUGINS", "1")
    make_plugin_host(entry_points=False)
    err = capsys.readouterr().err
    assert "sf1630 trace: sf1630_register_sources(register=" in err and "-> plugin 'ky'" in err
    assert "sf1630_register_sinks(register=" in err and "-> plugin 'sqlite'" in err


def test_importing_the_host_module_loads_no_plugins():
    code = ("import sys, sf1630.plugins, sf1630.hookspecs; "
            "assert not [m for m in sys.modules if m.startswith('sf1630_plugins')], 'plugins imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
