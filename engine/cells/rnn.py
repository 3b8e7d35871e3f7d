"""Vanilla RNN cell: one step forward (records a cache) and one step backward (reads it).

Forward, for one step t (column vectors):
    a(t) = W h(t-1) + U x(t) + b                  W: (H, H), U: (H, D), b: (H,)
    h(t) = phi(a(t))                              phi in {tanh, relu, sigmoid}
Backward, given dh(t) = dh_out(t) + dh_next(t) (the whole error reaching h(t)):
    delta(t)   = phi'(a(t)) * dh(t)               phi' read from the saved h(t) (or a(t) for relu)
    dh_prev(t) = W^T delta(t)                     this is dh_next(t-1), the error sent back
    contributions: dW += delta(t) h(t-1)^T,  dU += delta(t) x(t)^T,  db += delta(t)

``U x(t) + b`` does not depend on the recurrence, so ``input_projection`` forms it for all
steps of a chunk in one product; the per-step contributions are outer products of recorded
vectors (the factors ``PARAMS`` names), summed for a window in one matrix product by the
schedule. The module implements ``engine.cell.Cell``.

``step_forward`` / ``step_backward`` are one step each, the equations as written (replays,
diagnostics and the tests use them). ``forward_steps`` / ``backward_steps`` run the same
operations, in the same order, over a block of steps into preallocated stacks (n, ...): the
schedule records a pass that way, as cheaply as an unrecorded loop; the tests hold the two
forms to the same bits. The factors the backward step multiplies the error by (phi'(a(t)))
do not depend on the error and are formed once per block by ``backward_factors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .memory import empty_stacks, shift_rows
from .nonlinear import sigmoid
from .protocol import Packed, ParamSpec, stacked_recurrent
from .protocol import input_grad as input_grad  # the shared helpers, this cell's own too
from .protocol import input_projection as input_projection
from .terms import Node, Reader, Step, dot, leaf, product

NAME = "rnn"
TITLE = "vanilla RNN ({activation})"
STATE = ("h",)
GATES: tuple[str, ...] = ()  # no gates: the forward event's "a" is one vector, "gates" null
DELTA_KEYS = ("delta",)
# parameter -> shape rule and factors: contrib = delta(t) h(t-1)^T, delta(t) x(t)^T, delta(t)
PARAMS: dict[str, ParamSpec] = {"W": ParamSpec(("H", "H"), "delta", "h_prev"),
                                 "U": ParamSpec(("H", "D"), "delta", "x"),
                                 "b": ParamSpec(("H",), "delta", None)}
PRE_ACTIVATIONS: str | dict[str, str] = "a"
RECORDED: tuple[str, ...] = ()
BACKWARD_RECORDED: tuple[str, ...] = ()
BACKWARD_KEYS = ("dphi",)  # the stacks backward_steps reads
recurrent = stacked_recurrent  # backward_steps multiplies the deltas by the stacked W
KEEP_BIAS: str | None = None  # no gate keeps the old state
VIEW_CONFIG: tuple[str, ...] = ("activation",)  # phi' depends on it
# This cell's cost: CPU seconds per step of its own (engine.cost reads it; 0.0 where the
# fit found the step's cost already in the shared features).
# COST-BEGIN (written by bench/calibrate_cost.py --write; do not edit by hand)
COST: dict[str, dict[str, float]] = {
    'gradcheck': {'evaluations': 4.658e-06},
    'pass': {'backward_steps': 1.438e-05, 'steps': 0.0},
    'passes': {'backward_steps': 3.827e-06, 'steps': 1.011e-06},
    'replay': {'steps': 0.0},
}
# COST-END


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh, "relu": _relu, "sigmoid": sigmoid}


def _sigmoid_into(a: np.ndarray, out: np.ndarray) -> None:
    np.multiply(a, 0.5, out=out)  # the same operations as nonlinear.sigmoid, in place
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5


# phi(a) written into ``out``: the same numbers as ACTIVATIONS, without a new array per step
ACTIVATIONS_INTO: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "tanh": lambda a, out: np.tanh(a, out=out),
    "relu": lambda a, out: np.maximum(a, 0.0, out=out),
    "sigmoid": _sigmoid_into}


def derivative(activation: str, a: np.ndarray, h: np.ndarray, out: np.ndarray) -> np.ndarray:
    """phi'(a) from saved values, into ``out``: 1 - h^2, h (1 - h), or [a > 0]."""
    if activation == "tanh":
        np.multiply(h, h, out=out)
        return np.subtract(1.0, out, out=out)
    if activation == "sigmoid":
        np.subtract(1.0, h, out=out)
        return np.multiply(h, out, out=out)
    return np.greater(a, 0.0, out=out, casting="unsafe")


def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> Packed:
    """The matrices one step needs, once per parameter version."""
    return {"W": params["W"],
            "U": params["U"], "b": params["b"], "activation": activation}


def step_forward(packed: Packed, ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    (h_prev,) = state_prev
    a = packed["W"] @ h_prev + ux_t  # (H,)
    h = ACTIVATIONS[packed["activation"]](a)  # (H,)
    return {"h_prev": h_prev, "a": a, "h": h}


def backward_factors(stacks: dict[str, np.ndarray], activation: str) -> None:
    """Fill ``dphi`` with phi'(a(t)) for every step of a block (stacks of (n, H) rows)."""
    derivative(activation, stacks["a"], stacks["h"], out=stacks["dphi"])


def forward_steps(packed: Packed, X: np.ndarray, state0: tuple[np.ndarray, ...]
                  ) -> dict[str, np.ndarray]:
    """input_projection and step_forward for each row of the inputs ``X`` (n, D), into stacks
    (n, H) of h_prev, a, h and dphi."""
    n, H = X.shape[0], packed["W"].shape[0]
    # h[0] = h(0) of the block, h[t] after step t
    block = empty_stacks({"ux": (n, H), "a": (n, H), "h": (n + 1, H), "dphi": (n, H)})
    a, h, ux = block["a"], block["h"], input_projection(packed, X, out=block["ux"])
    h[0] = state0[0]
    W, phi_into = packed["W"], ACTIVATIONS_INTO[packed["activation"]]
    for t in range(n):
        a_t = a[t]
        np.dot(W, h[t], out=a_t)
        a_t += ux[t]
        phi_into(a_t, h[t + 1])
    stacks = {"h_prev": h[:-1], "a": a, "h": h[1:], "dphi": block["dphi"]}
    backward_factors(stacks, packed["activation"])
    return stacks


def state_of(cache: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"],)


def step_backward(packed: Packed, dstate: tuple[np.ndarray, ...],
                  cache: Mapping[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh,) -> ((dh_prev,), delta, {})."""
    (dh,) = dstate
    delta = cache["dphi"] * dh  # (H,) phi'(a(t)) * dh(t), phi' from backward_factors
    dh_prev = delta @ packed["W"]  # (H,)
    return (dh_prev,), delta, {}


def backward_steps(Ws: list[Any], stacks: dict[str, np.ndarray], dh_out: np.ndarray,
                   bug: str | None = None, carry: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """step_backward for rows n-1..0 of a window, error entering through ``dh_out`` (n, H).

    ``Ws[row]`` is the W the row's step used; ``stacks`` the window's rows of forward_steps.
    Returns stacks (n, H) of dh, delta, dh_prev and dh_next (dh_prev one row later).
    ``bug`` (engine.bugs): "dh_next_dropped" leaves dh_next(t) out of dh(t). ``carry``
    (randomized truncation): each row's weight on the error it sends to the row before.
    """
    n, H = dh_out.shape
    dphi = stacks["dphi"]
    out = empty_stacks({"dh": (n, H), "delta": (n, H), "dh_prev": (n, H), "dh_next": (n, H)})
    dh, delta, dh_prev = out["dh"], out["delta"], out["dh_prev"]
    dh_next = np.zeros(H)
    # what is added to dh_out(t): the error from t+1, or (the bug) zeros every step
    carried = bug != "dh_next_dropped"
    for t in range(n - 1, -1, -1):
        dh_t, delta_t = dh[t], delta[t]
        np.add(dh_out[t], dh_next if carried else 0.0, out=dh_t)
        np.multiply(dphi[t], dh_t, out=delta_t)
        dh_next = dh_prev[t]
        np.dot(delta_t, Ws[t], out=dh_next)
        if carry is not None:  # randomized truncation: the flow to t-1 weighted by xi_t
            dh_next *= carry[t]
    shift_rows(dh_prev, out["dh_next"])
    return out



# ---------------------------------------------------------------------------------------------
# The PyTorch step and the neuron view's terms.

_TORCH_PHI = {"tanh": "torch.tanh", "relu": "torch.relu", "sigmoid": "torch.sigmoid"}


def torch_step(activation: str) -> str:
    return f'''
def step(p, x, state):
    """Vanilla RNN: a(t) = W h(t-1) + U x(t) + b,  h(t) = {activation}(a(t))."""
    (h,) = state
    a = p["W"] @ h + p["U"] @ x + p["b"]
    return ({_TORCH_PHI[activation]}(a),)
'''


def neuron_next(reader: Reader, t: int, j: int, after: Step, recorded: float) -> Node:
    """dh_next_j(t) = sum_k W_kj delta_k(t+1)."""
    return dot("dh_next", t, "W", after.version, j, after.params["W"][:, j], "delta", after.t,
               reader.err(after.backward["delta"]), recorded=recorded)


def neuron_deltas(reader: Reader, here: Step, after: Step | None, j: int, dh: float,
                  config: Mapping[str, Any]) -> dict[str, Any]:
    """delta_j(t) = phi'(a_j(t)) dh_j(t)."""
    t, fwd = here.t, here.forward
    a, h = np.asarray(fwd["a"]), np.asarray(fwd["h"])
    # phi'(a(t)) exactly as the cell forms it, from the recorded a(t) and h(t)
    dphi = derivative(config["activation"], a, h, out=np.empty_like(a))
    phi_prime = leaf("phi_prime", t, dphi[j], "derivative", recorded=False,
                     of=[leaf("a", t, a[j], "state"), leaf("h", t, h[j], "state")])
    delta = product("delta", t, [phi_prime, leaf("dh", t, dh, "error")],
                    recorded=reader.err(here.backward["delta"])[j])
    return {"delta": delta}
