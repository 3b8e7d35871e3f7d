"""The request: one definition, read by the engine, the API schema and the docs.

Every field is a frozen dataclass field whose ``metadata`` carries its description and its
constraints; ``app/endpoints/schemas.py`` builds the pydantic models (and so the OpenAPI document)
from these same classes and ``RULES``, so the request is written once and the OpenAPI document
cannot say less than the engine checks. ``parse_request`` validates a plain dict (or a
``TraceRequest``) here, without pydantic, so a notebook gets the same errors as the API.

The constraints a field's metadata may carry (each checked here, each stated in OpenAPI):

- ``ge``, ``gt``, ``le``, ``lt``: bounds of a number;
- ``min_length``, ``max_length``: bounds of a string's or a list's length;
- ``one_of``: the accepted values of a string (an enum in OpenAPI), a live view of the
  registry they name (the cells, the presets);
- ``items``: constraints on every item of a list (e.g. each beta in [0, 1));
- ``limit``: the name of the server setting that bounds the field (the API adds ``le``).

Rules between fields are ``RULES`` (``OnlyWhen``): stated in OpenAPI as ``if``/``then``,
checked here. What needs the data (parameter shapes, class ids, h0's length) and the one
rule JSON Schema cannot state (k2 >= k1) are checked when the request is planned
(``engine.plan``), which also merges a preset's settings and fills the defaults that depend
on other fields.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from typing import Any, Literal, Union

import numpy as np

from ..cells.registry import CELLS
from .bugs import BUGS
from .errors import RequestError
from .presets import PRESETS

ActivationName = Literal["tanh", "relu", "sigmoid"]
LossName = Literal["cross_entropy", "mse"]
LossAt = Literal["every", "last"]
Reduction = Literal["sum", "mean"]
OptimizerName = Literal["sgd", "momentum", "adagrad", "adam"]
ClipMode = Literal["norm", "value"]
TruncationMode = Literal["fixed", "randomized"]

# torch.optim defaults, so any result can be cross-checked with PyTorch.
DEFAULT_EPS = {"adagrad": 1e-10, "adam": 1e-8}
# numpy's Generator takes any non-negative int; 2^53 - 1 is the largest integer a double, so
# JSON in JavaScript and the OpenAPI document (which writes bounds as doubles), hold exactly.
SEED_MAX = 2**53 - 1


def _meta(description: str, **constraints: Any) -> dict[str, Any]:
    return {"description": description, **constraints}


@dataclass(frozen=True)
class TextData:
    text: str = field(metadata=_meta(
        "character model: vocabulary = sorted distinct characters; inputs text[:-1], "
        "targets text[1:]", min_length=2))


@dataclass(frozen=True)
class WordsData:
    words: str = field(metadata=_meta(
        "word model: the text split on white space; inputs words[:-1], targets words[1:]",
        min_length=1))


@dataclass(frozen=True)
class SeriesData:
    series: list[float] = field(metadata=_meta(
        "regression of the next value; z-scored with the series' mean and std", min_length=2))


@dataclass(frozen=True)
class ArrayData:
    inputs: list[list[float]] = field(metadata=_meta("T×D input vectors", min_length=1))
    targets: list[int] | list[list[float]] = field(metadata=_meta(
        "T class ids (cross_entropy) or T×K values (mse)", min_length=1))


# A mini-batch holds at most this many sequences (the course's n; PyTorch's batch size).
MAX_EXAMPLES = 16


@dataclass(frozen=True)
class BatchData:
    batch: list[Union[TextData, WordsData, SeriesData, ArrayData]] = field(  # noqa: UP007
        metadata=_meta(
            "a mini-batch: n sequences of one length, each any of the single shapes (all of "
            "the same shape); every update's gradient is the sum of the examples' shares "
            "(reduction mean divides by the number of (example, step) loss terms)",
            min_length=1, max_length=MAX_EXAMPLES))


@dataclass(frozen=True)
class PresetData:
    preset: str = field(metadata=_meta("a scenario id from GET /api/v1/presets",
                                       one_of=PRESETS.keys()))


Data = Union[TextData, WordsData, SeriesData, ArrayData, BatchData, PresetData]  # noqa: UP007
# One parameter's array: a matrix (rows of numbers) or a vector, told apart by its first item
# (a row, or a number), so that a bad entry is named where it is: ("params", "W", i, j).
ParamArray = Union[list[list[float]], list[float]]  # noqa: UP007
# A stack's largest depth (PyTorch's num_layers): the course's deep RNNs have two or three.
MAX_LAYERS = 4


@dataclass(frozen=True)
class Truncation:
    k1: int | None = field(default=None, metadata=_meta(
        "update every k1 steps (mode fixed, where it is required)", ge=1))
    k2: int | None = field(default=None, metadata=_meta(
        "look back k2 steps (k2 >= k1); null means k2 = k1", ge=1))
    mode: TruncationMode = field(default="fixed", metadata=_meta(
        "fixed: BPTT(k1, k2); randomized: full BPTT whose error from step t to step t-1 is "
        "weighted by xi_t, 0 with probability 1 - p and 1/p with probability p, drawn from "
        "seed (d2l 9.7): an unbiased estimate of the full gradient"))
    p: float | None = field(default=None, metadata=_meta(
        "randomized: the probability of keeping the error's flow at a step", gt=0, le=1))


@dataclass(frozen=True)
class Optimizer:
    name: OptimizerName = field(default="sgd", metadata=_meta("update rule, as torch.optim"))
    lr: float = field(default=0.1, metadata=_meta("learning rate", gt=0))
    momentum: float = field(default=0.9, metadata=_meta(
        "momentum factor (name = momentum)", ge=0, lt=1))
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999], metadata=_meta(
        "Adam's (beta1, beta2), each in [0, 1)", min_length=2, max_length=2,
        items={"ge": 0, "lt": 1}))
    eps: float | None = field(default=None, metadata=_meta(
        "Adagrad/Adam epsilon; null = torch's default (1e-10 Adagrad, 1e-8 Adam)", gt=0))


@dataclass(frozen=True)
class Clip:
    mode: ClipMode = field(metadata=_meta(
        "norm: scale all gradients by max/(global norm + 1e-6) when that is < 1; "
        "value: clamp every entry to [-max, max]"))
    max: float = field(metadata=_meta("the threshold", gt=0))


@dataclass(frozen=True)
class TraceRequest:
    cell: str = field(default="rnn", metadata=_meta("the recurrent cell",
                                                    one_of=CELLS.keys()))
    hidden_size: int = field(default=4, metadata=_meta(
        "H, the size of the hidden state", ge=1, limit="max_hidden_size"))
    num_layers: int = field(default=1, metadata=_meta(
        "stacked layers, as PyTorch's num_layers: layer j >= 2 reads layer j-1's h(t); the "
        "output layer reads the top one's", ge=1, le=MAX_LAYERS))
    bidirectional: bool = field(default=False, metadata=_meta(
        "each layer also reads the sequence from T back to 1 (a second network, _rev), and the "
        "layer above and the output read both directions' [h; h_rev] (2H values), as PyTorch's "
        "bidirectional=True; it needs the whole sequence: no truncation"))
    activation: ActivationName = field(default="tanh", metadata=_meta(
        "phi of the vanilla RNN (ignored by LSTM and GRU)"))
    data: Data = field(default_factory=lambda: PresetData("machine"), metadata=_meta(
        "the sequence: text, words, series, explicit inputs/targets, or a preset"))
    loss: LossName | None = field(default=None, metadata=_meta(
        "softmax cross-entropy or 1/2 squared error; null = from data"))
    loss_at: LossAt = field(default="every", metadata=_meta(
        "loss at every step (many-to-many) or at the last step only (many-to-one)"))
    reduction: Reduction = field(default="sum", metadata=_meta(
        "sum or mean over the loss steps of a window (of a mini-batch: over its (example, "
        "step) loss terms, as PyTorch's reduction='mean')"))
    truncation: Truncation | None = field(default=None, metadata=_meta(
        "BPTT(k1, k2); null = full epochwise BPTT"))
    optimizer: Optimizer = field(default_factory=Optimizer, metadata=_meta(
        "the update rule applied after each window"))
    clip: Clip | None = field(default=None, metadata=_meta("gradient clipping before the update"))
    seed: int = field(default=0, metadata=_meta(
        "seed of the initial parameters when params is null", ge=0, le=SEED_MAX))
    spectral_radius: float | None = field(default=None, metadata=_meta(
        "rescale the recurrent matrices to this spectral radius", gt=0))
    params: dict[str, ParamArray] | None = field(default=None, metadata=_meta(
        "explicit initial parameters {name: array}, every name of the cell, each entry a "
        "finite number; V's rows set K when output_size is null"))
    h0: ParamArray | None = field(default=None, metadata=_meta(
        "initial hidden state, H values (num_layers × H: one row a layer, when num_layers > 1)"))
    c0: ParamArray | None = field(default=None, metadata=_meta(
        "initial cell state, H values, a row a layer as h0 (LSTM only)"))
    output_size: int | None = field(default=None, metadata=_meta(
        "K, when it cannot be inferred from the data or from params (rows of V)", ge=1,
        limit="max_input_size"))
    forget_bias: float | None = field(default=None, metadata=_meta(
        "initial bias of the gate that keeps the old state (LSTM b_f, GRU b_z) instead of "
        "the uniform draw; null = uniform like every other parameter", ge=-20, le=20))
    diagnostics: bool = field(default=True, metadata=_meta(
        "compute the error-flow and weight-flow matrices, the per-step gradient norms and the "
        "truncation comparison (O(T²) work)"))
    jacobian_norms: bool = field(default=False, metadata=_meta(
        "also compute the exact all-pairs Jacobian norms ||dh(t)/dh(k)|| (O(T²H³) work); "
        "needs diagnostics"))
    bug: str | None = field(default=None, metadata=_meta(
        "plant one mistake of the bug catalogue (GET /api/v1/bugs) in the backward pass: the "
        "forward pass and the loss stay true; null = the true backward pass",
        one_of=BUGS.keys()))
    spectral_radii: bool = field(default=False, metadata=_meta(
        "also compute the spectral radius of every recurrent matrix (W, or each W_*) of the "
        "initial parameters and of the parameters after each update (one H×H eigenvalue "
        "problem per matrix and version, O(H³) each)"))


@dataclass(frozen=True)
class OnlyWhen:
    """A rule between fields: ``field`` may differ from its default only when ``other`` is one
    of ``values``. ``message`` is the refusal ({value} is the other field's value)."""

    field: str
    other: str
    values: tuple[Any, ...]
    message: str


RULES: tuple[OnlyWhen, ...] = (
    OnlyWhen("c0", "cell", tuple(name for name, cell in CELLS.items() if "c" in cell.STATE),
             "only the LSTM has a cell state; remove c0 for cell {value!r}"),
    OnlyWhen("jacobian_norms", "diagnostics", (True,),
             "the Jacobian norms are one of the diagnostics; remove jacobian_norms, or set "
             "diagnostics to true"),
)


# ---------------------------------------------------------------------------------------------
# Validation of plain JSON-like values against the dataclasses above: one small converter per
# kind of type, chosen once per type.

Loc = tuple[str | int, ...]
Converter = Callable[[Any, Any, Loc], Any]


def parse_request(request: TraceRequest | dict[str, Any]) -> TraceRequest:
    """Validate a request (a dict as JSON gives it, or a ``TraceRequest``): every field's
    type and constraints, and ``RULES``. Raises ``RequestError`` naming the field.

    A preset is not merged and no default that depends on other fields is filled here:
    ``engine.plan`` does both, once.
    """
    raw = plain(request)
    if not isinstance(raw, dict):
        raise RequestError((), f"the request must be an object, got {describe(raw)}")
    parsed: TraceRequest = _convert(raw, TraceRequest, ())
    for rule in RULES:
        value = getattr(parsed, rule.field)
        if value != _default(TraceRequest, rule.field) and \
                getattr(parsed, rule.other) not in rule.values:
            raise RequestError((rule.field,), rule.message.format(
                value=getattr(parsed, rule.other)))
    return parsed


def convert_data(raw: Any, loc: Loc = ("data",)) -> Any:
    """One ``data`` value (any of its shapes) validated into its dataclass."""
    return _convert(raw, Data, loc)


def _convert(value: Any, tp: Any, loc: Loc) -> Any:
    return _converter(tp)(value, tp, loc)


@functools.cache
def _converter(tp: Any) -> Converter:
    origin = typing.get_origin(tp)
    if tp is Any:
        return lambda value, tp, loc: value
    if origin in (Union, types.UnionType):
        return _union
    if origin is Literal:
        return _literal
    if origin is list:
        return _list
    if origin is dict:
        return _dict
    if isinstance(tp, type) and is_dataclass(tp):
        return _dataclass
    if tp in _SCALARS:
        return _SCALARS[tp]
    raise TypeError(f"unsupported field type {tp!r}")  # a bug in the dataclasses above


def _union(value: Any, tp: Any, loc: Loc) -> Any:
    options = [o for o in typing.get_args(tp) if o is not type(None)]
    if value is None and len(options) < len(typing.get_args(tp)):
        return None
    if len(options) > 1 and any(is_dataclass(o) for o in options):
        return _data_union(value, options, loc)
    if len(options) > 1 and all(typing.get_origin(o) is list for o in options) and \
            isinstance(value, list):
        return _convert(value, _by_depth(value, options), loc)
    for option in options:
        try:
            return _convert(value, option, loc)
        except RequestError:
            if len(options) == 1:
                raise  # an optional value: its own error says more
    raise RequestError(loc, f"expected {_type_name(tp)}, got {describe(value)}")


def _by_depth(value: list[Any], options: list[Any]) -> Any:
    """Of lists nested to different depths (a matrix or a vector), the one ``value`` is: the
    deepest when its first item is a list, else the shallowest. Its items are then checked
    against that one alone, so an error names the entry, not the whole array."""
    nested = bool(value) and isinstance(value[0], list)
    return sorted(options, key=_list_depth)[-1 if nested else 0]


def _list_depth(tp: Any) -> int:
    return 1 + _list_depth(typing.get_args(tp)[0]) if typing.get_origin(tp) is list else 0


def _literal(value: Any, tp: Any, loc: Loc) -> Any:
    allowed = typing.get_args(tp)
    if value not in allowed or isinstance(value, bool):
        raise RequestError(loc, f"must be one of {', '.join(map(repr, allowed))}; got "
                                f"{describe(value)}")
    return value


def _list(value: Any, tp: Any, loc: Loc) -> Any:
    if not isinstance(value, list):
        raise RequestError(loc, f"expected a list, got {describe(value)}")
    (item_type,) = typing.get_args(tp)
    if _FAST_LISTS.get(item_type, _never)(value):  # long data, checked at C speed
        return value
    return [_convert(item, item_type, (*loc, i)) for i, item in enumerate(value)]


def _dict(value: Any, tp: Any, loc: Loc) -> Any:
    if not isinstance(value, dict):
        raise RequestError(loc, f"expected an object, got {describe(value)}")
    _, value_type = typing.get_args(tp)
    return {str(k): _convert(v, value_type, (*loc, k)) for k, v in value.items()}


def _dataclass(value: Any, cls: Any, loc: Loc) -> Any:
    if isinstance(value, cls):
        value = plain(value)
    if not isinstance(value, dict):
        raise RequestError(loc, f"expected an object, got {describe(value)}")
    known = {f.name: f for f in fields(cls)}
    unknown = next((key for key in value if key not in known), None)
    if unknown is not None:
        raise RequestError((*loc, unknown), f"unknown field; accepted fields: {', '.join(known)}")
    hints = _hints(cls)
    kwargs = {}
    for name, spec in known.items():  # in field order, so the first bad field is named
        if name in value:
            kwargs[name] = _field_value(value[name], hints[name], spec, (*loc, name))
        elif _required(spec):
            raise RequestError((*loc, name), "field required")
    return cls(**kwargs)


def _field_value(value: Any, tp: Any, spec: Field[Any], loc: Loc) -> Any:
    converted = _convert(value, tp, loc)
    if converted is not None:
        check_constraints(converted, spec.metadata, loc)
    return converted


def _data_union(value: Any, options: list[Any], loc: Loc) -> Any:
    """The shapes of ``data``, told apart by their required keys (the first that fits)."""
    if any(isinstance(value, o) for o in options):  # already a dataclass instance
        return value
    if not isinstance(value, dict):
        raise RequestError(loc, f"expected an object, got {describe(value)}")
    keys = set(value)
    for option in options:
        required = {f.name for f in fields(option) if _required(f)}
        if required and required <= keys:
            return _dataclass(value, option, loc)
    shapes = "; ".join("{" + ", ".join(f'"{f.name}"' for f in fields(o)) + "}" for o in options)
    raise RequestError(loc, f"must have one of the shapes {shapes}; got keys {sorted(keys)}")


def _bool(value: Any, tp: Any, loc: Loc) -> bool:
    if not isinstance(value, bool):
        raise RequestError(loc, f"expected true or false, got {describe(value)}")
    return value


def _int(value: Any, tp: Any, loc: Loc) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(loc, f"expected an integer, got {describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise RequestError(loc, f"expected an integer, got {value}")
        value = int(value)
    return value


def _float(value: Any, tp: Any, loc: Loc) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(loc, f"expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise RequestError(loc, f"must be a finite number, got {value}")
    return float(value)


def _str(value: Any, tp: Any, loc: Loc) -> str:
    if not isinstance(value, str):
        raise RequestError(loc, f"expected a string, got {describe(value)}")
    return value


_SCALARS: dict[Any, Converter] = {bool: _bool, int: _int, float: _float, str: _str}


# -- constraints --------------------------------------------------------------------------------

_NUMBER_BOUNDS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"),
                  "le": (operator.le, "<="), "lt": (operator.lt, "<")}
_LENGTH_BOUNDS = {"min_length": (operator.ge, "needs at least"),
                  "max_length": (operator.le, "takes at most")}


def check_constraints(value: Any, meta: Mapping[str, Any], loc: Loc) -> None:
    """The field's own constraints (see the module docstring) on a converted value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, meta, loc)
    if isinstance(value, str | list):
        _check_length(value, meta, loc)
    if "one_of" in meta and value not in meta["one_of"]:
        raise RequestError(loc, f"must be one of {', '.join(map(repr, meta['one_of']))}; got "
                                f"{describe(value)}")
    for i, item in enumerate(value if "items" in meta else ()):
        check_constraints(item, meta["items"], (*loc, i))


def _check_number(value: float, meta: Mapping[str, Any], loc: Loc) -> None:
    for key, (holds, sign) in _NUMBER_BOUNDS.items():
        if key in meta and not holds(value, meta[key]):
            raise RequestError(loc, f"must be {sign} {meta[key]}, got {value}")


def _check_length(value: str | list[Any], meta: Mapping[str, Any], loc: Loc) -> None:
    what = "characters" if isinstance(value, str) else "items"
    for key, (holds, words) in _LENGTH_BOUNDS.items():
        if key in meta and not holds(len(value), meta[key]):
            raise RequestError(loc, f"{words} {meta[key]} {what}, got {len(value)}")


# -- small helpers ------------------------------------------------------------------------------

_NUMBER_TYPES = {int, float}


def _finite_numbers(values: list[Any]) -> bool:
    """All plain ints/floats (bool excluded) and finite: checked at C speed."""
    return set(map(type, values)) <= _NUMBER_TYPES and bool(np.isfinite(values).all())


def _ints(values: list[Any]) -> bool:
    return set(map(type, values)) == {int}


def _finite_number_rows(rows: list[Any]) -> bool:
    if not rows or set(map(type, rows)) != {list} or len(set(map(len, rows))) != 1:
        return False  # the slow path names the offending row
    return (set(map(type, itertools.chain.from_iterable(rows))) <= _NUMBER_TYPES
            and bool(np.isfinite(rows).all()))


def _never(values: list[Any]) -> bool:
    return False


_FAST_LISTS: dict[Any, Callable[[list[Any]], bool]] = {
    float: _finite_numbers, int: _ints, list[float]: _finite_number_rows}


def _required(spec: Field[Any]) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


def _default(cls: type, name: str) -> Any:
    spec = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return spec.default_factory() if spec.default is MISSING else spec.default


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(v) for v in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "object"
    if tp is type(None):
        return "null"
    if is_dataclass(tp):
        return "object with " + ", ".join(f.name for f in fields(tp))
    return getattr(tp, "__name__", str(tp))


def describe(value: Any) -> str:
    """A value as an error message names it: null, true, a list, the string 'abc', 12."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return repr(value)


def plain(value: Any) -> Any:
    """Dataclass instances inside a value back to dicts (so they validate like JSON)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return value if _plain_numbers(value) else [plain(v) for v in value]
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays given from a notebook
        return value.tolist()
    return value


def _plain_numbers(values: list[Any]) -> bool:
    """Plain numbers, or rows of plain numbers: nothing to convert (long data)."""
    kinds = set(map(type, values))
    if kinds <= _NUMBER_TYPES:
        return True
    return kinds == {list} and set(map(type, itertools.chain.from_iterable(values))) <= \
        _NUMBER_TYPES


def to_dict(request: TraceRequest) -> dict[str, Any]:
    """The request as JSON-ready values (the ``config`` of a result)."""
    result: dict[str, Any] = plain(request)
    return result
