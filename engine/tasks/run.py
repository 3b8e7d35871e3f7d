"""The engine's entry: a request (or its plan) in, the whole recorded pass out (CONTRACT.md's
result)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..bptt import diagnostics as diag
from ..bptt.problem import Problem
from ..bptt.schedule import Run, run_schedule, window_factors
from ..cells.registry import cell_spec
from ..planning.plan import Plan, as_plan, config_of, problem_of, sizes_of
from ..request import bugs
from ..request.fields import TraceRequest
from ..request.params import spectral_radii


def run_trace(request: Plan | TraceRequest | dict[str, Any]) -> dict[str, Any]:
    """One pass of BPTT(k1, k2) over the sequence, every intermediate recorded.

    ``request`` is a dict shaped as in CONTRACT.md, a ``TraceRequest``, or its ``Plan``.
    Returns the result of CONTRACT.md with NumPy arrays: config, vocab, inputs, targets,
    scale, params, events, updates, loss, diagnostics, non_finite (see docs/CONTRACT.md).
    Raises ``RequestError`` (with ``.loc`` and ``.msg``) for a bad request.
    """
    job = as_plan(request, "trace")
    return trace_result(job, problem_of(job))


def trace_result(job: Plan, problem: Problem) -> dict[str, Any]:
    """Run the planned pass on ``problem``'s arrays and shape the result."""
    req = job.request
    with np.errstate(all="ignore"):  # overflow is reported through non_finite, never raised
        run = run_schedule(problem)
        # the diagnostics follow the true equations (the error flow is the network's own
        # Jacobians): beside a planted bug they would describe another backward pass
        per_example = ([diag.compute(example, view, truncated=job.truncated,
                                     jacobian=req.jacobian_norms)
                        for example, view in zip(problem.examples(), example_runs(run),
                                                 strict=True)]
                       if req.diagnostics and problem.bug is None else None)
    diagnostics = per_example[0] if per_example else None
    each: list[dict[str, Any] | None]
    for update in run.updates:  # the radii of each update's new parameters, when asked
        update["spectral_radii_after"] = (spectral_radii(update["params_after"], req.cell,
                                                         problem.stack)
                                          if req.spectral_radii else None)
    result: dict[str, Any] = {
        "config": config_of(job),
        "vocab": job.data.vocab,
        "inputs": problem.inputs,
        "targets": problem.targets,
        "scale": job.data.scale,
        "params": problem.params,
        "events": run.events,
        "updates": run.updates,
        "loss": run.loss,
        "step_losses": (np.stack([one.forward.step_loss for one in run.examples])
                        if problem.batch else run.forward.step_loss),
        "loss_steps": sorted(problem.loss_steps),
        "windows": [{"first": u["window"][0], "last": u["window"][1], "t_update": u["t"]}
                    for u in run.updates],
        "diagnostics": diagnostics,
        "sizes": sizes_of(job),
        "cell_spec": cell_spec(problem.cell, problem.params, problem.stack),
        "spectral_radii": (spectral_radii(problem.params, req.cell, problem.stack)
                           if req.spectral_radii
                           else None),
    }
    if problem.batch:  # each example's diagnostics
        result["example_diagnostics"] = per_example
    if problem.carry is not None:  # randomized truncation's weights, xi_1..xi_T
        result["xi"] = problem.carry
    each = list(per_example) if per_example else [None] * len(run.examples)
    result["non_finite"] = not all(_all_finite(example, view, one) for example, view, one in zip(
        problem.examples(), example_runs(run), each, strict=True))
    if problem.bug is not None:
        result["bug"] = bug_report(problem, run)
    return result


def example_runs(run: Run) -> list[Run]:
    """The pass as each sequence saw it: its own records, and the updates with its share of
    each gradient as ``grads`` (one sequence: the pass itself)."""
    if len(run.examples) == 1:
        return [run]
    return [replace(run, examples=[recorded], updates=[
        {**update, "grads": update["shares"][e]["grads"], "loss": update["shares"][e]["loss"]}
        for update in run.updates]) for e, recorded in enumerate(run.examples)]


def bug_report(problem: Problem, run: Run) -> dict[str, Any]:
    """A bugged pass against the true one: {"id", "parting"} (engine.bugs.parting), the true
    pass run here on the same problem without the bug."""
    with np.errstate(all="ignore"):
        true = run_schedule(replace(problem, bug=None))
    cell = problem.cell_module

    def factors(one: Run, bug: str | None) -> list[Any]:
        return [window_factors(cell, one.forward, bwd, problem.inputs, problem.H, bug)
                for bwd in one.backwards]

    return {"id": problem.bug,
            "parting": bugs.parting(problem, run, true, factors(run, problem.bug),
                                    factors(true, None))}


def _all_finite(problem: Problem, run: Run, diagnostics: dict[str, Any] | None) -> bool:
    """Every recorded number finite? Checks the stacks the event fields view, pre-activations
    included (a saturated tanh can hide an overflowed a(t))."""
    cell, fwd = problem.cell_module, run.forward
    pre = cell.PRE_ACTIVATIONS
    keys = ["h", *([pre] if isinstance(pre, str) else pre.values()), *cell.STATE[1:]]
    arrays = [fwd.outputs, fwd.yhat, fwd.step_loss]
    for rec in run.examples[0].units:  # every layer and direction
        for _, stacks in rec.forward.blocks:
            arrays += [stacks[key] for key in keys]
        for bwd in rec.backwards:
            arrays += [bwd.dh, bwd.delta, bwd.dh_prev, *bwd.recorded.values()]
    for update in run.updates:
        arrays += list(update["grads"].values()) + list(update["params_after"].values())
    if diagnostics is not None:
        for key in ("error_flow", "weight_flow", "jacobian_norms", "error_flow_reverse"):
            if diagnostics.get(key) is None:
                continue
            matrix = np.array(diagnostics[key], dtype=float)  # the nulls become NaN
            if key == "error_flow_reverse":  # k >= t
                arrays.append(matrix[np.triu_indices(len(matrix))])
            elif key == "weight_flow" and problem.stack.bidirectional:  # whole
                arrays.append(matrix)
            else:  # k <= t
                arrays.append(matrix[np.tril_indices(len(matrix))])
        arrays.append(np.asarray(diagnostics["step_grad_norms"]))
    return all(bool(np.isfinite(a).all()) for a in arrays) and bool(np.isfinite(run.loss))
