"""The sentence example says why the context before the blank matters, in a real browser: one
sentence where the example is described, and the error-flow chart pointing at the last word's
row, its axes naming the words."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LANGS = ["en", "pt-BR", "ru"]
WORDS = ["Matias", "tinha", "um", "cachorro", "e", "ele", "gostava", "de", "beber", "água"]


def open_studio(page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)


def draw_error_flow(page) -> dict:
    page.locator("#box-error-flow").scroll_into_view_if_needed()
    page.locator("#box-error-flow").hover()  # pointed at: drawn at once
    page.wait_for_selector("#charts[data-ready=true]", timeout=60_000)
    return page.evaluate("""() => {
        const l = document.getElementById('chart-error-flow').layout;
        return {x: l.xaxis.ticktext || null, y: l.yaxis.ticktext || null,
                notes: (l.annotations || []).map((a) => a.text),
                rows: (l.shapes || []).filter((s) => s.type === 'rect').map((s) => [s.y0, s.y1])};
    }""")


@pytest.mark.parametrize("lang", LANGS)
def test_the_example_says_why_the_words_before_the_blank_matter(page, live_server,
                                                                console_errors, lang):
    open_studio(page, live_server, f"preset=sentence&lang={lang}")
    said = page.inner_text("#preset-desc")
    key = "preset.sentence.description"
    assert said == page.evaluate(f"import('/static/js/text/i18n.js').then((m) => m.t('{key}'))")
    assert " ".join(WORDS) in said  # the sentence itself is shown
    assert said.count(".") <= 1  # one sentence
    assert "água" in said and "beber" in said
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_error_flow_points_at_the_last_words_row(page, live_server, console_errors, lang):
    open_studio(page, live_server, f"preset=sentence&lang={lang}")
    chart = draw_error_flow(page)
    T = len(WORDS) - 1
    assert chart["x"] == [f"{k} {w}" for k, w in enumerate(WORDS[:-1], start=1)]
    assert chart["y"] == [f"{t} {w}" for t, w in enumerate(WORDS[1:], start=1)]
    assert [T - 0.5, T + 0.5] in chart["rows"]
    assert len(chart["notes"]) == 1 and "água" in chart["notes"][0]
    assert console_errors == []


def test_characters_keep_the_plain_error_flow(page, live_server, console_errors):
    open_studio(page, live_server, "preset=machine")
    chart = draw_error_flow(page)
    assert chart["x"] is None and chart["notes"] == [] and chart["rows"] == []
    assert console_errors == []
