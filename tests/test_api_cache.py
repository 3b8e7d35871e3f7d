"""The response cache (app/serving/cache.py): identical compute requests replay the same bytes."""

import gzip
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from bptt_studio.core.settings import Settings, get_settings
from bptt_studio.main import create_app
from bptt_studio.serving.cache import ENTRY_OVERHEAD

TRACE = "/api/v1/trace"
JSON = {"Content-Type": "application/json"}
# uncompressed responses: the sizes the budget tests count are then the bodies they read
IDENTITY = {"Accept-Encoding": "identity"}
# Five small traces (about 2.5 KB each) that differ only in the last value of the series.
SMALL = [{"hidden_size": 2, "data": {"series": [0, 1, 2, v]}} for v in range(1, 6)]


def raw_post(client, path, body, encoding):
    """Status, headers and the body bytes exactly as sent (not decompressed)."""
    headers = {**JSON, "Accept-Encoding": encoding}
    with client.stream("POST", path, content=body, headers=headers) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


def without_x_cache(headers):
    return {k: v for k, v in headers.items() if k != "x-cache"}


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_a_cached_response_is_byte_identical_to_a_fresh_one(encoding):
    body = b'{"cell": "gru", "hidden_size": 5}'
    with TestClient(create_app(Settings(response_cache_bytes=0))) as uncached:
        fresh = raw_post(uncached, TRACE, body, encoding)
    with TestClient(create_app(Settings())) as client:
        miss = raw_post(client, TRACE, body, encoding)
        hit = raw_post(client, TRACE, body, encoding)
    assert (miss[1]["x-cache"], hit[1]["x-cache"]) == ("miss", "hit")
    assert fresh[0] == miss[0] == hit[0] == 200
    assert fresh[1] == without_x_cache(miss[1]) == without_x_cache(hit[1])
    assert fresh[2] == miss[2] == hit[2]
    assert ("content-encoding" in hit[1]) == (encoding == "gzip")


def test_second_identical_request_is_a_hit_with_identical_bytes(client):
    first = client.post(TRACE, json={})
    second = client.post(TRACE, json={})
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert first.content == second.content


@pytest.mark.parametrize("path", ["/api/v1/train", "/api/v1/gradcheck"])
def test_train_and_gradcheck_are_cached_too(client, path):
    body = {"hidden_size": 2, "data": {"series": [0, 1, 2, 3]}}
    first = client.post(path, json=body)
    second = client.post(path, json=body)
    assert (first.status_code, second.headers["x-cache"]) == (200, "hit")
    assert first.content == second.content


def test_a_different_body_is_a_miss(client):
    client.post(TRACE, json={})
    assert client.post(TRACE, json={"cell": "gru"}).headers["x-cache"] == "miss"


def test_the_same_json_in_other_bytes_is_a_miss(client):
    client.post(TRACE, content=b"{}", headers=JSON)
    assert client.post(TRACE, content=b"{ }", headers=JSON).headers["x-cache"] == "miss"


def test_a_body_streamed_in_chunks_hits_the_same_body_sent_whole(client):
    def chunks():
        yield b'{"data": '
        yield b'{"text": "hello"}}'

    streamed = client.post(TRACE, content=chunks(), headers=JSON)
    whole = client.post(TRACE, content=b'{"data": {"text": "hello"}}', headers=JSON)
    assert whole.headers["x-cache"] == "hit"
    assert streamed.content == whole.content


def test_the_same_body_without_json_content_type_is_still_refused(client):
    client.post(TRACE, content=b"{}", headers=JSON)
    response = client.post(TRACE, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert response.headers["x-cache"] == "miss"


def test_error_responses_are_not_cached(client):
    first = client.post(TRACE, json={"hidden_size": 0})
    second = client.post(TRACE, json={"hidden_size": 0})
    assert first.status_code == second.status_code == 422
    assert first.headers["x-cache"] == second.headers["x-cache"] == "miss"
    assert first.content == second.content


def test_get_requests_are_not_cached(client):
    client.get("/api/v1/health")
    assert "x-cache" not in client.get("/api/v1/health").headers


def test_a_hit_is_gzipped_and_carries_the_security_headers(client):
    client.post(TRACE, json={}, headers={"Accept-Encoding": "gzip"})
    hit = client.post(TRACE, json={}, headers={"Accept-Encoding": "gzip"})
    assert hit.headers["x-cache"] == "hit"
    assert hit.headers["content-encoding"] == "gzip"
    assert hit.headers["vary"] == "Accept-Encoding"
    assert "frame-ancestors 'none'" in hit.headers["content-security-policy"]
    assert hit.headers["x-content-type-options"] == "nosniff"
    assert hit.headers["x-frame-options"] == "DENY"


def test_a_gzip_client_and_an_identity_client_each_get_their_own_encoding(client):
    body = b'{"hidden_size": 3}'
    gzip_miss = raw_post(client, TRACE, body, "gzip")
    plain_miss = raw_post(client, TRACE, body, "identity")
    gzip_hit = raw_post(client, TRACE, body, "gzip")
    plain_hit = raw_post(client, TRACE, body, "identity")
    assert [r[1]["x-cache"] for r in (gzip_miss, plain_miss, gzip_hit, plain_hit)] == [
        "miss", "miss", "hit", "hit"]
    assert gzip_hit[1]["content-encoding"] == "gzip" and gzip_hit[2] == gzip_miss[2]
    assert "content-encoding" not in plain_hit[1] and plain_hit[2] == plain_miss[2]
    assert gzip.decompress(gzip_hit[2]) == plain_hit[2]


def test_budget_zero_turns_the_cache_off():
    with TestClient(create_app(Settings(response_cache_bytes=0))) as client:
        first = client.post(TRACE, json={})
        second = client.post(TRACE, json={})
    assert "x-cache" not in first.headers and "x-cache" not in second.headers
    assert first.content == second.content


def test_the_budget_is_read_from_bptt_response_cache_bytes(monkeypatch):
    monkeypatch.setenv("BPTT_RESPONSE_CACHE_BYTES", "0")
    assert Settings().response_cache_bytes == 0


def small_budget():
    """A budget that holds four of the SMALL responses but not five."""
    with TestClient(create_app(Settings(response_cache_bytes=0))) as client:
        sizes = [len(client.post(TRACE, json=body, headers=IDENTITY).content) + ENTRY_OVERHEAD
                 for body in SMALL]
    budget = 4 * max(sizes)
    assert sum(sizes) > budget
    return budget


def test_the_oldest_response_is_evicted_when_the_budget_is_full():
    with TestClient(create_app(Settings(response_cache_bytes=small_budget()))) as client:
        for body in SMALL:
            assert client.post(TRACE, json=body, headers=IDENTITY).headers["x-cache"] == "miss"
        assert client.post(TRACE, json=SMALL[-1], headers=IDENTITY).headers["x-cache"] == "hit"
        assert client.post(TRACE, json=SMALL[0], headers=IDENTITY).headers["x-cache"] == "miss"


def test_a_recently_used_response_outlives_older_ones():
    with TestClient(create_app(Settings(response_cache_bytes=small_budget()))) as client:
        for body in SMALL[:4]:
            client.post(TRACE, json=body, headers=IDENTITY)
        assert client.post(TRACE, json=SMALL[0], headers=IDENTITY).headers["x-cache"] == "hit"
        # evicts SMALL[1], now the least recently used
        client.post(TRACE, json=SMALL[4], headers=IDENTITY)
        assert client.post(TRACE, json=SMALL[0], headers=IDENTITY).headers["x-cache"] == "hit"
        assert client.post(TRACE, json=SMALL[1], headers=IDENTITY).headers["x-cache"] == "miss"


def test_a_response_over_a_quarter_of_the_budget_is_not_stored():
    # the default preset's trace is about 38 KB: over a quarter of 100 KB
    with TestClient(create_app(Settings(response_cache_bytes=100_000))) as client:
        first = client.post(TRACE, json={}, headers=IDENTITY)
        second = client.post(TRACE, json={}, headers=IDENTITY)
    assert len(first.content) + ENTRY_OVERHEAD > 100_000 // 4
    assert first.headers["x-cache"] == second.headers["x-cache"] == "miss"


def test_a_body_over_the_limit_is_still_refused_with_413(client):
    body = b'{"data": {"text": "' + b"a" * get_settings().max_body_bytes + b'"}}'
    for _ in range(2):
        response = client.post(TRACE, content=body, headers=JSON)
        assert response.status_code == 413
        assert "x-cache" not in response.headers  # answered before the cache saw it


# ---------------------------------------------------------------------------------------------
# The cache holds its budget, and one client cannot flush it for everyone.


def test_the_query_string_is_not_part_of_the_key(client):
    client.post(TRACE, json={"hidden_size": 3})
    response = client.post(TRACE + "?flush=" + "x" * 8000, json={"hidden_size": 3})
    assert response.headers["x-cache"] == "hit"


def test_varying_the_query_string_does_not_evict_anyone():
    with TestClient(create_app(Settings(response_cache_bytes=small_budget()))) as client:
        client.post(TRACE, json=SMALL[0], headers=IDENTITY)
        for flush in range(50):
            client.post(f"{TRACE}?flush={flush}", json=SMALL[1], headers=IDENTITY)
        assert client.post(TRACE, json=SMALL[0], headers=IDENTITY).headers["x-cache"] == "hit"


def test_an_entry_costs_at_most_entry_overhead_besides_its_body_whatever_the_client_sends():
    # huge Content-Type and query string: neither is kept
    code = CACHE_MEMORY_SCRIPT + "print(entry_overhead(4000, 15_000, 2_000))"
    overhead = float(run_python(code))
    assert overhead <= ENTRY_OVERHEAD


def test_resident_memory_grows_at_most_1_2_times_the_budget_under_16000_distinct_requests():
    budget = 16_000_000
    code = CACHE_MEMORY_SCRIPT + f"print(rss_growth(16_000, {budget}, 15_000))"
    growth = float(run_python(code))
    assert growth <= 1.2 * budget


def run_python(code):
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120, check=True)
    return completed.stdout.strip()


# Runs in a fresh interpreter, so its resident memory is the cache's alone: the middleware
# with an app that answers each body with a distinct 2-3 KB JSON response (the size of the
# default trace's gzip), sent `count` distinct requests with a long query string.
CACHE_MEMORY_SCRIPT = '''
import asyncio, gc, tracemalloc
from bptt_studio.serving.cache import ResponseCacheMiddleware

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

async def app(scope, receive, send):
    message = await receive()
    body = message["body"] * (2000 // len(message["body"]) + 1)
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})

async def sink(message):
    pass

async def drive(cache, count, query, content_type):
    for i in range(count):
        body = b'{"seed": %d}' % i
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        async def receive():
            return pending.pop() if pending else {"type": "http.disconnect"}
        scope = {"type": "http", "method": "POST", "path": "/api/v1/trace",
                 "query_string": b"q" * query, "headers": [
                     (b"content-type", b"application/json" + b" " * content_type),
                     (b"accept-encoding", b"gzip")]}
        await cache(scope, receive, sink)

def entry_overhead(count, query, content_type):
    cache = ResponseCacheMiddleware(app, max_bytes=10**10)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    asyncio.run(drive(cache, count, query, content_type))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    bodies = sum(len(entry.body) for entry in cache.entries.values())
    return (after - before - bodies) / len(cache.entries)

def rss_growth(count, budget, query):
    cache = ResponseCacheMiddleware(app, max_bytes=budget)
    asyncio.run(drive(cache, 10, query, 0))  # the event loop's own first allocations
    before = rss()
    asyncio.run(drive(cache, count, query, 0))
    assert cache.stored <= budget
    return rss() - before
'''
