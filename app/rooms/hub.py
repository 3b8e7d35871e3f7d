"""What a hub does, and what both hubs share.

A hub keeps the rooms: their teacher's token (its hash), their state's numbered versions (the
last ``BPTT_ROOMS_LOG`` of them, so a page that reconnects receives each one it missed), the
open question's answers, the students following, and the clients listening. ``MemoryHub``
(app/rooms/memory.py) keeps them in this process; ``RedisHub`` (app/rooms/redis_hub.py) in
Redis, so that any worker of any replica serves any room. Both give the same answers to the
same calls (tests/test_rooms_hub.py runs every test against both).

Events are written once, as the bytes of the event stream, and shared by every client: a step
of the teacher costs one serialisation whatever the class's size. Each client has its own
bounded queue (``Listener``): a client that does not read fills only its own queue, and is
then dropped (its page reconnects and catches up from the log), so it never holds the room up.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

import orjson

# Room codes: what a student reads off a projector and types on a phone. No 0/O, 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6  # 31^6: about 887 million codes
# How many free codes to try before giving up (a collision is rare below millions of rooms).
CODE_TRIES = 16
RETRY_AFTER_S = 1  # a refusal by rate is over within the second


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: str) -> str | None:
    """The room code a student typed (any case), or None if it cannot be one."""
    code = text.strip().upper()
    if len(code) == CODE_LENGTH and all(c in ALPHABET for c in code):
        return code
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What a hub keeps of a teacher's token: a leaked store does not give it away."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---- refusals ----------------------------------------------------------------------------------

class RoomError(Exception):
    """A refusal of the hub, with its HTTP status (the routes turn it into the API's error)."""

    status = 400
    type = "room_error"

    def __init__(self, msg: str, retry_after: float | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.retry_after = retry_after


class NoRoom(RoomError):
    status, type = 404, "room_not_found"


class Unauthorized(RoomError):
    status, type = 401, "room_token_missing"


class Forbidden(RoomError):
    status, type = 403, "room_token_wrong"


class Full(RoomError):
    """Too many rooms, members or messages right now: 429 with Retry-After."""

    status, type = 429, "room_limit"


class Closed(RoomError):
    """The question is not open (another one is, none is, or it was revealed)."""

    status, type = 409, "question_closed"


class Exhausted(RoomError):
    """This student has used every answer to this question."""

    status, type = 409, "answers_exhausted"


class HubDown(RoomError):
    """The hub's store (Redis) does not answer: 503 with Retry-After."""

    status, type = 503, "rooms_unavailable"


def missing_token() -> Unauthorized:
    return Unauthorized("only the room's teacher may change it: send the header "
                        "Authorization: Bearer <teacher_token>")


def wrong_token() -> Forbidden:
    return Forbidden("this is not the teacher's token of this room")


def no_room(room: str) -> NoRoom:
    return NoRoom(f"there is no room {room} (it may have expired or ended)")


def rooms_full(most: int, wait_s: float) -> Full:
    return Full(f"the server holds {most} rooms already (BPTT_ROOMS_MAX); one closes when it "
                f"has been idle", retry_after=max(1.0, wait_s))


def room_full(room: str, most: int) -> Full:
    return Full(f"room {room} is full: {most} students follow it (BPTT_ROOMS_MAX_MEMBERS)",
                retry_after=10)


def too_fast(most: int, what: str) -> Full:
    return Full(f"this room takes at most {most} {what} a second; try again in a second",
                retry_after=RETRY_AFTER_S)


def too_many_students() -> Full:
    return Full("this question has an answer from as many students as a room may hold "
                "(BPTT_ROOMS_MAX_MEMBERS)", retry_after=RETRY_AFTER_S)


def exhausted(most: int) -> Exhausted:
    return Exhausted(f"each student may answer a question {most} times "
                     f"(BPTT_ROOMS_MAX_ANSWERS); the last answer counts")


def closed(question: str, open_question: str | None, revealed: bool) -> Closed:
    if not open_question:
        return Closed(f"no question is open in this room (answered: {question})")
    if open_question != question:
        return Closed(f"question {question} is closed; the open one is {open_question}")
    return Closed(f"question {question} has been revealed: answers are closed")


def no_option(question: str, options: int, option: int) -> Closed:
    return Closed(f"question {question} has options 0 to {options - 1}; got {option}")


# ---- events as bytes -------------------------------------------------------------------------

def state_data(room: str, version: int, state: bytes) -> bytes:
    """The JSON of a ``state`` event (``state`` is the state's JSON, already checked)."""
    return b'{"room":"%s","version":%d,"state":%s}' % (room.encode(), version, state)


def state_frame(version: int, data: bytes) -> bytes:
    return b"id: %d\nevent: state\ndata: %s\n\n" % (version, data)


def tally_frame(room: str, question: str | None, counts: list[int], members: int) -> bytes:
    data = orjson.dumps({"room": room, "question": question, "counts": counts,
                         "answered": sum(counts), "members": members})
    return b"event: tally\ndata: %s\n\n" % data


def end_frame(room: str, reason: str) -> bytes:
    return b"event: end\ndata: %s\n\n" % orjson.dumps({"room": room, "reason": reason})


HEARTBEAT = b": keep-alive\n\n"
# The event stream's first bytes: a page that loses the stream tries again after a second.
RETRY = b"retry: 1000\n\n"


# ---- one client's queue ----------------------------------------------------------------------

@dataclass(eq=False)
class Listener:
    """One client of a room's event stream: its own bounded queue of events.

    ``offer`` never waits: past ``limit`` waiting events the listener is marked ``dropped``
    and its stream ends (the page reconnects with its last event's id and receives what it
    missed from the room's log). A teacher's listener also gets the room's tally; only the
    latest tally waits, never a queue of them.
    """

    limit: int
    teacher: bool
    sent: int = 0  # the last state version queued: a version is sent once, in order
    pending: deque[bytes] = field(default_factory=deque)
    tally: bytes | None = None
    dropped: bool = False
    ended: bytes | None = None  # the end event, once the room is closed
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # While joining (a hub whose log is read after it subscribes: Redis), the events that come
    # meanwhile wait here; ``release`` then keeps those the backlog does not already hold.
    early: list[tuple[int, bytes]] | None = None

    def release(self, sent: int) -> None:
        early, self.early = self.early or [], None
        self.sent = sent
        for version, frame in early:
            self.offer(version, frame)

    def offer(self, version: int, frame: bytes) -> None:
        if self.early is not None:
            self.early.append((version, frame))
            return
        if version <= self.sent or self.dropped:
            return
        if len(self.pending) >= self.limit:
            self.dropped = True
            self.pending.clear()
        else:
            self.pending.append(frame)
            self.sent = version
        self.wake.set()

    def offer_tally(self, frame: bytes) -> None:
        if self.teacher:
            self.tally = frame
            self.wake.set()

    def end(self, frame: bytes) -> None:
        self.ended = frame
        self.wake.set()

    def drop(self) -> None:
        """Close this stream without an end event: the page reconnects."""
        self.dropped = True
        self.wake.set()

    async def next(self, timeout: float) -> bytes | None:
        """What to send next (every event waiting, in one write); b"" when ``timeout`` passed
        with nothing to send; None when the stream must close (after sending what is left)."""
        if not (self.pending or self.tally or self.dropped or self.ended):
            self.wake.clear()
            try:  # (asyncio.timeout, not wait_for: no task made per event, for 300 clients)
                async with asyncio.timeout(timeout):
                    await self.wake.wait()
            except TimeoutError:
                return b""
        if self.dropped:
            return None
        out = b"".join(self.pending)
        self.pending.clear()
        if self.tally is not None:
            out += self.tally
            self.tally = None
        if self.ended is not None:  # the room's last words, then the stream closes
            out += self.ended
            self.ended = None
            self.dropped = True
        return out


@dataclass
class Joined:
    """A client admitted to a room: what it missed (sent at once), then its listener."""

    room: str
    listener: Listener
    backlog: bytes
    member: str | None  # a student's membership, left when the stream ends


# ---- the hub ---------------------------------------------------------------------------------

class Hub(ABC):
    """Rooms, by code. Every method may raise a ``RoomError``."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def create(self) -> tuple[str, str]:
        """A new room: (code, teacher's token). ``Full`` past BPTT_ROOMS_MAX rooms."""

    @abstractmethod
    async def set_state(self, room: str, token: str, state: bytes, poll: tuple[str, int, bool]
                        | None) -> int:
        """The teacher's new state (its JSON): its version. ``poll``: the open question
        (id, options, revealed), whose answers a new question starts afresh."""

    @abstractmethod
    async def end(self, room: str, token: str) -> None:
        """The teacher ends the class: every stream gets ``end`` and closes."""

    @abstractmethod
    async def answer(self, room: str, question: str, student: str, option: int) -> int:
        """A student's answer to the open question: how many more it may send."""

    @abstractmethod
    async def join(self, room: str, last: int | None, token: str | None) -> Joined:
        """Admit a client to the room's events. ``last``: the version it has (Last-Event-ID);
        it receives every later one the log still holds, else the current state. A valid
        ``token`` makes it the teacher's stream (the tally, not counted as a student)."""

    @abstractmethod
    async def leave(self, joined: Joined) -> None: ...

    @abstractmethod
    async def exists(self, room: str) -> None:
        """``NoRoom`` unless the room is open."""

    @abstractmethod
    async def heartbeat(self, joined: Joined) -> None:
        """A stream's keep-alive: a teacher's page keeps its room open."""

    def check_token(self, stored: str, token: str | None) -> None:
        if not token:
            raise missing_token()
        if not same_hash(stored, token_hash(token)):
            raise wrong_token()


def backlog_of(log: list[tuple[int, bytes]], last: int | None) -> tuple[bytes, int]:
    """What a client that has version ``last`` (None: nothing) must receive first, and the
    version it then has: every later version the log holds, or only the newest one when the
    log no longer reaches back to ``last`` (or the client has nothing)."""
    if not log:
        return b"", last or 0
    newest = log[-1][0]
    if last == newest:
        return b"", newest  # nothing missed
    if last is not None and log[0][0] - 1 <= last < newest:
        return b"".join(frame for version, frame in log if version > last), newest
    return log[-1][1], newest
