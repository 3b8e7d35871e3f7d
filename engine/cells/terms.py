"""The neuron view's vocabulary: the nodes one unit's error is written in, and the reader of a
recorded trace that each cell's decomposition (its ``neuron_next`` and ``neuron_deltas``) uses.

A node is a number and how it is made (docs/neuron.md): ``sum`` (terms), ``product``
(factors), ``dot`` (sum over k of weights[k] signals[k], with its ``products``) and ``value``
leaves. engine.neuron assembles the view; the cell modules write their own terms with these
builders, so the view has no table of cells.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Node = dict[str, Any]


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


def dgate(gate: str, t: int, value: float, tanh: bool = False) -> Node:
    """The gate's own derivative from its value s: s(1-s) for a sigmoid gate, 1 - s^2 for a
    tanh one (``tanh``: the candidate, g of the LSTM, n of the GRU)."""
    slope = 1.0 - value * value if tanh else (1.0 - value) * value
    return leaf(f"dgate.{gate}", t, slope, "derivative", recorded=False,
                of=[leaf(f"gates.{gate}", t, value, "state")])


def through_weights(reader: Reader, t: int, j: int, after: Step, gates: Sequence[str],
                    prefix: str = "dh_next.") -> list[Node]:
    """sum_k W_{gate,kj} delta_{gate,k}(t+1) of each gate: the error that reaches h_j(t)
    through the recurrent matrix W_gate of step t+1 (the parameter version it ran on)."""
    return [dot(f"{prefix}{gate}", t, f"W_{gate}", after.version, j,
                after.params[f"W_{gate}"][:, j], f"deltas.{gate}", after.t,
                reader.err(after.backward["deltas"][gate])) for gate in gates]


# ---------------------------------------------------------------------------------------------
# Reading the trace.


@dataclasses.dataclass(frozen=True)
class Step:
    """What the trace recorded for one step in one window, and the parameters it used."""

    t: int
    forward: Mapping[str, Any]
    backward: Mapping[str, Any]
    version: int
    params: Mapping[str, np.ndarray]


class Reader:
    """The events of one unit in one update's window, by step; ``err`` signs an error
    quantity."""

    def __init__(self, result: Mapping[str, Any], update: int, sign: float, layer: int = 1,
                 reverse: bool = False, names: Mapping[str, str] | None = None) -> None:
        self.result = result
        self.update = update
        self.sign = sign  # -1 for Haykin's convention: error quantities negated
        # the network of a stack read (its layer, its direction): its events; ``names`` its
        # parameters' names in the trace by the cell's own (W_f -> W_f_l2), read under the
        # cell's names so that a cell's terms read any unit's
        self.layer, self.reverse = layer, reverse
        self.names = dict(names or {})
        self.forward: dict[int, Mapping[str, Any]] = {}
        self.backward: dict[int, Mapping[str, Any]] = {}
        for event in result["events"]:
            kind = event["kind"]
            # a one-layer event has no layer, a one-direction event no direction
            if (event.get("layer", 1), event.get("direction") == "reverse") != (layer, reverse):
                continue
            if kind == "forward":
                self.forward[event["t"]] = event
            elif kind == "backward" and event["update"] == update:
                self.backward[event["t"]] = event

    def step(self, t: int) -> Step | None:
        if t not in self.backward:
            return None
        forward = self.forward[t]
        version = int(forward["version"])
        # updates[v]["params_before"] is the version v every step of window v ran forward on
        params = self.result["updates"][version]["params_before"]
        # the unit's own parameters under the cell's names (V stays)
        params = {**params, **{own: params[name] for own, name in self.names.items()}}
        return Step(t, forward, self.backward[t], version, params)

    def next_step(self, t: int) -> Step | None:
        """The step whose error flows into step t: t + 1, or t - 1 in a reverse unit (its
        next step in its own time); None after the window's last step (its first in time)."""
        return self.step(t - 1 if self.reverse else t + 1)

    def err(self, vector: Any) -> np.ndarray:
        return self.sign * np.asarray(vector, dtype=float)
