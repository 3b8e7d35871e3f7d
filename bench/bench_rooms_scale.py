"""A classroom across replicas (part of `make bench-scale`): nginx in front of three replicas
sharing one Redis (BPTT_ROOMS_HUB=redis, Debian's redis-server on loopback), one replica killed
mid-class.

A teacher sends a step every STEP_GAP_S through nginx (deploy/nginx/bptt-studio.conf, as
bench_scale.py runs it); STUDENTS students follow the room's event stream through nginx, spread
over the replicas. At the half one replica is killed with SIGKILL: its students' streams break,
and each reconnects (as the page does: after a second, with the last event's id) through nginx
to a live replica, which sends what it missed from the room's log in Redis. Reports, for every
student, the steps it never received (goal: 0 lost steps), how long the students of the dead
replica were without a stream, and the delay of the steps after the kill.

    .venv/bin/python bench/bench_rooms_scale.py [--students 60] [--steps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rooms import Student, Teacher, listen, wait_for  # noqa: E402
from bench_scale import HOST, REPLICAS, SERVER, kill_tree, nginx_config  # noqa: E402
from conftest import free_port, wait_healthy  # noqa: E402
from redis_support import RedisServer, have_redis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = 60
STEPS = 40
STEP_GAP_S = 0.2
RECONNECT_S = 1.0  # the page's wait before it reconnects (the stream's retry: 1000)


def start_replica(port: int, redis_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEB_CONCURRENCY": "1", "BPTT_ROOMS_HUB": "redis",
           "BPTT_ROOMS_REDIS_URL": redis_url}
    return subprocess.Popen([str(SERVER), "serve", "--host", HOST, "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=ROOT,
                            start_new_session=True)


async def follow(port: int, room: str, student: Student, until: asyncio.Event,
                 gaps: list[float]) -> None:
    """A page's stream: after each break it waits a second and reconnects with its last
    event's id, until told to stop; ``gaps`` gets each time without a stream (from the break
    to the first event after it)."""
    broke = None
    while not until.is_set():
        had = len(student.arrivals)
        task = asyncio.create_task(listen(port, room, student,
                                          max(student.arrivals, default=None)))
        if broke is not None:
            await wait_for(lambda had=had, task=task: len(student.arrivals) > had
                           or task.done() or until.is_set(), 30)
            gaps.append(time.perf_counter() - broke)
        await task
        if until.is_set():
            return
        broke = time.perf_counter()
        await asyncio.sleep(RECONNECT_S)


async def run(port: int, students_n: int, steps: int, kill) -> dict:
    teacher = Teacher(port)
    room = await teacher.open()
    await teacher.step(0)
    students = [Student() for _ in range(students_n)]
    done = asyncio.Event()
    gaps: list[float] = []
    tasks = [asyncio.create_task(follow(port, room, s, done, gaps)) for s in students]
    await wait_for(lambda: all(1 in s.arrivals for s in students), 30)
    killed_at = None
    for event in range(1, steps + 1):
        began = time.perf_counter()
        if event == steps // 2:
            await asyncio.get_running_loop().run_in_executor(None, kill)
            killed_at = time.perf_counter()
        await teacher.step(event)
        await asyncio.sleep(max(0.0, STEP_GAP_S - (time.perf_counter() - began)))
    last = max(teacher.sent)
    await wait_for(lambda: all(last in s.arrivals for s in students), 30)
    done.set()
    for s in students:
        if s.writer is not None:
            s.writer.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    await teacher.end()
    versions = set(teacher.sent)
    lost = [len(versions - set(s.arrivals)) for s in students]
    after = [max(s.arrivals[v] for s in students) - t for v, t in teacher.sent.items()
             if killed_at is not None and t >= killed_at and all(v in s.arrivals
                                                                for s in students)]
    return {"lost": lost, "gaps": gaps, "after": after, "steps": len(versions),
            "broken": len(gaps)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=STUDENTS)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists() or not have_redis():
        print("bench-scale (rooms) needs nginx and redis-server: "
              "apt-get install -y nginx-light redis-server")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="bptt-rooms-scale-"))
    workdir.chmod(0o755)
    redis = RedisServer(free_port())
    ports = [free_port() for _ in range(REPLICAS)]
    listen_port = free_port()
    replicas: list[subprocess.Popen[bytes]] = []
    proxy = None
    try:
        redis.start()
        replicas = [start_replica(port, redis.url) for port in ports]
        for port, proc in zip(ports, replicas, strict=True):
            wait_healthy(f"http://{HOST}:{port}", proc)
        proxy = subprocess.Popen([nginx, "-c", str(nginx_config(workdir, listen_port, ports)),
                                  "-p", str(workdir)], start_new_session=True)
        wait_healthy(f"http://{HOST}:{listen_port}", proxy, 10)
        print(f"bench-scale (rooms): nginx on {HOST}:{listen_port} in front of {REPLICAS} "
              f"replicas sharing redis-server on port {redis.port}; 1 teacher and "
              f"{args.students} students through nginx, a step every "
              f"{STEP_GAP_S * 1e3:.0f} ms, replica {ports[1]} killed (SIGKILL) at step "
              f"{args.steps // 2}; load average {os.getloadavg()[0]:.1f}")
        out = asyncio.run(run(listen_port, args.students, args.steps,
                              lambda: kill_tree(replicas[1])))
    finally:
        if proxy is not None:
            proxy.send_signal(signal.SIGQUIT)
            try:
                proxy.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proxy.pid, signal.SIGKILL)
        for proc in replicas:
            if proc.poll() is None:
                kill_tree(proc, signal.SIGTERM)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    lost = sum(out["lost"])
    gaps, after = out["gaps"], out["after"]

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1e3 if values else float("nan")

    print(f"  {out['steps']} steps sent; {args.students} students; lost steps: {lost} "
          f"(students missing any: {sum(n > 0 for n in out['lost'])})   goal 0 lost steps "
          f"{'PASS' if lost == 0 else 'MISS'}")
    print(f"  streams broken by the kill: {out['broken']} (the dead replica's students); "
          f"without a stream p50 {pct(gaps, 50):.0f} ms, max {pct(gaps, 100):.0f} ms "
          f"(the page waits {RECONNECT_S * 1e3:.0f} ms before it reconnects)")
    print(f"  steps after the kill, teacher -> last student: p50 {pct(after, 50):.1f} ms, "
          f"p99 {pct(after, 99):.1f} ms")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
