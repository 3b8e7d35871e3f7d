"""What a pass runs on: the request made arrays (``engine.plan.problem_of`` makes one).

Its own module so that the schedule and the events it records both read it without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..cells.protocol import ONE, Cell, Params, Stack
from ..cells.registry import CELLS
from ..request.fields import Clip, Optimizer


@dataclass(frozen=True)
class Problem:
    """Everything a pass needs, as arrays (made from a plan by ``engine.plan.problem_of``)."""

    cell: str
    activation: str
    inputs: np.ndarray  # (T, D); a mini-batch's (n, T, D)
    targets: np.ndarray  # (T,) class ids or (T, K) values; a mini-batch's (n, T) or (n, T, K)
    loss: str
    loss_steps: frozenset[int]  # 1-based steps whose loss is injected
    reduction: str
    k1: int
    k2: int
    windows: tuple[tuple[int, int], ...]  # (first, last) of each update's window
    optimizer: Optimizer
    clip: Clip | None
    params: Params
    state0: tuple[np.ndarray, ...]  # one per state vector of the cell: (h0,) or (h0, c0)
    bug: str | None = None  # a planted mistake of the backward pass (engine.bugs), or None
    batch: int = 0  # n when inputs and targets hold a mini-batch, 0 for one sequence
    # randomized truncation's xi_1..xi_T: the weight of the error flowing from step t back to
    # step t-1 (engine.plan.carry_weights); None: every flow kept whole
    carry: np.ndarray | None = None
    # the initial states of the stack's other units (engine.cells.protocol.Stack.units: the
    # reverse network of layer 1, then layer 2's ...), one tuple like state0 each; () for one
    deep_state0: tuple[tuple[np.ndarray, ...], ...] = ()
    stack: Stack = ONE  # the layers and directions around the cell

    @property
    def layers(self) -> int:
        return self.stack.layers

    def initial_states(self) -> list[tuple[np.ndarray, ...]]:
        """Each unit's initial state, in the stack's order."""
        return [self.state0, *self.deep_state0]

    def examples(self) -> list[Problem]:
        """The sequences a pass runs over: this one, or each example of the mini-batch as a
        problem of its own (its rows of inputs and targets, the same parameters)."""
        if not self.batch:
            return [self]
        return [replace(self, inputs=self.inputs[e], targets=self.targets[e], batch=0)
                for e in range(self.batch)]

    @property
    def cell_module(self) -> Cell:
        return CELLS[self.cell]

    @property
    def T(self) -> int:
        return int(self.inputs.shape[-2])

    @property
    def H(self) -> int:
        return int(self.state0[0].shape[0])

    @property
    def K(self) -> int:
        return int(self.params["V"].shape[0])
