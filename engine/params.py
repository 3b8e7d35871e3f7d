"""Parameter names, shapes, seeded initialisation and the spectral-radius knob.

Names and shapes come from the cell's own declaration (``PARAMS``, engine.cell): nothing
here knows a gate.
"""

from __future__ import annotations

import math

import numpy as np

from .cell import Params, all_params, recurrent_names
from .cells import CELLS
from .errors import RequestError

__all__ = ["Params", "check_params", "check_state", "init_params", "param_count",
           "param_shapes", "rescale_recurrent", "spectral_radius"]


def param_shapes(cell: str, H: int, D: int, K: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes, in CONTRACT.md's order: W H×H, U H×D, b H (per gate), V K×H, b_y K."""
    return {name: spec.size(H, D, K) for name, spec in all_params(CELLS[cell]).items()}


def param_count(cell: str, H: int, D: int, K: int) -> int:
    """How many numbers the parameters hold."""
    return sum(math.prod(shape) for shape in param_shapes(cell, H, D, K).values())


def init_params(cell: str, H: int, D: int, K: int, seed: int,
                forget_bias: float | None = None) -> Params:
    """Uniform in [-1/sqrt(H), 1/sqrt(H)] from a seeded Generator, in a fixed name order."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(H)
    params = {name: rng.uniform(-bound, bound, size=shape)
              for name, shape in param_shapes(cell, H, D, K).items()}
    keep = CELLS[cell].KEEP_BIAS
    if forget_bias is not None and keep is not None:
        params[keep] = np.full(H, float(forget_bias))
    return params


def spectral_radius(matrix: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(matrix)))) if matrix.size else 0.0


def rescale_recurrent(params: Params, cell: str, radius: float) -> Params:
    """Scale each recurrent matrix (W, or every W_*) to the given spectral radius."""
    scaled = dict(params)
    for name in recurrent_names(CELLS[cell]):
        current = spectral_radius(params[name])
        if current > 0:
            scaled[name] = params[name] * (radius / current)
    return scaled


def check_params(given: dict[str, list], cell: str, H: int, D: int, K: int) -> Params:
    """Explicit parameters: every name present, no extra name, every shape right, finite."""
    shapes = param_shapes(cell, H, D, K)
    missing = [name for name in shapes if name not in given]
    if missing:
        raise RequestError(("params", missing[0]),
                           f"missing; a {cell} needs every one of {', '.join(shapes)} "
                           f"(missing: {', '.join(missing)})")
    for name in given:
        if name not in shapes:
            raise RequestError(("params", name),
                               f"unknown parameter for cell {cell!r}; expected {', '.join(shapes)}")
    params: Params = {}
    for name, shape in shapes.items():
        try:
            array = np.asarray(given[name], dtype=float)
        except (ValueError, TypeError):
            raise RequestError(("params", name), f"must be a numeric array of shape "
                                                 f"{list(shape)} (ragged or non-numeric)") from None
        if array.shape != shape:
            raise RequestError(("params", name), f"wrong shape: expected {list(shape)}, "
                                                 f"given {list(array.shape)}")
        if not np.all(np.isfinite(array)):
            raise RequestError(("params", name), "must hold finite numbers only")
        params[name] = array
    return params


def check_state(given: list[float] | None, H: int, name: str) -> np.ndarray:
    if given is None:
        return np.zeros(H)
    state = np.asarray(given, dtype=float)
    if state.shape != (H,):
        raise RequestError((name,), f"wrong shape: expected [{H}] (hidden_size), given "
                                    f"{list(state.shape)}")
    return state
