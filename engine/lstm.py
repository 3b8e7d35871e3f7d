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

Steps run forward one at a time; ``finish_forward`` then adds, for a block of steps at once,
the factors the backward step multiplies the error by (they do not depend on the error).
"""

from __future__ import annotations

import numpy as np

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
    H = W.shape[1]
    # sigm(a) = 1/2 + 1/2 tanh(a/2): one tanh over the stacked pre-activations serves the
    # three sigmoid gates (scale 1/2) and the tanh candidate g (scale 1) at once.
    scale = np.full(4 * H, 0.5)
    scale[2 * H:3 * H] = 1.0
    shift = np.where(scale == 0.5, 0.5, 0.0)
    return {"W": W,
            "U": np.concatenate([params[f"U_{k}"] for k in GATES]),  # (4H, D)
            "b": np.concatenate([params[f"b_{k}"] for k in GATES]),  # (4H,)
            "scale": scale, "shift": shift}


def input_projection(packed: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return X @ packed["U"].T + packed["b"]  # (n, 4H)


def step_forward(packed: dict[str, np.ndarray], ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    h_prev, c_prev = state_prev
    H = h_prev.shape[0]
    a = packed["W"] @ h_prev + ux_t  # (4H,) pre-activations of f, i, g, o
    act = np.tanh(a * packed["scale"])
    act *= packed["scale"]
    act += packed["shift"]  # (4H,) values of f, i, g, o
    f, i, g, o = act[:H], act[H:2 * H], act[2 * H:3 * H], act[3 * H:]
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return {"h_prev": h_prev, "c_prev": c_prev, "a": a, "act": act,
            "f": f, "i": i, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}


def finish_forward(packed: dict[str, np.ndarray], caches: list[dict[str, np.ndarray]]) -> None:
    """Add to each cache what its backward step multiplies by, for a block of steps at once.

    These factors do not depend on the error, so they are formed over stacked rows (a few
    vector operations per block instead of per step): f(1-f), i(1-i), 1-g^2, o(1-o) times
    the vector each gate's delta takes (c(t-1) for f, g for i, i for g, tanh c(t) for o),
    and o (1 - tanh^2 c(t)).
    """
    act = np.array([cache["act"] for cache in caches])  # (n, 4H)
    tanh_c = np.array([cache["tanh_c"] for cache in caches])  # (n, H)
    c_prev = np.array([cache["c_prev"] for cache in caches])  # (n, H)
    H = tanh_c.shape[1]
    f, i, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
    dact = act * (1.0 - act)  # sigm' = s (1 - s) for f, i, o ...
    dact[:, 2 * H:3 * H] = 1.0 - g * g  # ... tanh' = 1 - g^2 for g
    delta_factor = np.concatenate((c_prev, g, i, tanh_c), axis=1) * dact  # (n, 4H)
    o_dtanh_c = o * (1.0 - tanh_c * tanh_c)  # (n, H)
    del f, i
    for cache, factor, od in zip(caches, delta_factor, o_dtanh_c, strict=True):
        cache["delta_factor"] = factor
        cache["o_dtanh_c"] = od


def state_of(cache: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"], cache["c"])


def step_backward(packed: dict[str, np.ndarray], dstate: tuple[np.ndarray, ...],
                  cache: dict[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh, dc_next) -> ((dh_prev, dc_prev), deltas stacked (4H,) as f, i, g, o, {"dc"}).

    Reads the factors of ``finish_forward``. Rows of a batch (B, H) work too: every product
    is elementwise or a right product by W.
    """
    dh, dc_next = dstate
    dc = dh * cache["o_dtanh_c"] + dc_next  # dh * o * (1 - tanh^2 c) + dc(t+1) f(t+1)
    # delta_f = dc c(t-1) f(1-f), delta_i = dc g i(1-i), delta_g = dc i (1-g^2),
    # delta_o = dh tanh c(t) o(1-o): one product over the stacked gates
    delta = np.concatenate((dc, dc, dc, dh), axis=-1) * cache["delta_factor"]
    dh_prev = delta @ packed["W"]  # (H,)
    return (dh_prev, dc * cache["f"]), delta, {"dc": dc}


def input_grad(packed: dict[str, np.ndarray], stacked_delta: np.ndarray) -> np.ndarray:
    """dL/dx(t) for every step of a window: sum over gates of U_*^T delta_*(t), as rows."""
    return stacked_delta @ packed["U"]  # (n, D)
