"""Your own numbers on the page, and every number taken home (issue 13, items 2 and 3).

In a real Chromium against the real server: the editors' grids (typed, pasted from a
spreadsheet or a NumPy print), the weight card opened from a heatmap entry or a connection of
the network, "fill from seed" and "rescale" (the API's own parameters), the API's refusals
beside the refused entry, links that carry the edited numbers exactly in their fragment (a
reload gives the same trace, bit for bit, also at the largest model), the whole trace as the
API's tidy CSV, and the printable worksheet with the API's numbers and a print stylesheet.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_page_studio import UNCATALOGUED_TEXT

pytestmark = pytest.mark.browser

# Chromium logs every 4xx answer to fetch() as a console error; the refusal tests expect those.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

SMALL = "text=abca&H=2"  # T = 3, D = K = 3, H = 2: small enough for the worksheet
SMALL_REQUEST = {"data": {"text": "abca"}, "hidden_size": 2}


def api(base: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{base}/api/v1{path}", json=body, timeout=60)


def api_trace(base: str, request: dict) -> dict:
    response = api(base, "/trace", {**request, "detail": "full"})
    assert response.status_code == 200, response.text
    return response.json()


def open_studio(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{'?' + query if query else ''}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    # count the traces and refusals the studio reports from now on
    page.evaluate("""() => {
        window.__traces = 0; window.__errors = 0;
        window.bpttStudio.addEventListener('trace', () => { window.__traces += 1; });
        window.bpttStudio.addEventListener('error', () => { window.__errors += 1; });
    }""")


def wait_traces(page, n: int = 1) -> None:
    page.wait_for_function(f"() => window.__traces >= {n}", timeout=20_000)


def wait_errors(page, n: int = 1) -> None:
    page.wait_for_function(f"() => window.__errors >= {n}", timeout=20_000)


def open_editors(page, tab: str = "data") -> None:
    page.click("#btn-editors")
    page.wait_for_selector("#editors:not([hidden]) #ed-body")
    if tab == "weights":
        page.click("#ed-tab-weights")
        page.wait_for_selector("[data-grid^='params.'] :is(input.cell, textarea)")
    else:
        page.wait_for_selector("[data-grid='data.inputs'] input.cell")


def cell(page, grid: str, row: int, col: int = 0):
    return page.locator(f"[data-grid='{grid}'] input.cell[data-row='{row}'][data-col='{col}']")


def type_into(page, grid: str, row: int, col: int, text: str) -> None:
    entry = cell(page, grid, row, col)
    entry.click()
    entry.fill(text)
    entry.press("Tab")  # leaving the entry commits it


def paste_into(page, grid: str, row: int, col: int, text: str) -> None:
    """Paste text into an entry as the browser does with Ctrl+V (a paste event with the text)."""
    cell(page, grid, row, col).focus()
    page.evaluate("""([grid, row, col, text]) => {
        const el = document.querySelector(
            `[data-grid='${grid}'] input.cell[data-row='${row}'][data-col='${col}']`);
        const data = new DataTransfer();
        data.setData('text/plain', text);
        el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true,
                                                     cancelable: true}));
    }""", [grid, row, col, text])


def trace_json(page) -> str:
    """Every number of the page's trace, as exact text (JSON writes the shortest round trip)."""
    return page.evaluate("""() => {
        const t = window.bpttStudio.trace;
        return JSON.stringify({events: t.events, updates: t.updates, params: t.params,
                               loss: t.loss, inputs: t.inputs, targets: t.targets,
                               diagnostics: t.diagnostics, config: t.config});
    }""")


def scenario(page) -> dict:
    return page.evaluate("() => window.bpttStudio.store.get().scenario")


def wait_link(page) -> str:
    """The URL once it holds the accepted scenario's numbers in its fragment."""
    page.wait_for_function("() => location.hash.startsWith('#n=')")
    # the URL is written a moment after the trace arrives: wait for the one the store writes
    page.wait_for_function("() => location.href === window.bpttStudio.store.url()")
    return page.url


# ---- editing a weight, and links --------------------------------------------------------------

def test_edited_weight_reaches_the_api_exactly_and_survives_a_reload(page, live_server,
                                                                    console_errors):
    open_studio(page, live_server, SMALL)
    seeded = page.evaluate("() => window.bpttStudio.trace.params")
    before = page.evaluate("() => window.bpttStudio.trace.loss")
    open_editors(page, "weights")
    typed = "0.12345678901234567890123"  # more digits than a float64 holds
    type_into(page, "params.W", 1, 0, typed)
    wait_traces(page)
    params = page.evaluate("() => window.bpttStudio.trace.params")
    assert params["W"][1][0] == float(typed)  # the float64 Python's parser makes of the text
    assert params["W"][0] == seeded["W"][0] and params["U"] == seeded["U"]
    assert page.evaluate("() => window.bpttStudio.trace.loss") != before
    assert page.text_content("#ed-weights-status") == "Your own weights: the seed is not used."
    url = wait_link(page)
    query = url.split("#")[0]
    assert "W" not in query.split("?")[1] and len(query) < 200  # the numbers stay out of it
    shown = trace_json(page)
    page.reload()
    page.wait_for_selector("#studio[data-ready=true]")
    assert trace_json(page) == shown
    assert scenario(page)["params"]["W"][1][0] == float(typed)
    assert console_errors == []


def test_negative_zero_is_sent_as_negative_zero(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    open_editors(page, "weights")
    type_into(page, "h0", 0, 0, "-0")
    wait_traces(page)
    body = page.evaluate("""async () => {
        const {toJson} = await import('/static/js/state/api.js');
        return toJson(window.bpttStudio.store.get().scenario);
    }""")
    assert '"h0":[-0.0,' in body
    h_prev = page.evaluate("() => window.bpttStudio.trace.events[0].h_prev")
    assert math.copysign(1.0, h_prev[0]) == -1.0  # the API started from −0
    assert console_errors == []


def test_weight_card_from_a_heatmap_entry_changes_that_weight(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    seeded = page.evaluate("() => window.bpttStudio.trace.params")
    canvas = page.locator("#hm-U canvas.hm-main").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    # U is 2 × 3: the entry of row 2, column 3
    page.mouse.click(box["x"] + box["width"] * 5 / 6, box["y"] + box["height"] * 3 / 4)
    value = page.locator("#wc-value")
    value.wait_for()
    assert float(value.input_value()) == seeded["U"][1][2]
    value.fill("-1.5")
    value.press("Enter")
    wait_traces(page)
    params = page.evaluate("() => window.bpttStudio.trace.params")
    assert params["U"][1][2] == -1.5
    assert params["U"][0] == seeded["U"][0] and params["W"] == seeded["W"]
    assert console_errors == []


def test_weight_card_from_a_connection_of_the_network(page, live_server, console_errors,
                                                      artifacts_dir):
    open_studio(page, live_server, SMALL + "&cell=lstm")
    seeded = page.evaluate("() => window.bpttStudio.trace.params")
    page.locator("#col-2 .edge-hit[data-hit='x-gate']").click(force=True)
    page.wait_for_selector("#weight-card:not([hidden]) [data-grid='params.U_f'] input.cell")
    assert page.text_content("#wc-title").startswith("U_f")
    page.click("#weight-card .chip[data-param='U_o']")  # every gate's input weights
    page.wait_for_selector("#weight-card [data-grid='params.U_o'] input.cell")
    type_into(page, "params.U_o", 0, 1, "2")
    wait_traces(page)
    params = page.evaluate("() => window.bpttStudio.trace.params")
    assert params["U_o"][0][1] == 2 and params["U_o"][1] == seeded["U_o"][1]
    page.screenshot(path=str(artifacts_dir / "editors-card-network-1280.png"))
    # the recurrent connection offers every gate's W
    page.keyboard.press("Escape")
    page.wait_for_selector("#weight-card", state="hidden")
    page.locator("#col-2 .edge-hit[data-hit='h-gates']").click(force=True)
    page.wait_for_function("() => document.getElementById('wc-title')?.textContent"
                           ".startsWith('W_f')")
    chips = page.locator("#weight-card .chip")
    assert chips.evaluate_all("cs => cs.map((c) => c.dataset.param)") == ["W_f", "W_i", "W_g",
                                                                        "W_o"]
    assert console_errors == []


# ---- pasting ----------------------------------------------------------------------------------

PASTE_CASES = {
    "numpy print": ("[[0.1 0.2]\n [0.3 0.4]\n [0.5 -0.6]]", [[0.1, 0.2], [0.3, 0.4], [0.5, -0.6]]),
    "numpy repr": ("array([[ 1.5e-01,  2.0e+00],\n       [-3.0e-01,  4.0e-01]])",
                   [[0.15, 2.0], [-0.3, 0.4]]),
    "json": ("[[1, 0], [0, 1], [1, 1]]", [[1, 0], [0, 1], [1, 1]]),
    "spreadsheet": ("0.1\t0.2\n0.3\t0.4\n", [[0.1, 0.2], [0.3, 0.4]]),
    "spreadsheet with decimal commas": ("0,1\t−0,2\n0,3\t0,4", [[0.1, -0.2], [0.3, 0.4]]),
    "csv": ("0.1,0.2\n0.3,0.4", [[0.1, 0.2], [0.3, 0.4]]),
    "semicolons": ("0,5;1\n2;3", [[0.5, 1], [2, 3]]),
}


def test_paste_parser_reads_spreadsheets_and_numpy_prints(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    got = page.evaluate("""async (cases) => {
        const {parseBlock, cellValue} = await import('/static/js/controls/grid.js');
        const out = {};
        for (const [name, [text]] of Object.entries(cases)) {
            out[name] = parseBlock(text).map((row) => row.map(cellValue));
        }
        return out;
    }""", {k: [v[0]] for k, v in PASTE_CASES.items()})
    for name, (_, expected) in PASTE_CASES.items():
        assert got[name] == expected, name
    assert console_errors == []


def test_pasting_a_spreadsheet_block_fills_the_data_grids(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    open_editors(page, "data")
    paste_into(page, "data.inputs", 0, 0, "0.1\t0.2\n0,3\t0,4\n0.5\t-0.6\n1\t0\n")
    wait_errors(page)  # 4 steps of inputs, 3 targets: the API says so
    inputs = page.locator("[data-grid='data.inputs'] input.cell")
    assert inputs.count() == 8
    assert cell(page, "data.inputs", 1, 0).input_value() == "0.3"
    paste_into(page, "data.targets", 0, 0, "1\n0\n1\n0")
    wait_traces(page)
    trace = page.evaluate("() => window.bpttStudio.trace")
    assert trace["inputs"] == [[0.1, 0.2], [0.3, 0.4], [0.5, -0.6], [1, 0]]
    assert trace["targets"] == [1, 0, 1, 0]
    assert trace["config"]["hidden_size"] == 2 and trace["sizes"]["K"] == 3  # kept from before
    assert page.locator("[data-grid] .cell-error").count() == 0
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


def test_pasting_a_numpy_print_fills_a_weight_grid(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    open_editors(page, "weights")
    paste_into(page, "params.W", 0, 0, "array([[ 0.5, -0.25],\n       [ 0.125, 1.  ]])")
    wait_traces(page)
    assert page.evaluate("() => window.bpttStudio.trace.params.W") == [[0.5, -0.25], [0.125, 1.0]]
    assert cell(page, "params.W", 1, 1).input_value() == "1"
    assert console_errors == []


# ---- refusals -----------------------------------------------------------------------------------

def test_invalid_input_entry_shows_the_apis_message_beside_it(page, live_server,
                                                              console_errors, artifacts_dir):
    inputs = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    open_studio(page, live_server)
    page.evaluate("""(data) => window.bpttStudio.loadScenario(
        {data, hidden_size: 2, loss: 'mse'})""", {"inputs": inputs, "targets": [[1], [2], [3]]})
    open_editors(page, "data")
    type_into(page, "data.inputs", 2, 1, "abc")
    wait_errors(page)
    refused = api(live_server, "/trace", {"data": {"inputs": [[0.1, 0.2], [0.3, 0.4], [0.5, "abc"]],
                                                   "targets": [[1], [2], [3]]},
                                          "hidden_size": 2, "loss": "mse"})
    assert refused.status_code == 422
    (detail,) = refused.json()["detail"]
    assert detail["loc"] == ["body", "data", "inputs", 2, 1]
    beside = page.locator(
        "[data-grid='data.inputs'] td:has(input.cell[data-row='2'][data-col='1']) .cell-error")
    beside.wait_for()
    assert detail["msg"] in beside.text_content()
    assert cell(page, "data.inputs", 2, 1).get_attribute("aria-invalid") == "true"
    assert page.locator("[data-grid='data.inputs'] .cell-error").count() == 1
    assert page.locator("#err-editors").is_visible()  # and a word beside the sidebar's button
    page.locator("#editors").screenshot(path=str(artifacts_dir / "editors-refused-cell.png"))
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


@pytest.mark.parametrize(("grid", "row", "col", "typed", "loc"), [
    ("params.W", 0, 1, "1e999", ["body", "params", "W", 0, 1]),  # not a finite float64
    ("params.b", 1, 0, "abc", ["body", "params", "b", 1]),  # a vector: its entry is a row
], ids=["matrix-non-finite", "vector-not-a-number"])
def test_invalid_weight_shows_the_apis_message_beside_its_entry(page, live_server,
                                                                console_errors, grid, row,
                                                                col, typed, loc):
    """The API names the entry (["body", "params", "W", i, j]); the message sits beside it."""
    open_studio(page, live_server, SMALL)
    params = page.evaluate("() => window.bpttStudio.trace.params")
    open_editors(page, "weights")
    type_into(page, grid, row, col, typed)
    wait_errors(page)
    name = grid.split(".")[1]
    bad = json.loads(json.dumps(params))
    if isinstance(bad[name][row], list):
        bad[name][row][col] = None  # the page sends 1e999 (Infinity) as JSON's null
    else:
        bad[name][row] = typed
    refused = api(live_server, "/trace", {**SMALL_REQUEST, "params": bad})
    assert refused.status_code == 422
    (detail,) = refused.json()["detail"]
    assert detail["loc"] == loc
    beside = page.locator(
        f"[data-grid='{grid}'] td:has(input.cell[data-row='{row}'][data-col='{col}']) "
        ".cell-error")
    beside.wait_for()
    assert detail["msg"] in beside.text_content()
    assert cell(page, grid, row, col).get_attribute("aria-invalid") == "true"
    assert page.locator("[data-grid] .cell-error").count() == 1  # there, and nowhere else
    assert page.locator(f"[data-grid='{grid}'] > .cell-error").count() == 0
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


# ---- fill from seed, rescale ---------------------------------------------------------------------

def test_fill_from_seed_gives_the_apis_params_and_the_seeded_trace(page, live_server,
                                                                   console_errors):
    open_studio(page, live_server, SMALL + "&seed=5&rho=0.8")
    seeded_trace = trace_json(page)
    expected = api_trace(live_server, {**SMALL_REQUEST, "seed": 5, "spectral_radius": 0.8})
    open_editors(page, "weights")
    page.click("#ed-fill")
    wait_traces(page)
    assert scenario(page)["params"] == expected["params"]
    assert scenario(page)["spectral_radius"] is None  # used as they are: not rescaled again
    shown = json.loads(trace_json(page))
    before = json.loads(seeded_trace)
    assert shown["events"] == before["events"] and shown["updates"] == before["updates"]
    assert console_errors == []


def test_own_weights_of_another_size_are_refused_and_fill_from_seed_mends_them(
        page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    open_editors(page, "weights")
    type_into(page, "params.W", 0, 0, "0.5")
    wait_traces(page)
    page.fill("#ctl-hidden", "3")
    page.press("#ctl-hidden", "Enter")
    wait_errors(page)
    message = page.locator("[data-grid='params.W'] > .cell-error")
    message.wait_for()
    assert "wrong shape: expected [3, 3], given [2, 2]" in message.text_content()
    page.click("#ed-fill")
    wait_traces(page, 2)
    expected = api_trace(live_server, {**SMALL_REQUEST, "hidden_size": 3})
    assert scenario(page)["params"] == expected["params"]
    assert page.locator("[data-grid] .cell-error").count() == 0
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


def test_rescale_gives_the_apis_params(page, live_server, console_errors):
    open_studio(page, live_server, SMALL)
    open_editors(page, "weights")
    type_into(page, "params.W", 0, 0, "0.75")
    wait_traces(page)
    own = scenario(page)["params"]
    page.fill("#ed-rho", "1.3")
    page.click("#ed-rescale")
    wait_traces(page, 2)
    expected = api_trace(live_server, {**SMALL_REQUEST, "params": own, "spectral_radius": 1.3})
    assert scenario(page)["params"] == expected["params"]
    assert scenario(page)["params"]["W"] != own["W"] and scenario(page)["params"]["U"] == own["U"]
    assert page.evaluate("() => window.bpttStudio.trace.params") == expected["params"]
    assert console_errors == []


def test_fill_from_seed_of_the_largest_lstm_gives_every_parameter(page, live_server,
                                                                  console_errors):
    """LSTM H = 64, D = K = 128: 57,728 parameters, whole, from POST /api/v1/params (a
    one-step trace of it in full would be over the response limit), then a trace of them."""
    rng = np.random.default_rng(2)
    request = {"cell": "lstm", "hidden_size": 64, "output_size": 128, "seed": 4,
               "forget_bias": 1.0, "spectral_radius": 1.1,
               "data": {"inputs": rng.normal(size=(3, 128)).tolist(), "targets": [5, 0, 127]}}
    open_studio(page, live_server)
    page.evaluate("(s) => window.bpttStudio.loadScenario(s)", request)
    wait_traces(page)
    open_editors(page, "weights")
    page.click("#ed-fill")
    wait_traces(page, 2)  # the trace of the filled parameters, sent explicitly (1.2 MB)
    expected = api(live_server, "/params", request)
    assert expected.status_code == 200
    got = scenario(page)["params"]
    assert sum(np.size(v) for v in got.values()) == 57_728
    assert got == expected.json()["params"]
    assert scenario(page)["spectral_radius"] is None  # used as they are: not rescaled again
    traced = page.evaluate("() => window.bpttStudio.trace.params")
    for name, value in traced.items():  # the trace of them: full, or the norm of each
        if isinstance(value, list):
            assert value == got[name]
        else:
            assert math.isclose(value, float(np.linalg.norm(got[name])), rel_tol=1e-12)
    assert page.locator(".ed-chips .chip").count() == len(got)  # one grid at a time
    assert page.locator("[data-grid] .cell-error").count() == 0
    assert console_errors == []


# ---- the largest model: the fragment -------------------------------------------------------------

def test_fragment_carries_the_largest_models_parameters_bit_for_bit(page, live_server,
                                                                    console_errors):
    """LSTM H = 64, D = K = 128 (57,728 parameters as the engine draws them, and some awkward
    float64s), with its initial state and three steps of data, through the URL's fragment."""
    from bptt_studio.engine.request.params import init_params

    params = {k: v.tolist() for k, v in init_params("lstm", 64, 128, 128, seed=11).items()}
    params["W_f"][0][:6] = [-0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e-300, -2.5]
    rng = np.random.default_rng(5)
    scenario = {"params": params, "h0": rng.normal(size=64).tolist(),
                "c0": rng.normal(size=64).tolist(),
                "data": {"inputs": rng.normal(size=(3, 128)).tolist(), "targets": [1, 2, 3]}}
    open_studio(page, live_server)
    result = page.evaluate("""async (scenario) => {
        const {encodeFragment, decodeFragment} = await import('/static/js/state/fragment.js');
        // −0 does not survive the trip into the page as JSON: put it back
        scenario.params.W_f[0][0] = -0;
        const started = performance.now();
        const fragment = await encodeFragment(scenario);
        const encodeMs = performance.now() - started;
        const fields = await decodeFragment('#' + fragment);
        const bits = (x) => Array.from(new Uint8Array(new Float64Array([x]).buffer)).join();
        let same = 0, count = 0;
        const check = (a, b) => {
            if (Array.isArray(a)) a.forEach((x, k) => check(x, b[k]));
            else { count += 1; if (bits(a) === bits(b)) same += 1; }
        };
        for (const [name, value] of Object.entries(scenario.params)) {
            check(value, fields[`params.${name}`]);
        }
        check(scenario.h0, fields.h0); check(scenario.c0, fields.c0);
        check(scenario.data.inputs, fields['data.inputs']);
        check(scenario.data.targets, fields['data.targets']);
        return {length: fragment.length, same, count, encodeMs,
                negativeZero: Object.is(fields['params.W_f'][0][0], -0)};
    }""", scenario)
    assert result["count"] == 57_728 + 2 * 64 + 3 * 128 + 3
    assert result["same"] == result["count"]
    assert result["negativeZero"]
    assert result["length"] < 2_000_000  # Chromium's longest URL is 2 MB
    print(f"largest model fragment: {result['length']} characters, "
          f"encoded in {result['encodeMs']:.0f} ms")
    assert console_errors == []


def test_link_of_a_large_explicit_model_reloads_to_the_same_trace(page, live_server,
                                                                  console_errors):
    """RNN H = 64, D = K = 128 with explicit weights, initial state and data, end to end."""
    rng = np.random.default_rng(3)
    H, D, K, T = 64, 128, 128, 12
    params = {"W": rng.uniform(-0.125, 0.125, (H, H)), "U": rng.uniform(-0.1, 0.1, (H, D)),
              "b": rng.uniform(-0.1, 0.1, H), "V": rng.uniform(-0.1, 0.1, (K, H)),
              "b_y": rng.uniform(-0.1, 0.1, K)}
    body = {"hidden_size": H, "params": {k: v.tolist() for k, v in params.items()},
            "h0": rng.uniform(-1, 1, H).tolist(),
            "data": {"inputs": rng.normal(size=(T, D)).tolist(),
                     "targets": rng.integers(0, K, T).tolist()}}
    open_studio(page, live_server)
    page.evaluate("(s) => window.bpttStudio.loadScenario(s)", body)
    # the page's trace of this model carries norms: the API's norm of the W it was sent
    norm_w = page.evaluate("() => window.bpttStudio.trace.params.W")
    assert math.isclose(norm_w, float(np.linalg.norm(params["W"])), rel_tol=1e-12)
    url = wait_link(page)
    shown = trace_json(page)
    fragment = url.split("#", 1)[1]
    print(f"explicit RNN H=64 D=K=128 link: fragment {len(fragment)} characters")
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    assert trace_json(page) == shown
    assert console_errors == []


def test_a_link_whose_numbers_cannot_be_read_says_so_and_keeps_the_rest(page, live_server,
                                                                         console_errors):
    page.goto(f"{live_server}/?H=3&cell=gru#n=zAAECAwQ")  # cut short: not deflate data
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    assert "could not be read" in page.text_content("#err-general")
    assert page.evaluate("() => window.bpttStudio.trace.config.cell") == "gru"
    assert console_errors == []


# ---- exports ------------------------------------------------------------------------------------

def json_value(trace: dict, row: dict):
    """The number a tidy CSV row names, read from the JSON of /trace (docs/export-csv.md)."""
    event = trace["events"][int(row["event"]) - 1]
    # an update event's own fields (update, t), else the numbers of its updates[i]
    head = row["quantity"].split(".")[0]
    update = row["kind"] == "update" and head not in event
    value = trace["updates"][event["update"]] if update else event
    for part in row["quantity"].split("."):
        value = value[part]
    if isinstance(value, list):
        value = value[int(row["row"])]
        if isinstance(value, list):
            value = value[int(row["column"])]
    elif isinstance(value, bool):
        value = int(value)
    return value


def test_whole_trace_csv_has_one_row_per_number_equal_to_the_json(page, live_server,
                                                                  console_errors):
    open_studio(page, live_server, "text=machine&cell=gru&H=3&k1=2&k2=3")
    with page.expect_download() as download:
        page.click("#btn-export-trace-csv")
    assert download.value.suggested_filename == "bptt-trace.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    # the trace on the page: with the spectral radii it shows beside the field (spectral.js)
    request = {"data": {"text": "machine"}, "cell": "gru", "hidden_size": 3,
               "truncation": {"k1": 2, "k2": 3}, "spectral_radii": True}
    assert text.encode() == api(live_server, "/export/csv", {**request, "detail": "full"}).content
    trace = api_trace(live_server, request)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["event"] == "1" and rows[0]["kind"] == trace["events"][0]["kind"]
    checked = 0
    for row in rows:
        if row["kind"] not in ("forward", "backward", "update"):
            continue
        expected = json_value(trace, row)
        if expected is None:
            assert row["value"] == ""
        else:
            assert float(row["value"]) == expected, row
        checked += 1
    # one row per number: every number of every backward event is there
    backward = [e for e in trace["events"] if e["kind"] == "backward"]
    numbers = sum(np.size(e["contrib"][p]) + np.size(e["accum"][p])
                  for e in backward for p in e["contrib"])
    assert sum(r["quantity"].startswith(("contrib.", "accum.")) for r in rows) == numbers
    assert checked > numbers
    assert console_errors == []


def test_step_csv_numbers_its_event_from_one(page, live_server, console_errors):
    open_studio(page, live_server, SMALL + "&e=4")
    with page.expect_download() as download:
        page.click("#btn-export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    status = page.text_content("#tl-status")
    assert "Event 5 of" in status and {r["event"] for r in rows} == {"5"}
    assert console_errors == []


# ---- the worksheet ------------------------------------------------------------------------------

def worksheet_value(trace: dict, field: str, index: str | None):
    value = trace
    for part in field.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    for k in (index.split(",") if index else []):
        value = value[int(k)]
    return value


def open_worksheet(page, context, variant: str):
    with context.expect_page() as popup:
        page.click(f"#btn-worksheet-{variant}")
    sheet = popup.value
    sheet.wait_for_selector("body[data-ready=true]", timeout=20_000)
    return sheet


@pytest.mark.parametrize("notation,label", [("d2l", "W_hf"), ("haykin", "W_a,f")])
def test_worksheet_writes_every_number_of_the_api(page, live_server, context, console_errors,
                                                  artifacts_dir, notation, label):
    open_studio(page, live_server, SMALL + f"&cell=lstm&nota={notation}")
    trace = api_trace(live_server, {**SMALL_REQUEST, "cell": "lstm"})
    sheet = open_worksheet(page, context, "key")
    numbers = sheet.eval_on_selector_all(
        ".ws-num", "ns => ns.map((n) => [n.dataset.field, n.dataset.index ?? null,"
                   " n.dataset.value, n.textContent, Number(n.dataset.sign ?? 1)])")
    assert len(numbers) > 500
    fields = {f for f, *_ in numbers}
    for needed in ("events.0.a.f", "events.0.gates.o", "events.0.c", "events.2.loss",
                   "events.3.dh_next", "events.3.deltas.g", "events.5.dc",
                   "events.5.contrib.W_i", "events.5.accum.U_o", "updates.0.grads.V",
                   "updates.0.params_after.b_y", "params.W_f"):
        assert needed in fields, needed
    flipped = set()
    for field, index, value, text, sign in numbers:
        expected = worksheet_value(trace, field, index)
        assert float(value) == expected, (field, index)
        # Haykin's δ = −∂ℰ/∂v: his notation shows every error with its sign flipped
        assert math.isclose(float(text.replace("\u2212", "-")), sign * expected, rel_tol=1e-3,
                            abs_tol=1e-9), (field, index, text)
        if sign == -1:
            flipped.add(field.split(".", 2)[2])
    if notation == "haykin":
        assert flipped == {"g_o", "dh_out", "dh_next", "dh", "dc", "deltas.f", "deltas.i",
                           "deltas.g", "deltas.o"}
        assert "−∂ℰ/∂v" in sheet.text_content("#ws-body")  # and says so
    else:
        assert not flipped
    assert label in sheet.text_content("#ws-body")  # the link's notation
    # on paper: the toolbar goes, the tables stay
    sheet.emulate_media(media="print")
    toolbar = "getComputedStyle(document.querySelector('.ws-toolbar')).display"
    assert sheet.evaluate(toolbar) == "none"
    assert sheet.locator(".ws-table").first.is_visible()
    sheet.screenshot(path=str(artifacts_dir / f"worksheet-key-print-{notation}.png"),
                     full_page=True)
    sheet.pdf(path=str(artifacts_dir / f"worksheet-key-{notation}.pdf"), format="A4")
    assert console_errors == []


def test_blank_worksheet_leaves_the_computed_numbers_as_boxes(page, live_server, context,
                                                             console_errors, artifacts_dir):
    open_studio(page, live_server, SMALL + "&lang=pt-BR")
    sheet = open_worksheet(page, context, "blank")
    assert sheet.evaluate("document.body.dataset.variant") == "blank"
    boxes = sheet.eval_on_selector_all(".ws-box", "bs => bs.map((b) => b.dataset.field)")
    given = sheet.eval_on_selector_all(".ws-num", "ns => ns.map((n) => n.dataset.field)")
    assert boxes and not [b for b in boxes if b.startswith("params.") or b.endswith(".x")]
    assert all(g.startswith(("params.", "config.")) or g.endswith((".x", ".target", "_prev"))
               for g in given)
    assert sheet.locator(".ws-box").first.text_content() == ""
    assert sheet.title().startswith("Folha de exercícios")
    sheet.emulate_media(media="print")
    sheet.screenshot(path=str(artifacts_dir / "worksheet-blank-print-pt-BR.png"), full_page=True)
    assert console_errors == []


def test_worksheet_is_unavailable_above_its_size_and_says_why(page, live_server, console_errors):
    open_studio(page, live_server, "H=5")  # "machine" (T = 6) with one unit too many
    assert page.locator("#btn-worksheet-key").is_disabled()
    assert page.locator("#btn-worksheet-blank").is_disabled()
    hint = page.text_content("#worksheet-hint")
    assert "at most 8 steps, 4 hidden units" in hint and "T = 6" in hint and "H = 5" in hint
    page.fill("#ctl-hidden", "2")
    page.press("#ctl-hidden", "Enter")
    page.select_option("#ctl-data-kind", "text")
    page.fill("#ctl-data", "abca")
    page.press("#ctl-data", "Enter")
    page.wait_for_function("() => !document.getElementById('btn-worksheet-key').disabled")
    assert console_errors == []


# ---- how it looks, in every language and size ---------------------------------------------------

SIZES = [(1920, 1080), (1366, 768), (390, 844)]


@pytest.mark.parametrize("lang", ["en", "pt-BR", "ru"])
@pytest.mark.parametrize("width,height", SIZES)
def test_editors_fit_and_speak_the_language(browser, live_server, artifacts_dir, lang, width,
                                            height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_studio(page, live_server, f"{SMALL}&cell=lstm&lang={lang}")
    tag = f"{lang}-{width}"
    for tab in ("data", "weights"):
        if tab == "data":
            open_editors(page, "data")
        else:
            page.click("#ed-tab-weights")
            page.wait_for_selector("[data-grid='params.W_f'] input.cell")
        assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.locator("#editors").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / f"editors-{tab}-{tag}.png"))
    page.locator("#btn-export-trace-csv").scroll_into_view_if_needed()
    page.locator("#controls").screenshot(path=str(artifacts_dir / f"editors-sidebar-{tag}.png"))
    sheet = open_worksheet(page, context, "key")
    assert sheet.evaluate(UNCATALOGUED_TEXT, lang) == []
    assert sheet.evaluate("document.documentElement.scrollWidth") <= width
    sheet.screenshot(path=str(artifacts_dir / f"worksheet-{tag}.png"))
    context.close()
    assert errors == []
