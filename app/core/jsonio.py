"""The one place where JSON is read and written: orjson, for the API and the CLI alike.

Writing: NumPy arrays are serialised natively (OPT_SERIALIZE_NUMPY); the engine's lazy
``contrib``/``accum`` mappings become dicts; NaN and ±Infinity, in Python floats and in NumPy
arrays alike, are written as ``null`` (orjson does that, and the tests pin it). Keys keep the
engine's order, so the same request always gives byte-identical JSON.

Reading: orjson rejects what JSON does not allow, NaN, Infinity and numbers that overflow a
double (1e400) included; ``parse_body`` turns each into an error that says where. It also
bounds how deeply the JSON nests (``MAX_DEPTH``): every later step (pydantic, the engine's
parser, Python's json module when it looks for a NaN) may walk a value recursively, and a
1 KB body nested 500 deep once ended in a RecursionError.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from bptt_studio.core.errors import ApiError

MEDIA_TYPE = "application/json"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# The deepest field of a request is 4 levels down (the body, params, a matrix, a row); orjson
# itself stops at 1024 levels.
MAX_DEPTH = 16
_SCALARS = frozenset({int, float, str, bool, type(None)})


def _default(value: Any) -> Any:
    if isinstance(value, Mapping):  # engine.lazy.StepGradients: forms its arrays when read
        return dict(value)
    if isinstance(value, np.ndarray):  # a non-contiguous view, or a dtype orjson skips
        if value.dtype.kind in "fiub":
            return np.ascontiguousarray(value, dtype=float if value.dtype.kind == "f"
                                        else value.dtype)
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """JSON bytes of any engine result; non-finite numbers become null."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def response(value: Any, status_code: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    body = value if isinstance(value, bytes) else dumps(value)
    return Response(content=body, status_code=status_code, media_type=MEDIA_TYPE,
                    headers=headers)


def all_finite(value: Any) -> bool:
    """True when every number inside ``value`` (arrays, mappings, lists, floats) is finite.

    Collects the float arrays and floats in one walk, then checks them in two NumPy calls:
    a trace holds thousands of small arrays, and one isfinite per array would cost more.
    """
    arrays: list[np.ndarray] = []
    floats: list[float] = []
    _collect(value, arrays, floats)
    if floats and not bool(np.isfinite(np.array(floats, dtype=float)).all()):
        return False
    return not arrays or bool(np.isfinite(np.concatenate(arrays)).all())


_LEAVES = (int, str, bool, type(None))


def _collect(value: Any, arrays: list[np.ndarray], floats: list[float]) -> None:
    kind = type(value)
    if kind is np.ndarray:
        if value.dtype.kind == "f":
            arrays.append(value.ravel())
        return
    if kind is float:
        floats.append(value)
        return
    if kind is dict or isinstance(value, Mapping):
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        if isinstance(value, np.floating):
            floats.append(float(value))
        return
    for item in items:  # the common leaves inline: this loop visits every number's holder
        item_kind = type(item)
        if item_kind is float:
            floats.append(item)
        elif item_kind is np.ndarray:
            if item.dtype.kind == "f":
                arrays.append(item.ravel())
        elif item_kind not in _LEAVES:
            _collect(item, arrays, floats)


# ---------------------------------------------------------------------------------------------
# Reading request bodies.

def parse_body(body: bytes) -> Any:
    """The JSON value of a request body, or an ``ApiError`` (400, or 422 naming the field)."""
    if not body.strip():
        raise ApiError(400, ("body",), "the body is empty; send a JSON object, e.g. {} for "
                                       "every default", "json_invalid")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg or "recursion" in exc.msg:
            raise _too_deep(()) from None
        located = _non_finite_location(body)
        if located is not None:
            loc, token = located
            raise ApiError(422, ("body", *loc), f"{token} is not a JSON number; send a finite "
                                                f"number (NaN and Infinity are not valid JSON)",
                           "finite_number") from None
        raise ApiError(400, ("body",), f"the body is not valid JSON: {exc.msg} at line "
                                       f"{exc.lineno} column {exc.colno}; send a JSON object",
                       "json_invalid") from None
    deep = _deep_location(value)
    if deep is not None:
        raise _too_deep(deep)
    return value


def _too_deep(loc: tuple[str | int, ...]) -> ApiError:
    return ApiError(422, ("body", *loc), f"the JSON nests too deeply here: a request nests at "
                                         f"most {MAX_DEPTH} levels of objects and arrays (its "
                                         f"deepest field, a row of a parameter matrix, is 4 "
                                         f"levels down)", "too_deep")


def _deep_location(value: Any) -> tuple[str | int, ...] | None:
    """The path of an object or array nested deeper than MAX_DEPTH, or None.

    Iterative (a recursive walk is what must not happen), and lists of plain numbers are
    judged by the set of their element types, in C, not element by element.
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) >= MAX_DEPTH:
            return loc
        if type(node) is list:
            if _SCALARS.issuperset(map(type, node)):
                continue
            items: Any = enumerate(node)
        elif type(node) is dict:
            items = node.items()
        else:
            continue
        for key, item in items:
            kind = type(item)
            if kind is list or kind is dict:
                stack.append((item, (*loc, key)))
    return None


class _Constant:
    """A NaN/Infinity token as Python's json module found it (so the error can name it)."""

    def __init__(self, token: str) -> None:
        self.token = token


def _non_finite_location(body: bytes) -> tuple[tuple[str | int, ...], str] | None:
    """Where the first NaN/Infinity (or a number too large for a double) sits, if that is
    what made orjson refuse the body; Python's json module accepts those, so it can find it."""
    try:
        value = json.loads(body, parse_constant=_Constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    deep = _deep_location(value)
    if deep is not None:
        raise _too_deep(deep)  # _first_non_finite recurses: not into this
    return _first_non_finite(value, ())


def _first_non_finite(value: Any, loc: tuple[str | int, ...],
                      ) -> tuple[tuple[str | int, ...], str] | None:
    if isinstance(value, _Constant):
        return loc, value.token
    if isinstance(value, float) and not math.isfinite(value):
        return loc, "a number too large for a double"
    if isinstance(value, dict):
        for key, item in value.items():
            hit = _first_non_finite(item, (*loc, key))
            if hit is not None:
                return hit
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = _first_non_finite(item, (*loc, index))
            if hit is not None:
                return hit
    return None
