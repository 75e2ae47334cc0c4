"""Every hook is documented in docs/plugins.md with its exact signature and has a test_hook_<name>
(Datasette's test_docs.py); every file the guide points to exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HOOKSPECS = ROOT / "agent" / "sf1630" / "hookspecs.py"
GUIDE = ROOT / "docs" / "plugins.md"


def hook_signatures() -> dict[str, str]:
    """name -> "name(args) -> returns", as written in hookspecs.py."""
    tree = ast.parse(HOOKSPECS.read_text(encoding="utf-8"))
    return {node.name: f"{node.name}({ast.unparse(node.args)}) -> {ast.unparse(node.returns)}"
            for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("sf1630_")}


HOOKS = hook_signatures()


def guide_sections() -> dict[str, str]:
    """### heading -> the text up to the next heading."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^### (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_there_are_hooks():
    assert {"sf1630_register_sources", "sf1630_register_sinks", "sf1630_register_commands", "sf1630_on_delivered",
            "sf1630_on_failed", "sf1630_on_received", "sf1630_on_loaded", "sf1630_on_retention_warning"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_exact_signature(hook):
    sections = guide_sections()
    assert hook in sections, f"docs/plugins.md has no '### {hook}' heading"
    assert HOOKS[hook] in sections[hook], f"the '### {hook}' section must show: {HOOKS[hook]}"
    assert "@sf1630.hookimpl" in sections[hook], f"the '### {hook}' section needs an example"


def test_every_documented_hook_exists():
    documented = {h for h in guide_sections() if h.startswith("sf1630_")}
    assert documented - set(HOOKS) == set(), "docs/plugins.md documents hooks that hookspecs.py lacks"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    pattern = re.compile(rf"^def test_hook_{hook}\(", re.M)
    found = [p for p in (ROOT / "tests").rglob("test_*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert found, f"no test named test_hook_{hook} under tests/"


def test_hookspec_docstrings_say_when_gets_returns():
    tree = ast.parse(HOOKSPECS.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in HOOKS:
            doc = ast.get_docstring(node) or ""
            assert all(word in doc for word in ("Runs", "Gets", "Returns")), node.name


def test_files_the_guide_points_to_exist():
    text = GUIDE.read_text(encoding="utf-8")
    targets = set(re.findall(r"\]\(\.\./([^)#]+)\)", text)) | set(re.findall(r"`((?:examples|plugins|agent|tests)/[^`\s]+)`", text))
    missing = [t for t in sorted(targets) if not (ROOT / t.rstrip("/")).exists()]
    assert targets and not missing, f"docs/plugins.md points to missing files: {missing}"


def test_each_event_and_its_hook_agree():
    """An event is declared once (sf1630.events) and its hookspec takes exactly its fields, in order."""
    import dataclasses

    from sf1630.events import all_events

    declared = {e.hook: e for e in all_events() if e.hook}
    event_hooks = {h for h in HOOKS if h.startswith("sf1630_on_")}
    assert set(declared) == event_hooks, "every sf1630_on_* hookspec needs an event in sf1630.events and back"
    for hook, event in declared.items():
        fields = ", ".join(f.name for f in dataclasses.fields(event))
        assert HOOKS[hook].startswith(f"{hook}("), hook
        params = re.findall(r"(\w+):", HOOKS[hook].split("(", 1)[1].rsplit(") ->", 1)[0])
        assert ", ".join(params) == fields, f"{hook} takes ({', '.join(params)}), {event.__name__} has ({fields})"
