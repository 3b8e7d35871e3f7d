"""Charts pointed at are drawn at once, in a real browser. The charts otherwise wait for a quiet
page (plotly.js's evaluation is one long task no key may wait for, schedule.js); a lesson's step
that points at a chart, or a person whose pointer goes to one, must not see "Drawing the
chart…" meanwhile. Each test keeps the page from ever being quiet (a key every 100 ms, as a
student stepping would), so the charts can only come because something pointed at them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

LESSONS = json.loads((Path(__file__).resolve().parent.parent / "static/lessons/lessons.json")
                     .read_text())["lessons"]
CHART_BOXES = ("#box-error-flow", "#box-grad-norms", "#box-loss", "#predictions")
# every step of the catalogue whose highlight points at a chart
POINTING_STEPS = [(lesson["id"], k + 1) for lesson in LESSONS
                  for k, step in enumerate(lesson["steps"])
                  if any(h in CHART_BOXES for h in step.get("highlight", []))]

NEVER_QUIET = """() => { window.__busy = setInterval(() => window.dispatchEvent(
    new KeyboardEvent('keydown', {key: 'Shift'})), 100); }"""


def test_the_catalogue_has_steps_that_point_at_charts():
    assert ("vanishing", 2) in POINTING_STEPS and ("train-machine", 2) in POINTING_STEPS


@pytest.mark.parametrize(("lesson", "step"), POINTING_STEPS)
def test_a_lesson_step_that_points_at_a_chart_draws_it_at_once(page, live_server,
                                                               console_errors, lesson, step):
    page.add_init_script(f"({NEVER_QUIET})()")
    page.goto(f"{live_server}/?lesson={lesson}&step={step}")
    page.wait_for_selector("#lesson-panel[data-state=ready]", timeout=30_000)
    page.wait_for_selector("#charts[data-ready=true]", timeout=60_000)
    assert page.locator("#charts .chart:has-text('Drawing the chart')").count() == 0
    assert console_errors == []


def test_the_pointer_on_a_chart_draws_it_at_once(page, live_server, console_errors):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.evaluate(NEVER_QUIET)
    page.locator("#box-loss").scroll_into_view_if_needed()
    page.locator("#box-loss").hover()
    page.wait_for_selector("#charts[data-ready=true]", timeout=60_000)
    assert console_errors == []


def test_charts_nobody_points_at_still_wait_for_a_quiet_page(page, live_server, console_errors):
    page.goto(f"{live_server}/")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.evaluate(NEVER_QUIET)
    page.evaluate("document.getElementById('charts').scrollIntoView()")
    page.wait_for_timeout(2500)  # longer than the quiet wait: still no plotly.js
    assert page.evaluate("typeof window.Plotly") == "undefined"
    page.evaluate("clearInterval(window.__busy)")
    page.wait_for_selector("#charts[data-ready=true]", timeout=60_000)
    assert console_errors == []
