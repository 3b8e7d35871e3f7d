"""A mini-batch's trace against PyTorch doing the same work (make bench).

The engine's recorded pass of a mini-batch: an LSTM, H = 64, n = 8 sequences of T = 100
characters (D = K = 27, one-hot, cross-entropy at every step, reduction "mean", full BPTT, no
diagnostics), every example's forward and backward events and each update's shares recorded.
Its peer, measured in the same run and interleaved with it:

    torch      torch.nn.LSTM(27, 64, batch_first=True) in fp64 over the (8, 100, 27) batch,
               the output layer over every step, nn.CrossEntropyLoss(reduction="mean") and
               one backward pass, with every h(t)'s gradient retained (the numbers a trace
               shows): what a PyTorch user runs for one batch; one thread.
    per-ex.    the engine on the 8 sequences one at a time (8 traces of one sequence): the
               batch's own cost above the sum of its examples' is the shares' bookkeeping.

Figures: the median wall time and CPU time of one call (time.perf_counter and
time.process_time over blocks of calls), the engine's peak memory over one call (tracemalloc,
which NumPy reports its arrays to) and its estimate by the cost model (engine/planning/cost.py),
and the ratios. The torch column is skipped, with a message, where torch is not importable
(BENCH_PYTHON=/path/to/python-with-torch make bench).
"""

from __future__ import annotations

import os

# One BLAS thread, as the server's computation processes run (app/serving/runner.py): CPU time
# is then the time of one core, and the two columns compare the same kind of work.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import statistics  # noqa: E402
import string  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import plan, run_trace  # noqa: E402
from engine.planning.cost import Output, estimate  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

ALPHABET = string.ascii_lowercase + " "  # 27 symbols
H, T, N = 64, 100, 8
# The batch's trace against one PyTorch forward and backward of the same batch with every
# h(t)'s gradient kept: the engine records every example's per-step numbers, PyTorch runs
# its fused loop; this bound says how much the record may cost over it.
GOAL = {"trace/torch": 3.0}


def texts() -> list[str]:
    """N texts of T + 1 characters; together they use all 27 symbols (D = K = 27)."""
    rng = np.random.default_rng(0)
    out = []
    for e in range(N):
        symbols = list(ALPHABET)
        rng.shuffle(symbols)
        rest = rng.choice(list(ALPHABET), size=T + 1 - len(symbols))
        out.append("".join(symbols) + "".join(rest) if e == 0
                   else "".join(rng.choice(list(ALPHABET), size=T + 1)))
    return out


def batch_request() -> dict[str, Any]:
    return {"cell": "lstm", "hidden_size": H, "reduction": "mean", "diagnostics": False,
            "data": {"batch": [{"text": text} for text in texts()]}}


def per_example_requests() -> list[dict[str, Any]]:
    """Each example alone, as one sequence over the batch's vocabulary (explicit one-hot
    rows), so that its shapes and numbers are the batch's."""
    vocab = sorted(set("".join(texts())))
    requests = []
    for text in texts():
        inputs = [[1.0 if symbol == ch else 0.0 for symbol in vocab] for ch in text[:-1]]
        requests.append({"cell": "lstm", "hidden_size": H, "reduction": "mean",
                         "diagnostics": False, "output_size": len(vocab),
                         "data": {"inputs": inputs,
                                  "targets": [vocab.index(ch) for ch in text[1:]]}})
    return requests


def torch_runner() -> Callable[[], Any]:
    assert torch is not None
    torch.manual_seed(0)
    dtype = torch.float64
    lstm = torch.nn.LSTM(27, H, batch_first=True, dtype=dtype)
    out = torch.nn.Linear(H, 27, dtype=dtype)
    vocab = sorted(set("".join(texts())))
    ids = torch.tensor([[vocab.index(ch) for ch in text] for text in texts()])  # (N, T + 1)
    X = torch.nn.functional.one_hot(ids[:, :-1], 27).to(dtype)  # (N, T, 27)
    y = ids[:, 1:].reshape(-1)
    parameters = [*lstm.parameters(), *out.parameters()]

    def run() -> None:
        for p in parameters:
            p.grad = None
        hs, _ = lstm(X)  # (N, T, H)
        hs.retain_grad()  # dL/dh(t) of every example and step, as the trace shows them
        o = out(hs)
        loss = torch.nn.functional.cross_entropy(o.reshape(-1, 27), y, reduction="mean")
        loss.backward()

    return run


def timed(fns: dict[str, Callable[[], Any]], budget: float) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median CPU seconds) of one call of each, in interleaved rounds."""
    for fn in fns.values():
        fn()  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < 5 or time.perf_counter() - start < budget:
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
        rounds += 1
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
            for name in fns}


def print_table(times: dict[str, tuple[float, float]]) -> None:
    """The medians as a Markdown table (what docs/BENCHMARKS.md quotes)."""
    print()
    print("| column | wall ms | CPU ms |")
    print("|---|---|---|")
    for name, (w, c) in times.items():
        print(f"| {name} | {w * 1e3:.1f} | {c * 1e3:.1f} |")
    print()


def peak_bytes(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    request = batch_request()
    singles = per_example_requests()
    # the per-example column computes the batch's numbers: each share is its example's
    # gradient over n (reduction mean over n x T terms against T terms)
    batch = run_trace(request)
    for e, single in enumerate(singles):
        alone = run_trace(single)["updates"][0]["grads"]
        share = batch["updates"][0]["shares"][e]["grads"]
        for name in share:
            np.testing.assert_allclose(share[name] * N, alone[name], rtol=1e-9, atol=1e-12)
    fns: dict[str, Callable[[], Any]] = {
        "trace": lambda: run_trace(request),
        "per-ex.": lambda: [run_trace(single) for single in singles],
    }
    if torch is not None:
        torch.set_num_threads(1)
        fns["torch"] = torch_runner()
    else:
        print(f"torch column skipped: torch is not importable from {sys.executable}")
    times = timed(fns, budget=8.0)
    peak = peak_bytes(lambda: run_trace(request))
    cost = estimate(plan(request).work, Output(form="json", detail="full"))
    print(f"mini-batch: LSTM, H = {H}, n = {N}, T = {T}, D = K = 27, reduction mean, full BPTT, "
          f"diagnostics off, fp64; medians")
    print_table(times)
    print(f"engine peak memory over one call (tracemalloc): {peak / 1e6:.1f} MB; the cost "
          f"model's estimate of the request (JSON, full): {cost.cpu_seconds:.2f} CPU-s, "
          f"{cost.peak_bytes / 1e6:.0f} MB")
    print(f"trace/per-ex. = {times['trace'][1] / times['per-ex.'][1]:.2f} (CPU)")
    if "torch" in times:
        ratio = times["trace"][1] / times["torch"][1]
        verdict = "PASS" if ratio <= GOAL["trace/torch"] else "MISS"
        print(f"trace/torch = {ratio:.2f} (CPU; goal <= {GOAL['trace/torch']}) {verdict}")


if __name__ == "__main__":
    main()
