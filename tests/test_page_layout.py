"""The studio at every size, by keys and in every language (issue 11, items 1-3, 10, 11).

Real Chromium against the real server: keys step the timeline wherever focus is; no key waits
for the charts; the network fills its panel and never overlaps itself; the phone shows the
network on its first screen and nothing wider than itself; the projector view comes from its
URL; and the smaller promises (CSV numbering, the URL, hints, plurals, labels, accessibility).
Screenshots land in artifacts/ for a person to look at.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from test_page_studio import EXPECTED_4XX, api_trace, axe_violations, current, open_studio

from tests.conftest import SIZES

pytestmark = pytest.mark.browser

LANGS = ["en", "pt-BR", "ru"]

# Event Timing (keys whose answer took 16 ms or more), recorded from the very first moment:
# when each keydown came and when its handlers were done, from the browser's own entries.
KEY_TIMING = """
window.__keys = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) {
    if (e.name === 'keydown') {
        window.__keys.push({at: e.startTime, handled: e.processingEnd});
    }
}}).observe({type: 'event', durationThreshold: 16, buffered: true});
"""
# The 100 ms goal for a key is measured by `make bench-page`, not asserted in a test: how long a
# key waits depends on how busy the machine is. What a test can hold on any machine: every key
# was handled before plotly.js was even requested, so none waited for it.


def index(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.eventIndex)"))


def catalogue(page, key: str) -> str:
    return page.evaluate("""async (key) => {
        const lang = document.documentElement.lang;
        return (await import(`/static/js/i18n/${lang}.js`)).default[key];
    }""", key)


# ---- 1. keys ---------------------------------------------------------------------------------

def test_arrow_keys_step_after_choosing_a_dropdown_value(page, live_server, console_errors):
    open_studio(page, live_server)
    page.focus("#ctl-cell")
    page.select_option("#ctl-cell", "lstm")  # a value chosen: focus stays on the dropdown
    page.wait_for_function("() => document.getElementById('network-svg').dataset.cell === 'lstm'")
    assert page.evaluate("document.activeElement.id") == "ctl-cell"
    page.keyboard.press("ArrowRight")
    assert index(page) == 1
    assert page.eval_on_selector("#ctl-cell", "e => e.value") == "lstm"  # not GRU
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert index(page) == 1
    page.keyboard.press("End")
    assert index(page) == page.evaluate("window.bpttStudio.index.events.length") - 1
    page.keyboard.press("Home")
    assert index(page) == 0
    page.focus("#tl-scrubber")
    page.keyboard.press("ArrowRight")
    assert index(page) == 1
    assert page.eval_on_selector("#ctl-cell", "e => e.value") == "lstm"
    assert console_errors == []


def test_keys_type_into_text_and_number_fields(page, live_server, console_errors):
    open_studio(page, live_server)
    page.focus("#ctl-hidden")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    assert index(page) == 0
    page.focus("#ctl-data")
    page.keyboard.type("ab")
    page.keyboard.press("Home")
    page.keyboard.press(" ")
    assert index(page) == 0
    assert page.get_attribute("#tl-play", "aria-pressed") == "false"
    assert page.eval_on_selector("#ctl-data", "e => e.value") == " ab"  # Home, then a space
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_keys_are_said_on_screen(page, live_server, console_errors, lang):
    open_studio(page, live_server, f"lang={lang}")
    hint = page.locator("#tl-keys")
    assert hint.is_visible()
    assert hint.text_content() == catalogue(page, "timeline.keys")
    assert "←" in hint.text_content() and "→" in hint.text_content()
    assert console_errors == []


# ---- 2. no key waits for the charts ----------------------------------------------------------

def test_keys_in_the_first_seconds_never_wait_for_the_charts(sized, live_server):
    page = sized("desktop")
    page.add_init_script(KEY_TIMING)
    open_studio(page, live_server)
    # the charts in view: plotly.js (1.5 MB) wants to load while the keys come
    page.evaluate("document.getElementById('charts').scrollIntoView()")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(450)
    assert index(page) == 10
    last_key = page.evaluate("performance.now()")
    # once the keys stop, the charts load and draw
    page.wait_for_selector("#charts[data-ready=true]", timeout=30_000)
    page.wait_for_selector("#chart-grad-norms.js-plotly-plot")
    plotly_start = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((r) => r.name.includes('plotly')).map((r) => r.startTime)[0]""")
    assert plotly_start is not None and plotly_start > last_key, (plotly_start, last_key)
    keys = page.evaluate("window.__keys")
    assert all(key["handled"] < plotly_start for key in keys), (keys, plotly_start)
    assert page.errors == []


# ---- 3. the network uses its room ------------------------------------------------------------

def test_network_fills_its_panel_at_1920(sized, live_server, artifacts_dir):
    page = sized("desktop")
    open_studio(page, live_server, "e=9")
    panel = page.eval_on_selector("#network", "e => e.clientWidth")
    svg = page.eval_on_selector("#network-svg", "e => e.getBoundingClientRect().width")
    assert svg >= 0.97 * panel, (svg, panel)
    radius = float(page.get_attribute("#node-h-3 circle", "r"))
    assert radius >= 30
    label = page.eval_on_selector("#node-h-3 .node-label",
                                  "e => parseFloat(getComputedStyle(e).fontSize)")
    assert label >= 24
    widths = page.eval_on_selector_all(
        ".err-step.is-current .err path:not(.hit)",
        "ps => ps.map((p) => Number(p.getAttribute('stroke-width')))")
    assert widths and max(widths) >= 4
    page.screenshot(path=str(artifacts_dir / "layout-network-1920.png"))
    assert page.errors == []


def circles(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('#network .node')]
        .map((g) => [g, g.getBoundingClientRect()]).filter(([, r]) => r.width > 0)
        .map(([g, r]) => {
            return {id: g.id, t: Number(g.dataset.t), x: r.x + r.width / 2, y: r.y + r.height / 2,
                    r: r.width / 2};
        })""")


@pytest.mark.parametrize("query,steps", [
    ("text=the+quick+brown+fox+j&cell=lstm&H=4", 20),
    ("text=" + "abcdefghij" * 20 + "k&cell=lstm&H=2", 200),
    ("text=" + "abcdefghij" * 20 + "k&cell=gru&H=2", 200),
], ids=["lstm-20", "lstm-200", "gru-200"])
def test_long_sequences_never_overlap(sized, live_server, artifacts_dir, query, steps):
    page = sized("laptop")
    open_studio(page, live_server, query)
    assert page.evaluate("window.bpttStudio.index.T") == steps
    shown = circles(page)
    assert len(shown) > 40
    for k, a in enumerate(shown):
        for b in shown[k + 1:]:
            gap = math.dist((a["x"], a["y"]), (b["x"], b["y"])) - a["r"] - b["r"]
            assert gap >= 1, (a, b)
    # a long sequence scrolls within its panel; the page itself stays as wide as the window
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["laptop"][0]
    # the last step's column is scrolled into the panel's view when the timeline reaches it
    page.evaluate(f"window.bpttStudio.goTo({{kind: 'forward', t: {steps}}})")
    cursor = page.eval_on_selector("#net-cursor", "e => e.getBoundingClientRect().toJSON()")
    panel = page.eval_on_selector("#network", "e => e.getBoundingClientRect().toJSON()")
    assert panel["left"] <= cursor["left"] and cursor["right"] <= panel["right"]
    page.screenshot(path=str(artifacts_dir / f"layout-long-{query[-10:-4]}-{steps}-1366.png"))
    assert page.errors == []


def norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def shown_float(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def test_every_error_strand_is_labelled_with_its_norm(page, live_server, console_errors):
    request = {"data": {"text": "abcab"}, "cell": "lstm", "hidden_size": 3}
    trace = api_trace(live_server, request)
    open_studio(page, live_server, "text=abcab&cell=lstm&H=3")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # the last backward event: every strand of the pass
    labels = page.eval_on_selector_all("#network .err", """bs => bs.map((b) => ({
        edge: b.dataset.edge, t: Number(b.dataset.t), shown: b.checkVisibility(),
        text: b.querySelector('.err-norm').textContent}))""")
    field = {"err-out": "dh_out", "err-next": "dh_next", "err-c": "dc_next"}
    backward = {e["t"]: e for e in trace["events"] if e["kind"] == "backward"}
    assert {b["edge"] for b in labels} == set(field)
    for b in labels:
        expected = norm(backward[b["t"]][field[b["edge"]]])
        assert b["shown"]
        assert math.isclose(shown_float(b["text"]), expected, rel_tol=0.05), (b, expected)
    assert console_errors == []


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_the_error_runs_along_its_strands_unless_motion_is_reduced(sized, live_server, motion):
    page = sized("laptop", reduced_motion=motion)
    open_studio(page, live_server)
    page.click("#tl-last")
    page.click("#tl-back")  # backward t = 1 ...
    page.click("#tl-back")  # ... then t = 2: the error arrives at step 2
    arriving = page.locator(".err-step.is-arriving")
    assert arriving.count() == 1
    assert arriving.get_attribute("data-t") == "2"
    running = page.evaluate("""() => document.querySelector('.err-step.is-arriving .err path')
        .getAnimations().length""")
    assert running == (0 if motion == "reduce" else 1)
    assert page.errors == []


# ---- 10. phone and projector -----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_phone_page_fits_and_shows_the_network_first(sized, live_server, artifacts_dir, lang):
    page = sized("phone")
    open_studio(page, live_server, f"lang={lang}&e=9")
    width, height = SIZES["phone"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wider = page.evaluate("""(w) => [...document.querySelectorAll('body *')].filter((e) =>
        e.checkVisibility() && !e.closest('#network, .hm-card, .equation, .predictions')
        && e.getBoundingClientRect().right > w + 0.5).map((e) => e.id || e.className)""", width)
    assert wider == []
    network = page.eval_on_selector("#network", "e => e.getBoundingClientRect().toJSON()")
    assert network["bottom"] <= height, network
    page.screenshot(path=str(artifacts_dir / f"layout-phone-{lang}.png"))
    assert page.errors == []


def test_a_lesson_on_the_phone_leaves_no_blank_panel(sized, live_server, artifacts_dir):
    page = sized("phone")
    open_studio(page, live_server, "lesson=recursion&step=1")
    page.wait_for_selector("#lesson-panel[data-state=ready]", timeout=30_000)
    panel, content = page.evaluate("""() => {
        const p = document.getElementById('lesson-panel');
        const c = p.querySelector('.lesson-content');
        return [p.getBoundingClientRect().height, c.getBoundingClientRect().height];
    }""")
    assert panel <= content + 60, (panel, content)
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0]
    page.screenshot(path=str(artifacts_dir / "layout-phone-lesson.png"))
    assert page.errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_projector_view_comes_from_its_url(sized, live_server, artifacts_dir, lang):
    page = sized("desktop")
    open_studio(page, live_server, f"view=projector&lang={lang}&e=9")
    assert page.get_attribute("body", "data-view") == "projector"
    assert page.locator("#controls").is_hidden()  # folded away
    assert page.eval_on_selector("body", "e => parseFloat(getComputedStyle(e).fontSize)") >= 19
    assert page.get_attribute("#btn-projector", "aria-pressed") == "true"
    radius = float(page.get_attribute("#node-h-3 circle", "r"))
    assert radius >= 34
    page.screenshot(path=str(artifacts_dir / f"layout-projector-{lang}.png"))
    page.click("#btn-controls")  # a teacher unfolds the settings
    assert page.locator("#controls").is_visible()
    assert page.get_attribute("#btn-controls", "aria-expanded") == "true"
    page.keyboard.press("ArrowRight")  # the keys still step
    assert index(page) == 10
    page.wait_for_function("() => location.search.includes('view=projector')")
    page.click("#btn-projector")  # back to the ordinary view: the URL says so too
    page.wait_for_function("() => !location.search.includes('view=')")
    assert page.get_attribute("body", "data-view") is None
    assert page.locator("#controls").is_visible()
    assert page.errors == []


# ---- 11. the smaller promises ----------------------------------------------------------------

def test_csv_export_numbers_events_as_the_page_does(page, live_server, console_errors):
    open_studio(page, live_server, "e=2")
    assert page.text_content("#tl-status").startswith("Event 3 of ")
    with page.expect_download() as download:
        page.click("#btn-export-csv")
    assert download.value.suggested_filename.startswith("bptt-event-3-")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows and {r["event"] for r in rows} == {"3"}
    assert console_errors == []


def test_a_rejected_input_never_reaches_the_url(page, live_server, console_errors):
    open_studio(page, live_server, "H=3")
    page.fill("#ctl-hidden", "0")
    page.press("#ctl-hidden", "Enter")
    page.locator("#err-hidden").wait_for(state="visible")
    page.wait_for_timeout(400)  # longer than the URL's debounce
    assert "H=3" in page.url and "H=0" not in page.url
    page.click("#btn-share")
    assert "H=0" not in page.input_value("#share-url")
    page.fill("#ctl-hidden", "5")
    page.press("#ctl-hidden", "Enter")
    page.wait_for_function("() => location.search.includes('H=5')")
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


@pytest.mark.parametrize("preset,kind", [("sentence", "words"), ("series", "series"),
                                         ("machine", "text")])
def test_the_kind_of_data_follows_the_preset(page, live_server, console_errors, preset, kind):
    open_studio(page, live_server, f"preset={preset}")
    page.wait_for_function("() => document.getElementById('ctl-preset').options.length > 1")
    assert page.eval_on_selector("#ctl-data-kind", "e => e.value") == kind
    assert console_errors == []


def test_ticking_truncate_says_what_it_sets(page, live_server, console_errors):
    open_studio(page, live_server)
    off = page.text_content("#trunc-hint")
    assert off == catalogue(page, "ctl.trunc.hint")
    page.check("#ctl-trunc")
    page.wait_for_function("() => document.querySelectorAll('.band').length > 1")
    assert page.input_value("#ctl-k1") == "3"
    hint = page.text_content("#trunc-hint")
    assert hint != off and "BPTT(3, 3)" in hint
    page.fill("#ctl-k2", "4")
    page.press("#ctl-k2", "Enter")
    page.wait_for_function("() => document.getElementById('trunc-hint').textContent"
                           ".includes('BPTT(3, 4)')")
    page.uncheck("#ctl-trunc")
    page.wait_for_function("(off) => document.getElementById('trunc-hint').textContent === off",
                           arg=off)
    assert console_errors == []


def test_an_empty_state_never_says_drawing_forever(page, live_server, console_errors):
    # the server fails (a refused link opens nearby instead: test_page_links.py)
    page.route("**/api/v1/trace", lambda route: route.fulfill(
        status=500, content_type="application/json", body='{"detail": "x"}'))
    open_studio(page, live_server)
    assert page.locator("#network .empty").is_visible()
    page.locator("#charts").scroll_into_view_if_needed()
    for chart in ("grad-norms", "error-flow", "accum", "loss"):
        assert page.get_attribute(f"#chart-{chart}", "data-i18n") == "charts.empty"
    assert [e for e in console_errors if "status of 500" not in e] == []


@pytest.mark.parametrize("lang,passes,form", [
    ("en", 1, "one"), ("en", 2, "other"), ("pt-BR", 1, "one"), ("pt-BR", 3, "other"),
    ("ru", 1, "one"), ("ru", 3, "few"), ("ru", 5, "many"), ("ru", 21, "one"),
])
def test_training_passes_are_counted_in_the_language(page, live_server, console_errors, lang,
                                                     passes, form):
    open_studio(page, live_server, f"lang={lang}&train={passes}&H=3")
    page.wait_for_selector("#predictions table")
    expected = catalogue(page, f"ctl.trained.{form}").replace("{n}", str(passes))
    assert page.text_content("#train-status") == expected
    caption = catalogue(page, f"pred.caption.{form}").replace("{n}", str(passes))
    assert page.text_content(".pred-table caption") == caption
    assert console_errors == []


def test_the_update_names_the_losses_that_count(page, live_server, console_errors):
    request = {"data": {"text": "machine"}, "loss_at": "last", "truncation": {"k1": 3}}
    trace = api_trace(live_server, request)
    update = next(i for i, e in enumerate(trace["events"])
                  if e["kind"] == "update" and e["t"] == trace["sizes"]["T"])
    open_studio(page, live_server, f"text=machine&at=last&k1=3&e={update}")
    note = page.text_content("#equation")
    first, last = trace["updates"][-1]["window"]
    assert f"{first}–{last}" in note
    assert f"L({last})" in note
    assert all(f"L({t})" not in note for t in range(first, last))
    assert console_errors == []


@pytest.mark.parametrize("query", ["e=9", "cell=lstm&e=12&lang=ru", "view=projector&lang=pt-BR"])
def test_no_accessibility_violations(page, live_server, console_errors, query):
    open_studio(page, live_server, query)
    assert axe_violations(page) == []
    assert console_errors == []


def test_the_longest_sequence_the_api_takes_is_drawn(page, live_server, console_errors):
    """T = 200 (BPTT_MAX_SEQ_LEN's default): drawn, stepped to its end, no console error."""
    from bptt_studio.core.settings import Settings

    steps = Settings().max_seq_len
    text = ("abcdefghij" * 40)[: steps + 1]
    open_studio(page, live_server, f"text={text}&H=2")
    assert page.evaluate("window.bpttStudio.index.T") == steps
    page.keyboard.press("End")
    assert current(page)["kind"] == "update"
    assert console_errors == []


# ---- a student's eyes: what the review of every view at three sizes found ---------------------

def test_the_lesson_menu_opens_within_the_phone_screen(sized, live_server):
    page = sized("phone", is_mobile=True, has_touch=True)
    open_studio(page, live_server, "lang=ru")
    page.click("#btn-lessons")
    menu = page.locator("#lesson-menu")
    menu.wait_for(state="visible")
    box = menu.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES["phone"][0], box
    first = page.locator("#lesson-menu a").first.bounding_box()
    assert first["x"] >= 0  # the lessons' titles are readable, not off the left edge
    assert page.errors == []


# The width a select's chosen option needs: its text in the select's own font, its padding and
# its arrow (about 1.6 em in Chromium).
CHOICE_FITS = """(s) => {
    const style = getComputedStyle(s);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const shown = s.dataset.widest === undefined ? [s.options[s.selectedIndex]] : [...s.options];
    const text = Math.max(...shown.map((o) => ctx.measureText(o.text).width));
    const widest = shown.reduce((a, o) => (ctx.measureText(o.text).width
        > ctx.measureText(a.text).width ? o : a)).text;
    const room = s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
        - 1.6 * parseFloat(style.fontSize);
    return {id: s.id, text, room, widest};
}"""


@pytest.mark.parametrize("lang", LANGS)
def test_phone_top_bar_selects_show_their_whole_choice(sized, live_server, lang):
    page = sized("phone", is_mobile=True, has_touch=True)
    open_studio(page, live_server, f"lang={lang}&nota=goodfellow&compare=loss_at")
    for select in ("#ctl-lang", "#ctl-notation", "#ctl-compare"):
        fit = page.eval_on_selector(select, CHOICE_FITS)
        assert fit["text"] <= fit["room"], fit
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0]
    assert page.errors == []


# The current step's norm labels against the other bundles' strands (each widened by half its
# stroke, the one with the arrowhead by half the arrowhead: 11 units of the drawing's scale)
# and the nodes, in page pixels.
LABEL_CLEARANCE = """() => {
    const scale = Number(getComputedStyle(document.getElementById('network-svg'))
        .getPropertyValue('--net-scale')) || 1;
    const box = (e) => e.getBoundingClientRect();
    const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
        && b.top < a.bottom;
    const step = document.querySelector('#network .err-step.is-current');
    const clashes = [];
    for (const bundle of step.querySelectorAll('.err')) {
        const label = box(bundle.querySelector('.err-norm'));
        for (const other of step.querySelectorAll('.err')) {
            if (other === bundle) continue;
            for (const p of other.querySelectorAll('path:not(.hit)')) {
                const r = box(p);
                const a = p.hasAttribute('marker-end') ? 5.5 * scale
                    : parseFloat(getComputedStyle(p).strokeWidth) / 2;
                const wide = {left: r.left - a, right: r.right + a, top: r.top - a,
                              bottom: r.bottom + a};
                if (meets(label, wide)) clashes.push([bundle.dataset.edge, other.dataset.edge]);
            }
        }
        for (const c of document.querySelectorAll('#network .node circle')) {
            if (meets(label, box(c))) clashes.push([bundle.dataset.edge, c.parentNode.id]);
        }
    }
    return clashes;
}"""


@pytest.mark.parametrize("size,query", [
    ("laptop", "preset=exploding&e=20"),  # 15 narrow columns
    ("desktop", "text=the+quick+brown+fox+j&e=21"),  # 20 columns: backward at t = 19
    ("phone", "e=8"),
    ("laptop", "cell=lstm&e=8"),
], ids=["exploding-1366", "T20-1920", "phone", "lstm-1366"])
def test_strand_norms_clear_the_other_strands_and_the_nodes(sized, live_server, size, query):
    page = sized(size)
    open_studio(page, live_server, query)
    assert current(page)["kind"] == "backward"
    assert page.locator("#network .err-step.is-current .err").count() >= 2
    assert page.evaluate(LABEL_CLEARANCE) == []
    assert page.errors == []


def test_every_error_bundle_shows_a_line_however_small_its_values(sized, live_server):
    """The exploding preset: next to the largest error, most bundles' strands are near white;
    a thin line in the error's colour still shows where the error flows."""
    page = sized("laptop")
    open_studio(page, live_server, "preset=exploding&e=20")
    lines = page.eval_on_selector_all("#network .err-step .err", """bs => bs.map((b) => {
        const spine = b.querySelector('.spine');
        if (!spine) return null;
        const style = getComputedStyle(spine);
        return {stroke: style.stroke, width: parseFloat(style.strokeWidth),
                opacity: Number(style.opacity)};
    })""")
    assert lines and None not in lines
    for line in lines:
        assert line["stroke"] == "rgb(213, 94, 0)"  # PALETTE.backward
        assert line["width"] >= 0.8 and line["opacity"] >= 0.5
    assert page.errors == []


@pytest.mark.parametrize("kind", ["forward", "backward", "update"])
def test_target_labels_clear_the_current_events_frame(sized, live_server, kind):
    page = sized("phone", is_mobile=True, has_touch=True)
    open_studio(page, live_server, {"forward": "e=3", "backward": "e=8", "update": "e=12"}[kind])
    assert current(page)["kind"] == kind
    frame = page.eval_on_selector("#net-cursor", """c => ({
        top: c.getBoundingClientRect().top,
        stroke: parseFloat(getComputedStyle(c).strokeWidth)})""")
    bottoms = page.eval_on_selector_all(
        "#network .target", "ts => ts.map((t) => t.getBoundingClientRect().bottom)")
    assert bottoms
    assert max(bottoms) <= frame["top"] - frame["stroke"] / 2, (bottoms, frame)
    assert page.errors == []


@pytest.mark.parametrize("notation,state", [("goodfellow", "h"), ("coursera", "a"),
                                            ("haykin", "x")])
@pytest.mark.parametrize("lang", LANGS)
def test_the_legend_names_the_state_in_the_notation(page, live_server, console_errors,
                                                    notation, state, lang):
    open_studio(page, live_server, f"nota={notation}&lang={lang}&e=8")
    expected = catalogue(page, "legend.neuron").replace("{h}", state)
    assert page.text_content(".stage .lg-neuron") == expected
    goodfellow = catalogue(page, "legend.neuron").replace("{h}", "h")
    assert (expected == goodfellow) == (state == "h")  # Haykin's x, Coursera's a: not "h"
    page.select_option("#ctl-notation", "goodfellow")  # and it follows a change of notation
    page.wait_for_function("(t) => document.querySelector('.stage .lg-neuron').textContent === t",
                           arg=goodfellow)
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", ["desktop", "laptop"])
def test_paired_settings_line_up_when_a_label_wraps(sized, live_server, lang, size):
    page = sized(size)
    open_studio(page, live_server, f"lang={lang}")
    rows = page.eval_on_selector_all(".sidebar .grid2", """gs => gs.map((g) =>
        [...g.children].map((c) => c.querySelector('input, select'))
            .map((e) => Math.round(e.getBoundingClientRect().bottom)))""")
    for tops in rows:  # a select and a number field differ in height by a pixel or two
        pairs = [tops[k:k + 2] for k in range(0, len(tops), 2)]
        assert all(max(pair) - min(pair) <= 2 for pair in pairs), rows
    assert page.errors == []


def test_projector_timeline_icons_grow_with_their_buttons(sized, live_server):
    page = sized("desktop")
    open_studio(page, live_server, "view=projector")
    for button in ("#tl-first", "#tl-back", "#tl-play", "#tl-forward", "#tl-last"):
        icon = page.eval_on_selector(f"{button} svg", "e => e.getBoundingClientRect().width")
        height = page.eval_on_selector(button, "e => e.getBoundingClientRect().height")
        assert icon >= 0.35 * height, (button, icon, height)
    assert page.errors == []


def test_a_touch_screen_is_not_told_about_keys(sized, live_server):
    page = sized("phone", is_mobile=True, has_touch=True)
    open_studio(page, live_server)
    assert page.locator("#tl-keys").is_hidden()
    assert page.locator("#tl-play").is_visible()
    assert page.errors == []


@pytest.mark.parametrize("size,query", [
    ("laptop", "k1=2&k2=3&e=5&lang=ru"),
    ("phone", "k1=2&k2=3&e=5&lang=pt-BR"),
    ("laptop", "preset=exploding&k1=3&k2=3&e=8&lang=ru"),  # the second window
], ids=["machine-1366", "machine-phone", "exploding-1366"])
def test_the_cut_is_named_clear_of_the_nodes_and_targets(sized, live_server, size, query):
    page = sized(size)
    open_studio(page, live_server, query)
    clashes = page.evaluate("""() => {
        const box = (e) => e.getBoundingClientRect();
        const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
            && b.top < a.bottom;
        const labels = [...document.querySelectorAll('#network .cut-label')]
            .filter((l) => l.checkVisibility());
        const others = [...document.querySelectorAll('#network .node circle, #network .target')];
        return [labels.length, labels.flatMap((l) => others.filter((o) => meets(box(l), box(o)))
            .map((o) => o.parentNode.id || o.textContent))];
    }""")
    assert clashes[0] >= 1 and clashes[1] == [], clashes
    assert page.errors == []


def test_the_sidebars_full_width_buttons_share_one_width(sized, live_server):
    page = sized("laptop")
    open_studio(page, live_server, "lang=ru")
    widths = {b: page.eval_on_selector(b, "e => Math.round(e.getBoundingClientRect().width)")
              for b in ("#btn-editors", "#btn-gradcheck", "#btn-export-trace-csv",
                        "#btn-export-torch")}
    assert len(set(widths.values())) == 1, widths
    assert page.errors == []


@pytest.mark.parametrize("size", ["desktop", "laptop"])
@pytest.mark.parametrize("lang", LANGS)
def test_every_choice_of_the_settings_shows_whole(sized, live_server, lang, size):
    page = sized(size)
    open_studio(page, live_server, f"lang={lang}")
    for select in ("#ctl-preset", "#ctl-data-kind", "#ctl-cell", "#ctl-activation", "#ctl-loss",
                   "#ctl-loss-at", "#ctl-opt", "#ctl-clip"):
        page.eval_on_selector(select, "(s) => { s.dataset.widest = ''; }")
        fit = page.eval_on_selector(select, CHOICE_FITS)
        assert fit["text"] <= fit["room"], fit
    placeholder = page.eval_on_selector("#ctl-data", PLACEHOLDER_FITS)
    assert placeholder["text"] <= placeholder["room"], placeholder
    assert page.errors == []


PLACEHOLDER_FITS = """(input) => {
    const style = getComputedStyle(input);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    return {text: ctx.measureText(input.placeholder).width, placeholder: input.placeholder,
            room: input.clientWidth - parseFloat(style.paddingLeft)
                  - parseFloat(style.paddingRight)};
}"""


@pytest.mark.parametrize("lang", LANGS)
def test_the_loss_at_hint_names_the_tasks_shape_for_the_choice(sized, live_server, lang):
    page = sized("laptop")
    open_studio(page, live_server, f"lang={lang}")
    many = page.inner_text("#loss-at-hint")
    page.select_option("#ctl-loss-at", "last")
    page.wait_for_function("document.querySelector('#loss-at-hint').dataset.i18n"
                           " === 'ctl.lossAt.lastHint'")
    one = page.inner_text("#loss-at-hint")
    words = {"en": ("Many-to-many", "Many-to-one"), "pt-BR": ("Muitos-para-muitos",
             "Muitos-para-um"), "ru": ("Многие-ко-многим", "Многие-к-одному")}[lang]
    assert many.startswith(words[0]) and one.startswith(words[1]), (many, one)
    assert page.errors == []
