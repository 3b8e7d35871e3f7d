"""Frobenius norms safe from overflow, and the norms of a window's gradients from its factors.

    ||A||_F = sqrt( sum_ij A_ij² )

Norms are computed without overflow or underflow where the plain sum of squares would lose
them (entries above ~1e154 or below ~1e-154 are rescaled by the largest magnitude first); an
array holding NaN has norm NaN, one holding an infinity (and no NaN) has norm inf. Each
backward event carries the norms of its running sums (``accum_norms``), and the API's
detail "norms" replaces the per-step matrices by them (engine.detail); both read the tables
``contribution_norms`` and ``running_norms`` make here. Pure NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Sums of squares inside (TINY, HUGE) are exact enough as they are; outside, rescale first.
_TINY = 1e-290
_HUGE = 1e290

# name -> (left rows (n, a), right rows (n, b) or None for a bias); rows in time order
Factors = dict[str, tuple[np.ndarray, np.ndarray | None]]
# name -> (n,) one norm per row of a window
Table = dict[str, np.ndarray]


def frobenius(array: object) -> float:
    """||A||_F of an array of any shape (a vector's Euclidean norm), safe from overflow."""
    a = np.asarray(array, dtype=float)
    if a.size == 0:
        return 0.0
    flat = a.ravel()
    with np.errstate(over="ignore", under="ignore"):
        total = float(flat @ flat)
    if _TINY < total < _HUGE:
        return float(np.sqrt(total))
    scale = float(np.max(np.abs(flat)))
    if scale == 0.0 or not np.isfinite(scale):
        return scale  # 0, inf, or nan (np.max propagates NaN)
    scaled = flat / scale
    return scale * float(np.sqrt(scaled @ scaled))


def row_norms(rows: np.ndarray) -> np.ndarray:
    """||row||_F of each rows[i] (any trailing shape), with the same overflow care."""
    n = rows.shape[0]
    flat = rows.reshape(n, -1)  # (n, m)
    totals = np.einsum("ij,ij->i", flat, flat)  # (n,); einsum and sqrt never warn
    norms = np.sqrt(totals)
    if n and totals.min() > _TINY and totals.max() < _HUGE:  # NaN fails both: checked below
        return norms
    unsafe = ~((totals > _TINY) & (totals < _HUGE))
    for i in np.flatnonzero(unsafe):
        norms[i] = frobenius(flat[i])
    return norms


def contribution_norms(factors: Factors) -> Table:
    """||contribution of row r|| of every parameter: ||left(r) right(r)^T||_F =
    ||left(r)|| ||right(r)|| (a bias: ||left(r)||), without forming the products."""
    table: Table = {}
    for name, (left, right) in factors.items():
        with np.errstate(over="ignore", invalid="ignore"):
            table[name] = row_norms(left) if right is None else row_norms(left) * row_norms(right)
    return table


# A running sum of at most this many numbers per window (n·a·b) is formed for its norms: a
# few NumPy calls, the same operations as engine.lazy's running_sum (so the same bits, and
# the arrays themselves once a full trace has formed them). A larger one never is: the Gram
# matrices of factor_norms take about 25 µs per parameter and window whatever the sizes,
# which forming matches at about 2,000 numbers (measured on these machines).
FORM_LIMIT = 2048


def running_norms(factors: Factors, formed: Mapping[str, np.ndarray] | None = None) -> Table:
    """||running sum after row r|| of every parameter, each row r of a window.

    A small window's running sums are formed (``formed``: those already there, which are
    the same arrays) and measured; a large one's never are (``factor_norms``). Which way a
    parameter goes depends on its sizes only, so a norm is the same number whatever was
    read before it."""
    formed = formed or {}
    table: Table = {}
    large: Factors = {}
    with np.errstate(all="ignore"):  # an overflowed sum is inf or NaN: its norm says so
        for name, (left, right) in factors.items():
            n, a = left.shape
            if right is not None and n * a * right.shape[1] > FORM_LIMIT:
                large[name] = (left, right)
            elif name in formed:
                table[name] = row_norms(formed[name])
            else:  # as running_sum forms it: summed from the window's last row back
                stack = left if right is None else np.einsum("ti,tj->tij", left, right)
                table[name] = row_norms(np.cumsum(stack[::-1], axis=0))[::-1]
    if large:
        table.update(factor_norms(large, contribution_norms(large)))
    return {name: table[name] for name in factors}  # in the parameters' order


def factor_norms(factors: Factors, step_norms: Table) -> Table:
    """||running sum after row r|| of every parameter, without forming the running sums.

    Row r of a window is step first + r; the backward pass runs last to first, so the
    running sum after row r is A(r) = sum over s >= r of left(s) right(s)^T. Then

        ||A(r)||_F^2 = sum over s, s' >= r of (left(s) . left(s')) (right(s) . right(s'))

    so two n×n Gram matrices give every running norm without forming the n matrices
    (n·(a+b) work per row instead of a·b). Where that sum may have lost accuracy to
    cancellation (its rounding bound exceeds 1e-10 of it) or to overflow, A(r) is formed
    directly and its norm taken, so every norm is correct to about 1e-10 relative or better.
    Biases (right = None) are summed directly: their running sums are only n×a numbers.
    ``step_norms``: the contributions' norms (``contribution_norms``), which bound the error.
    """
    table: Table = {}
    for name, (left, right) in factors.items():
        if right is None:
            with np.errstate(over="ignore", invalid="ignore"):
                table[name] = row_norms(np.cumsum(left[::-1], axis=0)[::-1])
        else:
            table[name] = _running_outer_norms(left, right, step_norms[name])
    return table


def _running_outer_norms(left: np.ndarray, right: np.ndarray, step_norms: np.ndarray,
                         ) -> np.ndarray:
    """||sum over s >= r of left(s) right(s)^T||_F for every row r (see factor_norms)."""
    n, a = left.shape
    b = right.shape[1]
    with np.errstate(all="ignore"):  # overflow shows as a non-finite S(r): formed directly
        gram = (left @ left.T) * (right @ right.T)  # (n, n): <C(s), C(s')>
        step = np.diag(gram) + 2.0 * np.triu(gram, 1).sum(axis=1)  # S(r) - S(r+1)
        squares = np.cumsum(step[::-1])[::-1]  # (n,) S(r) = ||A(r)||^2
        # Each Gram entry is off by at most ~(a+b) eps ||C(s)|| ||C(s')||, and the sums add
        # ~2n eps of the same size: the error of S(r) is below (a+b+2n) eps (sum ||C(s)||)^2.
        scale = np.cumsum(step_norms[::-1])[::-1]  # (n,)
        bound = (a + b + 2 * n) * np.finfo(float).eps * scale * scale
        norms = np.sqrt(np.maximum(squares, 0.0))
    trusted = np.isfinite(squares) & (squares > _TINY) & (bound <= 1e-10 * squares)
    zero = scale == 0.0  # no contribution at all from row r on: exactly 0
    norms[zero] = 0.0
    for r in np.flatnonzero(~trusted & ~zero):
        with np.errstate(all="ignore"):
            norms[r] = frobenius(left[r:].T @ right[r:])  # (a, b) A(r) formed directly
    return norms
