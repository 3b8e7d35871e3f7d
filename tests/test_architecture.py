"""The architecture, held: the engine imports nothing of the web, and no import cycles.

Every import counts (at the top of a module, inside a function, under TYPE_CHECKING): the
graph is tools/import_graph.py's, read from the source. The engine's own cycles are gone; the
app's that remain are listed below, each to be removed (issue 19, phase 2: one endpoint
registry), and the test fails when one of them grows, a new one appears, or one is gone and
still listed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import import_graph  # noqa: E402 - tools/ is not a package

ENGINE = "bptt_studio.engine"
# What the engine may import: NumPy and the standard library (and itself).
ENGINE_ALLOWED_THIRD_PARTY = {"numpy"}

# The app's import cycles still there, to be taken apart by phase 2's endpoint registry
# (routes, CLI and runner made from one declaration per endpoint).
KNOWN_APP_CYCLES = [
    ["bptt_studio.api", "bptt_studio.cli", "bptt_studio.derived", "bptt_studio.derived_api",
     "bptt_studio.derived_cli", "bptt_studio.export", "bptt_studio.runner"],
    ["bptt_studio.limits", "bptt_studio.service"],
]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph.graph(ROOT)


def test_the_graph_covers_every_module_of_both_packages(graph):
    on_disk = {p for folder in ("app", "engine") for p in (ROOT / folder).rglob("*.py")}
    assert len(graph) == len(on_disk)
    assert {ENGINE, f"{ENGINE}.cells.registry", "bptt_studio.main"} <= set(graph)


def test_each_folder_of_the_engine_imports_only_the_folders_below_it(graph):
    folders = import_graph.folder_graph(graph, import_graph.modules(ROOT))
    engine = {name: {t for t in targets if t.startswith(ENGINE)}
              for name, targets in folders.items() if name.startswith(ENGINE)}
    assert import_graph.cycles(engine) == []
    # the layers, bottom up: each imports only those before it (the root re-exports them)
    layers = ["cells", "request", "bptt", "planning", "tasks", "outputs"]
    for index, layer in enumerate(layers):
        allowed = {f"{ENGINE}.{below}" for below in layers[:index]}
        assert engine[f"{ENGINE}.{layer}"] <= allowed, layer


def test_the_engine_imports_nothing_of_the_web(graph):
    web = {name for name in graph if not name.startswith(ENGINE)}
    reaching = {module: sorted(targets & web) for module, targets in graph.items()
                if module.startswith(ENGINE) and targets & web}
    assert reaching == {}


def test_the_engine_imports_only_numpy_and_the_standard_library():
    found = {}
    for name, path in import_graph.modules(ROOT).items():
        if not name.startswith(ENGINE):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            outside = [root for root in roots if root not in sys.stdlib_module_names
                       and root not in ENGINE_ALLOWED_THIRD_PARTY and root != "bptt_studio"]
            if outside:
                found[name] = outside
    assert found == {}


def test_the_engine_has_no_import_cycle(graph):
    engine = {name: {t for t in targets if t.startswith(ENGINE)}
              for name, targets in graph.items() if name.startswith(ENGINE)}
    assert import_graph.cycles(engine) == []


def test_the_only_import_cycles_are_the_apps_known_ones(graph):
    assert import_graph.cycles(graph) == KNOWN_APP_CYCLES


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools.package-dir]\npkg = "src"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("")
    (tmp_path / "src" / "a.py").write_text("from . import b\n")
    (tmp_path / "src" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .c import C\n")
    (tmp_path / "src" / "c.py").write_text("def f():\n    from pkg.a import x\n")
    assert import_graph.cycles(import_graph.graph(tmp_path)) == [["pkg.a", "pkg.b", "pkg.c"]]
