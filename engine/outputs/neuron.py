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

Each cell writes its own terms (its ``neuron_next`` and ``neuron_deltas``, in the nodes of
engine.terms): this module finds the step, reads the trace and assembles the view for any
registered cell.

Everything is read from the recorded trace (events and the parameter versions the updates
record), never from a new pass: recorded quantities keep the trace's own numbers
(``"recorded": true``), and the terms are products of recorded numbers. The answer is a tree
of nodes (see docs/neuron.md): ``sum`` (terms), ``product`` (factors), ``dot`` (sum over k of
weights[k] signals[k], with its ``products``) and ``value`` leaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..cells.protocol import ONE_UNIT, Cell, Stack, Unit
from ..cells.registry import CELLS
from ..cells.terms import Node, Reader, Step, dot, leaf, total
from ..planning.plan import Plan, as_plan
from ..request.errors import RequestError
from ..request.fields import TraceRequest
from ..tasks.run import run_trace

CONVENTIONS = ("gradient", "haykin")
DIRECTIONS = ("forward", "reverse")


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


def check_fixed(truncation: Any) -> None:
    """The view writes dh_next(t) as the recursion's own sum; under randomized truncation the
    recorded one is weighted by xi_(t+1), which the view does not write: refused, naming
    the field."""
    if truncation is not None and truncation.mode == "randomized":
        raise RequestError(("truncation", "mode"), "the neuron view writes the error from t+1 "
                                                   "as the recursion's own sum, which "
                                                   "randomized truncation weights by xi; look "
                                                   "at the unit under fixed truncation or full "
                                                   "BPTT")


def check_example(n: int | None, example: Any) -> int | None:
    """The example of a mini-batch of ``n`` sequences the view reads (0 when not given), or
    None for one sequence, which has no examples to choose from."""
    if example is None:
        return 0 if n else None
    if isinstance(example, bool) or not isinstance(example, int | np.integer):
        raise RequestError(("example",), f"must be an integer or null, got {example!r}")
    if not n:
        raise RequestError(("example",), "only a mini-batch (data.batch) has examples; remove "
                                         "example for one sequence")
    if not 0 <= example < n:
        raise RequestError(("example",), f"example {example} is not in the batch: examples "
                                         f"are 0..{n - 1} (0-based, n = {n})")
    return int(example)


# ---------------------------------------------------------------------------------------------
# The view: what every cell shares (dh = dh_out + dh_next), then the cell's own terms.


def neuron_view(result: Mapping[str, Any], t: int, unit: int, update: int | None = None,
                convention: str = "gradient", example: int | None = None,
                layer: int | None = None, direction: str | None = None) -> dict[str, Any]:
    """delta_j(t) of hidden unit ``unit`` (0-based) at step ``t`` (1-based) of the window of
    ``update`` (0-based; None = the first window holding t), term by term.

    ``result`` is a ``run_trace`` result. Returns {"cell", "t", "unit", "update", "window",
    "version", "next", "convention", the cell's VIEW_CONFIG settings, "dh", then the cell's
    own terms}: "delta" (rnn), "dc" (lstm) and "deltas" {gate: node} (gated cells); every
    number a Python float (non-finite ones stay NaN/inf). Of a mini-batch, the unit of
    ``example`` (0-based; None = example 0), whose events alone are read, and the view says
    which ("example"). Of a stack, the unit of ``layer`` (1-based; None = the top layer,
    the one the output reads), and the view says which ("layer"): below the top its error
    comes from the layer above, dh = dh_above + dh_next, with
    dh_above_j(t) = sum over gates of sum_k U_{gate,kj} delta_{gate,k}(t) of the layer above.
    Of a bidirectional network, the unit of ``direction``'s network ("forward", None, or
    "reverse"), and the view says which ("direction"): a reverse unit's next step in its own
    time is t - 1, its output weights are V's reverse half (columns H..2H-1), and the error
    from above is the sum over both networks of the layer above (columns j of their input
    matrices for a forward unit, H + j for a reverse one).
    """
    if convention not in CONVENTIONS:
        raise RequestError(("convention",), f"must be one of {', '.join(CONVENTIONS)}, "
                                            f"got {convention!r}")
    example = check_example(result["sizes"].get("n"), example)
    if example is not None:  # that example's steps: every view below reads one sequence
        result = {**result, "events": [event for event in result["events"]
                                       if event.get("example", example) == example]}
    sizes = result["sizes"]
    layers = int(sizes.get("layers", 1))
    layer = check_layer(layers, layer)
    direction = check_direction("directions" in sizes, direction)
    stack = Stack(layers, direction is not None)
    unit_read = Unit(layer or 1, direction == "reverse")
    # the unit's column in what the layer above and the output read: [h(t); h_rev(t)]
    column = int(unit) + sizes["H"] * unit_read.reverse
    windows = [(w["first"], w["last"]) for w in result["windows"]]
    index = find_update(windows, t, unit, update, sizes["T"], sizes["H"])
    t, unit = int(t), int(unit)  # plain ints from here on (a NumPy integer was accepted)
    sign = -1.0 if convention == "haykin" else 1.0
    config = result["config"]
    cell = CELLS[config["cell"]]
    reader = reader_of(result, index, sign, cell, unit_read)
    here = reader.step(t)
    assert here is not None  # find_update checked that t is in the window
    after = reader.next_step(t)
    j = unit
    if layer is None or layer == layers:
        # V of the window's update: what backward_window formed dh_out = V^T g_o(t) with
        V = result["updates"][index]["params_before"]["V"]
        dh_out = dot("dh_out", t, "V", index, column, V[:, column], "g_o", t,
                     reader.err(here.backward["g_o"]),
                     recorded=reader.err(here.backward["dh_out"])[j])
    else:  # a lower layer: what the layer above's deltas at t send down through its U
        above = [(unit_above, reader_of(result, index, sign, cell, unit_above).step(t))
                 for unit_above in stack.units if unit_above.layer == layer + 1]
        dh_out = from_above(cell, reader, above, t, column,
                            reader.err(here.backward["dh_above"])[j])
    recorded_next = reader.err(here.backward["dh_next"])[j]
    if after is None:  # the window's last step (in the unit's time): nothing flows back
        dh_next = leaf("dh_next", t, recorded_next, "error")
    else:
        dh_next = cell.neuron_next(reader, t, j, after, recorded_next)
    dh_value = reader.err(here.backward["dh"])[j]
    view: dict[str, Any] = {
        "cell": config["cell"], "t": t, "unit": j, "update": index,
        "window": list(windows[index]), "version": here.version,
        "next": None if after is None else {"t": after.t, "version": after.version},
        "convention": convention,
    }
    if example is not None:
        view["example"] = example
    if layer is not None:
        view["layer"] = layer
    if direction is not None:
        view["direction"] = direction
    view.update({key: config[key] for key in cell.VIEW_CONFIG})
    view["dh"] = total("dh", t, [dh_out, dh_next], recorded=dh_value)
    view.update(cell.neuron_deltas(reader, here, after, j, dh_value, config))
    if unit_read != ONE_UNIT:  # the cell writes its own names: the stack's are W_f_l2...
        _network_names(view, cell, unit_read)
    return view


def reader_of(result: Mapping[str, Any], update: int, sign: float, cell: Cell,
              unit: Unit) -> Reader:
    """The reader of one unit's events in one update's window, its parameters read under the
    cell's names."""
    return Reader(result, update, sign, unit.layer, unit.reverse,
                  {name: unit.name(name) for name in cell.PARAMS})


def _network_names(node: Any, cell: Cell, unit: Unit) -> None:
    """Rename, in place, the weights a cell's terms name by the cell's own names (W_f) to the
    unit's names in the network (W_f_l2, W_f_rev), as the trace and its updates name them."""
    if isinstance(node, dict):
        weight = node.get("weight")
        if isinstance(weight, dict) and weight.get("name") in cell.PARAMS:
            weight["name"] = unit.name(weight["name"])
        for value in node.values():
            _network_names(value, cell, unit)
    elif isinstance(node, list):
        for item in node:
            _network_names(item, cell, unit)


def check_layer(layers: int, layer: Any) -> int | None:
    """The layer of a stack the view reads (the top when not given), or None for one layer."""
    if layer is None:
        return layers if layers > 1 else None
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer):
        raise RequestError(("layer",), f"must be an integer or null, got {layer!r}")
    if layers == 1:
        raise RequestError(("layer",), "only a stack (num_layers > 1) has layers to choose "
                                       "from; remove layer")
    if not 1 <= layer <= layers:
        raise RequestError(("layer",), f"layer {layer} is not in the stack: layers are "
                                       f"1..{layers} (1-based, bottom first)")
    return int(layer)


def check_direction(bidirectional: bool, direction: Any) -> str | None:
    """The network of a bidirectional layer the view reads ("forward" when not given), or
    None for a network of one direction, which has no other to choose from."""
    if direction is None:
        return "forward" if bidirectional else None
    if direction not in DIRECTIONS:
        raise RequestError(("direction",), f"must be one of {', '.join(DIRECTIONS)}, got "
                                           f"{direction!r}")
    if not bidirectional:
        raise RequestError(("direction",), "only a bidirectional network has a reverse "
                                           "network to choose from; remove direction")
    return str(direction)


def from_above(cell: Cell, reader: Reader, above: list[tuple[Unit, Step | None]], t: int,
               column: int, recorded: float) -> Node:
    """dh_above_j(t): what the layer above's deltas at the same step t send down through its
    input matrices' column ``column`` (the unit's place in [h(t); h_rev(t)]), from each of
    that layer's networks (one, or its forward and reverse ones, whose errors add up)."""
    if len(above) == 1:  # one direction: the layer above's one network is the whole error
        ((unit, step),) = above
        return from_unit_above(cell, reader, unit, step, "dh_above", t, column, recorded)
    return total("dh_above", t, [
        from_unit_above(cell, reader, unit, step, f"dh_above.{DIRECTIONS[unit.reverse]}", t,
                        column) for unit, step in above], recorded=recorded)


def from_unit_above(cell: Cell, reader: Reader, unit: Unit, above: Step | None, name: str,
                    t: int, column: int, recorded: float | None = None) -> Node:
    """sum over gates of sum_k U_{gate,k,column} delta_{gate,k}(t) of one network ``unit``
    of the layer above: one dot product per input matrix (U of the RNN; U_f, U_i, ... of a
    gated cell), at the same step t and parameter version."""
    assert above is not None  # every unit's window holds the same steps
    if not cell.GATES:  # the RNN: one input matrix, its dot product is the whole error
        return dot(name, t, unit.name("U"), above.version, column, above.params["U"][:, column],
                   "delta", t, reader.err(above.backward["delta"]), recorded=recorded)
    terms = [dot(f"{name}.{spec.delta}", t, unit.name(param), above.version, column,
                 above.params[param][:, column], f"deltas.{spec.delta}", t,
                 reader.err(above.backward["deltas"][spec.delta]))
             for param, spec in cell.PARAMS.items()
             if spec.right == "x" and spec.kind == "outer"]
    return total(name, t, terms, recorded=recorded)


# ---------------------------------------------------------------------------------------------
# From a request.


def neuron(request: Plan | TraceRequest | dict[str, Any], t: int, unit: int,
           update: int | None = None, convention: str = "gradient",
           example: int | None = None, layer: int | None = None,
           direction: str | None = None) -> dict[str, Any]:
    """``neuron_view`` of the pass ``request`` (or its plan) describes; the position is
    checked before the pass runs (its diagnostics are skipped: the view does not read them)."""
    job = as_plan(request, "trace")
    if convention not in CONVENTIONS:
        raise RequestError(("convention",), f"must be one of {', '.join(CONVENTIONS)}, "
                                            f"got {convention!r}")
    find_update(list(job.windows), t, unit, update, job.T, job.H)
    check_example(len(job.data.examples), example)
    check_fixed(job.request.truncation)
    check_layer(job.request.num_layers, layer)
    check_direction(job.request.bidirectional, direction)
    quiet = dataclasses.replace(job, request=dataclasses.replace(
        job.request, diagnostics=False, jacobian_norms=False, spectral_radii=False))
    with np.errstate(all="ignore"):  # overflow shows as non-finite numbers, as in the trace
        result = run_trace(quiet)
        return neuron_view(result, t, unit, update, convention, example, layer, direction)
