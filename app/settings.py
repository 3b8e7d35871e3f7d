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
    max_backward_steps: int = Field(
        400, ge=2, description="largest number of backward steps of one pass (T for full "
                               "BPTT; more when truncation windows overlap, k2 > k1)")
    max_train_steps: int = Field(
        20_000, ge=1, description="largest iterations x backward steps of one training request")
    max_gradcheck_evaluations: int = Field(
        30_000, ge=1, description="largest number of cell steps one gradient check replays")
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
