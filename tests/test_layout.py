"""The package's layout rules, read from its source: no import circles, and one module owns the
JavaScript boundary."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE_ROOT = ROOT / "py"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, at module level or inside functions. ``from . import x``
    counts as importing the module ``x``, not the package (which Python has already imported)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
            found.update(submodules or [target])
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in known and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_import_circles():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_boundary_module_imports_javascript():
    for name, path in modules().items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
        if imported & {"js", "pyodide"}:
            assert name == "inpage._web", name


def test_the_page_runtime_never_needs_the_host_tools():
    """``inpage`` (the page's wheel) imports nothing of ``inpage_tools`` at module level, and no host-only
    library at all; the one lazy import is ``_native``'s, for the demo models' location on CPython."""
    host_only = {"onnx", "aiohttp", "watchfiles", "hatchling", "pyodide_lock", "brotli", "inpage_tools"}
    for name, path in modules().items():
        if not name.startswith("inpage.") and name != "inpage":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                assert node.module.split(".")[0] not in host_only, (name, node.module)
            elif isinstance(node, ast.Import):
                assert not {alias.name.split(".")[0] for alias in node.names} & host_only, name
        lazy = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("inpage_tools")}
        assert not lazy or (name == "inpage._native" and lazy == {"inpage_tools"}), (name, lazy)
