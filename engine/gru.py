"""GRU cell (Cho et al. 2014, d2l form: the reset gate applies before the recurrent product).

Forward, for one step t:
    z = sigm(W_z h(t-1) + U_z x(t) + b_z)         update gate
    r = sigm(W_r h(t-1) + U_r x(t) + b_r)         reset gate
    n = tanh(W_h (r * h(t-1)) + U_h x(t) + b_h)   candidate
    h(t) = z * h(t-1) + (1 - z) * n
Backward, given dh(t) = V^T g_o(t) + dh_next(t):
    delta_n = dh(t) * (1 - z) * (1 - n^2)
    delta_z = dh(t) * (h(t-1) - n) * z (1 - z)
    drh     = W_h^T delta_n                       error reaching r * h(t-1)
    delta_r = drh * h(t-1) * r (1 - r)
    dh_prev(t) = dh(t) * z + drh * r + W_z^T delta_z + W_r^T delta_r
    contributions: dW_z += delta_z h(t-1)^T,  dW_r += delta_r h(t-1)^T,
                   dW_h += delta_n (r * h(t-1))^T,  dU_* += delta_* x(t)^T,  db_* += delta_*
The parameters of the candidate are named W_h, U_h, b_h; its delta and values are keyed "n".

Steps run forward one at a time; ``finish_forward`` then adds, for a block of steps at once,
the factors the backward step multiplies the error by (they do not depend on the error).
"""

from __future__ import annotations

import numpy as np

GATES = ("z", "r", "n")
PARAM_SUFFIX = {"z": "z", "r": "r", "n": "h"}
GRAD_FACTORS = {
    "W_z": ("z", "h_prev"), "U_z": ("z", "x"), "b_z": ("z", None),
    "W_r": ("r", "h_prev"), "U_r": ("r", "x"), "b_r": ("r", None),
    "W_h": ("n", "rh_prev"), "U_h": ("n", "x"), "b_h": ("n", None),
}
DELTA_KEYS = GATES



def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> dict[str, np.ndarray]:
    del activation  # only the vanilla RNN has a choice of phi
    W_zr = np.concatenate([params["W_z"], params["W_r"]])  # (2H, H)
    return {"W_zr": W_zr, "W_h": params["W_h"],
            "U": np.concatenate([params["U_z"], params["U_r"], params["U_h"]]),  # (3H, D)
            "b": np.concatenate([params["b_z"], params["b_r"], params["b_h"]])}  # (3H,)


def input_projection(packed: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return X @ packed["U"].T + packed["b"]  # (n, 3H): U_* x(t) + b_* for z, r, n


def step_forward(packed: dict[str, np.ndarray], ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    (h_prev,) = state_prev
    H = h_prev.shape[0]
    a_zr = packed["W_zr"] @ h_prev + ux_t[:2 * H]  # (2H,)
    zr = np.tanh(0.5 * a_zr)
    zr *= 0.5
    zr += 0.5  # sigm(a) = 1/2 + 1/2 tanh(a/2), without overflow
    z, r = zr[:H], zr[H:]
    rh_prev = r * h_prev
    a_n = packed["W_h"] @ rh_prev + ux_t[2 * H:]  # (H,)
    n = np.tanh(a_n)
    h = n + z * (h_prev - n)  # = z * h(t-1) + (1 - z) * n
    return {"h_prev": h_prev, "a_z": a_zr[:H], "a_r": a_zr[H:], "a_n": a_n, "zr": zr,
            "z": z, "r": r, "n": n, "rh_prev": rh_prev, "h": h}


def finish_forward(packed: dict[str, np.ndarray], caches: list[dict[str, np.ndarray]]) -> None:
    """Add to each cache what its backward step multiplies by, over a block of steps at once:
    (1 - z)(1 - n^2) for delta_n, (h(t-1) - n) z(1-z) for delta_z, h(t-1) r(1-r) for delta_r."""
    zr = np.array([cache["zr"] for cache in caches])  # (n, 2H)
    n = np.array([cache["n"] for cache in caches])  # (n, H)
    h_prev = np.array([cache["h_prev"] for cache in caches])  # (n, H)
    H = n.shape[1]
    z = zr[:, :H]
    dzr = zr * (1.0 - zr)
    dn_factor = (1.0 - z) * (1.0 - n * n)
    dz_factor = (h_prev - n) * dzr[:, :H]
    dr_factor = h_prev * dzr[:, H:]
    for cache, dn, dz, dr in zip(caches, dn_factor, dz_factor, dr_factor, strict=True):
        cache["dn_factor"], cache["dz_factor"], cache["dr_factor"] = dn, dz, dr


def state_of(cache: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"],)


def step_backward(packed: dict[str, np.ndarray], dstate: tuple[np.ndarray, ...],
                  cache: dict[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh,) -> ((dh_prev,), deltas stacked (3H,) as z, r, n, {}). Batches of rows work too.

    Reads the factors of ``finish_forward``.
    """
    (dh,) = dstate
    delta_n = dh * cache["dn_factor"]
    delta_z = dh * cache["dz_factor"]
    drh = delta_n @ packed["W_h"]  # error reaching r * h(t-1)
    delta_r = drh * cache["dr_factor"]
    delta_zr = np.concatenate((delta_z, delta_r), axis=-1)
    dh_prev = dh * cache["z"] + drh * cache["r"] + delta_zr @ packed["W_zr"]
    return (dh_prev,), np.concatenate((delta_zr, delta_n), axis=-1), {}


def input_grad(packed: dict[str, np.ndarray], stacked_delta: np.ndarray) -> np.ndarray:
    return stacked_delta @ packed["U"]  # (n, D)
