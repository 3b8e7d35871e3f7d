"""Where the app finds its templates, static files and the installed plotly.js.

Installed from a wheel, static/ and templates/ lie inside the package (bptt_studio/static);
in the repository (an editable install, the tests) they lie beside app/.
"""

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


TEMPLATES_DIR = _data_dir("templates")
STATIC_DIR = _data_dir("static")


@lru_cache
def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed plotly Python package (never a CDN)."""
    path = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path
