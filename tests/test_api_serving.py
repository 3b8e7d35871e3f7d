"""Serving a class: a deadline and a departed client stop the CPU work, a bounded number of
computations and a bounded queue ("busy, retry after" beyond it), health never waits, slow
clients are cut off. Against the production command where the network matters (a real
disconnect, a half-sent request), in-process otherwise."""

import asyncio
import contextlib
import itertools
import json
import statistics
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from bptt_studio import runner
from bptt_studio.main import create_app
from bptt_studio.settings import Settings
from tests.conftest import start_server, stop_server
from tests.proc_support import tree_cpu_seconds
from tests.serving_support import (
    SLOW_TEXT,
    closed_within,
    post_bytes,
    read_response,
    send_raw,
    slow_train,
)

TRAIN = "/api/v1/train"
SEEDS = itertools.count(100)
HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
CLIENT_TIMEOUT_S = 1.0
# One computation process and two places in the queue: four slow requests saturate it.
# A long deadline: on a busy machine the slow requests must not end by it here.
# The serving tests hold computations of 1.5 CPU-seconds and more, near the default cost budget
# (BPTT_MAX_CPU_SECONDS, app/limits.py): they raise it, as they do the deadline.
BUDGET = 60.0
SERVER_ENV = {"BPTT_COMPUTE_PROCESSES": "1", "BPTT_COMPUTE_QUEUE": "2",
              "BPTT_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S), "BPTT_COMPUTE_DEADLINE_S": "60",
              "BPTT_MAX_CPU_SECONDS": str(BUDGET)}


@pytest.fixture(scope="module")
def server():
    proc, base = start_server(SERVER_ENV)
    try:
        yield proc, base
    finally:
        stop_server(proc)


def cpu_during(root: int, seconds: float) -> float:
    """CPU seconds the server's process tree uses over the next ``seconds``."""
    before = tree_cpu_seconds(root)
    time.sleep(seconds)
    return tree_cpu_seconds(root) - before


def start_computing(server, seed: int):
    """A connection whose slow request is being computed (the server's CPU has moved)."""
    proc, base = server
    before = tree_cpu_seconds(proc.pid)
    sock = send_raw(base, post_bytes(TRAIN, slow_train(15, seed)))
    deadline = time.monotonic() + 20
    while tree_cpu_seconds(proc.pid) - before < 0.2:
        assert time.monotonic() < deadline, "the computation never started"
        time.sleep(0.02)
    return sock


def probe_health(base: str) -> float:
    """Seconds for GET /api/v1/health on a new connection, as a load balancer probes (a raw
    socket: an httpx client spends more than the server answering, on its TLS context)."""
    start = time.perf_counter()
    with contextlib.closing(send_raw(base, HEALTH)) as sock:
        status, _, _ = read_response(sock, timeout=10)
    assert status == 200
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# Deadline and cancellation: the CPU work stops.


def test_a_client_that_disconnects_stops_its_computation(server):
    proc, _ = server
    client = start_computing(server, seed=1)
    running = cpu_during(proc.pid, 0.5)  # about 1 CPU-second of the 1.5 is still to come
    client.close()  # the client leaves: its computation process is killed
    time.sleep(0.2)
    after = cpu_during(proc.pid, 1.0)
    assert running > 0.04  # a share of a core, however busy the machine
    assert after < 0.03  # nothing: the work stopped with the client


def test_a_computation_past_the_deadline_is_stopped_and_answered_504():
    with TestClient(create_app(Settings(compute_deadline_s=1.0, max_cpu_seconds=BUDGET))) as client:
        start = time.monotonic()
        response = client.post(TRAIN, json=slow_train(15, seed=3))  # 1.5 CPU-s, or more
        elapsed = time.monotonic() - start
        fork_server = runner.fork_server_pid()
        assert fork_server is not None
        time.sleep(0.2)
        idle_cpu = cpu_during(fork_server, 0.8)
        after = client.post(TRAIN, json={"iterations": 2, "seed": 4})
    assert response.status_code == 504
    assert elapsed < 3.0  # the deadline, after the computation processes started
    error = response.json()["detail"][0]
    assert error["type"] == "deadline_exceeded"
    assert "BPTT_COMPUTE_DEADLINE_S" in error["msg"]
    assert idle_cpu < 0.1  # the killed computation does not go on
    assert after.status_code == 200  # a new computation process took its place


def test_a_computation_over_its_memory_budget_is_refused_with_422_naming_the_setting():
    # about 80 MB: the trace of an LSTM H = 48 under BPTT(1, 2) over 200 steps (a training
    # pass keeps no record, so training is no longer the way to need memory)
    big = {"cell": "lstm", "hidden_size": 48, "data": {"text": SLOW_TEXT},
           "truncation": {"k1": 1, "k2": 2}}
    with TestClient(create_app(Settings(compute_memory_mb=32))) as client:
        response = client.post("/api/v1/trace", json=big)
        after = client.post("/api/v1/trace", json={})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert (error["loc"], error["type"]) == (["body"], "memory_limit")
    assert "BPTT_COMPUTE_MEMORY_MB" in error["msg"]
    assert after.status_code == 200


def test_an_unexpected_error_in_a_computation_is_a_500_without_its_traceback(monkeypatch,
                                                                           capsys):
    import pickle

    from bptt_studio import service

    def broken(*args):
        raise ZeroDivisionError("a secret detail")

    monkeypatch.setattr(service, "run", broken)
    kind, payload, retire = runner._run_one(pickle.dumps(("trace", None, {})), Settings())
    error = json.loads(payload)
    assert (kind, retire, error["status"], error["type"]) == (runner.ERROR, True, 500,
                                                              "internal_error")
    assert "secret" not in payload.decode()
    assert "ZeroDivisionError: a secret detail" in capsys.readouterr().err  # for the log


# ---------------------------------------------------------------------------------------------
# Bounded concurrency and queue; health never waits.


@pytest.fixture
def saturated(server):
    """The one computation process busy and both places in the queue taken."""
    proc, base = server
    # seeds never used before: a response cached by an earlier test would answer at once
    running = start_computing(server, seed=next(SEEDS))
    waiting = [send_raw(base, post_bytes(TRAIN, slow_train(15, next(SEEDS))))
               for _ in range(2)]
    time.sleep(0.3)  # validated and queued
    try:
        yield base
    finally:
        for sock in [running, *waiting]:
            sock.close()  # they leave: the queue empties, the computation is killed
        time.sleep(0.3)


# Each saturating computation takes about 1.5 CPU-seconds (longer under load): a health probe
# that waited behind one, or for a thread of the pool, would take that long. The goal itself,
# p99 <= 50 ms while saturated, is measured by `make bench-api`'s abuse scenario on a quiet
# machine; a test on a shared machine asserts the behaviour, with room for the machine's noise.
HEALTH_NEVER_WAITS_S = 0.5


def test_health_never_waits_behind_computations_while_the_worker_is_saturated(saturated):
    times = sorted(probe_health(saturated) for _ in range(100))
    assert statistics.median(times) < HEALTH_NEVER_WAITS_S / 5
    assert times[-1] < HEALTH_NEVER_WAITS_S, times[-5:]


def test_a_request_beyond_the_queue_gets_503_with_retry_after_at_once(saturated):
    start = time.monotonic()
    response = httpx.post(saturated + TRAIN, json=slow_train(15, next(SEEDS)), timeout=20)
    elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert elapsed < 0.5
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    error = response.json()["detail"][0]
    assert error["type"] == "busy"
    assert "BPTT_COMPUTE_QUEUE" in error["msg"]


def test_a_request_while_the_queue_is_full_is_answered_503_before_it_is_planned(saturated):
    # the answer is 503 whatever the request, so the worker does not plan it (a request over
    # the cost budget too: a client retrying at once on every 503 cost a plan each time)
    start = time.monotonic()
    response = httpx.post(saturated + TRAIN, json=slow_train(2000, next(SEEDS)), timeout=20)
    elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert elapsed < 0.5
    assert response.json()["detail"][0]["type"] == "busy"


def test_a_request_over_the_cost_budget_is_refused_at_once_while_computations_run(server):
    # admitted (planned, costed) in the worker, never queued behind the running computation
    running = start_computing(server, seed=next(SEEDS))
    try:
        start = time.monotonic()
        response = httpx.post(server[1] + TRAIN, json=slow_train(2000, next(SEEDS)),
                              timeout=20)
        elapsed = time.monotonic() - start
    finally:
        running.close()
    assert response.status_code == 422
    assert elapsed < 0.5
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "iterations"]
    assert "BPTT_MAX_CPU_SECONDS" in error["msg"]


def test_a_request_that_waits_longer_than_the_queue_timeout_gets_503():
    settings = Settings(compute_processes=1, compute_queue=4, queue_timeout_s=0.3,
                        max_cpu_seconds=BUDGET)

    async def two_at_once():
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.ensure_future(client.post(TRAIN, json=slow_train(15, seed=20)))
            await asyncio.sleep(0.1)
            second = await client.post(TRAIN, json=slow_train(15, seed=21))
            first.cancel()
            return second

    response = asyncio.run(two_at_once())
    assert response.status_code == 503
    assert "BPTT_QUEUE_TIMEOUT_S" in response.json()["detail"][0]["msg"]
    assert "retry-after" in response.headers


def test_head_health_is_200_with_the_headers_of_get_and_no_body(server):
    _, base = server
    with contextlib.closing(send_raw(base, HEALTH.replace(b"GET", b"HEAD"))) as sock:
        _, received, _ = closed_within(sock, 5)
    head, _, body = received.partition(b"\r\n\r\n")
    get = httpx.get(base + "/api/v1/health")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b""
    assert f"content-length: {len(get.content)}".encode() in head.lower()


# ---------------------------------------------------------------------------------------------
# Slow clients: each phase of a request has BPTT_CLIENT_TIMEOUT_S.


def test_a_client_that_sends_half_its_headers_is_answered_408_and_cut_off(server):
    _, base = server
    with contextlib.closing(send_raw(base, b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\n"
                                           b"Content-Le")) as sock:
        closed, received, after = closed_within(sock, CLIENT_TIMEOUT_S + 3)
    assert closed and after >= CLIENT_TIMEOUT_S * 0.9
    assert received.startswith(b"HTTP/1.1 408")
    assert b'"type":"client_timeout"' in received


def test_a_client_that_trickles_its_headers_is_cut_off_all_the_same(server):
    _, base = server
    start = time.monotonic()
    with contextlib.closing(send_raw(base, b"GET /api/v1/health HTTP/1.1\r\n")) as sock:
        for _ in range(int(4 * CLIENT_TIMEOUT_S / 0.2)):
            time.sleep(0.2)
            try:
                sock.sendall(b"X-A: b\r\n")
            except OSError:
                break  # the server closed the connection while the client still sent
        closed, received, _ = closed_within(sock, 1)
    assert closed and received.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - start < CLIENT_TIMEOUT_S + 2


def test_a_client_that_sends_half_its_body_is_answered_408_and_cut_off(server):
    _, base = server
    head = (b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    with contextlib.closing(send_raw(base, head + b'{"hidden_')) as sock:
        closed, received, after = closed_within(sock, CLIENT_TIMEOUT_S + 3)
    assert closed and after >= CLIENT_TIMEOUT_S * 0.9
    assert received.startswith(b"HTTP/1.1 408")
    assert b"body did not arrive" in received


def test_a_connection_that_sends_nothing_is_closed_without_a_word(server):
    _, base = server
    with contextlib.closing(send_raw(base, b"")) as sock:
        closed, received, _ = closed_within(sock, CLIENT_TIMEOUT_S + 3)
    assert closed and received == b""


def test_a_request_that_is_not_http_gets_a_json_400_with_the_security_headers(server):
    _, base = server
    with contextlib.closing(send_raw(base, b"HELLO WORLD\r\n\r\n")) as sock:
        closed, received, _ = closed_within(sock, 5)
    head, _, body = received.partition(b"\r\n\r\n")
    assert closed and head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    assert b"x-content-type-options: nosniff" in head.lower()
    assert json.loads(body)["detail"][0]["type"] == "http_invalid"


def test_the_production_command_keeps_serving_after_all_of_that(server):
    _, base = server
    assert httpx.post(base + "/api/v1/trace", json={}).status_code == 200

