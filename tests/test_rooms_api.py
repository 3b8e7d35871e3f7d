"""The classroom's API over real HTTP (a uvicorn server as `make run` starts it), against the
in-process hub and against the Redis hub on a real redis-server: statuses, headers, the event
stream, the bounds, the QR code."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from proc_support import stop_server
from sse_support import Stream

from bptt_studio.engine.request.fields import MAX_EXAMPLES
from bptt_studio.rooms.hub import ALPHABET
from bptt_studio.rooms.models import COMPARES, NOTATIONS

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = {"BPTT_ROOMS_MAX_MEMBERS": "3", "BPTT_ROOMS_STATE_PER_S": "10",
          "BPTT_ROOMS_MAX_MESSAGE_BYTES": "2048", "BPTT_ROOMS_HEARTBEAT_S": "0.5",
          "BPTT_ROOMS_MAX_ANSWERS": "2"}
HUBS = ["memory", "redis"]


@pytest.fixture(scope="module", params=HUBS)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    from conftest import start_server

    env = {**BOUNDS, "BPTT_ROOMS_HUB": request.param}
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        redis.flush()
        env["BPTT_ROOMS_REDIS_URL"] = redis.url
    proc, base = start_server(env)
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.fixture
def room(server: str) -> dict:
    answer = httpx.post(f"{server}/api/v1/rooms")
    assert answer.status_code == 201
    return {**answer.json(), "base": f"{server}/api/v1/rooms/{answer.json()['room']}"}


def teacher(room: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {room['teacher_token']}"}


def put_state(room: dict, headers: dict | None = None, **state) -> httpx.Response:
    return httpx.put(f"{room['base']}/state", json=state,
                     headers=teacher(room) if headers is None else headers)


def test_post_rooms_opens_a_room_with_its_code_token_and_link(server):
    answer = httpx.post(f"{server}/api/v1/rooms")
    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch(f"[{ALPHABET}]{{6}}", body["room"])
    assert body["link"] == f"/?room={body['room']}"
    assert len(body["teacher_token"]) >= 40
    assert body["expires_in_s"] > 0
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("headers, status, type_", [
    ({}, 401, "room_token_missing"),
    ({"Authorization": "Bearer not-the-teachers-token"}, 403, "room_token_wrong"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "room_token_missing"),
])
def test_put_state_is_refused_to_anyone_but_the_teacher(room, headers, status, type_):
    answer = put_state(room, headers, event=3)
    assert answer.status_code == status
    assert answer.json()["detail"][0]["type"] == type_
    assert put_state(room, event=3).json()["version"] == 1  # the refused one changed nothing


def test_put_state_with_the_token_numbers_each_state(room):
    assert [put_state(room, event=n).json() for n in (1, 2)] == [
        {"room": room["room"], "version": 1}, {"room": room["room"], "version": 2}]


def test_a_state_over_the_message_size_is_413(room):
    answer = put_state(room, scenario={"data": {"text": "x" * 3000}})
    assert answer.status_code == 413
    assert "BPTT_ROOMS_MAX_MESSAGE_BYTES" in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize("state, loc", [
    ({"event": -1}, ["body", "event"]),
    ({"notation": "leibniz"}, ["body", "notation"]),
    ({"compare": "everything"}, ["body", "compare"]),
    ({"lesson": {"id": "recursion", "step": 0}}, ["body", "lesson", "step"]),
    ({"poll": {"question": "q/1", "options": 1}}, ["body", "poll", "options"]),
    ({"scenario": [1, 2]}, ["body", "scenario"]),
    ({"colour": "red"}, ["body", "colour"]),
    ({"example": -1}, ["body", "example"]),
    ({"example": MAX_EXAMPLES}, ["body", "example"]),  # a mini-batch's examples are 0..n-1
])
def test_a_malformed_state_is_422_naming_the_field(room, state, loc):
    answer = put_state(room, **state)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize("method, path", [
    ("GET", "/events"), ("PUT", "/state"), ("POST", "/answers"), ("DELETE", ""),
    ("GET", "/qr.svg?page=http://example.org/"),
])
def test_a_room_that_does_not_exist_is_404(server, method, path):
    body = {"question": "q/1", "option": 0, "student": "student01"} if method == "POST" else {}
    answer = httpx.request(method, f"{server}/api/v1/rooms/ABCDEF{path}",
                           json=body if method in ("PUT", "POST") else None,
                           headers={"Authorization": "Bearer x"})
    assert answer.status_code == 404
    assert answer.json()["detail"][0]["type"] == "room_not_found"


def test_the_event_stream_is_unbuffered_server_sent_events(room):
    with httpx.stream("GET", f"{room['base']}/events", timeout=5) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in answer.headers


def test_a_late_joiner_receives_the_teachers_place_at_once(room):
    state = {"scenario": {"cell": "lstm", "data": {"preset": "machine"}}, "event": 9,
             "notation": "d2l", "compare": "cell", "lesson": {"id": "lstm", "step": 2},
             "poll": None, "example": 2}
    put_state(room, **state)
    with Stream(f"{room['base']}/events") as stream:
        event = stream.next_event()
        assert (event.name, event.id) == ("state", "1")
        assert event.data == {"room": room["room"], "version": 1, "state": state}


def test_a_student_follows_each_step_live(room):
    with Stream(f"{room['base']}/events") as stream:
        for n in range(1, 6):
            put_state(room, event=n)
            event = stream.next_event("state")
            assert (event.data["version"], event.data["state"]["event"]) == (n, n)


def test_a_silent_stream_gets_heartbeats(room):
    with Stream(f"{room['base']}/events") as stream:
        assert stream.next(timeout=3) == "keep-alive"


def test_a_reconnecting_page_receives_each_state_it_missed(room):
    for n in range(1, 8):
        put_state(room, event=n)
    with Stream(f"{room['base']}/events", {"Last-Event-ID": "4"}) as stream:
        assert [stream.next_event("state").data["version"] for _ in range(3)] == [5, 6, 7]


def test_the_teachers_stream_shows_the_answers_live_and_a_students_does_not(room):
    put_state(room, poll={"question": "recursion/6", "options": 2})
    with Stream(f"{room['base']}/events", teacher(room)) as lead, \
            Stream(f"{room['base']}/events") as student:
        assert lead.next_event("tally").data["members"] in (0, 1)
        answer = httpx.post(f"{room['base']}/answers", json={
            "question": "recursion/6", "option": 1, "student": "a-random-id-1"})
        assert answer.json() == {"room": room["room"], "question": "recursion/6", "option": 1,
                                 "answers_left": 1}
        deadline = time.monotonic() + 5
        tally = None
        while time.monotonic() < deadline and (tally is None or tally["counts"] != [0, 1]):
            tally = lead.next_event("tally").data
        assert tally == {"room": room["room"], "question": "recursion/6", "counts": [0, 1],
                         "answered": 1, "members": 1}
        put_state(room, event=1)
        assert student.next_event().name == "state"  # the first event: its state, no tally
        assert student.next_event().data["version"] == 2


def test_an_events_request_with_a_wrong_token_is_403(room):
    with Stream(f"{room['base']}/events", {"Authorization": "Bearer wrong"}) as stream:
        assert stream.response.status_code == 403


def test_answers_close_when_the_teacher_reveals(room):
    poll = {"question": "q/1", "options": 3}
    put_state(room, poll=poll)
    body = {"question": "q/1", "option": 2, "student": "student-0001"}
    assert httpx.post(f"{room['base']}/answers", json=body).status_code == 200
    put_state(room, poll={**poll, "revealed": True})
    answer = httpx.post(f"{room['base']}/answers", json=body)
    assert answer.status_code == 409
    assert answer.json()["detail"][0]["type"] == "question_closed"


def test_a_student_past_the_answers_bound_is_409(room):
    put_state(room, poll={"question": "q/1", "options": 3})
    body = {"question": "q/1", "option": 2, "student": "student-0001"}
    statuses = [httpx.post(f"{room['base']}/answers", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 409]


@pytest.mark.parametrize("body", [
    {"question": "q/1", "option": 0, "student": "short"},
    {"question": "q/1", "option": 0, "student": "has spaces in it"},
    {"question": "q/1", "option": -1, "student": "student-0001"},
    {"question": "q/1", "option": 0, "student": "student-0001", "name": "Ana"},
])
def test_an_answer_that_names_a_person_or_is_malformed_is_422(room, body):
    put_state(room, poll={"question": "q/1", "options": 3})
    assert httpx.post(f"{room['base']}/answers", json=body).status_code == 422


def test_a_full_room_is_429_with_retry_after(room):
    streams = [Stream(f"{room['base']}/events") for _ in range(3)]
    try:
        for stream in streams:
            assert stream.next() == "keep-alive"  # admitted
        with Stream(f"{room['base']}/events") as one_more:
            assert one_more.response.status_code == 429
            assert int(one_more.response.headers["retry-after"]) >= 1
    finally:
        for stream in streams:
            stream.close()


def test_state_changes_past_the_rate_are_429_with_retry_after(room):
    limit = int(BOUNDS["BPTT_ROOMS_STATE_PER_S"])
    accepted = 0
    started = time.monotonic()
    with httpx.Client(headers=teacher(room)) as client:
        for n in range(2000):
            answer = client.put(f"{room['base']}/state", json={"event": n})
            if answer.status_code != 200:
                break
            accepted += 1
        elapsed = time.monotonic() - started
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == "1"
        # however fast this machine sends: at most `limit` in each second the sending touched
        assert accepted <= limit * (int(elapsed) + 2)
        time.sleep(1.05)
        assert client.put(f"{room['base']}/state", json={}).status_code == 200


def test_ending_the_class_tells_every_page_and_closes_the_room(room):
    with Stream(f"{room['base']}/events") as stream:
        assert httpx.delete(room["base"]).status_code == 401
        assert httpx.delete(room["base"], headers=teacher(room)).status_code == 204
        event = stream.next_event("end")
        assert event.data == {"room": room["room"], "reason": "ended"}
        assert stream.next() is None
    assert put_state(room, event=1).status_code == 404


def test_a_room_code_is_read_in_any_case(room):
    lower = room["base"].rsplit("/", 1)[0] + "/" + room["room"].lower()
    assert httpx.put(f"{lower}/state", json={}, headers=teacher(room)).status_code == 200


def decode_qr(svg: bytes) -> str:
    """The text of a QR code drawn as segno's SVG path (one row of runs per line)."""
    import zxingcpp

    text = svg.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', text).group(1))
    grid = np.ones((size, size), dtype=np.uint8) * 255
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', text) or \
        re.search(r'd="(M[^"]+)"[^>]*class="qrline"', text)
    x = y = 0.0
    for command, number, extra in re.findall(r"([Mmh])(-?\d+(?:\.\d+)?)(?:[ ,](-?\d+(?:\.\d+)?))?",
                                             path.group(1)):
        if command == "M":
            x, y = float(number), float(extra)
        elif command == "m":
            x, y = x + float(number), y + float(extra)
        else:
            grid[int(y), int(x):int(x + float(number))] = 0
            x += float(number)
    image = np.kron(grid, np.ones((8, 8), dtype=np.uint8))
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found in the SVG"
    return found[0].text


def test_the_qr_code_holds_the_rooms_link_on_the_teachers_page(room):
    page = "http://192.168.1.20:8000/"
    answer = httpx.get(f"{room['base']}/qr.svg", params={"page": page})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert decode_qr(answer.content) == f"{page}?room={room['room']}"


@pytest.mark.parametrize("page", ["javascript:alert(1)", "http://x/?a=1", "/relative/",
                                  "http://x/#frag", "http://" + "x" * 600 + "/"])
def test_the_qr_code_of_anything_but_a_page_address_is_422(room, page):
    answer = httpx.get(f"{room['base']}/qr.svg", params={"page": page})
    assert answer.status_code == 422


def test_the_openapi_document_names_every_rooms_route_and_refusal(server):
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    expected = {("/api/v1/rooms", "post"): {"201", "429"},
                ("/api/v1/rooms/{room}/state", "put"): {"200", "401", "403", "404", "413",
                                                        "422", "429"},
                ("/api/v1/rooms/{room}/answers", "post"): {"200", "404", "409", "413", "429"},
                ("/api/v1/rooms/{room}/events", "get"): {"200", "401", "403", "404", "429"},
                ("/api/v1/rooms/{room}", "delete"): {"204", "401", "403", "404"},
                ("/api/v1/rooms/{room}/qr.svg", "get"): {"200", "404", "422"}}
    for (path, method), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (path, method)


@pytest.mark.parametrize("name, values, source", [
    ("NOTATIONS", NOTATIONS, "static/js/text/notation.js"),
    ("COMPARES", COMPARES, "static/js/state/state.js"),
])
def test_the_states_names_are_the_pages_own_registries(name, values, source):
    text = (ROOT / source).read_text()
    listed = re.search(rf"export const {name} = \[([^\]]*)\]", text).group(1)
    assert tuple(re.findall(r'"([^"]+)"', listed)) == values


def test_the_server_refuses_one_room_more_than_its_bound_with_retry_after():
    from conftest import start_server

    proc, base = start_server({"BPTT_ROOMS_MAX": "2"})
    try:
        statuses = [httpx.post(f"{base}/api/v1/rooms") for _ in range(3)]
        assert [a.status_code for a in statuses] == [201, 201, 429]
        assert int(statuses[-1].headers["retry-after"]) >= 1
    finally:
        stop_server(proc)

