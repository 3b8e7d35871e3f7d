"""Classrooms under load (`make bench-rooms`): students as real server-sent-event clients on
loopback, one worker (`bptt-studio serve`, the in-process hub).

(a) One teacher and STUDENTS students in one room: the teacher sends STEPS states, one every
    STEP_GAP_S; for each step, the delay from the teacher's request to the moment the LAST
    student's connection has the event (read off its socket in this process, one clock). Goal:
    p99 of that delay <= 200 ms. The same steps to a room of one student, in the same run, are
    the peer (the cost of the fan-out is their ratio).
(b) ROOMS rooms of ROOM_SIZE students at once, every teacher stepping: the same delays.
(c) Memory: the server's resident memory per room, empty and with its log full of states of
    the largest size (BPTT_ROOMS_LOG x BPTT_ROOMS_MAX_MESSAGE_BYTES: the bound), and per
    student's connection; and the server's CPU seconds per delivered event.

    .venv/bin/python bench/bench_rooms.py [--students 300] [--rooms 30] [--room-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import serve, stop_server  # noqa: E402
from proc_support import rss_bytes, tree_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STUDENTS = 300
ROOMS = 30
ROOM_SIZE = 100
STEPS = 40
STEP_GAP_S = 0.25
# In (b) each teacher steps once a MANY_GAP_S, the rooms staggered over it: 30 classes each
# moving every second is already far more than a school's lectures do together.
MANY_GAP_S = 1.0
GOAL_P99_MS = 200.0
CONNECT_AT_ONCE = 50  # connections opened together (the listen backlog is not the subject)
EMPTY_ROOMS = 900
ID = re.compile(rb"^id: (\d+)$", re.M)


@dataclass
class Student:
    """One student's event stream: when each version arrived (perf_counter)."""

    arrivals: dict[int, float] = field(default_factory=dict)
    writer: asyncio.StreamWriter | None = None
    closed: bool = False


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str,
               path: str, port: int, body: bytes = b"",
               headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request on a keep-alive connection: (status, body)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def listen(port: int, room: str, student: Student, last: int | None = None) -> int:
    """Read the room's event stream until it closes; returns the HTTP status."""
    reader, writer = await asyncio.open_connection(HOST, port)
    student.writer = writer
    last_header = f"Last-Event-ID: {last}\r\n" if last is not None else ""
    writer.write(f"GET /api/v1/rooms/{room}/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                 f"Accept: text/event-stream\r\n{last_header}\r\n".encode())
    await writer.drain()
    try:
        status = int((await reader.readline()).split()[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if status != 200:
            return status
        while True:  # chunked: a size line, the chunk, CRLF
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            now = time.perf_counter()
            for match in ID.finditer(chunk):
                student.arrivals.setdefault(int(match.group(1)), now)
        return status
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        return 0
    finally:
        student.closed = True
        writer.close()


class Teacher:
    """A teacher on one keep-alive connection: open a room, send states."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent: dict[int, float] = {}  # version -> when its request was written

    async def open(self, reader: asyncio.StreamReader | None = None,
                   writer: asyncio.StreamWriter | None = None) -> str:
        """Open a room (on its own connection, or on the one given)."""
        if reader is None or writer is None:
            reader, writer = await asyncio.open_connection(HOST, self.port)
        self.reader, self.writer = reader, writer
        status, body = await http(self.reader, self.writer, "POST", "/api/v1/rooms", self.port)
        assert status == 201, (status, body)
        created = orjson.loads(body)
        self.room, self.token = created["room"], created["teacher_token"]
        return self.room

    async def step(self, event: int, padding: int = 0) -> int:
        state = {"scenario": {"data": {"preset": "machine"}}, "event": event,
                 "notation": "goodfellow"}
        if padding:
            state["scenario"]["data"] = {"text": "x" * padding}
        start = time.perf_counter()
        args = ("PUT", f"/api/v1/rooms/{self.room}/state", self.port, orjson.dumps(state),
                {"Authorization": f"Bearer {self.token}"})
        try:
            status, body = await http(self.reader, self.writer, *args)
        except (OSError, IndexError, asyncio.IncompleteReadError):
            # the server closed the idle keep-alive connection: a new one, as a browser does
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            start = time.perf_counter()
            status, body = await http(self.reader, self.writer, *args)
        assert status == 200, (status, body)
        version = orjson.loads(body)["version"]
        self.sent[version] = start
        return version

    async def end(self) -> None:
        """End the class (the room is freed) and close the connection."""
        with contextlib.suppress(OSError, IndexError, asyncio.IncompleteReadError):
            await http(self.reader, self.writer, "DELETE", f"/api/v1/rooms/{self.room}",
                       self.port, headers={"Authorization": f"Bearer {self.token}"})
        self.writer.close()

    def close(self) -> None:
        self.writer.close()


async def join(port: int, room: str, count: int) -> tuple[list[Student], list[asyncio.Task]]:
    """``count`` students on the room's stream, each once it has the room's state (a late
    joiner's first event)."""
    students = [Student() for _ in range(count)]
    tasks = []
    for start in range(0, count, CONNECT_AT_ONCE):
        batch = students[start:start + CONNECT_AT_ONCE]
        tasks += [asyncio.create_task(listen(port, room, s)) for s in batch]
        await wait_for(lambda b=batch: all(s.arrivals or s.closed for s in b), 30)
    failed = sum(not s.arrivals for s in students)
    assert not failed, f"{failed} students were not admitted to room {room}"
    return students, tasks


async def wait_for(condition, seconds: float) -> bool:
    deadline = time.perf_counter() + seconds
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def step_delays(teacher: Teacher, students: list[Student]) -> list[float]:
    """For each step after the first: seconds from the request to the last student's copy."""
    delays = []
    for version, sent in teacher.sent.items():
        if version == 1:
            continue
        arrived = [s.arrivals.get(version) for s in students]
        if any(a is None for a in arrived):
            delays.append(float("inf"))
        else:
            delays.append(max(arrived) - sent)
    return delays


async def run_rooms(port: int, pid: int, rooms: int, size: int, steps: int,
                    gap: float = STEP_GAP_S) -> tuple[list[float], int, float]:
    """``rooms`` rooms of ``size`` students, every teacher stepping together: the delays of
    every step of every room, the events delivered, and the server's CPU seconds while the
    teachers stepped (joining left out)."""
    teachers = [Teacher(port) for _ in range(rooms)]
    for teacher in teachers:
        await teacher.open()
        await teacher.step(0)
    joined = [await join(port, t.room, size) for t in teachers]
    cpu = tree_cpu_seconds(pid)

    async def teach(teacher: Teacher, offset: float) -> None:
        began = time.perf_counter() + offset
        for event in range(1, steps + 1):
            await asyncio.sleep(max(0.0, began + (event - 1) * gap - time.perf_counter()))
            await teacher.step(event)

    await asyncio.gather(*(teach(t, gap * i / rooms) for i, t in enumerate(teachers)))
    last = steps + 1
    await wait_for(lambda: all(last in s.arrivals or s.closed
                               for students, _ in joined for s in students), 10)
    cpu = tree_cpu_seconds(pid) - cpu
    delays = [d for t, (students, _) in zip(teachers, joined, strict=True)
              for d in step_delays(t, students)]
    delivered = sum(len(s.arrivals) - 1 for students, _ in joined for s in students)
    for teacher, (students, tasks) in zip(teachers, joined, strict=True):
        for s in students:
            s.writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await teacher.end()
    return delays, delivered, cpu


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3 if values else float("nan")


def figures(delays: list[float]) -> str:
    lost = sum(d == float("inf") for d in delays)
    kept = [d for d in delays if d != float("inf")]
    return (f"p50 {ms(kept, 50):.1f} ms, p99 {ms(kept, 99):.1f} ms, max {max(kept) * 1e3:.1f} "
            f"ms over {len(delays)} steps" + (f"; {lost} steps never reached everyone"
                                              if lost else ""))


async def memory(port: int, pid: int, settings: dict[str, int]) -> dict[str, float]:
    """The worker process's resident memory (its computation processes, which start and grow
    on their own, left out) per empty room, per room with its log full of the largest states,
    and per student's connection."""
    base = rss_bytes(pid)
    teachers = [Teacher(port) for _ in range(EMPTY_ROOMS)]
    reader, writer = await asyncio.open_connection(HOST, port)
    for teacher in teachers:  # every room opened on one connection: the rooms, not sockets
        await teacher.open(reader, writer)
    empty = (rss_bytes(pid) - base) / EMPTY_ROOMS
    before = rss_bytes(pid)
    # the largest state the server takes, rooms_log times in each room: the log's bound
    padding = settings["message"] - 300
    for teacher in teachers[:10]:
        for event in range(settings["log"]):
            await teacher.step(event, padding)
            if event % 15 == 14:
                await asyncio.sleep(1.0)  # under BPTT_ROOMS_STATE_PER_S
    full = (rss_bytes(pid) - before) / 10
    before = rss_bytes(pid)
    students, tasks = await join(port, teachers[0].room, 400)
    per_student = (rss_bytes(pid) - before) / 400
    for s in students:
        s.writer.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    writer.close()
    for teacher in teachers[:10]:
        teacher.close()
    return {"empty": empty, "full": full, "student": per_student}


async def bench(port: int, pid: int, args: argparse.Namespace) -> bool:
    steps = args.steps
    peer, peer_events, peer_cpu = await run_rooms(port, pid, 1, 1, steps)
    one, one_events, one_cpu = await run_rooms(port, pid, 1, args.students, steps)
    many, many_events, many_cpu = await run_rooms(port, pid, args.rooms, args.room_size,
                                                  max(10, steps // 2), MANY_GAP_S)
    ok_one = ms([d for d in one if d != float("inf")], 99) <= GOAL_P99_MS and \
        float("inf") not in one
    ok_many = ms([d for d in many if d != float("inf")], 99) <= GOAL_P99_MS and \
        float("inf") not in many
    print(f"  (a) 1 teacher, {args.students} students, {steps} steps "
          f"{STEP_GAP_S * 1e3:.0f} ms apart: teacher's step -> last student's copy "
          f"{figures(one)}   goal p99 <= {GOAL_P99_MS:.0f} ms {'PASS' if ok_one else 'MISS'}")
    print(f"      peer, the same steps to 1 student: {figures(peer)}; ratio of p99s "
          f"{ms(one, 99) / ms(peer, 99):.1f}x")
    print(f"      server CPU while stepping: {one_cpu * 1e6 / max(1, one_events):.0f} us per "
          f"delivered event ({one_events} events, {one_cpu:.2f} CPU-s); peer "
          f"{peer_cpu * 1e6 / max(1, peer_events):.0f} us per event (the teacher's request "
          f"and one delivery)")
    print(f"      server CPU per step of {args.students} deliveries: "
          f"{one_cpu * 1e3 / steps:.1f} ms (what an uncontended core adds to the delay; the "
          f"rest is waiting for a core on this shared machine)")
    print(f"  (b) {args.rooms} rooms of {args.room_size} students at once, each teacher "
          f"stepping every {MANY_GAP_S:g} s (staggered): {figures(many)}   goal p99 <= "
          f"{GOAL_P99_MS:.0f} ms {'PASS' if ok_many else 'MISS'}; server CPU "
          f"{many_cpu * 1e6 / max(1, many_events):.0f} us per delivered event")
    return ok_one and ok_many


async def bench_memory(port: int, pid: int) -> None:
    """On a fresh server: a used heap hides what new rooms take."""
    settings = {"log": 64, "message": 16_384}
    mem = await memory(port, pid, settings)
    bound = settings["log"] * settings["message"]
    print(f"  (c) memory: an empty room {mem['empty'] / 1024:.1f} KiB; a room whose log holds "
          f"{settings['log']} states of {settings['message'] // 1024} KiB (the bound, "
          f"BPTT_ROOMS_LOG x BPTT_ROOMS_MAX_MESSAGE_BYTES = {bound / 2**20:.2f} MiB) "
          f"{mem['full'] / 2**20:.2f} MiB; a student's connection "
          f"{mem['student'] / 1024:.1f} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=STUDENTS)
    parser.add_argument("--rooms", type=int, default=ROOMS)
    parser.add_argument("--room-size", type=int, default=ROOM_SIZE)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--memory-only", action="store_true", help="only (c)")
    args = parser.parse_args()
    env = {**os.environ, "WEB_CONCURRENCY": "1", "BPTT_ROOMS_HUB": "memory",
           "BPTT_ROOMS_MAX": "1000",
           "BPTT_ROOMS_MAX_MEMBERS": str(max(args.students, args.room_size, 400)),
           # every student here is one address (loopback), and 30 rooms of 100 are 3,000
           # streams on one worker, past the defaults (2,048 connections a worker, 1,024 from
           # one address: a class behind one NAT); room for them, and for the teachers
           **{name: str(max(args.students, args.rooms * args.room_size) + 256)
              for name in ("BPTT_MAX_CONNECTIONS", "BPTT_MAX_CONNECTIONS_PER_CLIENT")}}
    exe = Path(sys.executable).parent / "bptt-studio"
    proc, base = serve(exe, env=env, cwd=ROOT)
    port = int(base.rsplit(":", 1)[1])
    load1, _, _ = os.getloadavg()
    print(f"bench-rooms: one worker on {base} (the in-process hub); students are event-stream "
          f"clients in this process; load average {load1:.1f}")
    client_cpu = time.process_time()
    try:
        ok = args.memory_only or asyncio.run(bench(port, proc.pid, args))
        print(f"  this process (every student and teacher): "
              f"{time.process_time() - client_cpu:.1f} CPU-s; load average at the end "
              f"{os.getloadavg()[0]:.1f}")
    finally:
        with contextlib.suppress(Exception):
            stop_server(proc)
    proc, base = serve(exe, env=env, cwd=ROOT)
    try:
        asyncio.run(bench_memory(int(base.rsplit(":", 1)[1]), proc.pid))
    finally:
        with contextlib.suppress(Exception):
            stop_server(proc)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
