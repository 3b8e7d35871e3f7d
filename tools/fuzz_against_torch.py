"""Random requests, the engine against the PyTorch reference of tools/make_golden.py.

The golden files pin 29 chosen cases; this draws as many random ones as asked (cell,
activation, loss, placement, reduction, BPTT(k1, k2) including k2 > T, optimizer, clipping,
explicit or zero initial state, parameter scale) and compares every step loss, the pass loss,
and for every update the window, the raw and clipped gradients, the parameters after and the
error left at the window's start. Needs torch (like make_golden.py; the engine needs numpy):

    TORCH_PYTHON=/work/torchvenv/bin/python make fuzz-torch
    /work/torchvenv/bin/python tools/fuzz_against_torch.py --cases 600 --seed 2

Prints the worst error (max |engine - torch| over max(1, max |torch|) per array) and every case
over the tolerance; exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import make_golden as reference  # noqa: E402  (imports torch)

from engine import run_trace  # noqa: E402

TOLERANCE = 1e-9


def random_request(rng: random.Random, index: int) -> dict[str, Any]:
    T = rng.randint(2, 9)
    k1 = rng.randint(1, T)
    truncation = None if rng.random() < 0.3 else (k1, rng.randint(k1, T + 2))
    clip = rng.choice([None, {"mode": "norm", "max": rng.choice([0.05, 1.0])},
                       {"mode": "value", "max": 0.02}])
    return reference.make_request(
        f"fuzz-{index}-{rng.random()}", cell=rng.choice(["rnn", "lstm", "gru"]),
        H=rng.randint(1, 6), T=T, D=rng.randint(1, 5), K=rng.randint(2, 5),
        activation=rng.choice(["tanh", "relu", "sigmoid"]),
        loss=rng.choice(["cross_entropy", "mse"]), loss_at=rng.choice(["every", "last"]),
        reduction=rng.choice(["sum", "mean"]), truncation=truncation,
        optimizer=rng.choice([reference.SGD, reference.MOMENTUM, reference.ADAGRAD,
                              reference.ADAM]),
        clip=clip, h0=rng.random() < 0.7, c0=rng.random() < 0.7,
        scale=rng.choice([0.5, 0.9, 1.5]))


def scaled_error(got: Any, want: Any) -> float:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))


def case_error(request: dict[str, Any]) -> float:
    want = reference.run_pass(request)
    got = run_trace(request)
    errors = [scaled_error(got["step_losses"], want["step_losses"]),
              scaled_error([got["loss"]], [want["loss"]])]
    if len(got["updates"]) != len(want["updates"]):
        return float("inf")
    for mine, theirs in zip(got["updates"], want["updates"], strict=True):
        if list(mine["window"]) != theirs["window"]:
            return float("inf")
        for key in ("grads", "clipped_grads", "params_after"):
            errors += [scaled_error(mine[key][name], theirs[key][name]) for name in theirs[key]]
        errors.append(scaled_error(mine["dh_start"], theirs["dh_start"]))
    return max(errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    worst, failures = 0.0, 0
    for index in range(args.cases):
        request = random_request(rng, index)
        error = case_error(request)
        worst = max(worst, error)
        if not error <= TOLERANCE:
            failures += 1
            print(f"case {index}: error {error:.3g}:", {k: request.get(k) for k in (
                "cell", "activation", "truncation", "loss", "loss_at", "reduction",
                "optimizer", "clip")})
    print(f"{args.cases} random requests against torch {reference.torch.__version__}: "
          f"worst error {worst:.3g} (tolerance {TOLERANCE:g}), {failures} over it")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
