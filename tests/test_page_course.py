"""What a class saw (issue 18): the course's own examples do what the course promises, and no
picture misleads. In a real browser against the real server, each number compared with the
API's answer to the same request.

- the series 2, 4, 6, 8, 10 says, as numbers, what comes next and what the network was fed;
- clipping by value is shown as the clamp it is, with the count of entries it changed;
- every heatmap is coloured on its own scale, with its ticks, and says when it shares one;
- ρ(W) of the weights in use stands beside the spectral-radius field, for every version;
- the smaller ones: one CSV format, the worksheet takes the "machine" preset, the Russian word
  for the seed, no English under a translated error, strand labels clear of nodes and frames.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

LANGS = ("en", "pt-BR", "ru")


def api(base: str, path: str, request: dict) -> dict:
    response = httpx.post(f"{base}/api/v1/{path}", json={**request, "detail": "full"},
                          timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def open_studio(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{'?' + query if query else ''}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)


def event_index(trace: dict, kind: str, t: int | None = None, n: int = 0) -> int:
    """The index of the n-th event of a kind (at step t when given)."""
    found = [i for i, ev in enumerate(trace["events"])
             if ev["kind"] == kind and (t is None or ev["t"] == t)]
    return found[n]


def max_abs(value) -> float:
    if isinstance(value, list):
        return max((max_abs(v) for v in value), default=0.0)
    return 0.0 if value is None else abs(value)


# --- every heatmap on its own scale ------------------------------------------------------------

EXPLODING = {"data": {"preset": "exploding"}, "clip": {"mode": "norm", "max": 1}}
EXPLODING_QUERY = "preset=exploding&clip=norm&cmax=1"

# what each pane of a card shows, by event kind: (pane index, trace field)
PANES = {
    "update": [(0, "grads"), (1, "clipped_grads"), (2, "params_before"), (3, "params_after")],
    "backward": [(0, "contrib"), (1, "accum")],
    "forward": [(0, "params")],
}


def drawn_maps(page) -> list[dict]:
    """Every shown map of every card: its card, pane and caption, how many colours it holds,
    and the colour bar under it: the scale, the ticks, or the note naming the map whose scale
    it shares."""
    for card in page.locator(".hm-card").all():
        card.scroll_into_view_if_needed()
    page.wait_for_function("""() => [...document.querySelectorAll('.hm-card')].every(
        (c) => c.querySelector('.hm-main')._values !== undefined)""")
    return page.evaluate("""() => [...document.querySelectorAll('.hm-card')].flatMap((card) =>
        [...card.querySelectorAll('.hm-pane')].flatMap((pane, k) => {
            if (pane.hidden) return [];
            const canvas = pane.querySelector('.hm-main');
            const px = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            const colours = new Set();
            for (let p = 0; p < px.length; p += 4) colours.add(`${px[p]},${px[p+1]},${px[p+2]}`);
            const legend = pane.querySelector('.hm-legend');
            const shown = (el) => el && !el.hidden && el.getClientRects().length > 0;
            return [{card: card.dataset.param, pane: k, colours: colours.size,
                     cap: pane.querySelector('.hm-cap').textContent,
                     scale: shown(legend) ? Number(legend.dataset.scale) : null,
                     shared: shown(legend) ? legend.dataset.shared === 'true' : null,
                     bar: shown(legend?.querySelector('.hm-legend-bar')),
                     same: shown(legend?.querySelector('.hm-legend-same'))
                         ? legend.querySelector('.hm-legend-same').textContent : null,
                     ticks: [...(legend?.querySelectorAll('.hm-tick') || [])]
                         .map((t) => t.textContent)}];
        }))""")


def parse_tick(text: str) -> float:
    """A tick as format.num writes it: "−6.0e4", "0.35", "1.2e−3"."""
    return float(text.replace("\u2212", "-"))


def pane_values(trace: dict, index: int, field: str, names: list[str]):
    ev = trace["events"][index]
    if ev["kind"] == "update":
        source = trace["updates"][ev["update"]][field]
    elif field == "params":
        version = ev.get("version", 0)
        source = (trace["params"] if version == 0
                  else trace["updates"][version - 1]["params_after"])
    else:
        source = ev[field]
    return [source[name] for name in names]


@pytest.mark.parametrize("kind", list(PANES))
def test_every_heatmap_is_coloured_on_its_own_scale_with_its_own_ticks(page, live_server,
                                                                       console_errors, kind):
    trace = api(live_server, "trace", EXPLODING)
    i = event_index(trace, kind, n=-1 if kind == "update" else 0)
    open_studio(page, live_server, f"{EXPLODING_QUERY}&e={i}")
    maps = drawn_maps(page)
    expected_panes = {k for k, _ in PANES[kind]}
    assert {m["pane"] for m in maps} == expected_panes
    names = {card: card.split("+") for card in {m["card"] for m in maps}}
    for m in maps:
        field = dict(PANES[kind])[m["pane"]]
        own = max_abs(pane_values(trace, i, field, names[m["card"]]))
        where = f"{m['card']} {m['cap']}"
        assert m["scale"] == pytest.approx(own), where
        assert m["colours"] > 1, f"{where} is one colour"
        if m["shared"]:  # an earlier map of this card has the same scale: the note names it
            owner = next(o for o in maps if o["card"] == m["card"] and o["pane"] < m["pane"]
                         and o["scale"] == m["scale"] and not o["shared"])
            assert not m["bar"] and owner["cap"] in m["same"], where
            continue
        low, zero, high = (parse_tick(t) for t in m["ticks"])
        assert m["bar"] and m["same"] is None, where
        assert (low, zero) == (pytest.approx(-high), 0) and high == pytest.approx(own, rel=0.05)
    assert console_errors == []


def test_clipped_gradient_and_weights_of_an_explosion_show_their_structure(page, live_server,
                                                                            console_errors):
    # lesson 5's clipping step: the gradient is ~10⁴ times the clipped one
    trace = api(live_server, "trace", EXPLODING)
    update = trace["updates"][-1]
    assert max_abs(update["grads"]["W"]) > 1e3 * max_abs(update["clipped_grads"]["W"])
    open_studio(page, live_server, f"{EXPLODING_QUERY}&e={len(trace['events']) - 1}")
    clipped = [m for m in drawn_maps(page) if m["pane"] == 1]
    assert clipped and all(m["colours"] > 1 and not m["shared"] for m in clipped)
    assert console_errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_maps_of_one_scale_share_one_bar_that_names_both(page, live_server, console_errors,
                                                         lang):
    # no clipping: the gradient after clipping is the gradient, on the same scale
    trace = api(live_server, "trace", {})
    open_studio(page, live_server, f"lang={lang}&e={len(trace['events']) - 1}")
    maps = drawn_maps(page)
    for card in {m["card"] for m in maps}:
        raw, clipped = (next(m for m in maps if m["card"] == card and m["pane"] == k)
                        for k in (0, 1))
        assert raw["bar"] and not raw["shared"]
        assert clipped["shared"] and not clipped["bar"] and raw["cap"] in clipped["same"]
    assert console_errors == []


# --- clipping by value is a clamp ---------------------------------------------------------------

VALUE_CLIP = {"optimizer": {"name": "adam", "lr": 0.05}, "truncation": {"k1": 2, "k2": 3},
              "clip": {"mode": "value", "max": 0.1}}
VALUE_CLIP_QUERY = "opt=adam&lr=0.05&k1=2&k2=3&clip=value&cmax=0.1"


def clip_line(page) -> dict:
    return page.evaluate("""() => {
        const line = document.querySelector('#equation [data-eq=clip]');
        return {math: line.querySelector('.eq-body').textContent,
                note: line.querySelector('.eq-note').textContent,
                fields: [...line.querySelectorAll('[data-field]')].map(
                    (e) => [e.dataset.field, Number(e.dataset.value)])};
    }""")


@pytest.mark.parametrize("lang", LANGS)
def test_clipping_by_value_shows_the_clamp_and_how_many_entries_it_changed(
        page, live_server, console_errors, lang):
    trace = api(live_server, "trace", VALUE_CLIP)
    update = trace["updates"][1]
    total = sum(len(v) * (len(v[0]) if isinstance(v[0], list) else 1)
                for v in trace["params"].values())
    assert 0 < update["clipped_entries"] < total
    open_studio(page, live_server, f"{VALUE_CLIP_QUERY}&lang={lang}"
                                   f"&e={event_index(trace, 'update', n=1)}")
    line = clip_line(page)
    assert "clip(" in line["math"].replace(" ", "") and "c=" not in line["math"].replace(" ", "")
    assert line["fields"] == [["clip_min", -0.1], ["clip_max", 0.1]]
    assert f"{update['clipped_entries']} " in line["note"] and line["note"].endswith(str(total))
    assert "±0.1" in line["note"]
    assert console_errors == []


def test_clipping_by_value_that_changes_nothing_says_so(page, live_server, console_errors):
    request = {**VALUE_CLIP, "clip": {"mode": "value", "max": 100}}
    trace = api(live_server, "trace", request)
    assert all(u["clipped_entries"] == 0 for u in trace["updates"])
    open_studio(page, live_server, f"{VALUE_CLIP_QUERY.replace('cmax=0.1', 'cmax=100')}"
                                   f"&e={event_index(trace, 'update', n=1)}")
    assert clip_line(page)["note"] == "no entry beyond ±100: nothing changed"
    assert console_errors == []


# --- ρ(W) of the weights in use -----------------------------------------------------------------

def rho_now(page) -> dict:
    return page.evaluate("""() => {
        const box = document.getElementById('rho-now');
        return {state: box.dataset.state, text: box.textContent,
                visible: box.getClientRects().length > 0,
                items: Object.fromEntries([...box.querySelectorAll('.rho-item')].map(
                    (e) => [e.dataset.param, e.dataset.value.split(' ').map(Number)]))};
    }""")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("kind", ["forward", "backward", "update"])
def test_spectral_radius_of_the_weights_in_use_stands_beside_the_field(
        page, live_server, console_errors, cell, kind):
    request = {"cell": cell, "truncation": {"k1": 2}, "optimizer": {"name": "sgd", "lr": 1.0},
               "spectral_radii": True}
    trace = api(live_server, "trace", request)
    # the second window's events run on the weights after update 1; its update makes version 2
    i = next(i for i, ev in enumerate(trace["events"]) if ev["kind"] == kind
             and (ev["version"] == 1 if kind == "forward" else ev["update"] == 1))
    ev = trace["events"][i]
    versions = [ev["update"], ev["update"] + 1] if kind == "update" else [1]
    radii = [trace["spectral_radii"] if v == 0 else trace["updates"][v - 1]["spectral_radii_after"]
             for v in versions]
    open_studio(page, live_server, f"cell={cell}&k1=2&lr=1&e={i}")
    shown = rho_now(page)
    assert shown["visible"] and shown["state"] == "shown"
    assert set(shown["items"]) == set(radii[0])
    for name, values in shown["items"].items():
        assert values == [r[name] for r in radii]
    assert "ρ(W" in shown["text"]
    assert console_errors == []


def test_spectral_radius_follows_the_event_and_says_whose_weights(page, live_server,
                                                                  console_errors):
    trace = api(live_server, "trace", {"truncation": {"k1": 2}, "spectral_radii": True})
    open_studio(page, live_server, "k1=2")
    first = rho_now(page)
    assert first["items"]["W"] == [trace["spectral_radii"]["W"]]
    assert "the initial weights" in first["text"]
    page.focus("body")
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('rho-now').dataset.versions === '2 3'")
    last = rho_now(page)
    assert last["items"]["W"] == [trace["updates"][k]["spectral_radii_after"]["W"] for k in (1, 2)]
    assert "update 3: before → after" in last["text"]
    assert console_errors == []


def test_spectral_radius_is_asked_for_only_where_it_is_cheap_and_says_so_beyond(
        page, live_server, console_errors):
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if "/api/v1/trace" in r.url
            else None)
    open_studio(page, live_server, "H=32")
    assert sent and not any(body.get("spectral_radii") for body in sent)
    shown = rho_now(page)
    assert shown["state"] == "absent" and "H ≤ 16" in shown["text"]
    assert console_errors == []


# --- the series: what comes next ----------------------------------------------------------------

def forecast_table(page) -> dict:
    page.wait_for_selector(".pred-table td.ahead", timeout=30_000)
    return page.evaluate("""() => {
        const row = (name) => [...document.querySelectorAll(
            `.pred-table tr[data-row=${name}] td.ahead`)];
        const bounded = document.getElementById('pred-bounded');
        return {
            predicted: row('predicted').map((td) => Number(td.dataset.value)),
            shown: row('predicted').map((td) => td.textContent),
            input: row('input').map((td) => Number(td.dataset.value)),
            fed: row('input').map((td) => td.classList.contains('fed')),
            target: row('target').map((td) => td.textContent),
            steps: [...document.querySelectorAll('.pred-table th.step')].map(
                (th) => th.textContent),
            kinds: [...document.querySelectorAll('.pred-table th.kind')].map(
                (th) => th.textContent),
            note: document.getElementById('pred-forecast-note').textContent,
            bounded: bounded ? bounded.textContent : null,
        };
    }""")


@pytest.mark.parametrize("lang", LANGS)
def test_series_preset_after_the_default_training_shows_the_next_values_as_numbers(
        page, live_server, console_errors, lang):
    open_studio(page, live_server, f"preset=series&lang={lang}")
    passes = int(page.input_value("#ctl-train-n"))
    page.click("#btn-train")
    table = forecast_table(page)
    said = api(live_server, "train", {"data": {"preset": "series"}, "iterations": passes})
    assert table["predicted"] == said["forecast"][:3]
    assert table["predicted"] == pytest.approx([12, 14, 16], abs=0.5)
    assert table["shown"] == [f"{v:.1f}" if v < 100 else f"{v:.0f}" for v in said["forecast"][:3]]
    # what it was fed: the last value, then its own predictions (free running)
    assert table["input"] == [10, *said["forecast"][:2]] and table["fed"] == [False, True, True]
    assert table["target"] == ["—"] * 3 and table["steps"] == [str(t) for t in range(1, 8)]
    assert "teacher forcing" in table["kinds"][0] and "free running" in table["kinds"][1]
    assert "free running" in table["note"] and "teacher forcing" in table["note"]
    assert table["bounded"] is None  # ReLU goes on
    assert console_errors == []


@pytest.mark.parametrize("setting", ["act=tanh", "cell=lstm", "cell=gru"])
def test_a_bounded_network_says_why_its_forecast_levels_off_and_offers_relu(
        page, live_server, console_errors, setting):
    open_studio(page, live_server, f"preset=series&{setting}&train=100")
    table = forecast_table(page)
    assert max(table["predicted"]) < 15  # it levels off
    assert table["bounded"] and "−1" in table["bounded"] and "ReLU" in table["bounded"]
    page.click("#btn-use-relu")
    page.wait_for_function("() => !document.getElementById('pred-bounded')"
                           " && document.querySelector('.pred-table td.ahead')")
    page.wait_for_function("() => location.search.includes('act=relu')")
    assert "cell=rnn" in page.url
    assert forecast_table(page)["predicted"][2] > 15
    assert console_errors == []


def test_a_series_that_does_not_run_past_its_range_gets_no_why(page, live_server,
                                                               console_errors):
    open_studio(page, live_server, "preset=sine&train=20")
    table = forecast_table(page)
    assert table["bounded"] is None and len(table["predicted"]) == 3
    assert console_errors == []


# --- the smaller ones ---------------------------------------------------------------------------

def download_text(page, button: str) -> tuple[str, str]:
    with page.expect_download() as download:
        page.click(button)
    return download.value.suggested_filename, Path(download.value.path()).read_text("utf-8")


@pytest.mark.parametrize("kind", ["forward", "backward", "update"])
def test_this_step_csv_is_the_whole_trace_csv_cut_to_its_event(page, live_server,
                                                                console_errors, kind):
    trace = api(live_server, "trace", {"cell": "gru", "truncation": {"k1": 2}})
    i = event_index(trace, kind, n=1)
    open_studio(page, live_server, f"cell=gru&k1=2&e={i}")
    name, step = download_text(page, "#btn-export-csv")
    _, whole = download_text(page, "#btn-export-trace-csv")
    assert name.startswith(f"bptt-event-{i + 1}-{kind}-")
    step_rows = list(csv.DictReader(io.StringIO(step)))
    whole_rows = list(csv.DictReader(io.StringIO(whole)))
    assert step.splitlines()[0] == whole.splitlines()[0]  # one header
    assert step_rows == [r for r in whole_rows if r["event"] == str(i + 1)] and step_rows
    # units numbered from 1, as on the page
    assert all((int(r["i"]), int(r["j"])) == (int(r["row"]) + 1, int(r["column"]) + 1)
               for r in step_rows)
    assert console_errors == []


A4_WIDTH_PX = 703  # 210 mm less the sheet's 12 mm margins, at 96 px per inch


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_worksheet_takes_the_machine_preset_and_fits_it_across_a4(page, live_server, context,
                                                                  console_errors, cell):
    trace = api(live_server, "trace", {"cell": cell})  # "machine": T = 6, H = 4, D = K = 7
    assert (trace["sizes"]["T"], trace["sizes"]["H"]) == (6, 4)
    open_studio(page, live_server, f"cell={cell}")
    assert page.locator("#btn-worksheet-key").is_enabled()
    with context.expect_page() as popup:
        page.click("#btn-worksheet-key")
    sheet = popup.value
    sheet.wait_for_selector(".ws-num", timeout=30_000)
    grads = sheet.eval_on_selector_all(
        "[data-field='updates.0.grads.V']", "els => els.map((e) => Number(e.dataset.value))")
    assert grads == [v for row in trace["updates"][0]["grads"]["V"] for v in row]
    sheet.set_viewport_size({"width": A4_WIDTH_PX, "height": 1000})
    sheet.emulate_media(media="print")
    widest = sheet.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '.ws-table, .ws-givens')].map((t) => t.getBoundingClientRect().right))""")
    assert widest <= A4_WIDTH_PX
    assert console_errors == [] and sheet.evaluate("document.body.dataset.ready") == "true"


ROOT = Path(__file__).resolve().parent.parent


def test_russian_calls_the_seed_as_russian_ml_texts_do(page, live_server, console_errors):
    # «сид» (the word Russian ML courses use: «зафиксировать сид»), never the literal «зерно»
    open_studio(page, live_server, "lang=ru")
    assert page.text_content("label[for=ctl-seed]") == "Сид"
    texts = [(ROOT / "static/js/i18n/ru.js").read_text("utf-8"),
             (ROOT / "static/js/i18n/ru.article.js").read_text("utf-8"),
             (ROOT / "static/lessons/ru.json").read_text("utf-8")]
    values = [line.split(":", 1)[-1] for text in texts for line in text.splitlines()
              if not line.lstrip().startswith("//")]
    assert not [v for v in values if "зерн" in v.lower()]
    assert "зерн" not in page.inner_text("body").lower()
    assert console_errors == []


def catalogue_text(lang: str, key: str) -> str:
    source = (ROOT / "static/js/i18n" / f"{lang}.js").read_text(encoding="utf-8")
    match = re.search(rf'^\s*"{re.escape(key)}": "((?:[^"\\]|\\.)*)",$', source, re.M)
    assert match, f"{key} missing in {lang}"
    return match.group(1)


def refuse_k2_below_k1(page) -> None:
    """k2 < k1: refused by the API (a value_error with the engine's own English message)."""
    page.check("#ctl-trunc")
    page.fill("#ctl-k1", "3")
    page.fill("#ctl-k2", "1")
    page.press("#ctl-k2", "Enter")
    page.locator("#err-k2").wait_for(state="visible")


@pytest.mark.parametrize("lang", ["pt-BR", "ru"])
def test_a_translated_error_shows_no_english_until_asked(page, live_server, console_errors,
                                                         lang):
    open_studio(page, live_server, f"lang={lang}")
    refuse_k2_below_k1(page)
    # our words and the summary, in the language; the API's sentence folded away
    assert page.inner_text("#err-k2").split("\n") == [catalogue_text(lang, "error.rejected"),
                                                        catalogue_text(lang, "error.detail")]
    detail = page.locator("#err-k2 details.err-detail")
    assert detail.count() == 1 and detail.get_attribute("open") is None
    page.click("#err-k2 details.err-detail summary")
    english = page.locator("#err-k2 details.err-detail [lang=en]")
    assert english.is_visible() and "k1" in english.text_content()
    assert console_errors == [m for m in console_errors if "status of 422" in m]


def test_an_english_error_shows_the_apis_words_at_once(page, live_server, console_errors):
    open_studio(page, live_server)
    refuse_k2_below_k1(page)
    assert page.locator("#err-k2 span.err-detail").is_visible()
    assert "k1" in page.locator("#err-k2 span.err-detail").text_content()
    assert console_errors == [m for m in console_errors if "status of 422" in m]


# Every drawn norm label against the nodes and against the frames' edges: the current event's
# frame (.cursor), the windows' bands and the truncation's cuts. A label may sit where two
# columns meet (where the edges run): then its opaque backdrop covers it and is painted over
# the edge, so that no edge crosses its text.
STRAND_LABELS = """() => {
    const box = (e) => e.getBoundingClientRect();
    const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
        && b.top < a.bottom;
    const covers = (a, b) => a.left <= b.left + 0.5 && a.right >= b.right - 0.5
        && a.top <= b.top + 0.5 && a.bottom >= b.bottom - 0.5;
    const shown = (e) => e.getClientRects().length > 0;
    const opacity = (e) => {
        let o = 1;
        for (let n = e; n && n.nodeType === 1; n = n.parentNode) {
            o *= Number(getComputedStyle(n).opacity);
        }
        return o;
    };
    const edges = [];
    for (const frame of document.querySelectorAll('#network .cursor, #network .band rect')) {
        if (!shown(frame)) continue;
        const r = box(frame);
        const w = 2;
        for (const e of [{left: r.left - w, right: r.left + w, top: r.top, bottom: r.bottom},
                         {left: r.right - w, right: r.right + w, top: r.top, bottom: r.bottom},
                         {left: r.left, right: r.right, top: r.top - w, bottom: r.top + w},
                         {left: r.left, right: r.right, top: r.bottom - w,
                          bottom: r.bottom + w}]) edges.push([frame, e]);
    }
    for (const line of document.querySelectorAll('#network .cut line')) {
        if (shown(line)) edges.push([line, box(line)]);
    }
    const clashes = [];
    for (const label of document.querySelectorAll('#network .err-norm')) {
        if (!shown(label) || !label.textContent) continue;
        const name = `${label.closest('.err').dataset.edge}@${label.closest('.err').dataset.t}`;
        const r = box(label);
        for (const c of document.querySelectorAll('#network .node circle')) {
            if (meets(r, box(c))) clashes.push([name, 'node']);
        }
        const bg = label.previousElementSibling;
        for (const [frame, e] of edges) {
            if (!meets(r, e)) continue;
            const under = frame.compareDocumentPosition(bg) & Node.DOCUMENT_POSITION_FOLLOWING;
            const opaque = bg?.matches('.err-norm-bg') && shown(bg)
                && getComputedStyle(bg).fill === 'rgb(255, 255, 255)' && opacity(bg) === 1;
            if (!(under && opaque && covers(box(bg), r))) clashes.push([name, frame.tagName]);
        }
    }
    return clashes;
}"""


@pytest.mark.parametrize("width,height", [(1920, 1080), (1366, 768), (390, 844)])
@pytest.mark.parametrize("query", ["k1=2&k2=3", "cell=lstm&k1=2", "preset=exploding",
                                   "preset=series&k1=1"])
def test_strand_labels_clear_the_nodes_and_no_frame_edge_crosses_them(
        browser, live_server, width, height, query):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_studio(page, live_server, query)
    events = page.evaluate("window.bpttStudio.index.events.length")
    clashes = set()
    for i in range(events):
        page.evaluate(f"window.bpttStudio.goTo({i})")
        page.wait_for_function(f"document.body.dataset.eventIndex === '{i}'")
        clashes |= {(i, *c) for c in page.evaluate(STRAND_LABELS)}
    page.close()
    assert sorted(clashes) == [] and errors == []
