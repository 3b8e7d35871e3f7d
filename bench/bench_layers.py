"""Stacked and bidirectional networks' traces against PyTorch doing the same work (make bench).

The engine's recorded pass of a 2-layer LSTM, one way and bidirectional, H = 64, n = 8
sequences of T = 100 characters (D = K = 27, one-hot, cross-entropy at every step, reduction
"mean", full BPTT, no diagnostics), every unit's and example's forward and backward events and
each update's shares recorded. Its peer, measured in the same run and interleaved with it:

    torch      torch.nn.LSTM(27, 64, num_layers=2, bidirectional=..., batch_first=True) in
               fp64 over the (8, 100, 27) batch with the engine's initial parameters, the
               output layer over every step, cross-entropy (reduction "mean") and one
               backward pass, the top layer's h(t) gradients retained: what a PyTorch user
               runs for one batch; one thread. Its gradients are checked equal to the
               engine's first.
    1 layer    the engine on the same batch with one layer, one way: what depth and direction
               add.

Figures: the median wall time and CPU time of one call, the engine's peak memory over one
call (tracemalloc) and the cost model's estimate, and the ratios. The torch column is skipped,
with a message, where torch is not importable (BENCH_PYTHON=/path/to/python-with-torch make
bench).
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

from bench_batch import H, N, T, peak_bytes, print_table, texts, timed, torch  # noqa: E402

from engine import plan, run_trace  # noqa: E402
from engine.planning.cost import Output, estimate  # noqa: E402

LAYERS = 2
GATES = ("i", "f", "g", "o")  # torch's order of an LSTM's stacked gates
# The stack's trace against one PyTorch forward and backward of the same batch and stack: the
# same bound as the one-layer batch's (bench_batch.py).
GOAL = {"trace/torch": 3.0}


def request(layers: int = LAYERS, bidirectional: bool = False) -> dict[str, Any]:
    return {"cell": "lstm", "hidden_size": H, "num_layers": layers, "reduction": "mean",
            "bidirectional": bidirectional, "diagnostics": False,
            "data": {"batch": [{"text": text} for text in texts()]}}


def units(bidirectional: bool) -> list[tuple[str, str]]:
    """(the engine's suffix, torch's) of every unit: layer j's _l<j> and _l<j-1>, the reverse
    direction's _rev and _reverse."""
    return [(("" if layer == 1 else f"_l{layer}") + ("_rev" if reverse else ""),
             f"_l{layer - 1}" + ("_reverse" if reverse else ""))
            for layer in range(1, LAYERS + 1)
            for reverse in ((False, True) if bidirectional else (False,))]


def torch_runner(params: dict[str, np.ndarray], bidirectional: bool
                 ) -> tuple[Callable[[], Any], Callable[[], dict]]:
    """(one forward and backward pass, the gradients under the engine's names) of nn.LSTM
    holding the engine's initial parameters (torch's bias_hh zero: the engine has one b)."""
    assert torch is not None
    dtype = torch.float64
    lstm = torch.nn.LSTM(27, H, num_layers=LAYERS, batch_first=True, dtype=dtype,
                         bidirectional=bidirectional)
    with torch.no_grad():
        for ours, theirs in units(bidirectional):
            stacked = {kind: torch.tensor(np.concatenate([params[f"{kind}_{g}{ours}"]
                                                          for g in GATES]))
                       for kind in "UWb"}
            getattr(lstm, f"weight_ih{theirs}").copy_(stacked["U"])
            getattr(lstm, f"weight_hh{theirs}").copy_(stacked["W"])
            getattr(lstm, f"bias_ih{theirs}").copy_(stacked["b"])
            getattr(lstm, f"bias_hh{theirs}").zero_()
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
        hs, _ = lstm(X)  # (N, T, H or 2H): the top layer's
        hs.retain_grad()  # dL/dh(t) of every example and step, as the trace shows them
        o = hs @ V.T + b_y
        loss = torch.nn.functional.cross_entropy(o.reshape(-1, 27), y, reduction="mean")
        loss.backward()

    def grads() -> dict[str, np.ndarray]:
        out = {"V": V.grad.numpy(), "b_y": b_y.grad.numpy()}
        for ours, theirs in units(bidirectional):
            for kind, name in (("U", "weight_ih"), ("W", "weight_hh"), ("b", "bias_ih")):
                stacked = getattr(lstm, f"{name}{theirs}").grad.numpy()
                for k, g in enumerate(GATES):
                    out[f"{kind}_{g}{ours}"] = stacked[k * H:(k + 1) * H]
        return out

    return run, grads


def main() -> None:
    single = request(1)
    fns: dict[str, Callable[[], Any]] = {"1 layer": lambda: run_trace(single)}
    requests = {"2 layers": request(), "2 layers, bidirectional": request(bidirectional=True)}
    for name, stack in requests.items():
        fns[name] = lambda stack=stack: run_trace(stack)
        if torch is None:
            continue
        torch.set_num_threads(1)
        result = run_trace(stack)
        run, grads = torch_runner({k: np.asarray(v) for k, v in result["params"].items()},
                                  stack["bidirectional"])
        run()
        theirs = grads()
        for param, ours in result["updates"][0]["grads"].items():  # the same numbers first
            np.testing.assert_allclose(ours, theirs[param], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}: {param}")
        fns[f"torch, {name}"] = run
    if torch is None:
        print(f"torch columns skipped: torch is not importable from {sys.executable}")
    times = timed(fns, budget=10.0)
    print(f"stacks: LSTM, H = {H}, n = {N}, T = {T}, D = K = 27, reduction mean, full BPTT, "
          f"diagnostics off, fp64; medians")
    print_table(times)
    for name, stack in requests.items():
        peak = peak_bytes(lambda stack=stack: run_trace(stack))
        cost = estimate(plan(stack).work, Output(form="json", detail="full"))
        line = (f"{name}: engine peak memory over one call (tracemalloc) {peak / 1e6:.1f} MB; "
                f"the cost model's estimate (JSON, full) {cost.cpu_seconds:.2f} CPU-s, "
                f"{cost.peak_bytes / 1e6:.0f} MB; /1 layer = "
                f"{times[name][1] / times['1 layer'][1]:.2f} (CPU)")
        if f"torch, {name}" in times:
            ratio = times[name][1] / times[f"torch, {name}"][1]
            verdict = "PASS" if ratio <= GOAL["trace/torch"] else "MISS"
            line += (f"; trace/torch = {ratio:.2f} (CPU; goal <= {GOAL['trace/torch']}) "
                     f"{verdict}, the gradients checked equal to torch's first (rtol 1e-9)")
        print(line)


if __name__ == "__main__":
    main()
