"""A stack of layers (num_layers) in a real browser: the Layers control and its link, the
unrolled network drawn a row a layer, a lower layer's backward step with the error that comes
down from the layer above (the API's dh_above), the error-flow chart's choice of layer, and the
actions the API refuses for a stack (the neuron view, the PyTorch script, the bug hunt) not
offered, with the note that says why."""

from __future__ import annotations

import re

import pytest

from tests.wait_support import eventually

pytestmark = pytest.mark.browser

# Chromium logs every 4xx answer to fetch() as a console error: a refused link's first request.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


def open_link(page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.wait_for_function("() => document.body.dataset.traceReady === 'true'")


def catalogue(page, key: str, args: dict | None = None) -> str:
    return page.evaluate(
        "([k, a]) => import('/static/js/text/i18n.js').then((m) => m.t(k, a))", [key, args])


def go_to(page, kind: str, t: int, layer: int) -> dict:
    """Move to a layer's step; the API's event there (from the trace the page drew)."""
    event = page.evaluate(
        """([kind, t, layer]) => {
          const h = window.bpttStudio;
          const i = h.trace.events.findIndex(
            (e) => e.kind === kind && e.t === t && e.layer === layer);
          return { i, ev: h.trace.events[i], moved: h.goTo({ kind, t, layer }) };
        }""", [kind, t, layer])
    assert event["moved"]
    assert event["i"] >= 0
    page.wait_for_function(
        "(i) => document.getElementById('network-svg')?.dataset.eventIndex === String(i)",
        arg=event["i"])
    return event["ev"]


def test_the_layers_control_asks_the_api_again_and_the_link_keeps_it(page, live_server,
                                                                      console_errors):
    open_link(page, live_server, "cell=lstm")
    assert page.input_value("#ctl-layers") == "1"
    page.fill("#ctl-layers", "3")
    page.press("#ctl-layers", "Enter")
    page.wait_for_function("() => location.search.includes('layers=3')")
    eventually(lambda: _assert_equal(
        page.evaluate("() => window.bpttStudio.trace?.sizes?.layers ?? null"), 3))
    link = page.evaluate("location.href")
    page.goto(link)
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.wait_for_function("() => window.bpttStudio.trace?.sizes?.layers === 3")
    assert page.input_value("#ctl-layers") == "3"
    assert page.evaluate("() => window.bpttStudio.trace.config.num_layers") == 3
    assert console_errors == []


def test_a_link_with_more_layers_than_the_api_takes_opens_with_four_and_says_so(
        page, live_server, console_errors):
    open_link(page, live_server, "layers=9")
    assert page.input_value("#ctl-layers") == "4"
    note = page.locator("#status-link")
    assert note.is_visible()
    assert catalogue(page, "ctl.layers") in note.inner_text()
    assert page.evaluate("() => window.bpttStudio.trace.sizes.layers") == 4
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


def _assert_equal(got, want) -> None:
    assert got == want, (got, want)


def test_each_layer_is_a_row_layer_one_over_x_and_the_output_reading_the_top(
        page, live_server, console_errors):
    open_link(page, live_server, "cell=lstm&layers=3")
    T = page.evaluate("() => window.bpttStudio.trace.sizes.T")

    def top(node_id: str) -> float:
        return page.evaluate(
            "(id) => document.getElementById(id).getBoundingClientRect().top", node_id)

    for t in range(1, T + 1):
        rows = [f"node-x-{t}", f"node-h-{t}", f"node-h_l2-{t}", f"node-h_l3-{t}",
                f"node-yhat-{t}"]
        ys = [top(node) for node in rows]
        assert ys == sorted(ys, reverse=True), (t, ys)  # x at the bottom, the output on top
    # one row of h nodes a layer, every row a node a step (and h0)
    layers = page.evaluate("""() => [...document.querySelectorAll('.node[data-node=h]')]
        .map((n) => n.dataset.layer)""")
    assert sorted(set(layers)) == ["1", "2", "3"]
    assert all(layers.count(j) == T + 1 for j in ("1", "2", "3"))
    assert page.locator(".layer-label").count() == 3
    assert console_errors == []


def test_a_lower_layer_backward_step_highlights_its_row_and_shows_the_error_from_above(
        page, live_server, console_errors):
    open_link(page, live_server, "cell=lstm&layers=3")
    ev = go_to(page, "backward", 3, 2)
    svg = page.locator("#network-svg")
    assert svg.get_attribute("data-event-layer") == "2"
    status = page.locator("#tl-status").inner_text()
    assert status.endswith(catalogue(page, "timeline.status.layer", {"status": "", "j": 2}))
    assert page.get_attribute("#net-layer-band", "data-layer") == "2"
    # the event's own layer and step, not the same step of the layers around it
    assert page.get_attribute("#node-h_l2-3", "data-current") == "true"
    assert page.get_attribute("#node-c_l2-3", "data-current") == "true"
    assert page.get_attribute("#node-h-3", "data-current") is None
    assert page.get_attribute("#node-h_l3-3", "data-current") is None
    # the error from the layer above comes down into h(3) of layer 2, beside the one from t + 1
    above = page.locator("#err-above-3-u0-l2")
    assert above.is_visible()
    assert above.get_attribute("data-layer") == "2"
    # its number is the API's norm of dh_above, as every strand's is its own norm
    written = page.evaluate(
        "(v) => import('/static/js/text/format.js').then((m) => m.num(v, 2))",
        ev["norms"]["dh_above"])
    assert above.locator(".err-norm").text_content() == written
    assert page.locator("#err-next-3-u0-l2").is_visible()
    # the equation: dh = dh_above + dh_next, the API's own numbers
    line = page.locator('#equation [data-eq="dh"]')
    shown = line.locator('[data-field="dh_above"]').evaluate_all(
        "(nums) => nums.map((n) => Number(n.dataset.value))")
    assert shown == ev["dh_above"]
    assert line.locator('[data-field="dh_out"]').count() == 0
    nexts = line.locator('[data-field="dh_next"]').evaluate_all(
        "(nums) => nums.map((n) => Number(n.dataset.value))")
    assert nexts == ev["dh_next"]
    assert catalogue(page, "eq.fromAbove", {"j": 3}) in line.inner_text()
    note = page.locator('#equation [data-eq="dh-above"]')
    assert note.inner_text().strip() == catalogue(
        page, "eq.dhAbove", {"t": 3, "next": 4, "j": 2, "above": 3})
    # the contributions and accumulators are layer 2's parameters
    contrib = page.locator('#equation [data-eq="contrib"]').inner_text()
    assert "l2" in contrib and "l3" not in contrib
    page.locator("#heatmaps").scroll_into_view_if_needed()  # drawn when it comes into view

    def layer_two_cards() -> None:
        cards = page.locator(".hm-card:visible").evaluate_all(
            "(cards) => cards.map((c) => c.dataset.params)")
        assert sorted(n for c in cards for n in c.split()) == sorted(ev["accum"])
        assert all(name.endswith("_l2") for c in cards for name in c.split())

    eventually(layer_two_cards)
    assert console_errors == []


def test_the_error_flow_chart_chooses_the_layer_the_top_by_default(page, live_server,
                                                                    console_errors):
    open_link(page, live_server, "layers=2")
    page.locator("#charts").scroll_into_view_if_needed()
    box = page.locator("#flow-layer-box")
    assert box.is_visible()
    select = page.locator("#ctl-flow-layer")
    assert select.locator("option").count() == 2
    assert select.input_value() == "2"
    chart = page.locator("#chart-error-flow")
    eventually(lambda: _assert_equal(chart.get_attribute("data-layer"), "2"))
    page.select_option("#ctl-flow-layer", "1")
    eventually(lambda: _assert_equal(chart.get_attribute("data-layer"), "1"))
    # the hover text of the corner (loss at T, step 1) is the API's number for layer 1
    plotted, api = page.evaluate("""async () => {
      const el = document.getElementById('chart-error-flow');
      const flow = window.bpttStudio.trace.diagnostics.error_flow_layers[0];
      const { num } = await import('/static/js/text/format.js');
      const T = flow.length;
      return [el.data[0].text[T - 1][0], num(flow[T - 1][0], 3)];
    }""")
    assert plotted == api
    assert catalogue(page, "charts.layer.top", {"j": 2}) in select.inner_text()
    assert console_errors == []


def test_one_layer_has_no_layer_choice_and_offers_every_action(page, live_server,
                                                               console_errors):
    open_link(page, live_server, "cell=lstm")
    assert page.locator("#flow-layer-box").is_hidden()
    assert page.locator("#btn-export-torch").is_visible()
    assert page.locator("#btn-bughunt").is_visible()
    assert page.locator("#stack-note").is_hidden()
    assert page.locator("#net-layer-band").count() == 0
    assert console_errors == []


def test_a_stack_does_not_offer_what_the_api_refuses_and_says_why(page, live_server,
                                                                  console_errors):
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    open_link(page, live_server, "cell=lstm&layers=2")
    note = page.locator("#stack-note")
    assert note.is_visible()
    assert note.inner_text() == catalogue(page, "ctl.layers.refused")
    # the bug hunt plants its bug in one layer's pass (the API refuses bug with num_layers > 1)
    assert page.locator("#btn-bughunt").is_hidden()
    assert page.locator('#ctl-compare option[value="bug"]').is_disabled()
    # the PyTorch script writes a stack: offered
    assert page.locator("#btn-export-torch").is_visible()
    # the worksheet's tables are one layer's: its buttons wait, and the hint says why
    assert page.locator("#btn-worksheet-key").is_disabled()
    assert page.locator("#worksheet-hint").inner_text() == catalogue(page, "ctl.worksheet.stack")
    assert not [url for url in asked if "/api/v1/bugs" in url]
    assert console_errors == []


def test_a_lower_layer_s_unit_opens_its_neuron_view_with_the_error_from_above(
        page, live_server, console_errors):
    open_link(page, live_server, "cell=lstm&layers=2")
    ev = go_to(page, "backward", 3, 1)
    units = page.locator("#network .unit")
    assert units.count() == 4
    # the unit buttons sit on the event's own layer (layer 1's h row), not on the top's
    unit_y = units.first.evaluate("(u) => u.getBoundingClientRect().top")
    h1 = page.locator("#node-h-3").bounding_box()
    assert h1["y"] - 20 <= unit_y <= h1["y"] + h1["height"] + 20
    units.nth(1).click()
    neuron = page.locator("#neuron")
    eventually(lambda: _assert_equal(neuron.get_attribute("data-state"), "ready"))
    assert catalogue(page, "net.layer", {"j": 1}) in neuron.locator("h2").inner_text()
    above = neuron.locator('[data-node="dh_above"]').first
    assert float(above.get_attribute("data-value")) == ev["dh_above"][1]
    assert catalogue(page, "neuron.w.above", {"t": 3, "above": 2}) in neuron.inner_text()
    page.wait_for_function("() => new URLSearchParams(location.search).get('unit') === '2'")
    assert console_errors == []


def test_the_editors_name_each_layer_and_edit_a_stack_s_initial_state_row_by_row(
        page, live_server, console_errors):
    open_link(page, live_server, "layers=2")
    page.click("#btn-editors")
    page.wait_for_selector("#editors:not([hidden])")
    page.click("#ed-tab-weights")
    page.wait_for_selector('#editors [data-param="U_l2"]')
    # layer 2's input matrix multiplies layer 1's h(t): named apart from layer 1's U
    box = page.locator('#editors [data-param="U_l2"]')
    assert "l2" in box.locator("h3").inner_text()
    assert catalogue(page, "ed.multipliesBelow", {"v": "h(t)", "j": 1}) in box.inner_text()
    states = page.locator("#editors .ed-box").filter(
        has_text=re.compile(re.escape(catalogue(page, "ed.stateLayer", {"v": "h(0)", "j": 2}))))
    assert states.count() == 1
    entry = states.locator("input").first
    entry.fill("0.5")
    entry.press("Enter")
    eventually(lambda: _assert_equal(
        page.evaluate("() => window.bpttStudio.trace.config.h0"),
        [[0, 0, 0, 0], [0.5, 0, 0, 0]]))
    assert console_errors == []


def test_a_lower_rnn_layer_s_delta_is_phi_prime_times_its_dh_not_the_output_s(
        page, live_server, console_errors):
    """A vanilla RNN's delta line at a lower layer multiplies phi'(a) by dh (the line above:
    from the layer above and from t + 1); no output error g_o is written, the layer has none.
    The top layer's line keeps V^T g_o + W^T delta(t+1)."""
    open_link(page, live_server, "layers=2")
    ev = go_to(page, "backward", 3, 1)
    line = page.locator('#equation [data-eq="delta"]')
    assert line.locator('[data-field="delta"]').evaluate_all(
        "(nums) => nums.map((n) => Number(n.dataset.value))") == ev["delta"]
    # MathML's identifiers read as mathematical italic letters: V is "\U0001d449", g "\U0001d454"
    italic_v, italic_g, italic_h = "\U0001d449", "\U0001d454", "\u210e"
    text = line.inner_text()
    assert italic_v not in text and italic_g not in text  # no V^T g_o
    assert f"d\n{italic_h}" in text  # ... but dh(3)
    go_to(page, "backward", 3, 2)
    top = page.locator('#equation [data-eq="delta"]').inner_text()
    assert italic_v in top and italic_g in top
    assert console_errors == []
