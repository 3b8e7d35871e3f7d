"""Numbers typed into the data box, in a real browser: read by the rule of the page's language
(a decimal comma in pt-BR and ru), the rule written under the box, and what could be read two
ways refused with a message that names it (static/js/text/numbers.js, docs/DESIGN.md)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LANGS = ["en", "pt-BR", "ru"]
DECIMAL_COMMA_LANGS = ["pt-BR", "ru"]

# (language, typed, the series it is) for everything the rule reads
READ = [
    ("pt-BR", "1,5; 2,5; 3,5; 4,5", [1.5, 2.5, 3.5, 4.5]),
    ("ru", "1,5; 2,5; 3,5; 4,5", [1.5, 2.5, 3.5, 4.5]),
    ("pt-BR", "1,5 2,5 −3,5", [1.5, 2.5, -3.5]),
    ("ru", "2, 4, 6, 8", [2, 4, 6, 8]),
    ("pt-BR", "0.5; 1.5", [0.5, 1.5]),
    ("en", "2, 4, 6, 8, 10", [2, 4, 6, 8, 10]),
    ("en", "1.5 2.5;3.5", [1.5, 2.5, 3.5]),
]
# (language, typed, the entry the refusal names)
AMBIGUOUS = [
    ("pt-BR", "1,5,2; 3", "1,5,2"),
    ("ru", "1.000,5; 2", "1.000,5"),
    ("en", "1,5; 2,5; 3,5", "1,5"),
]


def open_studio(page, base: str, lang: str, query: str = "preset=series") -> None:
    page.goto(f"{base}/?{query}&lang={lang}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)


def type_series(page, text: str) -> None:
    page.select_option("#ctl-data-kind", "series")
    page.fill("#ctl-data", text)
    page.press("#ctl-data", "Enter")


def catalogue(page, key: str, args: dict | None = None) -> str:
    return page.evaluate("([k, a]) => import('/static/js/text/i18n.js').then((m) => m.t(k, a))",
                         [key, args or {}])


def shown_series(page) -> list[float]:
    page.wait_for_function("() => !document.body.dataset.loading")
    return page.evaluate("window.bpttStudio.trace.config.data.series")


@pytest.mark.parametrize(("lang", "typed", "series"), READ)
def test_typed_numbers_are_read_by_the_rule_of_the_language(page, live_server, console_errors,
                                                            lang, typed, series):
    open_studio(page, live_server, lang)
    type_series(page, typed)
    page.wait_for_function(
        "(n) => window.bpttStudio.trace.config.data.series?.length === n", arg=len(series))
    assert shown_series(page) == series
    assert page.locator("#err-data").is_hidden()
    assert console_errors == []


@pytest.mark.parametrize(("lang", "typed", "entry"), AMBIGUOUS)
def test_what_could_be_read_two_ways_is_refused_naming_it(page, live_server, console_errors,
                                                          lang, typed, entry):
    open_studio(page, live_server, lang)
    before = page.evaluate("JSON.stringify(window.bpttStudio.trace.config.data)")
    type_series(page, typed)
    error = page.locator("#err-data")
    error.wait_for(state="visible")
    assert error.inner_text() == catalogue(page, "error.seriesAmbiguous", {"entry": entry})
    assert entry in error.inner_text()
    assert page.get_attribute("#ctl-data", "aria-invalid") == "true"
    page.wait_for_timeout(300)
    assert page.evaluate("JSON.stringify(window.bpttStudio.trace.config.data)") == before
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_rule_is_written_under_the_box_while_it_takes_numbers(page, live_server,
                                                                   console_errors, lang):
    open_studio(page, live_server, lang, "preset=machine")
    rule = page.locator("#data-rule")
    assert rule.is_hidden()  # characters: the box takes any text
    page.select_option("#ctl-data-kind", "series")
    assert rule.is_visible()
    assert rule.inner_text() == catalogue(page, "ctl.data.seriesRule")
    described = page.get_attribute("#ctl-data", "aria-describedby").split()
    assert "data-rule" in described
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_box_shows_a_series_as_its_rule_reads_it_back(page, live_server, console_errors,
                                                          lang):
    open_studio(page, live_server, lang, "series=1.5,-2.25,3")
    text = page.input_value("#ctl-data")
    if lang in DECIMAL_COMMA_LANGS:
        assert text == "1,5; -2,25; 3"
    else:
        assert text == "1.5, -2.25, 3"
    page.press("#ctl-data", "Enter")
    page.wait_for_timeout(300)
    assert shown_series(page) == [1.5, -2.25, 3]
    assert page.locator("#err-data").is_hidden()
    assert console_errors == []
