"""The studio embedded in another site's page: ?embed=1 and hide=, and which sites may frame it.

The flags and the framing headers are checked in-process; the browser tests put the embed in
an iframe of a course page served from another origin (its own server on another port), with
and without BPTT_FRAME_ANCESTORS naming that origin.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, start_server
from fastapi.testclient import TestClient
from proc_support import stop_server
from pydantic import ValidationError

from bptt_studio.core.settings import Settings
from bptt_studio.main import create_app
from bptt_studio.pages.embed import PANELS, embed_view

# What each panel name hides on the page: its element, found by selector.
PANEL_ELEMENTS = {"timeline": "#timeline", "network": ".stage", "equation": ".equation-wrap",
                  "accumulators": ".heatmaps-wrap", "charts": "#charts", "article": "#article"}
CHROME = [".topbar", "#controls", ".footer"]  # what embed=1 drops
SIZES = {"desktop": (1920, 1080), "laptop": (1366, 768), "phone": (390, 844)}
LANGS = ["en", "pt-BR", "ru"]


def body_tag(html: str) -> str:
    return re.search(r"<body[^>]*>", html).group(0)


@pytest.fixture
def client_with():
    """A client of the app under the given settings."""
    clients = []

    def make(**settings) -> TestClient:
        test_client = TestClient(create_app(Settings(**settings)))
        clients.append(test_client.__enter__())
        return clients[-1]

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


# ---- the flags ------------------------------------------------------------------------------


def test_panels_named_in_the_flags_are_every_panel_the_page_hides():
    assert set(PANELS) == set(PANEL_ELEMENTS)


@pytest.mark.parametrize("value", ["1", "true", "TRUE"])
def test_embed_on(value):
    assert embed_view({"embed": value}).embed


@pytest.mark.parametrize("query", [{}, {"embed": "0"}, {"embed": "false"}, {"embed": ""}])
def test_embed_off(query):
    view = embed_view(query)
    assert not view.embed and view.unknown == ()


def test_embed_value_neither_on_nor_off_is_named_and_leaves_the_page_whole():
    view = embed_view({"embed": "yes please"})
    assert not view.embed and view.unknown == ("embed=yes please",)


@pytest.mark.parametrize("panel", PANELS)
def test_hide_names_a_panel(panel):
    assert embed_view({"hide": f" {panel.upper()} "}).hidden == (panel,)


def test_hide_keeps_the_pages_order_once_each_and_names_what_is_not_a_panel():
    view = embed_view({"hide": "charts,equation,chart,charts,,sidebar"})
    assert view.hidden == ("equation", "charts")
    assert view.hide_attr == "equation charts"
    assert view.unknown == ("chart", "sidebar")


def test_embedded_page_carries_its_flags_on_body(client):
    page = client.get("/?embed=1&hide=charts,equation")
    assert page.status_code == 200
    assert body_tag(page.text) == '<body data-embed="true" data-hide="equation charts">'
    assert 'id="embed-note"' not in page.text


def test_page_without_flags_is_the_page_as_before(client):
    page = client.get("/")
    assert body_tag(page.text) == "<body>"
    assert 'id="embed-note"' not in page.text


def test_unknown_flag_is_said_on_the_page_escaped(client):
    page = client.get("/", params={"embed": "1", "hide": "charts,<img src=x>"})
    note = re.search(r'<p id="embed-note"[^>]*>', page.text).group(0)
    assert 'data-i18n="embed.unknown"' in note
    assert "<img" not in note and "\\u003cimg src=x\\u003e" in note
    assert ", ".join(PANELS) in note


# ---- who may frame the page -----------------------------------------------------------------


def test_by_default_no_site_may_frame_the_page(client):
    headers = client.get("/?embed=1").headers
    assert headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert headers["x-frame-options"] == "DENY"


def test_listed_sites_may_frame_the_page_and_no_x_frame_options_contradicts_them(client_with):
    client = client_with(frame_ancestors="https://course.example, http://localhost:8888/")
    headers = client.get("/?embed=1").headers
    assert headers["content-security-policy"].endswith(
        "frame-ancestors https://course.example http://localhost:8888")
    assert "x-frame-options" not in headers


def test_self_alone_is_sameorigin_in_x_frame_options_too(client_with):
    headers = client_with(frame_ancestors="'self'").get("/").headers
    assert headers["content-security-policy"].endswith("frame-ancestors 'self'")
    assert headers["x-frame-options"] == "SAMEORIGIN"


def test_none_alone_is_the_default(client_with):
    headers = client_with(frame_ancestors="'none'").get("/").headers
    assert headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert headers["x-frame-options"] == "DENY"


def test_the_api_docs_are_never_framed_whatever_the_setting(client_with):
    headers = client_with(frame_ancestors="*").get("/docs").headers
    assert headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("value", [
    "https://course.example; script-src *",  # another directive
    "https://course.example 'unsafe-inline'",  # another source
    "https://course.example/lessons/1",  # a page, not an origin
    "course.example",  # no scheme
    "javascript:alert(1)",
    "'none', https://course.example",  # none and a site at once
    "'unsafe-eval'",
])
def test_a_frame_ancestor_that_is_not_a_site_is_refused_by_name(value):
    with pytest.raises(ValidationError, match="is not a site that may frame the page"):
        Settings(frame_ancestors=value)


def test_serve_with_a_bad_frame_ancestor_says_so_in_one_line_and_exits_2():
    import os
    import sys

    exe = Path(sys.executable).parent / "bptt-studio"
    run = subprocess.run([str(exe), "serve", "--port", "0"], capture_output=True, text=True,
                         env={**os.environ, "BPTT_FRAME_ANCESTORS": "https://a.example; x"},
                         timeout=60, check=False)
    assert run.returncode == 2
    assert run.stderr.startswith("bptt-studio: error: bad setting: BPTT_FRAME_ANCESTORS=")
    assert len(run.stderr.strip().splitlines()) == 1


# ---- in a real browser: an iframe on another origin -----------------------------------------

COURSE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>A course</title>
<style>body {{ font-family: sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 12px; }}
iframe {{ display: block; width: 100%; height: 80vh; border: 1px solid #ccc; }}</style></head>
<body><h1>Lesson 4: backpropagation through time</h1>
<p>Step through the backward pass below; then answer the questions under it.</p>
<iframe src="{src}" title="BPTT Studio"></iframe>
<p>Question 1: which weights does the error at t = 3 reach?</p></body></html>"""


class CoursePage(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args, src: str, **kwargs):
        self.src = src
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - the handler's name is http.server's
        body = COURSE_PAGE.format(src=self.src).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def course_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def framed_server(course_port) -> Iterator[str]:
    """The app with BPTT_FRAME_ANCESTORS naming the course page's origin."""
    proc, base = start_server({"BPTT_FRAME_ANCESTORS": f"http://127.0.0.1:{course_port}"})
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.fixture
def course(course_port):
    """Serve a course page whose iframe shows a given URL, on the course's own origin."""
    servers = []

    def serve(src: str) -> str:
        handler = functools.partial(CoursePage, src=src)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", course_port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{course_port}/course.html"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def errors_of(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def studio_frame(page):
    page.wait_for_selector("iframe")
    frame = page.frame_locator("iframe")
    frame.locator("#studio[data-ready=true]").wait_for(timeout=30000)
    return frame


@pytest.mark.browser
def test_embed_is_refused_in_another_sites_frame_without_the_setting(page, live_server, course):
    # the browser refuses the frame and says why; nothing of the studio ever runs in it
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text,
                                     timeout=30000) as refusal:
        page.goto(course(f"{live_server}/?embed=1"))
    assert "frame-ancestors 'none'" in refusal.value.text
    (frame,) = page.main_frame.child_frames
    assert frame.url.startswith("chrome-error://")
    assert frame.locator("#studio").count() == 0


@pytest.mark.browser
@pytest.mark.parametrize("hidden", [("equation", "charts", "article"),
                                    ("timeline", "network", "accumulators")])
def test_embed_is_shown_in_the_listed_sites_frame_without_its_chrome(page, framed_server,
                                                                     course, hidden):
    errors = errors_of(page)
    page.goto(course(f"{framed_server}/?embed=1&hide={','.join(hidden)}&e=3"))
    frame = studio_frame(page)
    for selector in CHROME:
        assert frame.locator(selector).is_hidden(), selector
    for panel, selector in PANEL_ELEMENTS.items():
        assert frame.locator(selector).is_hidden() == (panel in hidden), panel
    assert errors == []


@pytest.mark.browser
def test_embed_steps_with_keys_in_its_frame_and_keeps_its_flags_in_its_url(page,
                                                                           framed_server,
                                                                           course):
    errors = errors_of(page)
    page.goto(course(f"{framed_server}/?embed=1&hide=charts"))
    frame = studio_frame(page)
    frame.locator("#network").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    frame.locator("body[data-event-index='2']").wait_for()
    (inner,) = page.main_frame.child_frames
    inner.wait_for_function("() => new URL(location.href).searchParams.get('e') === '2'")
    query = inner.evaluate("() => Object.fromEntries(new URL(location.href).searchParams)")
    assert query["embed"] == "1" and query["hide"] == "charts"
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_embed_fits_its_frame_at_every_size(page, framed_server, course, artifacts_dir, lang):
    errors = errors_of(page)
    page.goto(course(f"{framed_server}/?embed=1&hide=article&lang={lang}&e=9"))
    frame = studio_frame(page)
    frame.locator(f"html[lang='{lang}']").wait_for()
    (inner,) = page.main_frame.child_frames
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        # the network redraws for its panel's new width (in the next frame)
        inner.wait_for_function(
            "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame("
            "() => done(true))))")
        # nothing of the studio is wider than its frame
        overflow = inner.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, size
        page.screenshot(path=str(artifacts_dir / f"embed-{size}-{lang}.png"))
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_an_embedded_lesson_keeps_its_panel_beside_or_above_the_studio(browser, live_server,
                                                                      size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        errors = errors_of(page)
        page.goto(f"{live_server}/?embed=1&hide=charts&lesson=vanishing&step=2")
        page.locator("#lesson-panel:not([hidden])").wait_for()
        page.wait_for_selector("#studio[data-ready=true]")
        lesson = page.locator("#lesson-panel").bounding_box()
        studio = page.locator("#studio").bounding_box()
        if size == "phone":  # one column: the lesson, then the studio under it, both whole
            assert lesson["width"] >= width - 20 and studio["y"] >= lesson["y"] + lesson["height"]
        else:  # the lesson in the sidebar's column, the studio beside it
            assert studio["x"] >= lesson["x"] + lesson["width"] - 1
        assert studio["x"] + studio["width"] <= width
        assert errors == []
    finally:
        context.close()
