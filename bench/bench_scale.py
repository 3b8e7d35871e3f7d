"""Scale-out for real (`make bench-scale`): nginx in front of three replicas, one killed mid-run.

On loopback only, bounded in time. Starts three `bptt-studio serve` replicas (the production
command, one worker each) on free ports and Debian's nginx as a plain process with the
repository's own load-balancer configuration (deploy/nginx/bptt-studio.conf, its upstream
replaced by the three replicas and its port by a free one). Then CLIENTS clients send a
steady load through nginx (40 requests/s by default, well under what three replicas on two
shared cores serve) -- each a request every INTERVAL_S seconds, a mix of the page's
default trace and traces that differ (so most are computed, not replayed from a cache) --
for DURATION_S seconds, and at the half one replica is killed with SIGKILL (its worker, its
fork server and its computation processes at once). Reports the requests served, the failed
ones (goal 0: nginx sends a failed POST to another replica, the computations being pure), and
p50/p99 latency overall and in the seconds after the kill.

Then the costly load, on fresh replicas: COSTLY_CLIENTS clients sending the costliest requests
the limits accept (bench-api's, every one different) through nginx, a health probe through
nginx every PROBE_EVERY_S, one replica killed at the half. Reports the answers by status (a
busy replica's 503 with Retry-After is an answer; nginx's own 502 is the failure: a busy
replica taken for a dead one) and the health probes that failed (goal: none, and no 502).

    .venv/bin/python bench/bench_scale.py [--duration 20] [--clients 12] [--only light,costly]
                                          [--conf other.conf] [--server other/bptt-studio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import free_port, wait_healthy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx" / "bptt-studio.conf"
SERVER = Path(sys.executable).parent / "bptt-studio"
HOST = "127.0.0.1"
REPLICAS = 3
CLIENTS = 8
INTERVAL_S = 0.2
DURATION_S = 20.0
AFTER_KILL_S = 3.0
CLIENT_TIMEOUT_S = 30.0
COSTLY_CLIENTS = 24
PROBE_EVERY_S = 0.1


def start_replica(port: int, server: Path = SERVER) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEB_CONCURRENCY": "1"}
    return subprocess.Popen([str(server), "serve", "--host", HOST, "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=ROOT,
                            start_new_session=True)


def nginx_config(workdir: Path, listen: int, upstreams: list[int], conf: Path = CONF) -> Path:
    """The repository's load-balancer configuration (or ``conf``), for a plain nginx process
    on loopback: its upstream's server line once per replica, with the same parameters."""
    site = conf.read_text()
    line = re.search(r"^\s*server app:8000([^\n]*)\n", site, flags=re.M)
    assert line, f"{conf} has no `server app:8000` line"
    servers = "".join(f"    server {HOST}:{port}{line.group(1)}\n" for port in upstreams)
    site = site.replace(line.group(0), servers)
    site, replaced = re.subn(r"listen 80;", f"listen {HOST}:{listen};", site)
    assert replaced == 1, f"{conf} has no `listen 80;`"
    (workdir / "site.conf").write_text(site)
    temp = "\n".join(f"    {name}_temp_path {workdir / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = (f"worker_processes 1;\ndaemon off;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} warn;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{\n    access_log off;\n{temp}\n    include {workdir / 'site.conf'};\n}}\n")
    path = workdir / "nginx.conf"
    path.write_text(main)
    return path


def kill_tree(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """A replica and everything it started: its process group, and its fork server's."""
    groups = {proc.pid}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == proc.pid:  # a child of the worker (its fork server)
                groups.add(int(fields[2]))
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
    proc.wait(10)


def request_body(index: int) -> bytes:
    """Every fourth request the page's default trace (cache hits after the first); the others
    differ in their seed and size, so each replica computes them."""
    if index % 4 == 0:
        return b"{}"
    return orjson.dumps({"cell": ("rnn", "lstm", "gru")[index % 3],
                         "hidden_size": 4 + index % 5, "seed": index,
                         "data": {"text": "the cat sat on the mat"}})


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int,
               body: bytes) -> int:
    writer.write(f"POST /api/v1/trace HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Accept-Encoding: gzip\r\n\r\n".encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value:
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def load(port: int, clients: int, duration: float, kill_at: float,
               kill: callable) -> list[tuple[float, float, int | str]]:
    """(start, latency, status) of every request: each client one every INTERVAL_S."""
    results: list[tuple[float, float, int | str]] = []
    counter = iter(range(10**9))
    began = time.perf_counter()

    async def client(offset: float) -> None:
        reader = writer = None
        next_start = began + offset
        while next_start < began + duration:
            await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
            next_start += INTERVAL_S
            start = time.perf_counter()
            try:
                async with asyncio.timeout(CLIENT_TIMEOUT_S):
                    if writer is None:
                        reader, writer = await asyncio.open_connection(HOST, port)
                    status: int | str = await post(reader, writer, port,
                                                   request_body(next(counter)))
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                status = type(exc).__name__
                if writer is not None:
                    writer.close()
                reader = writer = None
            results.append((start - began, time.perf_counter() - start, status))

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        await asyncio.get_running_loop().run_in_executor(None, kill)

    await asyncio.gather(killer(), *(client(INTERVAL_S * i / clients)
                                     for i in range(clients)))
    return results


@contextlib.contextmanager
def cluster(conf: Path, server: Path) -> Iterator[tuple[int, list[int],
                                                        list[subprocess.Popen[bytes]], Path]]:
    """REPLICAS replicas of ``server`` and nginx with ``conf`` in front of them: (nginx's
    port, the replicas' ports, their processes, nginx's directory); all ended afterwards."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    workdir = Path(tempfile.mkdtemp(prefix="bptt-scale-"))
    workdir.chmod(0o755)  # nginx's workers may run as another user when started as root
    ports = [free_port() for _ in range(REPLICAS)]
    listen = free_port()
    replicas: list[subprocess.Popen[bytes]] = []
    proxy = None
    try:
        replicas = [start_replica(port, server) for port in ports]
        for port, proc in zip(ports, replicas, strict=True):
            wait_healthy(f"http://{HOST}:{port}", proc)
        proxy = subprocess.Popen([nginx, "-c", str(nginx_config(workdir, listen, ports, conf)),
                                  "-p", str(workdir)], start_new_session=True)
        wait_healthy(f"http://{HOST}:{listen}", proxy, 10)
        yield listen, ports, replicas, workdir
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
        shutil.rmtree(workdir, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3 if values else float("nan")


def run_light(conf: Path, server: Path, clients: int, duration: float) -> bool:
    with cluster(conf, server) as (listen, ports, replicas, workdir):
        load1, _, _ = os.getloadavg()
        print(f"bench-scale: nginx on {HOST}:{listen} ({conf}) in front of "
              f"{REPLICAS} replicas ({', '.join(map(str, ports))}); {clients} clients, one "
              f"request every {INTERVAL_S * 1e3:.0f} ms each, for {duration:.0f} s; replica "
              f"{ports[1]} killed (SIGKILL) at {duration / 2:.0f} s; load average "
              f"{load1:.1f}")
        killed_at = duration / 2
        results = asyncio.run(load(listen, clients, duration, killed_at,
                                   lambda: kill_tree(replicas[1])))
        log = (workdir / "error.log").read_text(errors="replace")
        upstream_errors = sum(1 for line in log.splitlines() if "upstream" in line)
    served = [r for r in results if r[2] == 200]
    failed = [r for r in results if r[2] != 200]
    after = [r[1] for r in served if killed_at <= r[0] < killed_at + AFTER_KILL_S]
    latencies = [r[1] for r in served]
    print(f"  requests: {len(results)}, served {len(served)}, failed {len(failed)}"
          + (f" ({', '.join(sorted({str(r[2]) for r in failed}))})" if failed else "")
          + f"   goal 0 failed {'PASS' if not failed else 'MISS'}")
    print(f"  latency of the served: p50 {pct(latencies, 50):.1f} ms, p99 "
          f"{pct(latencies, 99):.1f} ms, max {max(latencies, default=0) * 1e3:.0f} ms")
    print(f"  in the {AFTER_KILL_S:.0f} s after the kill: {len(after)} served, p50 "
          f"{pct(after, 50):.1f} ms, p99 {pct(after, 99):.1f} ms; nginx logged "
          f"{upstream_errors} upstream errors (each request sent on to another replica)")
    return not failed


async def costly_load(port: int, duration: float, kill_at: float, kill: Callable[[], None]
                      ) -> tuple[Counter[str], list[float | None]]:
    """COSTLY_CLIENTS clients sending the costliest accepted requests (bench-api's, a new
    seed each time, each on a new connection; a 503's Retry-After honoured), and a health
    probe every PROBE_EVERY_S: (the answers' statuses, each probe's seconds or None)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_api import Connection, costliest_accepted, probe_health

    costly = list(costliest_accepted().values())
    statuses: Counter[str] = Counter()
    probes: list[float | None] = []
    seeds = iter(range(1, 10**9))
    stop = time.perf_counter() + duration

    async def client(index: int) -> None:
        kind = costly[index % len(costly)]
        while time.perf_counter() < stop:
            conn = Connection(port)
            try:
                async with asyncio.timeout(CLIENT_TIMEOUT_S):
                    await conn.open()
                    status, _, headers = await conn.post(kind.path, orjson.dumps(
                        kind.body(next(seeds))), gzip_ok=True)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                statuses[type(exc).__name__] += 1
                continue
            finally:
                await conn.close()
            retry = headers.get("retry-after")
            statuses[f"{status}" + (" with Retry-After" if retry else "")] += 1
            if retry:
                await asyncio.sleep(min(float(retry), max(0.0, stop - time.perf_counter())))

    async def prober() -> None:
        while time.perf_counter() < stop:
            tick = time.perf_counter()
            probes.append(await probe_health(port))
            await asyncio.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - tick)))

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        await asyncio.get_running_loop().run_in_executor(None, kill)

    await asyncio.gather(prober(), killer(), *(client(i) for i in range(COSTLY_CLIENTS)))
    return statuses, probes


def run_costly(conf: Path, server: Path, duration: float) -> bool:
    with cluster(conf, server) as (listen, ports, replicas, workdir):
        print(f"\nbench-scale, costly: {COSTLY_CLIENTS} clients sending the costliest "
              f"accepted requests through nginx ({conf}) for {duration:.0f} s, a health probe "
              f"every {PROBE_EVERY_S * 1e3:.0f} ms; replica {ports[1]} killed at "
              f"{duration / 2:.0f} s; load average {os.getloadavg()[0]:.1f}")
        statuses, probes = asyncio.run(costly_load(listen, duration, duration / 2,
                                                   lambda: kill_tree(replicas[1])))
    health = [p for p in probes if p is not None]
    lost = len(probes) - len(health)
    nginx_errors = sum(v for k, v in statuses.items() if k.startswith("502"))
    print(f"  {sum(statuses.values())} answers: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print(f"  health through nginx: {lost} of {len(probes)} failed; p50 {pct(health, 50):.1f} "
          f"ms, p99 {pct(health, 99):.1f} ms   goal none failed, no 502 "
          f"{'PASS' if not lost and not nginx_errors else 'MISS'}")
    return not lost and not nginx_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=DURATION_S,
                        help="seconds of each load (at most 60)")
    parser.add_argument("--clients", type=int, default=CLIENTS,
                        help=f"clients, each sending a request every {INTERVAL_S} s")
    parser.add_argument("--only", default="light,costly",
                        help="which loads: light (the class), costly (the costliest requests)")
    parser.add_argument("--conf", type=Path, default=CONF,
                        help="the nginx configuration (default: deploy/nginx/bptt-studio.conf)")
    parser.add_argument("--server", type=Path, default=SERVER,
                        help="the replicas' bptt-studio command (default: this checkout's)")
    args = parser.parse_args()
    duration = min(max(args.duration, 4.0), 60.0)
    clients = min(max(args.clients, 1), 64)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("bench-scale needs nginx: apt-get install -y nginx-light")
        return 2
    ok = True
    if "light" in args.only:
        ok = run_light(args.conf, args.server, clients, duration) and ok
    if "costly" in args.only:
        ok = run_costly(args.conf, args.server, duration) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
