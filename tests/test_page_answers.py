"""Answers sooner (issue 18, "Slow to answer"): what a click or key shows first, in a real browser.

Each test holds what the first visible change of an answer is, never how long it takes (that is
bench/bench_page.py's "answers"): the frame in which the answer first appears is caught by a
MutationObserver in the page, and what the page shows at that moment is recorded.
"""

from __future__ import annotations

import pytest
from lessons_support import correct_option, lessons

pytestmark = pytest.mark.browser

# When the first element matching `selector` appears, record what the page shows at that moment
# (before any later task has run): the comparison's columns, the page's mode, the verdict.
CATCH_FIRST = """(selector) => {
    window.__first = null;
    const observer = new MutationObserver(() => {
        const found = document.querySelector(selector);
        if (!found || window.__first) return;
        observer.disconnect();
        window.__first = {
            compare: document.body.dataset.compare || null,
            columns: document.querySelectorAll('.cmp-col').length,
            verdict: document.querySelector('.lesson-verdict')?.textContent ?? null,
            reveal: document.querySelector('.lesson-reveal-text')?.textContent ?? null,
            correct: document.querySelector('.lesson-result')?.dataset.correct ?? null,
        };
    });
    observer.observe(document, {subtree: true, childList: true, attributes: true});
}"""


def lesson_step(lesson_id: str, number: int) -> dict:
    lesson = next(x for x in lessons() if x["id"] == lesson_id)
    return lesson["steps"][number - 1]


@pytest.mark.parametrize(("lesson_id", "number"), [("vanishing", 5), ("when-update", 6),
                                                  ("mini-batch", 4)])
def test_a_reveal_that_compares_answers_before_the_columns_are_built(
        page, live_server, console_errors, lesson_id, number):
    """The reveal's traces were fetched while the question was read: the verdict and the
    explanation's numbers (read from them) come first, the compare view is built after."""
    step = lesson_step(lesson_id, number)
    page.goto(f"{live_server}/?lesson={lesson_id}&step={number}")
    page.wait_for_selector("#lesson-panel[data-state=ready] #lesson-reveal", timeout=30_000)
    page.wait_for_function("() => !document.body.dataset.compare")
    right = correct_option(step)
    page.locator(".lesson-option input").nth(right).check()
    page.wait_for_timeout(1500)  # the question is read while its traces come
    page.evaluate(CATCH_FIRST, ".lesson-result")
    page.click("#lesson-reveal")
    page.wait_for_selector("#lesson-panel[data-state=ready] .lesson-result", timeout=30_000)
    first = page.evaluate("window.__first")
    # the answer came while the page still showed the single view: no column built yet
    assert first["compare"] is None and first["columns"] == 0, first
    assert first["correct"] == str(right)
    # and it is the answer the page gives once the comparison is on screen, number for number
    assert page.evaluate("document.body.dataset.compare") == step["reveal"]["compare"]
    assert page.locator(".cmp-col").count() >= 2
    assert page.text_content(".lesson-reveal-text") == first["reveal"]
    assert page.text_content(".lesson-verdict") == first["verdict"]
    assert console_errors == []


# What the grid shows at the moment the key is handled (a keydown listener on the window runs
# after the grid's own, in the same task: before anything else can be painted), and when the
# new trace comes.
CATCH_GRID = """() => {
    window.__atKey = null; window.__atTrace = null;
    const look = () => {
        const entry = document.querySelector(
            "[data-grid='params.W'] input.cell[data-row='0'][data-col='0']");
        return {value: entry?.value ?? null, title: entry?.title ?? null,
                pending: entry?.dataset.pending ?? null,
                marked: document.querySelectorAll('#ed-body [data-pending]').length,
                status: document.querySelector('.ed-pending')?.textContent ?? null,
                traceW: window.bpttStudio.trace.params.W[0][0]};
    };
    window.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' || window.__atKey) return;
        window.__atKey = look();
        window.__grid = document.querySelector("[data-grid='params.W'] table");
    });
    window.bpttStudio.addEventListener('trace', () => { window.__atTrace = look(); },
                                       {once: true});
}"""


def test_a_grid_edit_shows_the_edited_weight_marked_in_the_keys_frame(
        page, live_server, console_errors):
    """Enter on an edited weight: in the key's own task the entry shows its new number, marked
    as being recomputed (with a line that says so); the marks go when the API's trace comes."""
    page.goto(f"{live_server}/")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    page.click("#btn-editors")
    page.click("#ed-tab-weights")
    entry = page.locator("[data-grid='params.W'] input.cell[data-row='0'][data-col='0']")
    entry.wait_for()
    before = page.evaluate("window.bpttStudio.trace.params.W[0][0]")
    assert before != 0.375
    entry.click()
    entry.fill("0.375")
    page.evaluate(CATCH_GRID)
    entry.press("Enter")
    page.wait_for_function("() => window.__atTrace !== null", timeout=20_000)
    at_key = page.evaluate("window.__atKey")
    # the edited number, marked, and said; the page's trace is still the old one
    assert at_key["value"] == "0.375" and at_key["title"] == "0.375", at_key
    assert at_key["pending"] == "true" and at_key["marked"] == 1, at_key
    assert at_key["status"], at_key
    assert at_key["traceW"] == before
    # the API's trace of the edit: the marks go, the entry keeps its number
    page.wait_for_function("() => !document.querySelector('#ed-body [data-pending]')")
    assert page.evaluate("window.bpttStudio.trace.params.W[0][0]") == 0.375
    assert page.locator(".ed-pending").count() == 0
    assert entry.input_value() == "0.375"
    # the new trace changed nothing else the weights tab shows: its grids were not rebuilt
    assert page.evaluate("""() => window.__grid ===
        document.querySelector("[data-grid='params.W'] table")""")
    assert console_errors == []


def test_a_refused_grid_edit_loses_its_mark_and_shows_the_refusal(
        page, live_server, console_errors):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    page.click("#btn-editors")
    page.click("#ed-tab-weights")
    entry = page.locator("[data-grid='params.W'] input.cell[data-row='0'][data-col='1']")
    entry.wait_for()
    entry.click()
    entry.fill("1e999")  # not a finite float64: the API refuses it
    entry.press("Enter")
    page.wait_for_selector("[data-grid='params.W'] input.cell[aria-invalid=true]",
                           timeout=20_000)
    assert page.locator("#ed-body [data-pending]").count() == 0
    assert page.locator(".ed-pending").count() == 0


def test_a_reveal_with_a_neuron_view_answers_from_the_view_asked_for_while_reading(
        page, live_server, console_errors):
    """Lesson 1's neuron question: its view was asked for while the question was read, so the
    click asks the API for nothing and the verdict comes at once, with the view's numbers."""
    lesson_id, number = "recursion", 6
    step = lesson_step(lesson_id, number)
    page.goto(f"{live_server}/?lesson={lesson_id}&step={number}")
    page.wait_for_selector("#lesson-panel[data-state=ready] #lesson-reveal", timeout=30_000)
    page.wait_for_selector("#neuron[data-state=ready]", timeout=30_000)
    right = correct_option(step)
    page.locator(".lesson-option input").nth(right).check()
    page.wait_for_timeout(1500)  # the question is read while its view comes
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url else None)
    page.click("#lesson-reveal")
    page.wait_for_selector("#lesson-panel[data-state=ready] .lesson-result", timeout=30_000)
    assert asked == []
    assert page.get_attribute(".lesson-result", "data-correct") == str(right)
    # the revealed numbers are the neuron panel's (the API's): the two terms of the error
    # reaching h, as the page writes them (three decimals)
    terms = [float(page.get_attribute(f"#neuron [data-part='{name}']", "data-value"))
             for name in ("dh_out", "dh_next")]
    text = page.text_content(".lesson-reveal-text").replace("\u2212", "-")
    assert all(f"{v:.3f}" in text for v in terms), (terms, text)
    assert console_errors == []
