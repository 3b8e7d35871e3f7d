"""The resident memory a worker and its processes stay under, whatever the load, term by term.

Each term is a bound the serving machinery keeps (the queue's bytes, the bodies being
received, the responses held by stalled clients, the computation processes' address space,
...) or a size measured on these machines; docs/serving-memory.md writes the arithmetic, and
tests/test_deploy.py holds it and the deployments' memory limits to each other.
"""

from __future__ import annotations

from bptt_studio.core.settings import Settings
from bptt_studio.serving.body import RECEIVING_BYTES
from bptt_studio.serving.limits import largest_response_bytes, max_request_numbers
from bptt_studio.serving.protocol import STALLED_BYTES
from bptt_studio.serving.runner import MB, QUEUE_BYTES

# A worker's memory, measured on these machines (docs/SERVING.md, "Serving a class"), in MiB:
WORKER_IDLE_MB = 70  # the worker process, idle (65 measured)
FORK_SERVER_MB = 55  # the fork server (51 measured)
CHILD_IDLE_MB = 130  # a computation process's address space before it computes (125 measured)
# The worker's objects per byte of a waiting request's pickled task: its raw body, the parsed
# JSON, the validated model, the split dicts and the task (6.5x measured without the body;
# 7.5x for requests of 110,000 to 280,000 numbers, 8x with the body).
OBJECTS_PER_TASK_BYTE = 10
# A number of a request in its pickled task (a float64: one opcode and 8 bytes).
PICKLED_NUMBER_BYTES = 9
# Copies of a response the worker holds while it sends it: the bytes from the computation
# process, and the transport's copy of what the kernel has not taken yet (gzip's output, when
# the client accepts gzip, is under half of the first).
RESPONSE_COPIES = 2.5
# orjson's peak while it parses a body, per byte of the body (39 MB for a 3 MB body of one
# long string, measured with tracemalloc); bodies are parsed one at a time, on the event loop.
PARSE_PEAK_PER_BODY_BYTE = 13
# A connection's own buffers: h11's incomplete headers (at most 16 KB) and uvicorn's body
# buffer (paused past 64 KB).
CONNECTION_KB = 80


def request_in_flight_mb(settings: Settings) -> float:
    """What the worker holds for a running computation's request until its reply: the most
    numbers the schema lets a request hold (``limits.max_request_numbers``) as objects
    (24 MiB at the default limits; 18 MiB measured for such a request, 7.5 for the largest
    real one). The schema, not BPTT_MAX_BODY_BYTES, bounds it."""
    return (OBJECTS_PER_TASK_BYTE * PICKLED_NUMBER_BYTES * max_request_numbers(settings)
            / MB)


def memory_terms_mb(settings: Settings) -> dict[str, float]:
    """The resident memory (MiB) of a worker's process tree, term by term, whatever the load:
    docs/serving-memory.md writes the arithmetic, tests/test_deploy.py holds the two and the
    deployments' limits to each other."""
    processes = settings.compute_processes
    response = largest_response_bytes(settings) / MB
    return {
        "worker, idle": WORKER_IDLE_MB,
        "response cache": 1.2 * settings.response_cache_bytes / MB,
        "requests waiting": OBJECTS_PER_TASK_BYTE * QUEUE_BYTES / MB,
        "requests running": processes * request_in_flight_mb(settings),
        "responses being sent": processes * RESPONSE_COPIES * response,
        "responses held by stalled clients": STALLED_BYTES / MB,
        "bodies being received": 2 * RECEIVING_BYTES / MB,
        "a body being parsed": PARSE_PEAK_PER_BODY_BYTE * settings.max_body_bytes / MB,
        "connections": settings.max_connections * CONNECTION_KB / 1024,
        # each room keeps its last BPTT_ROOMS_LOG states, each at most the largest message
        # (its students' streams share them, and are connections above)
        "classrooms": (settings.rooms_max * settings.rooms_log
                       * settings.rooms_max_message_bytes / MB),
        "fork server": FORK_SERVER_MB,
        "computation processes": processes * (CHILD_IDLE_MB + settings.compute_memory_mb),
    }


def memory_bound_mb(settings: Settings) -> float:
    """The resident memory (MiB) a worker and its processes stay under, whatever the load:
    the sum of ``memory_terms_mb``."""
    return sum(memory_terms_mb(settings).values())
