"""The initial parameters and state of a request, without running a pass.

    initial_params({"cell": "lstm", "hidden_size": 64, "seed": 3, "spectral_radius": 1.2})
    # {"params": {"W_f": array, ...}, "h0": array, "c0": array, "cell_spec": {...},
    #  "sizes": {"T", "D", "H", "K"}, "non_finite": False}

Exactly what a trace of the same request starts from (its ``params`` and the ``h_prev`` and
``c_prev`` of its first step): drawn from the seed with ``forget_bias`` applied, then rescaled
to ``spectral_radius``, or the explicit ``params`` after the plan's checks, read from the plan
(``problem_of``) that every pass runs on, so the two cannot differ. The data still sets D and
K (and is checked like any request's), but no step runs: the cost is the plan's and the
numbers' own, whatever the model's size (POST /api/v1/params).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells.registry import CELLS, cell_spec
from ..planning.plan import Plan, as_plan, problem_of, sizes_of
from ..request.fields import TraceRequest


def initial_params(request: Plan | TraceRequest | dict[str, Any]) -> dict[str, Any]:
    """The parameters {name: array} and the initial state (``h0``, and ``c0`` for the LSTM)
    a pass of ``request`` starts from, with the cell's description (``cell_spec``), the
    sizes, and ``non_finite`` (a spectral radius large enough can overflow a matrix).
    Raises ``RequestError`` (``.loc``, ``.msg``) for a bad request."""
    job = as_plan(request, "params")
    with np.errstate(all="ignore"):  # overflow is reported through non_finite, never raised
        problem = problem_of(job)
    layered = problem.initial_states()  # [unit][state]: one unit's as H values, a stack's
    states = {f"{name}0": (layered[0][s] if len(layered) == 1 else  # a row a unit
                           np.stack([state[s] for state in layered]))
              for s, name in enumerate(CELLS[job.cell].STATE)}
    arrays = [*problem.params.values(), *states.values()]
    return {
        "params": problem.params,
        **states,
        "cell_spec": cell_spec(problem.cell, problem.params, problem.stack),
        "sizes": sizes_of(job, batch=False),
        "non_finite": not all(bool(np.isfinite(a).all()) for a in arrays),
    }
