"""Server settings, read from the environment (prefix ``FACILITY_SERVER_``) by a function.

Nothing is read at import time: :func:`get_settings` builds a fresh :class:`Settings`
each call, so tests pass overrides and processes read their environment when they start.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facility_server.core.mqtt_url import parse_broker_url


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
    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker the ingest subscribes to: mqtt://[user:password@]host[:port] "
        "or mqtts:// (TLS).",
    )
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
    compliance_tick_s: float = Field(
        30.0, gt=0, description="Seconds between compliance evaluations (and outbox sends)."
    )
    compliance_settle_s: float = Field(
        180.0,
        ge=0,
        description="Seconds a check-in terminal must be back online before its silence "
        "means 'not done' (its backlog arrives first), s.",
    )
    escalate_after_s: float = Field(
        1800.0,
        ge=0,
        description="Default seconds an alert may stay unacknowledged before it goes up one "
        "level (task rules set their own); 0 = never.",
    )
    notify: bool = Field(True, description="Send notifications from this process.")
    notify_lease_s: float = Field(120.0, gt=0, description="Outbox claim lease, s.")
    notify_retry_s: float = Field(30.0, gt=0, description="First retry delay, s (doubles).")
    notify_max_attempts: int = Field(8, ge=1, description="Attempts before a message fails.")
    series_writer: Literal["none", "influx", "embedded"] = Field(
        "none", description="Where compliance_daily points go (the gateway's writers)."
    )
    influx_url: str = Field("http://127.0.0.1:8086", description="InfluxDB v2 API base URL.")
    influx_bucket: str = Field("facility", description="Bucket (database for 1.8 / VM).")
    influx_org: str = Field("facility", description="Organisation (InfluxDB 2).")
    influx_token: SecretStr | None = Field(None, description="InfluxDB API token.")
    embedded_path: str = Field(
        "facility-points.db", description="SQLite file of the embedded point store."
    )
    vitals_retention_days: int = Field(
        180,
        ge=1,
        le=3650,
        description="Days health-kiosk readings are kept before the daily purge deletes them "
        "(the shortest time the health station needs; PIPL art. 19).",
    )
    vitals_visitor_keep_s: float = Field(
        7200.0,
        ge=0,
        le=86400 * 7,
        description="Seconds after an hour's end that the salted pseudonym hashes counting "
        "its distinct kiosk members are kept (late sessions), then dropped.",
    )
    vitals_tick_s: float = Field(
        300.0, gt=0, description="Seconds between health-kiosk jobs (aggregates, purge)."
    )
    host: str = Field("127.0.0.1", description="API listen address.")
    port: int = Field(8000, ge=1, le=65535, description="API listen port.")

    @field_validator("mqtt_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, then apply ``overrides`` (field name -> value).

    Raises:
        pydantic.ValidationError: on a bad value or an unknown field name.
    """
    return Settings(**overrides)
