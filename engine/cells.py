"""The registry of cells: a request's ``cell`` names one of these modules.

Adding a cell is one module implementing ``engine.cell.Cell`` and its line here; the
request's accepted names, the parameter shapes, the schedule, the events and the diagnostics
all read the cell's own declarations.
"""

from __future__ import annotations

from . import gru, lstm, rnn
from .cell import Cell

CELLS: dict[str, Cell] = {"rnn": rnn, "lstm": lstm, "gru": gru}
