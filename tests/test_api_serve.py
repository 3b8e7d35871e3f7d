"""The production command: `bptt-studio serve` with several identical workers."""

import time

import httpx

from tests.conftest import start_server, stop_server


def test_serve_with_two_workers_answers_keep_alive_requests_without_delayed_ack():
    # uvicorn's own multi-worker socket leaves Nagle on: ~44 ms per keep-alive request.
    proc, base = start_server({"WEB_CONCURRENCY": "2"})
    try:
        with httpx.Client(base_url=base) as http:
            assert http.post("/api/v1/trace", json={}).status_code == 200
            times = []
            for _ in range(15):
                start = time.perf_counter()
                assert http.get("/api/v1/health").status_code == 200
                times.append(time.perf_counter() - start)
    finally:
        stop_server(proc)
    # With Nagle on, every keep-alive response waits for the client's delayed ACK (40 ms on
    # Linux): even the fastest of 15 would take that long, however fast or busy the machine.
    assert min(times) < 0.03, sorted(times)
