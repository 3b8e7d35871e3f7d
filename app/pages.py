"""HTML pages: thin Jinja2 shells; every number on them comes from the API."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from bptt_studio import __version__
from bptt_studio.paths import STATIC_DIR, TEMPLATES_DIR, plotly_js_path

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

# plotly.js is 4.8 MB; it only changes when the package does, so let browsers keep it.
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


@router.get("/", response_class=HTMLResponse)
def studio(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"version": __version__})


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
