"""Settings of the Forest-compatible service (environment variables prefixed FORESTD_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .compat import CompatMode


class ForestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORESTD_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///forestd.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    grpc_address: str = Field(default="127.0.0.1:50051", description="host:port to listen on")
    nats_url: str | None = Field(
        default="nats://127.0.0.1:4222",
        description="core NATS for forest.* nudges; empty disables publishing and listening",
    )
    service_token: str | None = Field(
        default=None,
        description="bearer token that acts as Forest's service account (the bot's reads)",
    )
    sweep_interval_seconds: float = Field(default=5.0, gt=0, description="coordinator sweep")
    run_migrations: bool = Field(default=True, description="alembic upgrade head on start-up")
    runner_enabled: bool = Field(default=True, description="run releases in-process")
    max_message_bytes: int = Field(default=64 * 1024 * 1024, description="gRPC message cap")
    compat: CompatMode = Field(
        default="intended",
        description="'forest' reproduces the real Forest's gaps (forestd/compat.py)",
    )
