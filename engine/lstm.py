"""LSTM cell (gates f, i, g = candidate c~, o), one step forward and one step backward.

Forward, for one step t (sigm = logistic sigmoid, * = elementwise):
    f = sigm(W_f h(t-1) + U_f x(t) + b_f)     i = sigm(W_i h(t-1) + U_i x(t) + b_i)
    g = tanh(W_g h(t-1) + U_g x(t) + b_g)     o = sigm(W_o h(t-1) + U_o x(t) + b_o)
    c(t) = f * c(t-1) + i * g                 h(t) = o * tanh(c(t))
Backward, given dh(t) = V^T g_o(t) + dh_next(t) and dc_next(t) = dc(t+1) * f(t+1):
    dc(t)   = dh(t) * o * (1 - tanh^2 c(t)) + dc_next(t)
    delta_o = dh(t) * tanh c(t) * o (1 - o)      delta_f = dc(t) * c(t-1) * f (1 - f)
    delta_i = dc(t) * g * i (1 - i)              delta_g = dc(t) * i * (1 - g^2)
    dh_prev(t) = sum over gates W_*^T delta_*    dc_prev(t) = dc(t) * f(t)
    contributions: dW_* += delta_* h(t-1)^T,  dU_* += delta_* x(t)^T,  db_* += delta_*

The four gates are stacked (f, i, g, o) into one (4H, H) matrix so a step is one product.
"""

from __future__ import annotations

import numpy as np

from engine.nonlinear import sigmoid

GATES = ("f", "i", "g", "o")
GRAD_FACTORS = {
    **{f"W_{k}": (k, "h_prev") for k in GATES},
    **{f"U_{k}": (k, "x") for k in GATES},
    **{f"b_{k}": (k, None) for k in GATES},
}
DELTA_KEYS = GATES



def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> dict[str, np.ndarray]:
    del activation  # only the vanilla RNN has a choice of phi
    W = np.concatenate([params[f"W_{k}"] for k in GATES])  # (4H, H)
    return {"W": W,
            "U": np.concatenate([params[f"U_{k}"] for k in GATES]),  # (4H, D)
            "b": np.concatenate([params[f"b_{k}"] for k in GATES])}  # (4H,)


def input_projection(packed: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return X @ packed["U"].T + packed["b"]  # (n, 4H)


def step_forward(packed: dict[str, np.ndarray], ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    h_prev, c_prev = state_prev
    a = packed["W"] @ h_prev + ux_t  # (4H,) pre-activations of f, i, g, o
    H = h_prev.shape[0]
    act = sigmoid(a)
    act[2 * H:3 * H] = np.tanh(a[2 * H:3 * H])  # g is the tanh candidate
    f, i, g, o = act[:H], act[H:2 * H], act[2 * H:3 * H], act[3 * H:]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return {"h_prev": h_prev, "c_prev": c_prev, "a": a, "act": act,
            "f": f, "i": i, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}


def state_of(cache: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"], cache["c"])


def step_backward(packed: dict[str, np.ndarray], dstate: tuple[np.ndarray, ...],
                  cache: dict[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh, dc_next) -> ((dh_prev, dc_prev), deltas stacked (4H,) as f, i, g, o, {"dc"})."""
    dh, dc_next = dstate
    f, i, g, o, tanh_c = cache["f"], cache["i"], cache["g"], cache["o"], cache["tanh_c"]
    dc = dh * o * (1.0 - tanh_c * tanh_c) + dc_next
    delta = np.concatenate([
        dc * cache["c_prev"] * f * (1.0 - f),  # delta_f
        dc * g * i * (1.0 - i),  # delta_i
        dc * i * (1.0 - g * g),  # delta_g
        dh * tanh_c * o * (1.0 - o),  # delta_o
    ], axis=-1)
    dh_prev = delta @ packed["W"]  # (H,)
    return (dh_prev, dc * f), delta, {"dc": dc}


def input_grad(packed: dict[str, np.ndarray], stacked_delta: np.ndarray) -> np.ndarray:
    """dL/dx(t) for every step of a window: sum over gates of U_*^T delta_*(t), as rows."""
    return stacked_delta @ packed["U"]  # (n, D)
