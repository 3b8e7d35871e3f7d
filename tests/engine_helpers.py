"""Small requests and a finite-difference helper shared by the engine tests."""

from __future__ import annotations

import typing
from collections.abc import Callable

import numpy as np

from bptt_studio.engine import CELLS
from bptt_studio.engine.request.fields import ActivationName

T, D, H, K = 5, 3, 3, 3

# The registered cells, and each with every activation it takes (the cells whose neuron view
# repeats the activation are those it changes: the vanilla RNN's phi), as tests parametrise.
CELL_NAMES = list(CELLS)
CELL_VARIANTS = [(name, activation) for name, cell in CELLS.items()
                 for activation in (typing.get_args(ActivationName)
                                    if "activation" in cell.VIEW_CONFIG else ("tanh",))]

SCHEDULES = {
    "full": None,
    "chunked": {"k1": 2, "k2": 2},
    "online_bptt_h": {"k1": 1, "k2": 3},
    "k1_lt_k2": {"k1": 2, "k2": 3},
}


def explicit_data(loss: str, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(T, D)).round(3).tolist()
    if loss == "cross_entropy":
        return {"inputs": inputs, "targets": rng.integers(0, K, size=T).tolist()}
    return {"inputs": inputs, "targets": rng.normal(size=(T, K)).round(3).tolist()}


def small_request(cell: str = "rnn", activation: str = "tanh", loss: str = "cross_entropy",
                  loss_at: str = "every", schedule: str = "full", **extra) -> dict:
    rng = np.random.default_rng(3)
    request = {
        "cell": cell, "hidden_size": H, "activation": activation, "loss": loss,
        "loss_at": loss_at, "data": explicit_data(loss), "truncation": SCHEDULES[schedule],
        # a large step so that successive parameter versions really differ (k2 > k1)
        "optimizer": {"name": "sgd", "lr": 0.5}, "seed": 11,
        "h0": rng.normal(scale=0.5, size=H).round(3).tolist(),
    }
    for state in CELLS[cell].STATE[1:]:  # c0 of the LSTM
        request[f"{state}0"] = rng.normal(scale=0.5, size=H).round(3).tolist()
    request.update(extra)
    return request


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray,
                       eps: float = 1e-6) -> np.ndarray:
    """Numerical gradient of a scalar f at x, entry by entry."""
    grad = np.zeros_like(x)
    for entry in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[entry] += eps
        minus[entry] -= eps
        grad[entry] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def assert_gradients_close(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=what)
