"""The house rules that keep the code navigable, checked on the source itself:
imports point down (resources <- assets <- orchestration / api), no import cycle, no SQL
outside the stores, no module too long to read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("resources", "assets", "orchestration", "demo", "api")
# Which top-level packages each layer may import (besides its own).
ALLOWED = {
    "resources": set(),
    "demo": {"resources"},
    "assets": {"resources"},
    "orchestration": {"resources", "assets", "demo"},
    "api": {"resources", "assets", "orchestration"},
}
MAX_LINES = 450
SQL = re.compile(r"\b(select\s[\s\S]*?\bfrom\b|insert\s+into|update\s+[\w.\"]+\s+set|"
                 r"delete\s+from|create\s+(temp\s+|temporary\s+)?table)", re.IGNORECASE)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).exists() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path, name: str) -> set[str]:
    """Project modules imported anywhere in the file (function-level imports count)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in MODULES}


GRAPH = {name: _imports(path, name) - {name} for name, path in MODULES.items()}


def test_imports_point_down_from_every_layer():
    upward = sorted(f"{source} -> {target}" for source, targets in GRAPH.items()
                    for target in targets
                    if target.split(".")[0] != source.split(".")[0]
                    and target.split(".")[0] not in ALLOWED[source.split(".")[0]])
    assert upward == []


def test_the_project_modules_import_no_cycle():
    # A package importing its own submodules (an __init__ collecting them) is not a cycle
    # of behaviour; every other edge is.
    edges = {s: {t for t in ts if not t.startswith(s + ".")} for s, ts in GRAPH.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_outside_tests_is_longer_than_a_few_screens():
    files = [p for p in ROOT.rglob("*.py") if not {".venv", "tests", ".git", "build"}
             & set(p.relative_to(ROOT).parts) and "target" not in p.parts]
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("path", sorted(
    [*ROOT.glob("assets/*/assets.py"), *ROOT.glob("orchestration/cli*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)))
def test_asset_and_cli_modules_hold_no_sql(path: Path):
    strings = [node.value for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    statements = [s for s in strings if SQL.search(s)]
    assert statements == []


def test_the_structure_checks_see_the_code():
    # Guards the checks above against passing vacuously (a wrong root finds nothing).
    assert {"resources.settings", "assets.forecast.assets", "orchestration.definitions"} <= set(
        GRAPH)
    assert GRAPH["orchestration.definitions"]
