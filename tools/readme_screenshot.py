"""The README's picture: the studio at a backward step, 1366 x 768, in English.

    .venv/bin/python tools/readme_screenshot.py        # writes docs/img/studio.png

Starts the server as the browser tests do (tests/conftest.py) and photographs the page in
Debian's Chromium; run it again when the page's look changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

# The LSTM on "machine" at the backward step of t = 5: both error sources on the network,
# the equation with its numbers, the accumulators filling.
SCENE = "/?cell=lstm&e=8&lang=en"
OUT = ROOT / "docs" / "img" / "studio.png"


def main() -> None:
    proc, base = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(base + SCENE)
            page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
            page.wait_for_timeout(1500)  # the heatmaps and the equation settle
            OUT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT))
            browser.close()
    finally:
        stop_server(proc)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
