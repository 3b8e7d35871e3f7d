"""Vanilla RNN cell: one step forward (records a cache) and one step backward (reads it).

Forward, for one step t (column vectors):
    a(t) = W h(t-1) + U x(t) + b                  W: (H, H), U: (H, D), b: (H,)
    h(t) = phi(a(t))                              phi in {tanh, relu, sigmoid}
Backward, given dh(t) = dh_out(t) + dh_next(t) (the whole error reaching h(t)):
    delta(t)   = phi'(a(t)) * dh(t)               phi' read from the saved h(t) (or a(t) for relu)
    dh_prev(t) = W^T delta(t)                     this is dh_next(t-1), the error sent back
    contributions: dW += delta(t) h(t-1)^T,  dU += delta(t) x(t)^T,  db += delta(t)

``U x(t) + b`` does not depend on the recurrence, so ``input_projection`` forms it for all
steps of a chunk in one product; the per-step contributions are outer products of recorded
vectors (``GRAD_FACTORS``), summed for a window in one matrix product by the schedule.

Steps run forward one at a time; ``finish_forward`` then adds, for a block of steps at once,
the factors the backward step multiplies the error by (they do not depend on the error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.nonlinear import sigmoid

# parameter -> (the delta it takes, the recorded vector it multiplies; None for a bias)
GRAD_FACTORS = {"W": ("delta", "h_prev"), "U": ("delta", "x"), "b": ("delta", None)}
DELTA_KEYS = ("delta",)



def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh, "relu": _relu, "sigmoid": sigmoid}


def derivative(activation: str, a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """phi'(a) from saved values: 1 - h^2, h (1 - h), or [a > 0]."""
    if activation == "tanh":
        return 1.0 - h * h
    if activation == "sigmoid":
        return h * (1.0 - h)
    return (a > 0.0).astype(float)


def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> dict[str, Any]:
    """The matrices one step needs, once per parameter version."""
    return {"W": params["W"],
            "U": params["U"], "b": params["b"], "activation": activation}


def input_projection(packed: dict[str, Any], X: np.ndarray) -> np.ndarray:
    return X @ packed["U"].T + packed["b"]  # (n, H): U x(t) + b for every step


def step_forward(packed: dict[str, Any], ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    (h_prev,) = state_prev
    a = packed["W"] @ h_prev + ux_t  # (H,)
    h = ACTIVATIONS[packed["activation"]](a)  # (H,)
    return {"h_prev": h_prev, "a": a, "h": h}


def finish_forward(packed: dict[str, Any], caches: list[dict[str, np.ndarray]]) -> None:
    """Add phi'(a(t)) to each cache, over a block of steps at once (it does not depend on
    the error, so the backward step is one product and one vector-matrix product)."""
    a = np.array([cache["a"] for cache in caches])  # (n, H)
    h = np.array([cache["h"] for cache in caches])  # (n, H)
    for cache, dphi in zip(caches, derivative(packed["activation"], a, h), strict=True):
        cache["dphi"] = dphi


def state_of(cache: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"],)


def step_backward(packed: dict[str, Any], dstate: tuple[np.ndarray, ...],
                  cache: dict[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh,) -> ((dh_prev,), delta, {})."""
    (dh,) = dstate
    delta = cache["dphi"] * dh  # (H,) phi'(a(t)) * dh(t), phi' from finish_forward
    dh_prev = delta @ packed["W"]  # (H,)
    return (dh_prev,), delta, {}


def input_grad(packed: dict[str, Any], stacked_delta: np.ndarray) -> np.ndarray:
    """dL/dx(t) for every step of a window: U^T delta(t), as rows."""
    return stacked_delta @ packed["U"]  # (n, D)
