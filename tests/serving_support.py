"""Helpers for the serving tests: raw HTTP over a socket, requests that hold a computation."""

from __future__ import annotations

import json
import socket
import time

# An LSTM trained with an update after every step over 200 characters: about 0.1 CPU-second
# per pass with H = 16 and under 50 MB, so ``slow_train(15)`` holds a computation process for
# about 1.5 CPU-seconds (inside the default limits). Each seed is a different request, so the
# response cache never answers it.
SLOW_TEXT = ("the quick brown fox jumps over the lazy dog " * 5)[:201]


def slow_train(iterations: int = 15, seed: int = 0) -> dict:
    return {"cell": "lstm", "hidden_size": 16, "data": {"text": SLOW_TEXT},
            "truncation": {"k1": 1}, "optimizer": {"name": "adam"},
            "iterations": iterations, "seed": seed}


def host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def post_bytes(path: str, body: dict, host: str = "127.0.0.1") -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


def send_raw(base: str, data: bytes) -> socket.socket:
    """A connection that has sent ``data`` (and maybe no more)."""
    sock = socket.create_connection(host_port(base), timeout=30)
    sock.sendall(data)
    return sock


def read_response(sock: socket.socket, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response (Content-Length framed, as the API sends)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes, float]:
    """(closed by the server within ``seconds``, what it sent before, after how long)."""
    sock.settimeout(0.1)
    start = time.monotonic()
    received = b""
    while time.monotonic() - start < seconds:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received, time.monotonic() - start
        if not chunk:
            return True, received, time.monotonic() - start
        received += chunk
    return False, received, time.monotonic() - start
