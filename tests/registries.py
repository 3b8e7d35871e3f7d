"""The registries the tests parametrise over, read from where the product keeps them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The page's languages: one catalogue each, static/js/i18n/<lang>.js (English first, the one
# every other catalogue is checked against).
LANGUAGES = sorted((path.name.removesuffix(".js") for path in (ROOT / "static/js/i18n")
                    .glob("*.js") if not path.name.endswith(".article.js")),
                   key=lambda lang: (lang != "en", lang))
