"""Devices, staff with badges, checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from facility_contracts import cards
from facility_contracts.errors import ContractError
from pydantic import Field, field_validator, model_validator

from facility_server.api.common import MAX_ID
from facility_server.api.schemas.base import In, Out
from facility_server.domain import (
    Code,
    DeviceKind,
    Name,
    ShortText,
    TagKind,
    Transport,
    check_transport,
)

#: Ids in requests are strict: "12" or 12.0 is a 422, not 12.
OptId = Annotated[int | None, Field(ge=1, le=MAX_ID, strict=True)]
RefId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
Firmware = Annotated[str, Field(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")]


class DeviceBase(In):
    """Fields of a device."""

    name: ShortText = ""
    kind: DeviceKind
    transport: Transport = Transport.mqtt
    space_id: OptId = None
    via_id: OptId = Field(None, description="Edge agent reading this serial device.")
    firmware: Firmware = ""


class DeviceCreate(DeviceBase):
    """Register a device in a complex (a serial device names its edge agent, ``via_id``)."""

    complex_id: RefId
    code: Code

    @model_validator(mode="after")
    def _transport(self) -> DeviceCreate:
        check_transport(self.kind, self.transport, self.via_id is not None, "via_id")
        return self


class DeviceUpdate(In):
    """Change a device."""

    name: ShortText | None = None
    space_id: OptId = None
    via_id: OptId = None
    firmware: Firmware | None = None


class DevicePublic(Out):
    """A device as returned (never its secret)."""

    id: int
    complex_id: int
    code: str
    name: str
    kind: str
    transport: str
    space_id: int | None
    via_id: int | None
    firmware: str
    mqtt_username: str | None
    state: str | None
    health: str
    health_since: datetime | None
    last_seen: datetime | None
    heartbeat_s: float | None


class DeviceHealthPublic(Out):
    """One line of a device-health list."""

    id: int
    complex_id: int
    code: str
    kind: str
    health: str
    health_since: datetime | None
    last_seen: datetime | None


class DeviceCredentials(Out):
    """MQTT credentials, shown once; only the secret's hash is stored."""

    username: str
    secret: str


Uid = Annotated[str, Field(max_length=40)]


class StaffBase(In):
    """Fields of a staff member."""

    name: Name
    duty: ShortText = ""
    active: bool = True
    badges: list[Uid] = Field(default_factory=list, max_length=10, description="Card UIDs (hex).")

    @field_validator("badges")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        return [_uid(v) for v in value]


def _uid(value: str) -> str:
    try:
        return cards.from_hex(value)
    except ContractError as exc:
        raise ValueError(str(exc)) from exc


class StaffCreate(StaffBase):
    """Add a staff member to a complex."""

    complex_id: RefId
    code: Code


class StaffUpdate(In):
    """Change a staff member; ``badges`` replaces the list."""

    name: Name | None = None
    duty: ShortText | None = None
    active: bool | None = None
    badges: list[Uid] | None = Field(None, max_length=10)

    @field_validator("badges")
    @classmethod
    def _canonical(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_uid(v) for v in value]


class StaffPublic(Out):
    """A staff member as returned (personal data: reads are audited)."""

    id: int
    complex_id: int
    code: str
    name: str
    duty: str
    active: bool
    badges: list[str]


Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\- ]+$")]


class CheckpointBase(In):
    """Fields of a checkpoint."""

    name: ShortText = ""
    tag_kind: TagKind
    tag: Tag = Field(description="NFC tag UID (hex) or QR id.")

    @model_validator(mode="after")
    def _canonical_tag(self):  # type: ignore[no-untyped-def]
        if self.tag_kind is TagKind.nfc:
            self.tag = _uid(self.tag)
        return self


class CheckpointCreate(CheckpointBase):
    """Add a checkpoint to a space."""

    space_id: RefId
    code: Code


class CheckpointUpdate(In):
    """Rename a checkpoint."""

    name: ShortText | None = None


class CheckpointPublic(Out):
    """A checkpoint as returned."""

    id: int
    complex_id: int
    space_id: int
    code: str
    name: str
    tag_kind: str
    tag: str
