"""A class in a real browser: a teacher's page and three students' pages (one a phone) in one
Chromium, on a real server (the in-process hub). The teacher steps and every student follows; a
poll is answered and revealed; a page with a wrong token never leads; a student explores and
comes back with one tap; screenshots of both faces in every language and size."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

pytestmark = pytest.mark.browser

SIZES = {"1920": (1920, 1080), "1366": (1366, 768), "390": (390, 844)}
LANGS = ["en", "pt-BR", "ru"]
POLL_LESSON = ("recursion", 6)  # a step with a predict-then-reveal question of two options


@pytest.fixture
def open_page(browser):
    """``open_page(url, size)``: a page in its own context (its own sessionStorage), every
    console error collected in ``page.errors``."""
    contexts = []

    def make(url: str, size: str = "1366", init_script: str | None = None):
        width, height = SIZES[size]
        options = {"is_mobile": True, "has_touch": True} if size == "390" else {}
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        if init_script:
            context.add_init_script(init_script)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
        return page

    yield make
    for context in contexts:
        context.close()


def start_class(page) -> str:
    """The teacher starts a class from the page: the class button, then Start."""
    page.click("#btn-class")
    page.click("#class-start")
    page.wait_for_selector("body[data-class-role=teacher]")
    page.wait_for_function("() => document.getElementById('class-code').textContent.length === 6")
    return page.text_content("#class-code")


def join(open_page, base: str, room: str, sizes=("1366", "1920", "390"), lang: str = "en"):
    students = [open_page(f"{base}/?room={room}&lang={lang}", size) for size in sizes]
    for page in students:
        page.wait_for_selector("body[data-class-role=student][data-class-following=true]",
                               timeout=30_000)
    return students


def wait_all(pages, selector: str) -> None:
    for page in pages:
        page.wait_for_selector(selector, timeout=30_000)


def test_every_student_follows_the_teachers_step_notation_comparison_and_lesson(
        open_page, live_server):
    teacher = open_page(f"{live_server}/")
    room = start_class(teacher)
    students = join(open_page, live_server, room)
    teacher.locator("#network").click()
    for _ in range(3):
        teacher.keyboard.press("ArrowRight")
    teacher.wait_for_selector("body[data-event-index='3']")
    wait_all(students, "body[data-event-index='3']")
    teacher.select_option("#ctl-notation", "d2l")
    wait_all(students, "body[data-notation=d2l]")
    teacher.select_option("#ctl-compare", "cell")
    wait_all(students, "body[data-compare=cell]")
    teacher.select_option("#ctl-compare", "")
    teacher.click("#btn-lessons")
    teacher.click("#lesson-menu a[data-lesson=lstm]")
    teacher.wait_for_selector("#lesson-panel[data-lesson=lstm][data-step='1'][data-state=ready]")
    wait_all(students, "#lesson-panel[data-lesson=lstm][data-step='1'][data-state=ready]")
    teacher.click("#lesson-next")
    wait_all(students, "#lesson-panel[data-lesson=lstm][data-step='2'][data-state=ready]")
    index = teacher.evaluate("document.body.dataset.eventIndex")
    wait_all(students, f"body[data-event-index='{index}']")
    for page in [teacher, *students]:
        assert page.errors == []


def test_every_student_shows_the_example_of_the_batch_the_teacher_shows(open_page, live_server):
    batch = {"batch": [{"text": word} for word in ("hello", "world", "there")]}
    teacher = open_page(f"{live_server}/?data={quote(json.dumps(batch))}&cell=rnn")
    room = start_class(teacher)
    students = join(open_page, live_server, room, sizes=("1366", "390"))
    for example in (2, 1):
        teacher.select_option("#batch-example", str(example))
        for page in students:
            page.wait_for_function("(e) => window.bpttStudio.index?.example === e", arg=example,
                                   timeout=30_000)
            assert page.input_value("#batch-example") == str(example)
    for page in [teacher, *students]:
        assert page.errors == []


def test_a_poll_is_answered_by_every_student_seen_live_and_revealed_to_all(
        open_page, live_server):
    lesson, step = POLL_LESSON
    teacher = open_page(f"{live_server}/?lesson={lesson}&step={step}")
    teacher.wait_for_selector("#lesson-panel[data-state=ready]")
    room = start_class(teacher)
    students = join(open_page, live_server, room)
    wait_all(students, f"#lesson-panel[data-lesson={lesson}][data-step='{step}'] .lesson-question")
    choices = [0, 1, 1]
    for page, choice in zip(students, choices, strict=True):
        page.check(f".lesson-option input[value='{choice}']")
        page.click("#lesson-reveal")
        page.wait_for_function(
            "() => document.querySelector('.lesson-status').textContent.length > 0")
        assert page.locator(".lesson-result").count() == 0  # nothing revealed yet
    teacher.wait_for_function(
        "() => [...document.querySelectorAll('#class-bars li')].map(li => li.dataset.count)"
        ".join() === '1,2'")
    assert "3" in teacher.text_content("#class-answered")
    teacher.click("#lesson-reveal")
    wait_all(students, ".lesson-result")
    correct = int(teacher.get_attribute(".lesson-result", "data-correct"))
    for page, choice in zip(students, choices, strict=True):
        assert page.get_attribute(".lesson-result", "data-right") == str(choice == correct).lower()
    for page in [teacher, *students]:
        assert page.errors == []


def test_a_page_with_a_wrong_token_never_leads_the_class(open_page, live_server):
    room = httpx.post(f"{live_server}/api/v1/rooms").json()["room"]
    wrong = f"sessionStorage.setItem('bptt-room-teacher-{room}', 'not-the-token')"
    impostor = open_page(f"{live_server}/?room={room}&e=5", init_script=wrong)
    impostor.wait_for_selector("body[data-class-role=student]", timeout=30_000)
    assert room in impostor.text_content("#class-note")
    with httpx.stream("GET", f"{live_server}/api/v1/rooms/{room}/events", timeout=5) as stream:
        first = next(stream.iter_text())
    assert "event: state" not in first  # the room never received a state from that page
    refused = [e for e in impostor.errors if "403" not in e]
    assert refused == []  # only the refusal itself is logged by the browser


def test_a_student_explores_and_returns_to_the_teacher_with_one_tap(open_page, live_server):
    teacher = open_page(f"{live_server}/")
    room = start_class(teacher)
    [student] = join(open_page, live_server, room, sizes=("390",))
    student.locator("#network").click()
    student.keyboard.press("End")
    student.wait_for_selector("body[data-class-following=false]")
    assert student.is_visible("#class-back")
    teacher.locator("#network").click()
    teacher.keyboard.press("ArrowRight")
    teacher.keyboard.press("ArrowRight")
    teacher.wait_for_selector("body[data-event-index='2']")
    student.wait_for_timeout(500)
    assert student.evaluate("document.body.dataset.eventIndex") != "2"  # still exploring
    student.tap("#class-back")
    student.wait_for_selector("body[data-class-following=true][data-event-index='2']")
    assert not student.is_visible("#class-back")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_of_the_teachers_and_a_students_class_panel(open_page, live_server,
                                                                 artifacts_dir, lang, size):
    lesson, step = POLL_LESSON
    view = "&view=projector" if size == "1920" else ""
    teacher = open_page(f"{live_server}/?lang={lang}&lesson={lesson}&step={step}{view}", size)
    teacher.wait_for_selector("#lesson-panel[data-state=ready]")
    room = start_class(teacher)
    [student] = join(open_page, live_server, room, sizes=(size,), lang=lang)
    student.wait_for_selector(".lesson-question")
    student.check(".lesson-option input[value='1']")
    student.click("#lesson-reveal")
    teacher.wait_for_selector("#class-bars li[data-count='1']")
    teacher.wait_for_function("() => document.getElementById('class-qr').naturalWidth > 0")
    box = teacher.locator("#class-panel").bounding_box()
    assert box["width"] <= SIZES[size][0]  # nothing cut off at the side
    for page in (teacher, student):
        page.evaluate("window.scrollTo(0, 0)")  # the class panel, under the top bar
    teacher.screenshot(path=str(artifacts_dir / f"class-teacher-{size}-{lang}.png"))
    student.screenshot(path=str(artifacts_dir / f"class-student-{size}-{lang}.png"))
    student.locator("#network").click()
    student.keyboard.press("End")
    student.wait_for_selector("#class-back:visible")
    student.evaluate("window.scrollTo(0, 0)")
    student.screenshot(path=str(artifacts_dir / f"class-student-exploring-{size}-{lang}.png"))
    for page in (teacher, student):
        assert page.errors == []
