"""Imports sit at the top of a module; one inside a function says why, in a comment beside or above it.

A late import hides the module's dependencies from a reader (and has hidden import cycles before).
Start-up time is the usual reason to keep one: psycopg only for a PostgreSQL journal or sink, the
command modules under cli/ (every one loads when ``sf1630`` starts; each says so once at its top).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SOURCES = [ROOT / "agent" / "sf1630", ROOT / "plugins" / "sf1630_plugins"]
CLI = ROOT / "agent" / "sf1630" / "cli"
CLI_NOTE = "# Late imports inside the functions"
# Modules whose late imports are still to be moved up or explained; remove a name once it is done.
PENDING: set[str] = set()


def _modules() -> list[Path]:
    return sorted(p for root in SOURCES for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return "/".join(path.relative_to(ROOT).parts[1:])  # sf1630/... or sf1630_plugins/...


def _unexplained(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for fn in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                near = lines[max(0, node.lineno - 3):node.lineno]
                if not any("#" in line for line in near):
                    found.append(f"{_name(path)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_late_imports_say_why(path: Path) -> None:
    if _name(path) in PENDING:
        pytest.skip(f"{_name(path)}: late imports not sorted out yet")
    if path.parent == CLI and path.name != "__init__.py":
        text = path.read_text(encoding="utf-8")
        assert path.name == "main.py" or CLI_NOTE in text, (
            f"{_name(path)}: a command module imports its work late; say so once at the top with {CLI_NOTE!r}")
        return
    problems = _unexplained(path)
    assert not problems, ("imports inside functions without a reason; move them to the top of the module, "
                          "or say why in a comment beside or above:\n" + "\n".join(problems))
