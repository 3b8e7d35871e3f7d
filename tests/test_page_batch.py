"""A mini-batch on the page, in a real browser: typed one sequence per line, the example
selector (shown only for a batch) switching every view of one sequence to that example's
events, the stepping walking them and the update events, the whole batch's shares and their
sum at an update, the endpoints that read one sequence said so without asking, and a link
that reproduces it (static/js/views/batch.js, static/js/state/trace.js)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import SIZES

pytestmark = pytest.mark.browser

# Chromium logs every 4xx answer to fetch() as a console error: a refused batch is one.
EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")
LANGS = ["en", "pt-BR", "ru"]
WORDS = ["abcde", "bcdea", "cdeab"]
BATCH = {"data": {"batch": [{"text": w} for w in WORDS]}, "hidden_size": 3, "reduction": "mean"}


def open_studio(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/?{query}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.wait_for_function("() => document.body.dataset.traceReady === 'true'"
                           " && !document.body.dataset.loading")


def batch_query(extra: str = "") -> str:
    data = quote(json.dumps(BATCH["data"], separators=(",", ":")))
    return f"data={data}&H=3&red=mean{extra}"


def api_trace(base: str) -> dict:
    request = {**BATCH, "detail": "full", "spectral_radii": True}
    return httpx.post(f"{base}/api/v1/trace", json=request, timeout=30).json()


def catalogue(page, key: str, args: dict | None = None) -> str:
    return page.evaluate("([k, a]) => import('/static/js/text/i18n.js').then((m) => m.t(k, a))",
                         [key, args or {}])


def settled(page) -> None:
    page.wait_for_function("() => !document.body.dataset.loading")


def shown_event(page) -> dict:
    return page.evaluate("window.bpttStudio.event")


def type_batch(page, lines: list[str], kind: str = "text") -> None:
    page.select_option("#ctl-data-kind", kind)
    page.fill("#ctl-data", "\n".join(lines))
    page.press("#ctl-data", "Enter")


def test_lines_typed_in_the_box_make_a_batch_and_the_selector_appears(page, live_server,
                                                                       console_errors):
    open_studio(page, live_server, "preset=machine")
    assert page.locator("#batch").is_hidden()  # one sequence: no selector
    assert page.locator("#batch-rule").inner_text() == catalogue(page, "ctl.data.batchRule")
    type_batch(page, WORDS)
    page.wait_for_function("() => document.body.dataset.batch === '3'")
    settled(page)
    assert page.evaluate("window.bpttStudio.trace.config.data") == {
        "batch": [{"text": w} for w in WORDS]}
    assert page.locator("#batch").is_visible()
    options = page.locator("#batch-example option").all_inner_texts()
    assert options == [catalogue(page, "batch.of", {"k": k, "n": 3}) for k in (1, 2, 3)]
    # the box shows the batch back, one sequence per line
    assert page.input_value("#ctl-data") == "\n".join(WORDS)
    # one line again: one sequence, and the selector goes
    type_batch(page, ["machine"])
    page.wait_for_function("() => document.body.dataset.batch === '0'")
    assert page.locator("#batch").is_hidden()
    assert console_errors == []


def test_a_batch_of_numbers_by_the_rule_of_the_language(page, live_server, console_errors):
    open_studio(page, live_server, "preset=machine&lang=pt-BR")
    type_batch(page, ["1,5; 2; 3", "4; 5; 6,5"], kind="series")
    page.wait_for_function("() => document.body.dataset.batch === '2'")
    settled(page)
    assert page.evaluate("window.bpttStudio.trace.config.data") == {
        "batch": [{"series": [1.5, 2, 3]}, {"series": [4, 5, 6.5]}]}
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_sequences_of_different_lengths_are_refused_with_the_apis_message(page, live_server,
                                                                         console_errors, lang):
    open_studio(page, live_server, f"preset=machine&lang={lang}")
    type_batch(page, ["abcd", "abc"])
    error = page.locator("#err-data")
    error.wait_for(state="visible")
    assert catalogue(page, "error.rejected") in error.inner_text()
    # the API's own words, beside the box (folded under a summary outside English)
    detail = page.eval_on_selector("#err-data .err-detail", "e => e.textContent")
    assert "same length" in detail
    assert page.get_attribute("#ctl-data", "aria-invalid") == "true"
    assert all(EXPECTED_4XX.search(m) for m in console_errors), console_errors


def test_the_selector_switches_the_grid_and_the_equation_to_the_examples_numbers(
        page, live_server, console_errors):
    trace = api_trace(live_server)
    open_studio(page, live_server, batch_query())
    for example in (0, 2, 1):
        page.select_option("#batch-example", str(example))
        page.wait_for_function("(e) => window.bpttStudio.index.example === e", arg=example)
        # the grid's inputs are the example's tokens
        page.evaluate("window.bpttStudio.goTo({kind: 'forward', t: 2})")
        settled(page)
        assert page.locator("#node-x-1 text").first.text_content() == WORDS[example][0]
        assert page.locator("#node-x-2 text").first.text_content() == WORDS[example][1]
        # the equation's numbers are the API's, of this example's forward step at t = 2
        event = shown_event(page)
        api_event = next(e for e in trace["events"] if e["kind"] == "forward"
                         and e["t"] == 2 and e.get("example") == example)
        assert event["example"] == example and event["h"] == api_event["h"]
        shown_h = page.eval_on_selector_all('#equation [data-field="h"][data-index]',
                                            "ms => ms.map((m) => Number(m.dataset.value))")
        assert shown_h == api_event["h"]
        # a backward step's error too
        page.evaluate("window.bpttStudio.goTo({kind: 'backward', t: 3})")
        api_back = next(e for e in trace["events"] if e["kind"] == "backward"
                        and e["t"] == 3 and e.get("example") == example)
        assert shown_event(page)["dh"] == api_back["dh"]
        # the loss chart's step losses are the example's
        assert page.evaluate("window.bpttStudio.index.trace.step_losses") == \
            trace["step_losses"][example]
    assert console_errors == []


def test_stepping_walks_the_examples_events_and_the_updates(page, live_server, console_errors):
    trace = api_trace(live_server)
    open_studio(page, live_server, batch_query("&ex=2"))
    assert page.input_value("#batch-example") == "1"
    page.locator("#tl-forward").wait_for()
    walked = [shown_event(page)]
    expected = [e for e in trace["events"] if e["kind"] == "update" or e.get("example") == 1]
    page.click("#network")
    for k in range(1, len(expected)):
        # the keys, then the button, step through the example's events
        if k % 2:
            page.keyboard.press("ArrowRight")
        else:
            page.click("#tl-forward")
        page.wait_for_function("(k) => document.body.dataset.eventIndex === String(k)", arg=k)
        walked.append(shown_event(page))
    assert page.evaluate("window.bpttStudio.index.events.length") == len(expected)
    assert [(e["kind"], e["t"], e.get("example")) for e in walked] == \
        [(e["kind"], e["t"], e.get("example")) for e in expected]
    # the button steps back
    page.click("#tl-back")
    assert shown_event(page)["kind"] == expected[-2]["kind"]
    assert console_errors == []


def test_the_whole_batch_shows_each_share_and_their_sum_at_an_update(page, live_server,
                                                                      console_errors):
    trace = api_trace(live_server)
    open_studio(page, live_server, batch_query())
    assert page.locator("#batch-shares").is_hidden()  # a forward step
    page.evaluate("window.bpttStudio.goTo({kind: 'update'})")
    page.locator("#batch-shares").wait_for(state="visible")
    update = trace["updates"][0]
    param = page.input_value("#batch-param")
    assert param == "W"  # the recurrent matrix by default
    shares = page.locator("#batch-shares .batch-share")
    assert shares.count() == 3
    for k, share in enumerate(update["shares"]):
        shown = page.eval_on_selector_all(
            f'#batch-shares .batch-share[data-example="{k}"] td',
            "tds => tds.map((td) => Number(td.dataset.value))")
        assert shown == [v for row in share["grads"]["W"] for v in row]
    shown_sum = page.eval_on_selector_all("#batch-shares .batch-sum td",
                                          "tds => tds.map((td) => Number(td.dataset.value))")
    assert shown_sum == [v for row in update["grads"]["W"] for v in row]
    # the reduction's weight, said in one sentence (3 examples × 4 loss steps)
    assert page.locator(".batch-mean").inner_text() == catalogue(page, "batch.mean",
                                                                 {"n": 3, "steps": 4})
    # another parameter: the output layer's bias, a vector
    page.select_option("#batch-param", "b_y")
    shown = page.eval_on_selector_all('#batch-shares .batch-share[data-example="2"] td',
                                      "tds => tds.map((td) => Number(td.dataset.value))")
    assert shown == update["shares"][2]["grads"]["b_y"]
    assert console_errors == []


def test_a_truncated_updates_mean_weight_counts_the_steps_it_injects(page, live_server,
                                                                     console_errors):
    """With BPTT(2, 3) the second update's window looks back over steps 2-4 but injects the
    losses of steps 3 and 4 only: the engine divides by n · 2, and the sentence says so."""
    request = {**BATCH, "truncation": {"k1": 2, "k2": 3}, "detail": "full"}
    trace = httpx.post(f"{live_server}/api/v1/trace", json=request, timeout=30).json()
    update = trace["updates"][1]
    assert update["window"] == [2, 4] and trace["windows"][0]["t_update"] == 2
    summed = httpx.post(f"{live_server}/api/v1/trace", json={**request, "reduction": "sum"},
                        timeout=30).json()
    first = summed["updates"][0]  # the same weights as the mean's first update: n · 2 apart
    assert first["loss"] == pytest.approx(3 * 2 * trace["updates"][0]["loss"], rel=1e-12)
    open_studio(page, live_server, batch_query("&k1=2&k2=3"))
    page.evaluate("window.bpttStudio.goTo({kind: 'update', update: 1})")
    page.locator("#batch-shares").wait_for(state="visible")
    assert page.locator(".batch-mean").inner_text() == catalogue(page, "batch.mean",
                                                                 {"n": 3, "steps": 2})
    assert console_errors == []


def test_the_neuron_view_of_a_batch_asks_for_the_example_shown(page, live_server,
                                                             console_errors):
    trace = api_trace(live_server)
    open_studio(page, live_server, batch_query())
    page.select_option("#batch-example", "2")  # the third example (0-based 2)
    settled(page)
    page.evaluate("window.bpttStudio.goTo({kind: 'backward', t: 3})")
    with page.expect_response("**/api/v1/neuron") as answer:
        page.locator("#node-h-3").first.click()
    sent = answer.value.request.post_data_json
    assert sent["example"] == 2
    page.locator("#neuron[data-state=ready]").wait_for()
    view = answer.value.json()
    event = next(e for e in trace["events"] if e["kind"] == "backward"
                 and e.get("example") == 2 and e["t"] == 3)
    assert view["example"] == 2
    assert view["dh"]["value"] == pytest.approx(event["dh"][view["unit"]], rel=1e-12)
    assert console_errors == []


def test_the_pytorch_check_of_a_batch_downloads_the_apis_script(page, live_server,
                                                                console_errors):
    open_studio(page, live_server, batch_query())
    with page.expect_response("**/api/v1/export/torch") as answer, \
            page.expect_download() as download:
        page.click("#btn-export-torch")
    assert answer.value.status == 200
    assert "batch" in answer.value.request.post_data_json["data"]
    assert "mini-batch of n = 3 sequences" in Path(download.value.path()).read_text("utf-8")
    page.wait_for_selector("#torch-status[data-i18n='check.torchDone']")
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_writing_says_it_continues_one_sequence_without_asking(page, live_server,
                                                                   console_errors, lang):
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/sample" in r.url else None)
    open_studio(page, live_server, batch_query(f"&lang={lang}&train=5"))
    page.locator("#sampling[data-state=batch]").wait_for()
    assert page.locator("#sample-batch").inner_text() == catalogue(page, "batch.sample")
    assert page.locator("#sample-write").count() == 0 or page.locator("#sample-write").is_hidden()
    assert asked == []
    assert console_errors == []


def test_a_link_reproduces_the_batch_and_the_example(page, live_server, console_errors):
    open_studio(page, live_server, "preset=machine")
    type_batch(page, WORDS)
    page.wait_for_function("() => document.body.dataset.batch === '3'")
    settled(page)
    page.select_option("#batch-example", "2")
    page.evaluate("window.bpttStudio.goTo({kind: 'backward', t: 2})")
    event = shown_event(page)
    page.wait_for_function("() => location.search.includes('ex=3')")
    url = page.url
    other = page.context.new_page()
    other_errors = []
    other.on("console", lambda m: other_errors.append(m.text) if m.type == "error" else None)
    open_studio(other, url.split("/?")[0], url.split("/?")[1])
    assert other.evaluate("window.bpttStudio.trace.config.data") == {
        "batch": [{"text": w} for w in WORDS]}
    assert other.input_value("#batch-example") == "2"
    assert other.evaluate("window.bpttStudio.event") == event
    assert other.input_value("#ctl-data") == "\n".join(WORDS)
    other.close()
    assert console_errors == [] and other_errors == []


def test_a_preset_stays_one_sequence(page, live_server, console_errors):
    open_studio(page, live_server, batch_query("&ex=2"))
    page.select_option("#ctl-preset", "machine")
    page.wait_for_function("() => document.body.dataset.batch === '0'")
    settled(page)
    assert "batch" not in page.evaluate("window.bpttStudio.trace.config.data")
    page.wait_for_function("() => !location.search.includes('ex=')")
    assert console_errors == []


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_screenshots_of_a_batch(sized, live_server, artifacts_dir, lang, size):
    page = sized(size)
    open_studio(page, live_server, batch_query(f"&lang={lang}&ex=2&cell=lstm"))
    page.evaluate("window.bpttStudio.goTo({kind: 'forward', t: 2})")
    page.locator("#batch").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / f"batch-selector-{lang}-{size}.png"))
    page.evaluate("window.bpttStudio.goTo({kind: 'update'})")
    page.locator("#batch-shares").wait_for(state="visible")
    page.locator("#batch-shares").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / f"batch-shares-{lang}-{size}.png"))
    # nothing of the picture runs off the page's width
    overflow = page.evaluate("""() => {
        const box = document.getElementById('batch-shares').getBoundingClientRect();
        return box.right - document.documentElement.clientWidth;
    }""")
    assert overflow <= 1
    assert page.errors == []


def test_the_worksheet_of_a_batch_is_the_links_example(page, live_server, console_errors):
    page.goto(f"{live_server}/worksheet?{batch_query('&ex=3&variant=key')}")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    tokens = page.locator(".ws-token").all_inner_texts()
    assert tokens[:4] == list(WORDS[2][:4])  # x(1..4) of example 3
    assert tokens[4:8] == list(WORDS[2][1:5])  # y(1..4)
    assert catalogue(page, "batch.of", {"k": 3, "n": 3}) in page.locator("#ws-meta").inner_text()
    assert console_errors == []


def test_the_editors_send_a_batchs_sequences_to_the_data_box(page, live_server, console_errors):
    open_studio(page, live_server, batch_query())
    page.click("#btn-editors")
    note = page.locator("#editors .ed-batch")
    note.wait_for()
    assert note.inner_text() == catalogue(page, "ed.data.batch", {"n": 3})
    assert page.locator("#editors .ed-data").count() == 0  # no n×T×D grid drawn as T×D
    assert console_errors == []


def test_a_large_batchs_shares_are_colours_or_norms_never_a_false_sum(page, live_server,
                                                                     console_errors):
    # H = 8: the 8×8 maps keep their numbers in tooltips, their colours on the page
    open_studio(page, live_server, batch_query().replace("H=3", "H=8"))
    page.evaluate("window.bpttStudio.goTo({kind: 'update'})")
    page.locator("#batch-shares .batch-table.wide").first.wait_for()
    assert page.locator("#batch-shares .batch-share").count() == 3
    assert page.eval_on_selector_all("#batch-shares .batch-sum td", "tds => tds.length") == 64
    # H = 64 over 100 steps: the page asks for norms; norms are listed, not added
    letters = "abcdefghijklmnopqrstuvwxyz" * 4
    data = {"batch": [{"text": letters[:101]}, {"text": letters[1:102]}]}
    query = f"data={quote(json.dumps(data, separators=(',', ':')))}&H=64"
    open_studio(page, live_server, query)
    assert page.evaluate("window.bpttStudio.index.detail") == "norms"
    page.evaluate("window.bpttStudio.goTo({kind: 'update'})")
    page.locator("#batch-shares .batch-norms").wait_for()
    assert page.locator("#batch-shares li.batch-share").count() == 2
    assert page.locator("#batch-shares .batch-op").count() == 0  # no "+" or "=" between norms
    assert console_errors == []


def test_a_link_with_a_batch_of_explicit_arrays_says_they_are_in_use(page, live_server,
                                                                     console_errors):
    """A batch of inputs and targets written by hand (as a course's exercise gives them) opens
    on its examples, and the controls say the numbers in use are the link's own, as they do
    for one sequence of arrays; the data box, which holds text, words or a series, is empty."""
    examples = [{"inputs": [[1, 0], [0, 1], [1, 1]], "targets": [0, 1, 0]},
                {"inputs": [[0, 1], [1, 1], [1, 0]], "targets": [1, 0, 1]}]
    data = quote(json.dumps({"batch": examples}, separators=(",", ":")))
    open_studio(page, live_server, f"data={data}&cell=rnn")
    assert page.locator("#batch-example option").count() == len(examples)
    assert catalogue(page, "ctl.own.data") in page.text_content("#own-status")
    assert page.input_value("#ctl-data") == ""
    page.select_option("#batch-example", "1")
    page.wait_for_function("() => window.bpttStudio.index.example === 1")
    first = next(e for e in page.evaluate("window.bpttStudio.trace.events")
                 if e["kind"] == "forward" and e.get("example") == 1)
    assert first["x"] == examples[1]["inputs"][0]
    assert console_errors == []
