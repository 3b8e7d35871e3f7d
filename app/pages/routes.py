"""HTML pages: thin Jinja2 shells; every number on them comes from the API.

The pages' URLs are paths (``/static/js/main.js``), never absolute: Starlette's own
``url_for`` builds ``http://<Host header>/...``, which put any Host a client sent into the
page (``curl -H 'Host: evil.example' /``), and behind a TLS proxy gave ``http://`` asset URLs
on an ``https://`` page. A path resolves against whatever origin served the page.
"""

from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from bptt_studio.core.paths import STATIC_DIR, TEMPLATES_DIR, plotly_js_path
from bptt_studio.core.version import __version__
from bptt_studio.engine.cells.registry import CELLS
from bptt_studio.pages.embed import PANELS, embed_view

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@jinja2.pass_context
def url_path_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    """The templates' ``url_for``: the route's path under the app's root path, no scheme or
    host (uvicorn's ``--root-path`` when it is served under a prefix)."""
    request: Request = context["request"]
    path = request.app.url_path_for(name, **path_params)
    return str(request.scope.get("root_path", "")).rstrip("/") + str(path)


templates.env.globals["url_for"] = url_path_for

# plotly.js (vendor/, 1.5 MB) only changes with a new release of the package: let browsers keep it.
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


@router.get("/", response_class=HTMLResponse)
async def studio(request: Request) -> HTMLResponse:
    """The studio; ``?embed=1&hide=...`` as a frame on another site's page (app/pages/embed.py).
    Its cell menu lists the engine's registered cells, each labelled by its catalogue key."""
    return templates.TemplateResponse(request, "index.html", {
        "version": __version__, "embed": embed_view(request.query_params), "embed_panels": PANELS,
        "cells": list(CELLS)})


@router.get("/worksheet", response_class=HTMLResponse)
def worksheet(request: Request) -> HTMLResponse:
    """The printable worksheet of the scenario in the query and fragment (worksheet.js)."""
    return templates.TemplateResponse(request, "worksheet.html", {"version": __version__})


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(plotly_js_path(), media_type="text/javascript", headers=LONG_CACHE)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")
