"""A stacked network's trace against PyTorch doing the same work (make bench).

The engine's recorded pass of a stack: a 2-layer LSTM, H = 64, n = 8 sequences of T = 100
characters (D = K = 27, one-hot, cross-entropy at every step, reduction "mean", full BPTT,
no diagnostics), every layer's and example's forward and backward events and each update's
shares recorded. Its peer, measured in the same run and interleaved with it:

    torch      torch.nn.LSTM(27, 64, num_layers=2, batch_first=True) in fp64 over the
               (8, 100, 27) batch with the engine's initial parameters, the output layer over
               every step, cross-entropy (reduction "mean") and one backward pass, the top
               layer's h(t) gradients retained: what a PyTorch user runs for one batch of a
               stack; one thread. Its gradients are checked equal to the engine's first.
    1 layer    the engine on the same batch with one layer: what the second layer adds.

Figures: the median wall time and CPU time of one call, the engine's peak memory over one
call (tracemalloc) and the cost model's estimate, and the ratios. The torch column is skipped,
with a message, where torch is not importable (BENCH_PYTHON=/path/to/python-with-torch make
bench). A bidirectional stack is not in the engine yet: this is the 2-layer LSTM alone.
"""

from __future__ import annotations

import os

# One BLAS thread, as the server's computation processes run (app/serving/runner.py).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_batch import H, N, T, peak_bytes, texts, timed, torch  # noqa: E402

from engine import plan, run_trace  # noqa: E402
from engine.planning.cost import Output, estimate  # noqa: E402

LAYERS = 2
GATES = ("i", "f", "g", "o")  # torch's order of an LSTM's stacked gates
# The stack's trace against one PyTorch forward and backward of the same batch and stack: the
# same bound as the one-layer batch's (bench_batch.py).
GOAL = {"trace/torch": 3.0}


def request(layers: int = LAYERS) -> dict[str, Any]:
    return {"cell": "lstm", "hidden_size": H, "num_layers": layers, "reduction": "mean",
            "diagnostics": False, "data": {"batch": [{"text": text} for text in texts()]}}


def torch_runner(params: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Callable[[], dict]]:
    """(one forward and backward pass, the gradients under the engine's names) of nn.LSTM
    holding the engine's initial parameters (torch's bias_hh zero: the engine has one b)."""
    assert torch is not None
    dtype = torch.float64
    lstm = torch.nn.LSTM(27, H, num_layers=LAYERS, batch_first=True, dtype=dtype)
    with torch.no_grad():
        for layer in range(1, LAYERS + 1):
            s, j = ("" if layer == 1 else f"_l{layer}"), layer - 1
            stacked = {kind: torch.tensor(np.concatenate([params[f"{kind}_{g}{s}"]
                                                          for g in GATES]))
                       for kind in "UWb"}
            getattr(lstm, f"weight_ih_l{j}").copy_(stacked["U"])
            getattr(lstm, f"weight_hh_l{j}").copy_(stacked["W"])
            getattr(lstm, f"bias_ih_l{j}").copy_(stacked["b"])
            getattr(lstm, f"bias_hh_l{j}").zero_()
    V = torch.tensor(params["V"], requires_grad=True)
    b_y = torch.tensor(params["b_y"], requires_grad=True)
    vocab = sorted(set("".join(texts())))
    ids = torch.tensor([[vocab.index(ch) for ch in text] for text in texts()])  # (N, T + 1)
    X = torch.nn.functional.one_hot(ids[:, :-1], 27).to(dtype)  # (N, T, 27)
    y = ids[:, 1:].reshape(-1)
    parameters = [*lstm.parameters(), V, b_y]

    def run() -> None:
        for p in parameters:
            p.grad = None
        hs, _ = lstm(X)  # (N, T, H): the top layer's
        hs.retain_grad()  # dL/dh(t) of every example and step, as the trace shows them
        o = hs @ V.T + b_y
        loss = torch.nn.functional.cross_entropy(o.reshape(-1, 27), y, reduction="mean")
        loss.backward()

    def grads() -> dict[str, np.ndarray]:
        out = {"V": V.grad.numpy(), "b_y": b_y.grad.numpy()}
        for layer in range(1, LAYERS + 1):
            s, j = ("" if layer == 1 else f"_l{layer}"), layer - 1
            for kind, name in (("U", "weight_ih"), ("W", "weight_hh"), ("b", "bias_ih")):
                stacked = getattr(lstm, f"{name}_l{j}").grad.numpy()
                for k, g in enumerate(GATES):
                    out[f"{kind}_{g}{s}"] = stacked[k * H:(k + 1) * H]
        return out

    return run, grads


def main() -> None:
    stack, single = request(), request(1)
    result = run_trace(stack)
    fns: dict[str, Callable[[], Any]] = {
        "trace": lambda: run_trace(stack),
        "1 layer": lambda: run_trace(single),
    }
    if torch is not None:
        torch.set_num_threads(1)
        run, grads = torch_runner({k: np.asarray(v) for k, v in result["params"].items()})
        run()
        theirs = grads()
        for name, ours in result["updates"][0]["grads"].items():  # the same numbers first
            np.testing.assert_allclose(ours, theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
        fns["torch"] = run
    else:
        print(f"torch column skipped: torch is not importable from {sys.executable}")
    times = timed(fns, budget=8.0)
    peak = peak_bytes(lambda: run_trace(stack))
    cost = estimate(plan(stack).work, Output(form="json", detail="full"))
    print(f"stack: LSTM, {LAYERS} layers, H = {H}, n = {N}, T = {T}, D = K = 27, reduction "
          f"mean, full BPTT, diagnostics off, fp64; medians")
    print()
    print("| column | wall ms | CPU ms |")
    print("|---|---|---|")
    for name, (w, c) in times.items():
        print(f"| {name} | {w * 1e3:.1f} | {c * 1e3:.1f} |")
    print()
    print(f"engine peak memory over one call (tracemalloc): {peak / 1e6:.1f} MB; the cost "
          f"model's estimate of the request (JSON, full): {cost.cpu_seconds:.2f} CPU-s, "
          f"{cost.peak_bytes / 1e6:.0f} MB")
    print(f"trace/1 layer = {times['trace'][1] / times['1 layer'][1]:.2f} (CPU)")
    if "torch" in times:
        ratio = times["trace"][1] / times["torch"][1]
        verdict = "PASS" if ratio <= GOAL["trace/torch"] else "MISS"
        print(f"trace/torch = {ratio:.2f} (CPU; goal <= {GOAL['trace/torch']}) {verdict}; "
              f"the gradients were checked equal to torch's first (rtol 1e-9)")


if __name__ == "__main__":
    main()
