"""A new cell on the page is one engine module, one page module and its catalogue keys.

The test-only cell tests/mgu_cell.py is registered in a server of its own (``BPTT_CELLS``, as
tests/test_api_new_cell.py does), and its page module tests/static/mgu.js is served to the
browser as static/js/cells/mgu.js (the product ships no MGU), with its catalogue keys added to
the English catalogue on the way. No other file of the page knows the cell: the menu lists it
from the engine's registry, and the equation panel, the neuron view and the worksheet draw it
from its module. Without its page module the page says so where its equations would be.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.browser

TESTS = Path(__file__).resolve().parent
PAGE_MODULE = TESTS / "static" / "mgu.js"
# The keys a new cell adds to each catalogue (static/js/i18n/<lang>.js).
CATALOGUE_KEYS = {
    "ctl.cell.mgu": "Minimal gated unit (a test cell)",
    "cmp.setup.mgu": "Minimal gated unit",
    "ws.row.fh": "forget gate times the previous state",
}
READY = "#studio[data-ready=true]"


@pytest.fixture(scope="module")
def mgu_server() -> Iterator[str]:
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    proc, base = start_server({"BPTT_CELLS": "mgu_cell", "PYTHONPATH": path})
    try:
        yield base
    finally:
        stop_server(proc)


def serve_the_cells_page_files(page, module: bool = True) -> None:  # noqa: ANN001 - a Page
    """Serve the page module (unless ``module`` is false) and the catalogue with its keys."""
    if module:
        page.route("**/static/js/cells/mgu.js", lambda route: route.fulfill(
            path=str(PAGE_MODULE), content_type="text/javascript; charset=utf-8"))

    def catalogue(route) -> None:  # noqa: ANN001 - a Route
        response = route.fetch()
        keys = "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in CATALOGUE_KEYS.items())
        body = response.text().replace("export default {\n", "export default {\n" + keys, 1)
        route.fulfill(response=response, body=body)

    page.route("**/static/js/i18n/en.js", catalogue)


def open_studio(page, base: str, query: str) -> None:  # noqa: ANN001 - a Page
    page.goto(f"{base}/?{query}")
    page.wait_for_selector(READY, timeout=30_000)


def equation_lines(page) -> list[str]:  # noqa: ANN001 - a Page
    return page.eval_on_selector_all("#equation .eq-line", "ls => ls.map(l => l.dataset.eq)")


def test_the_menu_lists_the_engines_cells_with_their_catalogue_labels(page, mgu_server,
                                                                      console_errors):
    serve_the_cells_page_files(page)
    open_studio(page, mgu_server, "cell=mgu")
    options = page.eval_on_selector_all(
        "#ctl-cell option", "os => os.map(o => [o.value, o.textContent])")
    assert options == [["rnn", "Vanilla RNN"], ["lstm", "LSTM"], ["gru", "GRU"],
                       ["mgu", CATALOGUE_KEYS["ctl.cell.mgu"]]]
    assert page.input_value("#ctl-cell") == "mgu"
    assert console_errors == []


def test_the_page_steps_the_new_cell_forward_and_backward_with_its_own_equations(
        page, mgu_server, console_errors):
    serve_the_cells_page_files(page)
    open_studio(page, mgu_server, "cell=mgu&e=1")
    assert page.get_attribute("#equation", "data-kind") == "forward"
    assert equation_lines(page) == ["inputs", "gate-f", "gate-n", "h", "yhat", "loss"]
    # the gate's line is the module's, with the API's numbers in it
    f_line = page.text_content("#equation [data-eq=gate-f]")
    assert "σ(Wfh(1)+Ufx(2)+bf+pf⊙h(1))" in f_line
    trace = page.evaluate("() => window.bpttStudio.trace")
    gates_f = page.eval_on_selector_all(
        "#equation [data-eq=gate-f] [data-field='gates.f']", "ns => ns.map(n => +n.dataset.value)")
    assert gates_f == pytest.approx(trace["events"][1]["gates"]["f"])
    # stepping with the keys reaches the backward pass: its δ's are the module's lines
    page.keyboard.press("End")
    for _ in range(40):
        if page.get_attribute("#equation", "data-kind") == "backward":
            break
        page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#equation", "data-kind") == "backward"
    lines = equation_lines(page)
    assert lines[:2] == ["g_o", "dh"] and {"delta-n", "delta-f", "contrib"} <= set(lines)
    contrib = page.text_content("#equation [data-eq=contrib]")
    assert "dpf+=" in contrib  # the diagonal's, read from the cell_spec
    assert console_errors == []


def test_in_courseras_notation_the_diagonal_keeps_its_own_card(page, mgu_server,
                                                               console_errors):
    # W_f and U_f are one matrix W_f·[a, x] there; p_f multiplies a elementwise, apart
    serve_the_cells_page_files(page)
    open_studio(page, mgu_server, "cell=mgu&e=9&nota=coursera")
    contrib = page.text_content("#equation [data-eq=contrib]")
    assert "dpf+=" in contrib and "[a⟨2⟩;x⟨3⟩]" in contrib
    assert console_errors == []


def test_the_new_cells_neuron_view_names_every_term(page, mgu_server, console_errors):
    serve_the_cells_page_files(page)
    open_studio(page, mgu_server, "cell=mgu&e=9&unit=1")
    page.wait_for_selector("#neuron[data-state=ready]", timeout=30_000)
    text = page.inner_text("#neuron")
    assert "undefined" not in text and "dh_next" not in text and "one_minus_f" not in text
    parts = page.eval_on_selector_all("#neuron [data-node]", "ns => ns.map(n => n.dataset.node)")
    assert {"dh", "deltas.f", "deltas.n"} <= set(parts)
    assert console_errors == []


def test_the_new_cells_worksheet_has_its_rows(page, mgu_server, console_errors):
    serve_the_cells_page_files(page)
    page.goto(f"{mgu_server}/worksheet?cell=mgu&hidden_size=2&text=abc")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    fields = page.eval_on_selector_all(
        "[data-field]", "ns => [...new Set(ns.map(n => n.dataset.field.split('.').pop()))]")
    assert {"f", "n", "fh_prev", "p_f"} <= set(fields)
    assert CATALOGUE_KEYS["ws.row.fh"] in page.inner_text("body")
    assert console_errors == []


def test_without_its_page_module_the_page_says_so_and_never_draws_another_cells(
        page, mgu_server, console_errors):
    serve_the_cells_page_files(page, module=False)
    open_studio(page, mgu_server, "cell=mgu&e=1")
    assert equation_lines(page) == ["no-cell"]
    note = page.inner_text("#equation")
    assert "static/js/cells/mgu.js" in note
    assert not re.search(r"[zr]\(\d\)", note)  # none of the GRU's gates
    # the only error is the missing module's 404, which the note explains
    assert all("404" in error for error in console_errors)
