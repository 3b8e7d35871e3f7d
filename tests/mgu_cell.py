"""A cell that exists only in the tests: a minimal gated unit with a peephole-style diagonal.

It shows that a cell is one module: registered (``engine.cells.register``) by a fixture, or in
every process through ``BPTT_CELLS=mgu_cell``, it is served by every entry of the engine and
every endpoint of the API with no other file changed (tests/test_engine_new_cell.py). It has
all three parameter kinds: outer products (W_f, U_f, W_h, U_h), biases, and a diagonal p_f
that weighs each unit's own previous value, as an LSTM's peephole connections do.

Forward, for one step t (Zhou et al. 2016's minimal gated unit, plus p_f):
    f = sigm(W_f h(t-1) + p_f * h(t-1) + U_f x(t) + b_f)   the one gate
    n = tanh(W_h (f * h(t-1)) + U_h x(t) + b_h)            candidate
    h(t) = (1 - f) * h(t-1) + f * n
Backward, given dh(t):
    delta_n = dh * f * (1 - n^2)
    dfh     = W_h^T delta_n                                error reaching f * h(t-1)
    delta_f = (dh * (n - h(t-1)) + dfh * h(t-1)) * f (1 - f)
    dh_prev = dh * (1 - f) + dfh * f + W_f^T delta_f + p_f * delta_f
    contributions: dW_f += delta_f h(t-1)^T,  dp_f += delta_f * h(t-1),
                   dW_h += delta_n (f * h(t-1))^T,  dU_* += delta_* x(t)^T,  db_* += delta_*

Written plainly, step by step (the block forms loop over the one-step ones): a test cell needs
to be right, not fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bptt_studio.engine.cells.memory import shift_rows
from bptt_studio.engine.cells.nonlinear import sigmoid
from bptt_studio.engine.cells.protocol import Packed, ParamSpec, gate_params
from bptt_studio.engine.cells.protocol import input_grad as input_grad
from bptt_studio.engine.cells.protocol import input_projection as input_projection
from bptt_studio.engine.cells.terms import (
    Node,
    Reader,
    Step,
    dgate,
    dot,
    leaf,
    product,
    through_weights,
    total,
)

NAME = "mgu"
TITLE = "minimal gated unit with a peephole (a test cell)"
STATE = ("h",)
GATES = ("f", "n")
DELTA_KEYS = GATES
PARAMS: dict[str, ParamSpec] = {
    **gate_params("f", "f", "deltas.f"),
    "p_f": ParamSpec(("H",), "deltas.f", "h_prev", diagonal=True),
    **gate_params("n", "h", "deltas.n", recurrent_right="fh_prev"),
}
PRE_ACTIVATIONS: str | dict[str, str] = {"f": "a_f", "n": "a_n"}
RECORDED: tuple[str, ...] = ("fh_prev",)  # what W_h multiplies
BACKWARD_RECORDED: tuple[str, ...] = ()
BACKWARD_KEYS = ("h_prev", "f", "n", "fh_prev")
KEEP_BIAS: str | None = None
VIEW_CONFIG: tuple[str, ...] = ()
# Not measured: the GRU's coefficients, whose step is this one and a reset gate more (an upper
# bound). A product cell runs bench/calibrate_cost.py --write instead.
COST: dict[str, dict[str, float]] = {
    "gradcheck": {"evaluations": 1.435e-05},
    "pass": {"backward_steps": 3.022e-05, "steps": 1.0e-05},
    "passes": {"backward_steps": 1.586e-05, "steps": 1.0e-05},
    "replay": {"steps": 1.006e-05},
}


def pack(params: dict[str, np.ndarray], activation: str = "tanh") -> Packed:
    del activation  # only the vanilla RNN has a choice of phi
    return {"W_f": params["W_f"], "p_f": params["p_f"], "W_h": params["W_h"],
            "U": np.concatenate([params["U_f"], params["U_h"]]),  # (2H, D)
            "b": np.concatenate([params["b_f"], params["b_h"]])}  # (2H,)


def recurrent(packed: Packed) -> Any:
    return packed


def step_forward(packed: Packed, ux_t: np.ndarray,
                 state_prev: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    (h_prev,) = state_prev
    H = h_prev.shape[0]
    a_f = packed["W_f"] @ h_prev + packed["p_f"] * h_prev + ux_t[:H]
    f = sigmoid(a_f)
    fh_prev = f * h_prev
    a_n = packed["W_h"] @ fh_prev + ux_t[H:]
    n = np.tanh(a_n)
    h = (1.0 - f) * h_prev + f * n
    return {"h_prev": h_prev, "a_f": a_f, "f": f, "fh_prev": fh_prev, "a_n": a_n, "n": n,
            "h": h}


def forward_steps(packed: Packed, X: np.ndarray,
                  state0: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    ux = input_projection(packed, X)
    state, rows = state0, []
    for t in range(X.shape[0]):
        cache = step_forward(packed, ux[t], state)
        rows.append(cache)
        state = state_of(cache)
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def state_of(cache: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return (cache["h"],)


def step_backward(packed: Packed, dstate: tuple[np.ndarray, ...],
                  cache: Mapping[str, np.ndarray]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
    """(dh,) -> ((dh_prev,), deltas stacked as f, n, {}). Rows of a batch work too."""
    (dh,) = dstate
    f, n, h_prev = cache["f"], cache["n"], cache["h_prev"]
    delta_n = dh * f * (1.0 - n * n)
    dfh = delta_n @ packed["W_h"]
    delta_f = (dh * (n - h_prev) + dfh * h_prev) * f * (1.0 - f)
    dh_prev = dh * (1.0 - f) + dfh * f + delta_f @ packed["W_f"] + packed["p_f"] * delta_f
    return (dh_prev,), np.concatenate((delta_f, delta_n), axis=-1), {}


def backward_steps(Ws: list[Any], stacks: dict[str, np.ndarray], dh_out: np.ndarray
                   ) -> dict[str, np.ndarray]:
    n, H = dh_out.shape
    out = {"dh": np.zeros((n, H)), "delta": np.zeros((n, 2 * H)), "dh_prev": np.zeros((n, H)),
           "dh_next": np.zeros((n, H))}
    dh_next = np.zeros(H)
    for t in range(n - 1, -1, -1):
        out["dh"][t] = dh_out[t] + dh_next
        cache = {key: stacks[key][t] for key in BACKWARD_KEYS}
        (dh_next,), out["delta"][t], _ = step_backward(Ws[t], (out["dh"][t],), cache)
        out["dh_prev"][t] = dh_next
    shift_rows(out["dh_prev"], out["dh_next"])
    return out


def torch_step(activation: str) -> str:
    del activation
    return '''
def step(p, x, state):
    """Minimal gated unit with a peephole: one gate f, h(t) = (1 - f) h(t-1) + f n."""
    (h,) = state
    f = torch.sigmoid(p["W_f"] @ h + p["p_f"] * h + p["U_f"] @ x + p["b_f"])
    n = torch.tanh(p["W_h"] @ (f * h) + p["U_h"] @ x + p["b_h"])
    return ((1 - f) * h + f * n,)
'''


def _dfh(reader: Reader, step: Step, j: int, t: int) -> Node:
    """dfh_j(s) = sum_k W_{h,kj} delta_{n,k}(s): the error reaching f * h(s-1) at unit j."""
    return dot("dfh", t, "W_h", step.version, j, step.params["W_h"][:, j], "deltas.n", step.t,
               reader.err(step.backward["deltas"]["n"]))


def neuron_next(reader: Reader, t: int, j: int, after: Step, recorded: float) -> Node:
    s, f = after.t, float(after.forward["gates"]["f"][j])
    delta_f = reader.err(after.backward["deltas"]["f"])[j]
    terms = [
        product("dh_next.direct", t, [leaf("dh", s, reader.err(after.backward["dh"])[j],
                                           "error"),
                                      leaf("one_minus_f", s, 1.0 - f, "derivative",
                                           recorded=False)]),
        product("dh_next.through_f", t, [_dfh(reader, after, j, s),
                                         leaf("gates.f", s, f, "state")]),
        *through_weights(reader, t, j, after, ("f",)),
        product("dh_next.peephole", t, [leaf("p_f", s, after.params["p_f"][j], "state"),
                                        leaf("deltas.f", s, delta_f, "error")]),
    ]
    return total("dh_next", t, terms, recorded=recorded)


def neuron_deltas(reader: Reader, here: Step, after: Step | None, j: int, dh: float,
                  config: Mapping[str, Any]) -> dict[str, Any]:
    t, fwd, bwd = here.t, here.forward, here.backward
    f, n = (float(fwd["gates"][gate][j]) for gate in GATES)
    h_prev = float(fwd["h_prev"][j])
    dh_leaf = leaf("dh", t, dh, "error")
    df = total("df", t, [
        product("df.direct", t, [dh_leaf, leaf("n_minus_h_prev", t, n - h_prev, "derivative",
                                               recorded=False)]),
        product("df.through_h", t, [_dfh(reader, here, j, t),
                                    leaf("h_prev", t, h_prev, "state")])])
    factors = {"f": [df, dgate("f", t, f)],
               "n": [dh_leaf, leaf("gates.f", t, f, "state"), dgate("n", t, n, tanh=True)]}
    return {"deltas": {gate: product(f"deltas.{gate}", t, factors[gate],
                                     recorded=reader.err(bwd["deltas"][gate])[j])
                       for gate in GATES}}
