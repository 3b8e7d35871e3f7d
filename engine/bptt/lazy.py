"""Per-step gradient contributions and running sums, formed when they are read.

A window's gradient is one matrix product of stacked vectors (deltas and recorded states);
each step's contribution is an outer product of two of those vectors and the running sum a
cumulative sum of them. Holding the vectors and forming the T·H² numbers on access keeps the
recorded trace as cheap as an unrecorded pass; nothing is lost, and reading gives the arrays.

Their Frobenius norms are read the same way (a backward event's ``accum_norms``, and every
matrix under the API's detail "norms"): one table per window, made once, from the running
sums of a small window (formed for that, or already formed for the full trace: the same
arrays), from the factors of a large one without forming them (engine.norms).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from .norms import Factors, Table, contribution_norms, running_norms

__all__ = ["Factors", "StepGradients", "WindowGradients"]


class WindowGradients:
    """The per-step factors of one window's gradient, rows in time order first..last."""

    def __init__(self, factors: Factors) -> None:
        self.factors = factors
        self._running: dict[str, np.ndarray] = {}
        self._norms: dict[bool, Table] = {}  # running? -> {name: (n,) norms}
        self._rows: dict[bool, list[dict[str, float]]] = {}  # running? -> per row {name: norm}

    @property
    def names(self) -> list[str]:
        return list(self.factors)

    def contribution(self, name: str, row: int) -> np.ndarray:
        left, right = self.factors[name]
        if right is None:
            return left[row].copy()
        return np.outer(left[row], right[row])  # delta(t) r(t)^T

    def running_sum(self, name: str, row: int) -> np.ndarray:
        """Sum of the contributions of rows row..n-1: the backward pass runs last to first."""
        if name not in self._running:
            left, right = self.factors[name]
            stack = left if right is None else np.einsum("ti,tj->tij", left, right)
            self._running[name] = np.cumsum(stack[::-1], axis=0)[::-1]
        return self._running[name][row]

    def norms(self, running: bool) -> Table:
        """{name: (n,)} the Frobenius norm of every row's running sum (``running``) or
        contribution, made once per window (engine.norms.running_norms: a small window's
        sums are formed, or reused when the full trace formed them already; a large
        window's never are)."""
        if running not in self._norms:
            self._norms[running] = (running_norms(self.factors, self._running) if running
                                    else contribution_norms(self.factors))
        return self._norms[running]

    def norm_row(self, row: int, running: bool) -> dict[str, float]:
        """{name: norm} of one row (a new dict: the caller may keep or change it)."""
        if running not in self._rows:
            table = self.norms(running)
            columns = [table[name].tolist() for name in self.factors]
            self._rows[running] = [dict(zip(self.factors, values, strict=True))
                                   for values in zip(*columns, strict=True)]
        return dict(self._rows[running][row])


class StepGradients(Mapping[str, np.ndarray]):
    """``contrib`` (running=False) or ``accum`` (running=True) of one backward event."""

    __slots__ = ("_window", "_row", "_running")

    def __init__(self, window: WindowGradients, row: int, running: bool) -> None:
        self._window = window
        self._row = row
        self._running = running

    @property
    def window(self) -> WindowGradients:
        return self._window

    @property
    def row(self) -> int:
        """The step's row in its window (0 = the window's first step)."""
        return self._row

    @property
    def running(self) -> bool:
        return self._running

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._window.factors:
            raise KeyError(name)
        if self._running:
            return self._window.running_sum(name, self._row)
        return self._window.contribution(name, self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._window.factors)

    def __len__(self) -> int:
        return len(self._window.factors)

    def __repr__(self) -> str:
        kind = "accum" if self._running else "contrib"
        return f"<{kind} of {', '.join(self._window.factors)}>"
