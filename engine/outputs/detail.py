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

Norms are computed without overflow or underflow (engine.norms): a matrix holding NaN has
norm NaN, one holding an infinity (and no NaN) has norm inf. Every backward event carries
its running sums' norms in either detail (``accum_norms``); with "norms", ``accum`` holds
the same numbers, read from the same table of its window.
Pure NumPy; the result is the same dict shape as ``engine.run_trace`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..bptt.lazy import StepGradients
from ..bptt.norms import frobenius, row_norms

__all__ = ["EVENT_MATRICES", "UPDATE_MATRICES", "frobenius", "norms", "row_norms",
           "summary", "with_norms"]

# The parameter-shaped fields: {name: array} mappings replaced by {name: norm}.
EVENT_MATRICES = ("contrib", "accum")
UPDATE_MATRICES = ("grads", "clipped_grads", "params_before", "params_after")


def norms(arrays: Mapping[str, Any]) -> dict[str, float]:
    """{name: ||array||_F} of a {name: array} mapping, in its order."""
    return {name: frobenius(value) for name, value in arrays.items()}


def with_norms(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``run_trace`` result with every parameter-shaped array replaced by its norm.

    Replaced: each backward event's ``contrib`` and ``accum``; each update's ``grads``,
    ``clipped_grads``, ``params_before`` and ``params_after`` (and a mini-batch's
    ``shares``' ``grads``); the initial ``params``. Every
    other field is shared with ``result`` (not copied), so the copy is cheap.
    """
    events = []
    for event in result["events"]:
        if event.get("kind") != "backward":
            events.append(event)
            continue
        event = dict(event)
        for key in EVENT_MATRICES:
            event[key] = _event_norms(event[key])
        events.append(event)
    updates = []
    for update in result["updates"]:
        update = dict(update)
        for key in UPDATE_MATRICES:
            if update.get(key) is not None:
                update[key] = norms(update[key])
        if "shares" in update:  # a mini-batch's examples' gradients
            update["shares"] = [{**share, "grads": norms(share["grads"])}
                                for share in update["shares"]]
        updates.append(update)
    return {**result, "params": norms(result["params"]), "events": events, "updates": updates}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """A ``run_trace`` result without its events: the numbers of the whole pass (loss, the
    updates with their matrices' norms, as ``with_norms``, the diagnostics whole). What a
    client that reads only those asks for (the spread of a randomized truncation over seeds
    reads only ``diagnostics.full_vs_truncated``): an LSTM with H = 16 over T = 64 steps is
    about 0.71 MB of JSON with its events' norms, 0.12 MB without them (mostly its two T x T
    flow matrices)."""
    return {**with_norms({**result, "events": []}), "events": []}


def _event_norms(value: Mapping[str, Any]) -> dict[str, float]:
    if isinstance(value, StepGradients):  # the engine's lazy rows: one table per window
        return value.window.norm_row(value.row, value.running)
    return norms(value)
