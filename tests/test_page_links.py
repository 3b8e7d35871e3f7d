"""Links in a real browser: a link the page could write opens as written; a link it could not
write (hand-edited, cut short) opens with the nearest scenario the API takes and says, in the
page's language, what it changed (static/js/controls/repair.js)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

# Chromium logs every 4xx answer to fetch() as a console error: the refused first request is one.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

LANGS = ["en", "pt-BR", "ru"]
# (query, the control whose label the message names, the value the page opens with there)
UNWRITABLE = [
    ("cell=lstm&clip=norm", "ctl.clipMax", ("#ctl-clip-max", "1")),
    ("H=1000", "ctl.hidden", ("#ctl-hidden", "64")),
    ("H=0", "ctl.hidden", ("#ctl-hidden", "1")),
    ("k1=0", "ctl.k1", ("#ctl-k1", "1")),
    ("cell=cnn", "ctl.cell", ("#ctl-cell", "rnn")),
    ("opt=adam&lr=-1", "ctl.lr", ("#ctl-lr", "0.1")),
]


def open_link(page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)


def catalogue(page, key: str) -> str:
    return page.evaluate("(k) => import('/static/js/text/i18n.js').then((m) => m.t(k))", key)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("query", "label", "shown"), UNWRITABLE)
def test_a_link_the_page_could_not_write_opens_nearby_and_says_what_changed(
        page, live_server, console_errors, query, label, shown, lang):
    open_link(page, live_server, f"{query}&lang={lang}")
    assert page.locator("#network-svg").is_visible()  # a studio, not "Nothing to show yet"
    assert page.locator("#network .empty").count() == 0
    selector, value = shown
    assert page.input_value(selector) == value
    message = page.locator("#status-link")
    assert message.is_visible()
    said = message.inner_text()
    intro = catalogue(page, "link.repaired").split("{changes}")[0].strip()
    assert said.startswith(intro)
    assert re.sub(r"\s*[=:]\s*$", "", catalogue(page, label)) in said
    assert page.locator(".field-error:visible").count() == 0  # no refusal left standing
    assert [e for e in console_errors if not EXPECTED_4XX.search(e)] == []


def test_the_opened_link_is_the_one_the_page_writes_after(page, live_server, console_errors):
    open_link(page, live_server, "cell=lstm&clip=norm")
    page.wait_for_function("() => location.search.includes('cmax=1')")
    assert "clip=norm" in page.evaluate("location.search")


@pytest.mark.parametrize("query", ["cell=lstm&clip=norm&cmax=1", "H=64", "k1=1", "cell=gru"])
def test_a_link_the_page_could_write_opens_as_written_without_a_message(
        page, live_server, console_errors, query):
    open_link(page, live_server, query)
    assert page.locator("#network-svg").is_visible()
    assert page.locator("#status-link").is_hidden()
    assert console_errors == []


def test_the_note_follows_the_language_and_goes_with_the_next_change(page, live_server,
                                                                       console_errors):
    open_link(page, live_server, "H=1000")
    note = page.locator("#status-link")
    page.select_option("#ctl-lang", "ru")
    page.wait_for_function("() => document.documentElement.lang === 'ru'")
    assert note.inner_text().startswith(catalogue(page, "link.repaired").split("{")[0].strip())
    page.fill("#ctl-hidden", "5")
    page.press("#ctl-hidden", "Enter")
    page.wait_for_function("() => location.search.includes('H=5')")
    assert note.is_hidden()
