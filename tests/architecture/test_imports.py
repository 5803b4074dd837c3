"""The floor plan holds: no import circle, and no private name used outside its module.

The layers themselves (cli > run > loop > ...) are import-linter contracts in
pyproject.toml, checked by `lint-imports` in the README's test command; this file
checks what import-linter does not: circles inside a room, and `_names`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("star", "workers", "db")
#: every tree whose imports must respect private names: the product, its benchmarks and tests
CHECKED = ("star", "workers", "db", "migrations", "bench", "tests")


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the circles (components of two or more modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere (top level, functions, TYPE_CHECKING)."""
    built = grimp.build_graph(*PACKAGES, cache_dir=None)
    return {module: set(built.find_modules_directly_imported_by(module)) for module in built.modules}


def test_strongly_connected_finds_a_planted_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_through_others() -> None:
    circles = _strongly_connected(_import_graph())
    assert not circles, "import circles (break each by moving the shared types down a room):\n" + "\n".join(
        " -> ".join(circle) for circle in circles)


def _python_files() -> Iterator[Path]:
    for tree in CHECKED:
        yield from sorted((ROOT / tree).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def private_uses(source: str, module: str) -> list[str]:
    """`from other import _name` and `other_module._name` in `source` (the module called `module`)."""
    tree = ast.parse(source)
    found = []
    aliases: dict[str, str] = {}  # local name -> project module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PACKAGES or node.module == module:
                continue
            found += [f"from {node.module} import {a.name}" for a in node.names if _is_private(a.name)]
            for alias in node.names:  # `from star.loop import rounds`: a module, used as rounds._x
                if _is_module(f"{node.module}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and aliases[node.value.id] != module and _is_private(node.attr)):
            found.append(f"{aliases[node.value.id]}.{node.attr}")
    return found


def test_private_use_is_found_in_both_forms() -> None:
    source = ("import db.store as store\nfrom star.cli import _register\nfrom star.loop import rounds\n"
              "store._insert(1)\nrounds._finish(2)\n")
    assert private_uses(source, "tests.x") == ["from star.cli import _register", "db.store._insert",
                                               "star.loop.rounds._finish"]
    assert private_uses("from star.x import _y\n", "star.x") == []


@pytest.mark.parametrize("tree", CHECKED)
def test_no_private_name_is_used_outside_its_module(tree: str) -> None:
    offenders = []
    for path in _python_files():
        if path.relative_to(ROOT).parts[0] != tree:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {use}"
                      for use in private_uses(path.read_text(encoding="utf-8"), _module_name(path))]
    assert not offenders, ("a name that starts with `_` is private to its module; make it public where "
                           "another module needs it:\n" + "\n".join(offenders))
