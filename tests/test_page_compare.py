"""The compare view (issue 13, item 1): set-ups side by side on one timeline.

Real Chromium against the real server. Each comparison opens from its URL with one network per
set-up; one key moves every column to the same kind of event at the same t (or, where a set-up
has no such event, to its nearest one, which it says); the numbers that point out the
differences are the API's; the chooser in the top bar switches the view in and out; the
columns never share an id; the phone stacks them within its width; and it reads in three
languages and the notations. Screenshots land in artifacts/ for a person to look at.
"""

from __future__ import annotations

import httpx
import pytest
from lessons_support import COMPARE_SETUPS, compare_setups, match_event
from test_page_studio import UNCATALOGUED_TEXT, axe_violations, open_studio
from wait_support import eventually

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1920, 1080), "laptop": (1366, 768), "phone": (390, 844)}
LANGS = ["en", "pt-BR", "ru"]
MODES = {"cell": ["rnn", "lstm", "gru"], "loss_at": ["every", "last"],
         "truncation": ["full", "truncated"]}

# What each column of the compare view shows: its set-up, the event it is at (its own data
# attributes, its network's cursor, its equation), whether that event is the one the timeline
# asked for, its note, and its numbers as exact floats (data-value).
COLUMNS = """() => [...document.querySelectorAll('#compare .cmp-col')].map((c) => {
    const cursor = c.querySelector('.network .cursor');
    const eq = c.querySelector('.equation');
    const note = c.querySelector('.cmp-note:not(.cmp-dropped)');
    return {
        setup: c.dataset.setup, leader: c.dataset.leader === 'true',
        kind: c.dataset.kind, t: Number(c.dataset.t), index: Number(c.dataset.eventIndex),
        exact: c.dataset.exact === 'true',
        cursor: cursor && {kind: cursor.dataset.kind, t: Number(cursor.dataset.t)},
        equation: eq.dataset.kind ? {kind: eq.dataset.kind, t: Number(eq.dataset.t)} : null,
        note: note.hidden ? null : note.textContent,
        networks: c.querySelectorAll('.network svg[data-cell]').length,
        cell: c.querySelector('.network svg[data-cell]')?.dataset.cell,
        nums: Object.fromEntries([...c.querySelectorAll('[data-num]')].map(
            (e) => [e.dataset.num, e.querySelector('dd').dataset.value])),
        box: (({x, width}) => ({x, width}))(c.getBoundingClientRect()),
        top: c.getBoundingClientRect().top,
    };
})"""


def columns(page) -> list[dict]:
    return page.evaluate(COLUMNS)


def open_compare(page, base: str, mode: str, query: str = "") -> list[dict]:
    open_studio(page, base, f"compare={mode}" + (f"&{query}" if query else ""))
    page.wait_for_selector(f"body[data-compare={mode}]")
    return columns(page)


def leader_index(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.eventIndex)"))


def api_traces(base: str, mode: str, scenario: dict) -> dict[str, dict]:
    """The API's trace of every set-up, asked for as the page asks (source.js: full detail)."""
    out = {}
    for setup, request in compare_setups(mode, scenario).items():
        response = httpx.post(f"{base}/api/v1/trace", json={**request, "detail": "full"},
                              timeout=30)
        assert response.status_code == 200, response.text
        out[setup] = response.json()
    return out


def assert_in_step(cols: list[dict], traces: dict[str, dict]) -> None:
    """Every column shows the leader's (kind, t), or says it shows its nearest event."""
    lead = next(c for c in cols if c["leader"])
    lead_events = traces[lead["setup"]]["events"]
    ev = lead_events[lead["index"]]
    n = sum(1 for e in lead_events[: lead["index"]] if (e["kind"], e["t"]) == (ev["kind"], ev["t"]))
    for c in cols:
        index, exact = match_event(traces[c["setup"]], ev["kind"], ev["t"], n)
        assert (c["index"], c["exact"]) == (index, exact), c
        shown = traces[c["setup"]]["events"][index]
        assert (c["kind"], c["t"]) == (shown["kind"], shown["t"]), c
        assert c["cursor"] == {"kind": shown["kind"], "t": shown["t"]}, c
        assert c["kind"] == ev["kind"], c  # the same kind of event, always
        if exact:
            assert c["t"] == ev["t"] and c["note"] is None, c
        else:
            assert str(ev["t"]) in c["note"] and str(shown["t"]) in c["note"], c


@pytest.mark.parametrize("mode", list(MODES))
def test_each_comparison_opens_from_its_url_with_a_network_per_setup(page, live_server,
                                                                     console_errors, mode):
    cols = open_compare(page, live_server, mode)
    assert [c["setup"] for c in cols] == MODES[mode]
    assert all(c["networks"] == 1 for c in cols)
    assert page.locator("#compare").is_visible()
    # the single view steps aside: its network, equation, accumulators and charts
    for hidden in ("#network", "#equation", "#heatmaps", "#charts"):
        assert page.locator(hidden).is_hidden(), hidden
    assert page.eval_on_selector("#ctl-compare", "e => e.value") == mode
    if mode == "cell":
        assert [c["cell"] for c in cols] == ["rnn", "lstm", "gru"]
    # exactly one column leads the timeline, and the timeline has its events
    leads = [c for c in cols if c["leader"]]
    assert len(leads) == 1
    traces = api_traces(live_server, mode, {"data": {"preset": "machine"}})
    n = len(traces[leads[0]["setup"]]["events"])
    assert page.get_attribute("#tl-scrubber", "max") == str(n - 1)
    assert n == max(len(t["events"]) for t in traces.values())
    assert console_errors == []


def test_an_unknown_comparison_in_the_url_opens_the_single_view(page, live_server,
                                                                console_errors):
    open_studio(page, live_server, "compare=bogus")
    assert page.evaluate("document.body.dataset.compare") is None
    assert page.locator("#network").is_visible()
    assert page.eval_on_selector("#ctl-compare", "e => e.value") == ""
    assert console_errors == []


def test_a_comparison_the_api_refuses_says_what_to_correct_and_draws_no_chart(page, live_server):
    # an unknown example: every column is refused; nothing was drawn before
    open_studio(page, live_server, "compare=cell&preset=no_such_example")
    page.wait_for_selector("#network[data-empty=true]")
    assert page.evaluate("document.body.dataset.compare") is None
    assert page.locator("#network .empty").is_visible()
    assert page.locator(".field-error:visible").count() >= 1
    page.locator("#charts").scroll_into_view_if_needed()
    page.wait_for_function("[...document.querySelectorAll('#charts [data-i18n]')]"
                           ".some((e) => e.dataset.i18n === 'charts.empty')")
    assert "Drawing" not in page.inner_text("#charts")


@pytest.mark.parametrize("mode,query,scenario", [
    ("cell", "", {}),
    ("loss_at", "", {}),
    ("truncation", "", {}),  # BPTT(3, 3), the comparison's own choice
    ("truncation", "k1=1&k2=3", {"truncation": {"k1": 1, "k2": 3}}),  # Haykin's BPTT(3)
])
def test_one_key_moves_every_column_to_the_same_kind_of_event_at_the_same_t(
        page, live_server, console_errors, mode, query, scenario):
    scenario = {"data": {"preset": "machine"}, **scenario}
    traces = api_traces(live_server, mode, scenario)
    open_compare(page, live_server, mode, query)
    n = int(page.get_attribute("#tl-scrubber", "max")) + 1
    nearest = 0
    for i in range(n):
        assert leader_index(page) == i
        cols = columns(page)
        assert_in_step(cols, traces)
        nearest += sum(1 for c in cols if not c["exact"])
        page.keyboard.press("ArrowRight")
    if mode == "truncation":
        # full BPTT has one update, after step 6; the truncated one's others find it as nearest
        updates = len(traces["truncated"]["updates"])
        assert nearest == updates - 1 and updates > 1
    else:
        assert nearest == 0  # the same schedule: every event has its twin
    page.keyboard.press("Home")
    assert leader_index(page) == 0
    assert_in_step(columns(page), traces)
    assert console_errors == []


def test_the_equations_follow_the_columns(page, live_server, console_errors):
    traces = api_traces(live_server, "cell", {"data": {"preset": "machine"}})
    open_compare(page, live_server, "cell", "e=9")
    page.locator("#compare .cmp-equation").first.scroll_into_view_if_needed()

    def equations_follow() -> None:
        for c in columns(page):
            ev = traces[c["setup"]]["events"][c["index"]]
            assert c["equation"] == {"kind": ev["kind"], "t": ev["t"]}

    eventually(equations_follow)  # each column's equation is drawn as it comes into view
    page.keyboard.press("ArrowLeft")
    for c in columns(page):
        ev = traces[c["setup"]]["events"][c["index"]]
        assert c["equation"] == {"kind": ev["kind"], "t": ev["t"]}
    assert console_errors == []


@pytest.mark.parametrize("mode,query,scenario", [
    ("cell", "preset=long_range", {"data": {"preset": "long_range"}}),
    ("loss_at", "", {"data": {"preset": "machine"}}),
    ("truncation", "k1=2&k2=3", {"data": {"preset": "machine"}, "truncation": {"k1": 2, "k2": 3}}),
])
def test_the_differences_pointed_out_are_the_api_numbers(page, live_server, console_errors,
                                                         mode, query, scenario):
    traces = api_traces(live_server, mode, scenario)
    open_compare(page, live_server, mode, query)
    n = int(page.get_attribute("#tl-scrubber", "max")) + 1
    checked = set()
    for i in range(n):
        page.evaluate("(i) => window.bpttStudio.goTo(i)", i)
        for c in columns(page):
            trace = traces[c["setup"]]
            nums = {k: (None if v == "null" else float(v)) for k, v in c["nums"].items()}
            # over the pass: the API's own numbers, exactly
            assert nums["flow_first"] == trace["diagnostics"]["error_flow"][-1][0]
            assert nums["loss"] == trace["loss"]
            assert nums["updates"] == len(trace["updates"])
            fvt = trace["diagnostics"]["full_vs_truncated"]
            if fvt is None:
                assert "cosine" not in nums and "relative_error" not in nums
            else:
                assert nums["cosine"] == fvt["cosine"]
                assert nums["relative_error"] == fvt["relative_error"]
            # at the event: the API's lengths of its error vectors (as on the strands)
            ev = trace["events"][c["index"]]
            if ev["kind"] == "backward":
                assert nums["dh"] == ev["norms"]["dh"]
                assert nums["dh_out"] == ev["norms"]["dh_out"]
                assert nums["dh_next"] == ev["norms"]["dh_next"]
                checked.add(ev["t"])
    assert checked == set(range(1, traces[MODES[mode][0]]["sizes"]["T"] + 1))
    # the sentence that says what differs, with the same numbers as the page writes them
    text = page.text_content("#compare .cmp-point-pass")
    shown = "async (v) => (await import('/static/js/text/format.js')).num(v, 3)"
    if mode == "cell":
        for setup in MODES[mode]:  # the error of the last loss reaching h(1)
            flow = traces[setup]["diagnostics"]["error_flow"][-1][0]
            assert page.evaluate(shown, flow) in text
    if mode == "truncation":
        fvt = traces["truncated"]["diagnostics"]["full_vs_truncated"]
        assert page.evaluate(shown, fvt["cosine"]) in text
        assert page.evaluate(shown, fvt["relative_error"]) in text
        assert "BPTT(2, 3)" in text
    if mode == "loss_at":  # how many losses inject their error: every step, then the last only
        every, last = (len(traces[k]["loss_steps"]) for k in ("every", "last"))
        assert (every, last) == (6, 1)
        first, second = page.eval_on_selector_all("#compare .cmp-point-pass span",
                                                  "els => els.map((e) => e.textContent)")
        assert str(every) in first and str(last) in second
    assert console_errors == []


def test_the_chooser_switches_the_comparison_in_and_out_keeping_the_event(
        page, live_server, console_errors):
    open_studio(page, live_server, "e=9")  # machine, backward t = 3
    before = page.evaluate("""() => {const c = document.getElementById('net-cursor');
        return {kind: c.dataset.kind, t: Number(c.dataset.t)}}""")
    assert before == {"kind": "backward", "t": 3}
    page.select_option("#ctl-compare", "cell")
    page.wait_for_selector("body[data-compare=cell]")
    page.wait_for_function("() => location.search.includes('compare=cell')")
    cols = columns(page)
    assert len(cols) == 3 and all((c["kind"], c["t"]) == ("backward", 3) for c in cols)
    # the control the comparison sets is the comparison's while it is on
    assert page.is_disabled("#ctl-cell")
    page.select_option("#ctl-compare", "truncation")
    page.wait_for_selector("body[data-compare=truncation]")
    cols = columns(page)
    assert [c["setup"] for c in cols] == ["full", "truncated"]
    assert all((c["kind"], c["t"]) == ("backward", 3) for c in cols)
    assert not page.is_disabled("#ctl-cell")
    page.select_option("#ctl-compare", "")
    page.wait_for_function("() => !document.body.dataset.compare")
    page.wait_for_function("() => !location.search.includes('compare=')")
    assert page.locator("#network").is_visible() and page.locator("#compare").is_hidden()
    after = page.evaluate("""() => {const c = document.getElementById('net-cursor');
        return {kind: c.dataset.kind, t: Number(c.dataset.t)}}""")
    assert after == before
    # a link to a comparison reproduces it
    page.select_option("#ctl-compare", "loss_at")
    page.wait_for_function("() => location.search.includes('compare=loss_at')")
    url = page.url
    page.goto(url)
    page.wait_for_selector("body[data-compare=loss_at]")
    assert [c["setup"] for c in columns(page)] == ["every", "last"]
    assert console_errors == []


def test_a_changed_scenario_reloads_every_column(page, live_server, console_errors):
    open_compare(page, live_server, "truncation")
    assert "BPTT(3, 3)" in page.text_content(".cmp-col[data-setup=truncated] .cmp-name")
    page.check("#ctl-trunc")
    page.fill("#ctl-k1", "2")
    page.fill("#ctl-k2", "4")
    page.locator("#ctl-k2").dispatch_event("change")
    page.wait_for_function("""() => document.querySelector(
        '.cmp-col[data-setup=truncated] .cmp-name').textContent.includes('(2, 4)')""")
    traces = api_traces(live_server, "truncation", {"data": {"preset": "machine"},
                                                     "truncation": {"k1": 2, "k2": 4}})
    cols = columns(page)
    assert float(cols[1]["nums"]["cosine"]) == traces["truncated"]["diagnostics"][
        "full_vs_truncated"]["cosine"]
    assert_in_step(cols, traces)
    # the strip under each name is redrawn from the new traces: error_flow's last row
    for setup in ("full", "truncated"):
        strip = page.eval_on_selector_all(
            f".cmp-col[data-setup={setup}] .cmp-strip rect[data-k]",
            "els => els.map((e) => Number(e.dataset.value))")
        assert strip == [v or 0 for v in traces[setup]["diagnostics"]["error_flow"][-1]]
    assert console_errors == []


def test_the_columns_are_requested_at_once_one_trace_each(page, live_server, console_errors):
    log: list[tuple[str, str]] = []
    page.on("request", lambda r: log.append(("start", r.url)) if "/api/v1/trace" in r.url
            else None)
    page.on("requestfinished", lambda r: log.append(("end", r.url)) if "/api/v1/trace" in r.url
            else None)
    open_compare(page, live_server, "cell")
    starts = [k for k, (what, _) in enumerate(log) if what == "start"]
    ends = [k for k, (what, _) in enumerate(log) if what == "end"]
    assert len(starts) == 3 and len(ends) == 3  # one trace per column, nothing else
    assert max(starts) < min(ends)  # all three asked for before the first answer came
    # a key pressed while the columns load is kept: they open at the event it moved to
    page.select_option("#ctl-compare", "")
    page.wait_for_function("() => !document.body.dataset.compare")
    assert leader_index(page) == 0
    page.select_option("#ctl-compare", "cell")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("body[data-compare=cell]")

    def opened_at_the_key() -> None:
        assert leader_index(page) == 1
        assert all((c["kind"], c["t"]) == ("forward", 2) for c in columns(page))

    eventually(opened_at_the_key)
    assert console_errors == []


def test_no_two_elements_share_an_id_and_highlights_stay_in_their_column(page, live_server,
                                                                        console_errors):
    open_compare(page, live_server, "cell", "e=9")
    dupes = page.evaluate("""() => {
        const seen = new Map();
        for (const el of document.querySelectorAll('[id]')) {
            seen.set(el.id, (seen.get(el.id) || 0) + 1);
        }
        return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    }""")
    assert dupes == []
    # every arrowhead a column's strands point at is its own column's
    refs = page.evaluate("""() => [...document.querySelectorAll('#compare .cmp-col')].map((c) =>
        [...c.querySelectorAll('[marker-end]')].every((p) => {
            const id = p.getAttribute('marker-end').slice(5, -1);
            return c.querySelector('#' + CSS.escape(id)) !== null;
        }))""")
    assert refs == [True, True, True]
    # a name without a column marks it in every column; "lstm:…" in the LSTM's only
    marked = page.evaluate("""() => window.bpttStudio.highlight(['node-h-3', 'lstm:node-c-3'])
        .map((e) => e.closest('.cmp-col').dataset.setup + ':' + e.dataset.node)""")
    assert sorted(marked) == ["gru:h", "lstm:c", "lstm:h", "rnn:h"]
    page.evaluate("window.bpttStudio.clearHighlight()")
    assert page.locator("#compare .is-hl").count() == 0
    # an equation's term marks the node it stands for in its own column only
    page.locator(".cmp-col[data-setup=gru] .cmp-equation").scroll_into_view_if_needed()
    page.hover(".cmp-col[data-setup=gru] .cmp-equation .term[data-nodes='node-h-3']")
    lit = page.evaluate("""() => [...document.querySelectorAll('#compare .node.is-hl')]
        .map((e) => e.closest('.cmp-col').dataset.setup + ':' + e.id)""")
    assert "gru:cmp-gru-node-h-3" in lit
    assert [x for x in lit if not x.startswith("gru:")] == []
    assert console_errors == []


@pytest.mark.parametrize("notation,h3,loss", [("goodfellow", "h(3)", "L"), ("d2l", "h_3", "L"),
                                              ("coursera", "a⟨3⟩", "L"),
                                              ("haykin", "x(3)", "ℰ")])
def test_the_compare_view_writes_the_notation_in_use(page, live_server, console_errors,
                                                     notation, h3, loss):
    open_compare(page, live_server, "loss_at", f"e=9&nota={notation}")
    label = page.text_content(".cmp-col[data-setup=every] [data-num=dh] dt")
    assert h3 in label and f"∂{loss}/∂{h3}" in label
    assert h3 in page.text_content("#compare .cmp-point")
    assert page.get_attribute("#cmp-every-node-h-3", "aria-label") == h3
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_string_of_the_compare_view_is_in_the_language(page, live_server, console_errors,
                                                            lang):
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    for mode, query in (("cell", "preset=long_range&e=39"), ("truncation", "e=6"),
                        ("loss_at", "e=3")):
        open_compare(page, live_server, mode, f"{query}&lang={lang}")
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    assert [w for w in warnings if "i18n" in w] == []
    assert console_errors == []


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_screenshots_fit_the_screen(browser, live_server, artifacts_dir, size, lang):
    """Every comparison at 1920x1080, 1366x768 and a 390x844 phone, in each language: nothing
    wider than the screen, columns side by side where there is room and stacked on the phone.
    The screenshots are for a person to look at (artifacts/compare-*.png)."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for mode, query in (("cell", "preset=long_range&e=39"), ("loss_at", "e=9"),
                        ("truncation", "k1=2&k2=3&e=4")):
        cols = open_compare(page, live_server, mode, f"{query}&lang={lang}")
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (mode, size)
        for c in cols:
            assert c["box"]["x"] >= 0 and c["box"]["x"] + c["box"]["width"] <= width + 0.5
        if size == "phone":
            assert len({round(c["box"]["x"]) for c in cols}) == 1  # stacked
            assert [c["top"] for c in cols] == sorted(c["top"] for c in cols)
        else:
            assert len({round(c["top"]) for c in cols}) == 1  # side by side
        page.screenshot(path=str(artifacts_dir / f"compare-{mode}-{lang}-{width}x{height}.png"))
    context.close()
    assert errors == []


def test_the_setups_named_by_the_tests_are_the_page_s(page, live_server, console_errors):
    """lessons_support mirrors compare-plan.js; the page's own set-ups must be the same."""
    open_studio(page, live_server)
    for mode in COMPARE_SETUPS:
        for scenario in ({"data": {"preset": "machine"}},
                         {"data": {"text": "abc"}, "truncation": {"k1": 1, "k2": 2}}):
            page_setups = page.evaluate("""async ([mode, scenario]) => {
                const m = await import('/static/js/views/compare-plan.js');
                const setups = m.setupsOf(mode, scenario);
                return Object.fromEntries(setups.map((s) => [s.id, s.scenario]));
            }""", [mode, scenario])
            assert page_setups == compare_setups(mode, scenario)
    # an LSTM's c0 and explicit weights belong to one cell: the other columns draw from the seed
    dropped = page.evaluate("""async () => {
        const m = await import('/static/js/views/compare-plan.js');
        const s = {data: {text: 'abc'}, cell: 'lstm', c0: [0, 0, 0, 0], params: {}};
        return m.setupsOf('cell', s).map((x) => [x.id, x.dropped, 'c0' in x.scenario,
                                                 'params' in x.scenario]);
    }""")
    assert dropped == [["rnn", True, False, False], ["lstm", False, True, True],
                       ["gru", True, False, False]]
    assert console_errors == []


@pytest.mark.parametrize("query", ["compare=cell&preset=long_range&e=39",
                                   "compare=truncation&e=6&lang=ru"])
def test_no_accessibility_violations_side_by_side(page, live_server, console_errors, query):
    open_studio(page, live_server, query)
    page.wait_for_selector("body[data-compare]")
    assert axe_violations(page) == []
    assert console_errors == []


def test_a_unit_clicked_in_a_column_opens_its_neuron_view_for_that_setup(page, live_server,
                                                                        console_errors):
    open_compare(page, live_server, "cell", "e=9")  # backward, t = 3
    page.locator("#cmp-lstm-unit-3-1").scroll_into_view_if_needed()
    page.click("#cmp-lstm-unit-3-1")
    page.wait_for_function("() => !document.body.dataset.compare")
    page.wait_for_selector("#neuron:not([hidden])")
    assert page.evaluate("window.bpttStudio.trace.config.cell") == "lstm"
    cursor = page.evaluate("""() => {const c = document.getElementById('net-cursor');
        return {kind: c.dataset.kind, t: Number(c.dataset.t)}}""")
    assert cursor == {"kind": "backward", "t": 3}
    page.wait_for_function("""() => location.search.includes('cell=lstm')
        && location.search.includes('unit=2') && !location.search.includes('compare=')""")
    assert console_errors == []
