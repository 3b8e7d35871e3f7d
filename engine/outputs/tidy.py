"""The whole trace as one tidy table: one row per number (docs/export-csv.md).

Columns, in this order:

    event     1-based position of the event in ``result["events"]`` (as the page numbers
              events); empty for the rows of the pass as a whole (diagnostics, totals)
    t         the event's step (1-based); empty where the row has none
    kind      forward | backward | update | diagnostics | pass
    quantity  the field's path in the JSON: "h", "a.f", "deltas.z", "contrib.W_f",
              "grads.V", "accum_norms.W", "error_flow", "scale.mean"; with detail "norms"
              the matrix fields are "<field>_norm.<parameter>" (one Frobenius norm each)
    gate      the gate the number belongs to (LSTM f i g o, GRU z r n), else empty
    row       0-based row of the array (a vector's entry; 0 for a scalar)
    column    0-based column of a matrix (0 for a vector or a scalar)
    value     the number, in the shortest form that reads back as the same float64;
              booleans as 1 and 0; empty where it is not finite (the JSON's null)
    i, j      row + 1 and column + 1: the entry as the page numbers it (unit i of a vector,
              W[i, j] of a matrix; 1, 1 for a scalar)

Every number of every event is a row, in trace order (an event's fields in its order, arrays
row-major); an update event carries the numbers of ``updates[i]``. Left out, because each is
another field's copy: the initial ``params`` (the first update's ``params_before``),
``inputs``, ``targets`` and ``step_losses`` (the forward events' x, target and loss),
``loss_steps`` (``loss_injected``) and ``windows`` (each update's ``window``). Entries above
the diagonal of the T×T diagnostics are not numbers (null in the JSON) and have no row.
Pure standard library and NumPy; the writer formats whole arrays at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, TextIO

import numpy as np

from ..cells.protocol import Stack
from ..cells.registry import CELLS
from ..request.fields import MAX_LAYERS
from .detail import EVENT_MATRICES, UPDATE_MATRICES, with_norms

COLUMNS = ("event", "t", "kind", "quantity", "gate", "row", "column", "value", "i", "j")
HEADER = ",".join(COLUMNS) + "\n"
DETAILS = ("full", "norms")
GATE_FIELDS = frozenset({"a", "gates", "deltas"})  # {gate: vector} fields of the events
PARAM_FIELDS = frozenset(EVENT_MATRICES + UPDATE_MATRICES)  # {parameter: array} fields
# {parameter: number} fields, in either detail: norms, and the recurrent matrices' radii
PARAM_NORM_FIELDS = frozenset({"accum_norms", "spectral_radii", "spectral_radii_after"})
# the event's own columns; a bidirectional network's "direction" is written as the number
# "reverse" (1 or 0), every row of the CSV being a number
SKIPPED = frozenset({"kind", "t", "direction"})


def param_gates(cell: str) -> dict[str, str]:
    """The gate of each parameter of every layer, as its cell declares it (GRU's candidate
    parameters are W_h, U_h, b_h: gate "n"); none for a cell without gates, nor for V and
    b_y."""
    module = CELLS[cell]
    if not module.GATES:
        return {}
    return {unit.name(param): spec.delta for unit in Stack(MAX_LAYERS, True).units
            for param, spec in module.PARAMS.items()}


def _number(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    number = float(value)
    return repr(number) if math.isfinite(number) else ""


def _place(row: int, column: int) -> tuple[str, str]:
    """What surrounds an entry's value on its line: "row,column," before it (0-based, the
    JSON's index) and ",i,j" after it (1-based, as the page numbers units)."""
    return f"{row},{column},", f",{row + 1},{column + 1}\n"


@lru_cache(maxsize=64)
def _positions(rows: int, columns: int) -> tuple[tuple[str, str], ...]:
    """The places of every entry of a rows×columns array, row-major (shared by arrays of
    one shape: a trace has a handful of shapes)."""
    return tuple(_place(i, j) for i in range(rows) for j in range(columns))


def _array_lines(prefix: str, array: np.ndarray) -> str:
    """The rows of a numeric array (1-D: column 0; 2-D: row-major), one string."""
    matrix = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    values = matrix.ravel().tolist()
    if matrix.dtype.kind == "f":
        if bool(np.isfinite(matrix).all()):
            text = list(map(repr, values))
        else:
            text = [repr(v) if math.isfinite(v) else "" for v in values]
    else:
        text = [_number(v) for v in values]
    positions = _positions(*matrix.shape)
    return "".join([f"{prefix}{at}{v}{tail}"
                    for (at, tail), v in zip(positions, text, strict=True)])


def _list_lines(prefix: str, values: list[Any]) -> str:
    """The rows of a list of numbers or of rows (a T×T diagnostic: None entries skipped)."""
    lines = []
    for i, item in enumerate(values):
        row = list(item) if isinstance(item, list | tuple | np.ndarray) else [item]
        for j, v in enumerate(row):
            if v is not None:
                before, after = _place(i, j)
                lines.append(f"{prefix}{before}{_number(v)}{after}")
    return "".join(lines)


class _Writer:
    def __init__(self, cell: str, detail: str) -> None:
        self.param_gates = param_gates(cell)
        self.norms = detail == "norms"

    def gate_of(self, field: str, key: str) -> str:
        if field in GATE_FIELDS:
            return key
        if field in PARAM_FIELDS or field in PARAM_NORM_FIELDS:
            return self.param_gates.get(key, "")
        return ""

    def lines(self, head: str, quantity: str, gate: str, value: Any,
              field: str | None = None) -> Iterator[str]:
        """head is "event,t,kind," of the rows; one string per array or scalar. ``field``:
        the field whose kind decides gates and norms (the quantity itself, unless it is
        nested: "shares.0.grads" is a "grads")."""
        if value is None:
            return
        prefix = f"{head}{quantity},{gate},"
        kind = field or quantity
        if isinstance(value, Mapping):
            name = f"{quantity}_norm" if self.norms and kind in PARAM_FIELDS else quantity
            for key, item in value.items():
                yield from self.lines(head, f"{name}.{key}", self.gate_of(kind, key), item)
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for i, item in enumerate(value):  # a mini-batch's shares: shares.<i>.<field>
                for key, sub in item.items():
                    yield from self.lines(head, f"{quantity}.{i}.{key}", "", sub, key)
        elif isinstance(value, np.ndarray):
            yield _array_lines(prefix, value)
        elif isinstance(value, list | tuple):
            yield _list_lines(prefix, list(value))
        else:
            before, after = _place(0, 0)
            yield f"{prefix}{before}{_number(value)}{after}"


def csv_chunks(result: Mapping[str, Any], detail: str = "full") -> Iterator[str]:
    """The tidy CSV of a ``run_trace`` result, header first, in pieces (one per array).

    ``detail`` "full" writes every matrix entry; "norms" writes the Frobenius norm of each
    parameter-shaped matrix instead (as /api/v1/trace's detail "norms" sends them).
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
    source = with_norms(dict(result)) if detail == "norms" else result
    writer = _Writer(result["config"]["cell"], detail)
    updates = source["updates"]
    yield HEADER
    for number, event in enumerate(source["events"], start=1):
        kind = event["kind"]
        head = f"{number},{event['t']},{kind},"
        if "direction" in event:
            yield from writer.lines(head, "reverse", "", int(event["direction"] == "reverse"))
        for field, value in event.items():
            if field not in SKIPPED:
                yield from writer.lines(head, field, "", value)
        if kind == "update":
            for field, value in updates[event["update"]].items():
                if field not in SKIPPED:
                    yield from writer.lines(head, field, "", value)
    for field, value in (source["diagnostics"] or {}).items():
        if field == "error_flow_layers":  # a stack's: one matrix a layer, error_flow_layers.<j>
            for layer, matrix in enumerate(value, start=1):
                yield from writer.lines(",,diagnostics,", f"{field}.{layer}", "", matrix)
        else:
            yield from writer.lines(",,diagnostics,", field, "", value)
    totals = {"loss": source["loss"], "non_finite": source["non_finite"],
              "scale": source["scale"], "sizes": source["sizes"],
              "spectral_radii": source.get("spectral_radii")}
    if source.get("xi") is not None:  # randomized truncation's weights, one row per step
        totals["xi"] = source["xi"]
    for field, value in totals.items():
        yield from writer.lines(",,pass,", field, "", value)


def write_csv(result: Mapping[str, Any], out: TextIO, detail: str = "full") -> None:
    """Write the tidy CSV of a ``run_trace`` result to a text stream."""
    for chunk in csv_chunks(result, detail):
        out.write(chunk)


def to_csv(result: Mapping[str, Any], detail: str = "full") -> str:
    """The tidy CSV of a ``run_trace`` result as one string."""
    return "".join(csv_chunks(result, detail))


def to_csv_bytes(result: Mapping[str, Any], detail: str = "full") -> bytes:
    """The tidy CSV as bytes (ASCII, so also UTF-8), each piece encoded as it is made: the
    text is held once as pieces and once joined, never also as one str."""
    return b"".join([chunk.encode("ascii") for chunk in csv_chunks(result, detail)])
