"""Training: N passes over the sequence with the request's schedule and optimizer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .bptt import forward_only, run_schedule
from .errors import RequestError
from .request import parse_request, to_dict
from .run import prepare, run_trace


def train(request: Any, iterations: int, record_every: int = 1,
          include_trace: bool = False, continuation_length: int = 20) -> dict[str, Any]:
    """Train for ``iterations`` passes; each pass is the BPTT(k1, k2) schedule of the request.

    Every pass starts from the request's initial state (h0, c0); the optimizer's buffers carry
    over between passes, as one torch.optim optimizer would across epochs. Returns the loss and
    gradient-norm curves (every ``record_every`` passes and the last), the final parameters,
    the predicted next token at every step (text, words) or the predicted next value in the
    series' units, a greedy continuation for text and words, and optionally the trace of one
    more pass from the trained parameters.
    """
    if iterations < 1:
        raise RequestError(("iterations",), f"must be >= 1, got {iterations}")
    if record_every < 1:
        raise RequestError(("record_every",), f"must be >= 1, got {record_every}")
    req, problem, enc = prepare(request)
    params, opt_state = problem.params, None
    curve_iter, curve_loss, curve_norm = [], [], []
    with np.errstate(all="ignore"):
        for iteration in range(1, iterations + 1):
            run = run_schedule(replace(problem, params=params), opt_state)
            params, opt_state = run["final_params"], run["opt_state"]
            if iteration % record_every == 0 or iteration == iterations:
                curve_iter.append(iteration)
                curve_loss.append(run["loss"])
                curve_norm.append(float(np.mean([u["grad_norm"] for u in run["updates"]])))
        trained = replace(problem, params=params)
        outputs, _ = forward_only(trained, params, problem.inputs, problem.state0)
    predictions, continuation = _predictions(enc, outputs, trained, params, continuation_length)
    finite = bool(np.isfinite(curve_loss).all()) and all(
        bool(np.isfinite(p).all()) for p in params.values())
    result: dict[str, Any] = {
        "iterations": curve_iter, "losses": curve_loss, "grad_norms": curve_norm,
        "final_params": params, "predictions": predictions, "continuation": continuation,
        "vocab": enc.vocab, "trace": None,
    }
    # when training diverged there is no pass "from the trained parameters" to show
    if include_trace and finite:
        result["trace"] = run_trace(trained_request(req, params))
        finite = not result["trace"]["non_finite"]
    result["non_finite"] = not finite
    return result


def trained_request(req: Any, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """The request of one more pass from trained parameters: the same data and schedule, the
    trained parameters given explicitly (so neither drawn from the seed nor rescaled to the
    spectral radius again)."""
    return {**to_dict(parse_request(req)),
            "params": {name: value.tolist() for name, value in params.items()},
            "spectral_radius": None, "forget_bias": None}


def _predictions(enc: Any, outputs: np.ndarray, problem: Any, params: dict[str, np.ndarray],
                 length: int) -> tuple[list[Any] | None, str | None]:
    if enc.vocab is not None:
        ids = [int(i) for i in np.argmax(outputs, axis=1)]
        tokens = [enc.vocab[i] for i in ids]
        return tokens, _continue(enc, problem, params, length)
    if enc.scale is not None:  # series: the next value in the series' own units
        values = outputs[:, 0] * enc.scale["std"] + enc.scale["mean"]
        return [float(v) for v in values], None
    return [[float(v) for v in row] for row in outputs], None


def _continue(enc: Any, problem: Any, params: dict[str, np.ndarray], length: int) -> str:
    """Greedy continuation after the whole text: feed each predicted token back in."""
    vocab = enc.vocab
    last_target = int(problem.targets[-1]) if problem.loss == "cross_entropy" else int(
        np.argmax(problem.targets[-1]))
    _, state = forward_only(problem, params, problem.inputs, problem.state0)
    token = last_target
    produced = []
    for _ in range(length):
        x = np.zeros((1, len(vocab)))
        x[0, token] = 1.0
        out, state = forward_only(problem, params, x, state)
        token = int(np.argmax(out[0]))
        produced.append(vocab[token])
    return enc.joiner.join(produced)
