"""The attacks of issue 23, each against a fresh server (`make bench-api`'s "attacks" part).

On loopback only, bounded in time, against the production command (``bptt-studio serve``, one
worker, production settings; ``--server`` runs another installation, to measure the code
before a fix). The attacker uses the source address 127.0.0.2 where the server must tell it
apart from everyone else (the health probes come from 127.0.0.1), as a second machine would.
Each prints its figures; they are docs/SERVING.md's before/after table ("Under attack").

    words        12 clients sending {"data": {"words": "a a a ..."}} (3 MB) for 15 s
    stalled      60 clients that never read a ~7 MB response, and one that reads 1 KB a second
    connections  one client opening as many connections as it can, then 200 stalled 3 MB bodies
    response     the largest response the limits accepted (an LSTM trace in BPTT(1, 134))
    underpriced  the requests the cost model priced under what they cost
    protocol     Host in a redirect, Content-Length with Transfer-Encoding, HTTP/9.9, UTF-16
    saturation   clients that retry at once on a 503: the server's CPU per refusal, Retry-After

    .venv/bin/python bench/bench_api.py --only attacks [--attacks words,stalled]
"""

from __future__ import annotations

import contextlib
import gzip
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import free_port, wait_healthy  # noqa: E402
from proc_support import (  # noqa: E402
    TICKS,
    rss_bytes,
    stop_server,
    tree_cpu_seconds,
    tree_rss_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ATTACKER = "127.0.0.2"  # another address on loopback: the server sees another client
PROBE_EVERY_S = 0.1


# ---------------------------------------------------------------------------------------------
# The server, its figures, and raw sockets.


class Server:
    """``exe serve`` on a free port at log level ``info`` (production's), its log in a file."""

    def __init__(self, exe: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bptt-attack-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--host", HOST, "--port", str(self.port), "--log-level", "info"],
            env={**os.environ, "WEB_CONCURRENCY": "1", **(env or {})}, cwd=ROOT,
            start_new_session=True, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://{HOST}:{self.port}"
        wait_healthy(self.base, self.proc)
        time.sleep(0.5)  # the computation processes are up

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        stop_server(self.proc)
        self.log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_cpu(self) -> float:
        """CPU seconds of the worker process alone (not its computation processes)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def log_lines(self) -> tuple[int, int]:
        """(lines of the log, of which the access log's: one per request answered)."""
        lines = Path(self.log.name).read_bytes().splitlines()
        return len(lines), sum(1 for line in lines if b' HTTP/1.1" ' in line)

    def established(self) -> tuple[int, int]:
        """(connections to the server's port the kernel holds, bytes in their send queues)."""
        count = queued = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    local, state, queues = fields[1], fields[3], fields[4]
                    if int(local.rsplit(":", 1)[1], 16) == self.port and state == "01":
                        count += 1
                        queued += int(queues.split(":")[0], 16)
        return count, queued


class Sampler:
    """The peak memory of the server's worker and of its whole tree, sampled in a thread."""

    def __init__(self, server: Server, every: float = 0.1) -> None:
        self.server, self.every = server, every
        self.worker = self.tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.worker = max(self.worker, rss_bytes(self.server.pid))
            self.tree = max(self.tree, tree_rss_bytes(self.server.pid))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def mb(value: float) -> str:
    return f"{value / 2**20:,.0f} MB"


def pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q) * 1e3:,.0f} ms" if values else "n/a"


def connect(port: int, source: str = ATTACKER, rcvbuf: int | None = None,
            timeout: float = 10.0) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect((HOST, port))
    return sock


def request_bytes(method: str, path: str, body: bytes = b"", headers: str = "",
                  host: str = HOST) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}"
    if body or method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def exchange(port: int, data: bytes, source: str = HOST, timeout: float = 30.0
             ) -> tuple[int | str, dict[str, str], bytes]:
    """Send ``data`` on a new connection, read one response (until the server closes or
    Content-Length is read): (status, headers, body)."""
    try:
        with contextlib.closing(connect(port, source, timeout=timeout)) as sock:
            sock.sendall(data)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    return ("closed" if not received else "malformed"), {}, received
                received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "-1"))
            while length < 0 or len(body) < length:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                body += chunk
            return int(lines[0].split()[1]), headers, body
    except (OSError, ValueError) as exc:
        return type(exc).__name__, {}, b""


class HealthProbe:
    """GET /api/v1/health on a new connection every PROBE_EVERY_S, from 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.times: list[float] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            status, _, _ = exchange(self.port, request_bytes(
                "GET", "/api/v1/health", headers="Connection: close\r\n"), timeout=10)
            if status == 200:
                self.times.append(time.perf_counter() - start)
            else:
                self.failed += 1
            self._stop.wait(max(0.0, PROBE_EVERY_S - (time.perf_counter() - start)))

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        return (f"health p50 {pct(self.times, 50)}, p99 {pct(self.times, 99)}, "
                f"{self.failed} of {len(self.times) + self.failed} failed")


def hammer(clients: int, seconds: float, one: Callable[[int], Any]) -> list[Any]:
    """``clients`` threads calling ``one(i)`` in a loop for ``seconds``: every result."""
    results: list[Any] = []
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))

    def loop() -> None:
        while time.monotonic() < stop:
            results.append(one(next(counter)))

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------------------------------------
# 1. data.words: split in the server process before any limit.

WORDS_BODY = b'{"data":{"words":"' + b"a " * 1_499_000 + b'a"}}'


def attack_words(exe: Path) -> None:
    print(f"\n-- 1. data.words: {len(WORDS_BODY):,}-byte bodies of 1,499,001 words --")
    with Server(exe) as server:
        data = request_bytes("POST", "/api/v1/trace", WORDS_BODY)
        idle = rss_bytes(server.pid)
        cpu = server.worker_cpu()
        with Sampler(server, 0.02) as sampled:
            status, _, body = exchange(server.port, data, ATTACKER)
        print(f"  alone: {status} {body[:100]!r}...; the worker {server.worker_cpu() - cpu:.2f}"
              f" CPU-s, peak {mb(sampled.worker)} (+{mb(sampled.worker - idle)})")
        with HealthProbe(server.port) as probe, Sampler(server) as sampled:
            results = hammer(12, 15.0, lambda i: exchange(server.port, data, ATTACKER)[0])
        time.sleep(5)
        print(f"  12 clients for 15 s: {dict(Counter(map(str, results)))}; the worker idle "
              f"{mb(idle)}, peak {mb(sampled.worker)}, all processes peak {mb(sampled.tree)}; "
              f"{probe.summary()}; the worker 5 s later {mb(rss_bytes(server.pid))}")


# ---------------------------------------------------------------------------------------------
# 2. Readers that stall: a large response never read, or read a trickle at a time.

def large_response_request() -> bytes:
    """A full-detail trace of about 7 MB (near BPTT_MAX_RESPONSE_BYTES), sent without gzip."""
    body = orjson.dumps({"cell": "lstm", "hidden_size": 20, "detail": "full",
                         "data": {"text": ("abcdefghij" * 7)[:61]}})
    return request_bytes("POST", "/api/v1/trace", body)


def attack_stalled(exe: Path, clients: int = 60) -> None:
    print(f"\n-- 2. readers that stall: {clients} clients with a 4 KB receive buffer that never "
          f"read a ~7 MB response; one that reads 1 KB a second --")
    with Server(exe) as server:
        data = large_response_request()
        status, _, body = exchange(server.port, data)
        print(f"  the response: {status}, {len(body):,} bytes")
        idle = rss_bytes(server.pid)
        socks = []
        for _ in range(clients):
            sock = connect(server.port, rcvbuf=4096)
            sock.sendall(data)
            socks.append(sock)
        trickle = connect(server.port, source=HOST, rcvbuf=4096)
        trickle.sendall(data)
        started = time.monotonic()
        trickled = 0
        trickle_closed = None
        for mark in (5, 15, 30, 60):
            while time.monotonic() - started < mark:
                with contextlib.suppress(TimeoutError, BlockingIOError):
                    trickle.settimeout(0.5)
                    if trickle_closed is None:
                        try:
                            chunk = trickle.recv(1024)
                        except ConnectionResetError:
                            chunk = b""
                        if not chunk:
                            trickle_closed = time.monotonic() - started
                        trickled += len(chunk)
                time.sleep(0.5)
            held, queued = server.established()
            print(f"  after {mark:2d} s: the server holds {held} connections, {mb(queued)} in "
                  f"their kernel send queues; the worker {mb(rss_bytes(server.pid))} (idle "
                  f"{mb(idle)}); the trickle reader "
                  + (f"cut off at {trickle_closed:.0f} s" if trickle_closed is not None
                     else f"still served ({trickled:,} bytes read)"))
        for sock in [*socks, trickle]:
            sock.close()


# ---------------------------------------------------------------------------------------------
# 6. Connections per client, bodies that stall, and the log.

def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def attack_connections(exe: Path, most: int = 6000, bodies: int = 200) -> None:
    limit = raise_file_limit()
    most = min(most, limit - 200)
    print(f"\n-- 6. one client opening up to {most:,} connections (from {ATTACKER}); then "
          f"{bodies} bodies of 3 MB stalled before their last bytes --")
    with Server(exe) as server:
        lines = server.log_lines()
        socks: list[socket.socket] = []
        with HealthProbe(server.port) as probe:
            for _ in range(most):
                try:
                    socks.append(connect(server.port, timeout=2))
                except OSError:
                    break
            time.sleep(5.0)  # the server accepts (and refuses) the backlog meanwhile
            held, _ = server.established()
        print(f"  opened {len(socks):,}; held by the server 5 s later (an idle connection is "
              f"closed at 10 s): {held:,}; meanwhile {probe.summary()}")
        for sock in socks:
            sock.close()
        time.sleep(1)
        idle = rss_bytes(server.pid)
        size = 3_000_000
        head = request_bytes("POST", "/api/v1/trace")[:-2].replace(b"Content-Length: 0",
                                                                 f"Content-Length: {size}".encode())
        stalled = []
        with HealthProbe(server.port) as probe, Sampler(server) as sampled:
            for _ in range(bodies):
                with contextlib.suppress(OSError):
                    sock = connect(server.port, timeout=5)
                    sock.sendall(head + b"\r\n" + b" " * (size - 1000))
                    stalled.append(sock)
            time.sleep(12)
        print(f"  {bodies} stalled bodies ({len(stalled)} sent): the worker idle {mb(idle)}, "
              f"peak {mb(sampled.worker)} (+{mb(sampled.worker - idle)}); {probe.summary()}")
        for sock in stalled:
            sock.close()
        time.sleep(1)
        total, access = server.log_lines()
        print(f"  log lines written during this attack: {total - lines[0]:,}, besides the "
              f"access log's line per request answered: {total - lines[0] - access + lines[1]:,}")


# ---------------------------------------------------------------------------------------------
# 5. The largest response the limits accepted.

def largest_response_body() -> dict[str, Any]:
    """An LSTM H=24 in BPTT(1, 134) over 134 steps of 8 inputs (the issue's 61 MB trace)."""
    text = "".join("abcdefgh"[(i * 3) % 8] for i in range(135))
    return {"cell": "lstm", "hidden_size": 24, "truncation": {"k1": 1, "k2": 134},
            "data": {"text": text}}


def attack_response(exe: Path) -> None:
    print("\n-- 5. the largest response: /trace LSTM H=24, BPTT(1, 134), 134 steps of 8 "
          "inputs --")
    # a long deadline: the size and CPU are the figures here, not the deadline
    with Server(exe, {"BPTT_COMPUTE_DEADLINE_S": "60"}) as server:
        data = request_bytes("POST", "/api/v1/trace", orjson.dumps(largest_response_body()),
                             headers="Accept-Encoding: gzip\r\n")
        cpu, worker = tree_cpu_seconds(server.pid), server.worker_cpu()
        idle = rss_bytes(server.pid)
        with Sampler(server, 0.02) as sampled:
            start = time.perf_counter()
            status, headers, body = exchange(server.port, data, timeout=60)
            elapsed = time.perf_counter() - start
        raw = len(gzip.decompress(body)) if headers.get("content-encoding") == "gzip" else len(
            body)
        print(f"  {status} in {elapsed:.2f} s: {raw:,} bytes of JSON ({len(body):,} sent); "
              f"{tree_cpu_seconds(server.pid) - cpu:.2f} CPU-s in all, "
              f"{server.worker_cpu() - worker:.2f} in the worker; the worker peak "
              f"{mb(sampled.worker)} (+{mb(sampled.worker - idle)})"
              + (f"; {body[:300].decode(errors='replace')}" if status != 200 else ""))


# ---------------------------------------------------------------------------------------------
# 4. Requests the cost model priced under their cost.

def underpriced() -> dict[str, tuple[str, dict[str, Any]]]:
    """The issue's /train, and a CSV export of overlapping windows."""
    letters = "".join(chr(0x61 + (i * 7) % 26) for i in range(201))
    csv_text = "".join(chr(0x61 + (i * 5) % 26) for i in range(151))
    csv = {"cell": "lstm", "truncation": {"k1": 1, "k2": 20}, "data": {"text": csv_text}}
    hidden = 20  # the largest the limits accepted before the response was bounded (issue 23)
    return {
        "/train rnn H=16 BPTT(1, 200) x 13 norms": ("/api/v1/train", {
            "cell": "rnn", "hidden_size": 16, "optimizer": {"name": "sgd", "lr": 0.01},
            "detail": "norms", "truncation": {"k1": 1, "k2": 200}, "iterations": 13,
            "data": {"text": letters}}),
        f"/export/csv lstm H={hidden} BPTT(1, 20) T=150": ("/api/v1/export/csv", {
            **csv, "hidden_size": hidden}),
    }


def attack_underpriced(exe: Path) -> None:
    print("\n-- 4. requests the cost model priced under their cost, each alone on an idle "
          "server --")
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_api import judge  # the server's own plan and cost model (this checkout's)

    with Server(exe, {"BPTT_COMPUTE_DEADLINE_S": "60"}) as server:
        for name, (path, body) in underpriced().items():
            _, cpu_estimate, mb_estimate = judge(path, body)
            time.sleep(0.5)
            cpu = tree_cpu_seconds(server.pid)
            idle = tree_rss_bytes(server.pid)
            with Sampler(server, 0.02) as sampled:
                status, _, payload = exchange(server.port, request_bytes(
                    "POST", path, orjson.dumps(body)), timeout=120)
            print(f"  {name:42s} {status}: {tree_cpu_seconds(server.pid) - cpu:.2f} CPU-s, "
                  f"+{mb(sampled.tree - idle)} (estimate {cpu_estimate:.2f} CPU-s, "
                  f"{mb_estimate:.0f} MB); {len(payload):,} bytes"
                  + (f"; {payload[:200].decode(errors='replace')}" if status != 200 else ""))


# ---------------------------------------------------------------------------------------------
# 8, 9. The protocol.

def attack_protocol(exe: Path) -> None:
    print("\n-- 8, 9. Host in redirects, and the protocol --")
    trace = orjson.dumps({"hidden_size": 3})
    cases = {
        "POST /api/v1/trace/ Host: evil.example": request_bytes(
            "POST", "/api/v1/trace/", trace, host="evil.example"),
        "GET /static Host: evil.example": request_bytes("GET", "/static", host="evil.example"),
        "GET /docs/ Host: evil.example": request_bytes("GET", "/docs/", host="evil.example"),
        "Content-Length with Transfer-Encoding": (
            b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
        "HTTP/9.9": b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n",
        "charset=utf-16 body": (
            b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json; charset=utf-16\r\n"
            + f"Content-Length: {len(trace.decode().encode('utf-16'))}\r\n\r\n".encode()
            + trace.decode().encode("utf-16")),
    }
    with Server(exe, {"BPTT_CORS_ORIGINS": "https://class.example"}) as server:
        for name, data in cases.items():
            status, headers, body = exchange(server.port, data)
            extra = f" location: {headers['location']}" if "location" in headers else ""
            print(f"  {name:42s} {status}{extra} {body[:90]!r}")
        status, headers, body = exchange(server.port, request_bytes(
            "OPTIONS", "/api/v1/trace", headers="Origin: https://evil.example\r\n"
                                                "Access-Control-Request-Method: POST\r\n"))
        print(f"  {'refused CORS preflight':42s} {status} {headers.get('content-type')} "
              f"{body[:90]!r}")


# ---------------------------------------------------------------------------------------------
# 7. Saturation: clients that retry at once on every 503.

def attack_saturation(exe: Path, seconds: float = 20.0) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_api import costliest_accepted

    costly = costliest_accepted()
    kinds = list(costly.values())
    print(f"\n-- 7. {4 * len(kinds)} clients sending the costliest accepted requests "
          f"({', '.join(c.path for c in kinds)}), and 4 that retry at once on a 503, for "
          f"{seconds:.0f} s --")
    with Server(exe) as server:
        seeds = iter(range(1, 10**9))
        statuses: Counter[str] = Counter()
        retry_after: list[int] = []
        durations: list[float] = []
        cpu = server.worker_cpu()

        def costly_client(i: int) -> None:
            kind = kinds[i % len(kinds)]
            start = time.perf_counter()
            status, headers, _ = exchange(server.port, request_bytes(
                "POST", kind.path, orjson.dumps(kind.body(next(seeds)))), timeout=60)
            statuses[f"{status}" + (" Retry-After" if "retry-after" in headers else "")] += 1
            if status == 200:
                durations.append(time.perf_counter() - start)
            if "retry-after" in headers:
                retry_after.append(int(headers["retry-after"]))
                if i % 2:  # half of them honour it, half retry at once
                    time.sleep(int(headers["retry-after"]))

        results = hammer(4 * len(kinds) + 4, seconds, costly_client)
        worker = server.worker_cpu() - cpu
        refusals = sum(v for k, v in statuses.items() if k.startswith(("503", "504")))
        print(f"  {len(results)} answers: {dict(statuses)}")
        print(f"  the worker process: {worker:.2f} CPU-s, "
              f"{worker / max(refusals, 1) * 1e3:.2f} ms per 503/504")
        if retry_after:
            print(f"  Retry-After: median {statistics.median(retry_after):.0f} s, max "
                  f"{max(retry_after)} s; the 200s took p50 "
                  f"{statistics.median(durations) if durations else float('nan'):.1f} s")


ATTACKS: dict[str, Callable[[Path], None]] = {
    "words": attack_words, "stalled": attack_stalled, "connections": attack_connections,
    "response": attack_response, "underpriced": attack_underpriced,
    "protocol": attack_protocol, "saturation": attack_saturation}


def run_attacks(exe: Path, names: list[str]) -> None:
    print(f"\n== attacks (issue 23): {exe} serve, one worker, production settings ==")
    for name in names:
        ATTACKS[name](exe)

