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
The parameters of the candidate are named W_h, U_h, b_h; its delta and values are keyed "n"
(``PARAMS`` declares that mapping, once). The module implements ``engine.cell.Cell``.

``step_forward`` / ``step_backward`` are one step each (replays, diagnostics and the tests
use them); ``forward_steps`` / ``backward_steps`` run the same operations in the same order
over a block of steps into preallocated stacks, which is how the schedule records a pass; the
tests hold the two forms to the same bits. ``backward_factors`` forms, once per block, what the
backward step multiplies the error by (it does not depend on the error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .memory import empty_stacks, shift_rows
from .protocol import Packed, ParamSpec, gate_params
from .protocol import input_grad as input_grad  # the shared helpers, this cell's own too
from .protocol import input_projection as input_projection
from .terms import Node, Reader, Step, dgate, dot, leaf, product, through_weights, total

NAME = "gru"
TITLE = "GRU"
STATE = ("h",)
GATES = ("z", "r", "n")
DELTA_KEYS = GATES  # the deltas are stacked in gate order
# In CONTRACT.md's order. The candidate n's parameters are W_h, U_h, b_h, and W_h multiplies
# r * h(t-1): contrib dW_h = delta_n(t) (r * h(t-1))^T.
PARAMS: dict[str, ParamSpec] = {
    **gate_params("z", "z", "deltas.z"),
    **gate_params("r", "r", "deltas.r"),
    **gate_params("n", "h", "deltas.n", recurrent_right="rh_prev"),
}
PRE_ACTIVATIONS: str | dict[str, str] = {"z": "a_z", "r": "a_r", "n": "a_n"}
RECORDED: tuple[str, ...] = ("rh_prev",)  # what W_h multiplies: dW_h's right factor
BACKWARD_RECORDED: tuple[str, ...] = ()
# the stacks backward_steps reads
BACKWARD_KEYS = ("dn_factor", "dz_factor", "dr_factor", "z", "r")
KEEP_BIAS: str | None = "b_z"  # the update gate's bias: how much of h(t-1) is kept
VIEW_CONFIG: tuple[str, ...] = ()
# This cell's cost: CPU seconds per step of its own (engine.cost reads it; 0.0 where the
# fit found the step's cost already in the shared features).
# COST-BEGIN (written by bench/calibrate_cost.py --write; do not edit by hand)
COST: dict[str, dict[str, float]] = {
    'gradcheck': {'evaluations': 1.435e-05},
    'pass': {'backward_steps': 3.022e-05, 'steps': 0.0},
    'passes': {'backward_steps': 1.586e-05, 'steps': 0.0},
    'replay': {'steps': 1.006e-05},
}
# COST-END


def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> Packed:
    del activation  # only the vanilla RNN has a choice of phi
    W_zr = np.concatenate([params["W_z"], params["W_r"]])  # (2H, H)
    return {"W_zr": W_zr, "W_h": params["W_h"],
            "U": np.concatenate([params["U_z"], params["U_r"], params["U_h"]]),  # (3H, D)
            "b": np.concatenate([params["b_z"], params["b_r"], params["b_h"]])}  # (3H,)


def recurrent(packed: Packed) -> Any:
    """What backward_steps multiplies the deltas by: the version's recurrent weights."""
    return (packed["W_zr"], packed["W_h"])


def step_forward(packed: Packed, ux_t: np.ndarray,
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


def backward_factors(stacks: dict[str, np.ndarray], scratch: np.ndarray) -> None:
    """Fill, for every step of a block (rows), what its backward step multiplies by:
    (1 - z)(1 - n^2) for delta_n, (h(t-1) - n) z(1-z) for delta_z, h(t-1) r(1-r) for
    delta_r. ``scratch``: an (n, H) array to work in."""
    zr, n, h_prev = stacks["zr"], stacks["n"], stacks["h_prev"]
    H = n.shape[1]
    z = zr[:, :H]
    # formed in place in the block's arrays (no (n, H) temporaries: see engine.memory)
    dz, dr, dn = stacks["dz_factor"], stacks["dr_factor"], stacks["dn_factor"]
    np.subtract(1.0, z, out=dz)
    dz *= z  # z (1 - z)
    np.subtract(1.0, z, out=dn)  # 1 - z, times 1 - n^2 below
    np.subtract(1.0, zr[:, H:], out=dr)
    dr *= zr[:, H:]  # r (1 - r)
    dr *= h_prev
    np.multiply(n, n, out=scratch)
    np.subtract(1.0, scratch, out=scratch)
    dn *= scratch  # (1 - z)(1 - n^2)
    np.subtract(h_prev, n, out=scratch)
    dz *= scratch  # (h(t-1) - n) z (1 - z)


def forward_steps(packed: Packed, X: np.ndarray,
                  state0: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    """input_projection and step_forward for each row of the inputs ``X`` (n, D), into stacks
    of rows (see step_forward's cache for the names), plus the factors of
    ``backward_factors``."""
    n, H = X.shape[0], packed["W_h"].shape[0]
    block = empty_stacks({"ux": (n, 3 * H), "a_zr": (n, 2 * H), "zr": (n, 2 * H),
                          "rh_prev": (n, H),
                          "a_n": (n, H), "n": (n, H), "h": (n + 1, H), "dz_factor": (n, H),
                          "dr_factor": (n, H), "dn_factor": (n, H), "scratch": (n, H)})
    a_zr, zr, rh_prev, a_n = block["a_zr"], block["zr"], block["rh_prev"], block["a_n"]
    cand, h = block["n"], block["h"]
    h[0] = state0[0]  # row 0: the state before the block
    ux = input_projection(packed, X, out=block["ux"])
    W_zr, W_h = packed["W_zr"], packed["W_h"]
    for t in range(n):
        a_t, zr_t, n_t, h_t = a_zr[t], zr[t], cand[t], h[t + 1]
        np.dot(W_zr, h[t], out=a_t)
        a_t += ux[t, :2 * H]
        np.multiply(a_t, 0.5, out=zr_t)
        np.tanh(zr_t, out=zr_t)
        zr_t *= 0.5
        zr_t += 0.5  # sigm(a) = 1/2 + 1/2 tanh(a/2)
        np.multiply(zr_t[H:], h[t], out=rh_prev[t])  # r * h(t-1)
        np.dot(W_h, rh_prev[t], out=a_n[t])
        a_n[t] += ux[t, 2 * H:]
        np.tanh(a_n[t], out=n_t)
        np.subtract(h[t], n_t, out=h_t)
        h_t *= zr_t[:H]
        h_t += n_t  # n + z * (h(t-1) - n)
    stacks = {"h_prev": h[:-1], "a_z": a_zr[:, :H], "a_r": a_zr[:, H:], "a_n": a_n,
              "zr": zr, "z": zr[:, :H], "r": zr[:, H:], "n": cand, "rh_prev": rh_prev,
              "h": h[1:], **{key: block[key] for key in ("dz_factor", "dr_factor", "dn_factor")}}
    backward_factors(stacks, block["scratch"])
    return stacks


def state_of(cache: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"],)


def step_backward(packed: Packed, dstate: tuple[np.ndarray, ...],
                  cache: Mapping[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh,) -> ((dh_prev,), deltas stacked (3H,) as z, r, n, {}). Batches of rows work too.

    Reads the factors of ``backward_factors``.
    """
    (dh,) = dstate
    delta_n = dh * cache["dn_factor"]
    delta_z = dh * cache["dz_factor"]
    drh = delta_n @ packed["W_h"]  # error reaching r * h(t-1)
    delta_r = drh * cache["dr_factor"]
    delta_zr = np.concatenate((delta_z, delta_r), axis=-1)
    dh_prev = dh * cache["z"] + drh * cache["r"] + delta_zr @ packed["W_zr"]
    return (dh_prev,), np.concatenate((delta_zr, delta_n), axis=-1), {}


def backward_steps(Ws: list[Any], stacks: dict[str, np.ndarray], dh_out: np.ndarray,
                   bug: str | None = None, carry: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """step_backward for rows n-1..0 of a window, error entering through ``dh_out`` (n, H).

    ``Ws[row]`` is the (W_zr, W_h) pair the row's step used; ``stacks`` the window's rows of
    forward_steps. Returns stacks of dh (n, H), the deltas (n, 3H), dh_prev and dh_next
    (n, H; dh_prev one row later).
    ``bug`` (engine.bugs): "dh_next_dropped" leaves dh_next(t) out of dh(t);
    "reset_gate_wrong_side" sends W_h^T (r * delta_n) back instead of r * (W_h^T delta_n).
    """
    n, H = dh_out.shape
    dn, dz, dr = stacks["dn_factor"], stacks["dz_factor"], stacks["dr_factor"]
    z, r = stacks["z"], stacks["r"]
    out = empty_stacks({"dh": (n, H), "delta": (n, 3 * H), "dh_prev": (n, H),
                        "dh_next": (n, H)})
    dh, dh_prev, delta = out["dh"], out["dh_prev"], out["delta"]
    dh_next = np.zeros(H)
    carried, reset_inside = bug != "dh_next_dropped", bug != "reset_gate_wrong_side"
    for t in range(n - 1, -1, -1):
        W_zr, W_h = Ws[t]
        dh_t, delta_t = dh[t], delta[t]
        np.add(dh_out[t], dh_next if carried else 0.0, out=dh_t)
        delta_n = delta_t[2 * H:]
        np.multiply(dh_t, dn[t], out=delta_n)
        np.multiply(dh_t, dz[t], out=delta_t[:H])
        drh = delta_n @ W_h  # error reaching r * h(t-1)
        np.multiply(drh, dr[t], out=delta_t[H:2 * H])
        dh_next = dh_prev[t]
        np.multiply(dh_t, z[t], out=dh_next)
        dh_next += drh * r[t] if reset_inside else (r[t] * delta_n) @ W_h
        dh_next += delta_t[:2 * H] @ W_zr
        if carry is not None:  # randomized truncation: the flow to t-1 weighted by xi_t
            dh_next *= carry[t]
    shift_rows(dh_prev, out["dh_next"])
    return out



# ---------------------------------------------------------------------------------------------
# The PyTorch step and the neuron view's terms.


def torch_step(activation: str) -> str:
    del activation  # only the vanilla RNN has a choice of phi
    return '''
def step(p, x, state):
    """GRU: update gate z, reset gate r (applied before the recurrent product), candidate n;
    h(t) = z h(t-1) + (1 - z) n."""
    (h,) = state
    z = torch.sigmoid(p["W_z"] @ h + p["U_z"] @ x + p["b_z"])
    r = torch.sigmoid(p["W_r"] @ h + p["U_r"] @ x + p["b_r"])
    n = torch.tanh(p["W_h"] @ (r * h) + p["U_h"] @ x + p["b_h"])
    return (z * h + (1 - z) * n,)
'''


def _drh(reader: Reader, step: Step, j: int, t: int) -> Node:
    """drh_j(s) = sum_k W_{h,kj} delta_{n,k}(s): the error reaching r * h(s-1) at unit j."""
    return dot("drh", t, "W_h", step.version, j, step.params["W_h"][:, j], "deltas.n", step.t,
               reader.err(step.backward["deltas"]["n"]))


def neuron_next(reader: Reader, t: int, j: int, after: Step, recorded: float) -> Node:
    """step_backward's dh_prev = dh z + drh r + W_z^T delta_z + W_r^T delta_r, read at t+1."""
    s = after.t
    gates = after.forward["gates"]
    direct = product("dh_next.direct", t, [
        leaf("dh", s, reader.err(after.backward["dh"])[j], "error"),
        leaf("gates.z", s, gates["z"][j], "state")])
    reset = product("dh_next.reset", t, [_drh(reader, after, j, s),
                                         leaf("gates.r", s, gates["r"][j], "state")])
    through = through_weights(reader, t, j, after, ("z", "r"))
    return total("dh_next", t, [direct, reset, *through], recorded=recorded)


def neuron_deltas(reader: Reader, here: Step, after: Step | None, j: int, dh: float,
                  config: Mapping[str, Any]) -> dict[str, Any]:
    """Each gate's delta as the product of its factors."""
    t, fwd, bwd = here.t, here.forward, here.backward
    z, r, n = (float(fwd["gates"][gate][j]) for gate in GATES)
    h_prev = float(fwd["h_prev"][j])
    dh_leaf = leaf("dh", t, dh, "error")
    n_leaf, z_leaf = leaf("gates.n", t, n, "state"), leaf("gates.z", t, z, "state")
    h_prev_leaf = leaf("h_prev", t, h_prev, "state")
    factors = {
        # dh(t)/dz = h(t-1) - n, dh(t)/dn = 1 - z: h(t) = z h(t-1) + (1 - z) n
        "z": [dh_leaf, leaf("h_prev_minus_n", t, h_prev - n, "derivative", recorded=False,
                            of=[h_prev_leaf, n_leaf]), dgate("z", t, z)],
        "r": [_drh(reader, here, j, t), h_prev_leaf, dgate("r", t, r)],
        "n": [dh_leaf, leaf("one_minus_z", t, 1.0 - z, "derivative", recorded=False,
                            of=[z_leaf]), dgate("n", t, n, tanh=True)],
    }
    deltas = {gate: product(f"deltas.{gate}", t, factors[gate],
                            recorded=reader.err(bwd["deltas"][gate])[j])
              for gate in bwd["deltas"]}
    return {"deltas": deltas}
