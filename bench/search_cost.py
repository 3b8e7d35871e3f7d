"""A randomized search for requests the cost model prices under their cost (`make bench-cost`).

The cost model (engine/cost.py) must be an upper bound of what an accepted request takes: the
server admits by it, and a request priced under its cost runs into the deadline (and takes
from everyone) instead of being refused. The fixed corners of tests/test_cost_sweep.py and
bench/calibrate_cost.py missed the adversarial ones (overlapping windows under /train, a CSV
export of overlapping windows); this search draws requests at random, biased to those corners
(a small k1 with a large k2, many iterations, CSV, full detail), pushes each to the edge of
the budget (the most iterations, or the largest hidden size, the default limits accept) and
measures it in a fresh process as the server runs it (bench/calibrate_cost.py's child: one
BLAS thread, CPU seconds and peak memory). It prints every request's measured / estimated
ratios, worst first, and PASS when none is over 1.

    .venv/bin/python bench/search_cost.py [--samples 24] [--seed 23] [--jobs 2]

CPU seconds are inflated by a busy machine (caches and memory bandwidth shared): compare the
ratios of one run, and rerun a MISS on a quiet machine before believing it.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_cost import CELL_NAMES, OPTIMIZERS, request_of, run_child  # noqa: E402

ENDPOINT_PATHS = {"trace": "/api/v1/trace", "train": "/api/v1/train",
                  "export/csv": "/api/v1/export/csv", "gradcheck": "/api/v1/gradcheck"}


def judged(endpoint: str, request: dict[str, Any], options: dict[str, Any]
           ) -> tuple[bool, float, float]:
    """(accepted by the default limits, estimated CPU seconds, estimated peak MB)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_api import judge

    return judge(ENDPOINT_PATHS[endpoint], {**request, **options})


def edge(endpoint: str, request: dict[str, Any], options: dict[str, Any]
         ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The request pushed to the edge of the budget: the most iterations (/train) or the
    largest hidden size (the others) the default limits accept; None if none is."""
    def accepted(n: int) -> bool:
        if endpoint == "train":
            return judged(endpoint, request, {**options, "iterations": n})[0]
        return judged(endpoint, {**request, "hidden_size": n}, options)[0]

    low, high = 1, 2000 if endpoint == "train" else 64
    if not accepted(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if accepted(middle) else (low, middle - 1)
    if endpoint == "train":
        return request, {**options, "iterations": low}
    return {**request, "hidden_size": low}, options


def adversarial(rng: np.random.Generator, index: int) -> dict[str, Any] | None:
    """A request near the corners that were priced under their cost, at the budget's edge."""
    cell = str(rng.choice(CELL_NAMES))
    T = int(rng.integers(20, 201))
    D = int(rng.integers(2, min(128, T + 1) + 1))
    k1 = int(rng.choice([1, 1, 1, 2, 3, 5]))
    k2 = int(min(T, k1 + rng.integers(0, T)))
    fields: dict[str, Any] = {"truncation": {"k1": k1, "k2": k2},
                              "optimizer": OPTIMIZERS[str(rng.choice(list(OPTIMIZERS)))],
                              "diagnostics": bool(rng.random() < 0.7)}
    request = request_of(cell, T, D, int(rng.integers(1, 65)), **fields)
    endpoint = str(rng.choice(["train", "train", "export/csv", "trace", "gradcheck"]))
    options: dict[str, Any] = {"detail": str(rng.choice(["auto", "norms", "full"]))}
    if endpoint == "train":
        options = {"iterations": 1, "record_every": 1,
                   "include_trace": bool(rng.random() < 0.3),
                   "detail": str(rng.choice(["auto", "norms"]))}
    if endpoint == "gradcheck":
        options = {}
        request["data"] = {"text": request["data"]["text"][:int(rng.integers(3, 30))]}
    pushed = edge(endpoint, request, options)
    if pushed is None:
        return None
    request, options = pushed
    _, cpu, mb = judged(endpoint, request, options)
    return {"name": f"search {index}: {endpoint} {cell} H={request['hidden_size']} T={T} "
                    f"D={D} BPTT({k1}, {k2})"
                    + (f" x {options['iterations']}" if endpoint == "train" else ""),
            "endpoint": endpoint, "request": request, "options": options, "phases": False,
            "estimate": [cpu, mb]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    specs = []
    index = 0
    while len(specs) < args.samples and index < 20 * args.samples:
        spec = adversarial(rng, index)
        index += 1
        if spec is not None:
            specs.append(spec)
    load1, _, _ = os.getloadavg()
    print(f"search-cost: {len(specs)} requests at the edge of the default budget, each in a "
          f"fresh process ({args.jobs} at a time); load average {load1:.1f}")
    with ThreadPoolExecutor(args.jobs) as pool:
        measured = list(pool.map(run_child, specs))
    rows = sorted(((m["cpu"] / m["estimate"][0], m["peak"] / 2**20 / m["estimate"][1], m)
                   for m in measured), key=lambda row: -max(row[0], row[1]))
    for cpu_ratio, mb_ratio, m in rows:
        print(f"  {m['name']:62s} {m['status']}  {m['cpu']:5.2f} CPU-s / {m['estimate'][0]:4.2f}"
              f" = {cpu_ratio:4.2f}   {m['peak'] / 2**20:5.0f} MB / {m['estimate'][1]:4.0f} = "
              f"{mb_ratio:4.2f}")
    worst_cpu = max(row[0] for row in rows)
    worst_mb = max(row[1] for row in rows)
    ok = worst_cpu <= 1 and worst_mb <= 1
    print(f"  worst measured / estimated: CPU {worst_cpu:.2f}, memory {worst_mb:.2f}   goal "
          f"<= 1 (the model an upper bound) {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
