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


@pytest.mark.parametrize(("lesson_id", "number"), [("vanishing", 5), ("when-update", 6)])
def test_a_reveal_that_compares_answers_before_the_columns_are_built(
        page, live_server, console_errors, lesson_id, number):
    """The reveal's traces were fetched while the question was read: the verdict and the
    explanation's numbers (read from them) come first, the compare view is built after."""
    step = lesson_step(lesson_id, number)
    page.goto(f"{live_server}/?lesson={lesson_id}&step={number}")
    page.wait_for_selector("#lesson-panel[data-state=ready] #lesson-reveal", timeout=30_000)
    page.wait_for_function("!document.body.dataset.compare")
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
