"""One hidden unit's error at one backward step, as the sum it is (Haykin's neuron-level view).

Haykin writes BPTT per neuron, as the MLP rule "a unit's error is the sum of the next layer's
errors times the weights", the next layer being step n+1:

    delta_j(n) = phi'(v_j(n)) [ e_j(n) + sum_k w_kj delta_k(n+1) ]

For the vanilla RNN that is DESIGN.md's backward step read for one unit j (0-based) of step t
(1-based), every sum written out term by term:

    dh_out_j(t)  = sum_k V_kj g_o,k(t)                 from each output unit k
    dh_next_j(t) = sum_k W_kj delta_k(t+1)             from each unit k of step t+1
    dh_j(t)      = dh_out_j(t) + dh_next_j(t)
    delta_j(t)   = phi'(a_j(t)) dh_j(t)

with W the parameter version step t+1 ran on (under BPTT(k1, k2) with k2 > k1 a window spans
versions) and V the version of the window's update (the one ``dh_out`` was formed with; it
multiplies a zero g_o at the steps an earlier window already injected). At the window's last
step nothing flows back from t+1: ``dh_next`` is the recorded 0.

Sign: our delta is dL/da (the gradient); Haykin's is -dE/dv. With ``convention="haykin"``
every error quantity (g_o, dh_*, dc, every delta, each term and sum made of them) is negated,
so e_j(n) = -dh_out_j(n) = sum_k V_kj e_k(n) with e_k = -g_o,k (= target - output for the
squared error); weights, states and derivatives are unchanged and every identity still holds.

LSTM and GRU give the same view through their gates, following lstm.py and gru.py exactly:

    LSTM  dh_next_j(t) = sum_{gate in f,i,g,o} sum_k W_{gate,kj} delta_{gate,k}(t+1)
          dc_j(t)      = dh_j(t) o_j(t) (1 - tanh^2 c_j(t)) + dc_j(t+1) f_j(t+1)
          delta_o = dh tanh c(t) o(1-o)     delta_f = dc c(t-1) f(1-f)
          delta_i = dc g i(1-i)             delta_g = dc i (1-g^2)
    GRU   dh_next_j(t) = dh_j(t+1) z_j(t+1) + drh_j(t+1) r_j(t+1)
                         + sum_k W_{z,kj} delta_{z,k}(t+1) + sum_k W_{r,kj} delta_{r,k}(t+1)
          drh_j(s)     = sum_k W_{h,kj} delta_{n,k}(s)        error reaching r * h(s-1)
          delta_n = dh (1-z)(1-n^2)   delta_z = dh (h(t-1) - n) z(1-z)   delta_r = drh h(t-1) r(1-r)

Everything is read from the recorded trace (events and the parameter versions the updates
record), never from a new pass: recorded quantities keep the trace's own numbers
(``"recorded": true``), and the terms are products of recorded numbers. The answer is a tree
of nodes (see docs/neuron.md): ``sum`` (terms), ``product`` (factors), ``dot`` (sum over k of
weights[k] signals[k], with its ``products``) and ``value`` leaves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import RequestError
from .plan import Plan, as_plan
from .request import TraceRequest
from .rnn import derivative
from .run import run_trace

CONVENTIONS = ("gradient", "haykin")
Node = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Where: the step, the unit and the window, checked before anything is computed.


def find_update(windows: Sequence[tuple[int, int]], t: Any, unit: Any, update: Any, T: int,
                H: int) -> int:
    """The update whose window holds step t (the given one, or the first that does).

    ``windows`` are the (first, last) of each update. Raises ``RequestError`` naming the
    field (``t``, ``unit`` or ``update``) and what would be accepted.
    """
    for name, value in (("t", t), ("unit", unit)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise RequestError((name,), f"must be an integer, got {value!r}")
    if not 1 <= t <= T:
        raise RequestError(("t",), f"step {t} is outside the sequence: t runs 1..{T} "
                                   f"(1-based, T = {T})")
    if not 0 <= unit < H:
        raise RequestError(("unit",), f"unit {unit} is outside the hidden layer: units are "
                                      f"0..{H - 1} (0-based, hidden_size = {H})")
    if update is None:
        return next(i for i, (first, last) in enumerate(windows) if first <= t <= last)
    if isinstance(update, bool) or not isinstance(update, int | np.integer):
        raise RequestError(("update",), f"must be an integer or null, got {update!r}")
    if not 0 <= update < len(windows):
        raise RequestError(("update",), f"update {update} does not exist: this pass makes "
                                        f"updates 0..{len(windows) - 1} (0-based)")
    update = int(update)
    first, last = windows[update]
    if not first <= t <= last:
        holding = [i for i, (lo, hi) in enumerate(windows) if lo <= t <= hi]
        raise RequestError(("t",), f"step {t} is outside the window of update {update}, which "
                                   f"runs back over steps {first}..{last}; step {t} is in the "
                                   f"window of update {', '.join(map(str, holding))}")
    return update


# ---------------------------------------------------------------------------------------------
# Nodes.


def _num(value: Any) -> float:
    return float(value)


def _sum(values: Sequence[float]) -> float:
    """The correctly rounded sum of the terms shown (math.fsum), or the plain sum where
    fsum refuses (an infinite or overflowing term: the result is then inf or nan anyway)."""
    try:
        return math.fsum(values)
    except (ValueError, OverflowError):
        return float(sum(values))


def leaf(name: str, t: int, value: Any, kind: str, *, recorded: bool = True,
         of: list[Node] | None = None) -> Node:
    """A number: kind "error" (a gradient), "state" (a recorded value of the forward pass) or
    "derivative" (a local derivative formed from recorded values, listed in ``of``)."""
    node: Node = {"name": name, "t": t, "op": "value", "kind": kind, "value": _num(value),
                  "recorded": recorded}
    if of is not None:
        node["of"] = of
    return node


def dot(name: str, t: int, weight: str, version: int, column: int, weights: np.ndarray,
        signal: str, signal_t: int, signals: np.ndarray, recorded: Any = None) -> Node:
    """sum over k of weights[k] signals[k]: column ``column`` of parameter ``weight`` (of that
    version) against the error vector ``signal`` of step ``signal_t``."""
    products = weights * signals  # (n,) each term, exactly as a product of two doubles
    value = _sum(products.tolist()) if recorded is None else recorded
    return {"name": name, "t": t, "op": "dot", "value": _num(value),
            "recorded": recorded is not None,
            "weight": {"name": weight, "version": int(version), "column": int(column)},
            "signal": {"name": signal, "t": int(signal_t)},
            "weights": weights.tolist(), "signals": signals.tolist(),
            "products": products.tolist()}


def total(name: str, t: int, terms: list[Node], recorded: Any = None) -> Node:
    value = _sum([term["value"] for term in terms]) if recorded is None else recorded
    return {"name": name, "t": t, "op": "sum", "value": _num(value),
            "recorded": recorded is not None, "terms": terms}


def product(name: str, t: int, factors: list[Node], recorded: Any = None) -> Node:
    value = recorded
    if value is None:
        value = 1.0
        for factor in factors:
            value *= factor["value"]
    return {"name": name, "t": t, "op": "product", "value": _num(value),
            "recorded": recorded is not None, "factors": factors}


# ---------------------------------------------------------------------------------------------
# Reading the trace.


@dataclasses.dataclass(frozen=True)
class _Step:
    """What the trace recorded for one step in one window, and the parameters it used."""

    t: int
    forward: Mapping[str, Any]
    backward: Mapping[str, Any]
    version: int
    params: Mapping[str, np.ndarray]


class _Reader:
    def __init__(self, result: Mapping[str, Any], update: int, sign: float) -> None:
        self.result = result
        self.update = update
        self.sign = sign  # -1 for Haykin's convention: error quantities negated
        self.forward: dict[int, Mapping[str, Any]] = {}
        self.backward: dict[int, Mapping[str, Any]] = {}
        for event in result["events"]:
            kind = event["kind"]
            if kind == "forward":
                self.forward[event["t"]] = event
            elif kind == "backward" and event["update"] == update:
                self.backward[event["t"]] = event

    def step(self, t: int) -> _Step | None:
        if t not in self.backward:
            return None
        forward = self.forward[t]
        version = int(forward["version"])
        # updates[v]["params_before"] is the version v every step of window v ran forward on
        params = self.result["updates"][version]["params_before"]
        return _Step(t, forward, self.backward[t], version, params)

    def err(self, vector: Any) -> np.ndarray:
        return self.sign * np.asarray(vector, dtype=float)


def neuron_view(result: Mapping[str, Any], t: int, unit: int, update: int | None = None,
                convention: str = "gradient") -> dict[str, Any]:
    """delta_j(t) of hidden unit ``unit`` (0-based) at step ``t`` (1-based) of the window of
    ``update`` (0-based; None = the first window holding t), term by term.

    ``result`` is a ``run_trace`` result. Returns {"cell", "t", "unit", "update", "window",
    "version", "next", "convention", "dh", ...}: "delta" (rnn), "dc" (lstm) and "deltas"
    {gate: node} (lstm, gru); every number a Python float (non-finite ones stay NaN/inf).
    """
    if convention not in CONVENTIONS:
        raise RequestError(("convention",), f"must be one of {', '.join(CONVENTIONS)}, "
                                            f"got {convention!r}")
    sizes = result["sizes"]
    windows = [(w["first"], w["last"]) for w in result["windows"]]
    index = find_update(windows, t, unit, update, sizes["T"], sizes["H"])
    t, unit = int(t), int(unit)  # plain ints from here on (a NumPy integer was accepted)
    reader = _Reader(result, index, -1.0 if convention == "haykin" else 1.0)
    here = reader.step(t)
    assert here is not None  # find_update checked that t is in the window
    after = reader.step(t + 1)
    cell = result["config"]["cell"]
    j = unit
    # V of the window's update: what backward_window formed dh_out = V^T g_o(t) with
    V = result["updates"][index]["params_before"]["V"]
    dh_out = dot("dh_out", t, "V", index, j, V[:, j], "g_o", t, reader.err(here.backward["g_o"]),
                 recorded=reader.err(here.backward["dh_out"])[j])
    recorded_next = reader.err(here.backward["dh_next"])[j]
    if after is None:  # the window's last step: nothing flows back from t + 1
        dh_next = leaf("dh_next", t, recorded_next, "error")
    else:
        dh_next = _DH_NEXT[cell](reader, t, j, after, recorded_next)
    dh_value = reader.err(here.backward["dh"])[j]
    view: dict[str, Any] = {
        "cell": cell, "t": t, "unit": j, "update": index, "window": list(windows[index]),
        "version": here.version,
        "next": None if after is None else {"t": after.t, "version": after.version},
        "convention": convention,
    }
    if cell == "rnn":
        view["activation"] = result["config"]["activation"]
    view["dh"] = total("dh", t, [dh_out, dh_next], recorded=dh_value)
    view.update(_GATES[cell](reader, here, after, j, dh_value, view))
    return view


# ---------------------------------------------------------------------------------------------
# dh_next: what reaches h_j(t) from step t+1, per cell.


def _rnn_next(reader: _Reader, t: int, j: int, after: _Step, recorded: float) -> Node:
    return dot("dh_next", t, "W", after.version, j, after.params["W"][:, j], "delta", after.t,
               reader.err(after.backward["delta"]), recorded=recorded)


def _lstm_next(reader: _Reader, t: int, j: int, after: _Step, recorded: float) -> Node:
    terms = [dot(f"dh_next.{gate}", t, f"W_{gate}", after.version, j,
                 after.params[f"W_{gate}"][:, j], f"deltas.{gate}", after.t,
                 reader.err(after.backward["deltas"][gate]))
             for gate in after.backward["deltas"]]
    return total("dh_next", t, terms, recorded=recorded)


def _drh(reader: _Reader, step: _Step, j: int, t: int) -> Node:
    """drh_j(s) = sum_k W_{h,kj} delta_{n,k}(s): the error reaching r * h(s-1) at unit j."""
    return dot("drh", t, "W_h", step.version, j, step.params["W_h"][:, j], "deltas.n", step.t,
               reader.err(step.backward["deltas"]["n"]))


def _gru_next(reader: _Reader, t: int, j: int, after: _Step, recorded: float) -> Node:
    s = after.t
    gates = after.forward["gates"]
    # gru.step_backward: dh_prev = dh * z + drh * r + W_z^T delta_z + W_r^T delta_r
    direct = product("dh_next.direct", t, [
        leaf("dh", s, reader.err(after.backward["dh"])[j], "error"),
        leaf("gates.z", s, gates["z"][j], "state")])
    reset = product("dh_next.reset", t, [_drh(reader, after, j, s),
                                         leaf("gates.r", s, gates["r"][j], "state")])
    through = [dot(f"dh_next.{gate}", t, f"W_{gate}", after.version, j,
                   after.params[f"W_{gate}"][:, j], f"deltas.{gate}", s,
                   reader.err(after.backward["deltas"][gate])) for gate in ("z", "r")]
    return total("dh_next", t, [direct, reset, *through], recorded=recorded)


_DH_NEXT = {"rnn": _rnn_next, "lstm": _lstm_next, "gru": _gru_next}


# ---------------------------------------------------------------------------------------------
# The deltas of step t: products of their factors.


def _rnn_gates(reader: _Reader, here: _Step, after: _Step | None, j: int, dh: float,
               view: dict[str, Any]) -> dict[str, Any]:
    t, fwd = here.t, here.forward
    a, h = np.asarray(fwd["a"]), np.asarray(fwd["h"])
    # phi'(a(t)) exactly as the cell forms it, from the recorded a(t) and h(t)
    dphi = derivative(view["activation"], a, h, out=np.empty_like(a))
    phi_prime = leaf("phi_prime", t, dphi[j], "derivative", recorded=False,
                     of=[leaf("a", t, a[j], "state"), leaf("h", t, h[j], "state")])
    delta = product("delta", t, [phi_prime, leaf("dh", t, dh, "error")],
                    recorded=reader.err(here.backward["delta"])[j])
    return {"delta": delta}


def _dgate(gate: str, t: int, value: float) -> Node:
    """The gate's own derivative: s(1-s) for a sigmoid gate, 1 - s^2 for a tanh one."""
    slope = 1.0 - value * value if gate in ("g", "n") else (1.0 - value) * value
    return leaf(f"dgate.{gate}", t, slope, "derivative", recorded=False,
                of=[leaf(f"gates.{gate}", t, value, "state")])


def _lstm_gates(reader: _Reader, here: _Step, after: _Step | None, j: int, dh: float,
                view: dict[str, Any]) -> dict[str, Any]:
    t, fwd, bwd = here.t, here.forward, here.backward
    g = {gate: float(fwd["gates"][gate][j]) for gate in ("f", "i", "g", "o")}
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
        "f": [dc_leaf, leaf("c_prev", t, fwd["c_prev"][j], "state"), _dgate("f", t, g["f"])],
        "i": [dc_leaf, leaf("gates.g", t, g["g"], "state"), _dgate("i", t, g["i"])],
        "g": [dc_leaf, leaf("gates.i", t, g["i"], "state"), _dgate("g", t, g["g"])],
        "o": [dh_leaf, leaf("tanh_c", t, tanh_c, "state", recorded=False, of=[c_leaf]),
              _dgate("o", t, g["o"])],
    }
    deltas = {gate: product(f"deltas.{gate}", t, factors[gate],
                            recorded=reader.err(bwd["deltas"][gate])[j])
              for gate in bwd["deltas"]}
    return {"dc": total("dc", t, [from_h, dc_next], recorded=dc_value), "deltas": deltas}


def _gru_gates(reader: _Reader, here: _Step, after: _Step | None, j: int, dh: float,
               view: dict[str, Any]) -> dict[str, Any]:
    t, fwd, bwd = here.t, here.forward, here.backward
    z, r, n = (float(fwd["gates"][gate][j]) for gate in ("z", "r", "n"))
    h_prev = float(fwd["h_prev"][j])
    dh_leaf = leaf("dh", t, dh, "error")
    n_leaf, z_leaf = leaf("gates.n", t, n, "state"), leaf("gates.z", t, z, "state")
    h_prev_leaf = leaf("h_prev", t, h_prev, "state")
    factors = {
        # dh(t)/dz = h(t-1) - n, dh(t)/dn = 1 - z: h(t) = z h(t-1) + (1 - z) n
        "z": [dh_leaf, leaf("h_prev_minus_n", t, h_prev - n, "derivative", recorded=False,
                            of=[h_prev_leaf, n_leaf]), _dgate("z", t, z)],
        "r": [_drh(reader, here, j, t), h_prev_leaf, _dgate("r", t, r)],
        "n": [dh_leaf, leaf("one_minus_z", t, 1.0 - z, "derivative", recorded=False,
                            of=[z_leaf]), _dgate("n", t, n)],
    }
    deltas = {gate: product(f"deltas.{gate}", t, factors[gate],
                            recorded=reader.err(bwd["deltas"][gate])[j])
              for gate in bwd["deltas"]}
    return {"deltas": deltas}


_GATES = {"rnn": _rnn_gates, "lstm": _lstm_gates, "gru": _gru_gates}


# ---------------------------------------------------------------------------------------------
# From a request.


def neuron(request: Plan | TraceRequest | dict[str, Any], t: int, unit: int,
           update: int | None = None, convention: str = "gradient") -> dict[str, Any]:
    """``neuron_view`` of the pass ``request`` (or its plan) describes; the position is
    checked before the pass runs (its diagnostics are skipped: the view does not read them)."""
    job = as_plan(request, "trace")
    if convention not in CONVENTIONS:
        raise RequestError(("convention",), f"must be one of {', '.join(CONVENTIONS)}, "
                                            f"got {convention!r}")
    find_update(list(job.windows), t, unit, update, job.T, job.H)
    quiet = dataclasses.replace(job, request=dataclasses.replace(
        job.request, diagnostics=False, jacobian_norms=False, spectral_radii=False))
    with np.errstate(all="ignore"):  # overflow shows as non-finite numbers, as in the trace
        result = run_trace(quiet)
        return neuron_view(result, t, unit, update, convention)
