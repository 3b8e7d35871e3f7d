"""Parameter names, shapes, seeded initialisation and the spectral-radius knob.

Names and shapes come from the cell's own declaration (``PARAMS``, engine.cell): nothing
here knows a gate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..cells.protocol import ONE, Params, Stack, all_params, recurrent_names
from ..cells.registry import CELLS
from .errors import RequestError
from .fields import describe

__all__ = ["Params", "check_params", "check_state", "init_params", "param_count",
           "param_shapes", "rescale_recurrent", "spectral_radii", "spectral_radius"]


def param_shapes(cell: str, H: int, D: int, K: int, stack: Stack = ONE
                 ) -> dict[str, tuple[int, ...]]:
    """Names and shapes, in CONTRACT.md's order: W H×H, U H×D, b H (per gate) of layer 1,
    of its reverse network (``_rev``), the same with ``_l<j>`` and U H×H (H×2H both ways) of
    each layer j >= 2, then V K×H (K×2H), b_y K."""
    return {name: spec.size(H, D, K) for name, spec in all_params(CELLS[cell], stack).items()}


def param_count(cell: str, H: int, D: int, K: int, stack: Stack = ONE) -> int:
    """How many numbers the parameters hold."""
    return sum(math.prod(shape) for shape in param_shapes(cell, H, D, K, stack).values())


def init_params(cell: str, H: int, D: int, K: int, seed: int,
                forget_bias: float | None = None, stack: Stack = ONE) -> Params:
    """Uniform in [-1/sqrt(H), 1/sqrt(H)] from a seeded Generator, in a fixed name order
    (a one-layer network's draw is the same with or without ``stack``)."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(H)
    params = {name: rng.uniform(-bound, bound, size=shape)
              for name, shape in param_shapes(cell, H, D, K, stack).items()}
    keep = CELLS[cell].KEEP_BIAS
    if forget_bias is not None and keep is not None:
        for unit in stack.units:
            params[unit.name(keep)] = np.full(H, float(forget_bias))
    return params


def spectral_radius(matrix: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(matrix)))) if matrix.size else 0.0


def spectral_radii(params: Params, cell: str, stack: Stack = ONE) -> dict[str, float | None]:
    """{name: ρ} of each recurrent matrix (W, or every W_*): the largest |eigenvalue|, what
    the request's spectral_radius sets and what decides whether the error grows or fades
    step after step. One eigenvalue problem per matrix (O(H³)), all in one call; None for a
    matrix holding a non-finite number (it has no eigenvalues to speak of)."""
    names = recurrent_names(CELLS[cell], stack)
    finite = [name for name in names if bool(np.isfinite(params[name]).all())]
    radii: dict[str, float | None] = dict.fromkeys(names)
    if finite and params[finite[0]].size:
        matrices = np.stack([params[name] for name in finite])  # (R, H, H)
        for name, radius in zip(finite, np.abs(np.linalg.eigvals(matrices)).max(axis=1),
                                strict=True):
            radii[name] = float(radius)
    return radii


def rescale_recurrent(params: Params, cell: str, radius: float, stack: Stack = ONE) -> Params:
    """Scale each recurrent matrix (W, or every W_*, of every layer) to the given spectral
    radius."""
    scaled = dict(params)
    for name in recurrent_names(CELLS[cell], stack):
        current = spectral_radius(params[name])
        if current > 0:
            scaled[name] = params[name] * (radius / current)
    return scaled


def check_params(given: Mapping[str, Any], cell: str, H: int, D: int, K: int,
                 stack: Stack = ONE) -> Params:
    """Explicit parameters: every name present, no extra name, every shape right, every entry
    a finite number. A bad entry is named where it is, ("params", name, i, j) (or i for a
    vector); a wrong shape names the parameter with the expected and the given shapes.

    ``engine.request`` has already refused entries that are not numbers (strings, booleans,
    null) or not finite, naming each; the same checks here hold for a caller that skipped it.
    """
    shapes = param_shapes(cell, H, D, K, stack)
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
        params[name] = _checked_array(given[name], ("params", name), shape)
    return params


def _checked_array(value: Any, loc: tuple[str | int, ...], shape: tuple[int, ...],
                   size: str = "") -> np.ndarray:
    """One parameter (or initial state) at ``loc`` as a float64 array of ``shape``, or a
    RequestError naming where; ``size`` says what the shape is made of."""
    bad = None if _plain_numbers(value) else _first_non_number(value, loc)
    if bad is not None:
        loc, entry = bad
        raise RequestError(loc, f"expected a number, got {describe(entry)}")
    try:
        array = np.asarray(value, dtype=float)
    except (ValueError, TypeError):  # ragged: rows of different lengths
        lengths = sorted({len(row) for row in value if isinstance(row, list)})
        raise RequestError(loc, f"wrong shape: expected {list(shape)}{size}, given rows of "
                                f"different lengths ({lengths})") from None
    if array.shape != shape:
        raise RequestError(loc, f"wrong shape: expected {list(shape)}{size}, "
                                f"given {list(array.shape)}")
    finite = np.isfinite(array)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise RequestError((*loc, *where), f"must be a finite number, got {array[where]}")
    return array


def _plain_numbers(value: Any) -> bool:
    """A list of plain ints and floats, or of lists of them: checked at C speed."""
    if not isinstance(value, list):
        return False
    kinds = set(map(type, value))
    return kinds <= _NUMBERS or (
        kinds == {list} and set(map(type, itertools.chain.from_iterable(value))) <= _NUMBERS)


_NUMBERS = {int, float}


def _first_non_number(value: Any, loc: tuple[str | int, ...]
                      ) -> tuple[tuple[str | int, ...], Any] | None:
    """Where the first entry that is not a plain number (a string, a boolean, null: NumPy
    would read "0.5" and true as numbers) sits in nested lists, and that entry."""
    if isinstance(value, np.ndarray):
        return None if value.dtype.kind in "iuf" else _first_non_number(value.tolist(), loc)
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _first_non_number(item, (*loc, i))
            if found is not None:
                return found
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return loc, value
    return None


def check_state(given: Any, H: int, name: str, stack: Stack = ONE) -> list[np.ndarray]:
    """The initial state ``name`` (h0, c0) of each unit of the stack: zeros when not given; H
    values for one layer of one direction; else one row of H values a unit, in the stack's
    order (num_layers × directions rows: PyTorch's h0 without its batch axis)."""
    rows = len(stack.units)
    if given is None:
        return [np.zeros(H) for _ in range(rows)]
    shape = (H,) if rows == 1 else (rows, H)
    size = (" (hidden_size)" if rows == 1 else
            " (num_layers × hidden_size: a row a layer)" if not stack.bidirectional else
            " (num_layers × 2 rows of hidden_size: each layer's forward, then reverse)")
    state = _checked_array(given, (name,), shape, size)
    return [state] if rows == 1 else list(state)
