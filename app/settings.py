"""Settings from the environment (prefix ``BPTT_``), with safe defaults.

The limits are chosen so that a request at every limit at once still finishes within about
2 s on a 2-core machine (see README, "Limits"). The serving settings bound what one worker
process does at once and how long it waits for anyone (see README, "Serving a class"):

    resident memory of a worker <= parent + forkserver + compute_processes x
                                   (a computation process's idle size + compute_memory_mb)
"""

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bptt_studio.security import frame_sources


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BPTT_", extra="ignore")

    max_hidden_size: int = Field(64, ge=1, description="largest hidden size H")
    max_seq_len: int = Field(200, ge=2, description="largest number of timesteps T")
    max_input_size: int = Field(128, ge=1, description="largest input size D / output size K")
    max_iterations: int = Field(2000, ge=1, description="largest number of training passes")
    # The cost budget (app/limits.py, engine/cost.py): before any work, the engine's cost
    # model estimates each request's CPU seconds and peak memory, the response included;
    # a request over either budget is refused (422) naming the field to reduce and how far.
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
    # (2.73 MB). The schema bounds how many numbers a request may hold (app.schemas), so a
    # larger body holds more text, not more work.
    max_body_bytes: int = Field(3_000_000, ge=1024, description="largest request body")
    max_response_bytes: int = Field(
        8_000_000, ge=1024, description="largest trace response with full matrices"
    )
    response_cache_bytes: int = Field(
        64_000_000, ge=0, description="bytes of responses each worker keeps to replay identical "
                                      "compute requests (LRU); 0 = no cache")
    # Serving: computations run in child processes that the deadline and a departed client end
    # (app/runner.py); at most compute_processes at once, compute_queue more waiting.
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
