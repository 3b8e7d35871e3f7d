"""The rooms' hubs behave alike: every test runs against the in-process hub and against the
Redis hub on a real redis-server (tests/redis_support.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import orjson
import pytest

from bptt_studio.core.settings import Settings
from bptt_studio.rooms.hub import (
    ALPHABET,
    Closed,
    Exhausted,
    Forbidden,
    Full,
    Hub,
    HubDown,
    Joined,
    NoRoom,
    Unauthorized,
)
from bptt_studio.rooms.memory import MemoryHub

pytestmark = pytest.mark.anyio
HUBS = ["memory", "redis"]
STATE = b'{"event":1}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=HUBS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_hub(kind: str, request: pytest.FixtureRequest) -> Callable:
    """``async with make_hub(**settings) as hub``: a started hub of the test's kind (Redis's
    from an empty database)."""
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""

    @asynccontextmanager
    async def make(**fields: object) -> AsyncIterator[Hub]:
        settings = Settings(rooms_hub=kind, rooms_redis_url=url or "redis://unused", **fields)
        if kind == "redis":
            from bptt_studio.rooms.redis_hub import RedisHub

            hub: Hub = RedisHub(settings)
        else:
            hub = MemoryHub(settings)
        await hub.start()
        try:
            yield hub
        finally:
            await hub.close()

    return make


def events(frames: bytes) -> list[tuple[str, dict]]:
    """(event name, data) of each event in a stream's bytes."""
    out = []
    for block in frames.split(b"\n\n"):
        fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"event" in fields:
            out.append((fields[b"event"].decode(), orjson.loads(fields[b"data"])))
    return out


def versions(frames: bytes) -> list[int]:
    return [data["version"] for name, data in events(frames) if name == "state"]


async def receive(joined: Joined, seconds: float = 2.0) -> bytes:
    """Everything the listener has or gets within ``seconds`` (until a pause of 0.2 s)."""
    out = b""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        chunk = await joined.listener.next(0.2)
        if chunk is None:
            break
        if not chunk and out:
            break
        out += chunk
    return out


async def step(hub: Hub, room: str, token: str, event: int, poll=None) -> int:
    return await hub.set_state(room, token, b'{"event":%d}' % event, poll)


async def test_a_new_room_has_a_six_character_code_a_student_can_type_and_a_secret_token(
        make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        assert re.fullmatch(f"[{ALPHABET}]{{6}}", room)
        assert not set("0O1IL") & set(room)
        assert len(token) >= 40
        other, other_token = await hub.create()
        assert (other, other_token) != (room, token)


async def test_the_state_changes_only_with_the_teachers_token(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        with pytest.raises(Unauthorized):
            await hub.set_state(room, "", STATE, None)
        _, other_token = await hub.create()
        with pytest.raises(Forbidden):
            await hub.set_state(room, other_token, STATE, None)
        assert await hub.set_state(room, token, STATE, None) == 1  # nothing else counted


async def test_a_room_that_does_not_exist_is_named_as_such(make_hub):
    async with make_hub() as hub:
        with pytest.raises(NoRoom, match="ABCDEF"):
            await hub.join("ABCDEF", None, None)
        with pytest.raises(NoRoom):
            await hub.set_state("ABCDEF", "token", STATE, None)
        with pytest.raises(NoRoom):
            await hub.exists("ABCDEF")


async def test_a_late_joiner_receives_the_current_state_at_once(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        for event in range(1, 6):
            await step(hub, room, token, event)
        joined = await hub.join(room, None, None)
        assert versions(joined.backlog) == [5]
        assert events(joined.backlog)[0][1] == {"room": room, "version": 5,
                                                "state": {"event": 5}}


async def test_every_listener_receives_every_state_in_order(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        clients = [await hub.join(room, None, None) for _ in range(5)]
        for event in range(1, 21):
            await step(hub, room, token, event)
        for joined in clients:
            assert versions(await receive(joined)) == list(range(1, 21))


async def test_a_client_that_reconnects_receives_each_version_it_missed(make_hub):
    async with make_hub(rooms_log=8) as hub:
        room, token = await hub.create()
        for event in range(1, 11):
            await step(hub, room, token, event)
        joined = await hub.join(room, 4, None)
        assert versions(joined.backlog) == [5, 6, 7, 8, 9, 10]
        await step(hub, room, token, 11)
        assert versions(await receive(joined)) == [11]


async def test_a_client_further_behind_than_the_log_receives_the_newest_state(make_hub):
    async with make_hub(rooms_log=4) as hub:
        room, token = await hub.create()
        for event in range(1, 11):
            await step(hub, room, token, event)
        assert versions((await hub.join(room, 2, None)).backlog) == [10]
        assert (await hub.join(room, 10, None)).backlog.count(b"event: state") == 0


async def test_a_client_that_stops_reading_is_dropped_and_never_holds_the_others_up(make_hub):
    async with make_hub(rooms_queue=4) as hub:
        room, token = await hub.create()
        stalled = await hub.join(room, None, None)
        reader = await hub.join(room, None, None)
        for event in range(1, 11):
            await step(hub, room, token, event)
            assert versions(await receive(reader, 0.5)) == [event]
        assert stalled.listener.dropped
        assert await stalled.listener.next(0.1) is None  # its stream closes; its page returns


async def test_the_teacher_sees_the_tally_live_and_students_never_do(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        teacher = await hub.join(room, None, token)
        student = await hub.join(room, None, None)
        await step(hub, room, token, 1, ("lesson/3", 3, False))
        for n, option in enumerate([2, 0, 2, 2]):
            await hub.answer(room, "lesson/3", f"student{n:04d}", option)
        tallies = [data for name, data in events(await receive(teacher)) if name == "tally"]
        assert tallies[-1] == {"room": room, "question": "lesson/3", "counts": [1, 0, 3],
                               "answered": 4, "members": 1}
        assert all(name != "tally" for name, _ in events(await receive(student)))


async def test_a_student_may_change_the_answer_a_bounded_number_of_times_the_last_counts(
        make_hub):
    async with make_hub(rooms_max_answers=2) as hub:
        room, token = await hub.create()
        await step(hub, room, token, 1, ("q/1", 2, False))
        assert await hub.answer(room, "q/1", "student0001", 0) == 1
        assert await hub.answer(room, "q/1", "student0001", 1) == 0
        with pytest.raises(Exhausted):
            await hub.answer(room, "q/1", "student0001", 0)
        teacher = await hub.join(room, None, token)
        tally = [d for name, d in events(teacher.backlog) if name == "tally"][-1]
        assert tally["counts"] == [0, 1]


@pytest.mark.parametrize("question, option, poll", [
    ("q/2", 0, ("q/1", 2, False)),   # another question is open
    ("q/1", 0, ("q/1", 2, True)),    # revealed
    ("q/1", 2, ("q/1", 2, False)),   # no option 2 of 0..1
    ("q/1", 0, None),                # nothing open
])
async def test_an_answer_to_anything_but_the_open_question_is_refused(make_hub, question,
                                                                       option, poll):
    async with make_hub() as hub:
        room, token = await hub.create()
        await step(hub, room, token, 1, poll)
        with pytest.raises(Closed):
            await hub.answer(room, question, "student0001", option)


async def test_a_new_question_starts_its_count_afresh(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        await step(hub, room, token, 1, ("q/1", 2, False))
        await hub.answer(room, "q/1", "student0001", 1)
        await step(hub, room, token, 2, ("q/2", 2, False))
        await hub.answer(room, "q/2", "student0002", 0)
        teacher = await hub.join(room, None, token)
        tally = [d for name, d in events(teacher.backlog) if name == "tally"][-1]
        assert (tally["question"], tally["counts"]) == ("q/2", [1, 0])


async def test_a_full_room_refuses_one_more_student_until_one_leaves(make_hub):
    async with make_hub(rooms_max_members=2) as hub:
        room, token = await hub.create()
        first = await hub.join(room, None, None)
        await hub.join(room, None, None)
        with pytest.raises(Full) as refused:
            await hub.join(room, None, None)
        assert refused.value.retry_after >= 1
        await hub.join(room, None, token)  # the teacher is no student
        await hub.leave(first)
        await hub.join(room, None, None)


async def test_the_server_refuses_one_room_more_than_its_bound_saying_when_to_retry(make_hub):
    async with make_hub(rooms_max=2, rooms_idle_s=60) as hub:
        await hub.create()
        await hub.create()
        with pytest.raises(Full) as refused:
            await hub.create()
        assert 1 <= refused.value.retry_after <= 60


async def test_state_changes_past_the_rate_are_refused_for_a_second(make_hub):
    async with make_hub(rooms_state_per_s=3) as hub:
        room, token = await hub.create()
        outcomes = []
        for event in range(8):  # the window may turn once: at most 2 x 3 accepted
            try:
                outcomes.append(await step(hub, room, token, event))
            except Full as exc:
                outcomes.append(exc.retry_after)
        assert outcomes.count(1) >= 2 and len(set(outcomes) - {1}) <= 6


async def test_the_teacher_ending_the_class_tells_every_page(make_hub):
    async with make_hub() as hub:
        room, token = await hub.create()
        student = await hub.join(room, None, None)
        with pytest.raises(Forbidden):
            await hub.end(room, "not-the-token")
        await hub.end(room, token)
        assert events(await receive(student)) == [("end", {"room": room, "reason": "ended"})]
        assert await student.listener.next(0.1) is None
        with pytest.raises(NoRoom):
            await hub.exists(room)


async def test_an_idle_room_expires_and_its_pages_are_told(make_hub, kind):
    async with make_hub(rooms_idle_s=1, rooms_heartbeat_s=0.3) as hub:
        room, token = await hub.create()
        student = await hub.join(room, None, None)
        received = b""
        for _ in range(20):  # the stream's heartbeats (app/rooms/stream.py), for 3 s at most
            chunk = await student.listener.next(0.3)
            if chunk is None:
                break
            received += chunk
            if not chunk:
                await hub.heartbeat(student)
        assert events(received)[-1] == ("end", {"room": room, "reason": "expired"})
        with pytest.raises(NoRoom):
            await hub.set_state(room, token, STATE, None)


async def test_the_teachers_open_page_keeps_the_room_open(make_hub):
    async with make_hub(rooms_idle_s=1) as hub:
        room, token = await hub.create()
        teacher = await hub.join(room, None, token)
        for _ in range(6):
            await asyncio.sleep(0.3)
            await hub.heartbeat(teacher)
        await hub.exists(room)


async def test_a_state_sent_through_one_worker_reaches_the_students_of_another(redis_url):
    settings = Settings(rooms_hub="redis", rooms_redis_url=redis_url)
    from bptt_studio.rooms.redis_hub import RedisHub

    workers = [RedisHub(settings) for _ in range(3)]
    for hub in workers:
        await hub.start()
    try:
        room, token = await workers[0].create()
        students = [await hub.join(room, None, None) for hub in workers[1:] for _ in range(3)]
        for event in range(1, 11):
            await step(workers[0], room, token, event)
        for joined in students:
            assert versions(await receive(joined)) == list(range(1, 11))
    finally:
        for hub in workers:
            await hub.close()


async def test_when_redis_goes_away_streams_close_calls_say_503_and_it_recovers(redis_server):
    from bptt_studio.rooms.redis_hub import RedisHub

    redis_server.flush()
    hub = RedisHub(Settings(rooms_hub="redis", rooms_redis_url=redis_server.url))
    await hub.start()
    try:
        room, token = await hub.create()
        student = await hub.join(room, None, None)
        redis_server.stop()
        for _ in range(50):
            if await student.listener.next(0.1) is None:
                break
        else:
            pytest.fail("the stream stayed open without Redis")
        with pytest.raises(HubDown) as down:
            await hub.create()
        assert down.value.retry_after >= 1
        redis_server.start()
        for _ in range(100):  # the pub/sub reader reconnects within its back-off
            try:
                room, token = await hub.create()
                joined = await hub.join(room, None, None)
                break
            except HubDown:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the hub did not come back with Redis")
        await step(hub, room, token, 1)
        assert versions(await receive(joined)) == [1]
    finally:
        redis_server.stop()
        redis_server.start()
        await hub.close()
