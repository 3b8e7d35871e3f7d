"""LSTM cell (gates f, i, g = candidate c~, o), one step forward and one step backward.

Forward, for one step t (sigm = logistic sigmoid, * = elementwise):
    f = sigm(W_f h(t-1) + U_f x(t) + b_f)     i = sigm(W_i h(t-1) + U_i x(t) + b_i)
    g = tanh(W_g h(t-1) + U_g x(t) + b_g)     o = sigm(W_o h(t-1) + U_o x(t) + b_o)
    c(t) = f * c(t-1) + i * g                 h(t) = o * tanh(c(t))
Backward, given dh(t) = V^T g_o(t) + dh_next(t) and dc_next(t) = dc(t+1) * f(t+1):
    dc(t)   = dh(t) * o * (1 - tanh^2 c(t)) + dc_next(t)     (its first term: dc_from_h(t))
    delta_o = dh(t) * tanh c(t) * o (1 - o)      delta_f = dc(t) * c(t-1) * f (1 - f)
    delta_i = dc(t) * g * i (1 - i)              delta_g = dc(t) * i * (1 - g^2)
    dh_prev(t) = sum over gates W_*^T delta_*    dc_prev(t) = dc(t) * f(t)
    contributions: dW_* += delta_* h(t-1)^T,  dU_* += delta_* x(t)^T,  db_* += delta_*

The four gates are stacked (f, i, g, o) into one (4H, H) matrix so a step is one product.
The module implements ``engine.cell.Cell``.

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
from .protocol import Packed, ParamSpec, gate_params, stacked_recurrent
from .protocol import input_grad as input_grad  # the shared helpers, this cell's own too
from .protocol import input_projection as input_projection
from .terms import Node, Reader, Step, dgate, leaf, product, through_weights, total

NAME = "lstm"
TITLE = "LSTM"
STATE = ("h", "c")
GATES = ("f", "i", "g", "o")
DELTA_KEYS = GATES  # the deltas are stacked in gate order
# W_k, U_k, b_k of every gate k, in CONTRACT.md's order:
# contrib = delta_k(t) h(t-1)^T, delta_k(t) x(t)^T, delta_k(t)
PARAMS: dict[str, ParamSpec] = {
    name: spec for k in GATES for name, spec in gate_params(k, k, f"deltas.{k}").items()}
PRE_ACTIVATIONS: str | dict[str, str] = {k: f"a_{k}" for k in GATES}
RECORDED: tuple[str, ...] = ("c_prev", "c")
# dc(t), what reaches it from c(t+1), and what reaches it through h(t): the two terms of its sum
BACKWARD_RECORDED: tuple[str, ...] = ("dc", "dc_next", "dc_from_h")
BACKWARD_KEYS = ("delta_factor", "o_dtanh_c", "f")  # the stacks backward_steps reads
recurrent = stacked_recurrent  # backward_steps multiplies the deltas by the stacked W
KEEP_BIAS: str | None = "b_f"  # the forget gate's bias: how much of c(t-1) is kept
VIEW_CONFIG: tuple[str, ...] = ()
# This cell's cost: CPU seconds per step of its own (engine.cost reads it; 0.0 where the
# fit found the step's cost already in the shared features).
# COST-BEGIN (written by bench/calibrate_cost.py --write; do not edit by hand)
COST: dict[str, dict[str, float]] = {
    'gradcheck': {'evaluations': 1.862e-05},
    'pass': {'backward_steps': 1.403e-05, 'steps': 6.78e-06},
    'passes': {'backward_steps': 1.06e-05, 'steps': 2.706e-06},
    'replay': {'steps': 8.907e-06},
}
# COST-END


def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> Packed:
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


def step_forward(packed: Packed, ux_t: np.ndarray,
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


def backward_factors(stacks: dict[str, np.ndarray]) -> None:
    """Fill, for every step of a block (rows), what its backward step multiplies by.

    f(1-f), i(1-i), 1-g^2, o(1-o) times the vector each gate's delta takes (c(t-1) for f, g
    for i, i for g, tanh c(t) for o), stacked as ``delta_factor`` (n, 4H), and
    ``o_dtanh_c`` = o (1 - tanh^2 c(t)).
    """
    act, tanh_c, c_prev = stacks["act"], stacks["tanh_c"], stacks["c_prev"]
    H = tanh_c.shape[1]
    g, i, o = act[:, 2 * H:3 * H], act[:, H:2 * H], act[:, 3 * H:]
    # formed in place in the block's arrays (no (n, 4H) temporaries: see engine.memory)
    factor = np.subtract(1.0, act, out=stacks["delta_factor"])
    factor *= act  # sigm' = s (1 - s) for f, i, o ...
    dg = factor[:, 2 * H:3 * H]
    np.multiply(g, g, out=dg)
    np.subtract(1.0, dg, out=dg)  # ... tanh' = 1 - g^2 for g
    factor[:, :H] *= c_prev
    factor[:, H:2 * H] *= g
    factor[:, 2 * H:3 * H] *= i
    factor[:, 3 * H:] *= tanh_c
    o_dtanh_c = np.multiply(tanh_c, tanh_c, out=stacks["o_dtanh_c"])
    np.subtract(1.0, o_dtanh_c, out=o_dtanh_c)
    o_dtanh_c *= o


def forward_steps(packed: Packed, X: np.ndarray,
                  state0: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    """input_projection and step_forward for each row of the inputs ``X`` (n, D), into stacks
    of rows (see step_forward's cache for the names), plus the factors of
    ``backward_factors``."""
    n, H = X.shape[0], packed["W"].shape[1]
    block = empty_stacks({"ux": (n, 4 * H), "a": (n, 4 * H), "act": (n, 4 * H), "h": (n + 1, H),
                          "c": (n + 1, H), "tanh_c": (n, H), "delta_factor": (n, 4 * H),
                          "o_dtanh_c": (n, H)})
    a, act, h, c, tanh_c = block["a"], block["act"], block["h"], block["c"], block["tanh_c"]
    h[0], c[0] = state0  # row 0: the state before the block
    ux = input_projection(packed, X, out=block["ux"])
    W, scale, shift = packed["W"], packed["scale"], packed["shift"]
    for t in range(n):
        a_t, act_t, c_t = a[t], act[t], c[t + 1]
        np.dot(W, h[t], out=a_t)
        a_t += ux[t]
        np.multiply(a_t, scale, out=act_t)
        np.tanh(act_t, out=act_t)
        act_t *= scale
        act_t += shift  # f, i, g, o
        np.multiply(act_t[:H], c[t], out=c_t)
        c_t += act_t[H:2 * H] * act_t[2 * H:3 * H]  # c = f * c_prev + i * g
        np.tanh(c_t, out=tanh_c[t])
        np.multiply(act_t[3 * H:], tanh_c[t], out=h[t + 1])
    stacks = {"h_prev": h[:-1], "c_prev": c[:-1], "a": a,
              **{f"a_{k}": a[:, j * H:(j + 1) * H] for j, k in enumerate(GATES)}, "act": act,
              "f": act[:, :H], "i": act[:, H:2 * H], "g": act[:, 2 * H:3 * H],
              "o": act[:, 3 * H:], "c": c[1:], "tanh_c": tanh_c, "h": h[1:],
              "delta_factor": block["delta_factor"], "o_dtanh_c": block["o_dtanh_c"]}
    backward_factors(stacks)
    return stacks


def state_of(cache: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"], cache["c"])


def step_backward(packed: Packed, dstate: tuple[np.ndarray, ...],
                  cache: Mapping[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh, dc_next) -> ((dh_prev, dc_prev), deltas stacked (4H,) as f, i, g, o,
    {"dc", "dc_from_h"}).

    Reads the factors of ``backward_factors``. Rows of a batch (B, H) work too: every product
    is elementwise or a right product by W.
    """
    dh, dc_next = dstate
    dc_from_h = dh * cache["o_dtanh_c"]  # dh * o * (1 - tanh^2 c)
    dc = dc_from_h + dc_next  # ... + dc(t+1) f(t+1)
    # delta_f = dc c(t-1) f(1-f), delta_i = dc g i(1-i), delta_g = dc i (1-g^2),
    # delta_o = dh tanh c(t) o(1-o): one product over the stacked gates
    delta = np.concatenate((dc, dc, dc, dh), axis=-1) * cache["delta_factor"]
    dh_prev = delta @ packed["W"]  # (H,)
    return (dh_prev, dc * cache["f"]), delta, {"dc": dc, "dc_from_h": dc_from_h}


def backward_steps(Ws: list[Any], stacks: dict[str, np.ndarray], dh_out: np.ndarray,
                   bug: str | None = None, carry: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """step_backward for rows n-1..0 of a window, error entering through ``dh_out`` (n, H).

    ``Ws[row]`` is the stacked W the row's step used; ``stacks`` the window's rows of
    forward_steps. Returns stacks of dh, dc, dc_from_h (n, H), the deltas (n, 4H), dh_prev,
    dc_prev (n, H), and dh_next, dc_next (dh_prev and dc_prev one row later).
    ``bug`` (engine.bugs): "dh_next_dropped" leaves dh_next(t) out of dh(t),
    "dc_next_dropped" dc_next(t) out of dc(t). ``carry`` (randomized truncation): each
    row's weight on the errors it sends to the row before.
    """
    n, H = dh_out.shape
    factor, o_dtanh_c, f = stacks["delta_factor"], stacks["o_dtanh_c"], stacks["f"]
    out = empty_stacks({"dh": (n, H), "dc": (n, H), "dc_from_h": (n, H), "delta": (n, 4 * H),
                        "dh_prev": (n, H), "dc_prev": (n, H), "dh_next": (n, H),
                        "dc_next": (n, H)})
    dh, dc, dh_prev, dc_prev = out["dh"], out["dc"], out["dh_prev"], out["dc_prev"]
    dc_from_h = out["dc_from_h"]
    delta = out["delta"]
    fig, fig_factor = delta[:, :3 * H].reshape(n, 3, H), factor[:, :3 * H].reshape(n, 3, H)
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    # the errors from t+1 added in, or (the bugs) left out every step
    carried_h, carried_c = bug != "dh_next_dropped", bug != "dc_next_dropped"
    for t in range(n - 1, -1, -1):
        dh_t, dc_t = dh[t], dc[t]
        np.add(dh_out[t], dh_next if carried_h else 0.0, out=dh_t)
        np.multiply(dh_t, o_dtanh_c[t], out=dc_from_h[t])
        if carried_c:
            np.add(dc_from_h[t], dc_next, out=dc_t)
        else:
            dc_t[...] = dc_from_h[t]
        np.multiply(fig_factor[t], dc_t, out=fig[t])  # delta_f, delta_i, delta_g
        np.multiply(factor[t, 3 * H:], dh_t, out=delta[t, 3 * H:])  # delta_o
        dh_next, dc_next = dh_prev[t], dc_prev[t]
        np.dot(delta[t], Ws[t], out=dh_next)
        np.multiply(dc_t, f[t], out=dc_next)
        if carry is not None:  # randomized truncation: both flows to t-1 weighted by xi_t
            dh_next *= carry[t]
            dc_next *= carry[t]
    shift_rows(dh_prev, out["dh_next"])
    shift_rows(dc_prev, out["dc_next"])
    return out



# ---------------------------------------------------------------------------------------------
# The PyTorch step and the neuron view's terms.


def torch_step(activation: str) -> str:
    del activation  # only the vanilla RNN has a choice of phi
    return '''
def step(p, x, state):
    """LSTM: gates f, i, o and the candidate g; c(t) = f c(t-1) + i g,  h(t) = o tanh(c(t))."""
    h, c = state
    f = torch.sigmoid(p["W_f"] @ h + p["U_f"] @ x + p["b_f"])
    i = torch.sigmoid(p["W_i"] @ h + p["U_i"] @ x + p["b_i"])
    g = torch.tanh(p["W_g"] @ h + p["U_g"] @ x + p["b_g"])
    o = torch.sigmoid(p["W_o"] @ h + p["U_o"] @ x + p["b_o"])
    c = f * c + i * g
    return (o * torch.tanh(c), c)
'''


def neuron_next(reader: Reader, t: int, j: int, after: Step, recorded: float) -> Node:
    """dh_next_j(t) = sum over gates of sum_k W_{gate,kj} delta_{gate,k}(t+1)."""
    return total("dh_next", t, through_weights(reader, t, j, after, GATES), recorded=recorded)


def neuron_deltas(reader: Reader, here: Step, after: Step | None, j: int, dh: float,
                  config: Mapping[str, Any]) -> dict[str, Any]:
    """dc_j(t) = dh o (1 - tanh^2 c(t)) + dc_j(t+1) f_j(t+1), and each gate's delta as the
    product of its factors."""
    t, fwd, bwd = here.t, here.forward, here.backward
    g = {gate: float(fwd["gates"][gate][j]) for gate in GATES}
    c = float(fwd["c"][j])
    tanh_c = float(np.tanh(np.asarray(fwd["c"]))[j])  # as forward_steps forms tanh c(t)
    c_leaf = leaf("c", t, c, "state")
    dtanh_c = leaf("dtanh_c", t, 1.0 - tanh_c * tanh_c, "derivative", recorded=False,
                   of=[c_leaf])
    dh_leaf = leaf("dh", t, dh, "error")
    from_h = product("dc_from_h", t, [dh_leaf, leaf("gates.o", t, g["o"], "state"), dtanh_c])
    recorded_next = reader.err(bwd["dc_next"])[j]
    if after is None:
        dc_next = leaf("dc_next", t, recorded_next, "error")
    else:
        dc_next = product("dc_next", t, [
            leaf("dc", after.t, reader.err(after.backward["dc"])[j], "error"),
            leaf("gates.f", after.t, after.forward["gates"]["f"][j], "state")],
            recorded=recorded_next)
    dc_value = reader.err(bwd["dc"])[j]
    dc_leaf = leaf("dc", t, dc_value, "error")
    factors = {
        "f": [dc_leaf, leaf("c_prev", t, fwd["c_prev"][j], "state"), dgate("f", t, g["f"])],
        "i": [dc_leaf, leaf("gates.g", t, g["g"], "state"), dgate("i", t, g["i"])],
        "g": [dc_leaf, leaf("gates.i", t, g["i"], "state"), dgate("g", t, g["g"], tanh=True)],
        "o": [dh_leaf, leaf("tanh_c", t, tanh_c, "state", recorded=False, of=[c_leaf]),
              dgate("o", t, g["o"])],
    }
    deltas = {gate: product(f"deltas.{gate}", t, factors[gate],
                            recorded=reader.err(bwd["deltas"][gate])[j])
              for gate in bwd["deltas"]}
    return {"dc": total("dc", t, [from_h, dc_next], recorded=dc_value), "deltas": deltas}
