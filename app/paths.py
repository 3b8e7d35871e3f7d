"""Where the app finds its templates, static files and the installed plotly.js."""

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


@lru_cache
def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed plotly Python package (never a CDN)."""
    path = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path
