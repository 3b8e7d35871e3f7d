"""Shared fixtures: an in-process API client, a real uvicorn server, and the system Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from fastapi.testclient import TestClient
from proc_support import stop_server

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NO_BROWSER_MESSAGE = (
    "BROWSER TESTS SKIPPED: no Chromium on PATH. Install it with "
    "`sudo apt-get install -y chromium` (Debian) and run `make test` again."
)


def uses_browser(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return "browser" in item.keywords or bool({"browser", "page", "context"} & set(fixtures))


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker: every browser test is marked
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in the main thread once the first
    # browser test has run, and every anyio test after it would fail with "Cannot run the
    # event loop while another loop is running": the browser tests run last (and `make test`
    # runs them in a pytest of their own, `-m browser`).
    items.sort(key=uses_browser)
    browser_items = [item for item in items if uses_browser(item)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if CHROMIUM or not browser_items:
        return
    if REQUIRE_BROWSER:
        # CI sets REQUIRE_BROWSER=1: a missing browser is a failure there, never a silent skip.
        message = f"REQUIRE_BROWSER=1 but no `chromium` on PATH. {NO_BROWSER_MESSAGE}"
        raise pytest.UsageError(message)
    sys.stderr.write("\n" + "!" * 8 + " " + NO_BROWSER_MESSAGE + "\n")
    skip = pytest.mark.skip(reason=NO_BROWSER_MESSAGE)
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture
def client() -> Iterator[TestClient]:
    """In-process client for the ASGI app; requests run the real middleware stack."""
    from bptt_studio.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Return once ``base`` answers /api/v1/health; RuntimeError if ``proc`` exits first or
    ``seconds`` pass (the tests, the benchmarks and the load-balancer run wait this way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{base} exited with code {proc.returncode}")
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not answer /api/v1/health within {seconds:g} s")


def serve(exe: Path, *, env: dict[str, str], cwd: Path, timeout_s: float = 30,
          output: int | IO[bytes] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`exe serve` (a bptt-studio console script) on a free loopback port, once it answers
    /api/v1/health; the tests, the package test and the benchmarks all start it this way."""
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=cwd, start_new_session=True, stdout=output,
        stderr=None if output is None else subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, timeout_s)
    except RuntimeError:
        stop_server(proc)
        raise
    return proc, base


def start_server(env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the app as `make run` does (the bptt-studio console script) on a free port."""
    env = {**os.environ, "HOST": "127.0.0.1", **(env_extra or {})}
    return serve(Path(sys.executable).parent / "bptt-studio", env=env, cwd=ROOT)


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    proc, base = start_server()
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def shared_context(browser, browser_context_args: dict) -> Iterator[object]:
    """One browser context for the session's `page`s (pytest-playwright makes one per test).
    A test still gets a page of its own: a new tab, closed after it with every other tab the
    test opened. The page keeps nothing across tests: it keeps no cookie or localStorage, and
    sessionStorage belongs to the tab. What the tabs share is the HTTP cache (the studio's
    modules answered by an ETag), so opening the studio is cheaper."""
    context = browser.new_context(**browser_context_args)
    yield context
    context.close()


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[object]:
    """A new tab of the shared context; a test that also asks for pytest-playwright's
    `context` (to catch its pop-ups, or open a second tab) gets that fresh context's page."""
    if "context" in request.fixturenames:
        yield request.getfixturevalue("context").new_page()
        return
    context = request.getfixturevalue("shared_context")
    tab = context.new_page()
    yield tab
    for opened in context.pages:
        opened.close()


@pytest.fixture
def console_errors(page) -> list[str]:  # noqa: ANN001 - pytest-playwright's Page
    """Every console error and uncaught page error; a browser test asserts it stays empty."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    """A real redis-server for the session (tests/redis_support.py); each test that uses it
    through ``redis_url`` starts from an empty database."""
    from redis_support import NO_REDIS, RedisServer, have_redis

    if not have_redis():
        if os.environ.get("CI") or REQUIRE_BROWSER:
            raise pytest.UsageError(NO_REDIS)
        pytest.skip(NO_REDIS)
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:  # noqa: ANN001 - redis_support.RedisServer
    redis_server.flush()
    return redis_server.url


# The three screen sizes every page is looked at in: a desktop, a laptop, a phone.
SIZES = {"desktop": (1920, 1080), "laptop": (1366, 768), "phone": (390, 844)}


@pytest.fixture
def sized(browser):
    """A page of a given size (and options); every console error of it is collected."""
    contexts = []

    def make(size: str, **options):
        width, height = SIZES[size]
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
