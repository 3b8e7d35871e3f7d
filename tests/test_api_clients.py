"""Clients that hold the server's resources (issue 23): readers that stall, a client that opens
connection after connection, stalled bodies, a flood of log lines, a Host header in a
redirect. Against the production command: the network is what matters here.

No assertion depends on the machine's speed: each waits for an event (a connection gone from
the kernel's table, a status) with a margin many times the deadline it checks."""

import contextlib
import logging
import socket
import time
from pathlib import Path

import orjson
import pytest

from bptt_studio.serving import protocol
from tests.conftest import start_server, stop_server
from tests.serving_support import read_response

CLIENT_TIMEOUT_S = 1.0
# Far more than the deadline: a busy machine delays the event loop, never by this much.
MARGIN_S = 20.0
PER_CLIENT = 8
MOST = 24
SERVER_ENV = {"BPTT_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
              "BPTT_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
              "BPTT_MAX_CONNECTIONS": str(MOST)}
# Another address on loopback: a client the server does not trust as a proxy (the default
# FORWARDED_ALLOW_IPS is 127.0.0.1), as a second machine would be.
OTHER_CLIENT = "127.0.0.2"
HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
# About 7 MB of JSON (a full-detail trace near BPTT_MAX_RESPONSE_BYTES): far more than the
# kernel's buffers of a connection hold, so a client that does not read stalls the writes.
LARGE = orjson.dumps({"cell": "lstm", "hidden_size": 20, "detail": "full",
                      "data": {"text": ("abcdefghij" * 7)[:61]}})


@pytest.fixture(scope="module")
def server():
    proc, base = start_server(SERVER_ENV)
    try:
        yield proc, int(base.rsplit(":", 1)[1])
    finally:
        stop_server(proc)


def post(path: str, body: bytes, headers: str = "", host: str = "127.0.0.1") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{headers}\r\n").encode() + body


def stalled_reader(port: int) -> socket.socket:
    """A client with a 4 KB receive buffer that asked for the large response."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(post("/api/v1/trace", LARGE))
    return sock


def server_side_open(port: int, client_port: int) -> bool:
    """Whether the kernel still has the server's end of the connection from ``client_port``
    (in any state: an orphan still sending its queue counts)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, remote = line.split()[1:3]
                if (int(local.rsplit(":", 1)[1], 16) == port
                        and int(remote.rsplit(":", 1)[1], 16) == client_port):
                    return True
    return False


def dropped_within(port: int, sock: socket.socket, seconds: float,
                   read_every: float | None = None) -> bool:
    """Whether the server drops the connection within ``seconds``; meanwhile the client reads
    1 KB every ``read_every`` seconds (None: never)."""
    client_port = sock.getsockname()[1]
    deadline = time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        if not server_side_open(port, client_port):
            return True
        if read_every is not None:
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                sock.recv(1024)
            time.sleep(read_every)
        else:
            time.sleep(0.1)
    return False


def test_a_client_that_never_reads_its_response_is_dropped_with_nothing_left_queued(server):
    _, port = server
    with contextlib.closing(stalled_reader(port)) as sock:
        assert dropped_within(port, sock, MARGIN_S)


def test_a_client_that_reads_a_trickle_does_not_renew_its_deadline(server):
    _, port = server
    with contextlib.closing(stalled_reader(port)) as sock:
        # 1 KB every 0.2 s: 5 KB/s, under the 32 KB/s a client must take its response at
        assert dropped_within(port, sock, MARGIN_S, read_every=0.2)


def test_a_client_that_reads_its_response_gets_all_of_it(server):
    _, port = server
    with contextlib.closing(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(post("/api/v1/trace", LARGE, "Connection: close\r\n"))
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) > 5_000_000 and orjson.loads(body)["detail"] == "full"


# ---------------------------------------------------------------------------------------------
# Connections: per client, in all.

def opened(port: int, count: int, source: str) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        socks.append(sock)
    return socks


def health_status(sock: socket.socket) -> int:
    sock.sendall(HEALTH)
    return read_response(sock, timeout=MARGIN_S)[0]


def settled(port: int, socks: list[socket.socket]) -> None:
    """Close ``socks`` and wait until the server has let each of them go."""
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    deadline = time.monotonic() + MARGIN_S
    while any(server_side_open(port, p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_client_past_its_connection_cap_is_answered_429_with_retry_after(server):
    _, port = server
    held = opened(port, PER_CLIENT, OTHER_CLIENT)
    try:
        (extra,) = opened(port, 1, OTHER_CLIENT)
        with contextlib.closing(extra):
            status, headers, body = read_response(extra, timeout=MARGIN_S)
        assert status == 429
        assert int(headers["retry-after"]) >= 1
        assert orjson.loads(body)["detail"][0]["type"] == "too_many_connections"
        assert all(health_status(sock) == 200 for sock in held)  # its own are served
        with contextlib.closing(socket.create_connection(("127.0.0.1", port))) as other:
            assert health_status(other) == 200  # and so is everyone else
    finally:
        settled(port, held)


def test_a_client_that_closes_its_connections_may_open_as_many_again(server):
    _, port = server
    settled(port, opened(port, PER_CLIENT, OTHER_CLIENT))
    again = opened(port, PER_CLIENT, OTHER_CLIENT)
    try:
        assert all(health_status(sock) == 200 for sock in again)
    finally:
        settled(port, again)


def test_a_proxy_in_forwarded_allow_ips_is_not_one_client_but_the_worker_has_a_cap(server):
    _, port = server
    held = opened(port, MOST, "127.0.0.1")  # the default FORWARDED_ALLOW_IPS
    try:
        assert all(health_status(sock) == 200 for sock in held)
        (extra,) = opened(port, 1, "127.0.0.1")
        with contextlib.closing(extra):
            status, headers, body = read_response(extra, timeout=MARGIN_S)
        assert (status, orjson.loads(body)["detail"][0]["type"]) == (503, "busy")
        assert "BPTT_MAX_CONNECTIONS" in orjson.loads(body)["detail"][0]["msg"]
    finally:
        settled(port, held)


# ---------------------------------------------------------------------------------------------
# Bodies being received: a budget for all of them.

def test_bodies_being_received_past_the_workers_budget_are_answered_503(server):
    _, port = server
    from bptt_studio.serving.body import RECEIVING_BYTES

    size = 3_000_000
    room = RECEIVING_BYTES // size  # bodies of 3 MB the budget holds at once
    head = (f"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    sending = opened(port, room, "127.0.0.1")
    try:
        for sock in sending:
            sock.sendall(head + b" " * 1000)  # the headers and the start of the body
        (extra,) = opened(port, 1, "127.0.0.1")
        with contextlib.closing(extra):
            extra.sendall(head + b" " * 1000)
            status, headers, body = read_response(extra, timeout=MARGIN_S)
        assert status == 503 and int(headers["retry-after"]) >= 1
        assert orjson.loads(body)["detail"][0]["type"] == "busy"
    finally:
        settled(port, sending)
    with contextlib.closing(socket.create_connection(("127.0.0.1", port))) as after:
        after.sendall(post("/api/v1/params", b"{}"))
        assert read_response(after, timeout=MARGIN_S)[0] == 200  # the budget is free again


# ---------------------------------------------------------------------------------------------
# The log.

def test_a_line_a_client_can_cause_is_logged_at_most_once_a_second(monkeypatch, caplog):
    monkeypatch.setattr(protocol.time, "monotonic", lambda: 1000.0)
    logger = logging.getLogger("tests.throttled")
    with caplog.at_level(logging.INFO, logger="tests.throttled"):
        for _ in range(1000):
            protocol.log_throttled(logger, "closing a connection: %s", "why")
        monkeypatch.setattr(protocol.time, "monotonic", lambda: 1001.5)
        protocol.log_throttled(logger, "closing a connection: %s", "why")
    assert [r.getMessage() for r in caplog.records] == [
        "closing a connection: why",
        "closing a connection: why (and 999 more like it in the last 2 s)"]


# ---------------------------------------------------------------------------------------------
# Redirects.

@pytest.mark.parametrize(("method", "path", "location"), [
    ("POST", "/api/v1/trace/", "/api/v1/trace"),
    ("GET", "/static", "/static/"),
    ("GET", "/docs/", "/docs"),
])
def test_a_redirect_never_names_the_host_the_client_sent(server, method, path, location):
    _, port = server
    body = b"{}" if method == "POST" else b""
    request = (f"{method} {path} HTTP/1.1\r\nHost: evil.example\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    with contextlib.closing(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(request)
        status, headers, _ = read_response(sock, timeout=MARGIN_S)
    assert status in (301, 302, 307, 308)
    assert headers["location"] == location


@pytest.mark.parametrize(("location", "relative"), [
    (b"http://evil.example/api/v1/trace", b"/api/v1/trace"),
    (b"https://evil.example//other.example/x?a=1", b"/other.example/x?a=1"),
    (b"/already/relative", b"/already/relative"),
])
def test_a_location_is_made_relative_with_one_leading_slash(location, relative):
    from bptt_studio.serving.security import relative as made_relative

    assert made_relative(location) == relative


# ---------------------------------------------------------------------------------------------
# Retry-After: on every 503 and 504, and truthful.

def test_a_computation_stopped_at_its_deadline_says_when_to_come_back():
    from fastapi.testclient import TestClient

    from bptt_studio.core.settings import Settings
    from bptt_studio.main import create_app
    from tests.serving_support import slow_train

    # 1.5 CPU-seconds of work against a deadline of 0.3 s: stopped on any machine
    with TestClient(create_app(Settings(compute_deadline_s=0.3, max_cpu_seconds=60))) as client:
        response = client.post("/api/v1/train", json=slow_train(15, seed=77))
    assert response.status_code == 504
    assert int(response.headers["retry-after"]) >= 1


def test_retry_after_is_the_soonest_expected_end_of_a_running_computation(monkeypatch):
    from bptt_studio.core.settings import Settings
    from bptt_studio.serving import runner

    pool = runner.ComputePool(Settings(compute_processes=2))
    monkeypatch.setattr(runner.time, "monotonic", lambda: 100.0)
    pool._task_seconds = 4.0
    pool._started = [99.0, 96.5]  # 3 s and 0.5 s left of a 4 s computation
    assert pool._retry_after() == 1
    pool._started = [98.0, 97.0]  # 2 s and 1 s left
    assert pool._retry_after() == 1
    pool._started = [99.5, 99.0]  # 3.5 s and 3 s left (the whole queue's wait said 14 s)
    assert pool._retry_after() == 3


def test_work_that_would_pass_the_deadline_under_load_is_not_started_and_says_when_to_retry():
    from fastapi.testclient import TestClient

    from bptt_studio.core.settings import Settings
    from bptt_studio.main import create_app
    from tests.serving_support import slow_train

    app = create_app(Settings(max_cpu_seconds=60))
    with TestClient(app) as client:
        pool = app.state.compute_pool
        # computations lately took 40x their estimates: a loaded machine
        pool._slowdown = 40.0
        costly = client.post("/api/v1/train", json=slow_train(15, seed=78))
        cheap = client.post("/api/v1/trace", json={"hidden_size": 2})
    assert costly.status_code == 503
    assert int(costly.headers["retry-after"]) >= 1
    error = costly.json()["detail"][0]
    assert error["type"] == "busy"
    assert "is not started" in error["msg"] and "BPTT_COMPUTE_DEADLINE_S" in error["msg"]
    assert cheap.status_code == 200  # what fits the deadline still runs


def test_an_idle_server_starts_whatever_the_cost_model_accepted():
    from bptt_studio.core.settings import Settings
    from bptt_studio.serving import runner

    pool = runner.ComputePool(Settings())
    assert not pool._would_miss_deadline(Settings().max_cpu_seconds)


def test_the_slowdown_follows_how_long_computations_take_against_their_estimates():
    from bptt_studio.core.settings import Settings
    from bptt_studio.serving import runner

    pool = runner.ComputePool(Settings())
    for _ in range(10):
        pool._learn_slowdown(estimate=1.0, wall_seconds=4.0)  # four times their estimate
    assert 3.5 < pool._slowdown <= 4.0
    assert pool._would_miss_deadline(2.0)  # 2 CPU-s would take ~8 s, past the 5 s deadline
    for _ in range(10):
        pool._learn_slowdown(estimate=1.0, wall_seconds=0.5)  # the load has gone
    assert not pool._would_miss_deadline(2.0)


# ---------------------------------------------------------------------------------------------
# What h11 lets through and HTTP/1.1 refuses.

@pytest.mark.parametrize(("request_", "status", "type_"), [
    (b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     400, "http_invalid"),
    (b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version"),
    (b"POST /api/v1/trace HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json; charset=utf-16\r\nContent-Length: 6\r\n\r\n"
     + "{}".encode("utf-16"), 400, "content_type"),
], ids=["content-length and transfer-encoding", "HTTP/9.9", "charset=utf-16"])
def test_a_request_http_refuses_is_answered_in_json(server, request_, status, type_):
    _, port = server
    with contextlib.closing(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(request_)
        answered, headers, body = read_response(sock, timeout=MARGIN_S)
    assert answered == status
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["detail"][0]["type"] == type_


def test_a_refused_cors_preflight_is_answered_in_json():
    from fastapi.testclient import TestClient

    from bptt_studio.core.settings import Settings
    from bptt_studio.main import create_app

    with TestClient(create_app(Settings(cors_origins=["https://class.example"]))) as client:
        response = client.options("/api/v1/trace", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["type"] == "cors_refused"
