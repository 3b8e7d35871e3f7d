"""Every error the API returns has one shape, FastAPI's own:

    {"detail": [{"loc": ["body", "truncation", "k2"], "msg": "...", "type": "..."}]}

``loc`` names the field inside the request, ``msg`` says what was given and what would be
accepted. Pydantic's validation errors, the engine's ``RequestError``, bodies that are not
JSON (400) and bodies or responses over a limit (413) all come out this way, from the API and
from the CLI alike.
"""

from __future__ import annotations

import logging
import types
import typing
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("bptt_studio.core.errors")

Loc = tuple[str | int, ...]


class ApiError(Exception):
    """An error with its HTTP status: 400 (not JSON), 413 (too large), 422 (invalid), 500
    (a fault of ours), 503 (busy; with Retry-After), 504 (past the deadline)."""

    def __init__(self, status_code: int, loc: Loc, msg: str, type_: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status_code = status_code
        self.loc = loc
        self.msg = msg
        self.type = type_
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body([{"loc": list(self.loc), "msg": self.msg, "type": self.type}])


def error_body(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"detail": list(errors)}


INTERNAL_ERROR = {"loc": [], "msg": "the server failed to answer this request; its log has the "
                                    "details", "type": "internal_error"}


class InternalErrorMiddleware:
    """Pure ASGI, just inside the security headers: an exception nothing else handled becomes
    a JSON 500 in the API's shape, with the security headers, and its traceback goes to the
    log, never to the client. (Starlette's own last-resort handler sits outside every
    middleware, so its plain-text 500 would miss the security headers.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error for %s %s", scope.get("method"),
                             scope.get("path"))
            if started:
                raise  # half a response went out: the server can only close the connection
            body = orjson.dumps(error_body([INTERNAL_ERROR]))
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]})
            await send({"type": "http.response.body", "body": body})


# The shape, for the OpenAPI document.


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='where: ["body", field, ...]')
    msg: str = Field(description="what was wrong and what would be accepted")
    type: str
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    detail: list[ErrorItem]


def engine_error(loc: Sequence[str | int], msg: str) -> dict[str, Any]:
    """An ``engine.RequestError`` as one error entry (its loc is inside the request body)."""
    return {"loc": ["body", *loc], "msg": msg, "type": "value_error"}


# ---------------------------------------------------------------------------------------------
# Pydantic's errors, made to name the request's own fields and say what would be accepted.

_PRIMITIVES = (str, int, float, bool)


def validation_errors(errors: Sequence[Any], root: type[BaseModel] | None = None,
                      limits: dict[tuple[str, ...], tuple[str, int]] | None = None,
                      tags: dict[str, type[BaseModel]] | None = None) -> list[dict[str, Any]]:
    """Pydantic error dicts as the API returns them: no echo of the input, clean locs.

    ``limits`` maps a field path to the server limit that bounds it; ``tags`` are the loc
    entries pydantic adds for the data shapes (tag -> model): they are dropped, with the
    union members' type names, so the loc is the path a client wrote.
    """
    tags = tags or {}
    out = []
    for error in errors:
        raw_loc = list(error.get("loc", ()))
        loc = [part for i, part in enumerate(raw_loc)
               if not (isinstance(part, str) and ("[" in part or (
                   part in tags and i > 0 and raw_loc[i - 1] == "data")))]
        msg = str(error.get("msg", "invalid value"))
        kind = str(error.get("type", "value_error"))
        fields_path = tuple(p if isinstance(p, str) else "*" for p in loc[1:])
        if kind == "extra_forbidden" and root is not None:
            accepted = _accepted_fields(root, raw_loc[1:-1], tags)
            msg = f"unknown field {loc[-1]!r}"
            if accepted:
                msg += f"; accepted fields here: {', '.join(accepted)}"
        elif kind == "data_shape" and isinstance(error.get("input"), dict):
            msg += f"; got the keys {sorted(map(str, error['input']))}"
        elif limits and kind in {"less_than_equal", "too_long", "string_too_long"} and (
                bound := _limit_at(fields_path, limits)) is not None:
            setting, value = bound
            msg += (f" (the server's limit {setting} = {value}; environment variable "
                    f"BPTT_{setting.upper()})")
        entry: dict[str, Any] = {"loc": loc, "msg": msg, "type": kind}
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            clean = {k: v for k, v in ctx.items() if isinstance(v, _PRIMITIVES)}
            if clean:
                entry["ctx"] = clean
        out.append(entry)
    return out


def _limit_at(path: tuple[str, ...], limits: dict[tuple[str, ...], tuple[str, int]]
              ) -> tuple[str, int] | None:
    """The server limit bounding ``path``; in the limits' paths ``*`` is any item of a list or
    any key of a mapping (a parameter's name: ("params", "*") bounds params.V)."""
    if path in limits:
        return limits[path]
    for pattern, bound in limits.items():
        if len(pattern) == len(path) and all(
                want in ("*", part) for want, part in zip(pattern, path, strict=True)):
            return bound
    return None


def _unwrap_models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, unions, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap_models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap_models(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _accepted_fields(root: type[BaseModel], path: Sequence[str | int],
                    tags: dict[str, type[BaseModel]]) -> list[str]:
    """Field names of the model at ``path`` inside ``root`` (the parent of an unknown key)."""
    candidates = [root]
    for part in path:
        if not isinstance(part, str):
            continue
        if part in tags:
            candidates = [tags[part]]
            continue
        following: list[type[BaseModel]] = []
        for model in candidates:
            field = model.model_fields.get(part)
            if field is not None:
                following += _unwrap_models(field.annotation)
        if not following:
            break
        candidates = following
    names: list[str] = []
    for model in candidates:
        names += [n for n in model.model_fields if n not in names]
    return names
