"""The agent's YAML configuration, validated at load with pydantic v2.

Shape (see ``edge/examples/edge.yaml`` for a commented example)::

    agent:    {id, site, data_dir}
    mqtt:     {host, port, username, password, client_id, keepalive_s, protocol, tls?}
    outbox:   {max_inflight, ack_timeout_s, max_events}
    heartbeat_s: 60
    devices:  [{type: door_counter, id, space, port, baudrate, total_modulus, clock}, ...]

Device kinds: ``door_counter``, ``rfid_reader``, ``qr_camera`` (serial and camera
readers) and ``health_kiosk`` (kiosks publishing on the complex's local broker; see
``edge/examples/kiosk.yaml``).

Unknown keys are rejected everywhere. Devices are plug-ins chosen by their ``type``
field (a discriminated union): add a kind by adding a model to :data:`DeviceConfig`.
Secrets are :class:`~pydantic.SecretStr` and never appear in errors, reprs or logs.
A relative ``agent.data_dir`` is relative to the configuration file's folder.
Checks across fields and of the file system (one device per serial port, pyserial URLs,
a usable ``agent.data_dir``) are in :mod:`facility_edge.config_checks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from facility_contracts.envelope import TaskKind
from facility_contracts.ids import ID_PATTERN
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from facility_edge.config_checks import (
    data_dir_problems,
    duplicate_id_problems,
    serial_port_problem,
    shared_port_problems,
    shown,
)
from facility_edge.errors import ConfigError

NodeId = Annotated[str, Field(pattern=ID_PATTERN, description="id usable as an MQTT topic level")]
#: A field whose name holds one of these is a secret: its value is never shown.
_SECRET_WORDS = ("password", "passwd", "secret", "token")


def _serial_port(port: str) -> str:
    """``port`` when :func:`~facility_edge.config_checks.serial_port_problem` finds none."""
    problem = serial_port_problem(port)
    if problem is not None:
        raise PydanticCustomError("serial_port", "{problem}", {"problem": problem})
    return port


#: A serial device path or a pyserial URL whose scheme and form pyserial accepts.
SerialPort = Annotated[str, AfterValidator(_serial_port)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSection(_Section):
    """Who this agent is and where it keeps its data."""

    id: NodeId = Field(
        description="Agent id: its status topic's device level; lowercase, 1-64 chars."
    )
    site: NodeId = Field(description="Site (complex) id: the site level of every topic.")
    data_dir: Path = Field(
        description="Folder for the SQLite outbox (created if missing). Relative paths are "
        "relative to the configuration file's folder."
    )


class TlsSection(_Section):
    """TLS towards the broker; omit the section for plain TCP."""

    ca_file: Path | None = Field(None, description="PEM CA bundle; None uses the system store.")
    cert_file: Path | None = Field(None, description="PEM client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="PEM private key of the client certificate.")
    insecure: bool = Field(False, description="Skip host name verification (tests only).")


class MqttSection(_Section):
    """The broker connection (MQTT 3.1.1 or 5, QoS 1, persistent session)."""

    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(None, description="User name; None for anonymous.")
    password: SecretStr | None = Field(None, description="Password (secret, never logged).")
    client_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Fixed client id of the persistent session; default 'edge-<agent.id>'.",
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive, seconds.")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    session_expiry_s: int = Field(
        7 * 86400,
        ge=0,
        le=2**32 - 1,
        description="MQTT 5 session expiry interval, seconds (3.1.1 sessions never expire).",
    )
    tls: TlsSection | None = Field(None, description="TLS settings; omit for plain TCP.")


class OutboxSection(_Section):
    """Delivery limits of the durable outbox."""

    max_inflight: int = Field(
        300,
        ge=1,
        le=10_000,
        description="Most events sent but not yet confirmed by the gateway. After an outage "
        "the backlog drains at about this many events per round trip to the gateway: 100 "
        "drained 1,300 events/s in `facility bench edge` (target 2,000), 300 drains 4,000 and "
        "more; a larger window costs memory (each event in flight is also held by the MQTT "
        "client until the broker's PUBACK).",
    )
    ack_timeout_s: float = Field(
        30.0, gt=0, le=86_400, description="Seconds after which an unconfirmed event is sent again."
    )
    max_events: int = Field(
        1_000_000,
        ge=10,
        description="Most events kept; when full, new events are refused "
        "(status alert) and nothing unconfirmed is deleted.",
    )


class DoorCounterConfig(_Section):
    """A door counter speaking the ``DC`` v1 serial protocol (``docs/protocols.md``)."""

    type: Literal["door_counter"] = Field(description="Device kind: 'door_counter'.")
    id: NodeId = Field(description="Device id: the device level of its event and ack topics.")
    space: NodeId = Field(description="Id of the space the counter counts for (in = entering).")
    port: SerialPort = Field(
        min_length=1,
        description="Serial device path (/dev/ttyUSB0, a symlink) or any pyserial URL "
        "(loop://, socket://host:port, spy://...); one device per port.",
    )
    baudrate: int = Field(9600, gt=0, le=4_000_000, description="Line speed, bit/s.")
    total_modulus: int = Field(
        2**32, ge=2, le=2**32, description="The counter's totals wrap at this value (2**32)."
    )
    clock: Literal["edge", "device"] = Field(
        "edge",
        description="Event time source: 'edge' (board clock) or 'device' (the frame's "
        "RTC field when present and after 2020; the board clock otherwise).",
    )
    max_rtc_skew_s: float | None = Field(
        120.0,
        gt=0,
        description="With clock 'device': ignore the RTC (use the board clock) when it is "
        "more than this many seconds off the NTP-synchronised board clock, s. null trusts "
        "the RTC whatever its offset: a counter replaying its stored log.",
    )


class ButtonsConfig(_Section):
    """Task buttons of a check-in terminal: a Linux input device (gpio-keys or a keypad)."""

    device: str = Field(
        min_length=1,
        description="Input event device, e.g. /dev/input/by-path/platform-gpio-keys-event "
        "(GPIO buttons through the gpio-key overlay) or a USB keypad's event device.",
    )
    keys: dict[int, TaskKind] = Field(
        min_length=1,
        description="Linux key code -> task kind, e.g. {2: disinfection, 3: patrol} "
        "(KEY_1 = 2, KEY_2 = 3; see linux/input-event-codes.h).",
    )
    hold_s: float = Field(
        10.0, gt=0, le=300, description="A press sets the task of a tap within this many s."
    )


class _TerminalConfig(_Section):
    """Fields common to check-in terminals (RFID readers, QR cameras)."""

    id: NodeId = Field(description="Device id: the device level of its event and ack topics.")
    checkpoint: NodeId = Field(description="Registry id of the checkpoint the terminal is at.")
    space: NodeId = Field(description="Registry id of the space of the checkpoint.")
    task: TaskKind = Field(
        description="Task recorded by a check-in when no button chose another: "
        "disinfection, patrol, maintenance, activity, opening or closing."
    )
    buttons: ButtonsConfig | None = Field(
        None, description="Optional task buttons pressed before a tap; omit for none."
    )


class RfidReaderConfig(_TerminalConfig):
    """A 125 kHz RFID badge reader on a serial line (``docs/protocols.md``, RFID reader)."""

    type: Literal["rfid_reader"] = Field(description="Device kind: 'rfid_reader'.")
    port: SerialPort = Field(
        min_length=1,
        description="Serial device path (/dev/ttyUSB0, a symlink) or pyserial URL; one "
        "device per port.",
    )
    baudrate: int = Field(9600, gt=0, le=4_000_000, description="Line speed, bit/s (9600).")
    repeat_window_s: float = Field(
        2.0,
        gt=0,
        le=600,
        description="Reads of one card less than this many s after its previous read are "
        "repeats of one tap (a card held on the reader gives one check-in), s.",
    )


class QrCameraConfig(_TerminalConfig):
    """A camera reading staff QR codes (``docs/protocols.md``, QR codes); needs OpenCV."""

    type: Literal["qr_camera"] = Field(description="Device kind: 'qr_camera'.")
    source: str = Field(
        min_length=1,
        description="V4L2 device (/dev/video0, or its index '0'), an rtsp:// URL, or a "
        "video file path.",
    )
    secret: SecretStr = Field(
        min_length=16, description="The complex's QR secret (>= 16 characters; never logged)."
    )
    decode_hz: float = Field(
        5.0, gt=0, le=60, description="Most frames decoded per second (worker thread)."
    )
    hold_s: float = Field(
        3.0,
        gt=0,
        le=600,
        description="A badge seen again less than this many s after its last sighting is "
        "the same presentation (a code held in view gives one check-in), s.",
    )
    accept_static: bool = Field(
        True, description="Accept printed static codes (recorded as proof static_qr)."
    )
    width: int = Field(640, ge=160, le=4096, description="Capture width asked of a camera, px.")
    height: int = Field(480, ge=120, le=4096, description="Capture height asked, px.")
    loop: bool = Field(False, description="Play a video file again from its start (demos).")


class HealthKioskConfig(_Section):
    """Health kiosks publishing sessions on the complex's LOCAL broker
    (``docs/protocols.md``, health kiosk); the card number is replaced by a pseudonym."""

    type: Literal["health_kiosk"] = Field(description="Device kind: 'health_kiosk'.")
    id: NodeId = Field(
        description="Reader id: its state in the agent's status (devices map; each "
        "accepted kiosk's id shows the same state) and its local client id "
        "'edge-<agent.id>-<id>'. Events carry the kiosk's id instead."
    )
    broker: str = Field(
        "mqtt://127.0.0.1:1884",
        pattern=r"^mqtt://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?$",
        description="The local broker the kiosks publish to, mqtt://host:port (plain TCP "
        "on the complex's LAN; user and password below, not in the URL).",
    )
    username: str | None = Field(None, description="Local broker user name; None: anonymous.")
    password: SecretStr | None = Field(None, description="Local broker password (never logged).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive, seconds.")
    key_file: Path = Field(
        description="The complex's pseudonym key: a file of exactly 64 hex digits "
        "(`facility edge new-key`; whitespace around them allowed) or 32 raw binary bytes; "
        "mode 0600 or 0640, never readable by others."
    )
    kiosks: dict[NodeId, NodeId] = Field(
        default_factory=dict,
        description="Accepted kiosks: kiosk id -> id of the space it stands in.",
    )
    other_kiosks_space: NodeId | None = Field(
        None,
        description="Space of kiosks not listed in 'kiosks'; set, every kiosk on the local "
        "broker is accepted (kiosk/v1/+/session); null accepts the listed kiosks only.",
    )
    max_clock_ahead_s: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="A kiosk time claimed synchronised but more than this many s ahead of the "
        "synchronised board clock (or before 2020) is replaced by the board's time, s.",
    )

    @model_validator(mode="after")
    def _some_kiosk(self) -> HealthKioskConfig:
        if not self.kiosks and self.other_kiosks_space is None:
            raise ValueError("list kiosks (kiosk id: space id) or set other_kiosks_space")
        return self


def kiosk_client_id(agent_id: str, reader: HealthKioskConfig) -> str:
    """The fixed client id of a kiosk reader's persistent session on the local broker."""
    return f"edge-{agent_id}-{reader.id}"[:64]


DeviceConfig = Annotated[
    DoorCounterConfig | RfidReaderConfig | QrCameraConfig | HealthKioskConfig,
    Field(discriminator="type"),
]


class EdgeConfig(_Section):
    """The whole agent configuration."""

    agent: AgentSection = Field(description="Agent identity and data folder.")
    mqtt: MqttSection = Field(description="Broker connection.")
    outbox: OutboxSection = Field(default_factory=OutboxSection, description="Delivery limits.")
    heartbeat_s: float = Field(
        60.0, ge=1, le=3600, description="Seconds between status heartbeats."
    )
    devices: list[DeviceConfig] = Field(default_factory=list, description="Devices to read.")

    @model_validator(mode="after")
    def _unique_ids(self) -> EdgeConfig:
        seen = {self.agent.id, *(d.id for d in self.devices)}  # repeats: duplicate_id_problems
        for dev, kiosk in (
            (d, k) for d in self.devices if d.type == "health_kiosk" for k in d.kiosks
        ):
            if kiosk in seen and kiosk != dev.id:  # a reader may bear its one kiosk's id
                raise ValueError(f"kiosk id {kiosk!r} used twice (or equals another id)")
            seen.add(kiosk)
        if (
            sum(d.type == "health_kiosk" and d.other_kiosks_space is not None for d in self.devices)
            > 1
        ):
            raise ValueError("other_kiosks_space may be set on one health_kiosk device only")
        return self

    @property
    def event_devices(self) -> list[str]:
        """Device ids of the events this agent records, as far as known in advance: the
        agent, each reader, and each listed kiosk (instead of the kiosk reader's id)."""
        out = [self.agent.id]
        for dev in self.devices:
            out += list(dev.kiosks) if dev.type == "health_kiosk" else [dev.id]
        return out

    @property
    def client_id(self) -> str:
        """The MQTT client id: ``mqtt.client_id`` or ``edge-<agent.id>``."""
        return self.mqtt.client_id or f"edge-{self.agent.id}"

    @property
    def outbox_path(self) -> Path:
        """The SQLite outbox file inside ``agent.data_dir``."""
        return self.agent.data_dir / "outbox.sqlite3"


#: Device kinds by their ``type`` tag.
DEVICE_TYPES: tuple[str, ...] = ("door_counter", "rfid_reader", "qr_camera", "health_kiosk")


def _where(loc: tuple[int | str, ...]) -> str:
    """``('devices', 0, 'door_counter', 'port')`` -> ``devices[0].port``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i >= 2 and loc[i - 2] == "devices" and part in DEVICE_TYPES:
            continue  # the discriminated union's tag level
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _problem(err: Any) -> str:
    """One validation error as ``field: message (value ...)``.

    The value is left out for an unknown key (it may be a misspelt secret, e.g.
    ``mqtt.passwrd``), hidden for secret fields (names holding password, passwd, secret
    or token), only named by its type for a whole mapping or list (a section may hold a
    secret), and shown with a URL's user and password masked (:class:`ConfigError`).
    A device of no or an unknown ``type`` is reported at ``devices[i].type`` with that
    value only and the allowed types (:func:`_tag_problem`).
    """
    loc = tuple(err["loc"])
    where = _where(loc)
    value = err.get("input")
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_problem(err, where)
    if err["type"] == "missing":
        return f"{where}: field required"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key (not allowed here; check the spelling)"
    if any(word in str(p).lower() for p in loc for word in _SECRET_WORDS):
        return f"{where}: {err['msg']} (value hidden: secret)"
    return f"{where}: {err['msg']} {shown(value)}"


def _tag_problem(err: Any, where: str) -> str:
    """A discriminated union's missing or unknown tag (``devices[0]``, tag ``type``) as
    ``devices[0].type: ... (allowed: door_counter, ...) (value 'x')``."""
    ctx = err.get("ctx") or {}
    field = str(ctx.get("discriminator", "'type'")).strip("'")
    allowed = str(ctx.get("expected_tags", "")).replace("'", "") or ", ".join(DEVICE_TYPES)
    value = err.get("input")
    if err["type"] == "union_tag_not_found" or not isinstance(value, dict):
        return f"{where}.{field}: field required (one of: {allowed})"
    return f"{where}.{field}: unknown device type (allowed: {allowed}) {shown(value.get(field))}"


def parse_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> EdgeConfig:
    """Validate a parsed YAML/JSON document.

    Args:
        data: the document (a mapping).
        source: the file name, used in error messages.
        base_dir: folder that a relative ``agent.data_dir`` or kiosk ``key_file`` is
            relative to.

    Besides the models' own checks, ids must be unique (agent and devices:
    :func:`~facility_edge.config_checks.duplicate_id_problems`) and two devices must not
    read one serial port (:func:`~facility_edge.config_checks.shared_port_problems`:
    symlinks resolved).

    Raises:
        ConfigError: naming ``source``, each field path and the offending value.
    """
    if data is None:
        raise ConfigError(source, ["the file is empty (expected the agent: and mqtt: sections)"])
    if not isinstance(data, dict):
        raise ConfigError(
            source, [f"(top level): expected a mapping (value {type(data).__name__})"]
        )
    try:
        cfg = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_problem(e) for e in exc.errors(include_url=False)]) from exc
    problems = duplicate_id_problems(cfg.agent.id, cfg.devices) + shared_port_problems(cfg.devices)
    if problems:
        raise ConfigError(source, problems)
    return cfg if base_dir is None else _relative_to(cfg, base_dir)


def _relative_to(cfg: EdgeConfig, base_dir: Path) -> EdgeConfig:
    """``cfg`` with a relative ``agent.data_dir`` and kiosk ``key_file`` under ``base_dir``."""
    if not cfg.agent.data_dir.is_absolute():
        agent = cfg.agent.model_copy(update={"data_dir": base_dir / cfg.agent.data_dir})
        cfg = cfg.model_copy(update={"agent": agent})
    devices = [
        d.model_copy(update={"key_file": base_dir / d.key_file})
        if d.type == "health_kiosk" and not d.key_file.is_absolute()
        else d
        for d in cfg.devices
    ]
    return cfg.model_copy(update={"devices": devices})


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate a YAML configuration file (UTF-8, no duplicate keys).

    The parts of ``agent.data_dir`` that are the same for every user are checked too
    (:func:`check_data_dir` without ``writable``): a folder or one that can be made, not
    on a read-only file system.

    Raises:
        ConfigError: unreadable file, not UTF-8 (with the byte, line and column), YAML
            syntax error or duplicate key (with line and column), or invalid content
            (with field path and value; secrets and unknown keys' values never shown).
    """
    from facility_contracts.yamlfile import YamlFileError, read_yaml  # PyYAML only here

    path = Path(path)
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise ConfigError(str(path), [str(exc)]) from exc
    cfg = parse_config(data, str(path), path.resolve().parent)
    check_data_dir(cfg, str(path), writable=False)
    return cfg


def check_data_dir(cfg: EdgeConfig, source: str, *, writable: bool) -> None:
    """Refuse an ``agent.data_dir`` the agent cannot use
    (:func:`~facility_edge.config_checks.data_dir_problems`).

    Args:
        cfg: the configuration (``data_dir`` already made absolute by :func:`load_config`).
        source: the file name, for the message.
        writable: also check that the current user may create or write the folder and
            its outbox file: only where the caller runs as the agent's user (``run``).

    Raises:
        ConfigError: ``FILE: agent.data_dir: problem (value '/path')``.
    """
    problems = data_dir_problems(cfg.agent.data_dir, cfg.outbox_path.name, writable=writable)
    if problems:
        raise ConfigError(source, problems)


def json_schema() -> str:
    """The JSON schema of the configuration, indented."""
    return json.dumps(EdgeConfig.model_json_schema(), indent=2)
