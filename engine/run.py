"""The engine's entry: a request in, the whole recorded pass out (CONTRACT.md's result)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import diagnostics as diag
from .bptt import Problem, run_schedule
from .cell_spec import cell_spec
from .data import encode
from .errors import RequestError
from .params import check_params, check_state, init_params, rescale_recurrent
from .request import TraceRequest, parse_request, to_dict


def prepare(request: TraceRequest | dict[str, Any]) -> tuple[TraceRequest, Problem, Any]:
    """Validate the request, encode its data, build the initial parameters and state."""
    req = parse_request(request)
    enc = encode(req.data, req.loss, req.output_size)
    if req.loss is not None and req.loss != enc.loss:
        raise RequestError(("loss",), f"loss {req.loss!r} does not fit this data")
    T, D = enc.inputs.shape
    H, K = req.hidden_size, enc.output_size
    if req.params is not None:
        params = check_params(req.params, req.cell, H, D, K)
    else:
        params = init_params(req.cell, H, D, K, req.seed, req.forget_bias)
    if req.spectral_radius is not None:
        params = rescale_recurrent(params, req.cell, req.spectral_radius)
    state0: tuple[np.ndarray, ...] = (check_state(req.h0, H, "h0"),)
    if req.cell == "lstm":
        state0 = (*state0, check_state(req.c0, H, "c0"))
    loss_steps = frozenset(range(1, T + 1)) if req.loss_at == "every" else frozenset({T})
    k1 = req.truncation.k1 if req.truncation else T
    k2 = (req.truncation.k2 or k1) if req.truncation else T
    problem = Problem(
        cell=req.cell, activation=req.activation, inputs=enc.inputs, targets=enc.targets,
        loss=enc.loss, loss_steps=loss_steps, reduction=req.reduction, k1=min(k1, T),
        k2=min(k2, T), optimizer=req.optimizer, clip=req.clip, params=params, state0=state0,
    )
    return req, problem, enc


def run_trace(request: TraceRequest | dict[str, Any]) -> dict[str, Any]:
    """One pass of BPTT(k1, k2) over the sequence, every intermediate recorded.

    ``request`` is a dict shaped as in CONTRACT.md (or a ``TraceRequest``). Returns the
    result of CONTRACT.md with NumPy arrays: config, vocab, inputs, targets, scale, params,
    events, updates, loss, diagnostics, non_finite (see docs/trace-format.md). Raises
    ``RequestError`` (with ``.loc`` and ``.msg``) for a bad request.
    """
    req, problem, enc = prepare(request)
    with np.errstate(all="ignore"):  # overflow is reported through non_finite, never raised
        run = run_schedule(problem)
        diagnostics = (diag.compute(problem, run, truncated=req.truncation is not None)
                       if req.diagnostics else None)
    fwd = run["forward"]
    T, D = problem.inputs.shape
    result = {
        "config": _config(req, problem),
        "vocab": enc.vocab,
        "inputs": problem.inputs,
        "targets": problem.targets,
        "scale": enc.scale,
        "params": problem.params,
        "events": run["events"],
        "updates": run["updates"],
        "loss": run["loss"],
        "step_losses": fwd.step_loss,
        "loss_steps": sorted(problem.loss_steps),
        "windows": [{"first": u["window"][0], "last": u["window"][1], "t_update": u["t"]}
                    for u in run["updates"]],
        "diagnostics": diagnostics,
        "sizes": {"T": T, "D": D, "H": problem.H, "K": int(problem.params["V"].shape[0])},
        "cell_spec": cell_spec(problem.cell, problem.params),
    }
    result["non_finite"] = not _all_finite(run, fwd, diagnostics)
    return result


def _config(req: TraceRequest, problem: Problem) -> dict[str, Any]:
    config = to_dict(req)
    config["loss"] = problem.loss  # "from data" filled in, like the output size
    config["output_size"] = int(problem.params["V"].shape[0])
    if req.truncation is None:
        config["truncation"] = None
    return config


def _all_finite(run: dict[str, Any], fwd: Any, diagnostics: dict[str, Any] | None) -> bool:
    """Every recorded number finite? Checks the stacks the event fields view, pre-activations
    included (a saturated tanh can hide an overflowed a(t))."""
    arrays = [fwd.outputs, fwd.yhat, fwd.step_loss]
    for _, stacks in fwd.blocks:
        arrays += [stacks[key] for key in ("h", "a", "a_z", "a_r", "a_n", "c")
                   if key in stacks]
    for bwd in run["backwards"]:
        arrays += [bwd.dh, bwd.delta, bwd.dh_prev]
        if bwd.dc is not None:
            arrays.append(bwd.dc)
    for update in run["updates"]:
        arrays += list(update["grads"].values()) + list(update["params_after"].values())
    if diagnostics is not None:
        for key in ("error_flow", "weight_flow", "jacobian_norms"):
            matrix = np.array(diagnostics[key], dtype=float)  # the nulls above become NaN
            arrays.append(matrix[np.tril_indices(len(matrix))])
        arrays.append(np.asarray(diagnostics["step_grad_norms"]))
    return all(bool(np.isfinite(a).all()) for a in arrays) and bool(np.isfinite(run["loss"]))
