"""Gradient check: every analytic gradient against central finite differences.

For each update window the check perturbs one parameter entry by +-eps in every parameter
version the window's steps used (the window's gradient is the sum over those versions),
replays the window's forward pass from its fixed starting state, and compares
(L(+eps) - L(-eps)) / 2eps with the recorded gradient. The result, per parameter, is the
largest difference of an entry relative to the size of that gradient:

    max |analytic - numeric| / max(max |analytic|, max |numeric|, SCALE_FLOOR)

Entry by entry relative errors would report the rounding noise of central differences
(about 1e-10 in absolute terms) as large errors on entries that are themselves tiny; measured
against the gradient's own scale, a correct gradient stays near 1e-8 and a wrong entry of
any visible size still shows at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bptt import losses
from ..bptt.problem import Problem
from ..bptt.schedule import Record, Run, forward_only, run_schedule
from ..cells.protocol import Params, layer_params
from ..planning.plan import Plan, as_plan, problem_of
from ..request.errors import RequestError
from ..request.fields import TraceRequest

# a relative error below this is agreement for float64 central differences
TOLERANCE = 1e-5
SCALE_FLOOR = 1e-4  # a gradient smaller than this everywhere is judged on absolute error
MAX_EVALUATIONS = 400_000  # step evaluations: entries x 2 x window length, summed


def window_loss(problem: Problem, run: Run, index: int,
                versions: dict[int, Params], inputs: np.ndarray | None = None,
                start: tuple[np.ndarray, ...] | None = None) -> float:
    """The injected loss of window ``index`` replayed with the given parameter versions.

    ``versions`` maps a version number to its (possibly perturbed) parameters; ``inputs`` and
    ``start`` replace the inputs and the state before the window when given (one sequence).
    A mini-batch's window loss is the sum of its examples' (each with the reduction's weight).
    """
    if problem.batch:
        return sum((example_window_loss(example, recorded.units, run, index, versions,
                                        problem.batch)
                    for example, recorded in zip(problem.examples(), run.examples, strict=True)),
                   start=0.0)
    return example_window_loss(problem, run.examples[0].units, run, index, versions, 1,
                               inputs, start)


def example_window_loss(problem: Problem, layers: list[Record], run: Run, index: int,
                        versions: dict[int, Params], examples: int,
                        inputs: np.ndarray | None = None,
                        start: tuple[np.ndarray, ...] | None = None) -> float:
    """One sequence's part of ``window_loss``: its steps replayed, through every layer, from
    its recorded state (``start``: layer 1's instead). A bidirectional network's one window
    is the whole sequence, replayed from the initial states both ways (``forward_only``)."""
    cell = problem.cell_module
    first, last = run.updates[index]["window"]
    prev_last = run.updates[index - 1]["window"][1] if index else 0
    xs = problem.inputs if inputs is None else inputs
    # the recorded state before the window: h(first-1) (and c(first-1)) of each layer
    states = [tuple(layer.forward.caches[first][f"{name}_prev"] for name in cell.STATE)
              for layer in layers]
    if start is not None:
        states[0] = start
    version_of = layers[-1].forward.version_of
    injected = [t for t in range(prev_last + 1, last + 1) if t in problem.loss_steps]
    weight = (1.0 / (len(injected) * examples) if (problem.reduction == "mean" and injected)
              else 1.0)
    total = 0.0
    if problem.stack.bidirectional:
        initial = problem.initial_states()
        if start is not None:
            initial[0] = start
        o, _ = forward_only(problem, versions[0], xs, initial)
        _, step_loss, _ = losses.evaluate(problem.loss, o, problem.targets)
        return weight * float(sum(step_loss[t - 1] for t in injected))
    for t in range(first, last + 1):
        params = versions[version_of[t]]
        x = xs[t - 1:t]
        for j in range(len(layers)):
            packed = cell.pack(layer_params(cell, params, layers[j].unit), problem.activation)
            ux = cell.input_projection(packed, x)[0]
            states[j] = cell.state_of(cell.step_forward(packed, ux, states[j]))
            x = states[j][0][None]
        if t in injected:
            o = losses.outputs(params["V"], params["b_y"], x)
            _, step_loss, _ = losses.evaluate(problem.loss, o, problem.targets[t - 1:t])
            total += float(step_loss[0])
    return weight * total


def window_versions(run: Run, index: int) -> dict[int, Params]:
    fwd = run.forward
    first, last = run.updates[index]["window"]
    used = sorted({fwd.version_of[t] for t in range(first, last + 1)})
    return {v: (run.updates[v]["params_before"]) for v in used}


def numeric_param_grad(problem: Problem, run: Run, index: int, name: str,
                       eps: float) -> np.ndarray:
    base = window_versions(run, index)
    shape = base[next(iter(base))][name].shape
    grad = np.zeros(shape)
    for entry in np.ndindex(*shape):
        values = []
        for sign in (1.0, -1.0):
            shifted = {}
            for version, params in base.items():
                moved = params[name].copy()
                moved[entry] += sign * eps
                shifted[version] = {**params, name: moved}
            values.append(window_loss(problem, run, index, shifted))
        grad[entry] = (values[0] - values[1]) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    if not analytic.size:
        return 0.0
    scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric))), SCALE_FLOOR)
    return float(np.max(np.abs(analytic - numeric))) / scale


def gradcheck(request: Plan | TraceRequest | dict[str, Any], eps: float = 1e-5,
              max_evaluations: int = MAX_EVALUATIONS) -> dict[str, Any]:
    """Largest relative error of every parameter's gradient, over every update window.

    ``request``: a request or its plan. Refuses (RequestError) a check that would replay
    more than ``max_evaluations`` cell steps: 2 x parameter entries x the steps of every
    window (``Plan.evaluations``).
    """
    job = as_plan(request, "gradcheck")
    needed = job.evaluations
    if needed > max_evaluations:
        raise RequestError(("hidden_size",), f"too large for a finite-difference check: "
                                             f"{needed} cell-step evaluations, at most "
                                             f"{max_evaluations}; use a smaller hidden_size "
                                             f"or a shorter sequence")
    problem = problem_of(job)
    with np.errstate(all="ignore"):
        run = run_schedule(problem)
        worst = {name: 0.0 for name in problem.params}
        for index, update in enumerate(run.updates):
            for name in problem.params:
                numeric = numeric_param_grad(problem, run, index, name, eps)
                worst[name] = max(worst[name], relative_error(update["grads"][name], numeric))
    finite = all(np.isfinite(v) for v in worst.values())
    return {"max_rel_error": worst, "ok": finite and max(worst.values()) < TOLERANCE,
            "tolerance": TOLERANCE, "eps": eps, "windows": len(run.updates)}
