"""Each cell's description of itself, as every result carries it (CONTRACT.md's ``cell_spec``).

    {"state": ["h", "c"], "gates": ["f", "i", "g", "o"],
     "params": {"W_f": {"shape": [H, H], "factors": ["deltas.f", "h_prev"]}, ...,
                "V": {"shape": [K, H], "factors": ["g_o", "h"]}, "b_y": {..., ["g_o", null]}}}

``factors`` = [left, right]: left is a path into the backward event of step t ("delta",
"deltas.f", "g_o"), right a path into the forward event of the same step ("h_prev", "x",
"rh_prev", "h") or None for a bias, so that the event's contrib[name] = left right^T (or
left). The page draws its heatmaps, captions and labels from this instead of restating the
cells. Everything here is read from the declarations of the cell modules (``engine.cell``'s
protocol: STATE, GATES, PARAMS) through ``declarations``; nothing about a cell is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cell import Cell, all_params
from .cells import CELLS


@dataclass(frozen=True)
class Declarations:
    """What a cell module declares about itself, as the description needs it."""

    state: tuple[str, ...]  # the state vectors, h first: ("h",) or ("h", "c")
    gates: tuple[str, ...]  # () for the vanilla RNN
    factors: Mapping[str, tuple[str, str | None]]  # every parameter, V and b_y included


def declarations(cell: Cell) -> Declarations:
    """The one place that reads a cell module's declarations for the description."""
    return Declarations(state=tuple(cell.STATE), gates=tuple(cell.GATES),
                        factors={name: spec.factors for name, spec in all_params(cell).items()})


def cell_spec(cell: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The description of ``cell`` with the shapes of ``params`` (every parameter of the pass,
    in its order). Raises ValueError if a parameter has no declared factors."""
    decl = declarations(CELLS[cell])
    missing = [name for name in params if name not in decl.factors]
    if missing:
        raise ValueError(f"cell {cell!r} declares no gradient factors for {missing}")
    return {
        "state": list(decl.state),
        "gates": list(decl.gates),
        "params": {name: {"shape": [int(n) for n in getattr(value, "shape", ())],
                          "factors": list(decl.factors[name])}
                   for name, value in params.items()},
    }
