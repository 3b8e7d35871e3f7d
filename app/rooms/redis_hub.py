"""The hub of several workers or replicas (BPTT_ROOMS_HUB=redis): rooms live in Redis.

One Redis server (a primary; not Redis Cluster: a room's keys are named inside its scripts).
A room ``C`` is the hash ``bptt:room:C`` (the token's hash, the version, the open question)
with ``:log`` (the last BPTT_ROOMS_LOG events, as their bytes), ``:answers``, ``:tries`` and
``:counts`` (the open question's), ``:members`` (the students' streams, each until a time its
heartbeats push on), all expiring together after BPTT_ROOMS_IDLE_S without a touch; and
``bptt:rooms`` counts the rooms open. Every change is one Lua script, so a state, its version,
its place in the log and its publication on the room's channel ``bptt:room:C`` happen at once
and in order, whichever replica sends them.

Each worker holds one pub/sub connection, subscribed to the rooms its own clients follow, and
hands each message to their queues (hub.Listener): a room costs Redis one message per change
per worker, not per student. A client joins in three moves that lose nothing: it subscribes,
then reads the log (the events published meanwhile wait in the listener), then keeps what the
log did not hold. When Redis goes away, every stream of this worker closes (the pages reconnect
and catch up from the log, once Redis is back) and the routes answer 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bptt_studio.core.settings import Settings
from bptt_studio.rooms.hub import (
    CODE_TRIES,
    Full,
    Hub,
    HubDown,
    Joined,
    Listener,
    RoomError,
    backlog_of,
    closed,
    end_frame,
    exhausted,
    missing_token,
    new_code,
    new_token,
    no_option,
    no_room,
    room_full,
    rooms_full,
    token_hash,
    too_fast,
    too_many_students,
    wrong_token,
)

logger = logging.getLogger("bptt_studio.rooms")
T = TypeVar("T")
ROOMS = "bptt:rooms"
HUB_CHANNEL = "bptt:hub"  # always subscribed: the pub/sub connection exists from the start
WAIT_S = 5.0  # the longest wait for Redis in a request; then 503
RETRY_S = 5  # the Retry-After of a 503 while Redis is away

# Shared by the scripts: the time (Redis's own, the same for every replica), a room's touch
# (its keys' expiry pushed on, its place in the count of rooms) and its tally, written as the
# same JSON as hub.tally_frame.
LUA = r"""
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function touch(p, code, idle, at)
  for _, k in ipairs({p, p .. ':log', p .. ':answers', p .. ':tries', p .. ':counts',
                      p .. ':members'}) do
    redis.call('EXPIRE', k, idle)
  end
  redis.call('ZADD', 'bptt:rooms', at + idle, code)
end
local function tally(p, code, at)
  local q = redis.call('HGET', p, 'question')
  local n = tonumber(redis.call('HGET', p, 'options') or '0')
  local counts, answered = {}, 0
  for i = 0, n - 1 do
    local c = tonumber(redis.call('HGET', p .. ':counts', tostring(i)) or '0')
    counts[#counts + 1] = tostring(c)
    answered = answered + c
  end
  local members = redis.call('ZCOUNT', p .. ':members', at, '+inf')
  local question = 'null'
  if q and q ~= '' then question = '"' .. q .. '"' end
  return 'event: tally\ndata: {"room":"' .. code .. '","question":' .. question ..
    ',"counts":[' .. table.concat(counts, ',') .. '],"answered":' .. answered ..
    ',"members":' .. members .. '}\n\n'
end
local function rate(p, kind, at, most)
  local key = p .. ':rate:' .. kind .. ':' .. math.floor(at)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, 2) end
  return n <= most
end
"""

# KEYS: room; ARGV: code, token hash, most rooms, idle s
CREATE = LUA + r"""
local p, at = KEYS[1], now()
redis.call('ZREMRANGEBYSCORE', 'bptt:rooms', '-inf', at)
if redis.call('EXISTS', p) == 1 then return {'taken'} end
if redis.call('ZCARD', 'bptt:rooms') >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', 'bptt:rooms', 0, 0, 'WITHSCORES')
  return {'full', tostring(tonumber(first[2]) - at)}
end
redis.call('HSET', p, 'token', ARGV[2], 'version', 0, 'question', '', 'options', 0,
           'revealed', 0)
touch(p, ARGV[1], tonumber(ARGV[4]), at)
return {'ok'}
"""

# KEYS: room; ARGV: code, token hash, data head, data tail, question, options, revealed,
# log length, idle s, states a second
SET_STATE = LUA + r"""
local p = KEYS[1]
local token = redis.call('HGET', p, 'token')
if not token then return {'none'} end
if token ~= ARGV[2] then return {'forbidden'} end
local at = now()
if not rate(p, 's', at, tonumber(ARGV[10])) then return {'fast'} end
local v = redis.call('HINCRBY', p, 'version', 1)
local frame = 'id: ' .. v .. '\nevent: state\ndata: ' .. ARGV[3] .. v .. ARGV[4] .. '\n\n'
if redis.call('HGET', p, 'question') ~= ARGV[5] or redis.call('HGET', p, 'options') ~= ARGV[6]
then
  redis.call('DEL', p .. ':answers', p .. ':tries', p .. ':counts')
end
redis.call('HSET', p, 'question', ARGV[5], 'options', ARGV[6], 'revealed', ARGV[7])
redis.call('RPUSH', p .. ':log', frame)
redis.call('LTRIM', p .. ':log', -tonumber(ARGV[8]), -1)
touch(p, ARGV[1], tonumber(ARGV[9]), at)
redis.call('PUBLISH', p, 'S' .. v .. '\n' .. frame)
redis.call('PUBLISH', p, 'T' .. tally(p, ARGV[1], at))
return {'ok', v}
"""

# KEYS: room; ARGV: code, question, student, option, most answers, answers a second,
# most students, idle s
ANSWER = LUA + r"""
local p = KEYS[1]
if redis.call('EXISTS', p) == 0 then return {'none'} end
local q = redis.call('HGET', p, 'question')
local n = tonumber(redis.call('HGET', p, 'options'))
local revealed = redis.call('HGET', p, 'revealed')
if q ~= ARGV[2] or revealed == '1' then return {'closed', q, revealed} end
if tonumber(ARGV[4]) >= n then return {'option', n} end
local tries = tonumber(redis.call('HGET', p .. ':tries', ARGV[3]) or '0')
if tries >= tonumber(ARGV[5]) then return {'exhausted'} end
local old = redis.call('HGET', p .. ':answers', ARGV[3])
if not old and redis.call('HLEN', p .. ':answers') >= tonumber(ARGV[7]) then
  return {'students'}
end
local at = now()
if not rate(p, 'a', at, tonumber(ARGV[6])) then return {'fast'} end
redis.call('HINCRBY', p .. ':tries', ARGV[3], 1)
if old then redis.call('HINCRBY', p .. ':counts', old, -1) end
redis.call('HSET', p .. ':answers', ARGV[3], ARGV[4])
redis.call('HINCRBY', p .. ':counts', ARGV[4], 1)
touch(p, ARGV[1], tonumber(ARGV[8]), at)
redis.call('PUBLISH', p, 'T' .. tally(p, ARGV[1], at))
return {'ok', tonumber(ARGV[5]) - tries - 1}
"""

# KEYS: room; ARGV: code, member id ('' for the teacher), token hash ('' for a student),
# most students, a member's lifetime s, idle s
JOIN = LUA + r"""
local p = KEYS[1]
local token = redis.call('HGET', p, 'token')
if not token then return {'none'} end
local at = now()
local t = ''
if ARGV[3] ~= '' then
  if token ~= ARGV[3] then return {'forbidden'} end
  touch(p, ARGV[1], tonumber(ARGV[6]), at)
  t = tally(p, ARGV[1], at)
else
  local m = p .. ':members'
  redis.call('ZREMRANGEBYSCORE', m, '-inf', at)
  if redis.call('ZCARD', m) >= tonumber(ARGV[4]) then return {'full'} end
  redis.call('ZADD', m, at + tonumber(ARGV[5]), ARGV[2])
  redis.call('PEXPIRE', m, redis.call('PTTL', p))
  redis.call('PUBLISH', p, 'T' .. tally(p, ARGV[1], at))
end
local out = {'ok', redis.call('HGET', p, 'version'), t}
for _, frame in ipairs(redis.call('LRANGE', p .. ':log', 0, -1)) do out[#out + 1] = frame end
return out
"""

# KEYS: room; ARGV: code, member id ('' for the teacher), a member's lifetime s, idle s
HEARTBEAT = LUA + r"""
local p = KEYS[1]
if redis.call('EXISTS', p) == 0 then return 'none' end
local at = now()
if ARGV[2] == '' then
  touch(p, ARGV[1], tonumber(ARGV[4]), at)
else
  redis.call('ZADD', p .. ':members', at + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', p .. ':members', redis.call('PTTL', p))
end
return 'ok'
"""

# KEYS: room; ARGV: code, member id
LEAVE = LUA + r"""
local p = KEYS[1]
if redis.call('ZREM', p .. ':members', ARGV[2]) == 1 and redis.call('EXISTS', p) == 1 then
  redis.call('PUBLISH', p, 'T' .. tally(p, ARGV[1], now()))
end
return 'ok'
"""

# KEYS: room; ARGV: code, token hash, the end event
END = LUA + r"""
local p = KEYS[1]
local token = redis.call('HGET', p, 'token')
if not token then return 'none' end
if token ~= ARGV[2] then return 'forbidden' end
redis.call('DEL', p, p .. ':log', p .. ':answers', p .. ':tries', p .. ':counts', p .. ':members')
redis.call('ZREM', 'bptt:rooms', ARGV[1])
redis.call('PUBLISH', p, 'E' .. ARGV[3])
return 'ok'
"""


def key(room: str) -> str:
    return f"bptt:room:{room}"


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHub(Hub):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.Redis.from_url(
            settings.rooms_redis_url, socket_timeout=WAIT_S, socket_connect_timeout=2.0,
            health_check_interval=30)
        self.scripts = {name: self.redis.register_script(source) for name, source in (
            ("create", CREATE), ("set_state", SET_STATE), ("answer", ANSWER), ("join", JOIN),
            ("heartbeat", HEARTBEAT), ("leave", LEAVE), ("end", END))}
        self.local: dict[str, set[Listener]] = {}  # room -> this worker's listeners
        self.subscribed: dict[str, asyncio.Event] = {}  # room -> confirmed by Redis
        self.pubsub: Any = None
        self.lock = asyncio.Lock()
        self.connected = asyncio.Event()  # the pub/sub connection is up
        self.reader: asyncio.Task[None] | None = None
        self.member_ttl = 3 * settings.rooms_heartbeat_s  # a dead replica's students go then

    # ---- the connection ---------------------------------------------------------------------

    async def start(self) -> None:
        self.reader = asyncio.create_task(self._read_forever())

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        self._drop_all()
        if self.pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.pubsub.aclose()
        await self.redis.aclose()

    async def _read_forever(self) -> None:
        """The worker's pub/sub reader: (re)connects, and hands every message on."""
        pause = 0.2
        while True:
            try:
                self.pubsub = self.redis.pubsub()
                await self.pubsub.subscribe(HUB_CHANNEL)
                self.connected.set()
                pause = 0.2
                while True:
                    message = await self.pubsub.get_message(timeout=None)
                    if message is not None:
                        self._dispatch(message)
            except (RedisError, OSError) as exc:
                logger.warning("rooms: lost Redis's pub/sub (%s); every stream of this worker "
                               "closes and its page reconnects", exc)
                self.connected.clear()
                self._drop_all()
                with contextlib.suppress(RedisError, OSError):
                    await self.pubsub.aclose()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _drop_all(self) -> None:
        for listeners in self.local.values():
            for listener in listeners:
                listener.drop()
        self.local.clear()
        self.subscribed.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = text(message["channel"])
        room = channel.removeprefix("bptt:room:")
        if message["type"] == "subscribe":
            if room in self.subscribed:
                self.subscribed[room].set()
            return
        if message["type"] != "message":
            return
        data: bytes = message["data"]
        listeners = self.local.get(room, ())
        kind, body = data[:1], data[1:]
        if kind == b"S":
            head, _, frame = body.partition(b"\n")
            version = int(head)
            for listener in listeners:
                listener.offer(version, frame)
        elif kind == b"T":
            for listener in listeners:
                listener.offer_tally(body)
        elif kind == b"E":
            for listener in listeners:
                listener.end(body)

    async def _call(self, name: str, room: str, *args: Any) -> Any:
        return await self._wait(self.scripts[name](keys=[key(room)], args=[room, *args]))

    async def _wait(self, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, WAIT_S)
        except (RedisError, OSError, TimeoutError) as exc:
            raise HubDown(f"the rooms' store (Redis) does not answer ({type(exc).__name__}); "
                          f"try again shortly", retry_after=RETRY_S) from None

    # ---- subscriptions -----------------------------------------------------------------------

    async def _subscribe(self, room: str, listener: Listener) -> None:
        """Add a listener; subscribe this worker to the room's channel if it is the first, and
        return once Redis has confirmed it (so every later publication reaches it)."""
        self.local.setdefault(room, set()).add(listener)
        await self._wait(self.connected.wait())
        async with self.lock:  # subscriptions and unsubscriptions go out in the order decided
            if room not in self.subscribed:
                self.subscribed[room] = asyncio.Event()
                await self._wait(self.pubsub.subscribe(key(room)))
            confirmed = self.subscribed[room]
        await self._wait(confirmed.wait())

    async def _unsubscribe(self, room: str, listener: Listener) -> None:
        listeners = self.local.get(room)
        if listeners is None:
            return
        listeners.discard(listener)
        if listeners:
            return
        async with self.lock:
            if self.local.get(room):
                return  # another client joined meanwhile
            self.local.pop(room, None)
            self.subscribed.pop(room, None)
            with contextlib.suppress(RedisError, OSError, AttributeError):
                await self.pubsub.unsubscribe(key(room))

    # ---- the hub ------------------------------------------------------------------------------

    async def create(self) -> tuple[str, str]:
        token = new_token()
        for _ in range(CODE_TRIES):
            room = new_code()
            out = await self._call("create", room, token_hash(token), self.settings.rooms_max,
                                   self.settings.rooms_idle_s)
            status = text(out[0])
            if status == "ok":
                return room, token
            if status == "full":
                raise rooms_full(self.settings.rooms_max, float(text(out[1])))
        raise Full("no free room code; try again", retry_after=1)  # pragma: no cover

    async def set_state(self, room: str, token: str, state: bytes,
                        poll: tuple[str, int, bool] | None) -> int:
        if not token:
            raise missing_token()
        question, options, revealed = poll if poll else ("", 0, False)
        head = b'{"room":"%s","version":' % room.encode()
        tail = b',"state":%s}' % state
        out = await self._call("set_state", room, token_hash(token), head, tail, question,
                               options, int(revealed), self.settings.rooms_log,
                               self.settings.rooms_idle_s, self.settings.rooms_state_per_s)
        self._refusal(room, text(out[0]), "state changes", self.settings.rooms_state_per_s)
        return int(out[1])

    async def end(self, room: str, token: str) -> None:
        if not token:
            raise missing_token()
        out = await self._call("end", room, token_hash(token), end_frame(room, "ended"))
        self._refusal(room, text(out), "", 0)

    async def answer(self, room: str, question: str, student: str, option: int) -> int:
        s = self.settings
        out = await self._call("answer", room, question, student, option, s.rooms_max_answers,
                               s.rooms_answers_per_s, s.rooms_max_members, s.rooms_idle_s)
        status = text(out[0])
        if status == "closed":
            raise closed(question, text(out[1]) if out[1] else None, text(out[2]) == "1")
        if status == "option":
            raise no_option(question, int(out[1]), option)
        if status == "exhausted":
            raise exhausted(s.rooms_max_answers)
        if status == "students":
            raise too_many_students()
        self._refusal(room, status, "answers", s.rooms_answers_per_s)
        return int(out[1])

    def _refusal(self, room: str, status: str, what: str, most: int) -> None:
        if status == "none":
            raise no_room(room)
        if status == "forbidden":
            raise wrong_token()
        if status == "fast":
            raise too_fast(most, what)

    async def join(self, room: str, last: int | None, token: str | None) -> Joined:
        teacher = token is not None
        member = "" if teacher else secrets.token_hex(8)
        listener = Listener(limit=self.settings.rooms_queue, teacher=teacher, early=[])
        try:
            await self._subscribe(room, listener)
            out = await self._call("join", room, member,
                                   token_hash(token) if token else "",
                                   self.settings.rooms_max_members, self.member_ttl,
                                   self.settings.rooms_idle_s)
            status = text(out[0])
            if status == "full":
                raise room_full(room, self.settings.rooms_max_members)
            self._refusal(room, status, "", 0)
        except RoomError:
            await self._unsubscribe(room, listener)
            raise
        version, tally, frames = int(out[1]), out[2], out[3:]
        log = list(zip(range(version - len(frames) + 1, version + 1), frames, strict=True))
        backlog, sent = backlog_of(log, last)
        listener.release(sent)
        return Joined(room, listener, backlog + tally, member or None)

    async def leave(self, joined: Joined) -> None:
        await self._unsubscribe(joined.room, joined.listener)
        if joined.member is not None:
            with contextlib.suppress(HubDown):
                await self._call("leave", joined.room, joined.member)

    async def heartbeat(self, joined: Joined) -> None:
        """Keep the student counted (and the teacher's room open); a room gone from Redis
        (expired) ends the stream."""
        out = await self._call("heartbeat", joined.room, joined.member or "", self.member_ttl,
                               self.settings.rooms_idle_s)
        if text(out) == "none":
            joined.listener.end(end_frame(joined.room, "expired"))

    async def exists(self, room: str) -> None:
        if not await self._wait(self.redis.exists(key(room))):
            raise no_room(room)
