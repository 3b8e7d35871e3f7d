"""BPTT Studio in a notebook cell (``pip install "bptt-studio[notebook]"``).

    from bptt_studio.notebook import Studio
    widget = Studio({"cell": "lstm", "hidden_size": 3, "data": {"text": "machine"}})
    widget              # the timeline, the unrolled network, the equation, the accumulators
    widget.event = 9    # show the 10th event (0-based, as the page's e=)
    widget.event        # the event a student stepped to, with ← → or the timeline's buttons
    widget.current      # that event's numbers, as the engine recorded them

``Studio`` takes what the engine takes or gives: a request (a dict shaped as in
docs/CONTRACT.md, a ``TraceRequest`` or a ``Plan``), a result of ``run_trace``, the plain data
of one (``to_data``, or the JSON ``POST /api/v1/trace`` answered), or a result of ``train``
that holds its trace. The engine computes the trace here, in Python, as the API would
(``detail`` "auto": every matrix while the trace stays under BPTT_MAX_RESPONSE_BYTES, their
norms above it); the widget draws it with the page's own modules and style sheet, which the
package carries (no server, no network). It is an anywidget: JupyterLab, Jupyter Notebook,
VS Code and marimo run it alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2

try:
    import anywidget
    import traitlets
except ImportError as error:  # pragma: no cover - the extra is installed wherever tests run
    raise ImportError(
        'bptt_studio.notebook needs the notebook extra: pip install "bptt-studio[notebook]"'
    ) from error

from bptt_studio.core.jsonio import dumps
from bptt_studio.core.paths import STATIC_DIR, TEMPLATES_DIR
from bptt_studio.core.settings import get_settings
from bptt_studio.endpoints.detail import trace_payload
from bptt_studio.engine import run_trace, to_data
from bptt_studio.notebook import jslink

JS_DIR = STATIC_DIR / "js"
ENTRY = JS_DIR / "notebook" / "notebook.js"  # anywidget's ESM: it links the modules below
VIEW = "notebook/notebook-view.js"  # the widget's view, under JS_DIR
STYLES = (STATIC_DIR / "css" / "studio.css", STATIC_DIR / "css" / "notebook.css")


def js_list(module: str, name: str) -> list[str]:
    """A page module's exported list of names (``export const NAME = [...]``): the page's own
    registry of languages or notations, read where the page declares it."""
    text = (JS_DIR / module).read_text(encoding="utf-8")
    found = re.search(rf"export const {name} = (\[[^\]]*\]);", text)
    if not found:
        raise LookupError(f"{module} declares no {name}")
    return list(json.loads(found.group(1)))


LANGUAGES = js_list("text/i18n.js", "LANGUAGES")
NOTATIONS = js_list("text/notation.js", "NOTATIONS")


@lru_cache
def assets() -> dict[str, Any]:
    """What every widget carries to the browser, read once from the package: the page's
    modules its view reaches, its style sheet and the panels' markup."""
    linked = jslink.link(JS_DIR, VIEW)
    # The page's custom properties and type sizes sit on :root; in the widget's shadow root
    # they belong to its host.
    styles = "\n".join(p.read_text(encoding="utf-8") for p in STYLES).replace(":root", ":host")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    return {
        "_modules": [list(module) for module in linked.modules],
        "_version": linked.version,
        "_entry": VIEW,
        "_styles": styles,
        "_markup": env.get_template("notebook.html").render(),
    }


def trace_of(source: Any, detail: str = "auto") -> dict[str, Any]:
    """The trace of a request or result, as the API sends it (``detail`` "auto", "full" or
    "norms", as in ``POST /api/v1/trace``)."""
    if isinstance(source, Mapping) and "events" not in source and isinstance(
            source.get("trace"), Mapping):
        source = source["trace"]  # a training run's result that includes its trace
    if isinstance(source, Mapping) and "events" in source:
        if "detail" in source:  # already the API's payload (its JSON, read back)
            return dict(source)
        result = dict(source)
    else:
        result = run_trace(source)  # a request or a Plan; RequestError says what is wrong
    return dict(trace_payload(result, detail, get_settings()))


class Studio(anywidget.AnyWidget):
    """The studio's views of one trace in a notebook cell, stepped with keys and buttons."""

    _esm = ENTRY
    _modules: traitlets.List[list[str]] = traitlets.List().tag(sync=True)
    _version = traitlets.Unicode().tag(sync=True)
    _entry = traitlets.Unicode().tag(sync=True)
    _styles = traitlets.Unicode().tag(sync=True)
    _markup = traitlets.Unicode().tag(sync=True)
    # the trace as the API's JSON text (not bytes: marimo has handed binary traits to widgets
    # as base64 text in some releases; text reaches every host alike)
    _trace = traitlets.Unicode().tag(sync=True)
    event = traitlets.Int(0, help="the event on screen, 0-based").tag(sync=True)
    lang = traitlets.Unicode("en", help="the language: " + ", ".join(LANGUAGES)).tag(sync=True)
    notation = traitlets.Unicode("goodfellow", help="the notation: " + ", ".join(NOTATIONS)).tag(
        sync=True)

    def __init__(self, request_or_result: Any = None, *, event: int = 0, lang: str = "en",
                 notation: str = "goodfellow", detail: str = "auto", **kwargs: Any) -> None:
        self.trace = trace_of({} if request_or_result is None else request_or_result, detail)
        super().__init__(_trace=dumps(self.trace).decode(), event=event, lang=lang,
                         notation=notation, **assets(), **kwargs)

    def load(self, request_or_result: Any, detail: str = "auto") -> None:
        """Show another trace, from its first event."""
        trace = trace_of(request_or_result, detail)
        with self.hold_sync():
            self.trace = trace
            self.event = 0
            self._trace = dumps(trace).decode()

    @property
    def events(self) -> int:
        """How many events the trace has (``event`` runs from 0 to one less)."""
        return len(self.trace["events"])

    @property
    def current(self) -> dict[str, Any]:
        """The event on screen, as plain data: its kind, t and every number of it."""
        return dict(to_data(self.trace["events"][self.event]))

    @traitlets.validate("event")
    def _check_event(self, proposal: dict[str, Any]) -> int:
        value, n = proposal["value"], self.events
        if not -n <= value < n:
            raise traitlets.TraitError(
                f"event {value}: this trace has {n} events, 0 to {n - 1} (or -{n} to -1 "
                f"from the end)")
        return int(value % n)

    @traitlets.validate("lang")
    def _check_lang(self, proposal: dict[str, Any]) -> str:
        return _one_of("lang", proposal["value"], LANGUAGES)

    @traitlets.validate("notation")
    def _check_notation(self, proposal: dict[str, Any]) -> str:
        return _one_of("notation", proposal["value"], NOTATIONS)


def _one_of(name: str, value: str, allowed: list[str]) -> str:
    if value not in allowed:
        raise traitlets.TraitError(f"{name} {value!r}: one of {', '.join(allowed)}")
    return value
