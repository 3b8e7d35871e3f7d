"""Guided lessons in a real browser: every lesson walked to its end in each language.

Each step must move the timeline to its event (read from the page's data attributes), highlight
elements that exist and are shown, leave no placeholder or missing text, and each question must
reveal the answer the engine computed (lessons_support answers it from the engine, in Python).
One page per language keeps the suite fast.
"""

from __future__ import annotations

import re

import pytest
from lessons_support import (
    compare_setups,
    correct_option,
    event_index,
    event_t,
    lessons,
    shown_scenario,
    texts,
    trace,
)
from playwright.sync_api import expect

from tests.wait_support import eventually

pytestmark = pytest.mark.browser

READY = "#lesson-panel[data-state=ready]"

# Resolve a highlight target as the page's highlight() does (through the public handle: in a
# comparison a name resolves in every column, "lstm:…" in one); report what exists and what is
# both highlighted and shown.
RESOLVE = """(targets) => targets.map((target) => {
    const els = window.bpttStudio.resolve(target);
    const shown = els.filter((e) => e.classList.contains('is-hl') && e.checkVisibility());
    return {target, found: els.length, shown: shown.length};
})"""

# The cursor of the network the timeline walks: the page's, or in a comparison the leader's.
SHOWN = """() => {
    const compare = document.body.dataset.compare || null;
    const cursor = compare
        ? document.querySelector('.cmp-col[data-leader] .cursor')
        : document.getElementById('net-cursor');
    const panel = document.getElementById('lesson-panel');
    return {index: Number(document.body.dataset.eventIndex), t: Number(cursor.dataset.t),
            kind: cursor.dataset.kind, lesson: panel.dataset.lesson, compare,
            columns: [...document.querySelectorAll('.cmp-col')].map((c) => c.dataset.setup),
            step: Number(panel.dataset.step), lang: panel.dataset.lang,
            text: panel.textContent, url: location.search};
}"""


def wait_step(page, lesson_id: str, number: int) -> dict:
    page.wait_for_selector(f"#lesson-panel[data-lesson='{lesson_id}'][data-step='{number}']"
                           f"[data-state=ready]", timeout=30_000)
    return page.evaluate(SHOWN)


def activate(page, selector: str) -> None:
    """A button of the panel pressed by the keyboard, as a student who tabs through the lesson
    does. A click's press and release must land on one element: a late layout change of the
    page (a chart drawn after the step, the page scrolled to it) between the two sent the
    release elsewhere and the click was lost, on a correct page (the Russian walk failed so,
    once in a run, at Finish). The tests below click Back, Next and Leave with the mouse."""
    page.locator(selector).press("Enter")


def check_shown(page, scenario: dict, event: dict, highlight: list[str], where,
                compare: str | None = None) -> None:
    shown = page.evaluate(SHOWN)
    assert shown["compare"] == compare, where
    if compare:
        assert shown["columns"] == list(compare_setups(compare, scenario)), where
    result = trace(shown_scenario(scenario, compare))
    assert shown["index"] == event_index(result, event), where
    assert (shown["kind"], shown["t"]) == (event["kind"], event_t(result, event)), where
    for item in page.evaluate(RESOLVE, highlight):
        assert item["found"] and item["shown"], (where, item)
    text = shown["text"]
    assert not re.search(r"\{\{|\}\}|\{\w+\}", text), (where, text)
    assert "undefined" not in text and "NaN" not in text, (where, text)


def answer_question(page, step: dict, lang: str, where, pick_right: bool) -> None:
    right = correct_option(step)
    options = page.locator(".lesson-option input")
    assert options.count() == len(step["question"]["options"])
    # revealing without a choice only asks for one
    activate(page, "#lesson-reveal")
    # the status is written by the click's handler; waited for (not read at once) so that the
    # read cannot come between the click and its handler's task
    expect(page.locator("#lesson-panel .lesson-status")).to_have_text(
        texts(lang)["ui"]["chooseFirst"])
    assert page.locator(".lesson-result").count() == 0
    chosen = right if pick_right else (right + 1) % options.count()
    options.nth(chosen).check()
    activate(page, "#lesson-reveal")
    page.wait_for_selector(".lesson-result", timeout=30_000)
    page.wait_for_selector(READY)
    result = page.locator(".lesson-result")
    assert int(result.get_attribute("data-correct")) == right, where
    assert result.get_attribute("data-right") == str(chosen == right).lower(), where
    assert page.locator(".lesson-option.is-correct").count() == 1
    assert page.locator(".lesson-option").nth(right).get_attribute("class").endswith("is-correct")
    verdict = page.text_content(".lesson-verdict")
    assert (verdict == texts(lang)["ui"]["right"]) == (chosen == right), where
    rv = step["reveal"]
    # the verdict comes first, in the click's frame; the page then moves to the reveal's event
    # (and builds its comparison): on a busy machine that can come after the panel is ready
    eventually(lambda: check_shown(page, rv.get("scenario", step["scenario"]), rv["event"],
                                   rv["highlight"], where, rv.get("compare", step.get("compare"))))


@pytest.mark.parametrize("lang", ["en", "pt-BR", "ru"])
def test_walk_every_lesson_to_its_end(page, live_server, console_errors, artifacts_dir, lang):
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(f"{live_server}/?lang={lang}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    cat = texts(lang)
    for n, lesson in enumerate(lessons(), start=1):
        # open from the menu
        page.click("#btn-lessons")
        page.wait_for_selector("#lesson-menu a")
        assert page.get_attribute("#btn-lessons", "aria-expanded") == "true"
        links = page.locator("#lesson-menu a")
        assert links.count() == len(lessons())
        links.nth(n - 1).click()
        assert page.locator("#lesson-menu").is_hidden()
        steps = lesson["steps"]
        for i, step in enumerate(steps):
            where = (lang, lesson["id"], i + 1)
            shown = wait_step(page, lesson["id"], i + 1)
            assert shown["lang"] == lang
            assert cat["ui"]["stepOf"].format(i=i + 1, n=len(steps)) in shown["text"]
            eventually(lambda step=step, where=where: check_shown(
                page, step["scenario"], step["event"], step["highlight"], where,
                step.get("compare")))
            if "conceal" in step:
                assert page.locator(".lesson-concealed").count() >= 1
            if "question" in step:
                answer_question(page, step, lang, where, pick_right=(n + i) % 2 == 0)
                assert page.locator(".lesson-concealed").count() == 0
            shot = None
            if lang == "en" and i == len(steps) - 1:
                shot = f"lesson-{n}-{lesson['id']}-en.png"
            elif lang != "en" and lesson["id"] in ("vanishing", "lstm") and i == len(steps) - 2:
                shot = f"lesson-{n}-{lesson['id']}-{lang}.png"
            if shot:
                page.wait_for_timeout(400)  # the page's charts follow a little behind
                page.screenshot(path=str(artifacts_dir / shot))
            if i < len(steps) - 1:
                activate(page, "#lesson-next")
        # the last step's button finishes the lesson, keeping the view
        assert page.text_content("#lesson-next") == cat["ui"]["finish"]
        activate(page, "#lesson-next")
        assert page.locator("#lesson-panel").is_hidden()
        assert page.locator("#controls").is_visible()
    assert console_errors == []
    assert [w for w in warnings if "i18n" in w] == []


def test_choose_an_answer_first_survives_a_redraw_of_the_panel_in_its_new_language(
        page, live_server, console_errors):
    """The walk once met an empty status after Reveal: a language's texts that finished loading
    after the click redrew the panel and dropped what the click had said. A redraw (here a
    language change) says it again, in the new language."""
    lesson, number, step = next((lesson, i + 1, step) for lesson in lessons()
                                for i, step in enumerate(lesson["steps"]) if "question" in step)
    page.goto(f"{live_server}/?lesson={lesson['id']}&step={number}")
    page.wait_for_selector(READY, timeout=30_000)
    assert "question" in step
    page.click("#lesson-reveal")
    status = page.locator("#lesson-panel .lesson-status")
    expect(status).to_have_text(texts("en")["ui"]["chooseFirst"])
    page.select_option("#ctl-lang", "pt-BR")
    page.wait_for_selector("#lesson-panel[data-lang='pt-BR']")
    expect(status).to_have_text(texts("pt-BR")["ui"]["chooseFirst"])
    page.locator(".lesson-option input").first.check()  # a choice clears it
    expect(status).to_have_text("")
    assert console_errors == []


def test_lesson_link_opens_a_step_in_a_language_and_round_trips(page, live_server,
                                                                console_errors, browser):
    lesson = next(x for x in lessons() if x["id"] == "vanishing")
    page.goto(f"{live_server}/?lesson=vanishing&step=3&lang=pt-BR&nota=d2l")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    shown = wait_step(page, "vanishing", 3)
    assert shown["lang"] == "pt-BR"
    assert page.evaluate("document.documentElement.lang") == "pt-BR"
    check_shown(page, lesson["steps"][2]["scenario"], lesson["steps"][2]["event"],
                lesson["steps"][2]["highlight"], "link")
    # the notation switch reaches the lesson's formulas: h_15 in d2l, a⟨15⟩ in Coursera (the
    # step shows the 15 steps of the "exploding" scenario)
    assert "h15" in page.inner_text(".lesson-text")
    page.select_option("#ctl-notation", "coursera")
    assert "a⟨15⟩" in page.inner_text(".lesson-text")
    page.click("#lesson-back")
    wait_step(page, "vanishing", 2)
    page.click("#lesson-next")
    wait_step(page, "vanishing", 3)
    page.click("#lesson-next")
    wait_step(page, "vanishing", 4)
    page.click("#lesson-link")
    link = page.input_value(".lesson-link-box")
    assert "lesson=vanishing" in link and "step=4" in link and "lang=pt-BR" in link
    assert "nota=coursera" in link
    page.wait_for_function("() => location.search.includes('step=4')")

    # the same link in a fresh page shows the same step, language and notation
    other = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    other.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    other.on("pageerror", lambda e: errors.append(str(e)))
    other.goto(link)
    other.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    again = wait_step(other, "vanishing", 4)
    assert again["lang"] == "pt-BR"
    assert (again["index"], again["kind"], again["t"]) == (
        page.evaluate(SHOWN)["index"], page.evaluate(SHOWN)["kind"], page.evaluate(SHOWN)["t"])
    assert other.inner_text(".lesson-text") == page.inner_text(".lesson-text")
    other.close()
    assert errors == []

    # switching language mid-lesson re-renders the panel in that language
    page.select_option("#ctl-lang", "ru")
    page.wait_for_selector("#lesson-panel[data-lang=ru]")
    assert texts("ru")["ui"]["stepOf"].format(i=4, n=6) in page.text_content("#lesson-panel")

    # leave at any step: the scenario and the event stay, the lesson leaves the URL
    before = page.evaluate(SHOWN)
    page.click("#lesson-leave")
    assert page.locator("#lesson-panel").is_hidden()
    assert page.locator("#controls").is_visible()
    assert page.locator(".is-hl").count() == 0
    page.wait_for_function("() => !location.search.includes('lesson=')")
    after = page.evaluate(SHOWN)
    assert (after["index"], after["kind"], after["t"]) == (before["index"], before["kind"],
                                                           before["t"])
    assert "preset=exploding" in after["url"] and "clip=norm" in after["url"]
    assert page.eval_on_selector("#ctl-activation", "e => e.value") == "relu"
    assert page.eval_on_selector("#ctl-clip", "e => e.value") == "norm"
    assert console_errors == []


def test_lessons_work_with_the_keyboard_alone(page, live_server, console_errors):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_server)
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)
    # the lessons stay out of the default view: runner, stylesheet and texts load on demand
    assert not [u for u in requested if "lesson" in u]
    page.focus("#btn-lessons")
    page.keyboard.press("Enter")
    in_menu = "() => document.activeElement.closest('#lesson-menu') !== null"
    page.wait_for_function(in_menu)
    assert [u for u in requested if u.endswith("/static/js/lessons/lessons.js")]
    assert [u for u in requested if u.endswith("/static/css/lessons.css")]
    page.keyboard.press("Escape")
    assert page.locator("#lesson-menu").is_hidden()
    assert page.evaluate("document.activeElement.id") == "btn-lessons"
    page.keyboard.press("Enter")
    page.wait_for_function(in_menu)
    for _ in range(3):  # to the fourth lesson
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    wait_step(page, "lstm", 1)
    assert page.get_attribute("#lesson-panel", "aria-label")
    # opened from the menu, focus is on the lesson's title; Tab reaches the buttons
    assert page.evaluate("document.activeElement.classList.contains('lesson-title')")
    page.focus("#lesson-next")
    # Enter steps on and Next keeps the focus; a live region announces the new step
    for number in (2, 3, 4, 5):
        page.keyboard.press("Enter")
        wait_step(page, "lstm", number)
        assert page.evaluate("document.activeElement.id") == "lesson-next"
        live = page.text_content("#lesson-panel [aria-live=polite]")
        assert live.startswith(texts("en")["ui"]["stepOf"].format(i=number, n=6))
    # a question answered with the keyboard: focus the first option, arrows pick another
    page.focus(".lesson-option input >> nth=0")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.focus("#lesson-reveal")
    page.keyboard.press("Enter")
    page.wait_for_selector(".lesson-result")
    assert page.evaluate("document.activeElement.classList.contains('lesson-result')")
    assert page.locator(".lesson-option input:checked").get_attribute("value") == "1"
    # every control of the panel has a name a screen reader can say
    names = page.eval_on_selector_all(
        "#lesson-panel button, #lesson-panel input",
        "els => els.map((e) => e.getAttribute('aria-label') || e.labels?.[0]?.innerText"
        " || e.innerText)")
    assert all(name and name.strip() for name in names)
    assert page.get_attribute(".lesson-status", "role") == "status"
    assert console_errors == []


def test_a_step_whose_scenario_fails_says_so_and_the_lesson_goes_on(page, live_server,
                                                                    console_errors):
    page.goto(f"{live_server}/?lesson=last-step&step=3")
    wait_step(page, "last-step", 3)
    # the next step changes the scenario; let the API fail once
    page.route("**/api/v1/trace", lambda route: route.fulfill(
        status=500, content_type="application/json", body='{"detail": "boom"}'))
    page.click("#lesson-next")
    page.wait_for_selector("#lesson-panel[data-state=failed]")
    assert page.text_content(".lesson-status") == texts("en")["ui"]["failed"]
    assert page.locator("#lesson-next").is_enabled() and page.locator("#lesson-leave").is_enabled()
    page.unroute("**/api/v1/trace")
    page.click("#lesson-back")
    page.click("#lesson-next")
    wait_step(page, "last-step", 4)
    step = lessons()[1]["steps"][3]
    check_shown(page, step["scenario"], step["event"], step["highlight"], "after failure",
                step.get("compare"))
    unexpected = [e for e in console_errors if "status of 500" not in e]
    assert unexpected == []


def test_a_step_stops_scrolling_the_page_once_the_student_scrolls(page, live_server,
                                                                 console_errors):
    """A step scrolls what it is about into view, and looks again a little later (charts drawn
    late move it). That second look once came after the student had scrolled away, or between
    the press and the release of a click on Finish, moving the button from under the pointer:
    the click was lost. Once the student acts, the page leaves the scrolling to them.

    The student turns the wheel up to the top in the instant the step is ready (the page's own
    script does it, on the panel's change: a test driver's wheel can come after the second
    look on a busy machine, when there is nothing left to stop)."""
    page.add_init_script("""
        new MutationObserver(() => {
            const panel = document.getElementById('lesson-panel');
            if (panel?.dataset.state !== 'ready' || window.__turned) return;
            window.__turned = true;
            document.dispatchEvent(new WheelEvent('wheel', {deltaY: -1000, bubbles: true}));
            window.scrollTo({top: 0, behavior: 'instant'});
        }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
    """)
    # a short window: what the step is about (the predictions) is out of view from the top,
    # so a second look would scroll the page down again
    page.set_viewport_size({"width": 1280, "height": 400})
    page.goto(f"{live_server}/?lesson=train-machine&step=2")
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_function("() => window.__turned === true")
    page.wait_for_timeout(1_500)  # longer than the step's second look waits
    assert page.evaluate("scrollY") == 0
    assert page.evaluate("""() => document.querySelector('#predictions')
        .getBoundingClientRect().top >= innerHeight""")  # what a second look would scroll to
    assert console_errors == []
