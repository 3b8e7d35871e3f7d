"""The architecture, held: the engine imports nothing of the web, each package's folders form
layers (no folder imports one above it), and no import cycle anywhere.

Every import counts (at the top of a module, inside a function, under TYPE_CHECKING): the
graph is tools/import_graph.py's, read from the source.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import import_graph  # noqa: E402 - tools/ is not a package

ENGINE = "bptt_studio.engine"
# What the engine may import: NumPy and the standard library (and itself).
ENGINE_ALLOWED_THIRD_PARTY = {"numpy"}

APP = "bptt_studio"
# The app's folders and the folders of the app each may import (the engine, below them all,
# any of them may): what every part shares at the bottom, then the machinery that serves any
# request, the endpoints, and the parts that stand beside them. The top (main.py, cli.py)
# wires them all.
APP_LAYERS = {
    "core": set(),
    "serving": {"core"},
    "endpoints": {"core", "serving"},
    "pages": {"core"},
    "notebook": {"core", "endpoints"},
    "rooms": {"core", "serving"},
}
# The top of the package: only the wiring.
APP_TOP = {APP, f"{APP}.main", f"{APP}.cli"}


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


def test_there_is_no_import_cycle(graph):
    assert import_graph.cycles(graph) == []


def test_the_apps_folders_form_a_dag(graph):
    folders = import_graph.folder_graph(graph, import_graph.modules(ROOT))
    app = {name: {t for t in targets if not t.startswith(ENGINE)}
           for name, targets in folders.items() if not name.startswith(ENGINE)}
    assert import_graph.cycles(app) == []


def test_each_folder_of_the_app_imports_only_the_folders_it_stands_on(graph):
    folders = import_graph.folder_graph(graph, import_graph.modules(ROOT))
    app = {name.removeprefix(f"{APP}."): {t.removeprefix(f"{APP}.") for t in targets
                                           if not t.startswith(ENGINE)}
           for name, targets in folders.items()
           if name.startswith(f"{APP}.") and not name.startswith(ENGINE)}
    assert set(app) == set(APP_LAYERS)  # every folder of app/ has its place here
    assert {name: sorted(imported - APP_LAYERS[name]) for name, imported in app.items()} == {
        name: [] for name in APP_LAYERS}


def test_the_top_of_the_app_holds_only_the_wiring(graph):
    top = {name for name in graph if name.count(".") <= 1 and not name.startswith(ENGINE)
           and import_graph.folder_of(name, import_graph.modules(ROOT)) == APP}
    assert top == APP_TOP


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


# A path as the README and the manual write one: in backquotes, or a file with its extension.
NAMED_PATH = re.compile(r"`((?:app|engine|static|templates|tests|tools|bench|docs)/[^`\s]*)`"
                        r"|\b((?:app|engine|static|templates|tools|bench)/[\w./<>-]+"
                        r"\.(?:py|js|json|html|css))\b")


@pytest.mark.parametrize("document", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_every_path_the_readme_and_the_manual_name_exists(document):
    # the README's request flow and module map, and the manual's pointers into the code, are a
    # reader's picture of the house: a module moved without them sends the reader nowhere
    named = {a or b for a, b in NAMED_PATH.findall((ROOT / document).read_text())}
    missing = [path for path in sorted(named)
               if not list(ROOT.glob(re.sub(r"<[^>]+>", "*", path.rstrip("/"))))]
    assert missing == []


def test_the_readme_names_the_paths_of_its_flow_and_map():
    named = NAMED_PATH.findall((ROOT / "README.md").read_text())
    assert len(named) > 20  # the flow and the map are there, so the test above reads them


def test_the_readmes_module_map_names_every_folder_of_the_app():
    readme = (ROOT / "README.md").read_text()
    folders = {p.name for p in (ROOT / "app").iterdir() if (p / "__init__.py").exists()}
    assert folders == set(APP_LAYERS)  # the layers above are the folders, too
    assert [f for f in sorted(folders) if f"`app/{f}/`" not in readme] == []


# ---------------------------------------------------------------------------------------------
# The page: everything cell-specific lives in static/js/cells/ (one module per cell and their
# registry). The rest of the page asks the module of the trace's cell, so it names no cell and
# no gate's parameter: the catalogues (static/js/i18n/) and the lessons' content hold words and
# formulas about particular cells, and are the other places allowed to.

PAGE_JS = ROOT / "static" / "js"
PAGE_ALLOWED = (PAGE_JS / "cells", PAGE_JS / "i18n")
PAGE_TEMPLATES = ROOT / "templates"
# A comment may name what it talks about; code may not: comments are dropped before the search
# (a "//" inside a string such as a URL is kept, since the string is matched first).
JS_COMMENT = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)"""
                        r"|//[^\n]*|/\*.*?\*/", re.S)


def js_code(text: str) -> str:
    """The text of a module without its comments."""
    return JS_COMMENT.sub(lambda m: m.group(1) or "", text)


def page_cell_names(text: str, cells: list[str], params: list[str]) -> list[str]:
    """The cells (as a string, or a key such as `rnn:`) and the gates' parameters a module's
    code names."""
    cell = "|".join(map(re.escape, cells))
    param = "|".join(map(re.escape, params))
    found = re.findall(rf"""["'`]({cell})["'`]|[{{,\s]({cell})\s*:""", text)
    named = {a or b for a, b in found}
    named |= set(re.findall(rf"(?<![\w.])({param})(?!\w)", text))
    return sorted(named)


def registered_cells() -> tuple[list[str], list[str]]:
    """The engine's registered cells, and their gates' parameters (a name with the gate after
    its kind, "W_f"; the output layer's V and b_y are every cell's, not a gate's)."""
    from bptt_studio.engine.cells.registry import CELLS

    params = {name for cell in CELLS.values() for name in cell.PARAMS if "_" in name}
    return list(CELLS), sorted(params)


def test_the_page_outside_its_cell_modules_names_no_cell_and_no_gates_parameter():
    cells, params = registered_cells()
    assert {"rnn", "lstm", "gru"} <= set(cells) and {"W_f", "W_z", "U_r", "b_o"} <= set(params)
    found = {}
    for path in sorted(PAGE_JS.rglob("*.js")):
        if any(path.is_relative_to(allowed) for allowed in PAGE_ALLOWED):
            continue
        named = page_cell_names(js_code(path.read_text()), cells, params)
        if named:
            found[str(path.relative_to(ROOT))] = named
    for path in sorted(PAGE_TEMPLATES.glob("*.html")):  # the cell menu is made from the registry
        named = [c for c in cells if re.search(rf"""value=["']{c}["']""", path.read_text())]
        if named:
            found[str(path.relative_to(ROOT))] = named
    assert found == {}


def test_the_search_for_cell_names_sees_strings_and_keys_not_comments():
    code = js_code('const a = x === "lstm"; // the rnn: "gru"\nconst b = { gru: 1 };'
                   ' f(`W_f`); /* "rnn" */ g("http://x"), W_h.y, sW_hx;')
    assert page_cell_names(code, ["rnn", "lstm", "gru"], ["W_f", "W_h"]) == [
        "W_f", "W_h", "gru", "lstm"]
    assert "http://x" in code


def test_every_cell_the_engine_registers_has_its_page_module():
    # the page would say it has none (cell.noModule) where the cell's equations belong
    cells, _ = registered_cells()
    missing = [c for c in cells if not (PAGE_JS / "cells" / f"{c}.js").is_file()]
    assert missing == []
