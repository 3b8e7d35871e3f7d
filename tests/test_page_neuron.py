"""Haykin's notation and the neuron view in a real browser (issue 13, item 4).

The page must label everything in Haykin's neuron-level notation when the URL asks for it,
open the neuron view of hidden unit j at step t by click and by keyboard, and lay out the
API's terms so that they add up to delta_j(t) exactly as /api/v1/neuron reports it, in every
notation and language. Lesson 1's new step must open it and reveal the engine's numbers.
Screenshots of the panel at the three sizes and languages go to artifacts/.
"""

from __future__ import annotations

import math

import httpx
import pytest
from lessons_support import event_index, lessons, texts

from bptt_studio.engine import run_trace

pytestmark = pytest.mark.browser

NOTATIONS = ["goodfellow", "d2l", "coursera", "haykin"]
LANGS = ["en", "pt-BR", "ru"]
MACHINE = {"data": {"preset": "machine"}}

# The panel as the page shows it: every node with its operation, its number, its parts' numbers
# (the terms of a sum, the factors of a product, as written on its line) and a dot's products.
PANEL = """() => {
    const root = document.getElementById('neuron');
    const val = (el) => (el.dataset.value === 'null' ? null : Number(el.dataset.value));
    const nodes = [...root.querySelectorAll('[data-node]')].map((el) => {
        const node = {name: el.dataset.node, op: el.dataset.op, t: Number(el.dataset.t),
                      value: val(el)};
        if (node.op === 'dot') {
            node.products = [...el.querySelectorAll('.nv-row')].map(
                (r) => Number(r.dataset.product));
        } else {
            const line = el.querySelector(':scope > .nv-line');
            node.parts = line ? [...line.querySelectorAll(':scope > .nv-part')].map(
                (el) => ({name: el.dataset.part, value: val(el)})) : [];
        }
        return node;
    });
    return {state: root.dataset.state, t: Number(root.dataset.t), unit: Number(root.dataset.unit),
            convention: root.dataset.convention, hidden: root.hidden, nodes,
            text: root.textContent};
}"""


def backward_index(request: dict, t: int) -> int:
    return event_index(run_trace(request), {"kind": "backward", "t": t})


def open_page(page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)


def wait_panel(page, t: int, unit: int) -> dict:
    page.wait_for_selector(f"#neuron[data-state=ready][data-t='{t}'][data-unit='{unit}']",
                           timeout=20_000)
    return page.evaluate(PANEL)


def api_view(base: str, request: dict, t: int, unit: int, convention: str) -> dict:
    response = httpx.post(f"{base}/api/v1/neuron", timeout=30,
                          json={**request, "t": t, "unit": unit, "convention": convention})
    assert response.status_code == 200, response.text
    return response.json()


def check_identities(panel: dict) -> None:
    """Every sum's terms add to it, every product's factors multiply to it, every dot's
    products add to it: the numbers are the API's, the test does the arithmetic."""
    assert panel["nodes"], "the panel shows no terms"
    for node in panel["nodes"]:
        where = (node["name"], node["t"], node["op"])
        parts = [p["value"] for p in node.get("parts", [])]
        value = pytest.approx(node["value"], rel=1e-9, abs=1e-15)
        if node["op"] == "dot":
            assert node["products"], where
            assert math.fsum(node["products"]) == value, where
        elif node["op"] == "sum":
            assert math.fsum(parts) == value, where
        elif node["op"] == "product":
            assert math.prod(parts) == value, where


# ---- Haykin's notation, from the URL ------------------------------------------------------------


def test_haykin_notation_from_the_url_labels_network_equations_and_heatmaps(
        page, live_server, console_errors):
    i = backward_index(MACHINE, 3)
    open_page(page, live_server, f"nota=haykin&e={i}")
    assert page.eval_on_selector("#ctl-notation", "e => e.value") == "haykin"
    assert page.get_attribute("body", "data-notation") == "haykin"
    rows = page.eval_on_selector_all("#network .row-label", "els => els.map(e => e.textContent)")
    assert rows == ["ℰ", "y", "x", "u"]  # cost, output, state, input
    equation = page.text_content("#equation")
    assert "ε" in equation and "onehot" in equation
    # the errors in Haykin's sign: the equation's delta is minus the trace's dL/da
    trace = run_trace(MACHINE)
    delta = trace["events"][i]["delta"]
    shown = page.eval_on_selector_all('#equation [data-field="delta"]',
                                      "els => els.map(e => Number(e.dataset.value))")
    assert shown == pytest.approx([-v for v in delta], rel=1e-15)
    g_o = page.eval_on_selector_all('#equation [data-field="g_o"]',
                                    "els => els.map(e => Number(e.dataset.value))")
    assert g_o == pytest.approx([-v for v in trace["events"][i]["g_o"]], rel=1e-15)
    # the contributions stay gradients, dW_a += −δ(n) x(n−1)ᵀ, said once on screen
    assert page.is_visible("#nota-sign")
    assert "−δ" in page.text_content('#equation [data-eq="contrib"]')
    page.locator("#heatmaps").scroll_into_view_if_needed()
    assert page.text_content("#hm-W .hm-formula") == "−δ(n) x(n−1)ᵀ"
    assert page.text_content("#hm-V .hm-formula") == "−e(n) x(n)ᵀ"
    assert page.text_content("#hm-W .hm-title").startswith("dW_a")
    # the other notations say nothing of Haykin's sign and show the trace's numbers
    page.select_option("#ctl-notation", "goodfellow")
    page.wait_for_function("() => document.body.dataset.notation === 'goodfellow'")
    assert not page.is_visible("#nota-sign")
    shown = page.eval_on_selector_all('#equation [data-field="delta"]',
                                      "els => els.map(e => Number(e.dataset.value))")
    assert shown == pytest.approx(delta, rel=1e-15)
    page.wait_for_function("() => !location.search.includes('nota=')")  # the URL, debounced
    assert console_errors == []


def test_haykin_notation_is_offered_and_kept_in_the_url(page, live_server, console_errors):
    open_page(page, live_server, "")
    options = page.eval_on_selector_all("#ctl-notation option", "els => els.map(e => e.value)")
    assert options == NOTATIONS
    page.select_option("#ctl-notation", "haykin")
    page.wait_for_function("() => location.search.includes('nota=haykin')")
    page.reload()
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    assert page.eval_on_selector("#ctl-notation", "e => e.value") == "haykin"
    assert console_errors == []


# ---- the neuron view: click and keyboard --------------------------------------------------------


def test_clicking_a_unit_opens_its_neuron_view_and_marks_the_units_that_feed_it(
        page, live_server, console_errors):
    open_page(page, live_server, f"e={backward_index(MACHINE, 3)}")
    assert page.is_hidden("#neuron")
    units = page.locator("#network .unit")
    assert units.count() == 4  # H = 4 units at the current backward step only
    page.click("#unit-3-1", force=True)  # a few pixels tall: the strip's cell of unit 2
    panel = wait_panel(page, 3, 1)
    assert not panel["hidden"] and panel["convention"] == "gradient"
    page.wait_for_function("() => location.search.includes('unit=2')")  # 1-based, as shown
    marked = page.eval_on_selector_all(".is-neuron", "els => els.map(e => e.id)")
    for target in ("node-h-3", "node-yhat-3", "node-h-4", "unit-3-1"):
        assert target in marked
    # another step's h node (already reached by the error) moves there and keeps the unit
    page.click("#node-h-5")
    panel = wait_panel(page, 5, 1)
    assert page.evaluate("document.body.dataset.eventIndex") == str(
        backward_index(MACHINE, 5))
    # the panel's own buttons choose the unit, and its close button closes it
    page.click("#neuron .nv-unit[data-unit='3']")
    wait_panel(page, 5, 3)
    page.click("#neuron .nv-close")
    assert page.is_hidden("#neuron")
    page.wait_for_function("() => !location.search.includes('unit=')")
    assert console_errors == []


def test_the_neuron_view_opens_with_the_keyboard(page, live_server, console_errors):
    open_page(page, live_server, f"e={backward_index(MACHINE, 3)}")
    page.focus("#node-h-3")
    page.keyboard.press("Enter")
    wait_panel(page, 3, 0)
    # a unit of the network with the focus: the arrows move between units, Enter opens one
    page.focus("#unit-3-0")
    page.keyboard.press("ArrowDown")
    unit = page.evaluate("document.activeElement.id")
    assert unit.startswith("unit-3-") and unit != "unit-3-0"
    page.keyboard.press("Enter")
    wait_panel(page, 3, int(unit.rsplit("-", 1)[1]))
    # the panel's unit buttons are buttons: Tab reaches them, Enter presses them
    page.focus("#neuron .nv-unit[data-unit='2']")
    page.keyboard.press("Enter")
    wait_panel(page, 3, 2)
    assert page.get_attribute("#neuron .nv-unit[data-unit='2']", "aria-pressed") == "true"
    assert console_errors == []


def test_a_forward_event_asks_for_a_backward_step(page, live_server, console_errors):
    open_page(page, live_server, "e=2&unit=1")
    page.wait_for_selector("#neuron[data-state=idle]")
    assert page.text_content("#neuron .nv-hint")
    page.keyboard.press("End")  # the update: still not a backward step
    page.wait_for_selector("#neuron[data-state=idle]")
    assert console_errors == []


# ---- the terms add up to delta_j(t), as the API reports it --------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("notation", NOTATIONS)
def test_rnn_terms_sum_to_the_apis_delta_in_every_notation_and_language(
        page, live_server, console_errors, notation, lang):
    t, unit = 3, 2
    open_page(page, live_server,
              f"lang={lang}&nota={notation}&e={backward_index(MACHINE, t)}&unit={unit + 1}")
    panel = wait_panel(page, t, unit)
    convention = "haykin" if notation == "haykin" else "gradient"
    assert panel["convention"] == convention
    view = api_view(live_server, MACHINE, t, unit, convention)
    check_identities(panel)
    # delta_j(t) = phi'(a_j(t)) * (sum of every product in the two tables)
    products = [p for node in panel["nodes"] if node["op"] == "dot" for p in node["products"]]
    assert len(products) == len(view["dh"]["terms"][0]["weights"]) + len(
        view["dh"]["terms"][1]["weights"])
    delta_node = next(n for n in panel["nodes"] if n["name"] == "delta")
    delta = delta_node["value"]
    assert [p["name"] for p in delta_node["parts"]] == ["phi_prime", "dh"]
    phi = delta_node["parts"][0]["value"]
    assert delta == view["delta"]["value"]  # the API's own number, bit for bit
    assert phi * math.fsum(products) == pytest.approx(view["delta"]["value"], rel=1e-9)
    trace_delta = run_trace(MACHINE)["events"][backward_index(MACHINE, t)]["delta"][unit]
    assert delta == (-trace_delta if notation == "haykin" else trace_delta)
    assert "{" not in panel["text"] and "undefined" not in panel["text"]
    assert console_errors == []


@pytest.mark.parametrize(("cell", "notation", "lang"), [
    ("lstm", "haykin", "pt-BR"), ("lstm", "coursera", "en"), ("gru", "haykin", "ru"),
    ("gru", "d2l", "en")])
def test_gated_cells_terms_add_up_through_their_gates(page, live_server, console_errors,
                                                      cell, notation, lang):
    request = {**MACHINE, "cell": cell, "hidden_size": 3}
    t, unit = 4, 1
    open_page(page, live_server, f"cell={cell}&H=3&lang={lang}&nota={notation}"
                                 f"&e={backward_index(request, t)}&unit={unit + 1}")
    panel = wait_panel(page, t, unit)
    check_identities(panel)
    convention = "haykin" if notation == "haykin" else "gradient"
    view = api_view(live_server, request, t, unit, convention)
    shown = {n["name"]: n["value"] for n in panel["nodes"]}
    for gate, node in view["deltas"].items():
        assert shown[f"deltas.{gate}"] == node["value"]
    assert shown["dh"] == view["dh"]["value"]
    gate_shares = [n for n in panel["nodes"] if n["name"].startswith("dh_next.")]
    assert len(gate_shares) == (4 if cell == "lstm" else 4)  # f i g o | direct reset z r
    assert console_errors == []


# ---- lesson 1 -----------------------------------------------------------------------------------


def test_lesson_1_opens_the_neuron_view_and_reveals_the_engines_terms(
        page, live_server, console_errors):
    lesson = next(les for les in lessons() if les["id"] == "recursion")
    number = next(k for k, s in enumerate(lesson["steps"], start=1) if "neuron" in s)
    step = lesson["steps"][number - 1]
    open_page(page, live_server, f"lesson=recursion&step={number}")
    page.wait_for_selector(f"#lesson-panel[data-step='{number}'][data-state=ready]",
                           timeout=30_000)
    unit = step["neuron"]["unit"]
    wait_panel(page, step["event"]["t"], unit)
    options = page.locator(".lesson-option input")
    assert options.count() == 2
    options.nth(0).check()  # the outputs of step 3: the wrong prediction
    page.click("#lesson-reveal")
    page.wait_for_selector(".lesson-result", timeout=30_000)
    assert page.get_attribute(".lesson-result", "data-correct") == "1"  # step 4 sends more
    view = api_view(live_server, MACHINE, step["event"]["t"], unit, "gradient")
    text = page.text_content("#lesson-panel")
    out, nxt = (term["value"] for term in view["dh"]["terms"])
    for value in (out, nxt, view["delta"]["factors"][0]["value"], view["delta"]["value"]):
        assert f"{value:.3f}" in text.replace("−", "-"), (value, text)
    assert texts("en")["lessons"]["recursion"]["steps"][number - 1]["question"][:8] in text
    # in Haykin's notation the revealed numbers follow his sign, as the panel does
    page.select_option("#ctl-notation", "haykin")
    page.wait_for_selector("#neuron[data-convention=haykin][data-state=ready]")
    page.wait_for_function(
        "(v) => document.querySelector('.lesson-reveal-text, #lesson-panel')"
        ".textContent.replace(/−/g, '-').includes(v)", arg=f"{-view['delta']['value']:.3f}")
    assert console_errors == []


# ---- the three sizes and languages, looked at ---------------------------------------------------

SIZES = [(1920, 1080), (1366, 768), (390, 844)]


@pytest.mark.parametrize("lang", LANGS)
def test_the_panel_fits_every_size_and_language(page, live_server, console_errors,
                                                artifacts_dir, lang):
    i = backward_index(MACHINE, 3)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        open_page(page, live_server, f"lang={lang}&nota=haykin&e={i}&unit=2")
        wait_panel(page, 3, 1)
        page.locator("#neuron").scroll_into_view_if_needed()
        fits = page.evaluate("""() => {
            const p = document.getElementById('neuron');
            const r = p.getBoundingClientRect();
            return {page: document.documentElement.scrollWidth <= window.innerWidth + 1,
                    panel: p.scrollWidth <= p.clientWidth + 1,
                    inside: r.left >= 0 && r.right <= window.innerWidth + 1,
                    title: document.querySelector('#neuron .nv-title').clientWidth > 0};
        }""")
        assert all(fits.values()), (width, lang, fits)
        page.screenshot(path=str(artifacts_dir / f"neuron-{lang}-{width}x{height}.png"))
        page.locator("#neuron").screenshot(
            path=str(artifacts_dir / f"neuron-panel-{lang}-{width}.png"))
    assert console_errors == []
