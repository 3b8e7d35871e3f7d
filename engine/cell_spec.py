"""Each cell's description of itself, as every result carries it (CONTRACT.md's ``cell_spec``).

    {"state": ["h", "c"], "gates": ["f", "i", "g", "o"],
     "params": {"W_f": {"shape": [H, H], "factors": ["deltas.f", "h_prev"]}, ...,
                "V": {"shape": [K, H], "factors": ["g_o", "h"]}, "b_y": {..., ["g_o", null]}}}

``factors`` = [left, right]: left is a path into the backward event of step t ("delta",
"deltas.f", "g_o"), right a path into the forward event of the same step ("h_prev", "x",
"rh_prev", "h") or None for a bias, so that the event's contrib[name] = left right^T (or
left). The page draws its heatmaps, captions and labels from this instead of restating the
cells. Everything here is read from the declarations the cell modules carry
(``declarations``); nothing about a cell is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import gru, lstm, rnn

CELL_MODULES: dict[str, ModuleType] = {"rnn": rnn, "lstm": lstm, "gru": gru}

# The output layer o(t) = V h(t) + b_y is the same for every cell (engine.bptt.window_factors).
OUTPUT_FACTORS: dict[str, tuple[str, str | None]] = {"V": ("g_o", "h"), "b_y": ("g_o", None)}


@dataclass(frozen=True)
class Declarations:
    """What a cell module declares about itself."""

    state: tuple[str, ...]  # the cache keys its state is made of: ("h",) or ("h", "c")
    gates: tuple[str, ...]  # () for the vanilla RNN
    grad_factors: Mapping[str, tuple[str, str | None]]  # param -> (delta key, right factor)


class _ReadKeys(dict[str, Any]):
    """A stand-in step cache that records which keys are read (see ``declarations``)."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return None


def declarations(cell: ModuleType) -> Declarations:
    """The one place that reads a cell module's declarations (GATES, GRAD_FACTORS and what
    ``state_of`` takes from a step's cache): when the cells become a typed protocol, only
    this function changes."""
    probe = _ReadKeys()
    cell.state_of(probe)  # the state is what state_of reads: no list of it to keep in step
    return Declarations(state=tuple(probe.read), gates=tuple(getattr(cell, "GATES", ())),
                        grad_factors=cell.GRAD_FACTORS)


def _left_path(delta_key: str, gates: tuple[str, ...]) -> str:
    """Where a backward event holds a delta: "delta" (rnn) or "deltas.<gate>" (gated cells),
    as engine.bptt.backward_events names them."""
    return f"deltas.{delta_key}" if gates else delta_key


def cell_spec(cell: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The description of ``cell`` with the shapes of ``params`` (every parameter of the pass,
    in its order). Raises ValueError if a parameter has no declared factors."""
    decl = declarations(CELL_MODULES[cell])
    factors: dict[str, tuple[str, str | None]] = {
        name: (_left_path(key, decl.gates), right)
        for name, (key, right) in decl.grad_factors.items()}
    factors.update(OUTPUT_FACTORS)
    missing = [name for name in params if name not in factors]
    if missing:
        raise ValueError(f"cell {cell!r} declares no gradient factors for {missing}")
    return {
        "state": list(decl.state),
        "gates": list(decl.gates),
        "params": {name: {"shape": [int(n) for n in getattr(value, "shape", ())],
                          "factors": list(factors[name])}
                   for name, value in params.items()},
    }
