"""The notebook widget, kernel side: what `Studio(...)` sends to the browser, and how it is read.

Its drawing, keys and the event read back from Python are tested in a real JupyterLab
(test_notebook_lab.py); here: the trace is the API's; every form the engine
takes or gives is accepted; bad values are refused with what would be accepted; and the page's
modules the widget carries are exactly those its view reaches, linked in an order a browser
can load from blob: URLs.
"""

from __future__ import annotations

import json
import re

import pytest

anywidget = pytest.importorskip("anywidget", reason='the notebook extra: pip install ".[notebook]"')

from bptt_studio.core.paths import TEMPLATES_DIR  # noqa: E402
from bptt_studio.engine import CELLS, RequestError, run_trace, to_data, train  # noqa: E402
from bptt_studio.notebook import jslink  # noqa: E402 - after the extra's check
from bptt_studio.notebook.widget import (  # noqa: E402
    JS_DIR,
    LANGUAGES,
    NOTATIONS,
    VIEW,
    Studio,
    assets,
)

REQUEST = {"cell": "lstm", "hidden_size": 3, "data": {"text": "machine"}}


def events_of(widget: Studio) -> list[dict]:
    return json.loads(widget._trace)["events"]


# ---- the trace ------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", [
    *({"cell": cell, "hidden_size": 2, "data": {"text": "hello"}} for cell in CELLS),
    {"cell": "gru", "truncation": {"k1": 2, "k2": 3}, "data": {"series": [1, 2, 3, 4, 5]}},
], ids=lambda r: f"{r['cell']}{'-truncated' if 'truncation' in r else ''}")
def test_widget_trace_is_the_apis_response(client, request_):
    response = client.post("/api/v1/trace", json=request_)
    assert response.status_code == 200
    # the same JSON; the API's schema writes a series' 1 as 1.0 where the engine keeps it
    assert json.loads(Studio(request_)._trace) == response.json()


def test_a_trace_too_large_for_every_matrix_comes_as_norms_as_the_api_sends_it(client):
    request_ = {"cell": "lstm", "hidden_size": 64, "data": {"text": "a" * 120}}
    widget = Studio(request_)
    assert json.loads(widget._trace)["detail"] == "norms"
    assert json.loads(widget._trace) == client.post("/api/v1/trace", json=request_).json()


@pytest.mark.parametrize("form", ["result", "plain data", "api json", "train result"])
def test_widget_shows_a_result_in_every_form_the_engine_gives(form):
    result = run_trace(REQUEST)
    source = {
        "result": result,
        "plain data": to_data(result),
        "api json": json.loads(Studio(REQUEST)._trace),
        "train result": train({**REQUEST}, 1, include_trace=True) if form == "train result"
        else None,
    }[form]
    widget = Studio(source)
    assert [(e["kind"], e["t"]) for e in events_of(widget)] == [
        (e["kind"], e["t"]) for e in result["events"]]


def test_no_argument_is_the_default_scenario(client):
    assert json.loads(Studio()._trace) == client.post("/api/v1/trace", json={}).json()


def test_a_bad_request_raises_the_engines_error_naming_the_field():
    with pytest.raises(RequestError) as caught:
        Studio({"cell": "transformer"})
    assert caught.value.loc[-1] == "cell"


def test_load_shows_another_trace_from_its_first_event():
    widget = Studio(REQUEST, event=5)
    widget.load({"cell": "rnn", "hidden_size": 2})
    assert widget.event == 0
    assert widget.trace["config"]["cell"] == "rnn"
    assert json.loads(widget._trace)["config"]["cell"] == "rnn"


# ---- the event, the language, the notation --------------------------------------------------


def test_event_is_the_one_on_screen_and_current_is_its_numbers():
    widget = Studio(REQUEST)
    widget.event = 9
    expected = to_data(run_trace(REQUEST)["events"][9])
    assert widget.current == expected
    assert widget.current["kind"] == "backward"


def test_event_counts_from_the_end_when_negative():
    widget = Studio(REQUEST, event=-1)
    assert widget.event == widget.events - 1 and events_of(widget)[-1]["kind"] == "update"


@pytest.mark.parametrize("event", [13, 100, -14])
def test_event_outside_the_trace_is_refused_with_its_count(event):
    widget = Studio(REQUEST)
    with pytest.raises(Exception, match=r"this trace has 13 events, 0 to 12"):
        widget.event = event
    assert widget.event == 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_of_the_page_is_accepted(lang):
    assert Studio(REQUEST, lang=lang).lang == lang


@pytest.mark.parametrize("notation", NOTATIONS)
def test_every_notation_of_the_page_is_accepted(notation):
    assert Studio(REQUEST, notation=notation).notation == notation


@pytest.mark.parametrize(("name", "value"), [("lang", "de"), ("notation", "bishop")])
def test_unknown_language_or_notation_is_refused_with_the_choices(name, value):
    with pytest.raises(Exception, match=f"{name} '{value}': one of "):
        Studio(REQUEST, **{name: value})


def test_registries_are_the_pages_own():
    catalogues = {p.stem for p in (JS_DIR / "i18n").glob("*.js") if "." not in p.stem}
    assert set(LANGUAGES) == catalogues
    page = (TEMPLATES_DIR / "index.html").read_text(encoding="utf-8")
    options = re.search(r'<select id="ctl-notation">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="([a-z0-9]+)"', options) == NOTATIONS


# ---- the page's modules, linked for blob: URLs -----------------------------------------------


def linked_paths() -> list[str]:
    return [path for path, _ in assets()["_modules"]]


def test_widget_carries_every_module_its_view_reaches_and_the_view_last_of_its_imports():
    paths = linked_paths()
    assert len(paths) == len(set(paths))
    for path, text in assets()["_modules"]:
        for target in re.findall(r'["\']bptt-module:([^"\']+)["\']', text):
            assert paths.index(target) < paths.index(path), (path, target)
    assert VIEW in paths and assets()["_entry"] == VIEW


def test_widget_carries_every_catalogue_the_template_import_can_name():
    catalogues = sorted(p.relative_to(JS_DIR).as_posix() for p in (JS_DIR / "i18n").glob("*.js"))
    assert set(catalogues) <= set(linked_paths())


@pytest.mark.parametrize("module", ["state/api.js", "state/source.js", "views/charts.js",
                                    "controls/controls.js", "main.js"])
def test_widget_never_carries_the_pages_api_client_or_wiring(module):
    """The widget asks no server: the engine computed the trace in the kernel."""
    assert module not in linked_paths()


def test_linked_modules_hold_no_relative_specifier_and_no_bare_dynamic_import():
    for path, text in assets()["_modules"]:
        original = (JS_DIR / path).read_text(encoding="utf-8")
        assert not jslink.STATIC.search(text) and not jslink.DYNAMIC.search(text), path
        assert text.count(jslink.RESOLVER) == original.count("import("), path


def test_a_cycle_of_static_imports_is_refused_naming_it(tmp_path):
    (tmp_path / "a.js").write_text('import { b } from "./b.js";\nexport const a = 1;\n')
    (tmp_path / "b.js").write_text('import { a } from "./a.js";\nexport const b = 2;\n')
    with pytest.raises(ValueError, match=r"a\.js -> b\.js -> a\.js"):
        jslink.link(tmp_path, "a.js")


def test_an_import_of_a_missing_module_is_refused_naming_the_importer(tmp_path):
    (tmp_path / "a.js").write_text('export { b } from "./sub/b.js";\n')
    with pytest.raises(FileNotFoundError, match=r"a\.js imports sub/b\.js"):
        jslink.link(tmp_path, "a.js")


def test_a_template_import_reaches_every_file_it_can_spell_and_no_other(tmp_path):
    (tmp_path / "i18n").mkdir()
    for name in ("en.js", "ru.js", "en.part.js"):
        (tmp_path / "i18n" / name).write_text("export default {};\n")
    (tmp_path / "other.js").write_text("export default {};\n")
    (tmp_path / "a.js").write_text("export const load = (l) => import(`./i18n/${l}.js`);\n")
    assert jslink.link(tmp_path, "a.js").paths() == [
        "a.js", "i18n/en.js", "i18n/en.part.js", "i18n/ru.js"]


def test_the_version_changes_with_any_modules_text(tmp_path):
    (tmp_path / "a.js").write_text('import "./b.js";\n')
    (tmp_path / "b.js").write_text("export const b = 1;\n")
    before = jslink.link(tmp_path, "a.js").version
    (tmp_path / "b.js").write_text("export const b = 2;\n")
    assert jslink.link(tmp_path, "a.js").version != before


def test_widget_styles_are_the_pages_with_its_root_on_the_shadow_host():
    styles = assets()["_styles"]
    assert ":root" not in styles and ":host {" in styles
    assert "--forward: #0072b2" in styles  # the page's palette


def test_widget_markup_holds_the_pages_panels():
    markup = assets()["_markup"]
    for container in ('id="timeline"', 'id="network"', 'id="equation"', 'id="heatmaps"'):
        assert container in markup
    assert 'class="legend"' in markup


def test_readme_example_runs_and_prints_the_event_python_set(capsys):
    from test_package import readme_section

    program = readme_section("The studio in a notebook cell", "docs/STUDIO.md")
    assert "from bptt_studio.notebook import Studio" in program
    namespace: dict = {}
    exec(compile(program, "docs/STUDIO.md", "exec"), namespace)  # noqa: S102 - our own manual
    assert capsys.readouterr().out.split() == ["9", "backward", "3"]
    assert namespace["w"].event == 0 and namespace["w"].trace["config"]["cell"] == "gru"
