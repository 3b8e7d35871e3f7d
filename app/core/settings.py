"""Settings from the environment (prefix ``BPTT_``), with safe defaults.

The limits are chosen so that a request at every limit at once still finishes within about
2 s on a 2-core machine (see docs/API.md, "Limits"). The serving settings bound what one worker
process does at once and how long it waits for anyone (see docs/SERVING.md, "Serving a class"):

    resident memory of a worker <= parent + forkserver + compute_processes x
                                   (a computation process's idle size + compute_memory_mb)
"""

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# What BPTT_FRAME_ANCESTORS accepts, one source at a time: 'self', * (any site), or an origin:
# http(s)://, a host name or address (a leading *. for its subdomains), an optional port. Only
# these: a space or a ';' would write other sources or directives into the policy.
FRAME_SOURCE = re.compile(
    r"(?:'self'|\*|https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::(?:[0-9]{1,5}|\*))?)")


def frame_sources(values: list[str]) -> list[str]:
    """The sites allowed to frame the page, checked (a trailing "/" of an origin dropped);
    [] (nothing, or 'none' alone) for none. ValueError names a value that is not a source."""
    sources = [v[:-1] if v.endswith("/") and "://" in v else v for v in values]
    if sources == ["'none'"]:
        return []
    for source in sources:
        if not FRAME_SOURCE.fullmatch(source):
            raise ValueError(
                f"{source!r} is not a site that may frame the page: write an origin such as "
                f"https://course.example or http://localhost:8888 (no path), 'self', or * for "
                f"any site, separated by commas; or 'none' alone (the default)")
    return list(dict.fromkeys(sources))



class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BPTT_", extra="ignore")

    max_hidden_size: int = Field(64, ge=1, description="largest hidden size H")
    max_seq_len: int = Field(200, ge=2, description="largest number of timesteps T")
    max_input_size: int = Field(128, ge=1, description="largest input size D / output size K")
    max_iterations: int = Field(2000, ge=1, description="largest number of training passes")
    # The cost budget (app/serving/limits.py, engine/planning/cost.py): before any work, the
    # engine's cost model estimates each request's CPU seconds and peak memory, the response
    # included; a request over either budget is refused (422) naming the field to reduce and
    # how far.
    max_cpu_seconds: float = Field(
        2.0, gt=0, description="CPU seconds one request may take (the cost model's estimate, "
                               "calibrated to stay above what these machines measure)")
    max_memory_mb: int = Field(
        200, ge=1, description="memory one request may add to its process at its peak, in MB "
                               "(2^20 bytes; the cost model's estimate)")
    # Superseded by the cost budget, which bounds what these counts stood for; each still
    # applies when set (a deployment that tuned it keeps its bound), and is unset by default.
    max_backward_steps: int | None = Field(
        None, ge=2, description="superseded by max_cpu_seconds and max_memory_mb; when set, "
                                "also the largest number of backward steps of one pass")
    max_train_steps: int | None = Field(
        None, ge=1, description="superseded by max_cpu_seconds; when set, also the largest "
                                "iterations x backward steps of one training request")
    max_gradcheck_evaluations: int | None = Field(
        None, ge=1, description="superseded by max_cpu_seconds; when set, also the largest "
                                "number of cell steps one gradient check replays")
    # The largest request the other limits allow, written as JSON, fits: the LSTM at
    # H = 64, D = K = 128 with explicit params (57,728 numbers), h0, c0 and 200 steps of
    # real-valued inputs and targets is 109,184 numbers, 2.2 MB written compactly with
    # shortest round-trip float64s and at most 24 characters a number whatever they are
    # (2.73 MB). The schema bounds how many numbers a request may hold (app.serving.limits), so a
    # larger body holds more text, not more work.
    max_body_bytes: int = Field(3_000_000, ge=1024, description="largest request body")
    max_response_bytes: int = Field(
        8_000_000, ge=1024, description="largest trace response with full matrices"
    )
    response_cache_bytes: int = Field(
        64_000_000, ge=0, description="bytes of responses each worker keeps to replay identical "
                                      "compute requests (LRU); 0 = no cache")
    # Serving: computations run in child processes that the deadline and a departed client end
    # (app/serving/runner.py); at most compute_processes at once, compute_queue more waiting.
    compute_processes: int = Field(
        2, ge=1, le=64, description="computations running at once in each worker process, "
                                    "each in its own child process")
    compute_queue: int = Field(
        16, ge=0, le=10_000, description="requests waiting for a computation process, beyond "
                                         "those running; one more is answered 503 at once")
    queue_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="longest wait for a computation process; then 503 "
                                         "with Retry-After")
    compute_deadline_s: float = Field(
        5.0, gt=0, le=3600, description="longest computation; its process is then ended "
                                        "(the CPU work stops) and the answer is 504")
    compute_memory_mb: int = Field(
        256, ge=32, le=1_000_000, description="memory one computation may add to its "
                                              "process (its address space limit); beyond it "
                                              "the answer is 422")
    compute_max_tasks: int = Field(
        500, ge=1, description="computations a child process runs before it is replaced")
    compute_recycle_mb: int = Field(
        160, ge=32, description="a child process whose resident memory is above this after a "
                                "computation is replaced (its freed heap goes back to the "
                                "system)")
    client_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="a client must send a request's headers, then its "
                                         "body, within this many seconds each, and must not "
                                         "leave a response unread longer, else its "
                                         "connection is closed")
    client_min_rate: int = Field(
        32_768, ge=1, le=10**9, description="bytes per second a client must take its response "
                                            "at, once it stalls the server's writes: past "
                                            "client_timeout_s of grace plus the time this rate "
                                            "allows for what it took, the connection is "
                                            "dropped (a trickle does not renew the deadline)")
    max_connections: int = Field(
        2048, ge=1, le=1_000_000, description="connections each worker process holds at once; "
                                             "one more is answered 503 and closed")
    max_connections_per_client: int = Field(
        1024, ge=1, le=1_000_000, description="connections each worker process holds at once "
                                             "from one client address (a proxy listed in "
                                             "FORWARDED_ALLOW_IPS is not one client: it caps "
                                             "its own clients); one more is answered 429 and "
                                             "closed")
    # Classrooms (app/rooms/, docs/STUDIO.md "Classroom mode"): a teacher's page leads
    # students' pages.
    # One process keeps its rooms itself; with several workers or replicas every one of them
    # must see every room, so they live in Redis (pub/sub, and the state with its expiry).
    rooms_hub: Literal["memory", "redis"] = Field(
        "memory", description="where rooms live: 'memory' (this process; one worker only) or "
                              "'redis' (BPTT_ROOMS_REDIS_URL; any number of workers and "
                              "replicas)")
    rooms_redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="the Redis server of BPTT_ROOMS_HUB=redis")
    rooms_max: int = Field(
        50, ge=1, le=100_000, description="rooms open at once (in this process, or in the "
                                           "Redis server); one more is answered 429")
    rooms_max_members: int = Field(
        500, ge=1, le=100_000, description="students' pages following one room at once; one "
                                           "more is answered 429")
    rooms_max_answers: int = Field(
        3, ge=1, le=100, description="answers one student may send to one question (the last "
                                     "one counts); one more is answered 409")
    rooms_max_message_bytes: int = Field(
        16_384, ge=1024, le=1_000_000, description="largest state a teacher may send (its JSON "
                                                   "body), and so the largest event a room "
                                                   "sends; more is answered 413")
    rooms_state_per_s: int = Field(
        20, ge=1, le=10_000, description="state changes a room takes in one second (a teacher "
                                         "holding an arrow key sends about 15); more are "
                                         "answered 429 with Retry-After")
    rooms_answers_per_s: int = Field(
        500, ge=1, le=100_000, description="answers a room takes in one second, from all its "
                                           "students; more are answered 429 with Retry-After")
    rooms_idle_s: float = Field(
        1800.0, gt=0, le=7 * 86400, description="a room whose teacher's page has been gone and "
                                                "that nobody changed for this long is closed")
    rooms_heartbeat_s: float = Field(
        15.0, gt=0, le=300, description="seconds between the keep-alive comments of an event "
                                        "stream (proxies close a silent connection)")
    rooms_queue: int = Field(
        64, ge=4, le=10_000, description="events waiting for one slow client; past this its "
                                         "stream is closed (it reconnects and catches up), so "
                                         "it never holds the room up")
    rooms_log: int = Field(
        64, ge=1, le=1000, description="the last states a room keeps, so a client that "
                                         "reconnects receives each one it missed")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed by CORS, comma-separated (or a JSON list); empty = off",
    )

    frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="sites allowed to show the page in a frame (an embed on a course page), "
                    "comma-separated origins such as https://course.example, or 'self', or * "
                    "for any site; empty = none may (CSP frame-ancestors 'none')",
    )

    @field_validator("cors_origins", "frame_ancestors", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _frame_sources(cls, value: list[str]) -> list[str]:
        return frame_sources(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
