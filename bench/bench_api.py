"""Load benchmark of the JSON API (`make bench-api`), on loopback only, bounded in time.

Starts the server with the production command (`bptt-studio serve`) on a free loopback port,
then for each scenario:
  - the response size, raw and gzipped;
  - one client, one request at a time: the latency of a request on an idle server;
  - 16 concurrent clients for at most DURATION seconds and MAX_REQUESTS requests: p50/p99
    latency, throughput and errors. Clients accept gzip, as browsers do.
Scenarios: (a) the default preset trace; (b) an LSTM with H = 64 over T = 100 steps (a
101-character text over a 27-symbol vocabulary) with detail "norms". Every figure is printed
next to its goal with PASS or MISS. The load client is a small asyncio HTTP/1.1 client with
keep-alive connections (it shares the 2 cores with the server, so it is kept lean).

Each scenario is measured three ways: one client; 16 users each sending a request every
second (a class clicking through the studio); 16 clients in a closed loop (saturation).

Each worker count is measured twice: with the response cache on (the default, production:
every client sends the same body, so after the first request every figure is a cache hit, as
when a class opens the same shared link) and with it off (BPTT_RESPONSE_CACHE_BYTES=0: every
request is computed). Each line says how many of its responses were cache hits (X-Cache).

Then, on an idle server, the time of single requests at the server's limits (goal: about 2 s
each), and an in-process breakdown of scenario (b): where the time goes.

Then the abuse scenarios (one worker, production settings). First the requests the cost model
refuses (the issue's 40 CPU-second /train, its 670 MB BPTT(1, 2) /trace, a long small /train):
each alone (status, wall time, the server's CPU seconds and peak memory) and 20 times in a row
(the 422 must come at once: p50/p99). Then the costliest requests the default limits accept,
found with the plan's cost estimate (engine/cost.py, the server's own judge) at the largest
sizes, per endpoint: /train (the most iterations), /trace and /export/csv (the largest hidden
size, BPTT(1, 2) or full), /gradcheck: each alone, with its estimate, and the CPU seconds of
the costliest one. Then 24 costly clients at once for ABUSE_SECONDS (six per endpoint, a new
seed in every request so the response cache never answers) while a probe opens a new
connection to GET /api/v1/health every 100 ms as a load balancer would, and a refused request
is sent every 0.5 s: health p50/p99, the status counts per endpoint, the refused requests'
statuses and latency while the worker is saturated, the server's peak resident memory (the
worker, its fork server and its computation processes) and, 5 s after the clients stopped,
its memory (by process) and CPU use (work nobody waits for any more must have stopped). A
guard kills the server if its memory passes --rss-cap, so a server without bounds cannot take
the machine down.

    .venv/bin/python bench/bench_api.py [--workers 1,2] [--cache on,off] [--duration 8]
                                        [--only load,limits,breakdown,abuse]
                                        [--abuse-duration 20] [--quick]
                                        [--server PATH-TO-bptt-studio] [--rss-cap-mb 6000]

``--quick`` checks the benchmark itself in about a minute (one worker, cache on, 2 s loads,
6 s of abuse); its figures are not the benchmark's.

``--server`` runs another installation's ``bptt-studio`` (an older checkout, to compare); the
default is this one's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gzip
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import serve, stop_server  # noqa: E402
from proc_support import rss_bytes, tree_cpu_seconds, tree_pids, tree_rss_bytes  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import ATTACKS, run_attacks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
CLIENTS = 16
DURATION_S = 8.0
MAX_REQUESTS = 20_000
IDLE_REQUESTS = 30
IDLE_SECONDS = 6.0

GOAL_PRESET_P50_MS = 10.0
GOAL_LSTM_MS = 60.0
GOAL_LSTM_BYTES = 3_000_000
GOAL_LSTM_GZIP_BYTES = 1_000_000
GOAL_LIMIT_S = 2.0


def lstm_request() -> dict:
    alphabet = "abcdefghijklmnopqrstuvwxyz "
    rng = np.random.default_rng(0)
    text = "".join(alphabet[i] for i in rng.permutation(np.arange(101) % 27))
    assert len(set(text)) == 27 and len(text) == 101
    return {"cell": "lstm", "hidden_size": 64, "data": {"text": text}, "detail": "norms"}


SCENARIOS = {
    "(a) default preset trace": {},
    "(b) LSTM H=64 T=100 trace, detail norms": lstm_request(),
}


# ---------------------------------------------------------------------------------------------
# A lean HTTP/1.1 client: one keep-alive connection per simulated client.


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()

    async def post(self, path: str, body: bytes, gzip_ok: bool) -> tuple[int, bytes, dict]:
        assert self.reader is not None and self.writer is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Accept-Encoding: {'gzip' if gzip_ok else 'identity'}\r\n\r\n")
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            payload = b"".join(parts)
        else:
            payload = await self.reader.read()
        return status, payload, headers


async def sizes(port: int, body: bytes) -> tuple[int, int]:
    conn = Connection(port)
    await conn.open()
    _, raw, _ = await conn.post("/api/v1/trace", body, gzip_ok=False)
    _, packed, headers = await conn.post("/api/v1/trace", body, gzip_ok=True)
    await conn.close()
    assert headers.get("content-encoding") == "gzip", headers
    assert gzip.decompress(packed) == raw
    return len(raw), len(packed)


def is_hit(headers: dict) -> bool:
    return headers.get("x-cache") == "hit"


async def idle_latencies(port: int, body: bytes) -> tuple[list[float], int]:
    """Latencies of one client's requests, one at a time, and how many were cache hits."""
    conn = Connection(port)
    await conn.open()
    times = []
    hits = 0
    deadline = time.perf_counter() + IDLE_SECONDS
    await conn.post("/api/v1/trace", body, gzip_ok=True)  # warm-up
    while len(times) < IDLE_REQUESTS and time.perf_counter() < deadline:
        start = time.perf_counter()
        _, _, headers = await conn.post("/api/v1/trace", body, gzip_ok=True)
        times.append(time.perf_counter() - start)
        hits += is_hit(headers)
    await conn.close()
    return times, hits


async def load(port: int, body: bytes, duration: float,
               interval: float | None) -> tuple[list[float], int, int, float]:
    """16 clients for ``duration`` seconds (at most MAX_REQUESTS requests in all).

    ``interval`` None: closed loop, each client sends its next request as soon as the last is
    answered (saturation). Otherwise each client starts a request every ``interval`` seconds
    (a user clicking once a second), the clients' starts spread over the first interval; a
    request that takes longer than the interval delays the next one.
    """
    latencies: list[float] = []
    errors = 0
    hits = 0
    started = time.perf_counter()
    deadline = started + duration

    async def client(index: int) -> None:
        nonlocal errors, hits
        conn = Connection(port)
        await conn.open()
        next_start = started + (interval * index / CLIENTS if interval else 0.0)
        try:
            while len(latencies) + errors < MAX_REQUESTS:
                if interval:
                    await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
                    next_start += interval
                if time.perf_counter() >= deadline:
                    break
                start = time.perf_counter()
                try:
                    status, _, headers = await conn.post("/api/v1/trace", body, gzip_ok=True)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    await conn.close()
                    conn = Connection(port)
                    await conn.open()
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                    hits += is_hit(headers)
                else:
                    errors += 1
        finally:
            await conn.close()

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return latencies, errors, hits, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# The server, started as in production.

SERVER = Path(sys.executable).parent / "bptt-studio"


def start_live_server(env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``SERVER serve`` on a free loopback port, once it answers /api/v1/health."""
    return serve(SERVER, env={**os.environ, **env_extra}, cwd=ROOT, timeout_s=60)


def start_server(workers: int, cache: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    """The production command (bptt-studio serve) with WEB_CONCURRENCY workers, as the test
    suite starts it; once it answers, the other workers get a moment to start too. ``cache``
    False sets BPTT_RESPONSE_CACHE_BYTES=0; True leaves the environment's setting."""
    env = {"WEB_CONCURRENCY": str(workers)}
    if not cache:
        env["BPTT_RESPONSE_CACHE_BYTES"] = "0"
    proc, base = start_live_server(env)
    time.sleep(1.0 if workers > 1 else 0.2)
    return proc, int(base.rsplit(":", 1)[1])


# ---------------------------------------------------------------------------------------------
# Reporting.


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def hit_note(hits: int, count: int) -> str:
    if hits == count:
        return "all cache hits"
    return "no cache hits" if hits == 0 else f"{hits} of {count} cache hits"


def run_scenarios(workers: int, duration: float, cache: bool) -> None:
    proc, port = start_server(workers, cache)
    setting = ("on (default; every request after the first is a hit)" if cache
               else "off (BPTT_RESPONSE_CACHE_BYTES=0)")
    try:
        print(f"\n== {workers} worker(s): bptt-studio serve --port {port} "
              f"(WEB_CONCURRENCY={workers}), {CLIENTS} concurrent clients, "
              f"{duration:.0f} s per load, response cache {setting} ==")
        for name, request in SCENARIOS.items():
            body = orjson.dumps(request)
            raw, packed = asyncio.run(sizes(port, body))
            idle, idle_hits = asyncio.run(idle_latencies(port, body))
            idle50 = statistics.median(idle) * 1e3
            goal = GOAL_PRESET_P50_MS if name.startswith("(a)") else GOAL_LSTM_MS
            print(f"\n{name}, cache {'on' if cache else 'off'}")
            print(f"  response: {raw:,} bytes raw, {packed:,} gzipped")
            print(f"  1 client, one request at a time:     p50 {idle50:7.1f} ms "
                  f"({len(idle)} requests, {hit_note(idle_hits, len(idle))})   "
                  f"goal p50 <= {goal:.0f} ms {verdict(idle50 <= goal)}")
            for label, interval in ((f"{CLIENTS} users, 1 request/s each:", 1.0),
                                    (f"{CLIENTS} clients, closed loop:", None)):
                latencies, errors, hits, elapsed = asyncio.run(
                    load(port, body, duration, interval))
                p50 = percentile(latencies, 50) * 1e3
                p99 = percentile(latencies, 99) * 1e3
                rate = len(latencies) / elapsed
                print(f"  {label:37s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {rate:6.1f} req/s"
                      f"  {errors} errors, {hit_note(hits, len(latencies))}   "
                      f"goal p50 <= {goal:.0f} ms {verdict(p50 <= goal)}, "
                      f"zero errors {verdict(errors == 0)}")
            if not name.startswith("(a)"):
                reference = orjson.dumps({**request, "diagnostics": False})
                plain, plain_hits = asyncio.run(idle_latencies(port, reference))
                print(f"  for reference, the same with \"diagnostics\": false, 1 client: "
                      f"p50 {statistics.median(plain) * 1e3:.1f} ms "
                      f"({hit_note(plain_hits, len(plain))})")
                print(f"  goal <= 3 MB raw:     {verdict(raw <= GOAL_LSTM_BYTES)} "
                      f"({raw / 1e6:.2f} MB)")
                print(f"  goal <= 1 MB gzipped: {verdict(packed <= GOAL_LSTM_GZIP_BYTES)} "
                      f"({packed / 1e6:.2f} MB)")
    finally:
        stop_server(proc)


def largest(path: str, body_of: Callable[[int], dict], low: int, high: int) -> int:
    """The largest n in low..high whose request the default limits accept (else low)."""
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if accepted(path, body_of(middle)) else (low, middle - 1)
    return low


def limit_requests() -> dict[str, tuple[str, dict]]:
    """One request at every limit of the default settings (the sizes, and the cost budget:
    the most work it accepts), per endpoint and cell."""
    from bptt_studio.core.settings import Settings

    s = Settings()
    rng = np.random.default_rng(0)
    T, D, H = s.max_seq_len, s.max_input_size, s.max_hidden_size
    ids = rng.integers(0, D, T + 1)
    arrays = {"inputs": np.eye(D)[ids[:-1]].tolist(), "targets": ids[1:].tolist()}
    requests: dict[str, tuple[str, dict]] = {}
    for cell in ("rnn", "lstm", "gru"):
        base = {"cell": cell, "hidden_size": H, "data": arrays}
        requests[f"trace {cell} H={H} T={T} D=K={D}"] = ("/api/v1/trace", base)
        # the most backward steps the budget accepts: BPTT(1, k2), or the largest H under
        # BPTT(1, 2)
        k2 = max(2, largest("/api/v1/trace",
                            lambda k, b=base: {**b, "truncation": {"k1": 1, "k2": k}}, 1, T))
        overlap = {**base, "truncation": {"k1": 1, "k2": k2}}
        h = largest("/api/v1/trace", lambda n, b=overlap: {**b, "hidden_size": n}, 1, H)
        requests[f"trace {cell} H={h} T={T} BPTT(1,{k2})"] = (
            "/api/v1/trace", {**overlap, "hidden_size": h})
    train = {"cell": "lstm", "hidden_size": H, "data": arrays, "include_trace": True}
    passes = largest("/api/v1/train", lambda n: {**train, "iterations": n}, 1, s.max_iterations)
    requests[f"train lstm H={H} T={T} x {passes} passes + trace"] = (
        "/api/v1/train", {**train, "iterations": passes})
    small = largest("/api/v1/train", lambda n: {"iterations": n}, 1, s.max_iterations)
    requests[f"train rnn H=4 T=6 x {small}"] = ("/api/v1/train", {"iterations": small})
    # the largest gradient check the budget accepts: LSTM over a 12-character text
    check = {"cell": "lstm", "data": {"text": "abcdefghiab"[:11] + "c"}}
    hidden = largest("/api/v1/gradcheck", lambda n: {**check, "hidden_size": n}, 1, H)
    requests[f"gradcheck lstm H={hidden} T=11"] = (
        "/api/v1/gradcheck", {**check, "hidden_size": hidden})
    # the largest full-detail trace under max_response_bytes
    requests["trace lstm H=20 T=60 detail full (near the response limit)"] = (
        "/api/v1/trace", {"cell": "lstm", "hidden_size": 20,
                          "data": {"text": ("abcdefghij" * 7)[:61]}, "detail": "full"})
    return requests


def run_limits() -> None:
    proc, port = start_server(1)
    try:
        print("\n== requests at the limits: one at a time on an idle server, gzip accepted, "
              "each sent once (cache misses) ==")

        async def one(path: str, body: bytes) -> tuple[int, int, float]:
            conn = Connection(port)
            await conn.open()
            start = time.perf_counter()
            status, payload, _ = await conn.post(path, body, gzip_ok=True)
            elapsed = time.perf_counter() - start
            await conn.close()
            return status, len(payload), elapsed

        for name, (path, request) in limit_requests().items():
            status, size, elapsed = asyncio.run(one(path, orjson.dumps(request)))
            print(f"  {name:52s} {status}  {elapsed:5.2f} s  {size / 1e6:6.2f} MB gzipped  "
                  f"goal <= {GOAL_LIMIT_S:.0f} s {verdict(status == 200 and elapsed <= 2.0)}")
    finally:
        stop_server(proc)


def breakdown() -> None:
    """Where the time of scenario (b) goes, measured in-process (median of 5)."""
    from bptt_studio import engine
    from bptt_studio.core.jsonio import all_finite, dumps
    from bptt_studio.core.settings import Settings
    from bptt_studio.endpoints.detail import trace_payload
    from bptt_studio.engine.outputs.detail import with_norms

    request = {k: v for k, v in lstm_request().items() if k != "detail"}
    settings = Settings()

    def timed(fn, n=5):
        fn()
        runs = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) * 1e3

    result = engine.run_trace(request)
    payload = trace_payload(result, "norms", settings)
    body = dumps(payload)
    rows = [
        ("engine.run_trace, diagnostics off", timed(
            lambda: engine.run_trace({**request, "diagnostics": False}))),
        ("engine.run_trace, diagnostics on (default)", timed(lambda: engine.run_trace(request))),
        ("engine.detail.with_norms", timed(lambda: with_norms(result))),
        ("non_finite scan (app.core.jsonio.all_finite)", timed(lambda: all_finite(payload))),
        ("orjson serialisation", timed(lambda: dumps(payload))),
        ("gzip level 1 (the server's)", timed(lambda: gzip.compress(body, 1), 3)),
    ]
    print("\n== where the time of (b) goes, in-process, one request ==")
    for label, ms in rows:
        print(f"  {label:45s} {ms:8.1f} ms")
    sections = {key: len(dumps(payload[key])) for key in payload}
    events = payload["events"]
    forward = len(dumps([e for e in events if e["kind"] == "forward"]))
    backward = len(dumps([e for e in events if e["kind"] == "backward"]))
    print("  response bytes by field: " + ", ".join(
        f"{k} {v / 1e6:.2f} MB" for k, v in sorted(sections.items(), key=lambda kv: -kv[1])
        if v > 20_000) + f" (forward events {forward / 1e6:.2f} MB, backward events "
                         f"{backward / 1e6:.2f} MB)")


# ---------------------------------------------------------------------------------------------
# Abuse: the costliest requests the limits accept, alone and 24 at once; and refused ones.

ABUSE_CLIENTS = 24
ABUSE_SECONDS = 20.0
CLIENT_TIMEOUT_S = 30.0
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 10.0
REFUSED_EVERY_S = 0.5
REFUSED_REPEATS = 20
SETTLE_S = 5.0
GOAL_HEALTH_P99_MS = 50.0
GOAL_PEAK_RSS_MB = 1000.0
GOAL_REFUSED_P99_MS = 50.0
LARGEST = {"T": 200, "D": 128, "H": 64}  # the default limits' sizes (max_seq_len, ...)


def costly_text(T: int = 200, D: int = 128) -> str:
    """T + 1 characters over D distinct ones: T steps, D = K."""
    alphabet = [chr(0x100 + i) for i in range(D)]
    text = "".join(alphabet[(i * 37) % D] for i in range(T + 1))
    assert len(text) == T + 1 and len(set(text)) == min(D, T + 1)
    return text


# The requests the cost model refuses (each was a 200 before it, at a cost the issue measured).

def refused_train(seed: int = 0) -> dict:
    """About 40 CPU-seconds before the server had a deadline: LSTM H=64, T=200, D=K=128,
    an update every step (k1 = 1), Adam, 100 passes."""
    return {"cell": "lstm", "hidden_size": 64, "data": {"text": costly_text()},
            "truncation": {"k1": 1}, "optimizer": {"name": "adam"}, "iterations": 100,
            "seed": seed}


def refused_trace(seed: int = 0) -> dict:
    """390-670 MB before the server bounded memory: the same sizes in BPTT(1, 2)."""
    return {"cell": "lstm", "hidden_size": 64, "data": {"text": costly_text()},
            "truncation": {"k1": 1, "k2": 2}, "seed": seed}


def refused_long_train(seed: int = 0) -> dict:
    """Small in memory but about 11 CPU-seconds: an LSTM H=16 updated after every step over
    200 characters, 100 passes."""
    text = ("the quick brown fox jumps over the lazy dog " * 5)[:201]
    return {"cell": "lstm", "hidden_size": 16, "data": {"text": text},
            "truncation": {"k1": 1}, "optimizer": {"name": "adam"}, "iterations": 100,
            "seed": seed}


REFUSED = {"/train LSTM H=64 T=200 k1=1 Adam x 100": ("/api/v1/train", refused_train),
           "/trace LSTM H=64 T=200 BPTT(1, 2)": ("/api/v1/trace", refused_trace),
           "/train LSTM H=16 T=200 k1=1 Adam x 100": ("/api/v1/train", refused_long_train)}


# The costliest requests the default limits accept, found with the plan's cost estimate.

# path -> (the plan's task, the response's form)
JUDGED: dict[str, tuple[Any, Any]] = {
    "/api/v1/trace": ("trace", "json"), "/api/v1/train": ("train", "json"),
    "/api/v1/gradcheck": ("gradcheck", "json"), "/api/v1/export/csv": ("trace", "csv")}


def judge(path: str, body: dict) -> tuple[bool, float, float]:
    """(accepted by the default limits, estimated CPU seconds, estimated peak MB): the plan
    and cost model the server itself judges the request with (app/serving/limits.py)."""
    from bptt_studio import engine
    from bptt_studio.core.errors import ApiError
    from bptt_studio.core.settings import Settings
    from bptt_studio.endpoints.endpoint import REQUEST_FIELDS
    from bptt_studio.engine.planning.cost import estimate
    from bptt_studio.serving import limits

    s = Settings()
    task, form = JUDGED[path]
    options = {k: v for k, v in body.items() if k not in REQUEST_FIELDS}
    request = {k: v for k, v in body.items() if k in REQUEST_FIELDS}
    job = engine.plan(request, task=task, iterations=options.get("iterations", 100),
                      include_trace=options.get("include_trace", False))
    output = limits.response(s, form, options.get("detail", "auto"))
    cost = estimate(job.work, output)
    try:
        limits.check(job, s, output)
    except (engine.RequestError, ApiError):  # a 422, or a 413 for the response's size
        return False, cost.cpu_seconds, cost.peak_bytes / limits.MB
    return True, cost.cpu_seconds, cost.peak_bytes / limits.MB


def accepted(path: str, body: dict) -> bool:
    """Whether the default limits (the cost budget included) accept this request."""
    return judge(path, body)[0]


class Costly:
    """One kind of costly request: ``body(seed)`` (every seed a different request, so the
    response cache never answers it) and what the cost model estimates for it."""

    def __init__(self, name: str, path: str, body: Callable[[int], dict]) -> None:
        self.name, self.path, self.body = name, path, body
        _, self.cpu, self.mb = judge(path, body(0))


def _largest_body(path: str, body_of: Callable[[int], dict], low: int, high: int
                  ) -> dict | None:
    """body_of(n) for the largest n in low..high the limits accept, or None."""
    if not accepted(path, body_of(low)):
        return None
    return body_of(largest(path, body_of, low, high))


def costliest_accepted() -> dict[str, Costly]:
    """Per endpoint, the accepted request the cost model says costs the most CPU (memory on a
    tie), among the limits' largest shapes: every cell, full BPTT and BPTT(1, 2), at T = 200,
    D = K = 128, each pushed to the most iterations (/train) or the largest hidden size
    (/trace, /export/csv, /gradcheck) the budget accepts."""
    T, D, H = LARGEST["T"], LARGEST["D"], LARGEST["H"]
    text = costly_text(T, D)
    found: dict[str, list[tuple[float, float, str, dict]]] = {}

    def consider(kind: str, path: str, label: str, body: dict | None) -> None:
        if body is not None:
            _, cpu, mb = judge(path, body)
            found.setdefault(kind, []).append((cpu, mb, label, body))

    for cell in ("rnn", "lstm", "gru"):
        for schedule, truncation in (("full", None), ("BPTT(1, 2)", {"k1": 1, "k2": 2})):
            base = {"cell": cell, "hidden_size": H, "data": {"text": text},
                    **({"truncation": truncation} if truncation else {})}
            train = {**base, "optimizer": {"name": "adam", "lr": 0.01}}
            body = _largest_body("/api/v1/train", lambda n, b=train: {**b, "iterations": n},
                                 1, 2000)
            consider("train", "/api/v1/train",
                     f"/train {cell} H={H} T={T} D=K={D} {schedule} Adam x "
                     f"{body['iterations'] if body else 0}", body)
            for kind, path in (("trace", "/api/v1/trace"), ("csv", "/api/v1/export/csv")):
                body = _largest_body(path, lambda h, b=base: {**b, "hidden_size": h}, 1, H)
                route = "/trace" if kind == "trace" else "/export/csv"
                consider(kind, path, f"{route} {cell} H={body['hidden_size'] if body else 0} "
                                     f"T={T} D=K={D} {schedule}", body)
        # a gradient check moves every parameter entry: the largest H over 20 steps
        check = {"cell": cell, "data": {"text": costly_text(20, 20)}}
        body = _largest_body("/api/v1/gradcheck", lambda h, b=check: {**b, "hidden_size": h},
                             1, H)
        consider("gradcheck", "/api/v1/gradcheck",
                 f"/gradcheck {cell} H={body['hidden_size'] if body else 0} T=20 D=K=20", body)
    chosen = {}
    for kind, options in found.items():
        _, _, label, body = max(options, key=lambda o: (o[0], o[1]))
        chosen[kind] = Costly(label, JUDGED_PATHS[kind],
                              lambda seed, b=body: {**b, "seed": seed})
    return chosen


JUDGED_PATHS = {"train": "/api/v1/train", "trace": "/api/v1/trace",
                "gradcheck": "/api/v1/gradcheck", "csv": "/api/v1/export/csv"}


class Guard:
    """Samples the server's memory (its whole process tree) and kills it past ``cap``.

    In a thread of its own: listing /proc takes tens of milliseconds on a busy machine, and
    on the event loop it would delay the health probes it sits beside."""

    def __init__(self, proc: subprocess.Popen[bytes], cap_bytes: int) -> None:
        self.proc = proc
        self.cap = cap_bytes
        self.peak = 0
        self.peak_worker = 0  # the worker process alone
        self.peak_children = 0  # its fork server and computation processes
        self.killed_at = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        self.peak = self.peak_worker = self.peak_children = 0

    def sample(self) -> int:
        rss = tree_rss_bytes(self.proc.pid)
        worker = rss_bytes(self.proc.pid)
        self.peak = max(self.peak, rss)
        self.peak_worker = max(self.peak_worker, worker)
        self.peak_children = max(self.peak_children, rss - worker)
        if rss > self.cap and not self.killed_at:
            self.killed_at = rss
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        return rss

    def start(self, every: float = 0.2) -> None:
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(every):
                self.sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def memory_by_role(root: int) -> str:
    """The resident memory of the worker, its fork server and its computation processes."""
    pids = tree_pids(root)
    worker = rss_bytes(root)
    children = [pid for pid in pids if pid != root]
    # the fork server is the worker's child; the computation processes are its children
    server = [pid for pid in children if parent_of(pid) == root]
    computing = [pid for pid in children if pid not in server]
    return (f"worker {worker / 1e6:.0f} MB, fork server "
            f"{sum(rss_bytes(p) for p in server) / 1e6:.0f} MB, {len(computing)} computation "
            f"processes {sum(rss_bytes(p) for p in computing) / 1e6:.0f} MB")


def parent_of(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(text[text.rindex(")") + 2:].split()[1])


async def probe_health(port: int) -> float | None:
    """Seconds for GET /api/v1/health on a new connection, or None past PROBE_TIMEOUT_S."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(f"GET /api/v1/health HTTP/1.1\r\nHost: {HOST}\r\n"
                         f"Connection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            await reader.read()
            writer.close()
    except (TimeoutError, OSError):
        return None
    return time.perf_counter() - start if b" 200 " in status else None


async def one_request(port: int, path: str, body: bytes,
                      timeout: float) -> tuple[int | str, float, dict]:
    conn = Connection(port)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await conn.open()
            status, _, headers = await conn.post(path, body, gzip_ok=True)
    except TimeoutError:
        return "client timeout", time.perf_counter() - start, {}
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return "connection error", time.perf_counter() - start, {}
    finally:
        await conn.close()
    return status, time.perf_counter() - start, headers


def status_label(status: int | str, headers: dict) -> str:
    label = str(status)
    if status == 503 and "retry-after" in headers:
        label += " (with Retry-After)"
    return label


async def alone(proc: subprocess.Popen[bytes], port: int, name: str, path: str, request: dict,
                guard: Guard, estimate: tuple[float, float] | None = None) -> float:
    """One request on an idle server: its status, wall time, the server's CPU seconds and
    peak memory (the whole process tree); the CPU seconds are returned."""
    await asyncio.sleep(0.5)  # the previous request's process has settled (trim, recycle)
    cpu = tree_cpu_seconds(proc.pid)
    guard.reset()
    base = guard.sample()
    guard.start(0.05)
    status, elapsed, _ = await one_request(port, path, orjson.dumps(request), 150.0)
    guard.stop()
    used = tree_cpu_seconds(proc.pid) - cpu
    planned = (f"   (estimate {estimate[0]:.2f} CPU-s, {estimate[1]:.0f} MB)" if estimate
               else "")
    print(f"  {name:52s} {status}  {elapsed:5.2f} s  {used:5.2f} CPU-s  peak "
          f"{guard.peak / 1e6:5.0f} MB (+{(guard.peak - base) / 1e6:.0f}){planned}")
    return used


async def refused_latencies(port: int) -> None:
    """Each refused request sent REFUSED_REPEATS times, one at a time (new seeds): the 422
    must come at once."""
    for name, (path, make) in REFUSED.items():
        times: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        for seed in range(REFUSED_REPEATS):
            status, elapsed, headers = await one_request(port, path, orjson.dumps(make(seed)),
                                                         CLIENT_TIMEOUT_S)
            statuses[status_label(status, headers)] += 1
            times.append(elapsed)
        p50, p99 = percentile(times, 50) * 1e3, percentile(times, 99) * 1e3
        ok = set(statuses) == {"422"} and p99 <= GOAL_REFUSED_P99_MS
        print(f"  {name:52s} {dict(statuses)}  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms   "
              f"goal 422, p99 <= {GOAL_REFUSED_P99_MS:.0f} ms {verdict(ok)}")


async def flood(proc: subprocess.Popen[bytes], port: int, duration: float, guard: Guard,
                costly: dict[str, Costly]) -> None:
    """ABUSE_CLIENTS clients sending the costliest accepted requests in turn (each kind to as
    many clients; a new seed each time), a health probe every PROBE_EVERY_S on a new
    connection, and a refused request every REFUSED_EVERY_S."""
    statuses: dict[str, collections.Counter[str]] = {k: collections.Counter() for k in costly}
    answered: dict[str, list[float]] = {k: [] for k in costly}
    probes: list[float | None] = []
    refused: list[tuple[str, float]] = []
    seeds = iter(range(1, 10**9))
    kinds = list(costly)
    stop = time.perf_counter() + duration

    async def client(index: int) -> None:
        kind = kinds[index % len(kinds)]
        path, make = costly[kind].path, costly[kind].body
        while time.perf_counter() < stop and not guard.killed_at:
            status, elapsed, headers = await one_request(
                port, path, orjson.dumps(make(next(seeds))), CLIENT_TIMEOUT_S)
            statuses[kind][status_label(status, headers)] += 1
            if status == 200:
                answered[kind].append(elapsed)
            if status == 503:
                await asyncio.sleep(float(headers.get("retry-after", 1)))

    async def prober() -> None:
        while time.perf_counter() < stop and not guard.killed_at:
            tick = time.perf_counter()
            probes.append(await probe_health(port))
            await asyncio.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - tick)))

    async def refuser() -> None:
        path, make = REFUSED["/train LSTM H=64 T=200 k1=1 Adam x 100"]
        await asyncio.sleep(min(2.0, duration / 4))  # once the clients fill the queue
        while time.perf_counter() < stop and not guard.killed_at:
            tick = time.perf_counter()
            status, elapsed, headers = await one_request(
                port, path, orjson.dumps(make(next(seeds))), CLIENT_TIMEOUT_S)
            refused.append((status_label(status, headers), elapsed))
            await asyncio.sleep(max(0.0, REFUSED_EVERY_S - (time.perf_counter() - tick)))

    idle = guard.sample()
    guard.reset()
    guard.start()
    clients = [asyncio.ensure_future(client(i)) for i in range(ABUSE_CLIENTS)]
    await asyncio.gather(prober(), refuser(), asyncio.sleep(duration))
    for task in clients:  # the clients leave, whatever they were waiting for
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    left = time.perf_counter()
    cpu = tree_cpu_seconds(proc.pid)
    await asyncio.sleep(SETTLE_S)
    settle_cpu = (tree_cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - left)
    guard.stop()
    after = guard.sample() if not guard.killed_at else 0
    health = [p for p in probes if p is not None]
    p50 = percentile(health, 50) * 1e3
    p99 = percentile(health, 99) * 1e3
    lost = len(probes) - len(health)
    per_kind = ABUSE_CLIENTS // len(kinds)
    total = sum(sum(c.values()) for c in statuses.values())
    print(f"\n  {ABUSE_CLIENTS} costly clients for {duration:.0f} s ({per_kind} per kind, every "
          f"request different): {total} answers")
    for kind in kinds:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses[kind].items()))
        times = answered[kind]
        wall = (f"; 200s in p50 {percentile(times, 50):.1f} s, max {max(times):.1f} s"
                if times else "")
        print(f"    {costly[kind].name}: {counts or 'no answer'}{wall}")
    print(f"    GET /api/v1/health, a new connection every {PROBE_EVERY_S * 1e3:.0f} ms: "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(health, default=0) * 1e3:.0f} ms, "
          f"{lost} of {len(probes)} unanswered within {PROBE_TIMEOUT_S:.0f} s   "
          f"goal p99 <= {GOAL_HEALTH_P99_MS:.0f} ms, none lost "
          f"{verdict(p99 <= GOAL_HEALTH_P99_MS and lost == 0)}")
    if refused:
        refusals = collections.Counter(label for label, _ in refused)
        waits = [elapsed for _, elapsed in refused]
        r99 = percentile(waits, 99) * 1e3
        print(f"    a refused request every {REFUSED_EVERY_S:.1f} s meanwhile (the /train the "
              f"cost model refuses): {dict(refusals)}, p50 {percentile(waits, 50) * 1e3:.0f} ms, "
              f"p99 {r99:.0f} ms   goal 422 at once (p99 <= {GOAL_REFUSED_P99_MS:.0f} ms) "
              f"{verdict(set(refusals) == {'422'} and r99 <= GOAL_REFUSED_P99_MS)}")
    if guard.killed_at:
        print(f"    memory: the guard KILLED the server at {guard.killed_at / 1e6:.0f} MB "
              f"(idle {idle / 1e6:.0f} MB)   goal peak <= {GOAL_PEAK_RSS_MB:.0f} MB MISS")
        return
    print(f"    memory (worker + fork server + computation processes): idle "
          f"{idle / 1e6:.0f} MB, peak {guard.peak / 1e6:.0f} MB (the worker at most "
          f"{guard.peak_worker / 1e6:.0f} MB, the fork server and computation processes at "
          f"most {guard.peak_children / 1e6:.0f} MB), {SETTLE_S:.0f} s after the load "
          f"{after / 1e6:.0f} MB ({memory_by_role(proc.pid)})   goal peak <= "
          f"{GOAL_PEAK_RSS_MB:.0f} MB {verdict(guard.peak <= GOAL_PEAK_RSS_MB * 1e6)}")
    print(f"    CPU after the clients left: {settle_cpu:.2f} CPU-s per s over {SETTLE_S:.0f} s "
          f"(work nobody waits for)   goal < 0.2 {verdict(settle_cpu < 0.2)}")


def run_abuse(duration: float, rss_cap: int) -> None:
    costly = costliest_accepted()
    proc, base = start_live_server({})
    port = int(base.rsplit(":", 1)[1])
    guard = Guard(proc, rss_cap)
    try:
        print(f"\n== abuse: {SERVER} serve --port {port}, one worker, production settings; "
              f"memory guard {rss_cap / 1e6:.0f} MB ==")
        print(f"  idle: {memory_by_role(proc.pid)}")
        print("\n  requests the cost model refuses (BPTT_MAX_CPU_SECONDS, BPTT_MAX_MEMORY_MB), "
              "alone:")
        for name, (path, make) in REFUSED.items():
            asyncio.run(alone(proc, port, name, path, make(0), guard))
        asyncio.run(refused_latencies(port))
        print("\n  the costliest requests the default limits accept (the plan's cost estimate "
              "at the largest sizes), alone:")
        used = {kind: asyncio.run(alone(proc, port, c.name, c.path, c.body(0), guard,
                                        (c.cpu, c.mb)))
                for kind, c in costly.items()}
        top = max(used, key=lambda k: used[k])
        print(f"  the costliest accepted request measured: {costly[top].name}, "
              f"{used[top]:.2f} CPU-s of the server   goal <= about 2 CPU-s "
              f"{verdict(used[top] <= 2.0 * 1.25)}")
        print(f"  after those: {memory_by_role(proc.pid)}")
        asyncio.run(flood(proc, port, duration, guard, costly))
    finally:
        stop_server(proc)


def main() -> int:
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2",
                        help="comma-separated worker counts to measure (default 1,2)")
    parser.add_argument("--cache", default="on,off",
                        help="response cache settings to measure each worker count with: on "
                             "(the default setting), off (BPTT_RESPONSE_CACHE_BYTES=0); "
                             "default on,off")
    parser.add_argument("--duration", type=float, default=DURATION_S,
                        help="seconds of load per scenario (at most 60)")
    parser.add_argument("--only", default="load,limits,breakdown,abuse,attacks",
                        help="which parts to run, comma-separated (default: all)")
    parser.add_argument("--skip-limits", action="store_true")
    parser.add_argument("--attacks", default=",".join(ATTACKS),
                        help=f"which attacks of the attacks part (default: {','.join(ATTACKS)})")
    parser.add_argument("--server", type=Path, default=SERVER,
                        help="the bptt-studio command to measure (default: this checkout's)")
    parser.add_argument("--abuse-duration", type=float, default=ABUSE_SECONDS,
                        help="seconds of the 24 costly clients (at most 60)")
    parser.add_argument("--rss-cap-mb", type=float, default=6000,
                        help="kill the server if its memory passes this (default 6000)")
    parser.add_argument("--quick", action="store_true",
                        help="check the benchmark in about a minute: one worker, cache on, "
                             "2 s loads, 6 s of abuse (not figures to quote)")
    args = parser.parse_args()
    if args.quick:
        args.workers, args.cache, args.duration, args.abuse_duration = "1", "on", 2.0, 6.0
    SERVER = args.server
    parts = {part.strip() for part in args.only.split(",")}
    if args.skip_limits:
        parts.discard("limits")
    duration = min(max(args.duration, 1.0), 60.0)
    load1, load5, _ = os.getloadavg()
    print(f"bench-api: {os.cpu_count()} CPUs, loopback {HOST}; load average before: "
          f"{load1:.2f} (1 min), {load5:.2f} (5 min) -- other work on the machine skews "
          f"every figure below")
    caches = [c.strip() for c in args.cache.split(",")]
    if not set(caches) <= {"on", "off"}:
        parser.error("--cache takes on, off or on,off")
    if "load" in parts:
        for workers in (int(w) for w in args.workers.split(",")):
            for cache in caches:
                run_scenarios(workers, duration, cache == "on")
    if "limits" in parts:
        run_limits()
    if "breakdown" in parts:
        breakdown()
    if "abuse" in parts:
        run_abuse(min(max(args.abuse_duration, 1.0), 60.0), int(args.rss_cap_mb * 1e6))
    if "attacks" in parts:
        run_attacks(SERVER, [name.strip() for name in args.attacks.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
