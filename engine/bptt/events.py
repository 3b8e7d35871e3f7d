"""Trace events as read-only mappings over the recorded stacks of one block of steps.

A pass records its numbers once, as one stack per quantity and forward block or backward
window (rows in time order). An event is the view of one row of those records under the
names of CONTRACT.md: ``event["h"]`` is h(t), ``event["deltas"]["f"]`` delta_f(t). Building
one dict of row views per step would cost more than the step's arithmetic (about a dozen
views and a dict per event); an event instead holds its block's field table and its row, and
forms a field when it is read. Every event exists, in order, with every field; reading gives
the same arrays a dict would hold, and nothing is copied.

``forward_events`` and ``backward_events`` build the events of a forward block and of a
backward window from the record store (engine.record), reading which fields a cell's events
carry from the cell's own declarations (engine.cell).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..cells.protocol import ONE, ONE_UNIT, Cell, Stack, Stacks, Unit, delta_field, split_gates
from .lazy import StepGradients, WindowGradients
from .norms import row_norms
from .problem import Problem
from .record import Backward, Forward

# field name -> the field's value at a row of the block (0 = the block's first row)
Fields = dict[str, Callable[[int], Any]]


class Event(Mapping[str, Any]):
    """One event of the trace: ``fields[name](row)`` for each name, in the block's order."""

    __slots__ = ("_fields", "_row")

    def __init__(self, fields: Fields, row: int) -> None:
        self._fields = fields
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._fields[name](self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __repr__(self) -> str:
        return f"<{self['kind']} event t={self['t']}: {', '.join(self._fields)}>"

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        """Pickled (and deep-copied) as the plain dict of its fields: the field table holds
        closures, which do not pickle; the numbers are the same."""
        return dict, (dict(self),)


def constant(value: Any) -> Callable[[int], Any]:
    return lambda row: value


def rows_of(stack: Any, offset: int = 0) -> Callable[[int], Any]:
    """Row ``offset + row`` of an array (a view) or a list."""
    return lambda row: stack[offset + row]


def gate_rows_of(stacks: Mapping[str, Any]) -> Callable[[int], Any]:
    """{gate: stacks[gate][row]}: the per-gate vectors of one step."""
    return lambda row: {gate: stack[row] for gate, stack in stacks.items()}


def block_events(fields: Fields, n: int, reverse: bool = False) -> list[Mapping[str, Any]]:
    """The events of rows 0..n-1 (n-1..0 when ``reverse``: the backward pass runs late to
    early)."""
    rows = range(n - 1, -1, -1) if reverse else range(n)
    return [Event(fields, row) for row in rows]


# ---------------------------------------------------------------------------------------------
# The events of a pass, from its records.


def unit_fields(stack: Stack, unit: Unit) -> Fields:
    """A stack's events say their unit: ``layer`` (1-based) when there are layers, and
    ``direction`` ("forward" or "reverse") when bidirectional; a one-layer, one-way network's
    events have neither."""
    fields: Fields = {}
    if stack.layers > 1:
        fields["layer"] = constant(unit.layer)
    if stack.bidirectional:
        fields["direction"] = constant("reverse" if unit.reverse else "forward")
    return fields


def time_of(unit: Unit, T: int, first: int) -> Callable[[int], int]:
    """The step t of a block's row: first + row in the unit's own time order, which a
    reverse unit runs from T back to 1."""
    if unit.reverse:
        return lambda row: T - (first + row) + 1
    return lambda row: first + row


def forward_events(problem: Problem, fwd: Forward, steps: range, stacks: Stacks,
                   inputs: np.ndarray, example: int | None = None, unit: Unit = ONE_UNIT
                   ) -> list[Mapping[str, Any]]:
    """The forward events of a block of steps, each a view of the block's stacks;
    ``inputs``: the rows x(t) the unit read, in its time order (the layer below's readout in
    a stack); ``example``: the mini-batch example they belong to (None: one sequence, no such
    field); ``unit``: the layer and direction of a stack. Every unit's event carries the
    network's output and loss at its step."""
    cell = problem.cell_module
    first, lo = steps.start, steps.start - 1  # 1-based t of row 0, and its 0-based index
    targets = problem.targets
    t_of = time_of(unit, problem.T, first)
    at = (lambda row: t_of(row) - 1) if unit.reverse else (lambda row: lo + row)
    fields: Fields = {
        "kind": constant("forward"),
        "t": t_of,
        **({} if example is None else {"example": constant(example)}),
        **unit_fields(problem.stack, unit),
        "version": lambda row: fwd.version_of[first + row],
        "x": rows_of(inputs, lo),
        "h_prev": rows_of(stacks["h_prev"]),
        "a": _pre_activations(cell, stacks),
        "gates": (gate_rows_of({gate: stacks[gate] for gate in cell.GATES}) if cell.GATES
                  else constant(None)),
        "h": rows_of(stacks["h"]),
        "o": lambda row: fwd.outputs[at(row)],
        "yhat": lambda row: fwd.yhat[at(row)],
        "target": ((lambda row: int(targets[at(row)])) if problem.loss == "cross_entropy"
                   else (lambda row: targets[at(row)])),
        "loss": lambda row: float(fwd.step_loss[at(row)]),
        "loss_injected": lambda row: t_of(row) in problem.loss_steps,
    }
    for key in cell.RECORDED:  # c_prev, c (LSTM); rh_prev (GRU): what W_h multiplies
        fields[key] = rows_of(stacks[key])
    return block_events(fields, len(steps))


def _pre_activations(cell: Cell, stacks: Stacks) -> Callable[[int], Any]:
    """The forward event's "a": one vector, or {gate: vector}."""
    if isinstance(cell.PRE_ACTIVATIONS, str):
        return rows_of(stacks[cell.PRE_ACTIVATIONS])
    return gate_rows_of({gate: stacks[key] for gate, key in cell.PRE_ACTIVATIONS.items()})


# The error vectors whose lengths the page writes on the network's strands: what reaches h(t)
# from its own output, from step t+1, their sum, and (LSTM) the cell-state error from t+1.
NORMED = ("dh_out", "dh_next", "dh")
NORMED_RECORDED = ("dc_next",)


def strand_norms(bwd: Backward, stacked: bool = False) -> Callable[[int], dict[str, float]]:
    """{name: ||vector||} of each step's error vectors (NORMED, and the cell's recorded
    NORMED_RECORDED; ``stacked``: a layer's ``dh_above`` too, 0 at the top): one pass over
    the window's stacks, safe from overflow (norms.row_norms); a vector holding NaN has norm
    NaN (sent as null), one holding an infinity inf."""
    stacks = {name: getattr(bwd, name) for name in NORMED}
    if stacked:
        stacks["dh_above"] = (bwd.dh_above if bwd.dh_above is not None
                              else np.zeros_like(bwd.dh_out))
    stacks.update({name: bwd.recorded[name] for name in NORMED_RECORDED if name in bwd.recorded})
    table = {name: row_norms(stack) for name, stack in stacks.items()}  # name -> (n,)
    return lambda row: {name: float(norms[row]) for name, norms in table.items()}


def backward_events(cell: Cell, bwd: Backward, grad_window: WindowGradients, dx: np.ndarray,
                    index: int, H: int, example: int | None = None, unit: Unit = ONE_UNIT,
                    stack: Stack = ONE, T: int = 0) -> list[Mapping[str, Any]]:
    """The window's backward events, t = last..first; every array a row view of a stack.
    ``example``: the mini-batch example (its contributions and running sums are its share);
    ``unit``: the layer and direction of a ``stack`` (a layer's events carry ``dh_above``,
    what the layer above sent down: zeros at the top, whose error comes from its output;
    below the top, ``dh_out`` is zeros; a reverse unit's rows run from step T back, so its
    backward events go from t = 1 up, ``T`` the sequence's length). Its contributions are
    the unit's own parameters'."""
    first, last = bwd.first, bwd.last
    fields: Fields = {
        "kind": constant("backward"),
        "t": time_of(unit, T, first),
        **({} if example is None else {"example": constant(example)}),
        **unit_fields(stack, unit),
        "update": constant(index),
        "window": lambda row: [first, last],
        "g_o": rows_of(bwd.g_o),
        "dh_out": rows_of(bwd.dh_out),
        **({} if stack.layers == 1 else {"dh_above": rows_of(
            bwd.dh_above if bwd.dh_above is not None else np.zeros_like(bwd.dh_out))}),
        "dh_next": rows_of(bwd.dh_next),
        "dh": rows_of(bwd.dh),
        delta_field(cell): (gate_rows_of(split_gates(cell, bwd.delta, H)) if cell.GATES
                            else rows_of(bwd.delta)),
    }
    for key in cell.BACKWARD_RECORDED:  # dc, dc_next, dc_from_h (LSTM)
        fields[key] = rows_of(bwd.recorded[key])
    fields["dx"] = rows_of(dx)
    fields["dh_prev"] = rows_of(bwd.dh_prev)
    fields["norms"] = strand_norms(bwd, stack.layers > 1)
    fields["contrib"] = lambda row: StepGradients(grad_window, row, running=False)
    fields["accum"] = lambda row: StepGradients(grad_window, row, running=True)
    # ||accum[name]||_F: the accumulator chart's curves, in either detail (engine.lazy)
    fields["accum_norms"] = lambda row: grad_window.norm_row(row, running=True)
    return block_events(fields, last - first + 1, reverse=True)
