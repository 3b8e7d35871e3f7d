"""Norms instead of matrices: a trace whose parameter-shaped arrays are reduced to their norms.

A recorded pass carries, at every backward step, each parameter's contribution and running sum
(``contrib`` and ``accum``), and at every update the raw and clipped gradients and the
parameters before and after. Those are T·H² numbers: an LSTM with H = 64 over T = 100 steps
holds about five million of them. ``with_norms`` keeps every vector of the trace (states,
gates, deltas, errors) and replaces each of those matrices by its Frobenius norm

    ||A||_F = sqrt( sum_ij A_ij² )

so the picture "how much did step t add to dW, and how large is the sum so far" survives in
T numbers per parameter. Nothing else is lost: with one-hot inputs the contribution of step t
is delta(t) [h(t-1); x(t)]^T, rebuilt from the vectors the trace keeps.

Norms are computed without overflow or underflow where the plain sum of squares would lose
them (entries above ~1e154 or below ~1e-154 are rescaled by the largest magnitude first); a
matrix holding NaN has norm NaN, one holding an infinity (and no NaN) has norm inf.
Pure NumPy; the result is the same dict shape as ``engine.run_trace`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .lazy import StepGradients, WindowGradients

# Sums of squares inside (TINY, HUGE) are exact enough as they are; outside, rescale first.
_TINY = 1e-290
_HUGE = 1e290

# The parameter-shaped fields: {name: array} mappings replaced by {name: norm}.
EVENT_MATRICES = ("contrib", "accum")
UPDATE_MATRICES = ("grads", "clipped_grads", "params_before", "params_after")


def frobenius(array: Any) -> float:
    """||A||_F of an array of any shape (a vector's Euclidean norm), safe from overflow."""
    a = np.asarray(array, dtype=float)
    if a.size == 0:
        return 0.0
    flat = a.ravel()
    with np.errstate(over="ignore", under="ignore"):
        total = float(flat @ flat)
    if _TINY < total < _HUGE:
        return float(np.sqrt(total))
    scale = float(np.max(np.abs(flat)))
    if scale == 0.0 or not np.isfinite(scale):
        return scale  # 0, inf, or nan (np.max propagates NaN)
    scaled = flat / scale
    return scale * float(np.sqrt(scaled @ scaled))


def row_norms(rows: np.ndarray) -> np.ndarray:
    """||row||_F of each rows[i] (any trailing shape), with the same overflow care."""
    n = rows.shape[0]
    flat = rows.reshape(n, -1)  # (n, m)
    with np.errstate(over="ignore", under="ignore"):
        totals = np.einsum("ij,ij->i", flat, flat)  # (n,)
    norms = np.sqrt(totals)
    unsafe = ~((totals > _TINY) & (totals < _HUGE))
    for i in np.flatnonzero(unsafe):
        norms[i] = frobenius(flat[i])
    return norms


def window_norms(window: WindowGradients) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Norms of every step's contribution and running sum in one window, each (n,) per name.

    Row r of the window is step first + r; the backward pass runs last to first, so the
    running sum after row r is A(r) = sum over s >= r of left(s) right(s)^T. Then

        ||left(r) right(r)^T||_F = ||left(r)|| ||right(r)||
        ||A(r)||_F^2 = sum over s, s' >= r of (left(s) . left(s')) (right(s) . right(s'))

    so two n×n Gram matrices give every running norm without forming the n matrices
    (n·(a+b) work per row instead of a·b). Where that sum may have lost accuracy to
    cancellation (its rounding bound exceeds 1e-10 of it) or to overflow, A(r) is formed
    directly and its norm taken, so every norm is correct to about 1e-10 relative or better.
    Biases (right = None) are summed directly: their running sums are only n×a numbers.
    """
    contrib: dict[str, np.ndarray] = {}
    accum: dict[str, np.ndarray] = {}
    for name, (left, right) in window.factors.items():
        if right is None:
            contrib[name] = row_norms(left)
            accum[name] = row_norms(np.cumsum(left[::-1], axis=0))[::-1]
        else:
            contrib[name] = row_norms(left) * row_norms(right)
            accum[name] = _running_outer_norms(left, right, contrib[name])
    return contrib, accum


def _running_outer_norms(left: np.ndarray, right: np.ndarray, step_norms: np.ndarray,
                         ) -> np.ndarray:
    """||sum over s >= r of left(s) right(s)^T||_F for every row r (see window_norms)."""
    n, a = left.shape
    b = right.shape[1]
    with np.errstate(all="ignore"):  # overflow shows as a non-finite S(r): formed directly
        gram = (left @ left.T) * (right @ right.T)  # (n, n): <C(s), C(s')>
        step = np.diag(gram) + 2.0 * np.triu(gram, 1).sum(axis=1)  # S(r) - S(r+1)
        squares = np.cumsum(step[::-1])[::-1]  # (n,) S(r) = ||A(r)||^2
    # Each Gram entry is off by at most ~(a+b) eps ||C(s)|| ||C(s')||, and the sums add
    # ~2n eps of the same size: the error of S(r) is below (a+b+2n) eps (sum_s ||C(s)||)^2.
    scale = np.cumsum(step_norms[::-1])[::-1]  # (n,)
    bound = (a + b + 2 * n) * np.finfo(float).eps * scale * scale
    norms = np.sqrt(np.maximum(squares, 0.0))
    trusted = np.isfinite(squares) & (squares > _TINY) & (bound <= 1e-10 * squares)
    zero = scale == 0.0  # no contribution at all from row r on: exactly 0
    norms[zero] = 0.0
    for r in np.flatnonzero(~trusted & ~zero):
        norms[r] = frobenius(left[r:].T @ right[r:])  # (a, b) A(r) formed directly
    return norms


def norms(arrays: Mapping[str, Any]) -> dict[str, float]:
    """{name: ||array||_F} of a {name: array} mapping, in its order."""
    return {name: frobenius(value) for name, value in arrays.items()}


def with_norms(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``run_trace`` result with every parameter-shaped array replaced by its norm.

    Replaced: each backward event's ``contrib`` and ``accum``; each update's ``grads``,
    ``clipped_grads``, ``params_before`` and ``params_after``; the initial ``params``. Every
    other field is shared with ``result`` (not copied), so the copy is cheap.
    """
    cache: dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    events = []
    for event in result["events"]:
        if event.get("kind") != "backward":
            events.append(event)
            continue
        event = dict(event)
        for key in EVENT_MATRICES:
            event[key] = _event_norms(event[key], key == "accum", cache)
        events.append(event)
    updates = []
    for update in result["updates"]:
        update = dict(update)
        for key in UPDATE_MATRICES:
            if update.get(key) is not None:
                update[key] = norms(update[key])
        updates.append(update)
    return {**result, "params": norms(result["params"]), "events": events, "updates": updates}


def _event_norms(value: Mapping[str, Any], running: bool,
                 cache: dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
                 ) -> dict[str, float]:
    if isinstance(value, StepGradients):  # the engine's lazy rows: one pass per window
        window, row = value.window, value.row
        if id(window) not in cache:
            cache[id(window)] = window_norms(window)
        table = cache[id(window)][1 if running else 0]
        return {name: float(table[name][row]) for name in value}
    return norms(value)
