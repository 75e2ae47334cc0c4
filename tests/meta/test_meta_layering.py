"""Imports point one way (STYLE.md): documents/ and transport/ never import pluggy, only the plugin
host touches pluggy, and nothing but the plugin host calls pm.hook."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "agent" / "sf1630"
PLUGGY_ALLOWED = {PACKAGE / "plugins.py", PACKAGE / "hookspecs.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def pure_modules() -> list[str]:
    names = []
    for folder in ("documents", "transport"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / "agent").with_suffix("").parts)
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_only_the_plugin_host_imports_pluggy():
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if p not in PLUGGY_ALLOWED and any(m.split(".")[0] == "pluggy" for m in imported_modules(p))]
    assert offenders == [], f"only sf1630/plugins.py and hookspecs.py may import pluggy: {offenders}"


def test_documents_and_transport_know_no_plugins():
    forbidden = {"pluggy", "sf1630.plugins", "sf1630.hookspecs", "sf1630_plugins"}
    offenders = {}
    for folder in ("documents", "transport"):
        for path in (PACKAGE / folder).rglob("*.py"):
            bad = {m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden)}
            if bad:
                offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_importing_documents_and_transport_loads_no_pluggy():
    modules = pure_modules()
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pluggy', 'sf1630_plugins'))\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(modules) > 4


def test_no_code_but_the_plugin_host_calls_hooks_directly():
    offenders = [str(p.relative_to(ROOT)) for root in (ROOT / "agent", ROOT / "plugins") for p in root.rglob("*.py")
                 if p != PACKAGE / "plugins.py" and ".hook.sf1630_" in p.read_text(encoding="utf-8")]
    assert offenders == []


# The import contract (docs/ARCHITECTURE.md): a package may import from its own layer and the layers
# listed before it, never from a later one. Imports inside functions count as much as those at the top.
LAYERS: list[set[str]] = [
    {"errors", "options", "api", "events", "hookspecs", "__init__"},  # the plugin API
    {"documents"},
    {"transport"},
    {"journal"},
    {"core"},
    {"send", "receive"},
    {"plugins"},  # the plugin host
    {"config"},
    {"simulator", "ops", "deploy", "testing"},
    {"agent"},
    {"cli", "__main__"},
]
# Packages in one layer that must still not know each other.
SIBLINGS_APART = [("send", "receive"), ("simulator", "ops"), ("simulator", "deploy"), ("ops", "deploy")]
# Third-party libraries kept behind one door each.
DOORS = {"asyncssh": {"transport", "simulator"}, "fabric": {"deploy"}, "invoke": {"deploy"},
         "pluggy": {"plugins", "hookspecs", "__init__"}}


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return rel[0]


def layer_of(part: str) -> int:
    for rank, parts in enumerate(LAYERS):
        if part in parts:
            return rank
    raise AssertionError(f"agent/sf1630/{part} is in no layer of the import contract: add it to LAYERS")


def own_imports(path: Path) -> set[str]:
    """The parts of sf1630 a module imports (``sf1630.send.sender`` -> ``send``)."""
    parts = set()
    for name in imported_modules(path):
        bits = name.split(".")
        if bits[0] == "sf1630" and len(bits) > 1:
            target = bits[1]
            if (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").is_file():
                parts.add(target)
    return parts


def contract_breaches() -> list[str]:
    breaches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = part_of(path)
        for there in own_imports(path) - {here}:
            edge = f"{path.relative_to(ROOT)}: {here} -> {there}"
            if layer_of(there) > layer_of(here):
                breaches.append(f"{edge} (a lower layer imports a higher one)")
            elif {here, there} in [set(pair) for pair in SIBLINGS_APART]:
                breaches.append(f"{edge} (siblings that must not know each other)")
    return breaches


def test_imports_follow_the_layers():
    assert contract_breaches() == []


def test_third_party_libraries_stay_behind_their_door():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in imported_modules(path):
            allowed = DOORS.get(name.split(".")[0])
            if allowed is not None and part_of(path) not in allowed:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_contract_catches_an_upward_import(tmp_path):
    # A test that cannot fail is a defect: the checker must see an edge against the layers.
    assert layer_of("cli") > layer_of("core") > layer_of("documents")
    assert "send" in own_imports_of_text("from sf1630.send.sender import Sender\n", tmp_path)


def own_imports_of_text(text: str, tmp_path: Path) -> set[str]:
    probe = tmp_path / "probe.py"
    probe.write_text(text, encoding="utf-8")
    return own_imports(probe)


PLUGINS = ROOT / "plugins" / "sf1630_plugins"


def plugin_breaches() -> list[str]:
    """Imports of the built-in plugins reaching above core: a plugin sees the plugin API, documents,
    transport, journal and core, as a vendor's plugin does, never config, the host or the commands."""
    breaches = []
    for path in sorted(PLUGINS.rglob("*.py")):
        for there in own_imports(path):
            if layer_of(there) > layer_of("core"):
                breaches.append(f"{path.relative_to(ROOT)}: sf1630_plugins -> {there}")
    return breaches


def test_the_built_in_plugins_import_nothing_above_core():
    assert plugin_breaches() == []


def test_the_plugin_check_sees_an_import_of_config(tmp_path):
    assert layer_of(next(iter(own_imports_of_text("from sf1630.config.locate import SourceMap\n", tmp_path)))) \
        > layer_of("core")
