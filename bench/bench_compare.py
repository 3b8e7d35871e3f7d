"""Browser benchmark of the compare view (issue 13, item 1): what a step costs side by side.

Starts the server as `make run` does and drives the system Chromium at 1920x1080. For each
scenario it opens the single view and each comparison, steps through the trace and prints, in
the same run (these machines are shared: compare ratios, not absolute times):
- main-thread CPU per step (the trace's thread time of every task; unlike wall time it does not
  grow when other processes share the CPUs), median of several rounds;
- the step's wall time (a key at the start of a frame, every view's redraw, that frame's style,
  layout and paint), p50 and p95;
- the time from navigation to every column drawn (median of several loads).

    .venv/bin/python bench/bench_compare.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from bench_page import STEP, percentile, step_cpu  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

# Each scenario: the single views of every set-up a comparison shows, then the comparisons (a
# comparison should cost about the sum of its columns' single views, not more).
SCENARIOS = {
    "recall, T = 20, H = 8": ("preset=long_range", {
        "single view, RNN": "",
        "single view, LSTM": "&cell=lstm",
        "single view, GRU": "&cell=gru",
        "compare=cell (3 columns)": "&compare=cell",
        "single view, full BPTT": "",
        "single view, BPTT(3, 3)": "&k1=3",
        "compare=truncation (2 columns)": "&compare=truncation",
    }),
    "text, T = 30, H = 8": ("text=the+quick+brown+fox+jumps+over+&H=8", {
        "single view, RNN": "",
        "single view, LSTM": "&cell=lstm",
        "single view, GRU": "&cell=gru",
        "compare=cell (3 columns)": "&compare=cell",
    }),
}
ROUNDS = 3
STEPS = 20
LOADS = 3


def ready(page, compare: bool) -> None:
    page.wait_for_selector("#studio[data-ready=true]", timeout=60_000)
    if compare:
        page.wait_for_selector("body[data-compare]", timeout=60_000)
    page.wait_for_timeout(300)


def measure(page, cdp, base: str, query: str) -> dict:
    compare = "compare=" in query
    loads = []
    for _ in range(LOADS):
        start = time.perf_counter()
        page.goto(f"{base}/?{query}")
        ready(page, compare)
        loads.append(time.perf_counter() - start - 0.3)
    cpu, wall = [], []
    for _ in range(ROUNDS):
        page.evaluate("window.bpttStudio.goTo(0)")
        page.wait_for_timeout(200)
        cpu.append(step_cpu(page, cdp, STEPS))
        page.evaluate("window.bpttStudio.goTo(0)")
        page.wait_for_timeout(200)
        wall += [page.evaluate(STEP) for _ in range(STEPS)]
    return {"cpu": statistics.median(cpu), "p50": percentile(wall, 0.5),
            "p95": percentile(wall, 0.95), "load": statistics.median(loads)}


def main() -> int:
    proc, base = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            cdp = page.context.new_cdp_session(page)
            for name, (scenario, views) in SCENARIOS.items():
                print(f"\n{name}")
                singles = 0.0
                for view, extra in views.items():
                    r = measure(page, cdp, base, scenario + extra)
                    against = ""
                    if view.startswith("single"):
                        singles += r["cpu"]
                    else:
                        against = f"({r['cpu'] / singles:.2f}x the sum of its single views)"
                        singles = 0.0
                    print(f"  {view:31s} CPU/step {r['cpu']:5.1f} ms   step p50 {r['p50']:5.1f}"
                          f" ms, p95 {r['p95']:5.1f} ms   drawn {r['load'] * 1000:5.0f} ms"
                          f"   {against}")
            browser.close()
    finally:
        stop_server(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
