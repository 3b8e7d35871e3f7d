"""The API's request and response models.

The request is defined once, as the engine's frozen dataclasses (engine/request/fields.py): each
field's type, default, description and constraints live there, and the rules between fields
in ``engine.request.RULES``. ``build_schemas`` walks those dataclasses and generates the
pydantic models (and so the OpenAPI document) from them, so the document states every check
the engine's walker makes (tests/test_api_schema.py holds the two to each other):

- bounds in the field metadata become ``Field`` constraints; ``limit`` names the Settings
  field that bounds it (``hidden_size`` <= ``max_hidden_size``); ``one_of`` (the cells, the
  preset ids) becomes an enum; ``items`` constrains every item of a list (each beta);
- ``RULES`` (c0 only for the LSTM, jacobian_norms only with diagnostics) become ``if``/``then``
  in the request's schema; the engine's walker checks them, naming the field;
- every model forbids unknown fields, so a typo is an error, never a silent default;
- floats are strict (``false`` is not 0.0) and finite; integers take JSON integers (and 12.0)
  but not strings or booleans; booleans are strict;
- ``data`` is a union of the five shapes, told apart by their required keys exactly as
  the engine's walker (engine.request) does.

The only things written here are the API's own: the ``detail`` option and the training
fields; the lengths the server's limits put on the data, the parameters and the initial state
(the engine itself takes any length) are app/serving/limits.py's ``request_bounds``.
Checks that need the data (parameter shapes, class ids, ...) stay in the engine, which the
handlers call and whose ``RequestError`` becomes the same 422 body.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bptt_studio.core.errors import ErrorBody
from bptt_studio.core.settings import Settings
from bptt_studio.engine.request.fields import (
    RULES,
    ArrayData,
    BatchData,
    OnlyWhen,
    PresetData,
    SeriesData,
    TextData,
    TraceRequest,
    WordsData,
)
from bptt_studio.serving.limits import MAX_PARAM_NAME_CHARS, params_max_numbers, request_bounds

Detail = Literal["auto", "full", "norms", "summary"]
# The CSV is one row per number of each event: a summary (no events) is not one of its forms.
CsvDetail = Literal["auto", "full", "norms"]

# Tags of the data shapes, in the order the engine's walker tries them.
DATA_TAGS: dict[type, str] = {
    TextData: "text", WordsData: "words", SeriesData: "series", ArrayData: "arrays",
    BatchData: "batch", PresetData: "preset",
}
# How an error message writes each shape (a batch's items take the first four).
SHAPE_TEXT: dict[type, str] = {
    TextData: '{"text": "..."}', WordsData: '{"words": "..."}',
    SeriesData: '{"series": [numbers]}', ArrayData: '{"inputs": [[numbers]], "targets": [...]}',
    BatchData: '{"batch": [sequences]}', PresetData: '{"preset": "id"}',
}
DATA_SHAPES = ", ".join(SHAPE_TEXT.values())

_NUMERIC_BOUNDS = ("ge", "gt", "le", "lt")
_LENGTH_BOUNDS = ("min_length", "max_length")
_FITTING: dict[Any, tuple[str, ...]] = {  # which constraints a type takes
    int: _NUMERIC_BOUNDS, float: _NUMERIC_BOUNDS, str: _LENGTH_BOUNDS, list: _LENGTH_BOUNDS,
    dict: _LENGTH_BOUNDS}


def _list_depth(tp: Any) -> int:
    return 1 + _list_depth(typing.get_args(tp)[0]) if typing.get_origin(tp) is list else 0


def _type_tag(tp: Any) -> str:
    """A list type's name as pydantic names a union member: list[list[float]]."""
    return f"list[{_type_tag(typing.get_args(tp)[0])}]" if typing.get_origin(tp) is list \
        else tp.__name__


def _numbers(values: list[Any]) -> int:
    """The numbers of a list of numbers or of rows of numbers."""
    return sum(len(row) for row in values) if values and isinstance(values[0], list) \
        else len(values)


def _json_integer(value: Any) -> Any:
    """JSON integers (and integral numbers such as 12.0); never strings or booleans."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return copy.deepcopy(value)


def _default(spec: dataclasses.Field[Any]) -> Any:
    """A dataclass field's default as a pydantic default (``...``: required)."""
    if spec.default is not MISSING:
        return _plain(spec.default)
    if spec.default_factory is not MISSING:
        return _plain(spec.default_factory())
    return ...


def _rule_schema(rule: OnlyWhen) -> dict[str, Any]:
    """``rule.field`` other than its default only when ``rule.other`` is one of the values:
    {"if": field given and not its default, "then": other one of the values}."""
    field_default = _default(TraceRequest.__dataclass_fields__[rule.field])
    other_default = _default(TraceRequest.__dataclass_fields__[rule.other])
    then: dict[str, Any] = {"properties": {rule.other: {"enum": list(rule.values)}}}
    if other_default not in rule.values:  # left out, the other field is its default
        then["required"] = [rule.other]
    # (null as a type: the OpenAPI document drops a "const": null)
    given = {"not": {"type": "null"}} if field_default is None else {
        "not": {"const": field_default}}
    return {"if": {"required": [rule.field], "properties": {rule.field: given}}, "then": then}


_SCALARS: dict[Any, Any] = {
    bool: Annotated[bool, Strict()],
    int: Annotated[int, BeforeValidator(_json_integer)],
    float: Annotated[float, Field(strict=True, allow_inf_nan=False)],
    str: Annotated[str, Strict()],
}


@dataclass
class Schemas:
    """The request models of one set of limits, and what the error messages need."""

    trace_request: type[BaseModel]  # the engine's request (POST /gradcheck)
    trace_body: type[BaseModel]  # + detail (POST /trace)
    train_body: type[BaseModel]  # + iterations, record_every, include_trace, detail
    csv_body: type[BaseModel]  # + detail, without "summary" (POST /export/csv)
    limits: dict[tuple[str, ...], tuple[str, int]]  # path -> (settings field, value)
    tags: dict[str, type[BaseModel]]  # data-shape tag -> its model


class _Builder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models: dict[type, type[BaseModel]] = {}
        self.limits: dict[tuple[str, ...], tuple[str, int]] = {}
        self.tags: dict[str, type[BaseModel]] = {}
        self.api_bounds = request_bounds(settings)

    # -- types ----------------------------------------------------------------------------
    def annotation(self, tp: Any, path: tuple[str, ...]) -> Any:
        """The pydantic annotation of a field type, without the field's own constraints."""
        origin = typing.get_origin(tp)
        if tp is Any or tp is type(None) or origin is Literal:
            return tp
        if tp in _SCALARS:
            return _SCALARS[tp]
        if origin is list:
            return self.constrained(tp, path, {})
        if origin is dict:
            _, value = typing.get_args(tp)
            key = Annotated[str, Strict(), Field(max_length=MAX_PARAM_NAME_CHARS)]
            return dict[key, self.annotation(value, path + ("*",))]  # type: ignore[misc]
        if isinstance(tp, type) and is_dataclass(tp):
            return self.model(tp, path)
        if origin in (Union, types.UnionType):
            return self.union(typing.get_args(tp), path)
        raise TypeError(f"no schema for {tp!r} at {'.'.join(path)}")

    def union(self, args: tuple[Any, ...], path: tuple[str, ...]) -> Any:
        """``data``'s shapes as a tagged union, lists nested to different depths (a
        parameter's matrix or vector) told apart by their first item; any other union
        member by member."""
        options = [a for a in args if a is not type(None)]
        if any(is_dataclass(a) for a in options) and len(options) > 1:
            return self.data_union(options, path)
        if len(options) > 1 and all(typing.get_origin(a) is list for a in options):
            return self.array_union(options, path)
        return Union[tuple(self.annotation(a, path) for a in args)]  # noqa: UP007

    def array_union(self, options: list[Any], path: tuple[str, ...],
                    meta: dict[str, Any] | None = None) -> Any:
        """A matrix or a vector, chosen as the engine's walker chooses (``_by_depth``): by
        the first item, a list or a number. Only the chosen shape validates the items, so a
        bad entry is one error at its place (["params", "W", i, j]), not one per shape.
        The tags are the members' type names, which ``app.core.errors`` drops from a loc as it
        drops pydantic's own union member names."""
        by_depth = sorted(options, key=_list_depth)
        flat, deep = by_depth[0], by_depth[-1]
        deep_tag, flat_tag = _type_tag(deep), _type_tag(flat)

        def tag_of(value: Any) -> str | None:
            if not isinstance(value, list):
                return None
            return deep_tag if value and isinstance(value[0], list) else flat_tag

        return Annotated[
            Union[Annotated[self.constrained(deep, path, meta or {}),  # noqa: UP007
                            Tag(deep_tag)],
                  Annotated[self.constrained(flat, path, meta or {}), Tag(flat_tag)]],
            Discriminator(tag_of, custom_error_type="array_type",
                          custom_error_message="expected an array: a list of numbers (a "
                                               "vector) or a list of rows of numbers (a "
                                               "matrix)"),
        ]

    def constrained(self, tp: Any, path: tuple[str, ...], meta: dict[str, Any]) -> Any:
        """``tp`` with the constraints of the engine's field metadata that fit it (number
        bounds, lengths, ``one_of`` as an enum, ``items`` on each item) and the server's
        lengths at ``path``, pushed into union members."""
        meta = {**meta, **self.api_length(path)}
        origin = typing.get_origin(tp)
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if origin in (Union, types.UnionType) and len(members) > 1 and all(
                typing.get_origin(a) is list for a in members):
            arrays = self.array_union(members, path, meta)  # a list of rows, or of numbers
            return arrays if len(members) == len(typing.get_args(tp)) else arrays | None
        if origin in (Union, types.UnionType) and not any(
                is_dataclass(a) for a in typing.get_args(tp)):
            return Union[tuple(  # noqa: UP007
                a if a is type(None) else self.constrained(a, path, meta)
                for a in typing.get_args(tp))]
        if tp is str and "one_of" in meta:
            return Literal[tuple(meta["one_of"])]  # an enum, as the engine checks
        base: Any
        if origin is list:
            (item,) = typing.get_args(tp)
            item_type = self.constrained(item, path + ("*",), meta.get("items", {}))
            base = list[item_type]  # type: ignore[valid-type]
        else:
            base = self.annotation(tp, path)
        keep = {k: v for k, v in meta.items() if k in _FITTING.get(
            tp if origin is None else origin, ())}
        if tp is int:  # the bounds on the integer itself, then the JSON-integer check around
            return Annotated[int, Field(**keep), BeforeValidator(_json_integer)]
        return Annotated[base, Field(**keep)] if keep else base

    def api_length(self, path: tuple[str, ...]) -> dict[str, int]:
        """The lengths the server's limits put at ``path`` (recorded for the messages)."""
        extra = self.api_bounds.get(path)
        if extra is None:
            return {}
        setting, lengths = extra
        if setting is not None:
            self.limits[path] = (setting, getattr(self.settings, setting))
        return lengths

    # -- models ---------------------------------------------------------------------------
    def model(self, cls: type, path: tuple[str, ...]) -> type[BaseModel]:
        if cls in self.models:
            return self.models[cls]
        definitions: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for spec in fields(cls):
            meta = {k: v for k, v in spec.metadata.items() if k not in ("description", "limit")}
            field_path = path + (spec.name,)
            if "limit" in spec.metadata:
                setting = spec.metadata["limit"]
                meta["le"] = getattr(self.settings, setting)
                self.limits[field_path] = (setting, meta["le"])
            annotation = self.constrained(hints[spec.name], field_path, meta)
            definitions[spec.name] = (annotation, Field(
                _default(spec), description=spec.metadata.get("description")))
        config = ConfigDict(extra="forbid", title=cls.__name__)
        if cls is TraceRequest:  # the rules between fields, as JSON Schema states them
            config["json_schema_extra"] = {"allOf": [_rule_schema(r) for r in RULES]}
        validators = ({"batch_numbers": self.batch_numbers()} if cls is BatchData else
                      {"params_numbers": self.params_numbers()} if cls is TraceRequest else {})
        model = create_model(cls.__name__, __config__=config, __validators__=validators,
                             **definitions)
        self.models[cls] = model
        return model

    def params_numbers(self) -> Any:
        """``params`` holds at most as many numbers as a one-layer network's largest cell at
        these limits (serving.limits.params_max_numbers): its names alone (a 4-layer stack's
        50) would let it hold more, and the worker's memory per request is bounded by this.
        JSON Schema cannot sum over items, so the OpenAPI document states it in words."""
        most = params_max_numbers(self.settings)

        def check(value: Any) -> Any:
            held = sum(sum(len(row) if isinstance(row, list) else 1 for row in array)
                       for array in (value or {}).values())
            if held > most:
                raise PydanticCustomError(
                    "params_too_large",
                    "the parameters hold at most {most} numbers in all (a one-layer network's "
                    "largest at these limits); these hold {held}", {"most": most, "held": held})
            return value

        return field_validator("params", mode="after")(check)

    def batch_numbers(self) -> Any:
        """A mini-batch's explicit inputs and targets hold, all together, no more numbers
        than one sequence's may (BPTT_MAX_SEQ_LEN steps of BPTT_MAX_INPUT_SIZE values, and
        as many targets): the worker's memory per request (serving.limits.
        max_request_numbers) is bounded by one sequence's data, whatever the batch's size.
        JSON Schema cannot sum over items, so the OpenAPI document states it in words."""
        most = 2 * self.settings.max_seq_len * self.settings.max_input_size

        def check(model: Any) -> Any:
            held = sum(_numbers(item.inputs) + _numbers(item.targets)
                       for item in model.batch if hasattr(item, "inputs"))
            if held > most:
                raise PydanticCustomError(
                    "batch_too_large",
                    "a batch's inputs and targets hold at most {most} numbers in all (one "
                    "sequence's: BPTT_MAX_SEQ_LEN steps of BPTT_MAX_INPUT_SIZE values and their "
                    "targets); this one holds {held}: give fewer or shorter sequences, or "
                    "shorter vectors", {"most": most, "held": held})
            return model

        return model_validator(mode="after")(check)

    def data_union(self, options: list[type], path: tuple[str, ...]) -> Any:
        members = []
        for cls in options:
            tag = DATA_TAGS[cls]
            model = self.model(cls, path)
            self.tags[tag] = model
            members.append(Annotated[model, Tag(tag)])
        by_model = {self.models[cls]: DATA_TAGS[cls] for cls in options}
        required = [(DATA_TAGS[cls], {f.name for f in fields(cls) if f.default is MISSING
                                      and f.default_factory is MISSING}) for cls in options]

        def tag_of(value: Any) -> str | None:
            if isinstance(value, BaseModel):
                return by_model.get(type(value))
            if not isinstance(value, dict):
                return None
            keys = set(value)
            for tag, needed in required:  # the first shape whose required keys are present
                if needed and needed <= keys:
                    return tag
            return None

        return Annotated[
            Union[tuple(members)],  # noqa: UP007
            Discriminator(tag_of, custom_error_type="data_shape",
                          custom_error_message="data must have one of the shapes " + ", ".join(
                              SHAPE_TEXT[cls] for cls in options)),
        ]


def build_schemas(settings: Settings) -> Schemas:
    """The request models under the given limits (cached: one set per distinct limits)."""
    return _build_schemas(settings.model_dump_json())


@lru_cache(maxsize=8)
def _build_schemas(settings_json: str) -> Schemas:
    settings = Settings.model_validate_json(settings_json)
    builder = _Builder(settings)
    trace_request = builder.model(TraceRequest, ())
    description = ('"full": every per-step matrix; "norms": the Frobenius norm of each '
                   'instead (contrib, accum, grads, clipped_grads, params); "auto": full '
                   'while the response stays under the server\'s limit '
                   '(BPTT_MAX_RESPONSE_BYTES), else norms')
    detail_field: Any = (Detail, Field("auto", description=description + '; "summary": the '
                                       'numbers of the whole pass without its events (the '
                                       'updates as with norms, the diagnostics whole)'))
    trace_body = create_model(
        "TraceApiRequest", __base__=trace_request, detail=detail_field)
    csv_body = create_model(
        "CsvApiRequest", __base__=trace_request,
        detail=(CsvDetail, Field("auto", description=description)))
    most = settings.max_iterations
    builder.limits[("iterations",)] = ("max_iterations", most)
    train_body = create_model(
        "TrainApiRequest", __base__=trace_request,
        iterations=(Annotated[int, BeforeValidator(_json_integer)], Field(
            min(100, most), ge=1, le=most,
            description="training passes over the sequence (each the request's BPTT "
                        "schedule); the whole request is bounded by its estimated cost too "
                        "(BPTT_MAX_CPU_SECONDS, BPTT_MAX_MEMORY_MB)")),
        record_every=(Annotated[int, BeforeValidator(_json_integer)], Field(
            1, ge=1, le=most, description="record the loss and gradient-norm curves every "
                                          "this many passes (and after the last)")),
        include_trace=(Annotated[bool, Strict()], Field(
            False, description="also return the trace of one more pass from the trained "
                               "parameters")),
        detail=detail_field,
    )
    return Schemas(trace_request=trace_request, trace_body=trace_body, train_body=train_body,
                   csv_body=csv_body, limits=builder.limits, tags=builder.tags)


# ---------------------------------------------------------------------------------------------
# Responses. Numbers may be null where they overflowed (then ``non_finite`` is true).

Number = float | None


class Health(BaseModel):
    status: str
    version: str


class Preset(BaseModel):
    id: str
    title: str
    description: str
    kind: Literal["text", "words", "series", "arrays"] = Field(
        description='the kind of its data: "text" (characters), "words", "series" or "arrays" '
                    "(explicit inputs and targets)")
    request: dict[str, Any] = Field(description="the request that reproduces the scenario")


class Sizes(BaseModel):
    T: int
    D: int
    H: int
    K: int
    n: int | None = Field(None, description="a mini-batch's number of sequences (absent for "
                                            "one sequence)")


class Window(BaseModel):
    first: int
    last: int
    t_update: int


class Scale(BaseModel):
    mean: Number
    std: Number


class TraceResult(BaseModel):
    """The result of CONTRACT.md; events and updates as in docs/trace-format.md."""

    config: dict[str, Any] = Field(description="the request with every default filled in")
    vocab: list[str] | None
    inputs: list[list[Number]] | list[list[list[Number]]] = Field(
        description="T×D; a mini-batch's n×T×D")
    targets: list[int] | list[list[Number]] | list[list[list[Number]]] = Field(
        description="T class ids or T×K values; a mini-batch's n×T or n×T×K")
    scale: Scale | None
    params: dict[str, Any] = Field(description="initial parameters {name: array}, or "
                                               "{name: Frobenius norm} with detail norms")
    events: list[dict[str, Any]] = Field(description="forward, backward and update events")
    updates: list[dict[str, Any]]
    loss: Number
    step_losses: list[Number] | list[list[Number]] = Field(
        description="L(t) of every step; a mini-batch's n×T (unweighted)")
    loss_steps: list[int]
    windows: list[Window]
    diagnostics: dict[str, Any] | None = Field(
        description="error flow, weight flow, step norms; a mini-batch's example 0's")
    xi: list[float] | None = Field(
        None, description="randomized truncation's xi_1..xi_T: the weight of the error flowing "
                          "from step t back to step t-1 (absent otherwise)")
    example_diagnostics: list[dict[str, Any]] | None = Field(
        None, description="a mini-batch's diagnostics, one per example (absent for one "
                          "sequence)")
    non_finite: bool = Field(description="true when a number overflowed; it is sent as null")
    sizes: Sizes
    cell_spec: dict[str, Any] = Field(description="the cell's state, gates and each parameter's "
                                                  "shape and factors (docs/trace-format.md)")
    detail: Literal["full", "norms", "summary"] = Field(
        description="what this response carries")


class TrainResult(BaseModel):
    iterations: list[int] = Field(description="the passes at which the curves were recorded")
    losses: list[Number]
    grad_norms: list[Number] = Field(description="mean gradient norm over a pass's updates")
    final_params: dict[str, Any]
    predictions: list[Any] = Field(description="next token at every step (text, words), "
                                               "next value in the series' units, or outputs; "
                                               "a mini-batch's, one list per example")
    continuation: str | list[str] | None = Field(
        description="text and words: the next 20 tokens the trained network writes after "
                    "the text, each fed back in (greedy); a mini-batch's, one per example; "
                    "else null")
    forecast: list[Number] | list[list[Number]] | None = Field(
        description="series: the next 20 values in the series' units, each predicted value "
                    "fed back as the next input; a mini-batch's, one list per example; else "
                    "null")
    vocab: list[str] | None
    trace: TraceResult | None
    non_finite: bool


class ParamsResult(BaseModel):
    """The initial parameters and state a trace of the same request starts from."""

    params: dict[str, Any] = Field(description="{name: array}: drawn from the seed (with "
                                               "forget_bias) and rescaled to spectral_radius, "
                                               "or the explicit params as checked; always "
                                               "whole, whatever the model's size")
    h0: list[Number] | list[list[Number]] = Field(
        description="the initial hidden state, H values; a stack's num_layers rows of H")
    c0: list[Number] | list[list[Number]] | None = Field(
        None, description="the initial cell state, as h0 (LSTM only; absent for the other "
                          "cells)")
    cell_spec: dict[str, Any] = Field(description="the cell's state, gates and each "
                                                  "parameter's shape and factors, as /trace's")
    sizes: Sizes
    non_finite: bool = Field(description="true when a number overflowed (a huge "
                                         "spectral_radius); it is sent as null")


class GradcheckResult(BaseModel):
    max_rel_error: dict[str, Number] = Field(
        description="per parameter, over every window: max |analytic - numeric| / "
                    "max(max |analytic|, max |numeric|, 1e-4), numeric by central "
                    "differences")
    ok: bool
    tolerance: float
    eps: float
    windows: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not JSON"},
    413: {"model": ErrorBody, "description": "the body, or the full-detail response, is "
                                             "over the server's limit"},
    422: {"model": ErrorBody, "description": "the request is not valid; loc names the field"},
}
