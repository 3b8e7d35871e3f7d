"""Clients that hold the server's resources (issue 23): readers that stall, a client that opens
connection after connection, stalled bodies, a flood of log lines, a Host header in a
redirect. Against the production command: the network is what matters here.

No assertion depends on the machine's speed: each waits for an event (a connection gone from
the kernel's table, a status) with a margin many times the deadline it checks."""

import contextlib
import socket
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import start_server, stop_server

CLIENT_TIMEOUT_S = 1.0
# Far more than the deadline: a busy machine delays the event loop, never by this much.
MARGIN_S = 20.0
SERVER_ENV = {"BPTT_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S)}
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
