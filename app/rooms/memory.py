"""The hub of one process (BPTT_ROOMS_HUB=memory, the default): `make run` needs nothing else.

Rooms live in this worker's memory and its event loop: one worker only (with several workers
or replicas a student's stream may reach a worker that does not know the room: use Redis).
Every method runs to its end without awaiting, so the event loop orders them: a state, its
version and its delivery to every listener happen at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from bptt_studio.core.settings import Settings
from bptt_studio.rooms.hub import (
    CODE_TRIES,
    RETRY_AFTER_S,
    Full,
    Hub,
    Joined,
    Listener,
    backlog_of,
    closed,
    end_frame,
    exhausted,
    new_code,
    new_token,
    no_option,
    no_room,
    room_full,
    rooms_full,
    state_data,
    state_frame,
    tally_frame,
    token_hash,
    too_fast,
    too_many_students,
)


@dataclass
class Window:
    """Messages counted in the current second (a fixed window: at most ``limit`` a second)."""

    second: int = -1
    count: int = 0

    def take(self, limit: int, what: str) -> None:
        now = int(time.monotonic())
        if now != self.second:
            self.second, self.count = now, 0
        if self.count >= limit:
            raise too_fast(limit, what)
        self.count += 1


@dataclass(eq=False)
class Room:
    code: str
    token: str  # its hash
    log: deque[tuple[int, bytes]]
    version: int = 0
    listeners: set[Listener] = field(default_factory=set)
    members: int = 0
    touched: float = field(default_factory=time.monotonic)
    question: str | None = None
    options: int = 0
    revealed: bool = False
    answers: dict[str, int] = field(default_factory=dict)  # student -> last option
    tries: dict[str, int] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    states: Window = field(default_factory=Window)
    answered: Window = field(default_factory=Window)

    def tally(self) -> bytes:
        return tally_frame(self.code, self.question, list(self.counts), self.members)

    def send_tally(self) -> None:
        frame = None
        for listener in self.listeners:
            if listener.teacher:
                frame = frame or self.tally()
                listener.offer_tally(frame)


class MemoryHub(Hub):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rooms: dict[str, Room] = {}
        self.sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeper
        for room in list(self.rooms.values()):
            for listener in room.listeners:
                listener.drop()
        self.rooms.clear()

    async def _sweep(self) -> None:
        """Close the rooms idle for BPTT_ROOMS_IDLE_S; their streams get ``end``."""
        every = min(max(self.settings.rooms_idle_s / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(every)
            for room in [r for r in self.rooms.values() if self._expired(r)]:
                self._close(room, "expired")

    def _expired(self, room: Room) -> bool:
        return time.monotonic() - room.touched > self.settings.rooms_idle_s

    def _close(self, room: Room, reason: str) -> None:
        self.rooms.pop(room.code, None)
        frame = end_frame(room.code, reason)
        for listener in room.listeners:
            listener.end(frame)
        room.listeners.clear()

    def _room(self, code: str) -> Room:
        room = self.rooms.get(code)
        if room is not None and self._expired(room):
            self._close(room, "expired")
            room = None
        if room is None:
            raise no_room(code)
        return room

    async def create(self) -> tuple[str, str]:
        if len(self.rooms) >= self.settings.rooms_max:
            for room in [r for r in self.rooms.values() if self._expired(r)]:
                self._close(room, "expired")
        if len(self.rooms) >= self.settings.rooms_max:
            raise rooms_full(self.settings.rooms_max,
                             _oldest_wait(self.rooms.values(), self.settings))
        for _ in range(CODE_TRIES):
            code = new_code()
            if code not in self.rooms:
                break
        else:  # pragma: no cover - 887 million codes
            raise Full("no free room code; try again", retry_after=RETRY_AFTER_S)
        token = new_token()
        self.rooms[code] = Room(code, token_hash(token), deque(maxlen=self.settings.rooms_log))
        return code, token

    async def set_state(self, room: str, token: str, state: bytes,
                        poll: tuple[str, int, bool] | None) -> int:
        r = self._room(room)
        self.check_token(r.token, token)
        r.states.take(self.settings.rooms_state_per_s, "state changes")
        r.touched = time.monotonic()
        r.version += 1
        frame = state_frame(r.version, state_data(room, r.version, state))
        r.log.append((r.version, frame))
        question, options, revealed = poll if poll else (None, 0, False)
        if (question, options) != (r.question, r.options):  # a new question: a fresh count
            r.answers.clear()
            r.tries.clear()
            r.counts = [0] * options
        r.question, r.options, r.revealed = question, options, revealed
        for listener in r.listeners:
            listener.offer(r.version, frame)
        r.send_tally()
        return r.version

    async def end(self, room: str, token: str) -> None:
        r = self._room(room)
        self.check_token(r.token, token)
        self._close(r, "ended")

    async def answer(self, room: str, question: str, student: str, option: int) -> int:
        r = self._room(room)
        if r.question != question or r.revealed:
            raise closed(question, r.question, r.revealed)
        if option >= r.options:
            raise no_option(question, r.options, option)
        cap = self.settings.rooms_max_answers
        if r.tries.get(student, 0) >= cap:
            raise exhausted(cap)
        if student not in r.answers and len(r.answers) >= self.settings.rooms_max_members:
            raise too_many_students()
        r.answered.take(self.settings.rooms_answers_per_s, "answers")
        r.touched = time.monotonic()
        r.tries[student] = r.tries.get(student, 0) + 1
        previous = r.answers.get(student)
        if previous is not None:
            r.counts[previous] -= 1
        r.answers[student] = option
        r.counts[option] += 1
        r.send_tally()
        return cap - r.tries[student]

    async def join(self, room: str, last: int | None, token: str | None) -> Joined:
        r = self._room(room)
        teacher = token is not None
        if teacher:
            self.check_token(r.token, token)
        elif r.members >= self.settings.rooms_max_members:
            raise room_full(room, self.settings.rooms_max_members)
        listener = Listener(limit=self.settings.rooms_queue, teacher=teacher)
        backlog, listener.sent = backlog_of(list(r.log), last)
        r.listeners.add(listener)
        if teacher:
            r.touched = time.monotonic()
            backlog += r.tally()
        else:
            r.members += 1
            r.send_tally()
        return Joined(room, listener, backlog, None if teacher else room)

    async def leave(self, joined: Joined) -> None:
        r = self.rooms.get(joined.room)
        if r is None or joined.listener not in r.listeners:
            return
        r.listeners.discard(joined.listener)
        if joined.member is not None:
            r.members -= 1
            r.send_tally()

    async def exists(self, room: str) -> None:
        self._room(room)

    async def heartbeat(self, joined: Joined) -> None:
        r = self.rooms.get(joined.room)
        if r is not None and joined.listener.teacher:
            r.touched = time.monotonic()


def _oldest_wait(rooms: Iterable[Room], settings: Settings) -> float:
    """Seconds until the idlest room may expire (the Retry-After of a full server)."""
    touched = [r.touched for r in rooms]
    if not touched:
        return settings.rooms_idle_s
    return max(1.0, settings.rooms_idle_s - (time.monotonic() - min(touched)))
