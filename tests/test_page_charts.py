"""The picture teaches: charts, heatmaps and equations in a real browser, against the server.

Each test is one promise of the page: heights in proportion to the values (or points on a
labelled log axis), numbers on every colour scale, marks that never lag behind the timeline,
no request to draw a chart, the truncation band from the trace's windows, the Jacobian norms
asked for only in their own mode, series in their own units with a forecast, a recall task
shown as tokens, Coursera's notation everywhere, the GRU's dW_h drawn from r ⊙ h(t−1), an
honest overflow banner.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
browser = pytest.mark.browser


def api(base: str, path: str, request: dict) -> dict:
    response = httpx.post(f"{base}/api/v1/{path}", json={**request, "detail": "full"},
                          timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def open_studio(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{'?' + query if query else ''}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)


def show_charts(page) -> None:
    page.locator("#charts").scroll_into_view_if_needed()
    page.wait_for_selector("#charts[data-ready=true]", timeout=20_000)


def paint_heatmaps(page) -> None:
    """Bring every heatmap card into view once: a card is painted when it comes near."""
    for card in page.locator(".hm-card").all():
        card.scroll_into_view_if_needed()
    page.wait_for_function("""() => [...document.querySelectorAll('.hm-card')].every(
        (c) => c.querySelector('.hm-main')._values !== undefined
            || c.querySelector('.hm-norm').textContent !== '')""")


def event_index(trace: dict, kind: str, t: int) -> int:
    return next(i for i, ev in enumerate(trace["events"]) if ev["kind"] == kind and ev["t"] == t)


def max_abs(value) -> float:
    if isinstance(value, list):
        return max(max_abs(v) for v in value)
    return abs(value)


def parse_number(text: str) -> float:
    """A tick label as the page writes it: "0.05", "−1.2", "5·10⁻⁴", "10⁻³"."""
    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    if "\u200b" in text:  # plotly's own power labels: 10 and a superscript exponent
        base, exponent = text.replace("\u2212", "-").split("\u200b")[:2]
        return float(base) ** int(exponent)
    text = text.replace("\u2212", "-").strip()
    match = re.fullmatch(r"(?:([-\d.]+)·)?10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", text)
    if match:
        return float(match.group(1) or 1) * 10 ** int(match.group(2).translate(sup))
    return float(text)


# --- the GRU's dW_h and every card's factors ----------------------------------------------------

@browser
def test_gru_dw_h_card_shows_r_times_h_prev_as_its_right_factor(page, live_server, console_errors):
    request = {"cell": "gru", "hidden_size": 3, "data": {"preset": "machine"}}
    trace = api(live_server, "trace", request)
    i = event_index(trace, "backward", 4)
    open_studio(page, live_server, f"cell=gru&H=3&e={i}")
    paint_heatmaps(page)
    top = page.evaluate("document.querySelector('#hm-W_h .hm-top')._values")
    forward = trace["events"][event_index(trace, "forward", 4)]
    assert top == [forward["rh_prev"]]
    assert forward["rh_prev"] != forward["h_prev"]
    assert "r(t) ⊙ h(t−1)" in page.text_content("#hm-W_h .hm-formula")
    assert console_errors == []


@browser
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_card_shows_a_contribution_that_is_its_left_column_times_its_top_row(
        page, live_server, console_errors, cell):
    trace = api(live_server, "trace", {"cell": cell, "hidden_size": 3})
    i = event_index(trace, "backward", 3)
    open_studio(page, live_server, f"cell={cell}&H=3&e={i}")
    paint_heatmaps(page)
    cards = page.evaluate("""() => [...document.querySelectorAll('.hm-card')].map((c) => {
        const pane = c.querySelector('.hm-pane');
        const get = (sel) => pane.querySelector(sel)._values;
        return {id: c.dataset.param, main: get('.hm-main'),
                left: pane.querySelector('.hm-left').hidden ? null : get('.hm-left'),
                top: pane.querySelector('.hm-toprow').hidden ? null : get('.hm-top')};
    })""")
    assert [c["id"] for c in cards] == list(trace["cell_spec"]["params"])
    for card in cards:
        left = [row[0] for row in card["left"]]
        expected = ([[a] for a in left] if card["top"] is None
                    else [[a * b for b in card["top"][0]] for a in left])
        for got_row, want_row in zip(card["main"], expected, strict=True):
            assert got_row == pytest.approx(want_row, rel=1e-12, abs=1e-15), card["id"]
    assert console_errors == []


# --- gradient norm of each step ---------------------------------------------------------------

@browser
def test_step_norm_bars_have_heights_in_proportion_to_the_values(page, live_server,
                                                                 console_errors):
    norms = api(live_server, "trace", {})["diagnostics"]["step_grad_norms"]
    open_studio(page, live_server)
    show_charts(page)
    assert page.get_attribute("#chart-grad-norms", "data-scale") == "linear"
    shown = page.evaluate("""() => {
        const el = document.getElementById('chart-grad-norms');
        const ya = el._fullLayout.yaxis;
        const bars = [...el.querySelectorAll('.bars .point path')].map((p) => p.getBBox().height);
        return {bars, range: ya.range};
    }""")
    assert shown["range"][0] == 0  # bars start at zero
    assert len(shown["bars"]) == len(norms)
    for height, value in zip(shown["bars"], norms, strict=True):
        assert height / shown["bars"][0] == pytest.approx(value / norms[0], rel=0.02)
    assert console_errors == []


@browser
def test_norms_spanning_decades_are_points_on_a_log_axis_labelled_by_powers_of_ten(
        page, live_server, console_errors):
    norms = api(live_server, "trace", {"data": {"preset": "long_range"}})["diagnostics"][
        "step_grad_norms"]
    assert max(norms) > 100 * min(norms)
    open_studio(page, live_server, "preset=long_range")
    show_charts(page)
    assert page.get_attribute("#chart-grad-norms", "data-scale") == "log"
    info = page.evaluate("""() => {
        const el = document.getElementById('chart-grad-norms');
        return {type: el._fullLayout.yaxis.type, kind: el.data[0].type, mode: el.data[0].mode,
                ticks: [...el.querySelectorAll('.ytick text')].map((t) => t.textContent)};
    }""")
    assert info["type"] == "log" and info["kind"] == "scatter" and "markers" in info["mode"]
    values = [parse_number(text) for text in info["ticks"]]
    assert len(values) >= 3
    for value in values:  # one label per power of ten, no "2, 5" minor labels
        assert math.log10(value) == pytest.approx(round(math.log10(value)), abs=1e-9)
    assert console_errors == []


# --- colour scales ----------------------------------------------------------------------------

@browser
def test_error_flow_colour_bar_is_labelled_with_values_that_span_the_matrix(
        page, live_server, console_errors):
    flow = api(live_server, "trace", {})["diagnostics"]["error_flow"]
    cells = [x for t, row in enumerate(flow) for k, x in enumerate(row) if k <= t and x > 0]
    open_studio(page, live_server)
    show_charts(page)
    ticks = page.evaluate("""() => [...document.querySelectorAll(
        '#chart-error-flow .colorbar .cbaxis text, #chart-error-flow .cbaxis text')]
        .map((t) => t.textContent)""")
    values = [parse_number(t) for t in dict.fromkeys(ticks)]
    assert len(values) >= 2 and values == sorted(values)
    assert min(cells) * 0.999 <= values[0] and values[-1] <= max(cells) * 1.001
    assert console_errors == []


@browser
def test_every_heatmap_card_has_a_numbered_colour_scale_of_its_values(page, live_server,
                                                                      console_errors):
    trace = api(live_server, "trace", {"hidden_size": 3})
    i = event_index(trace, "backward", 2)
    open_studio(page, live_server, f"H=3&e={i}")
    paint_heatmaps(page)
    legends = page.evaluate("""() => [...document.querySelectorAll('.hm-card')].map((c) => {
        const box = c.querySelector('.hm-pane:not([hidden]) .hm-legend:not([hidden])');
        return {id: c.dataset.param, scale: Number(box.dataset.scale),
                ticks: [...box.querySelectorAll('.hm-tick')].map((t) => t.textContent)};
    })""")
    # the first map of each card, this step's contribution, on its own scale (the other maps:
    # test_page_course.py)
    contrib = trace["events"][i]["contrib"]
    for legend in legends:
        assert legend["scale"] == pytest.approx(max_abs(contrib[legend["id"]]))
        low, zero, high = (parse_number(t) for t in legend["ticks"])
        assert (low, zero) == (pytest.approx(-high), 0)
        assert high == pytest.approx(legend["scale"], rel=0.05)
    assert console_errors == []


# --- no lag, no request -----------------------------------------------------------------------

@browser
def test_chart_marks_follow_every_step_at_once_when_stepping_quickly(page, live_server,
                                                                     console_errors):
    open_studio(page, live_server, "preset=long_range")
    show_charts(page)
    page.focus("body")
    for _ in range(25):
        page.keyboard.press("ArrowRight")
        marks = page.evaluate("""() => ({body: document.body.dataset.eventIndex,
            marks: ['chart-grad-norms', 'chart-error-flow', 'chart-accum'].map(
                (id) => document.getElementById(id).dataset.markEvent)})""")
        assert marks["marks"] == [marks["body"]] * 3  # the same task: never a step behind
    assert console_errors == []


@browser
def test_drawing_and_stepping_the_charts_sends_no_request_to_the_api(page, live_server,
                                                                     console_errors):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    open_studio(page, live_server, "cell=lstm")
    before = len(requests)
    show_charts(page)
    page.wait_for_selector("#chart-accum.js-plotly-plot")
    page.focus("body")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert requests[before:] == []
    lines = page.evaluate("document.getElementById('chart-accum').data.length")
    assert lines == 14  # every LSTM parameter's running norm, from the trace itself
    assert console_errors == []


ACCUM_TEXT = "the quick brown fox jumps over the lazy dog and keeps running far away"


@browser
@pytest.mark.parametrize(("query", "request_", "detail"), [
    ("cell=gru&preset=machine", {"cell": "gru", "data": {"preset": "machine"}}, "full"),
    (f"cell=lstm&H=64&text={ACCUM_TEXT.replace(' ', '+')}",
     {"cell": "lstm", "hidden_size": 64, "data": {"text": ACCUM_TEXT}}, "norms"),
])
def test_accumulator_chart_draws_the_apis_accum_norms(page, live_server, console_errors, query,
                                                      request_, detail):
    response = httpx.post(f"{live_server}/api/v1/trace", json=request_, timeout=60)
    assert response.status_code == 200, response.text
    trace = response.json()
    assert trace["detail"] == detail  # as the page asks: auto
    open_studio(page, live_server, query)
    show_charts(page)
    page.wait_for_selector("#chart-accum.js-plotly-plot")
    drawn = page.evaluate("""() => document.getElementById('chart-accum').data.map(
        (line) => ({x: [...line.x], y: [...line.y]}))""")
    backward = [(i + 1, ev) for i, ev in enumerate(trace["events"]) if ev["kind"] == "backward"]
    names = list(trace["cell_spec"]["params"])
    assert len(drawn) == len(names)
    for line, name in zip(drawn, names, strict=True):
        assert line["x"] == [i for i, _ in backward]
        assert line["y"] == [ev["accum_norms"][name] for _, ev in backward]  # exactly
    assert console_errors == []


def test_charts_and_plots_do_not_import_each_other():
    charts = (ROOT / "static/js/views/charts.js").read_text(encoding="utf-8")
    plots = (ROOT / "static/js/views/plots.js").read_text(encoding="utf-8")
    assert not re.search(r"""from\s+["']\./charts\.js["']""", plots)
    assert not re.search(r"""from\s+["']\./plots\.js["']""", charts)  # only import() on demand


# --- truncation band --------------------------------------------------------------------------

def inside(point: tuple[float, float], path: str) -> bool:
    """Ray casting: is the point inside the closed polygon of an SVG path (M/L/Z only)?"""
    vertices = [tuple(map(float, xy.split(","))) for xy in re.findall(r"[-\d.]+,[-\d.]+", path)]
    x, y = point
    hit = False
    for (x1, y1), (x2, y2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


@browser
@pytest.mark.parametrize("k1,k2", [(3, 3), (2, 3), (1, 2)])
def test_truncation_band_holds_exactly_the_cells_the_windows_reach(page, live_server,
                                                                   console_errors, k1, k2):
    trace = api(live_server, "trace", {"truncation": {"k1": k1, "k2": k2}})
    flow = trace["diagnostics"]["error_flow"]
    open_studio(page, live_server, f"k1={k1}&k2={k2}")
    show_charts(page)
    paths = page.evaluate("""() => document.getElementById('chart-error-flow').layout.shapes
        .filter((s) => s.type === 'path').map((s) => s.path)""")
    assert paths
    for t in range(1, len(flow) + 1):
        for k in range(1, t + 1):
            in_band = any(inside((k, t), p) for p in paths)
            assert in_band == (flow[t - 1][k - 1] > 0), (t, k)  # no empty cell enclosed
    assert console_errors == []


# --- Jacobian norms on request ----------------------------------------------------------------

@browser
def test_jacobian_norms_are_asked_for_only_when_their_mode_is_chosen(page, live_server,
                                                                     console_errors):
    assert api(live_server, "trace", {})["diagnostics"]["jacobian_norms"] is None  # default
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json)
            if r.url.endswith("/api/v1/trace") else None)
    open_studio(page, live_server)
    show_charts(page)
    assert sent and not any(body.get("jacobian_norms") for body in sent)
    page.select_option("#ctl-flow-mode", "jacobian_norms")
    page.wait_for_selector("#chart-error-flow[data-mode=jacobian_norms]")
    asked = [body for body in sent if body.get("jacobian_norms")]
    assert len(asked) == 1 and asked[0]["data"] == {"preset": "machine"}
    expected = api(live_server, "trace", {"jacobian_norms": True})["diagnostics"][
        "jacobian_norms"]
    shown = page.evaluate("document.getElementById('chart-error-flow').data[0].text")
    for t, row in enumerate(expected):
        for k in range(t + 1):
            assert float(shown[t][k].replace("\u2212", "-")) == pytest.approx(row[k], rel=5e-3)
    # back and forth: the norms of this trace are asked for once
    page.select_option("#ctl-flow-mode", "error_flow")
    page.wait_for_selector("#chart-error-flow[data-mode=error_flow]")
    page.select_option("#ctl-flow-mode", "jacobian_norms")
    page.wait_for_selector("#chart-error-flow[data-mode=jacobian_norms]")
    assert len([body for body in sent if body.get("jacobian_norms")]) == 1
    assert console_errors == []


@browser
def test_a_mode_switched_away_and_back_before_its_chart_is_drawn_is_the_one_shown(
        page, live_server, console_errors):
    """A draw for the mode left is overtaken by the mode chosen again, even though that one was
    the last drawn: once the page drew the first switch's chart over it (seen in CI, when the
    second switch came while the first one's four charts were still being drawn)."""
    open_studio(page, live_server)
    show_charts(page)
    page.select_option("#ctl-flow-mode", "jacobian_norms")
    page.wait_for_selector("#chart-error-flow[data-mode=jacobian_norms]")
    # back to the error flow, and to the norms again as soon as the error flow's chart is
    # drawn: the charts after it (the sums, the loss) are still to be drawn
    page.evaluate("""() => {
        const select = document.getElementById('ctl-flow-mode');
        const chart = document.getElementById('chart-error-flow');
        const choose = (mode) => {
            select.value = mode;
            select.dispatchEvent(new Event('change'));
        };
        new MutationObserver((_, observer) => {
            if (chart.dataset.mode !== 'error_flow') return;
            observer.disconnect();
            choose('jacobian_norms');
            window.switchedBack = true;
        }).observe(chart, { attributes: true, attributeFilter: ['data-mode'] });
        choose('error_flow');
    }""")
    page.wait_for_function("() => window.switchedBack === true")
    page.wait_for_selector("#chart-error-flow[data-mode=jacobian_norms]", timeout=10_000)
    assert console_errors == []


# --- series ---------------------------------------------------------------------------------------

@browser
def test_series_is_shown_in_its_own_units_with_the_forecast_of_the_next_values(
        page, live_server, console_errors):
    open_studio(page, live_server, "preset=series&train=50&e=2")
    # the equation: the input in units, standardised once, and the prediction in units
    units = page.eval_on_selector_all("#equation [data-units]",
                                      "els => els.map((e) => e.textContent)")
    assert units[0] == "6"  # s(3) = 6, shown with its standardisation (6 − 6) / 2.828
    assert page.locator("#equation .eq-note").first.text_content().startswith(
        "The network reads the series standardised")
    # (the table of predictions and the network's nodes are the page's: units.js there)
    show_charts(page)
    page.wait_for_selector("#chart-loss[data-forecast=true]")
    drawn = page.evaluate("""() => document.getElementById('chart-loss').data.map(
        (d) => ({name: d.name, x: d.x, y: d.y}))""")
    series = next(d for d in drawn if d["name"] == "series")
    assert series["y"] == pytest.approx([2, 4, 6, 8, 10])
    forecast = next(d for d in drawn if d["name"] == "forecast")
    said = api(live_server, "train", {"data": {"preset": "series"}, "iterations": 50})["forecast"]
    # as many values ahead as the series has (5): a ReLU network's free running grows on
    ahead = said[:5]
    assert forecast["x"][1:] == list(range(6, 6 + len(ahead)))  # after s(5) = 10
    assert forecast["y"][1:] == ahead
    assert console_errors == []


# --- remember the first symbol ------------------------------------------------------------------

@browser
def test_recall_task_after_training_shows_tokens_and_the_right_answer(page, live_server,
                                                                       console_errors):
    open_studio(page, live_server, "preset=long_range&cell=lstm&train=60")
    rows = page.eval_on_selector_all(
        ".pred-table tr", "rs => rs.map((r) => [...r.cells].slice(1).map((c) => c.textContent))")
    inputs, targets, predicted = rows
    assert len(inputs) == 20 and inputs[0] == "A"
    assert targets[-1] == "A" and predicted[-1] == "A"
    assert all(len(cell) == 1 for cell in predicted)  # tokens, not pairs of logits
    assert console_errors == []


# --- Coursera's notation ----------------------------------------------------------------------

@browser
def test_coursera_notation_reaches_the_heatmap_cards_and_their_captions(page, live_server,
                                                                        console_errors):
    trace = api(live_server, "trace", {"cell": "lstm", "hidden_size": 3})
    i = event_index(trace, "backward", 3)
    open_studio(page, live_server, f"cell=lstm&H=3&e={i}&nota=coursera")
    paint_heatmaps(page)
    titles = page.eval_on_selector_all(".hm-title", "els => els.map((e) => e.textContent)")
    formulas = page.eval_on_selector_all(".hm-formula", "els => els.map((e) => e.textContent)")
    assert titles[:3] == ["dW_f", "db_f", "dW_u"]  # W_f·[a, x]: one card, no dU_f
    assert not any("U" in title for title in titles)
    assert all("(t)" not in f and "δ" not in f for f in formulas)
    assert formulas[0] == "dΓ_f⟨t⟩ [a⟨t−1⟩; x⟨t⟩]ᵀ"
    D, H = trace["sizes"]["D"], trace["sizes"]["H"]
    width = page.evaluate("document.querySelector('#hm-W_f .hm-main').width")
    assert width == H + D
    row = page.evaluate("document.querySelector('#hm-W_f .hm-main')._values[0]")
    contrib = trace["events"][i]["contrib"]
    assert row == pytest.approx(contrib["W_f"][0] + contrib["U_f"][0])
    # back to Goodfellow: one card per parameter again
    page.select_option("#ctl-notation", "goodfellow")
    titles = page.eval_on_selector_all(".hm-title", "els => els.map((e) => e.textContent)")
    assert titles[:3] == ["dW_f", "dU_f", "db_f"]
    assert console_errors == []


@browser
def test_coursera_gru_writes_the_update_gate_as_one_minus_gamma_u(page, live_server,
                                                                  console_errors):
    trace = api(live_server, "trace", {"cell": "gru", "hidden_size": 3})
    i = event_index(trace, "backward", 3)
    open_studio(page, live_server, f"cell=gru&H=3&e={i}&nota=coursera")
    paint_heatmaps(page)
    equation = page.text_content("#equation")
    assert "δ" not in equation and "(3)" not in equation
    assert "Γu⟨3⟩" in equation.replace(" ", "")
    titles = page.eval_on_selector_all(".hm-title", "els => els.map((e) => e.textContent)")
    assert titles[:2] == ["−dW_u", "−db_u"] and "dW_c" in titles
    assert "Γ_r⟨t⟩ ⊙ a⟨t−1⟩" in page.text_content("#hm-W_h .hm-formula")
    page.goto(f"{live_server}/?cell=gru&H=3&e=2&nota=coursera")
    page.wait_for_selector("#studio[data-ready=true]")
    forward = page.text_content("#equation").replace(" ", "")
    assert "1−Γu⟨3⟩=σ(−Wu[a⟨2⟩,x⟨3⟩]−bu)" in forward
    assert console_errors == []


# --- overflow ---------------------------------------------------------------------------------

@browser
def test_overflow_banner_says_what_is_real_and_the_charts_mark_the_overflow(page, live_server,
                                                                            console_errors):
    open_studio(page, live_server, "act=relu&rho=1e300")
    assert page.locator("#status-exploded").is_visible()
    banner = page.text_content("#status-exploded")
    assert "—" in banner and "0" in banner and "ReLU" in banner
    show_charts(page)
    hovers = page.evaluate("""() => ['chart-grad-norms', 'chart-error-flow'].map((id) =>
        document.getElementById(id).data.map((d) => d.hovertemplate || '').join(' '))""")
    assert all("overflowed" in h for h in hovers)
    assert console_errors == []


@browser
def test_exploding_example_explodes_on_the_page(page, live_server, console_errors):
    open_studio(page, live_server, "preset=exploding")
    assert page.eval_on_selector("#ctl-activation", "e => e.value") == "relu"
    show_charts(page)
    shown = page.evaluate("""() => {
        const flow = document.getElementById('chart-error-flow').data[0];
        const norms = document.getElementById('chart-grad-norms')._fullLayout.yaxis;
        return {zmin: flow.zmin, zmax: flow.zmax, top: norms.range[1]};
    }""")
    assert shown["zmax"] - shown["zmin"] > 3  # the colours span more than 1000 times
    assert shown["top"] > 1e4  # every step adds a huge contribution
    assert page.locator("#status-exploded").is_hidden()  # large, not overflowed
    assert console_errors == []
