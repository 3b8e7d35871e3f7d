"""Settings from the environment (prefix ``BPTT_``), with safe defaults.

The limits are chosen so that a request at every limit at once still finishes within about
2 s on a 2-core machine (see README, "Limits").
"""

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body")
    max_response_bytes: int = Field(
        8_000_000, ge=1024, description="largest trace response with full matrices"
    )
    response_cache_bytes: int = Field(
        64_000_000, ge=0, description="bytes of responses each worker keeps to replay identical "
                                      "compute requests (LRU); 0 = no cache")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed by CORS, comma-separated (or a JSON list); empty = off",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
