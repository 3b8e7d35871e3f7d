"""A result as plain data: dicts, lists, floats, ints, strings, booleans and None.

``run_trace`` (and ``train``, ``gradcheck``) return NumPy arrays, which is what a notebook
computes with. ``to_data`` gives the same numbers as plain Python values, which the standard
``json`` module writes as they are and a grader can compare with ``==``:

    import json
    from bptt_studio.engine import run_trace, to_data
    data = to_data(run_trace({"cell": "gru", "data": {"text": "machine"}}))
    json.dumps(data)                           # the trace the API sends for "detail": "full"
    data["updates"][0]["grads"]["W_h"]         # a list of rows of floats

The rules are the API's (CONTRACT.md): arrays become nested lists (matrices as lists of rows),
every event a dict of its fields (the lazy ``contrib`` and ``accum`` formed), tuples lists, NumPy
scalars Python numbers, and a number that overflowed (NaN or ±infinity) becomes None, JSON's
null; ``non_finite`` of a result is then true. Nothing of the input is modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["to_data"]


def to_data(value: Any) -> Any:
    """``value`` (a result of the engine, or any part of one) as plain JSON-ready values."""
    seen_non_finite = [False]
    # Reading the lazy contributions forms their products here; one that overflows is a
    # number like any other, written as None, not a warning.
    with np.errstate(all="ignore"):
        data = _plain(value, seen_non_finite)
    if seen_non_finite[0] and isinstance(data, dict) and "non_finite" in data:
        data["non_finite"] = True  # a null in the data always comes with the flag, as in the API
    return data


_LEAVES = (str, bool, int, type(None))


def _plain(value: Any, seen: list[bool]) -> Any:
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, float):  # np.float64 is a float too
        if math.isfinite(value):
            return float(value)
        seen[0] = True
        return None
    if isinstance(value, np.ndarray):
        return _array(value, seen)
    if isinstance(value, np.generic):
        return _plain(value.item(), seen)
    if isinstance(value, Mapping):  # dicts, events, the lazy contrib/accum mappings
        return {key: _plain(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, seen) for item in value]
    raise TypeError(f"to_data: cannot turn a {type(value).__name__} into plain data")


def _array(array: np.ndarray, seen: list[bool]) -> Any:
    if array.dtype.kind != "f" or bool(np.isfinite(array).all()):
        return array.tolist()  # one C loop; exact floats (tolist gives Python floats)
    seen[0] = True
    return _nulls(array.tolist())


def _nulls(value: Any) -> Any:
    """A nested list with every NaN and infinity replaced by None."""
    if isinstance(value, list):
        return [_nulls(item) for item in value]
    return value if math.isfinite(value) else None
