"""Randomized truncation on the page (issue 20): the truncation control offers fixed BPTT(k1, k2)
or randomized (p), by keys and by clicks, and the link keeps it (rand=p); the network shows the
API's ξ_t between the steps, cut or scaled; compare=truncation puts full BPTT beside it and
draws, for a dozen seeds on the same weights, the cosine and relative error the API measured;
the gradient check and the neuron view, which the API refuses for it, say why in every
language. Real Chromium against the real server; every number checked is the API's.
"""

from __future__ import annotations

import re

import httpx
import pytest
from test_page_studio import UNCATALOGUED_TEXT, open_studio

pytestmark = pytest.mark.browser

LANGS = ["en", "pt-BR", "ru"]
RANDOMIZED = {"mode": "randomized", "p": 0.5}
SPREAD_SEEDS = 12  # static/js/state/spread.js SPREAD.seeds
# Chromium logs every 4xx answer to fetch() as a console error: a refused link's first request.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


def catalogue(page, key: str, args: dict | None = None) -> str:
    return page.evaluate("([k, a]) => import('/static/js/text/i18n.js').then((m) => m.t(k, a))",
                         [key, args])


def api_trace(base: str, request: dict) -> dict:
    response = httpx.post(f"{base}/api/v1/trace", json=request, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def page_trace_config(page) -> dict:
    return page.evaluate("window.bpttStudio.trace.config.truncation")


def wait_truncation(page, truncation: dict | None) -> None:
    page.wait_for_function(
        """(want) => {
            const got = window.bpttStudio?.trace?.config?.truncation ?? null;
            if (!want) return got === null;
            return got && Object.entries(want).every(([k, v]) => got[k] === v);
        }""", arg=truncation)


# ---- the control, by keys and clicks, and the link -----------------------------------------


def test_the_truncation_control_chooses_randomized_by_keys_and_the_link_keeps_it(
        page, live_server, console_errors):
    open_studio(page, live_server)
    assert page.is_hidden("#ctl-p")
    # Space ticks Truncate (fixed is the first choice), Tab reaches the choice, ↓ moves it
    page.focus("#ctl-trunc")
    page.keyboard.press("Space")
    wait_truncation(page, {"k1": 3})
    assert page.is_checked("#ctl-trunc-fixed")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ctl-trunc-fixed"
    page.keyboard.press("ArrowDown")
    assert page.is_checked("#ctl-trunc-randomized")
    wait_truncation(page, RANDOMIZED)
    assert page.is_visible("#ctl-p") and page.input_value("#ctl-p") == "0.5"
    assert page.is_hidden("#ctl-k1")  # the fields of the other truncation step aside
    page.wait_for_function("() => location.search.includes('rand=0.5')")
    assert "k1=" not in page.evaluate("location.search")
    # the hint says what it does, with the p in use
    assert page.text_content("#trunc-hint") == catalogue(page, "ctl.trunc.randomized",
                                                         {"p": "0.5"})
    # a p typed, then Tab: the link writes it
    page.fill("#ctl-p", "0.25")
    page.keyboard.press("Tab")
    wait_truncation(page, {"mode": "randomized", "p": 0.25})
    page.wait_for_function("() => location.search.includes('rand=0.25')")
    link = page.url
    # the link opens the same control and the same trace
    page.goto(link)
    page.wait_for_selector("#studio[data-ready=true]")
    assert page.is_checked("#ctl-trunc") and page.is_checked("#ctl-trunc-randomized")
    assert page.input_value("#ctl-p") == "0.25"
    assert page_trace_config(page) == {"k1": None, "k2": None, "mode": "randomized", "p": 0.25}
    # a click back to fixed: k1 = 3, and the link says k1, not rand
    page.click("#ctl-trunc-fixed")
    wait_truncation(page, {"k1": 3})
    page.wait_for_function("() => location.search.includes('k1=3')")
    assert "rand=" not in page.evaluate("location.search")
    assert console_errors == []


@pytest.mark.parametrize(("query", "p"), [("rand=0", 0.5), ("rand=7", 1), ("rand=0.5&k1=3", 0.5)])
def test_a_randomized_link_the_page_could_not_write_opens_nearby_and_says_so(
        page, live_server, console_errors, query, p):
    page.goto(f"{live_server}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    assert page.is_checked("#ctl-trunc-randomized")
    assert page.input_value("#ctl-p") == str(p)
    assert page_trace_config(page)["p"] == p
    assert page.is_visible("#status-link")
    assert page.locator(".field-error:visible").count() == 0
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


# ---- ξ on the network ----------------------------------------------------------------------


def test_the_network_shows_the_api_s_xi_between_the_steps(page, live_server, console_errors):
    open_studio(page, live_server, "rand=0.5&seed=1&e=8")
    api = api_trace(live_server, {"data": {"preset": "machine"}, "seed": 1,
                                  "truncation": RANDOMIZED, "detail": "full"})
    shown = page.eval_on_selector_all(
        "#network .xi", "els => els.map((e) => ({t: Number(e.dataset.t), xi: Number(e.dataset.xi),"
        " cut: e.classList.contains('xi-cut'), label: e.querySelector('.xi-label').textContent,"
        " line: e.querySelector('line') !== null}))")
    # ξ_2..ξ_T, exactly the API's (ξ_1 weighs no flow: there is no step 0 to reach)
    assert [s["t"] for s in shown] == list(range(2, len(api["xi"]) + 1))
    assert [s["xi"] for s in shown] == api["xi"][1:]
    assert any(s["cut"] for s in shown) and any(not s["cut"] for s in shown)  # seed 1 has both
    assert page.locator(".stage .legend .lg-xi").is_visible()  # the key names ξ
    for s in shown:
        assert s["cut"] == (s["xi"] == 0) == s["line"]  # a cut is drawn as a window's cut is
        assert s["label"] == catalogue(page, "net.xi", {"xi": "0" if s["cut"] else "2"})
    # the equation of this backward step (t = 4) writes ξ_5 before what comes from step 5, and
    # says what the draw did
    xi5 = api["xi"][4]
    note = catalogue(page, "eq.xiCut" if xi5 == 0 else "eq.xiKept",
                     {"sub": "₅", "next": 5, "xi": "0" if xi5 == 0 else "2"})
    notes = page.eval_on_selector_all("#equation .eq-note", "els => els.map((e) => e.textContent)")
    assert note in notes
    assert page.locator("#equation msub:has(mi:text-is('ξ'))").count() >= 1
    # a cut flow carries nothing back: no strand from step t to t−1 where ξ_t = 0
    page.click("#tl-last")
    cut_steps = [s["t"] for s in shown if s["cut"]]
    for t in cut_steps:
        assert page.locator(f"#network .err[data-edge=err-next][data-t='{t - 1}']").count() == 0
    # a fixed truncation draws no ξ
    page.click("#ctl-trunc-fixed")
    wait_truncation(page, {"k1": 3})
    assert page.locator("#network .xi").count() == 0
    assert page.locator(".stage .legend .lg-xi").is_hidden()
    assert console_errors == []


# ---- compare=truncation: full BPTT beside it, and the spread over seeds ------------------


def spread_points(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#cmp-spread .spread-point",
        "els => els.map((e) => ({seed: Number(e.dataset.seed), own: e.classList.contains('is-own'),"
        " cosine: Number(e.dataset.cosine), relative_error: Number(e.dataset.relativeError)}))")


def test_compare_truncation_draws_each_seed_s_numbers_as_the_api_gives_them(
        page, live_server, console_errors):
    requests: list[dict] = []
    page.on("request", lambda r: requests.append(r.post_data_json)
            if r.url.endswith("/api/v1/trace") else None)
    open_studio(page, live_server, "compare=truncation&rand=0.5&seed=3")
    page.wait_for_selector("body[data-compare=truncation]")
    page.wait_for_selector("#cmp-spread[data-state=ready]", timeout=30_000)
    # full BPTT beside the randomized truncation, named with its p
    names = page.eval_on_selector_all("#compare .cmp-name", "els => els.map((e) => e.textContent)")
    assert names == [catalogue(page, "cmp.setup.full"),
                     catalogue(page, "cmp.setup.randomized", {"p": "0.5"})]
    traces = page.evaluate("window.bpttStudio.compare.traces")
    weights = traces["truncated"]["params"]
    # the seeds: the scenario's own, then the next ones, each asked for on the same weights
    spread = [r for r in requests if r.get("params") is not None]
    assert [r["seed"] for r in spread] == list(range(3, 3 + SPREAD_SEEDS))
    assert all(r["params"] == weights and r["truncation"] == RANDOMIZED for r in spread)
    assert all(r["detail"] == "summary" for r in spread)  # the diagnostics only: no events
    # each dot is the API's cosine and relative error for its seed, exactly
    points = sorted(spread_points(page), key=lambda p: p["seed"])
    assert [p["seed"] for p in points] == list(range(3, 3 + SPREAD_SEEDS))
    for point in points:
        fvt = api_trace(live_server, {"data": {"preset": "machine"}, "params": weights,
                                      "seed": point["seed"], "truncation": RANDOMIZED,
                                      "detail": "norms"})["diagnostics"]["full_vs_truncated"]
        assert (point["cosine"], point["relative_error"]) == (fvt["cosine"],
                                                              fvt["relative_error"])
    # the ringed dot is the column's own draw: the numbers its head shows
    own = next(p for p in points if p["own"])
    column = traces["truncated"]["diagnostics"]["full_vs_truncated"]
    assert own["seed"] == 3
    assert (own["cosine"], own["relative_error"]) == (column["cosine"], column["relative_error"])
    # the API's diagnostics are the network's own flows, before ξ: the randomized column's
    # strip and its "reaching h(1)" say so, not what its pass carried back
    flow_labels = page.eval_on_selector_all(
        "#compare .cmp-col [data-num=flow_first] dt", "els => els.map((e) => e.textContent)")
    assert "ξ" not in flow_labels[0] and "ξ" in flow_labels[1]
    strips = page.eval_on_selector_all("#compare .cmp-strip-cap",
                                       "els => els.map((e) => e.textContent)")
    assert "ξ" not in strips[0] and "ξ" in strips[1]
    # the words say what the dots show: each draw is off, the average is not
    assert page.text_content("#cmp-spread .cmp-spread-say") == catalogue(
        page, "spread.say", {"first": 3, "last": 3 + SPREAD_SEEDS - 1, "seed": 3, "p": "0.5"})
    assert console_errors == []


def test_a_new_scenario_abandons_the_spread_of_the_old_one(page, live_server, console_errors):
    open_studio(page, live_server, "compare=truncation&rand=0.5")
    page.wait_for_selector("#cmp-spread[data-state]")
    page.select_option("#ctl-cell", "gru")  # at once, while the seeds are being asked for
    page.wait_for_function("() => window.bpttStudio.compare?.traces.truncated?.config.cell"
                           " === 'gru'")
    page.wait_for_selector("#cmp-spread[data-state=ready]", timeout=30_000)
    weights = page.evaluate("window.bpttStudio.compare.traces.truncated.params")
    assert "W_z" in weights  # the GRU's
    first = min(spread_points(page), key=lambda p: p["seed"])
    fvt = api_trace(live_server, {"data": {"preset": "machine"}, "cell": "gru", "params": weights,
                                  "seed": 0, "truncation": RANDOMIZED, "detail": "norms"})
    assert first["cosine"] == fvt["diagnostics"]["full_vs_truncated"]["cosine"]
    # a fixed truncation has no spread
    page.click("#ctl-trunc-fixed")
    page.wait_for_function("() => window.bpttStudio.compare?.traces.truncated?.config"
                           ".truncation.k1 === 3")
    assert page.is_hidden("#cmp-spread")
    assert console_errors == []


# ---- what the API refuses, said in every language --------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_the_gradient_check_and_the_neuron_view_say_why_they_refuse_randomized(
        page, live_server, console_errors, lang):
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url else None)
    open_studio(page, live_server, f"rand=0.5&lang={lang}&e=8")
    page.click("#btn-gradcheck")
    page.wait_for_selector("#gradcheck-status[data-state=refused]")  # (actions.js loads first)
    status = page.locator("#gradcheck-status")
    assert status.text_content() == catalogue(page, "check.randomized")
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []  # ξ's labels too
    page.click("#node-h-3")  # a unit of a backward step: its neuron view
    page.wait_for_selector("#neuron[data-state=refused]")
    assert page.text_content("#neuron .nv-hint") == catalogue(page, "neuron.randomized")
    # neither was asked of the API (it would refuse with loc truncation.mode)
    assert not [u for u in asked if u.endswith(("/gradcheck", "/neuron"))]
    assert console_errors == []


# ---- screenshots ---------------------------------------------------------------------------

SHOTS = [("desktop", "en"), ("laptop", "pt-BR"), ("phone", "ru")]


@pytest.mark.parametrize(("size", "lang"), SHOTS)
def test_screenshots_of_randomized_truncation_fit_the_screen(sized, live_server, artifacts_dir,
                                                             size, lang):
    """The single view (the control, ξ on the network) and the comparison with its spread, at
    each size (in a language each: every string from its catalogue), nothing wider than the
    screen; for a person to look at (artifacts/randomized-*)."""
    page = sized(size)
    width = page.viewport_size["width"]
    open_studio(page, live_server, f"rand=0.5&seed=1&e=9&lang={lang}")
    page.locator("#trunc-hint").scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts_dir / f"randomized-single-{lang}-{size}.png"))
    page.locator("#network").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / f"randomized-network-{lang}-{size}.png"))
    open_studio(page, live_server, f"compare=truncation&rand=0.5&seed=1&e=9&lang={lang}")
    page.wait_for_selector("#cmp-spread[data-state=ready]", timeout=30_000)
    # the comparison reads in the language, the spread's words included
    assert page.text_content("#cmp-spread .cmp-spread-title") == catalogue(
        page, "spread.title", {"n": SPREAD_SEEDS, "p": "0.5"})
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#cmp-spread").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5
    page.locator("#compare").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / f"randomized-compare-{lang}-{size}.png"))
    page.locator("#cmp-spread").screenshot(
        path=str(artifacts_dir / f"randomized-spread-{lang}-{size}.png"))
    assert page.errors == []


def test_the_worksheet_names_the_randomized_truncation_with_the_api_s_xi(page, live_server,
                                                                         console_errors):
    page.goto(f"{live_server}/worksheet?text=abcde&H=2&rand=0.5&seed=1&variant=key")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    api = api_trace(live_server, {"data": {"text": "abcde"}, "hidden_size": 2, "seed": 1,
                                  "truncation": RANDOMIZED, "detail": "full"})
    xi = ", ".join("0" if v == 0 else "2" for v in api["xi"][1:])
    line = catalogue(page, "ws.meta.randomized", {"p": "0.5", "xi": xi})
    assert line in page.eval_on_selector_all("#ws-meta li", "els => els.map((e) => e.textContent)")
    assert console_errors == []


def test_past_its_limits_the_spread_is_not_asked_for_and_says_so(page, live_server,
                                                                 console_errors):
    asked: list[dict] = []
    page.on("request", lambda r: asked.append(r.post_data_json)
            if r.url.endswith("/api/v1/trace") else None)
    open_studio(page, live_server, "compare=truncation&rand=0.5&H=17")  # spread.js: H ≤ 16
    page.wait_for_selector("#cmp-spread[data-state=large]")
    assert page.text_content("#cmp-spread .cmp-spread-say") == catalogue(
        page, "spread.large", {"n": SPREAD_SEEDS, "H": 16, "T": 64})
    assert [r for r in asked if r.get("params") is not None] == []
    assert console_errors == []
