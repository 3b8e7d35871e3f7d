"""The notebook widget in a real JupyterLab, driven in headless Chromium.

A JupyterLab server (the dev set's) on a free loopback port serves a temporary notebook; the
test runs its cells as a student would (click, Shift+Enter), sees the widget drawn in the
cell's output, steps it with keys and buttons, moves it from Python (`w.event = 9`) and reads
back in Python the event the student stepped to (a cell writes `w.event` to a file). Nothing
is fetched from outside: the widget's JavaScript comes with the package, through the kernel.

Skipped, with the reason, where JupyterLab is not installed; a failure where REQUIRE_BROWSER=1
(CI). `make test-notebook` runs this file and test_notebook.py alone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REQUIRE_BROWSER, free_port
from proc_support import stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if importlib.util.find_spec("jupyterlab") is None or importlib.util.find_spec("anywidget") is None:
    message = ("NOTEBOOK WIDGET TEST SKIPPED: JupyterLab or anywidget is not installed (the dev "
               "set has both: make .venv/.installed-dev)")
    if REQUIRE_BROWSER:
        raise pytest.UsageError(f"REQUIRE_BROWSER=1 but {message}")
    pytest.skip(message, allow_module_level=True)

SIZES = {"desktop": (1920, 1080), "laptop": (1366, 768), "phone": (390, 844)}
LANGS = ["en", "pt-BR", "ru"]
REQUEST = {"cell": "lstm", "hidden_size": 3, "data": {"text": "machine"}}
EVENTS = 13  # of REQUEST's trace: 6 forward, 6 backward, 1 update
STARTUP_S = 120  # JupyterLab's server and page on a busy 2-core machine
# What a cell of the notebook does, by name; the notebook holds them in this order.
CELLS = {
    "show": f"from bptt_studio.notebook import Studio\nw = Studio({REQUEST!r})\nw",
    "move": "w.event = 9",
    "read": "open(EVENT_FILE, 'w').write(str(w.event))",
    **{f"lang {lang}": f"w.lang = {lang!r}" for lang in LANGS},
}
WIDGET = ".studio-widget"  # inside the widget's (open) shadow root: Playwright's CSS pierces it


def notebook(folder: Path) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{k}", "metadata": {},
              "outputs": [], "source": source} for k, source in enumerate(CELLS.values())]
    cells[0]["source"] = f"EVENT_FILE = {str(folder / 'event.txt')!r}\n" + cells[0]["source"]
    path = folder / "studio.ipynb"
    path.write_text(json.dumps({
        "cells": cells, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}}}))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """JupyterLab on a free loopback port, every folder of its own in a temp dir, no token
    (loopback only), no news or update checks; (its URL, the notebook's folder)."""
    folder = tmp_path_factory.mktemp("lab")
    notebook(folder)
    config = folder / ".config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(folder / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces"),
           "IPYTHONDIR": str(folder / ".ipython")}
    port = free_port()
    log = (folder / ".lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", "--IdentityProvider.token=",
         f"--ServerApp.root_dir={folder}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(folder / '.lab.log').read_text()}")
            try:
                if httpx.get(base + "/api/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, folder
    finally:
        stop_server(proc)
        log.close()


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    """The notebook open in JupyterLab with its kernel ready and the widget's cell run."""
    base, _ = lab
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    page.goto(f"{base}/lab/tree/studio.ipynb")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=STARTUP_S * 1000)
    # the file browser folded away (View > Show Left Sidebar): the notebook's whole width
    page.locator(".jp-Notebook").click()
    page.keyboard.press("Control+b")
    page.locator("#jp-left-stack").wait_for(state="hidden")
    run_cell(page, "show")
    page.locator(f"{WIDGET}[data-ready=true]").wait_for(timeout=60_000)
    yield page
    context.close()


def run_cell(page, name: str) -> None:
    """Run one cell of the notebook as a student does: click into it, Shift+Enter."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(list(CELLS).index(name))
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def shown_event(page) -> int:
    return int(page.locator(WIDGET).get_attribute("data-event-index"))


def wait_event(page, i: int) -> None:
    page.locator(f"{WIDGET}[data-event-index='{i}']").wait_for(timeout=30_000)


def start_at_first_event(page) -> None:
    page.locator(f"{WIDGET} #network").click()
    page.keyboard.press("Home")
    wait_event(page, 0)


def read_back(page, folder: Path) -> int:
    """The widget's event as Python sees it: a cell writes w.event to a file."""
    answer = folder / "event.txt"
    answer.unlink(missing_ok=True)
    run_cell(page, "read")
    deadline = time.monotonic() + 60
    while not answer.exists() or not answer.read_text():
        assert time.monotonic() < deadline, "the kernel never wrote the event"
        time.sleep(0.1)
    return int(answer.read_text())


def test_widget_is_drawn_in_the_cells_output(lab_page):
    output = lab_page.locator(".jp-OutputArea-output").first
    assert output.locator(f"{WIDGET} #network svg").count() >= 1
    assert output.locator(f"{WIDGET} #equation math").count() >= 1
    assert output.locator(f"{WIDGET} #heatmaps .hm-card").count() >= 1
    assert output.locator(f"{WIDGET} #tl-status").inner_text().startswith(f"Event 1 of {EVENTS}")
    assert "{" not in output.locator(WIDGET).inner_text()  # every placeholder filled in
    assert lab_page.errors == []


def test_nothing_is_fetched_but_from_jupyterlab_and_the_widgets_own_modules(lab_page, lab):
    base, _ = lab
    schemes = {url.split(":", 1)[0] for url in lab_page.requested}
    assert schemes <= {"http", "ws", "blob", "data"}, schemes
    elsewhere = [u for u in lab_page.requested
                 if u.startswith(("http:", "ws:")) and not u.split("//", 1)[1].startswith(
                     base.split("//", 1)[1] + "/")]
    assert elsewhere == []
    # the page's modules ran from blob: URLs made in the browser, never from a server
    assert any(u.startswith("blob:") for u in lab_page.requested)
    assert not [u for u in lab_page.requested if "/static/js/" in u and "network.js" in u]


def test_keys_step_the_widget(lab_page):
    start_at_first_event(lab_page)
    lab_page.keyboard.press("ArrowRight")
    lab_page.keyboard.press("ArrowRight")
    wait_event(lab_page, 2)
    assert lab_page.locator(f"{WIDGET} #tl-status").inner_text().startswith(f"Event 3 of {EVENTS}")
    lab_page.keyboard.press("End")
    wait_event(lab_page, EVENTS - 1)
    lab_page.keyboard.press("ArrowLeft")
    wait_event(lab_page, EVENTS - 2)
    assert lab_page.errors == []


def test_keys_outside_the_widget_leave_it_alone(lab_page):
    start_at_first_event(lab_page)
    lab_page.locator(".jp-Notebook .jp-Cell").nth(list(CELLS).index("move")).locator(
        ".jp-InputArea-prompt").click()  # the notebook has the keys now (command mode)
    lab_page.keyboard.press("ArrowRight")
    lab_page.keyboard.press("End")
    assert shown_event(lab_page) == 0


def test_focus_on_the_current_node_follows_the_step(lab_page):
    """Keyboard users keep their place: the focused node moves with the event, as on the page
    (inside the widget's shadow root, where document.activeElement is only its host)."""
    start_at_first_event(lab_page)
    lab_page.locator(f"{WIDGET} #node-h-1").focus()
    lab_page.keyboard.press("ArrowRight")
    wait_event(lab_page, 1)
    focused = lab_page.evaluate(
        "() => document.querySelector('.bptt-studio-host').shadowRoot.activeElement?.id")
    assert focused == "node-h-2"


def test_buttons_step_the_widget(lab_page):
    start_at_first_event(lab_page)
    lab_page.locator(f"{WIDGET} #tl-forward").click()
    wait_event(lab_page, 1)
    lab_page.locator(f"{WIDGET} #tl-last").click()
    wait_event(lab_page, EVENTS - 1)
    assert lab_page.locator(f"{WIDGET} #tl-forward").is_disabled()


def test_python_moves_the_widget(lab_page):
    start_at_first_event(lab_page)
    run_cell(lab_page, "move")  # w.event = 9
    wait_event(lab_page, 9)
    status = lab_page.locator(f"{WIDGET} #tl-status").inner_text()
    assert status.startswith(f"Event 10 of {EVENTS}") and "backward" in status


def test_python_reads_the_event_the_student_stepped_to(lab_page, lab):
    _, folder = lab
    start_at_first_event(lab_page)
    for _ in range(4):
        lab_page.keyboard.press("ArrowRight")
    wait_event(lab_page, 4)
    assert read_back(lab_page, folder) == 4
    lab_page.locator(f"{WIDGET} #tl-back").click()
    wait_event(lab_page, 3)
    assert read_back(lab_page, folder) == 3


def test_a_node_hovered_shows_its_numbers_beside_it(lab_page):
    start_at_first_event(lab_page)
    node = lab_page.locator(f"{WIDGET} #node-h-1")
    node.scroll_into_view_if_needed()
    node.hover()
    tooltip = lab_page.locator(f"{WIDGET} #tooltip")
    tooltip.wait_for()
    assert tooltip.inner_text().startswith("h(1)")
    # within a few pixels of the node's drawing (its group's box holds a stroke more)
    at, box = node.bounding_box(), tooltip.bounding_box()
    right_of_it = abs(box["x"] - (at["x"] + at["width"] + 8)) <= 6
    left_of_it = abs(box["x"] + box["width"] + 8 - at["x"]) <= 6
    assert (right_of_it or left_of_it) and abs(box["y"] - at["y"]) <= 6, (at, box)


@pytest.mark.parametrize("lang", LANGS)
def test_widget_speaks_the_language_python_sets(lab_page, artifacts_dir, lang):
    run_cell(lab_page, f"lang {lang}")
    lab_page.locator(f"{WIDGET}[lang='{lang}']").wait_for(timeout=30_000)
    catalogue = Path(__file__).resolve().parent.parent / "static" / "js" / "i18n" / f"{lang}.js"
    title = next(line.split('": "', 1)[1].rstrip('",') for line in
                 catalogue.read_text(encoding="utf-8").splitlines()
                 if line.strip().startswith('"eq.title"'))
    assert lab_page.locator(f"{WIDGET} #eq-title").inner_text() == title
    lab_page.locator(f"{WIDGET} #network").click()
    lab_page.keyboard.press("Home")
    for _ in range(9):
        lab_page.keyboard.press("ArrowRight")
    wait_event(lab_page, 9)
    lab_page.mouse.move(0, 0)  # no tooltip over the picture
    for size, (width, height) in SIZES.items():
        lab_page.set_viewport_size({"width": width, "height": height})
        lab_page.locator(f"{WIDGET} #timeline").scroll_into_view_if_needed()
        lab_page.wait_for_timeout(300)  # the network redraws for its panel's new width
        lab_page.screenshot(path=str(artifacts_dir / f"notebook-{size}-{lang}.png"))
    lab_page.set_viewport_size({"width": 1366, "height": 900})
    assert lab_page.errors == []
