"""engine.norms: the Frobenius norms of a window's running sums, from its factors.

The running sum after row r of a window is A(r) = sum over s >= r of left(s) right(s)^T (a
bias: of left(s)). A small window's sums are formed and measured; a large one's come from
Gram matrices of the factors without forming them. Either way the norm is the norm of the
formed matrix, to 1e-10 relative, also when contributions cancel; overflow gives inf or NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bptt_studio.engine.bptt.norms import FORM_LIMIT, running_norms


def formed_norms(left: np.ndarray, right: np.ndarray | None) -> list[float]:
    n = left.shape[0]
    sums = [left[r:].sum(axis=0) if right is None else left[r:].T @ right[r:] for r in range(n)]
    return [float(np.linalg.norm(a)) for a in sums]


SHAPES = [pytest.param(3, 2, 4, id="small: formed"),
          pytest.param(12, 16, 20, id="large: Gram matrices")]


@pytest.mark.parametrize(("n", "a", "b"), SHAPES)
def test_running_norms_are_the_norms_of_the_formed_running_sums(n, a, b):
    rng = np.random.default_rng(1)
    left, right = rng.normal(size=(n, a)), rng.normal(size=(n, b))
    table = running_norms({"W": (left, right), "b": (left, None)})
    assert list(table) == ["W", "b"]
    assert table["W"].tolist() == pytest.approx(formed_norms(left, right), rel=1e-10)
    assert table["b"].tolist() == pytest.approx(formed_norms(left, None), rel=1e-10)


def test_the_shapes_cover_both_ways():
    assert 3 * 2 * 4 <= FORM_LIMIT < 12 * 16 * 20


@pytest.mark.parametrize(("n", "a", "b"), SHAPES)
def test_running_norms_stay_accurate_when_contributions_cancel(n, a, b):
    rng = np.random.default_rng(2)
    left, right = rng.normal(size=(n, a)), rng.normal(size=(n, b))
    left[1] = -left[0] * (1 + 1e-9)  # rows 0 and 1 nearly cancel: A(0) is tiny next to A(1)
    right[1] = right[0]
    table = running_norms({"W": (left, right)})
    assert table["W"].tolist() == pytest.approx(formed_norms(left, right), rel=1e-8)


@pytest.mark.parametrize(("n", "a", "b"), SHAPES)
def test_formed_sums_given_are_measured_to_the_same_bits(n, a, b):
    rng = np.random.default_rng(3)
    left, right = rng.normal(size=(n, a)), rng.normal(size=(n, b))
    formed = {"W": np.cumsum(np.einsum("ti,tj->tij", left, right)[::-1], axis=0)[::-1]}
    assert running_norms({"W": (left, right)}, formed)["W"].tolist() == (
        running_norms({"W": (left, right)})["W"].tolist())


@pytest.mark.parametrize(("n", "a", "b"), SHAPES)
def test_running_norms_of_overflowed_sums_are_inf_or_nan(n, a, b):
    rng = np.random.default_rng(4)
    left, right = rng.normal(size=(n, a)), rng.normal(size=(n, b))
    left[-1] *= 1e300
    right[-1] *= 1e300  # the last row's contribution overflows: every running sum holds it
    nan_left = left.copy()
    nan_left[0, 0] = math.nan
    table = running_norms({"W": (left, right), "V": (nan_left, right)})
    assert all(math.isinf(v) for v in table["W"].tolist())
    assert math.isnan(table["V"][0])
