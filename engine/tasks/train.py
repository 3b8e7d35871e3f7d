"""Training: N passes over the sequence with the request's schedule and optimizer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..bptt.problem import Problem
from ..bptt.schedule import forward_only, run_schedule
from ..planning.plan import Plan, as_plan, problem_of
from ..request.data import Encoded
from ..request.errors import RequestError
from ..request.fields import TraceRequest
from .run import trace_result

State = list[tuple[np.ndarray, ...]]  # each layer's state vectors (h,) or (h, c)


def train(request: Plan | TraceRequest | dict[str, Any], iterations: int | None = None,
          record_every: int = 1, include_trace: bool | None = None,
          continuation_length: int = 20) -> dict[str, Any]:
    """Train for ``iterations`` passes; each pass is the BPTT(k1, k2) schedule of the request.

    ``request``: a request, or its plan for the task "train" (whose iterations and
    include_trace are used unless given here). Every pass starts from the request's initial
    state (h0, c0); the optimizer's buffers carry over between passes, as one torch.optim
    optimizer would across epochs. Returns the loss and gradient-norm curves (every
    ``record_every`` passes and the last), the final parameters, the prediction at every step
    (the next token for text and words, the next value in the series' units, else the
    outputs), what the trained network says comes after the data (``continuation``: the next
    ``continuation_length`` tokens, greedily, for text and words; ``forecast``: the next
    ``continuation_length`` values in the series' units, each prediction fed back as the next
    input, for a series), and optionally the trace of one more pass from the trained
    parameters.
    """
    if record_every < 1:
        raise RequestError(("record_every",), f"must be >= 1, got {record_every}")
    job = as_plan(request, "train", iterations, include_trace)
    problem = problem_of(job)
    params, opt_state = problem.params, None
    curve_iter, curve_loss, curve_norm = [], [], []
    with np.errstate(all="ignore"):
        for iteration in range(1, job.iterations + 1):
            run = run_schedule(replace(problem, params=params), opt_state, record=False)
            params, opt_state = run.final_params, run.opt_state
            if iteration % record_every == 0 or iteration == job.iterations:
                curve_iter.append(iteration)
                curve_loss.append(run.loss)
                curve_norm.append(float(np.mean([u["grad_norm"] for u in run.updates])))
        trained = replace(problem, params=params)
        said = what_it_says(job.data, trained, continuation_length)
    finite = bool(np.isfinite(curve_loss).all()) and all(
        bool(np.isfinite(p).all()) for p in params.values())
    result: dict[str, Any] = {
        "iterations": curve_iter, "losses": curve_loss, "grad_norms": curve_norm,
        "final_params": params, **said, "vocab": job.data.vocab, "trace": None,
    }
    # when training diverged there is no pass "from the trained parameters" to show
    if job.include_trace and finite:
        result["trace"] = trace_result(job.with_params(params), trained)
        finite = not result["trace"]["non_finite"]
    result["non_finite"] = not finite
    return result


def what_it_says(enc: Encoded, trained: Problem, length: int) -> dict[str, Any]:
    """The trained network's ``predictions`` at every step, and what it says comes after the
    data: a ``continuation`` of text and words, a ``forecast`` of a series (else null); of a
    mini-batch, a list of each example's."""
    if trained.batch:  # each example's own, in the batch's order
        said = [what_it_says(enc.examples[e], example, length)
                for e, example in enumerate(trained.examples())]
        return {key: (None if said[0][key] is None else [one[key] for one in said])
                for key in said[0]}
    outputs, state = forward_only(trained, trained.params, trained.inputs,
                                  trained.initial_states())
    if trained.stack.bidirectional:  # it reads the whole sequence: nothing to continue from
        return {"predictions": _predictions(enc, outputs), "continuation": None,
                "forecast": None}
    return {
        "predictions": _predictions(enc, outputs),
        "continuation": (_continue_text(enc, trained, state, length)
                         if enc.vocab is not None else None),
        "forecast": _forecast(enc, trained, state, length) if enc.scale is not None else None,
    }


def _predictions(enc: Encoded, outputs: np.ndarray) -> list[Any]:
    if enc.vocab is not None:
        return [enc.vocab[int(i)] for i in np.argmax(outputs, axis=1)]
    if enc.scale is not None:  # series: the next value in the series' own units
        return [float(v) for v in _in_units(enc, outputs[:, 0])]
    return [[float(v) for v in row] for row in outputs]


def _in_units(enc: Encoded, z: np.ndarray) -> np.ndarray:
    assert enc.scale is not None
    return z * enc.scale["std"] + enc.scale["mean"]


def _continue_text(enc: Encoded, trained: Problem, state: State, length: int) -> str:
    """Greedy continuation after the whole text: feed each predicted token back in."""
    assert enc.vocab is not None
    last = trained.targets[-1]  # the text's last token (a class id, or its one-hot for mse)
    token = int(last) if trained.loss == "cross_entropy" else int(np.argmax(last))
    produced = []
    for _ in range(length):
        x = np.zeros((1, enc.D))
        x[0, token] = 1.0
        out, state = forward_only(trained, trained.params, x, state)
        token = int(np.argmax(out[0]))
        produced.append(enc.vocab[token])
    return enc.joiner.join(produced)


def _forecast(enc: Encoded, trained: Problem, state: State, length: int) -> list[float]:
    """The series continued past its end, in its own units: the last value goes in, and each
    predicted value is fed back as the next input (z-scored, as the network was trained)."""
    x = trained.targets[-1:]  # (1, 1): the z-score of the series' last value
    values = []
    for _ in range(length):
        x, state = forward_only(trained, trained.params, x, state)  # (1, 1) the next z-score
        values.append(float(_in_units(enc, x[0])[0]))
    return values
