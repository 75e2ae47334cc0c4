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
