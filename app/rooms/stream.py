"""A room's event stream as an ASGI response: what the client missed, then each event as it
comes, a keep-alive comment every BPTT_ROOMS_HEARTBEAT_S, until the room ends, the client
leaves or falls too far behind (``Listener``). The client's place in the room is given back
however the stream ends (a departed client included: its disconnect is watched for, so a
silent room does not keep it for a heartbeat's wait)."""

from __future__ import annotations

import contextlib

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bptt_studio.rooms.hub import HEARTBEAT, RETRY, Hub, Joined, RoomError

HEADERS = {
    "cache-control": "no-store",
    # nginx (and proxies that follow it) pass each event on at once, never buffered
    "x-accel-buffering": "no",
}


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(self, hub: Hub, joined: Joined, heartbeat_s: float) -> None:
        super().__init__(status_code=200, headers=HEADERS, media_type=self.media_type)
        del self.headers["content-length"]
        self.hub = hub
        self.joined = joined
        self.heartbeat_s = heartbeat_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._stream(send)
                group.cancel_scope.cancel()
        except OSError:
            pass  # the client's connection broke while writing
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(RoomError):
                await self.hub.leave(self.joined)

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": RETRY + self.joined.backlog,
                    "more_body": True})
        listener = self.joined.listener
        while True:
            chunk = await listener.next(self.heartbeat_s)
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk or HEARTBEAT,
                        "more_body": True})
            if not chunk:
                with contextlib.suppress(RoomError):
                    await self.hub.heartbeat(self.joined)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
