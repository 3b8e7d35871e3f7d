"""The studio page in a real browser (Chromium through Playwright), against the real server.

Every number the page shows is compared with the API's answer to the same request; the
highlighted node must follow the timeline; the URL must reproduce the view; every visible
string must come from the current language's catalogue; typed data must never run.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

pytestmark = pytest.mark.browser

# Chromium logs every 4xx answer to fetch() as a console error; the error tests expect those.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

SMALL_LSTM = {"data": {"text": "abcab"}, "cell": "lstm", "hidden_size": 3,
              "truncation": {"k1": 2, "k2": 3}}
SMALL_LSTM_QUERY = "text=abcab&cell=lstm&H=3&k1=2&k2=3"


def api_trace(base: str, request: dict) -> dict:
    response = httpx.post(f"{base}/api/v1/trace", json={**request, "detail": "full"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def axe_violations(page) -> list[tuple[str, list]]:
    """axe-core's WCAG 2.1 A/AA and best-practice violations on the page: (rule, targets)."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in result.response["violations"]]


def open_studio(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{'?' + query if query else ''}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)


def current(page) -> dict:
    """What the page shows as the current event: cursor, highlighted nodes, body index."""
    return page.evaluate("""() => {
        const cursor = document.getElementById('net-cursor');
        const nodes = [...document.querySelectorAll('#network [data-current=true]')];
        return {
            index: Number(document.body.dataset.eventIndex),
            t: Number(cursor.dataset.t), kind: cursor.dataset.kind,
            nodeTs: [...new Set(nodes.map((n) => Number(n.dataset.t)))],
            nodeNames: nodes.map((n) => n.dataset.node),
            eqKind: document.getElementById('equation').dataset.kind,
            eqT: Number(document.getElementById('equation').dataset.t),
            svgKind: document.getElementById('network-svg').dataset.eventKind,
        };
    }""")


def assert_follows(shown: dict, index: int, event: dict) -> None:
    assert shown["index"] == index
    assert shown["kind"] == event["kind"] == shown["svgKind"] == shown["eqKind"]
    assert shown["t"] == event["t"] == shown["eqT"]
    assert shown["nodeTs"] == [event["t"]]
    assert "h" in shown["nodeNames"]


def equation_numbers(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('#equation [data-field]')].map(
        (m) => ({field: m.dataset.field, index: m.dataset.index === undefined ? null
                 : Number(m.dataset.index), value: m.dataset.value, text: m.textContent}))""")


def api_value(trace: dict, event: dict, field: str, index: int | None):
    if event["kind"] == "update":
        update = trace["updates"][event["update"]]
        optimizer = trace["config"]["optimizer"]
        value = optimizer[field] if field in ("lr", "momentum") else update[field]
    else:
        value = event
        for part in field.split("."):
            value = value[part]
    return value if index is None else value[index]


def shown_number(text: str) -> float:
    return float(text.replace("\u2212", "-").replace("—", "nan"))


def assert_equation_matches(page, trace: dict, index: int) -> int:
    event = trace["events"][index]
    numbers = equation_numbers(page)
    assert numbers, f"no numbers in the equation of event {index}"
    for n in numbers:
        expected = api_value(trace, event, n["field"], n["index"])
        if expected is None:
            assert n["value"] == "null" and n["text"] == "—"
            continue
        assert float(n["value"]) == expected, (index, n)
        shown = shown_number(n["text"])
        assert math.isclose(shown, expected, rel_tol=6e-3, abs_tol=6e-4), (index, n)
    return len(numbers)


def test_step_through_whole_trace_by_clicks(page, live_server, console_errors, artifacts_dir):
    trace = api_trace(live_server, {"data": {"preset": "machine"}})
    open_studio(page, live_server)
    events = trace["events"]
    assert_follows(current(page), 0, events[0])
    assert page.locator("#tl-first").is_disabled()
    for i in range(1, len(events)):
        page.click("#tl-forward")
        assert_follows(current(page), i, events[i])
        if events[i]["kind"] == "backward" and events[i]["t"] == 3:
            page.screenshot(path=str(artifacts_dir / "page-rnn-backward-1280.png"))
    assert page.locator("#tl-forward").is_disabled()
    assert page.locator("#tl-last").is_disabled()
    page.screenshot(path=str(artifacts_dir / "page-rnn-update-1280.png"))
    for i in range(len(events) - 2, len(events) - 5, -1):
        page.click("#tl-back")
        assert_follows(current(page), i, events[i])
    page.click("#tl-first")
    assert_follows(current(page), 0, events[0])
    page.click("#tl-last")
    assert_follows(current(page), len(events) - 1, events[-1])
    assert console_errors == []


def test_step_through_truncated_lstm_by_keys(page, live_server, console_errors, artifacts_dir):
    trace = api_trace(live_server, SMALL_LSTM)
    events = trace["events"]
    assert [e["kind"] for e in events].count("update") == len(trace["windows"]) > 1
    open_studio(page, live_server, SMALL_LSTM_QUERY)
    page.locator("body").click(position={"x": 5, "y": 790})  # focus the page, not a control
    for i in range(1, len(events)):
        page.keyboard.press("ArrowRight")
        assert_follows(current(page), i, events[i])
        if events[i]["kind"] == "backward":
            # the window being walked back is shaded and its error strands are drawn
            assert page.locator(".band.is-current").count() == 1
            assert page.locator(f'.err[data-t="{events[i]["t"]}"]').count() >= 1
    page.keyboard.press("ArrowRight")  # past the end: stays
    assert current(page)["index"] == len(events) - 1
    page.keyboard.press("Home")
    assert_follows(current(page), 0, events[0])
    page.keyboard.press("End")
    assert_follows(current(page), len(events) - 1, events[-1])
    page.keyboard.press("ArrowLeft")
    assert_follows(current(page), len(events) - 2, events[-2])
    # space plays from the start when at the end, and pauses again
    page.keyboard.press("End")
    page.select_option("#tl-speed", "8")
    page.locator("body").click(position={"x": 5, "y": 790})
    page.keyboard.press(" ")
    page.wait_for_function("() => Number(document.body.dataset.eventIndex) >= 2")
    page.keyboard.press(" ")
    assert page.locator("#tl-play").get_attribute("aria-pressed") == "false"
    stopped = current(page)["index"]
    page.wait_for_timeout(300)
    assert current(page)["index"] == stopped
    assert console_errors == []


def test_keyboard_reaches_nodes_and_shows_their_values(page, live_server, console_errors):
    trace = api_trace(live_server, SMALL_LSTM)
    open_studio(page, live_server, SMALL_LSTM_QUERY + "&e=2")
    page.focus("#network")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.id")
    assert focused.startswith("node-") and focused.endswith(f"-{trace['events'][2]['t']}")
    page.locator("#tooltip").wait_for(state="visible")  # inspect.js loads on the first focus
    page.keyboard.press("ArrowRight")  # the timeline moves and focus follows the new column
    assert current(page)["index"] == 3
    assert page.evaluate("document.activeElement.dataset.t") == str(trace["events"][3]["t"])
    assert console_errors == []


@pytest.mark.parametrize("query,request_body", [
    (SMALL_LSTM_QUERY, SMALL_LSTM),
    ("text=hello&cell=gru&H=3", {"data": {"text": "hello"}, "cell": "gru", "hidden_size": 3}),
    ("series=2,4,6,8,10&H=3&at=last&clip=norm&cmax=0.1&opt=momentum&lr=0.05",
     {"data": {"series": [2, 4, 6, 8, 10]}, "hidden_size": 3, "loss_at": "last",
      "clip": {"mode": "norm", "max": 0.1}, "optimizer": {"name": "momentum", "lr": 0.05}}),
], ids=["lstm-truncated", "gru", "rnn-series-clipped"])
def test_equation_numbers_equal_the_api(page, live_server, console_errors, query, request_body):
    trace = api_trace(live_server, request_body)
    open_studio(page, live_server, query)
    checked = 0
    for i in range(len(trace["events"])):
        if i:
            page.click("#tl-forward")
        checked += assert_equation_matches(page, trace, i)
    assert checked > 10 * len(trace["events"]) // 2
    assert console_errors == []


@pytest.mark.parametrize("notation", ["goodfellow", "haykin"])
def test_a_step_patches_the_equation_into_what_a_fresh_page_shows(page, live_server,
                                                                  console_errors, notation):
    # A step rewrites the equation's numbers and labels in the elements already there (cheaper
    # to lay out than new ones); what it shows must be what the page draws for that event anew.
    trace = api_trace(live_server, SMALL_LSTM)
    query = f"{SMALL_LSTM_QUERY}&nota={notation}"
    assert trace["events"][1]["kind"] == "forward"
    stepped = []
    open_studio(page, live_server, query)
    page.evaluate("document.querySelector('#equation .eq-line').kept = true")
    for i in range(len(trace["events"])):
        if i:
            page.click("#tl-forward")
        if i == 1:  # from one forward step to the next, the lines' elements stay
            assert page.evaluate("document.querySelector('#equation .eq-line').kept") is True
        stepped.append(page.inner_html("#equation"))
    assert len({*stepped}) == len(stepped)  # every event shows its own equation
    for i, shown in enumerate(stepped):
        open_studio(page, live_server, f"{query}&e={i}")
        assert page.inner_html("#equation") == shown, i
    assert console_errors == []


def test_url_round_trip_reproduces_the_view(page, live_server, console_errors, context):
    open_studio(page, live_server)
    page.select_option("#ctl-cell", "gru")
    page.wait_for_function("() => document.getElementById('network-svg')?.dataset.cell === 'gru'")
    page.fill("#ctl-hidden", "5")
    page.press("#ctl-hidden", "Enter")
    page.check("#ctl-trunc")
    page.fill("#ctl-k1", "2")
    page.press("#ctl-k1", "Tab")
    page.wait_for_function("() => document.querySelectorAll('.band').length > 1")
    page.select_option("#ctl-notation", "d2l")
    page.select_option("#ctl-lang", "ru")
    page.wait_for_selector('body[data-lang="ru"]')
    page.locator("body").click(position={"x": 5, "y": 790})
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('e=7')")
    url = page.url
    for part in ("cell=gru", "H=5", "k1=2", "e=7", "lang=ru", "nota=d2l", "preset=machine"):
        assert part in url
    before = page.evaluate("""() => ({eq: document.getElementById('equation').textContent,
        status: document.getElementById('tl-status').textContent,
        hm: [...document.querySelectorAll('.hm-title')].map((e) => e.textContent)})""")

    other = context.new_page()
    errors: list[str] = []
    other.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    other.goto(url)
    other.wait_for_selector("#studio[data-ready=true]")
    after = other.evaluate("""() => ({eq: document.getElementById('equation').textContent,
        status: document.getElementById('tl-status').textContent,
        hm: [...document.querySelectorAll('.hm-title')].map((e) => e.textContent)})""")
    assert after == before
    assert other.eval_on_selector("#ctl-cell", "e => e.value") == "gru"
    assert other.eval_on_selector("#ctl-hidden", "e => e.value") == "5"
    assert other.eval_on_selector("#ctl-k1", "e => e.value") == "2"
    assert other.eval_on_selector("#ctl-lang", "e => e.value") == "ru"
    assert other.eval_on_selector("#ctl-notation", "e => e.value") == "d2l"
    assert other.evaluate("document.documentElement.lang") == "ru"
    assert "dW_hz" in after["hm"]
    assert errors == [] and console_errors == []


UNCATALOGUED_TEXT = """async (lang) => {
    const cat = {...(await import(`/static/js/i18n/${lang}.js`)).default,
                 ...(await import(`/static/js/i18n/${lang}.article.js`)).default};
    const patterns = Object.values(cat).map((v) => new RegExp('^' + v.replace(
        /[.*+?^${}()|[\\]\\\\]/g, '\\\\$&').replace(/\\\\\\{\\w+\\\\\\}/g, '.+?') + '$', 's'));
    const allowed = new Set(['BPTT Studio']);
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent.trim();
        const el = n.parentElement;
        if (!text || allowed.has(text)) continue;
        const skip = '[data-raw], math, script, style, noscript, .js-plotly-plot, #tooltip';
        if (el.closest(skip)) continue;
        if (!el.checkVisibility()) continue;
        if (!patterns.some((p) => p.test(text))) bad.push(text);
    }
    return bad;
}"""


@pytest.mark.parametrize("lang", ["en", "pt-BR", "ru"])
def test_every_visible_string_comes_from_the_catalogue(page, live_server, console_errors,
                                                       artifacts_dir, lang):
    open_studio(page, live_server, SMALL_LSTM_QUERY + "&e=9")
    if lang != "en":
        page.select_option("#ctl-lang", lang)
        page.wait_for_selector(f'body[data-lang="{lang}"]')
    assert page.evaluate("document.documentElement.lang") == lang
    page.locator("#charts").scroll_into_view_if_needed()  # charts load when they come into view
    page.wait_for_selector("#charts[data-ready=true]")
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts_dir / f"page-lstm-backward-{lang}-1280.png"))
    page.click("#tl-last")
    page.click("#btn-gradcheck")
    page.wait_for_selector(".hm-check[data-state]")
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    assert console_errors == []


@pytest.mark.parametrize("notation,w_label,u_label,h_label", [
    ("goodfellow", "dW", "dU", "h"),
    ("d2l", "dW_hh", "dW_xh", "h"),
    ("coursera", "dW_aa", "dW_ax", "a"),
])
def test_notation_relabels_network_equation_and_heatmaps(page, live_server, console_errors,
                                                         notation, w_label, u_label, h_label):
    open_studio(page, live_server, "H=3&e=8")
    page.select_option("#ctl-notation", notation)
    titles = page.eval_on_selector_all(".hm-title", "els => els.map((e) => e.textContent)")
    assert titles[:2] == [w_label, u_label]
    row = page.eval_on_selector("#network .row-labels",
                                "g => [...g.children].map((t) => t.textContent)")
    assert h_label in row
    eq = page.text_content("#equation")
    assert ("⟨" in eq) == (notation == "coursera")
    assert page.get_attribute("#node-h-3", "aria-label") == {
        "goodfellow": "h(3)", "d2l": "h_3", "coursera": "a⟨3⟩"}[notation]
    assert console_errors == []


def test_typed_markup_is_shown_as_text_and_never_runs(page, live_server, console_errors):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_studio(page, live_server)
    payload = "<img src=x onerror=alert(1)>"
    page.select_option("#ctl-data-kind", "text")
    page.fill("#ctl-data", payload)
    page.press("#ctl-data", "Enter")
    page.wait_for_function("(n) => document.getElementById('network-svg')?.dataset.tCount === n",
                           arg=str(len(payload) - 1))
    page.click("#tl-forward")
    page.hover("#node-x-1")
    page.wait_for_timeout(200)
    assert dialogs == []
    assert page.locator("img[onerror], img[src=x]").count() == 0  # the page's own QR code is not it
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    tokens = page.eval_on_selector_all("#network .node.token .node-label",
                                       "els => els.map((e) => e.textContent)")
    assert "".join(tokens) == payload[:-1].replace(" ", "␣")  # spaces are drawn visibly
    assert "text=%3Cimg" in page.url
    assert console_errors == []


def test_api_errors_appear_beside_their_control_and_nothing_freezes(page, live_server,
                                                                    console_errors, artifacts_dir):
    open_studio(page, live_server)
    page.fill("#ctl-hidden", "0")
    page.press("#ctl-hidden", "Enter")
    error = page.locator("#err-hidden")
    error.wait_for(state="visible")
    assert "1" in error.text_content()
    assert page.get_attribute("#ctl-hidden", "aria-invalid") == "true"
    assert page.locator("#network-svg").count() == 1  # the last good trace stays
    page.screenshot(path=str(artifacts_dir / "page-error-1280.png"))
    # k2 < k1 is refused by the server with the field truncation.k2
    page.fill("#ctl-hidden", "3")
    page.press("#ctl-hidden", "Enter")
    page.wait_for_selector("#err-hidden", state="hidden")
    page.check("#ctl-trunc")
    page.fill("#ctl-k1", "3")
    page.fill("#ctl-k2", "1")
    page.press("#ctl-k2", "Enter")
    page.locator("#err-k2").wait_for(state="visible")
    assert page.locator("#err-k2 .err-detail").text_content()
    # a client-side check: series that are not numbers never reach the server
    page.select_option("#ctl-data-kind", "series")
    page.fill("#ctl-data", "1, two, 3")
    page.press("#ctl-data", "Enter")
    page.locator("#err-data").wait_for(state="visible")
    # nothing is frozen: the timeline still moves and the controls still answer
    page.uncheck("#ctl-trunc")
    page.wait_for_selector("#err-k2", state="hidden")
    assert not page.locator("#ctl-cell").is_disabled()
    page.click("#tl-forward")
    assert current(page)["index"] == 1
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


def test_first_load_error_never_leaves_a_blank_page(page, live_server, console_errors):
    # the server fails the first request (a refused link opens nearby: test_page_links.py)
    failed = []

    def fail_once(route) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.fulfill(status=500, content_type="application/json", body='{"detail": "x"}')

    page.route("**/api/v1/trace", fail_once)
    open_studio(page, live_server, "H=3")
    assert page.locator("#err-general").is_visible()
    assert page.locator("#network .empty").is_visible()
    page.fill("#ctl-hidden", "2")
    page.press("#ctl-hidden", "Enter")
    page.wait_for_selector("#network-svg")
    assert [e for e in console_errors if "status of 500" not in e] == []


def test_train_check_and_export(page, live_server, console_errors, artifacts_dir):
    open_studio(page, live_server, "H=6")
    page.fill("#ctl-train-n", "40")
    page.click("#btn-train")
    page.wait_for_selector("#predictions table")
    page.wait_for_function("() => location.search.includes('train=40')")
    page.locator("#charts").scroll_into_view_if_needed()
    page.wait_for_selector("#chart-loss.js-plotly-plot")
    rows = page.eval_on_selector_all(".pred-table tr", "rs => rs.map((r) => r.cells.length)")
    assert rows and all(n == rows[0] for n in rows)
    page.click("#btn-gradcheck")
    page.wait_for_selector("#gradcheck-status[data-state=ok]")
    assert page.locator(".hm-check[data-state=ok]").count() == 5
    with page.expect_download() as csv_download:
        page.click("#btn-export-csv")
    csv_text = Path(csv_download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("event,t,kind,quantity,gate,row,column,value,i,j\n")
    with page.expect_download() as json_download:
        page.click("#btn-export-json")
    assert json_download.value.suggested_filename == "bptt-trace.json"
    page.wait_for_selector("#charts[data-ready=true]")
    page.wait_for_selector("#chart-accum.js-plotly-plot")
    page.screenshot(path=str(artifacts_dir / "page-trained-charts-1280.png"))
    # the check's verdict is a catalogue message too: it follows a language switch
    page.select_option("#ctl-lang", "pt-BR")
    page.wait_for_function("() => document.getElementById('gradcheck-status').textContent"
                           ".startsWith('Todos os gradientes')")
    assert console_errors == []


def test_charts_load_only_when_they_come_into_view(page, live_server, console_errors):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_studio(page, live_server)
    page.wait_for_timeout(400)
    assert not any("plotly" in u or "plots.js" in u for u in requested)
    assert page.evaluate("window.Plotly === undefined")
    page.locator("#charts").scroll_into_view_if_needed()
    page.wait_for_selector("#charts[data-ready=true]")
    page.wait_for_selector("#chart-accum.js-plotly-plot")  # after one more request for norms
    assert page.locator("#charts .js-plotly-plot").count() == 3
    assert page.get_attribute("#chart-loss", "data-i18n") == "charts.loss.empty"  # not trained
    assert console_errors == []


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_article_loads_in_the_language_in_use(page, live_server, console_errors, lang):
    open_studio(page, live_server, f"lang={lang}")
    assert page.text_content("#article h2") == ""  # not loaded in the default view
    page.locator("#article").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#article h2').textContent !== ''")
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    page.select_option("#ctl-lang", "en")
    page.wait_for_function("() => document.querySelector('#article h2').textContent"
                           " === 'What you are looking at'")
    assert console_errors == []


def test_public_handle_for_lessons(page, live_server, console_errors):
    """Lessons load a scenario, move the timeline to an event and highlight elements."""
    open_studio(page, live_server)
    page.evaluate("""() => window.bpttStudio.loadScenario(
        {data: {text: 'machine'}, cell: 'lstm', hidden_size: 3})""")
    assert page.evaluate("window.bpttStudio.goTo({kind: 'backward', t: 3})")
    shown = current(page)
    assert (shown["kind"], shown["t"]) == ("backward", 3)
    page.evaluate("""() => window.bpttStudio.highlight(
        ['node-h-3', 'err-next@3', 'hm-W_o', 'eq-dc', 'box-error-flow'])""")
    assert page.locator(".is-hl").count() >= 5
    page.evaluate("window.bpttStudio.clearHighlight()")
    assert page.locator(".is-hl").count() == 0
    assert console_errors == []


def test_projector_size(browser, live_server, artifacts_dir):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_studio(page, live_server, urlencode({"preset": "sine", "cell": "lstm", "e": 40}))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1920
    page.screenshot(path=str(artifacts_dir / "page-lstm-sine-1920.png"))
    context.close()
    assert errors == []


@pytest.mark.parametrize("scrolled", [0, 200])
def test_a_node_hovered_shows_its_numbers_beside_it(page, live_server, console_errors, scrolled):
    """The tooltip sits beside its node in the page's coordinates, the page scrolled or not."""
    page.set_viewport_size({"width": 1366, "height": 600})
    open_studio(page, live_server)
    page.evaluate(f"window.scrollTo(0, {scrolled})")
    node = page.locator("#node-h-1")
    node.hover()
    tooltip = page.locator("#tooltip")
    tooltip.wait_for()
    at, box = node.bounding_box(), tooltip.bounding_box()
    right_of_it = abs(box["x"] - (at["x"] + at["width"] + 8)) <= 6
    left_of_it = abs(box["x"] + box["width"] + 8 - at["x"]) <= 6
    assert (right_of_it or left_of_it) and abs(box["y"] - at["y"]) <= 6, (at, box)
    assert console_errors == []


def test_two_modules_switching_the_language_at_once_leave_the_whole_catalogue(page, live_server,
                                                                              console_errors):
    # the studio and a view (the network writes) both switch on one change of the store; the
    # second must wait for the first's loading, never replace the catalogue it is filling.
    # With the catalogue's modules already fetched (as when a page switches back to a language)
    # the first switch loads the catalogue and its article part before the second resumes.
    open_studio(page, live_server, "lang=ru")
    page.locator("#article").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#article h2').textContent !== ''")
    missing = page.evaluate("""async () => {
        await import('/static/js/i18n/pt-BR.js');
        await import('/static/js/i18n/pt-BR.article.js');
        const i18n = await import('/static/js/text/i18n.js');
        await Promise.all([i18n.setLanguage('pt-BR'), i18n.setLanguage('pt-BR')]);
        return ['article.title', 'sample.title'].filter((key) => !i18n.has(key));
    }""")
    assert missing == []
    assert console_errors == []
