"""Uninitialised stacks carved from one allocation.

A recorded pass keeps every intermediate, so a long sequence needs tens of megabytes of fresh
memory per call (an LSTM with H = 64 over T = 1000 steps: about 8 MB forward, 5 MB backward).
Asked for as a dozen separate arrays, that memory arrives page by page (4 KB page faults, each
costly in a virtual machine), and the allocator hands it back to the system when the result
is dropped, so the next call pays again: T = 1000 measured 11-13x T = 100 where the work is
10x. Taken as one allocation, NumPy requests huge pages for it from 4 MB up, and the cost of
the memory becomes a few faults per call.

A recorded pass also keeps every parameter version; ``packed_with_views`` makes a version
and its cell's pack one copy instead of two.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .protocol import Cell, Packed, Params


def empty_stacks(shapes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """{name: uninitialised C-contiguous float64 array of that shape}, all views of one
    buffer (each array keeps the buffer alive)."""
    total = sum(rows * cols for rows, cols in shapes.values())
    buffer = np.empty(total)
    stacks = {}
    offset = 0
    for name, (rows, cols) in shapes.items():
        stacks[name] = buffer[offset:offset + rows * cols].reshape(rows, cols)
        offset += rows * cols
    return stacks


def shift_rows(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[t] = rows[t + 1], and zeros in the last row: what flows into step t from t + 1
    (dh_next(t) = dh_prev(t + 1); nothing flows in after a window's last step)."""
    out[:-1] = rows[1:]
    out[-1] = 0.0
    return out


def packed_with_views(cell: Cell, params: Params, activation: str) -> tuple[Packed, Params]:
    """The cell's pack of ``params``, and the same parameters as views into it.

    A pack stacks the gates' matrices (an LSTM's W_f, W_i, W_g, W_o become one (4H, H) W):
    a copy of most of the parameters, made once per parameter version. A recorded pass keeps
    every version (each update's ``params_after``) and every pack; with the parameters as
    row blocks of their pack, the two are one copy. The numbers are the same (the pack is
    an exact copy); parameters the pack does not copy (the RNN's, V, b_y) are left as they
    are.
    """
    packed = cell.pack(params, activation)
    layout = pack_layout(cell.pack, tuple((name, value.shape) for name, value in params.items()))
    views = {name: (packed[layout[name][0]][layout[name][1]:layout[name][2]]
                    if name in layout else value) for name, value in params.items()}
    return packed, views


@lru_cache(maxsize=64)
def pack_layout(pack: Callable[[Params], Packed], shapes: tuple[tuple[str, tuple[int, ...]], ...]
                ) -> dict[str, tuple[str, int, int]]:
    """{parameter: (pack key, first row, end row)} of the parameters a cell's ``pack``
    concatenates, found by packing arrays that each hold their own marker value: a pack
    entry counts only when its rows are, in order, whole parameters (so an entry the pack
    forms otherwise, or a parameter it holds as it is, is never a view)."""
    markers = {name: 1e6 + index for index, (name, _) in enumerate(shapes)}
    probe = {name: np.full(shape, markers[name]) for name, shape in shapes}
    by_marker = {value: name for name, value in markers.items()}
    layout: dict[str, tuple[str, int, int]] = {}
    for key, value in pack(probe).items():
        if not isinstance(value, np.ndarray) or value.ndim == 0 or any(
                value is array for array in probe.values()):
            continue
        found, row = {}, 0
        while row < value.shape[0]:
            name = by_marker.get(float(value[row].flat[0]))
            shape = dict(shapes).get(name) if name is not None else None
            if name is None or shape is None or shape[1:] != value.shape[1:]:
                break
            end = row + shape[0]
            if end > value.shape[0] or not bool((value[row:end] == markers[name]).all()):
                break
            found[name] = (key, row, end)
            row = end
        if row == value.shape[0]:
            layout.update(found)
    return layout
