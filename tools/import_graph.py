"""The import graph of the Python product: which module imports which, and its cycles.

    .venv/bin/python tools/import_graph.py            # the edges, then the cycles
    .venv/bin/python tools/import_graph.py --cycles   # only the cycles (exit 1 if any)

Every import counts: at the top of a module, inside a function, under ``TYPE_CHECKING``,
since each is a dependency a reader has to follow. The package ``bptt_studio`` is app/ and
``bptt_studio.engine`` is engine/ (pyproject.toml's mapping, read from there); a module is
named by its import name (``bptt_studio.engine.cost``). tests/test_architecture.py holds the
graph to the rules: the engine imports nothing of the web, and no import cycle.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def packages(root: Path = ROOT) -> dict[str, Path]:
    """{package import name: its folder} of the Python packages, from pyproject.toml."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: root / folder for name, folder in mapping.items()
            if name and (root / folder / "__init__.py").exists()}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """{module import name: file} of every module of the product's Python packages."""
    found: dict[str, Path] = {}
    mapped = packages(root)
    for package, folder in mapped.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if any((folder / Path(*parts[:i]) / "__init__.py").exists() is False
                   for i in range(1, len(parts))):
                continue  # in a folder that is not a package (none in the product)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def folder_of(module: str, known: dict[str, Path]) -> str:
    """The package (folder) a module lives in: itself for a package's __init__."""
    return module if known[module].stem == "__init__" else module.rsplit(".", 1)[0]


def folder_graph(edges: dict[str, set[str]], known: dict[str, Path]) -> dict[str, set[str]]:
    """{folder: the folders its modules import} (a folder's imports of itself left out)."""
    folders: dict[str, set[str]] = {}
    for module, targets in edges.items():
        here = folder_of(module, known)
        out = folders.setdefault(here, set())
        for target in targets:
            there = folder_of(target, known)
            if there != here:
                out.add(there)
    return folders


def _imported(tree: ast.AST, module: str, is_package: bool, known: Iterable[str]
              ) -> Iterator[str]:
    """Every module the module imports, absolute, wherever the import statement is.

    ``from . import gru`` imports the module ``gru`` (not the package's ``__init__``, which
    Python runs first for every module of a package alike); ``from .cell import Cell`` the
    module ``cell``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                submodule = f"{prefix}.{alias.name}"
                yield submodule if submodule in known else prefix


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the product modules it imports}."""
    known = modules(root)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = {target for target in _imported(tree, name, path.stem == "__init__", known)
                   if target in known and target != name}
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", action="store_true", help="print only the cycles")
    parser.add_argument("--folders", action="store_true",
                        help="the graph of folders (packages) instead of modules")
    args = parser.parse_args()
    edges = graph()
    if args.folders:
        edges = folder_graph(edges, modules())
    if not args.cycles:
        for name in sorted(edges):
            print(f"{name} -> {', '.join(sorted(edges[name])) or '(nothing of ours)'}")
    found = cycles(edges)
    for component in found:
        print(f"cycle of {len(component)}: {' <-> '.join(component)}")
    if not found:
        print("no import cycle")
    return 1 if found and args.cycles else 0


if __name__ == "__main__":
    sys.exit(main())
