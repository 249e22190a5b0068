"""Gateway settings: environment (``FACILITY_GATEWAY_*``) over a YAML file over defaults.

Build them with :func:`load_settings`, never at import. The YAML file must be UTF-8
with no key given twice; unknown keys are rejected; secrets are
:class:`~pydantic.SecretStr` and never logged or shown in errors. The commented
example is ``facility_gateway/gateway.example.yaml`` (``facility gateway
example-config`` prints it; a test loads it so it cannot drift).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from facility_contracts.yamlfile import YamlFileError, read_yaml
from pydantic import AwareDatetime, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from facility_gateway.errors import SettingsError
from facility_gateway.mapping import DEFAULT_MIN_EVENT_TIME

ENV_PREFIX = "FACILITY_GATEWAY_"
_FAULT_RE = re.compile(r"^exit_after_write:[1-9][0-9]*$")

Seconds = Annotated[float, Field(gt=0)]
#: Fields whose values are never shown, in errors or anywhere else.
SECRET_FIELDS = frozenset({"mqtt_password", "influx_token"})


class GatewaySettings(BaseSettings):
    """Everything the gateway needs to run; every field is described."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # --- MQTT -------------------------------------------------------------------------
    mqtt_host: str = Field("127.0.0.1", description="Broker host name or address.")
    mqtt_port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    mqtt_username: str | None = Field(None, description="Broker user name, if required.")
    mqtt_password: SecretStr | None = Field(None, description="Broker password (secret).")
    mqtt_client_id: str = Field(
        "facility-gateway-1",
        min_length=1,
        max_length=64,
        description="Fixed client id: the broker keeps this gateway's persistent session "
        "(clean_session false) under it. Unique per gateway process.",
    )
    mqtt_protocol: Literal["3.1.1", "5"] = Field(
        "3.1.1", description="MQTT protocol version (amqtt speaks 3.1.1 only)."
    )
    mqtt_keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive, s.")
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600, ge=0, description="MQTT 5 session expiry interval, s (ignored on 3.1.1)."
    )
    mqtt_tls_ca_file: Path | None = Field(
        None, description="CA certificate file; when set the connection uses TLS."
    )
    share_group: str | None = Field(
        "facility-gateways",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Shared-subscription group ($share/GROUP/...) so several gateways split "
        "the load; null for a plain subscription (brokers without $share, e.g. amqtt).",
    )

    # --- point store ------------------------------------------------------------------
    writer: Literal["influx", "embedded"] = Field(
        "influx",
        description="influx: InfluxDB v2 write API (InfluxDB 2/3, VictoriaMetrics); "
        "embedded: a local SQLite point store for the demo.",
    )
    influx_url: str = Field("http://127.0.0.1:8086", description="Base URL of the write API.")
    influx_token: SecretStr | None = Field(None, description="API token (secret).")
    influx_org: str = Field("facility", description="Organisation (InfluxDB 2).")
    influx_bucket: str = Field("facility", description="Bucket (or v1 database) written to.")
    influx_query: Literal["influxql", "victoriametrics"] = Field(
        "influxql",
        description="How existing() asks whether points are stored: InfluxQL "
        "through /query (InfluxDB 1.8+, 2.x, 3.x) or /api/v1/export (VictoriaMetrics).",
    )
    influx_gzip: bool = Field(False, description="Gzip write request bodies.")
    influx_timeout_s: Seconds = Field(10.0, description="HTTP timeout per request, s.")
    embedded_path: Path = Field(
        Path("facility-points.sqlite"), description="SQLite file of the embedded point store."
    )

    # --- dedupe -----------------------------------------------------------------------
    dedupe_url: str = Field(
        "sqlite:///facility-dedupe.sqlite",
        description="SQLAlchemy URL of the shared dedupe store: a SQLite file shared by the "
        "gateways of one machine, or postgresql+psycopg://... for several machines.",
    )
    dedupe_table_prefix: str = Field(
        "gw_", pattern=r"^[a-z][a-z0-9_]{0,30}$", description="Prefix of the dedupe table name."
    )
    dedupe_sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite dedupe durability: NORMAL survives process crashes (a power cut "
        "may lose the last commits: an event resent after it could be written twice); FULL "
        "fsyncs every commit (slower).",
    )
    dedupe_retention_days: float = Field(
        30.0,
        gt=0,
        description="Dedupe records older than this are pruned, days. An edge "
        "must not resend an event later than this.",
    )
    claim_lease_s: Seconds = Field(
        30.0,
        description="How long a claim protects an event id, s. Must exceed the point "
        "store's read-after-write lag (about 1 s for VictoriaMetrics).",
    )

    # --- batching ---------------------------------------------------------------------
    batch_size: int = Field(2000, ge=1, le=50_000, description="Events per batch, at most.")
    flush_interval_s: Seconds = Field(
        0.1, description="Longest wait for a batch to fill after its first event, s."
    )
    queue_max: int = Field(
        20_000,
        ge=1,
        description="Bound of the intake queue, messages. When full, messages "
        "are dropped unconfirmed (the edge sends them again) and counted as shed.",
    )
    retry_initial_s: Seconds = Field(0.5, description="First backoff after a store error, s.")
    retry_max_s: Seconds = Field(30.0, description="Longest backoff between retries, s.")
    worker_process: bool = Field(
        True,
        description="`facility gateway run` receives MQTT in one process and runs the "
        "pipeline (decode, dedupe, write, confirm) in a child process, using two cores; "
        "false keeps everything in one process. Memory bound: about 2 x queue_max messages.",
    )
    stop_grace_s: Seconds = Field(
        10.0,
        description="On SIGTERM, how long to keep retrying an unwritable batch before "
        "giving it up (unconfirmed, so the edge sends it again), s.",
    )

    # --- time, stats, faults ------------------------------------------------------------
    min_event_time: AwareDatetime = Field(
        DEFAULT_MIN_EVENT_TIME,
        description="Earliest plausible event time (timezone-aware; "
        "UTC recommended). Synced events before it are rejected as ts_too_old.",
    )
    stats_file: Path | None = Field(
        None, description="Counters are written here atomically as JSON."
    )
    stats_interval_s: Seconds = Field(
        10.0, description="How often counters are logged and written, s."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the `facility gateway run` command."
    )
    fault: str | None = Field(
        None,
        description="TEST ONLY fault hook, e.g. exit_after_write:N: os._exit(137) right "
        "after the Nth successful write, before marking stored and acking.",
    )

    @field_validator("share_group", "fault", "mqtt_username", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """An empty value (``FACILITY_GATEWAY_SHARE_GROUP=``) means None."""
        return None if value == "" else value

    @field_validator("fault")
    @classmethod
    def _known_fault(cls, value: str | None) -> str | None:
        if value is not None and not _FAULT_RE.match(value):
            raise ValueError("fault must look like exit_after_write:N (N >= 1)")
        return value

    @field_validator("min_event_time")
    @classmethod
    def _not_naive(cls, value: datetime) -> datetime:
        if value.tzinfo is None:  # pragma: no cover - AwareDatetime already refuses
            raise ValueError("min_event_time must be timezone-aware")
        return value


def _with_file(file_data: dict[str, Any] | None) -> type[GatewaySettings]:
    class _Loaded(GatewaySettings):
        model_config = SettingsConfigDict(title="GatewaySettings")

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if file_data is not None:
                sources.append(InitSettingsSource(settings_cls, init_kwargs=file_data))
            return tuple(sources)

    _Loaded.__name__ = GatewaySettings.__name__
    return _Loaded


def _read_file(path: Path) -> dict[str, Any]:
    """The settings in a YAML file (UTF-8, no duplicate keys, a mapping at the top).

    Raises:
        SettingsError: naming the file, and the line for YAML problems.
    """
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise SettingsError([f"{path}: {exc}"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        raise SettingsError([f"{path}: expected a mapping of settings at the top (got a {kind})"])
    return data


def _source(field: str, config_file: Path | None, overrides: dict[str, Any]) -> str:
    """Where a field's value came from: an override, the environment, or the file."""
    if field in overrides:
        return "settings"
    env = f"{ENV_PREFIX}{field}".upper()
    if any(name.upper() == env for name in os.environ):
        return f"environment {env}"
    return str(config_file) if config_file is not None else "settings"


def _problem(err: Any, config_file: Path | None, overrides: dict[str, Any]) -> str:
    """One validation error as ``SOURCE: field: message (value ...)``.

    The value is left out for an unknown key (it may be a misspelt secret such as
    ``mqtt_passwd``), hidden for secret fields, and only named by its type for a
    mapping or list.
    """
    loc = [str(p) for p in err["loc"]]
    field = loc[0] if loc else "(top level)"
    where = f"{_source(field, config_file, overrides)}: {'.'.join(loc) or field}"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown setting (check the spelling; example-config lists them)"
    if err["type"] == "missing":
        return f"{where}: setting required"
    if field in SECRET_FIELDS:
        return f"{where}: {err['msg']} (value hidden: secret)"
    if isinstance(value, dict | list):
        kind = "mapping" if isinstance(value, dict) else "list"
        return f"{where}: {err['msg']} (value: a {kind})"
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"{where}: {err['msg']} (value {shown})"


def load_settings(config_file: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Build the settings: keyword overrides > environment > YAML file > defaults.

    Args:
        config_file: optional YAML file (UTF-8) whose keys are the field names.
        **overrides: explicit values (tests).

    Raises:
        SettingsError: the file cannot be read, is not UTF-8, has a YAML syntax error or
            a duplicate key (with its line), or a value is invalid or a key unknown (one
            line per problem naming the source, the field and the value, secrets and
            unknown keys' values left out).
    """
    file_data = _read_file(Path(config_file)) if config_file is not None else None
    try:
        return _with_file(file_data)(**overrides)
    except ValidationError as exc:
        problems = [_problem(e, config_file, overrides) for e in exc.errors(include_url=False)]
        raise SettingsError(problems) from exc
