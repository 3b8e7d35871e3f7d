"""Browser benchmark of the studio page (make bench-page).

Starts the server as `make run` does, drives the system Chromium with Playwright and prints:
- one step redraw (keypress to the painted frame: the key event, every view's redraw, then the
  next animation frame and the task after it, when the frame has been painted) for an LSTM,
  H = 8, T = 30 trace: median and p95, goal <= 16 ms;
- navigation to the interactive default view (the first trace drawn, handlers attached),
  median of several loads, goal <= 1.5 s;
- bytes of our own JavaScript and CSS (plotly.js aside), goal <= 150 KB uncompressed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

TEXT_31 = "the quick brown fox jumps over "  # 31 characters: T = 30 steps
LSTM_QUERY = f"text={TEXT_31.replace(' ', '+')}&cell=lstm&H=8"
STEP_GOAL_MS = 16.0
LOAD_GOAL_S = 1.5
BYTES_GOAL = 150 * 1024

# One step, as the browser handles a real key: at the start of a frame (input is dispatched
# frame-aligned), the keydown runs every view's redraw, then the frame's style, layout and
# paint; the message posted from the same frame is handled right after that frame is painted.
STEP = """() => new Promise((resolve) => requestAnimationFrame(() => {
    const t0 = performance.now();
    document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(performance.now() - t0);
    channel.port2.postMessage(0);
}))"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def own_bytes_on_disk() -> int:
    files = [*(ROOT / "static" / "js").rglob("*.js"), *(ROOT / "static" / "css").rglob("*.css")]
    return sum(f.stat().st_size for f in files)


def own_bytes_loaded(page, base: str) -> tuple[int, list[str]]:
    """Uncompressed bytes of our JS and CSS that the default view downloads (plotly.js aside)."""
    sizes: dict[str, int] = {}

    def record(response) -> None:
        path = response.url.split("?")[0].replace(base, "")
        if path.startswith("/static/") and path.endswith((".js", ".css")):
            sizes[path] = len(response.body())

    page.on("response", record)
    page.goto(f"{base}/")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", record)
    return sum(sizes.values()), sorted(sizes)


def measure_steps(page, base: str, settle_ms: int, samples: int,
                  scroll_to: str = "") -> list[float]:
    page.goto(f"{base}/?{LSTM_QUERY}")
    page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
    if scroll_to:
        page.locator(scroll_to).scroll_into_view_if_needed()
    n = page.evaluate("window.bpttStudio.index.events.length")
    assert page.evaluate("window.bpttStudio.index.T") == 30
    # draw the charts once (they load when in view), then step where the scroll says
    page.locator("#charts").scroll_into_view_if_needed()
    page.wait_for_selector("#charts[data-ready=true]", timeout=30_000)
    page.evaluate("window.scrollTo(0, 0)")
    times: list[float] = []
    while len(times) < samples:
        if page.evaluate("Number(document.body.dataset.eventIndex)") >= n - 1:
            page.evaluate("window.bpttStudio.goTo(0)")
            page.wait_for_timeout(settle_ms)
        times.append(page.evaluate(STEP))
        if settle_ms:
            page.wait_for_timeout(settle_ms)
    return times


def measure_load(page, base: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        page.goto(f"{base}/")
        page.wait_for_selector("#studio[data-ready=true]", timeout=30_000)
        # performance.now() counts from the start of the navigation
        times.append(page.evaluate("performance.now()") / 1000)
    return times


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("bench-page: no Chromium on PATH (apt-get install -y chromium)")
        return 2
    proc, base = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", lambda route: route.continue_())  # no HTTP cache: see every body
            loaded, loaded_files = own_bytes_loaded(page, base)
            page.unroute("**/*")
            measure_load(page, base, 1)  # warm the HTTP cache and the server once
            loads = measure_load(page, base, 7)
            settled = measure_steps(page, base, settle_ms=220, samples=60)
            rapid = measure_steps(page, base, settle_ms=0, samples=150)
            heat = measure_steps(page, base, settle_ms=220, samples=40, scroll_to="#heatmaps")
            browser.close()
    finally:
        stop_server(proc)

    step_med, step_p95 = statistics.median(settled), percentile(settled, 0.95)
    rapid_med, rapid_p95 = statistics.median(rapid), percentile(rapid, 0.95)
    heat_med, heat_p95 = statistics.median(heat), percentile(heat, 0.95)
    load_med = statistics.median(loads)
    size = own_bytes_on_disk()
    print("BPTT Studio page benchmark (Chromium, 1280x800, loopback)")
    goal = STEP_GOAL_MS
    print(f"  step redraw, LSTM H=8 T=30, charts settled: median {step_med:6.2f} ms "
          f"{verdict(step_med <= goal)}   p95 {step_p95:6.2f} ms {verdict(step_p95 <= goal)}"
          f"   goal <= {goal:.0f} ms")
    print(f"  step redraw, key held (charts deferred):    median {rapid_med:6.2f} ms "
          f"{verdict(rapid_med <= goal)}   p95 {rapid_p95:6.2f} ms {verdict(rapid_p95 <= goal)}"
          f"   goal <= {goal:.0f} ms")
    print(f"  step redraw, heatmaps scrolled into view:   median {heat_med:6.2f} ms      "
          f"p95 {heat_p95:6.2f} ms        (information)")
    print(f"  machine load average during the run: {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (timings grow with load)")
    print(f"  navigation to interactive default view:    median {load_med:6.3f} s    "
          f"max {max(loads):6.3f} s    goal <= {LOAD_GOAL_S} s    "
          f"{verdict(load_med <= LOAD_GOAL_S)}")
    print(f"  our JS + CSS loaded by the default view: {loaded:,} bytes ({loaded / 1024:.1f} KB) "
          f"in {len(loaded_files)} files   goal <= 150 KB   {verdict(loaded <= BYTES_GOAL)}")
    print(f"  our JS + CSS on disk, every language and module: {size:,} bytes "
          f"({size / 1024:.1f} KB)   (information)")
    if errors:
        print(f"  console errors: {len(errors)} (first: {errors[0]})")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
