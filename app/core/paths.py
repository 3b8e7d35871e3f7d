"""Where the app finds its templates, its static files and plotly.js.

Installed from a wheel, static/, templates/ and vendor/ lie inside the package
(bptt_studio/static); in the repository (an editable install, the tests) they lie beside app/.

plotly.js is the npm package plotly.js-cartesian-dist-min (the partial bundle with the heatmap,
scatter and bar traces the page draws), kept in vendor/ with its version, npm integrity and
license beside it (plotly.js.json; ``make plotly-js`` fetches it again). It is 1.5 MB where
the full bundle of the plotly Python package was 4.8 MB (and that package 64 MB installed), and
Chromium spends about half the time parsing and running it.
"""

from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # bptt_studio (app/), above core/


def _data_dir(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


TEMPLATES_DIR = _data_dir("templates")
STATIC_DIR = _data_dir("static")
VENDOR_DIR = _data_dir("vendor")


@lru_cache
def plotly_js_path() -> Path:
    """The plotly.js bundle served at /vendor/plotly.min.js (never a CDN)."""
    path = VENDOR_DIR / "plotly-cartesian.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js not found at {path}: the package was installed "
                                f"without its vendor/ data")
    return path
