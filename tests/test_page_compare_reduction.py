"""compare=reduction (issue 20): the scenario summed beside the same scenario averaged.

Real Chromium against the real server. The student's question is "why 1/n?": the page shows
reduction "sum" and reduction "mean" side by side, for one sequence and for a mini-batch, each
column with the API's numbers (its loss, the first update's gradient norm, what that update's
loss was divided by), and one sentence above the columns that says how the two gradients relate
with those numbers: the mean's is the sum's divided by n · steps. The page computes none of it:
n is the API's sizes.n, the steps are the API's loss_steps of the update's window, and the
norms are the API's. It opens from the top bar's chooser and from a link, and reads in three
languages. Screenshots land in artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest
from lessons_support import example_view, loss_steps_of
from test_page_compare import SIZES, api_traces, columns, open_compare
from test_page_studio import UNCATALOGUED_TEXT, open_studio

pytestmark = pytest.mark.browser

BATCH = {"batch": [{"text": "machine"}, {"text": "machete"}, {"text": "matches"}]}
BATCH_QUERY = 'data={"batch":[{"text":"machine"},{"text":"machete"},{"text":"matches"}]}'
SCENARIOS = {
    "one-sequence": ("", {"data": {"preset": "machine"}}),
    "mini-batch": (BATCH_QUERY, {"data": BATCH}),
}


def catalogue(page, key: str, args: dict | None = None) -> str:
    """A catalogue text in the page's language, filled as the page fills it."""
    return page.evaluate("([k, a]) => import('/static/js/text/i18n.js').then((m) => m.t(k, a))",
                         [key, args or {}])


def shown(page, value: float, digits: int) -> str:
    """A number as the page writes it (format.js num)."""
    return page.evaluate("async ([v, d]) => (await import('/static/js/text/format.js')).num(v, d)",
                         [value, digits])


def sentences(page) -> list[str]:
    return page.eval_on_selector_all("#compare .cmp-point-pass span",
                                     "els => els.map((e) => e.textContent)")


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_the_sum_and_the_mean_side_by_side_show_the_api_numbers_and_how_they_relate(
        page, live_server, console_errors, case):
    query, scenario = SCENARIOS[case]
    traces = api_traces(live_server, "reduction", scenario)
    cols = open_compare(page, live_server, "reduction", query)
    assert [c["setup"] for c in cols] == ["sum", "mean"]
    assert all(c["networks"] == 1 for c in cols)
    assert [traces[k]["config"]["reduction"] for k in ("sum", "mean")] == ["sum", "mean"]
    n = traces["mean"]["sizes"].get("n", 1)
    steps = len(loss_steps_of(traces["mean"], 0))
    assert (n, steps) == ((3, 6) if case == "mini-batch" else (1, 6))
    # every event of the timeline: each column's numbers are the API's, exactly
    page.keyboard.press("End")  # the update: the gradient norms at this event
    for c in columns(page):
        trace = traces[c["setup"]]
        nums = {k: float(v) for k, v in c["nums"].items()}
        assert nums["loss"] == trace["loss"]
        assert nums["grad_norm"] == trace["updates"][0]["grad_norm"]
        assert nums["updates"] == len(trace["updates"])
        # what update 1's loss was divided by: nothing for the sum, n · steps for the mean
        assert nums["divisor"] == (n * steps if c["setup"] == "mean" else 1)
        assert "flow_first" not in nums  # L(T)'s own error is the same in both: not shown
        ev = example_view(trace)["events"][c["index"]]
        assert ev["kind"] == "update"
        # the strip under the name: how much each step adds to the gradient, the API's
        strip = page.eval_on_selector_all(
            f".cmp-col[data-setup={c['setup']}] .cmp-strip rect[data-k]",
            "els => els.map((e) => Number(e.dataset.value))")
        assert strip == example_view(trace)["diagnostics"]["step_grad_norms"]
    divisor = page.text_content(".cmp-col[data-setup=mean] [data-num=divisor] dt")
    assert divisor == catalogue(page, "cmp.num.divisorMean", {"n": n, "steps": steps})
    # the sentence: n · steps and both norms, as the page writes the API's numbers
    said = sentences(page)
    sum_norm, mean_norm = (traces[k]["updates"][0]["grad_norm"] for k in ("sum", "mean"))
    assert sum_norm / mean_norm == pytest.approx(n * steps)  # what the sentence claims holds
    assert said[0] == catalogue(page, "cmp.point.reduction", {
        "n": n, "steps": steps, "by": n * steps,
        "sum": shown(page, sum_norm, 4), "mean": shown(page, mean_norm, 4)})
    assert said[1] == catalogue(page, "cmp.point.reductionWhy")
    # a mini-batch says which example the columns draw; one sequence says nothing of it
    batch_note = catalogue(page, "cmp.point.batch", {"n": n, "k": 1})
    assert (batch_note in said) == (case == "mini-batch")
    assert len(said) == (3 if case == "mini-batch" else 2)  # one update: no "later updates"
    assert console_errors == []


def test_a_compared_batch_draws_the_example_chosen_under_the_timeline(page, live_server,
                                                                     console_errors):
    """The example selector stays under the timeline while two set-ups are compared: every
    column then draws that example's events and step norms (the updates are the batch's)."""
    traces = api_traces(live_server, "reduction", {"data": BATCH})
    open_compare(page, live_server, "reduction", f"{BATCH_QUERY}&e=4")  # forward t = 5
    page.select_option("#batch-example", "1")
    said = catalogue(page, "cmp.point.batch", {"n": 3, "k": 2})
    page.wait_for_function("(said) => [...document.querySelectorAll("
                           "'#compare .cmp-point-pass span')].some((s) => s.textContent === said)",
                           arg=said)
    for c in columns(page):
        view = example_view(traces[c["setup"]], 1)
        ev = view["events"][c["index"]]
        assert (c["kind"], c["t"]) == ("forward", 5)  # the same event, in example 2
        assert (ev["kind"], ev["t"], ev["example"]) == ("forward", 5, 1)
        strip = page.eval_on_selector_all(
            f".cmp-col[data-setup={c['setup']}] .cmp-strip rect[data-k]",
            "els => els.map((e) => Number(e.dataset.value))")
        assert strip == view["diagnostics"]["step_grad_norms"]
        assert strip != example_view(traces[c["setup"]], 0)["diagnostics"]["step_grad_norms"]
    # the link holds the example: a fresh load compares example 2 again
    page.wait_for_function("() => location.search.includes('ex=2')")
    page.goto(page.url)
    page.wait_for_selector("body[data-compare=reduction]")
    page.wait_for_function("(said) => [...document.querySelectorAll("
                           "'#compare .cmp-point-pass span')].some((s) => s.textContent === said)",
                           arg=said)
    assert page.input_value("#batch-example") == "1"
    assert page.text_content("#batch-note") == catalogue(page, "batch.noteCompare", {"n": 3})
    # back to one view: the same example, and the note names the single view's parts again
    page.select_option("#ctl-compare", "")
    page.wait_for_function("() => !document.body.dataset.compare")
    assert page.input_value("#batch-example") == "1"
    assert page.text_content("#batch-note") == catalogue(page, "batch.note", {"n": 3})
    assert console_errors == []


def test_a_truncated_pass_says_later_updates_part_by_about_their_factor(page, live_server,
                                                                     console_errors):
    """With BPTT(2, 3) update 1 injects the losses of steps 1-2 (loss_steps up to its t), not
    the 3 steps its window could look back over; the updates after it start from weights the
    two reductions moved differently, which the sentence says."""
    scenario = {"data": {"preset": "machine"}, "truncation": {"k1": 2, "k2": 3}}
    traces = api_traces(live_server, "reduction", scenario)
    open_compare(page, live_server, "reduction", "k1=2&k2=3")
    assert len(loss_steps_of(traces["mean"], 0)) == 2
    assert float(columns(page)[1]["nums"]["divisor"]) == 2
    said = sentences(page)
    assert said[-1] == catalogue(page, "cmp.point.reductionLater")
    assert console_errors == []


def test_the_chooser_offers_the_reduction_and_its_link_round_trips(page, live_server,
                                                                   console_errors):
    open_studio(page, live_server, f"{BATCH_QUERY}&e=4")  # example 1, forward t = 5
    page.select_option("#ctl-compare", "reduction")
    page.wait_for_selector("body[data-compare=reduction]")
    page.wait_for_function("() => location.search.includes('compare=reduction')")
    cols = columns(page)
    assert [c["setup"] for c in cols] == ["sum", "mean"]
    assert all((c["kind"], c["t"]) == ("forward", 5) for c in cols)  # the same event kept
    url = page.url
    assert "compare=reduction" in url and "batch" in url
    # the link in a fresh load shows the same comparison at the same event
    page.goto(url)
    page.wait_for_selector("body[data-compare=reduction]")
    again = columns(page)
    assert [(c["setup"], c["kind"], c["t"]) for c in again] == [
        (c["setup"], c["kind"], c["t"]) for c in cols]
    assert page.eval_on_selector("#ctl-compare", "e => e.value") == "reduction"
    # and out again: the single view, without compare= in the link
    page.select_option("#ctl-compare", "")
    page.wait_for_function("() => !location.search.includes('compare=')")
    assert page.locator("#network").is_visible()
    assert console_errors == []


@pytest.mark.parametrize("lang", ["en", "pt-BR", "ru"])
def test_the_reduction_reads_in_the_language_and_fits_every_screen(
        page, live_server, artifacts_dir, console_errors, lang):
    """One page per language: every label of the comparison is the language's (the chooser's
    entry, each column's name, the numbers, the sentence), nothing on the page is outside the
    catalogue; at 1920x1080, 1366x768 and a 390x844 phone nothing is wider than the screen,
    the columns stand side by side where there is room and stack on the phone."""
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    open_compare(page, live_server, "reduction", f"{BATCH_QUERY}&e=12&lang={lang}")
    assert page.evaluate("document.documentElement.lang") == lang
    option = page.text_content("#ctl-compare option[value=reduction]")
    assert option == catalogue(page, "cmp.mode.reduction")
    names = page.eval_on_selector_all("#compare .cmp-name", "els => els.map((e) => e.textContent)")
    assert names == [catalogue(page, "cmp.setup.sum"), catalogue(page, "cmp.setup.mean")]
    if lang != "en":  # translated, not left in English
        english = page.evaluate("""async () => {const en = (await import('/static/js/i18n/en.js'))
            .default; return [en['cmp.setup.sum'], en['cmp.setup.mean'], en['cmp.mode.reduction']]
        }""")
        assert not set(english) & {*names, option}
    assert page.evaluate(UNCATALOGUED_TEXT, lang) == []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, size
        cols = columns(page)
        for c in cols:
            assert c["box"]["x"] >= 0 and c["box"]["x"] + c["box"]["width"] <= width + 0.5
        if size == "phone":
            assert len({round(c["box"]["x"]) for c in cols}) == 1  # stacked
        else:
            assert len({round(c["top"]) for c in cols}) == 1  # side by side
        page.locator("#compare").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / f"compare-reduction-{lang}-{width}x{height}.png"))
    assert [w for w in warnings if "i18n" in w] == []
    assert console_errors == []
