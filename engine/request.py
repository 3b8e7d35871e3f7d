"""The request: one definition, read by the engine, the API schema and the docs.

Every field is a frozen dataclass field whose ``metadata`` carries its description and bounds;
``app/schemas.py`` builds the pydantic models (and so the OpenAPI document) from these same
classes, so the request is written once. ``parse_request`` validates a plain dict (or a
``TraceRequest``) here, without pydantic, so a notebook gets the same errors as the API.
"""

from __future__ import annotations

import functools
import itertools
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal, Union

import numpy as np

from .errors import RequestError

CellName = Literal["rnn", "lstm", "gru"]
ActivationName = Literal["tanh", "relu", "sigmoid"]
LossName = Literal["cross_entropy", "mse"]
LossAt = Literal["every", "last"]
Reduction = Literal["sum", "mean"]
OptimizerName = Literal["sgd", "momentum", "adagrad", "adam"]
ClipMode = Literal["norm", "value"]

# torch.optim defaults, so any result can be cross-checked with PyTorch.
DEFAULT_EPS = {"adagrad": 1e-10, "adam": 1e-8}


def _meta(description: str, **bounds: Any) -> dict[str, Any]:
    return {"description": description, **bounds}


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


@dataclass(frozen=True)
class PresetData:
    preset: str = field(metadata=_meta("a scenario id from GET /api/v1/presets"))


Data = Union[TextData, WordsData, SeriesData, ArrayData, PresetData]  # noqa: UP007
DATA_CLASSES: tuple[type, ...] = (TextData, WordsData, SeriesData, ArrayData, PresetData)


@dataclass(frozen=True)
class Truncation:
    k1: int = field(metadata=_meta("update every k1 steps", ge=1))
    k2: int | None = field(default=None, metadata=_meta(
        "look back k2 steps (k2 >= k1); null means k2 = k1", ge=1))


@dataclass(frozen=True)
class Optimizer:
    name: OptimizerName = field(default="sgd", metadata=_meta("update rule, as torch.optim"))
    lr: float = field(default=0.1, metadata=_meta("learning rate", gt=0))
    momentum: float = field(default=0.9, metadata=_meta(
        "momentum factor (name = momentum)", ge=0, lt=1))
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999], metadata=_meta(
        "Adam's (beta1, beta2)", min_length=2, max_length=2))
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
    cell: CellName = field(default="rnn", metadata=_meta("the recurrent cell"))
    hidden_size: int = field(default=4, metadata=_meta(
        "H, the size of the hidden state", ge=1, limit="max_hidden_size"))
    activation: ActivationName = field(default="tanh", metadata=_meta(
        "phi of the vanilla RNN (ignored by LSTM and GRU)"))
    data: Data = field(default_factory=lambda: PresetData("machine"), metadata=_meta(
        "the sequence: text, words, series, explicit inputs/targets, or a preset"))
    loss: LossName | None = field(default=None, metadata=_meta(
        "softmax cross-entropy or 1/2 squared error; null = from data"))
    loss_at: LossAt = field(default="every", metadata=_meta(
        "loss at every step (many-to-many) or at the last step only (many-to-one)"))
    reduction: Reduction = field(default="sum", metadata=_meta(
        "sum or mean over the loss steps of a window"))
    truncation: Truncation | None = field(default=None, metadata=_meta(
        "BPTT(k1, k2); null = full epochwise BPTT"))
    optimizer: Optimizer = field(default_factory=Optimizer, metadata=_meta(
        "the update rule applied after each window"))
    clip: Clip | None = field(default=None, metadata=_meta("gradient clipping before the update"))
    seed: int = field(default=0, metadata=_meta(
        "seed of the initial parameters when params is null", ge=0, le=2**63 - 1))
    spectral_radius: float | None = field(default=None, metadata=_meta(
        "rescale the recurrent matrices to this spectral radius", gt=0))
    params: dict[str, list[Any]] | None = field(default=None, metadata=_meta(
        "explicit initial parameters {name: array}, every name of the cell"))
    h0: list[float] | None = field(default=None, metadata=_meta("initial hidden state, H values"))
    c0: list[float] | None = field(default=None, metadata=_meta(
        "initial cell state (LSTM), H values"))
    output_size: int | None = field(default=None, metadata=_meta(
        "K, when it cannot be inferred from the data", ge=1, limit="max_input_size"))
    forget_bias: float | None = field(default=None, metadata=_meta(
        "initial bias of the gate that keeps the old state (LSTM b_f, GRU b_z) instead of "
        "the uniform draw; null = uniform like every other parameter", ge=-20, le=20))
    diagnostics: bool = field(default=True, metadata=_meta(
        "compute the error-flow matrix, Jacobian norms and the truncation comparison (O(T²))"))


# ---------------------------------------------------------------------------------------------
# Validation of plain JSON-like values against the dataclasses above.


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


def _check_bounds(value: Any, meta: Mapping[str, Any], loc: tuple) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "ge" in meta and value < meta["ge"]:
            raise RequestError(loc, f"must be >= {meta['ge']}, got {value}")
        if "gt" in meta and value <= meta["gt"]:
            raise RequestError(loc, f"must be > {meta['gt']}, got {value}")
        if "le" in meta and value > meta["le"]:
            raise RequestError(loc, f"must be <= {meta['le']}, got {value}")
        if "lt" in meta and value >= meta["lt"]:
            raise RequestError(loc, f"must be < {meta['lt']}, got {value}")
    if isinstance(value, str | list):
        if "min_length" in meta and len(value) < meta["min_length"]:
            what = "characters" if isinstance(value, str) else "items"
            raise RequestError(loc, f"needs at least {meta['min_length']} {what}, got {len(value)}")
        if "max_length" in meta and len(value) > meta["max_length"]:
            what = "characters" if isinstance(value, str) else "items"
            raise RequestError(loc, f"takes at most {meta['max_length']} {what}, got {len(value)}")


def _convert(value: Any, tp: Any, loc: tuple) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        if any(is_dataclass(o) for o in options):
            return _convert_data_union(value, [o for o in options if o is not type(None)], loc)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, loc)
            except RequestError as exc:
                errors.append(exc)
        raise RequestError(loc, f"expected {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed or isinstance(value, bool):
            raise RequestError(loc, f"must be one of {', '.join(map(repr, allowed))}; got "
                                    f"{_describe(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise RequestError(loc, f"expected a list, got {_describe(value)}")
        (item_type,) = typing.get_args(tp)
        if item_type is float and _finite_numbers(value):  # fast paths for long data
            return value
        if item_type is int and set(map(type, value)) == {int}:
            return value
        if item_type == list[float] and _finite_number_rows(value):
            return value
        return [_convert(item, item_type, (*loc, i)) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RequestError(loc, f"expected an object, got {_describe(value)}")
        _, value_type = typing.get_args(tp)
        return {str(k): _convert(v, value_type, (*loc, k)) for k, v in value.items()}
    if isinstance(tp, type) and is_dataclass(tp):
        return _convert_dataclass(value, tp, loc)
    if tp is bool:
        if not isinstance(value, bool):
            raise RequestError(loc, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(loc, f"expected an integer, got {_describe(value)}")
        if isinstance(value, float):
            if not value.is_integer():
                raise RequestError(loc, f"expected an integer, got {value}")
            value = int(value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(loc, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise RequestError(loc, f"must be a finite number, got {value}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RequestError(loc, f"expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"unsupported field type {tp!r}")  # a bug in the dataclasses above


_NUMBER_TYPES = {int, float}


def _finite_numbers(values: list[Any]) -> bool:
    """All plain ints/floats (bool excluded) and finite: checked at C speed."""
    return set(map(type, values)) <= _NUMBER_TYPES and bool(np.isfinite(values).all())


def _finite_number_rows(rows: list[Any]) -> bool:
    if not rows or set(map(type, rows)) != {list} or len(set(map(len, rows))) != 1:
        return False  # the slow path names the offending row
    return (set(map(type, itertools.chain.from_iterable(rows))) <= _NUMBER_TYPES
            and bool(np.isfinite(rows).all()))


def _describe(value: Any) -> str:
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


def _convert_data_union(value: Any, options: list[type], loc: tuple) -> Any:
    if not isinstance(value, dict):
        raise RequestError(loc, f"expected an object, got {_describe(value)}")
    if any(isinstance(value, o) for o in options):  # already a dataclass instance
        return value
    keys = set(value)
    for option in options:
        required = {f.name for f in fields(option) if f.default is MISSING
                    and f.default_factory is MISSING}
        if required and required <= keys:
            return _convert_dataclass(value, option, loc)
    shapes = "; ".join("{" + ", ".join(f'"{f.name}"' for f in fields(o)) + "}" for o in options)
    raise RequestError(loc, f"must have one of the shapes {shapes}; got keys {sorted(keys)}")


def _convert_dataclass(value: Any, cls: type, loc: tuple) -> Any:
    if isinstance(value, cls):
        value = {f.name: getattr(value, f.name) for f in fields(cls)}
        value = _plain(value)
    if not isinstance(value, dict):
        raise RequestError(loc, f"expected an object, got {_describe(value)}")
    known = {f.name: f for f in fields(cls)}
    for key in value:
        if key not in known:
            raise RequestError((*loc, key), f"unknown field; accepted fields: {', '.join(known)}")
    hints = _hints(cls)
    kwargs = {}
    for name, spec in known.items():
        if name not in value:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise RequestError((*loc, name), "field required")
            continue
        converted = _convert(value[name], hints[name], (*loc, name))
        if converted is not None:
            _check_bounds(converted, spec.metadata, (*loc, name))
        kwargs[name] = converted
    return cls(**kwargs)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _plain(value: Any) -> Any:
    """Dataclass instances inside a value back to dicts (so they validate like JSON)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        kinds = set(map(type, value))
        if kinds <= _NUMBER_TYPES:
            return value  # plain numbers: nothing to convert (fast path for long data)
        if kinds == {list} and set(map(type, itertools.chain.from_iterable(value))) <= \
                _NUMBER_TYPES:
            return value  # rows of plain numbers
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays given from a notebook
        return value.tolist()
    return value


def to_dict(request: TraceRequest) -> dict[str, Any]:
    """The request as JSON-ready values (the ``config`` of a result)."""
    return _plain(request)


def parse_request(request: TraceRequest | dict[str, Any]) -> TraceRequest:
    """Validate a request (a dict as JSON gives it, or a ``TraceRequest``) and fill defaults.

    Raises ``RequestError`` naming the field. Checks that need the data (shapes of ``params``,
    class ids, lengths) happen when the data is encoded (``engine.data.prepare``).
    """
    from .presets import PRESETS  # presets are requests too; import late to avoid a cycle

    raw = _plain(request)
    if not isinstance(raw, dict):
        raise RequestError((), f"the request must be an object, got {_describe(raw)}")
    data = raw.get("data")
    if isinstance(data, dict) and set(data) == {"preset"} and isinstance(data["preset"], str):
        preset = PRESETS.get(data["preset"])
        if preset is None:
            raise RequestError(("data", "preset"), f"unknown preset {data['preset']!r}; "
                                                   f"accepted: {', '.join(PRESETS)}")
        # The preset's own settings (e.g. loss at the last step) fill what the caller left out.
        raw = {**preset.settings, **raw}
    parsed = _convert_dataclass(raw, TraceRequest, ())
    if parsed.truncation is not None:
        k1, k2 = parsed.truncation.k1, parsed.truncation.k2
        if k2 is None:
            parsed = replace(parsed, truncation=Truncation(k1=k1, k2=k1))
        elif k2 < k1:
            raise RequestError(("truncation", "k2"),
                               f"k2 must be >= k1 (BPTT(k1, k2) looks back at least as far as "
                               f"it steps); got k1 = {k1}, k2 = {k2}")
    if parsed.optimizer.eps is None and parsed.optimizer.name in DEFAULT_EPS:
        parsed = replace(parsed, optimizer=replace(parsed.optimizer,
                                                   eps=DEFAULT_EPS[parsed.optimizer.name]))
    betas = parsed.optimizer.betas
    for i, beta in enumerate(betas):
        if not 0 <= beta < 1:
            raise RequestError(("optimizer", "betas", i), f"must be in [0, 1), got {beta}")
    if parsed.c0 is not None and parsed.cell != "lstm":
        raise RequestError(("c0",), f"only the LSTM has a cell state; remove c0 for "
                                    f"cell {parsed.cell!r}")
    return parsed
