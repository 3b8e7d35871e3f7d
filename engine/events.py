"""Trace events as read-only mappings over the recorded stacks of one block of steps.

A pass records its numbers once, as one stack per quantity and forward block or backward
window (rows in time order). An event is the view of one row of those records under the
names of CONTRACT.md: ``event["h"]`` is h(t), ``event["deltas"]["f"]`` delta_f(t). Building
one dict of row views per step would cost more than the step's arithmetic (about a dozen
views and a dict per event); an event instead holds its block's field table and its row, and
forms a field when it is read. Every event exists, in order, with every field; reading gives
the same arrays a dict would hold, and nothing is copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

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
