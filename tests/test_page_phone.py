"""A phone reaches the settings from the first screen, in a real browser. In one column (a phone,
a narrow window) the controls come after the studio, thousands of pixels down; the top bar's
Settings button brings them up under it, and folds them away again. (The projector view stays
off phones, by design: it is for a classroom's screen.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LANGS = ["en", "pt-BR", "ru"]
ONE_COLUMN = [(390, 844), (800, 1000)]
TWO_COLUMNS = [(1366, 768), (1920, 1080)]


def open_studio(page, base: str, lang: str, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{base}/?lang={lang}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)


def in_first_screen(page, selector: str) -> bool:
    return page.eval_on_selector(selector, """(el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight
            && r.left >= 0 && r.right <= window.innerWidth;
    }""")


@pytest.mark.parametrize("size", ONE_COLUMN)
@pytest.mark.parametrize("lang", LANGS)
def test_settings_are_one_press_away_on_the_first_screen(page, live_server, console_errors,
                                                         lang, size):
    open_studio(page, live_server, lang, size)
    button = page.locator("#btn-controls")
    assert button.is_visible() and in_first_screen(page, "#btn-controls")
    assert not in_first_screen(page, "#ctl-preset")  # the studio comes first
    label = page.evaluate("import('/static/js/text/i18n.js').then((m) => m.t('view.controls'))")
    assert button.inner_text() == label
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert in_first_screen(page, "#ctl-preset")
    assert page.evaluate("document.activeElement.id") == "ctl-preset"
    assert in_first_screen(page, "#btn-controls")  # and the way back with it
    button.click()
    assert button.get_attribute("aria-expanded") == "false"
    assert not in_first_screen(page, "#ctl-preset")
    assert console_errors == []


@pytest.mark.parametrize("size", ONE_COLUMN)
def test_the_settings_stay_open_while_the_top_bar_is_used(page, live_server, console_errors,
                                                          size):
    open_studio(page, live_server, "en", size)
    page.click("#btn-controls")
    page.select_option("#ctl-lang", "pt-BR")
    page.wait_for_function("() => document.documentElement.lang === 'pt-BR'")
    assert page.get_attribute("#btn-controls", "aria-expanded") == "true"
    assert in_first_screen(page, "#ctl-preset")
    assert console_errors == []


@pytest.mark.parametrize("size", TWO_COLUMNS)
def test_beside_the_studio_the_settings_need_no_button(page, live_server, console_errors, size):
    open_studio(page, live_server, "en", size)
    assert page.locator("#btn-controls").is_hidden()
    assert in_first_screen(page, "#ctl-preset")
    assert console_errors == []
