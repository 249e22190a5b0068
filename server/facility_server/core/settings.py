"""Server settings, read from the environment (prefix ``FACILITY_SERVER_``) by a function.

Nothing is read at import time: :func:`get_settings` builds a fresh :class:`Settings`
each call, so tests pass overrides and processes read their environment when they start.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Typed server configuration; unknown ``FACILITY_SERVER_*`` keys are ignored by the env."""

    model_config = SettingsConfigDict(env_prefix="FACILITY_SERVER_", extra="forbid")

    database_url: str = Field(
        "sqlite:///facility.db",
        description="SQLAlchemy URL: a SQLite file (embedded default) or "
        "postgresql+psycopg://user@host/db (production).",
    )
    jwt_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="HMAC key for people's JWTs; random per process when unset "
        "(tokens then die with the process).",
    )
    jwt_ttl_s: int = Field(3600, ge=60, le=86400 * 7, description="JWT lifetime, s.")
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body, bytes (413 above)."
    )
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="Broker the ingest subscribes to.")
    mqtt_client_id: str = Field(
        "facility-server", description="Client id of the persistent session."
    )
    mqtt_share_group: str = Field("server", description="Shared-subscription group for events.")
    health_tick_s: float = Field(
        5.0, gt=0, description="Seconds between device-health evaluations."
    )
    default_heartbeat_s: float = Field(
        60.0, gt=0, description="Heartbeat assumed for a device whose status gave none, s."
    )
    host: str = Field("127.0.0.1", description="API listen address.")
    port: int = Field(8000, ge=1, le=65535, description="API listen port.")


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, then apply ``overrides`` (field name -> value).

    Raises:
        pydantic.ValidationError: on a bad value or an unknown field name.
    """
    return Settings(**overrides)
