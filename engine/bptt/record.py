"""The record store of a pass: every number the forward and backward passes computed, kept
once as stacks (one array per quantity and forward block or backward window, rows in time
order), and read by the events, the diagnostics and the gradient check.

Time is 1-based: ``Forward.caches[t]`` is step t's record (``caches[0]`` is None).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells.protocol import Packed, Stacks


class StepRecord(Mapping[str, np.ndarray]):
    """What step t recorded, under the names of its cell's ``step_forward`` cache (plus the
    backward factors): row views of its forward block's stacks."""

    __slots__ = ("_stacks", "_row")

    def __init__(self, stacks: Stacks, row: int) -> None:
        self._stacks = stacks
        self._row = row

    def __getitem__(self, key: str) -> np.ndarray:
        return self._stacks[key][self._row]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stacks)

    def __len__(self) -> int:
        return len(self._stacks)

    def __contains__(self, key: object) -> bool:
        return key in self._stacks


@dataclass
class Forward:
    """What the forward pass recorded. Steps run in blocks (the new steps of each window);
    ``blocks`` holds each block's first step t and its stacks (rows in time order)."""

    version_of: list[int]  # parameter version step t used (index 0 unused)
    # packed parameters of each version ({}: released by an unrecorded pass)
    packs: list[Packed]
    outputs: np.ndarray  # (T, K) o(t) in row t-1
    yhat: np.ndarray  # (T, K)
    step_loss: np.ndarray  # (T,)
    step_grad_o: np.ndarray  # (T, K) dL(t)/do(t) of each step's own loss, unweighted
    blocks: list[tuple[int, Stacks]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # first step of each block
    # every quantity's rows of the whole pass, row t-1 for step t: the blocks are views of
    # them, so the rows of a window that spans many blocks are a view too (with k1 = 1 every
    # step is a block of its own, and joining a window's rows anew for each window cost
    # O(T^2) copies per pass)
    joined: dict[str, np.ndarray] = field(default_factory=dict)

    def add_block(self, first: int, stacks: Stacks) -> Stacks:
        """Keep a block's stacks (rows of steps first, first + 1, ...); returns them as the
        views of the pass's rows they become."""
        T = len(self.version_of) - 1
        views = {}
        for key, stack in stacks.items():
            if key not in self.joined:
                self.joined[key] = np.empty((T, *stack.shape[1:]), dtype=stack.dtype)
            view = self.joined[key][first - 1:first - 1 + len(stack)]
            view[...] = stack
            views[key] = view
        self.blocks.append((first, views))
        self.starts.append(first)
        return views

    @property
    def caches(self) -> StepCaches:
        """caches[t]: step t's record as a mapping (1-based; caches[0] is None)."""
        return StepCaches(self.blocks, self.starts)

    def rows(self, key: str, first: int, last: int) -> np.ndarray:
        """Rows first..last (1-based t, inclusive) of a recorded quantity, as a view."""
        return self.joined[key][first - 1:last]


class StepCaches(Sequence[Any]):
    """The per-step view of the forward blocks: ``caches[t]`` is a StepRecord."""

    def __init__(self, blocks: list[tuple[int, Stacks]], starts: list[int]) -> None:
        self._blocks = blocks
        self._starts = starts

    def __len__(self) -> int:
        if not self._blocks:
            return 1
        start, stacks = self._blocks[-1]
        return start + len(stacks["h"])

    def __getitem__(self, t: Any) -> Any:
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        if t < 0:
            t += len(self)
        if t == 0:
            return None
        if not 0 < t < len(self):
            raise IndexError(t)
        start, stacks = self._blocks[bisect.bisect_right(self._starts, t) - 1]
        return StepRecord(stacks, t - start)


@dataclass
class Backward:
    """One window's backward pass, rows in time order first..last."""

    first: int
    last: int
    g_o: np.ndarray  # (n, K)
    dh_out: np.ndarray  # (n, H)
    dh_next: np.ndarray  # (n, H)
    dh: np.ndarray  # (n, H)
    delta: np.ndarray  # (n, G*H) stacked gate deltas
    dh_prev: np.ndarray  # (n, H)
    # the cell's further per-step records (BACKWARD_RECORDED: dc, dc_next, dc_from_h, LSTM)
    recorded: dict[str, np.ndarray] = field(default_factory=dict)
    # dL/d(state before the window), one per state vector (dh, and dc for the LSTM)
    dstate_start: tuple[np.ndarray, ...] = field(default_factory=tuple)
    # a layer under another: what reached h(t) from the layer above (n, H); None for the
    # top layer, whose error comes from its output (dh_out)
    dh_above: np.ndarray | None = None
