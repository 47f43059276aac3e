"""The packages stay layered: plumbing below the capabilities, each capability
importing only those below it, and no module importing itself back in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "stockapp"
# Lowest first: a package may import only itself and those before it.
LAYERS = (
    "core",
    "access",
    "history",
    "stock",
    "exchange",
    "moves",
    "labels",
    "trends",
    "webhooks",
    "ops",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The stockapp modules ``path`` imports, as dotted names."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            if source.startswith("stockapp"):
                found.add(source)
                found |= {f"{source}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("stockapp")}
    # A package's __init__ only wires its modules in; an import names a module.
    modules = {module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    return found & modules


GRAPH = {module_name(p): imported_modules(p) for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_no_higher_layer(module):
    own = layer(module)
    if own is None:  # stockapp itself: create_app lists every capability
        return
    higher = {
        imported
        for imported in GRAPH[module]
        if layer(imported) is not None
        and LAYERS.index(layer(imported)) > LAYERS.index(own)
    }
    assert higher == set()


def test_no_module_imports_itself_through_a_cycle():
    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [m for m in GRAPH[start] if m != start]
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(GRAPH.get(module, ()))
        return seen

    cycles = {module for module in GRAPH if module in reaches(module)}
    assert cycles == set()


def test_the_core_imports_no_capability():
    capabilities = set(LAYERS) - {"core"}
    reached = {
        imported
        for module, imports in GRAPH.items()
        if layer(module) == "core"
        for imported in imports
        if layer(imported) in capabilities
    }
    assert reached == set()
