"""The registries the tests parametrise over, read from where the product keeps them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bptt_studio.endpoints.registry import COMPUTATIONS

ROOT = Path(__file__).resolve().parent.parent

# The page's languages: one catalogue each, static/js/i18n/<lang>.js (English first, the one
# every other catalogue is checked against).
LANGUAGES = sorted((path.name.removesuffix(".js") for path in (ROOT / "static/js/i18n")
                    .glob("*.js") if not path.name.endswith(".article.js")),
                   key=lambda lang: (lang != "en", lang))

# The API's POST endpoints (app/endpoints/registry.py), by path under /api/v1.
POST_ENDPOINTS = list(COMPUTATIONS)
# What a small request of each POST endpoint adds to the engine's request: its required
# options, and a few passes where it trains (an endpoint left out takes the request alone).
ENDPOINT_OPTIONS: dict[str, dict[str, Any]] = {
    "train": {"iterations": 5, "record_every": 2},
    "neuron": {"t": 2, "unit": 1},
    "sample": {"iterations": 5, "length": 12},
}
