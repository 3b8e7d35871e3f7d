"""The registry of cells, and each cell's description of itself (CONTRACT.md's ``cell_spec``).

A request's ``cell`` names one of ``CELLS``. A cell is one module implementing
``engine.cell.Cell`` (its step and backward, parameter kinds, PyTorch step, neuron terms and
cost calibration); ``register`` checks its declarations and adds it. The request's accepted
names, the parameter shapes, the schedule, the events, the diagnostics, the neuron view, the
PyTorch script and the cost model all read the registered module, so adding a cell is its
module and its line below. Modules named in the environment variable ``BPTT_CELLS``
(importable names, comma-separated) are registered too, at import: in every process that
imports the engine, as the server's computation processes do.

The description every result carries:

    {"state": ["h", "c"], "gates": ["f", "i", "g", "o"],
     "params": {"W_f": {"shape": [H, H], "factors": ["deltas.f", "h_prev"]}, ...,
                "V": {"shape": [K, H], "factors": ["g_o", "h"]}, "b_y": {..., ["g_o", null]}}}

``factors`` = [left, right]: left is a path into the backward event of step t ("delta",
"deltas.f", "g_o"), right a path into the forward event of the same step ("h_prev", "x",
"rh_prev", "h") or None for a bias, so that the event's contrib[name] = left right^T (or
left). A diagonal parameter (a peephole's, contrib = left * right elementwise) also says
``"kind": "diagonal"``. The page draws its heatmaps, captions and labels from this instead of
restating the cells; nothing about a cell is written twice.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from . import gru, lstm, rnn
from .protocol import CELL_COST_FEATURES, ONE, Cell, Stack, all_params

CELLS: dict[str, Cell] = {}

# The names a right factor may take besides the cell's own recorded vectors.
_SHARED_RIGHTS = ("h_prev", "x", "h")
_SHAPES = {"outer": 2, "diagonal": 1, "bias": 1}


def problems(cell: Any) -> list[str]:
    """What is missing or inconsistent in a cell module's declarations (empty: it is whole)."""
    if not isinstance(cell, Cell):  # the protocol's names, each present
        missing = [name for name in dir(Cell) if not name.startswith("_")
                   and not hasattr(cell, name)]
        return [f"it lacks {', '.join(missing)} (engine.cell.Cell)"]
    found = []
    if cell.STATE[:1] != ("h",):
        found.append(f"STATE must start with h, got {cell.STATE}")
    rights = {*_SHARED_RIGHTS, *cell.RECORDED}
    for name, spec in cell.PARAMS.items():
        if spec.delta not in cell.DELTA_KEYS:
            found.append(f"{name}'s left factor {spec.left!r} is none of DELTA_KEYS "
                         f"{cell.DELTA_KEYS}")
        if spec.right is not None and spec.right not in rights:
            found.append(f"{name}'s right factor {spec.right!r} is not recorded (one of "
                         f"{sorted(rights)})")
        if spec.kind == "diagonal" and (spec.shape != ("H",) or spec.right == "x"):
            found.append(f"{name} is diagonal: its shape is (H,) and it multiplies a recorded "
                         f"state, got {spec.shape} and {spec.right!r}")
        if len(spec.shape) != _SHAPES[spec.kind] or not set(spec.shape) <= {"H", "D", "K"}:
            found.append(f"{name} is {spec.kind!r} but has the shape {spec.shape}")
    for phase, names in CELL_COST_FEATURES.items():
        calibrated = cell.COST.get(phase, {})
        absent = [name for name in names if name not in calibrated]
        if absent:
            found.append(f"no cost calibration for {phase} {', '.join(absent)}: run "
                         f"bench/calibrate_cost.py --write with the cell registered")
    return found


def register(cell: Cell) -> Cell:
    """Add a cell module under its NAME, after checking its declarations. Raises ValueError
    naming what is missing (a cell without cost calibration is refused, never priced at
    zero)."""
    found = problems(cell)
    if found:
        name = getattr(cell, "NAME", getattr(cell, "__name__", repr(cell)))
        raise ValueError(f"cell {name!r} cannot be registered: {'; '.join(found)}")
    CELLS[cell.NAME] = cell
    return cell


def unregister(name: str) -> None:
    """Remove a registered cell (a test's own, after the test)."""
    del CELLS[name]


# Each line also has mypy check the module against the protocol.
register(rnn)
register(lstm)
register(gru)
for _name in filter(None, (n.strip() for n in os.environ.get("BPTT_CELLS", "").split(","))):
    register(cast(Cell, importlib.import_module(_name)))  # checked when it registers


# ---------------------------------------------------------------------------------------------
# The description of a cell.


@dataclass(frozen=True)
class Declarations:
    """What a cell module declares about itself, as the description needs it."""

    state: tuple[str, ...]  # the state vectors, h first: ("h",) or ("h", "c")
    gates: tuple[str, ...]  # () for the vanilla RNN
    factors: Mapping[str, tuple[str, str | None]]  # every parameter, V and b_y included
    diagonal: frozenset[str]  # the parameters of kind "diagonal"


def declarations(cell: Cell, stack: Stack = ONE) -> Declarations:
    """The one place that reads a cell module's declarations for the description."""
    params = all_params(cell, stack)
    return Declarations(state=tuple(cell.STATE), gates=tuple(cell.GATES),
                        factors={name: spec.factors for name, spec in params.items()},
                        diagonal=frozenset(name for name, spec in params.items()
                                           if spec.kind == "diagonal"))


def cell_spec(cell: str, params: Mapping[str, Any], stack: Stack = ONE) -> dict[str, Any]:
    """The description of ``cell`` with the shapes of ``params`` (every parameter of the pass,
    in its order; of a ``stack``, whose factors are read in the events of the parameter's
    unit). Raises ValueError if a parameter has no declared factors."""
    decl = declarations(CELLS[cell], stack)
    missing = [name for name in params if name not in decl.factors]
    if missing:
        raise ValueError(f"cell {cell!r} declares no gradient factors for {missing}")
    described: dict[str, Any] = {}
    for name, value in params.items():
        described[name] = {"shape": [int(n) for n in getattr(value, "shape", ())],
                           "factors": list(decl.factors[name])}
        if name in decl.diagonal:
            described[name]["kind"] = "diagonal"
    return {"state": list(decl.state), "gates": list(decl.gates), "params": described}
