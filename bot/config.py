"""The bot's settings: environment variables (or a `.env` file), validated once at start-up.

Slack's own names are used where Slack's docs use them (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_APP_TOKEN); everything else is FOREST_BOT_*. A missing or malformed setting is reported as
one line naming the variable (`ConfigError`), never as a pydantic traceback.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["socket", "http"]


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the environment variable."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr = Field(
        validation_alias=_env("SLACK_BOT_TOKEN"), description="the bot token (xoxb-...)"
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SLACK_SIGNING_SECRET"),
        description="verifies Slack's requests in HTTP mode",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SLACK_APP_TOKEN"),
        description="app-level token (xapp-...) for Socket Mode",
    )
    slack_api_url: str | None = Field(
        default=None,
        validation_alias=_env("SLACK_API_URL"),
        description="Slack Web API base URL (default Slack's; the sandbox's in dev)",
    )
    mode: Mode = Field(
        default="socket",
        validation_alias=_env("FOREST_BOT_MODE"),
        description="socket (needs SLACK_APP_TOKEN) or http (needs SLACK_SIGNING_SECRET)",
    )
    http_host: str = Field(default="0.0.0.0", validation_alias=_env("FOREST_BOT_HTTP_HOST"))
    http_port: int = Field(
        default=3000,
        validation_alias=_env("FOREST_BOT_HTTP_PORT"),
        description="HTTP mode: /slack/events; both modes: /healthz and /metrics",
    )
    forest_address: str = Field(
        default="127.0.0.1:50051",
        validation_alias=_env("FOREST_ADDRESS"),
        description="Forest's gRPC address (host:port)",
    )
    forest_service_token: SecretStr = Field(
        validation_alias=_env("FOREST_SERVICE_TOKEN"),
        description="Forest service-account key: the bot's reads",
    )
    forest_web_url: str | None = Field(
        default=None,
        validation_alias=_env("FOREST_WEB_URL"),
        description="Forest's web app, for links (token page, releases)",
    )
    nats_url: str | None = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=_env("FOREST_BOT_NATS_URL"),
        description="core NATS carrying Forest's forest.* subjects ('' to run without)",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///forest-bot.db",
        validation_alias=_env("FOREST_BOT_DATABASE_URL"),
        description="sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    token_key: SecretStr = Field(
        validation_alias=_env("FOREST_BOT_TOKEN_KEY"),
        description="Fernet key encrypting linked users' tokens (forest-bot keygen)",
    )
    event_subscription: str = Field(
        default="forest-slack",
        validation_alias=_env("FOREST_BOT_EVENT_SUBSCRIPTION"),
        description="name of the bot's durable EventService subscription per organisation",
    )
    reconcile_seconds: float = Field(
        default=120.0,
        gt=0,
        validation_alias=_env("FOREST_BOT_RECONCILE_SECONDS"),
        description="how often every open message is re-read from Forest anyway",
    )
    refresh_workers: int = Field(
        default=4, ge=1, le=64, validation_alias=_env("FOREST_BOT_REFRESH_WORKERS")
    )
    chat_updates_per_minute: int = Field(
        default=50,
        ge=0,
        validation_alias=_env("FOREST_BOT_CHAT_UPDATES_PER_MINUTE"),
        description=(
            "the workspace's chat.update budget (Slack's Tier 3: 50); the refresher paces its "
            "updates to it, keeping a fifth for clicked and finished releases; 0: no pacing"
        ),
    )
    replica_name: str = Field(
        default="",
        max_length=64,
        validation_alias=_env("FOREST_BOT_REPLICA_NAME"),
        description="this replica's name in refresh leases and logs (default: host and pid)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=_env("FOREST_BOT_LOG_FORMAT")
    )

    @field_validator("nats_url", "slack_api_url", "forest_web_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    def check_mode(self) -> None:
        """The credentials the chosen mode needs are there."""
        if self.mode == "socket" and self.slack_app_token is None:
            raise ConfigError(
                "SLACK_APP_TOKEN is required in Socket Mode (FOREST_BOT_MODE=socket): "
                "an app-level token xapp-... with connections:write"
            )
        if self.mode == "http" and self.slack_signing_secret is None:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (FOREST_BOT_MODE=http)"
            )


_ENV_NAMES = {
    name: (
        field.validation_alias.choices[0]
        if isinstance(field.validation_alias, AliasChoices)
        else name
    )
    for name, field in BotSettings.model_fields.items()
}


def env_name(field: str) -> str:
    """The environment variable of a settings field."""
    name = _ENV_NAMES.get(field, field)
    return name if isinstance(name, str) else field


def load_settings(**overrides: object) -> BotSettings:
    """BotSettings from the environment and `.env`, or ConfigError naming the first problem."""
    try:
        settings = BotSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        for name, env in _ENV_NAMES.items():
            if field in (name, env, str(env).lower()):
                field = str(env)
        problem = "is not set" if error["type"] == "missing" else f"is invalid: {error['msg']}"
        raise ConfigError(f"{field} {problem}") from None
    settings.check_mode()
    return settings
