"""Formulas as a class reads them, in a real browser: a difference among the factors of a
product keeps its brackets (the neuron view), the prime of φ′ is seen, the LSTM's cell-error
line writes both of its terms' numbers, and a vector of numbers copies and reads aloud with
separators between its numbers while looking as it did."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.browser

NOTATIONS = ["goodfellow", "d2l", "coursera", "haykin"]
GATED = ["lstm", "gru"]
NUMBER = r"[−-]?(\d+(\.\d+)?(e[−-]?\d+)?|—)"
VECTOR_TEXT = re.compile(rf"^\[{NUMBER}(, {NUMBER})*…?\]T$")


def open_page(page, base: str, query: str) -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=20_000)


def top_level_difference(text: str) -> bool:
    """A ' − ' or ' + ' outside every bracket: a sum or a difference written bare."""
    depth = 0
    for k, ch in enumerate(text):
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if depth == 0 and ch in "−+" and text[k - 1:k] == " " and text[k + 1:k + 2] == " ":
            return True
    return False


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("cell", GATED)
def test_a_difference_among_the_factors_of_a_product_keeps_its_brackets(
        page, live_server, console_errors, cell, notation):
    open_page(page, live_server, f"cell={cell}&e=9&unit=1&nota={notation}")
    page.wait_for_selector("#neuron[data-state=ready]")
    factors = page.eval_on_selector_all(
        "#neuron [data-op=product] > .nv-line > .nv-part",
        "(parts) => parts.filter((p) => p.parentElement.querySelectorAll(':scope > .nv-part')"
        ".length > 1).map((p) => p.textContent)")
    assert factors  # the view has products of several factors
    assert [f for f in factors if top_level_difference(f)] == []
    if cell == "lstm":
        assert any(f.startswith("(1 − tanh²") for f in factors)
    assert console_errors == []


@pytest.mark.parametrize("notation", NOTATIONS)
def test_the_prime_of_the_activation_is_written_full_size(page, live_server, console_errors,
                                                          notation):
    open_page(page, live_server, f"e=9&nota={notation}")
    prime = page.evaluate("""() => {
        const mo = [...document.querySelectorAll('#equation mo')]
            .find((el) => el.textContent === '′');
        const name = mo.previousElementSibling;
        const size = (el) => parseFloat(getComputedStyle(el).fontSize);
        return {inScript: Boolean(mo.closest('msup, msub, msubsup')), name: name.textContent,
                ratio: size(mo) / size(name)};
    }""")
    assert prime["name"] == "tanh"
    assert not prime["inScript"]  # a superscript shrank it to a speck
    assert prime["ratio"] > 1  # a little larger than the name: the glyph itself is slight
    assert console_errors == []


@pytest.mark.parametrize("notation", NOTATIONS)
def test_the_cell_error_line_writes_the_numbers_of_both_its_terms(page, live_server,
                                                                  console_errors, notation):
    open_page(page, live_server, f"cell=lstm&e=9&nota={notation}")
    text = page.locator("#equation [data-eq=dc]").inner_text()
    assert "…" not in text
    trace = httpx.post(f"{live_server}/api/v1/trace", json={
        "cell": "lstm", "data": {"preset": "machine"}, "detail": "full"}, timeout=30).json()
    t = page.evaluate("Number(document.getElementById('equation').dataset.t)")
    event = next(e for e in trace["events"] if e["kind"] == "backward" and e["t"] == t)
    sign = -1 if notation == "haykin" else 1  # Haykin's errors: the opposite sign
    shown = page.eval_on_selector_all("#equation [data-field=dc_from_h]",
                                      "(els) => els.map((el) => Number(el.dataset.value))")
    assert shown == [sign * v for v in event["dc_from_h"]]
    assert console_errors == []


def vector_texts(copied: str) -> list[str]:
    return re.findall(r"\[[^\[\]]*\]T", copied)


@pytest.mark.parametrize("query", ["e=9", "cell=lstm&e=9", "cell=gru&e=3"])
def test_a_vector_copies_with_separators_between_its_numbers(page, live_server, console_errors,
                                                             query):
    open_page(page, live_server, query)
    copied = page.evaluate("""() => {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById('equation'));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return selection.toString();
    }""")
    vectors = vector_texts(copied)
    assert len(vectors) >= 3
    assert [v for v in vectors if not VECTOR_TEXT.match(v)] == []
    assert console_errors == []


def read_aloud(page, selector: str) -> str:
    """The text a screen reader reads in `selector`: the accessibility tree's text leaves under
    it, in order, joined as they are (inline text is read as one run, without added spaces)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("Accessibility.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    backend = cdp.send("DOM.describeNode", {"nodeId": node})["node"]["backendNodeId"]
    tree = cdp.send("Accessibility.getFullAXTree")["nodes"]
    by_id = {n["nodeId"]: n for n in tree}
    start = next(n for n in tree if n.get("backendDOMNodeId") == backend)

    def texts(n: dict) -> list[str]:
        if n.get("role", {}).get("value") in ("StaticText", "InlineTextBox"):
            return [n.get("name", {}).get("value", "")] if n["role"]["value"] == "StaticText" \
                else []
        return [t for c in n.get("childIds", []) if c in by_id for t in texts(by_id[c])]

    return "".join(texts(start))


def test_a_vector_reads_aloud_with_separators_between_its_numbers(page, live_server,
                                                                  console_errors):
    open_page(page, live_server, "e=9")
    numbers = page.eval_on_selector(
        "#equation .vec", "(v) => [...v.querySelectorAll('.num')].map((el) => el.textContent)")
    assert len(numbers) > 2
    assert ", ".join(numbers) in read_aloud(page, "#equation")
    assert console_errors == []


def test_the_separators_take_no_room(page, live_server, console_errors):
    open_page(page, live_server, "e=9")
    widths = page.eval_on_selector_all(
        "#equation .vec .sep", "(els) => els.map((el) => el.getBoundingClientRect().width)")
    assert widths and max(widths) == 0
    gaps = page.evaluate("""() => {
        const nums = [...document.querySelectorAll('#equation .vec')][0].querySelectorAll('.num');
        const box = (el) => {  // where the digits are drawn (the padding is the gap)
            const range = document.createRange();
            range.selectNodeContents(el);
            return range.getBoundingClientRect();
        };
        return [...nums].slice(1).map((el, k) => box(el).left - box(nums[k]).right);
    }""")
    assert min(gaps) > 2  # numbers stay apart on screen as before (0.35 em)
    assert console_errors == []
