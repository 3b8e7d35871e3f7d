"""Uninitialised stacks carved from one allocation.

A recorded pass keeps every intermediate, so a long sequence needs tens of megabytes of fresh
memory per call (an LSTM with H = 64 over T = 1000 steps: about 8 MB forward, 5 MB backward).
Asked for as a dozen separate arrays, that memory arrives page by page (4 KB page faults, each
costly in a virtual machine), and the allocator hands it back to the system when the result
is dropped, so the next call pays again: T = 1000 measured 11-13x T = 100 where the work is
10x. Taken as one allocation, NumPy requests huge pages for it from 4 MB up, and the cost of
the memory becomes a few faults per call.
"""

from __future__ import annotations

import numpy as np


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
