"""The classroom's routes under /api/v1/rooms: thin, the hub does the work.

The router carries its own lifespan (FastAPI merges it into the app's): the hub starts with
the server (the in-process hub's sweeper of idle rooms; the Redis hub's connections) and
closes with it.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations.

import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request
from starlette.responses import Response

from bptt_studio.core import jsonio
from bptt_studio.core.errors import ApiError, ErrorBody
from bptt_studio.core.settings import Settings
from bptt_studio.rooms.hub import Hub, NoRoom, RoomError, normal_code
from bptt_studio.rooms.models import (
    Answer,
    AnswerAccepted,
    RoomCreated,
    RoomState,
    StateAccepted,
)
from bptt_studio.rooms.qr import page_problem, qr_svg, room_link
from bptt_studio.rooms.stream import EventStream
from bptt_studio.serving.body import JSONBodyRoute

PREFIX = "/api/v1/rooms"
T = TypeVar("T")


def refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {
    404: refusal("no such room: it never was, expired (BPTT_ROOMS_IDLE_S) or ended")}
TOKEN: Responses = {
    401: refusal("no teacher's token: send Authorization: Bearer <teacher_token>"),
    403: refusal("not this room's teacher's token")}
BODY: Responses = {
    400: refusal("the body is not JSON"),
    413: refusal("the body is over BPTT_ROOMS_MAX_MESSAGE_BYTES"),
    422: refusal("the body is not a valid state or answer")}
BUSY: Responses = {
    429: refusal("a bound of the rooms (BPTT_ROOMS_*) is reached; Retry-After says when to "
                 "try again"),
    503: refusal("the rooms' store (Redis) does not answer; Retry-After says when to try "
                 "again")}


def make_hub(settings: Settings) -> Hub:
    if settings.rooms_hub == "redis":
        from bptt_studio.rooms.redis_hub import RedisHub

        return RedisHub(settings)
    from bptt_studio.rooms.memory import MemoryHub

    workers = os.environ.get("WEB_CONCURRENCY", "1").strip()
    if workers.isdigit() and int(workers) > 1:
        # each worker would keep rooms of its own: a student's stream could reach a worker
        # that does not know the teacher's room
        logging.getLogger("bptt_studio.rooms").warning(
            "classrooms: %s workers share no rooms with BPTT_ROOMS_HUB=memory; set "
            "BPTT_ROOMS_HUB=redis and BPTT_ROOMS_REDIS_URL", os.environ["WEB_CONCURRENCY"])
    return MemoryHub(settings)


def sized_route(max_bytes: int) -> type[JSONBodyRoute]:
    """A JSON route that answers 413 for a body over ``max_bytes``, before parsing it."""

    class RoomBodyRoute(JSONBodyRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            if self.body_field is None:
                return handler

            async def sized(request: Request) -> Response:
                body = await request.body()
                if len(body) > max_bytes:
                    raise ApiError(413, ("body",), f"a room's message is at most {max_bytes} "
                                                   f"bytes (BPTT_ROOMS_MAX_MESSAGE_BYTES); got "
                                                   f"{len(body)}", "room_message_too_large")
                return await handler(request)

            return sized

    return RoomBodyRoute


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None without one)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def code_of(room: str) -> str:
    code = normal_code(room)
    if code is None:
        raise ApiError(404, ("path", "room"), f"{room[:16]!r} is not a room code (6 letters "
                                              f"and digits)", NoRoom.type)
    return code


async def refused(call: Coroutine[Any, Any, T]) -> T:
    """The hub's answer, or its refusal as the API's error (with Retry-After when it has one)."""
    try:
        return await call
    except RoomError as exc:
        headers = ({"Retry-After": str(max(1, round(exc.retry_after)))}
                   if exc.retry_after is not None else None)
        raise ApiError(exc.status, (), exc.msg, exc.type, headers) from None


def last_event_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def build_router(settings: Settings, hub: Hub | None = None) -> APIRouter:
    hub = hub or make_hub(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.close()

    router = APIRouter(prefix=PREFIX, tags=["rooms"], lifespan=lifespan,
                       route_class=sized_route(settings.rooms_max_message_bytes))

    @router.post("", status_code=201, response_model=RoomCreated, responses={**BUSY},
                 summary="Open a room: its code and the teacher's token (shown only here)")
    async def create() -> Response:
        room, token = await refused(hub.create())
        created = RoomCreated(room=room, teacher_token=token, link=f"/?room={room}",
                              expires_in_s=settings.rooms_idle_s)
        return jsonio.response(created.model_dump(), 201, {"Cache-Control": "no-store"})

    @router.put("/{room}/state", response_model=StateAccepted,
                responses={**NOT_FOUND, **TOKEN, **BODY, **BUSY},
                summary="The teacher's view, sent to every page of the room")
    async def put_state(room: str, state: RoomState,
                        authorization: str | None = Header(None)) -> Response:
        code = code_of(room)
        poll = state.poll
        data = orjson.dumps(state.model_dump(mode="json"))
        version = await refused(hub.set_state(
            code, bearer(authorization) or "", data,
            (poll.question, poll.options, poll.revealed) if poll else None))
        return jsonio.response(StateAccepted(room=code, version=version).model_dump())

    @router.post("/{room}/answers", response_model=AnswerAccepted,
                 responses={**NOT_FOUND, **BODY, **BUSY,
                            409: refusal("the question is not open, or this student has sent "
                                         "BPTT_ROOMS_MAX_ANSWERS answers to it")},
                 summary="A student's answer to the open question (the last one counts)")
    async def answer(room: str, body: Answer) -> Response:
        code = code_of(room)
        left = await refused(hub.answer(code, body.question, body.student, body.option))
        return jsonio.response(AnswerAccepted(room=code, question=body.question,
                                              option=body.option, answers_left=left).model_dump())

    # (errors are JSON: the default response class documents them so; the 200 is the stream)
    @router.get("/{room}/events", status_code=200,
                responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                                 "description": "server-sent events: state, tally, end"},
                           **NOT_FOUND, **TOKEN, **BUSY},
                summary="The room's events, live (server-sent events); with the teacher's "
                        "token also the answers' tally")
    async def events(room: str, authorization: str | None = Header(None),
                     last_event_id_header: str | None = Header(None, alias="last-event-id"),
                     ) -> Response:
        code = code_of(room)
        token = bearer(authorization)
        if authorization is not None and token is None:
            raise ApiError(401, ("header", "authorization"), "send the teacher's token as "
                                                             "Authorization: Bearer <token>",
                           "room_token_missing")
        joined = await refused(hub.join(code, last_event_id(last_event_id_header), token))
        return EventStream(hub, joined, settings.rooms_heartbeat_s)

    @router.delete("/{room}", status_code=204, responses={**NOT_FOUND, **TOKEN, **BUSY},
                   summary="End the class: every page of the room is told, and the room closes")
    async def end(room: str, authorization: str | None = Header(None)) -> Response:
        await refused(hub.end(code_of(room), bearer(authorization) or ""))
        return Response(status_code=204)

    @router.get("/{room}/qr.svg",
                responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}},
                                 "description": "the QR code of <page>?room=<code>"},
                           **NOT_FOUND, 422: refusal("page is not an http(s) address without "
                                                     "query")},
                summary="The QR code of the room's link, for the projector")
    async def qr(room: str, page: str = Query(max_length=512, description=(
            "the studio page's address, as the teacher's browser shows it, without query"))
            ) -> Response:
        code = code_of(room)
        problem = page_problem(page)
        if problem:
            raise ApiError(422, ("query", "page"), problem, "value_error")
        await refused(hub.exists(code))
        link = room_link(page, code)
        return Response(qr_svg(link, f"{link}"), media_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=3600"})

    return router
