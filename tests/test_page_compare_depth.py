"""compare=depth (issue 20): one layer beside a stack, the error through depth and time.

Real Chromium against the real server. The student's question is "what does a second layer do
to the error?": one layer and the scenario's stack (two layers when it has one) side by side,
each column drawing its own network (a row a layer), and one sentence above them with the API's
numbers: how much of L(T)'s error reaches step 1 with one layer, and at the stack's top layer
and its bottom one (error_flow, error_flow_layers). The page computes none of it.
"""

from __future__ import annotations

import pytest
from lessons_support import compare_setups
from test_page_compare import api_traces, open_compare
from test_page_compare_reduction import catalogue, shown

from tests.wait_support import eventually

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("query", "scenario", "layers"), [
    ("", {"data": {"preset": "machine"}}, 2),
    ("layers=3&cell=lstm", {"data": {"preset": "machine"}, "num_layers": 3, "cell": "lstm"}, 3),
])
def test_one_layer_beside_a_stack_says_how_much_error_reaches_step_1_in_each(
        page, live_server, console_errors, query, scenario, layers):
    cols = open_compare(page, live_server, "depth", query)
    assert [c["setup"] for c in cols] == ["one", "deep"]
    assert list(compare_setups("depth", scenario)) == ["one", "deep"]
    traces = api_traces(live_server, "depth", scenario)
    assert traces["deep"]["sizes"]["layers"] == layers and "layers" not in traces["one"]["sizes"]
    # each column draws its own network: the stack's a row a layer
    rows = page.evaluate("""() => [...document.querySelectorAll('#compare .cmp-col')].map(
        (c) => new Set([...c.querySelectorAll('.network g.node[data-node=h]')].map(
            (n) => n.dataset.layer ?? '1')).size)""")
    assert rows == [1, layers]
    flows = traces["deep"]["diagnostics"]["error_flow_layers"]
    expected = [shown(page, value, 3) for value in (
        traces["one"]["diagnostics"]["error_flow"][-1][0], flows[-1][-1][0], flows[0][-1][0])]

    def says_the_apis_numbers() -> None:
        text = page.text_content(".cmp-point-pass")
        assert all(number in text for number in expected), (text, expected)
        assert catalogue(page, "cmp.setup.layers", {"k": layers}) in page.text_content(
            "#compare")
    eventually(says_the_apis_numbers)
    assert console_errors == []


def test_depth_is_a_choice_of_the_top_bars_comparison(page, live_server, console_errors):
    page.goto(f"{live_server}/?lang=pt-BR")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    options = page.evaluate("""() => [...document.querySelectorAll('option[value=depth]')]
        .map((o) => o.textContent)""")
    assert options == [catalogue(page, "cmp.mode.depth")]
    assert console_errors == []
