"""The setup file's shape: pydantic models with ``extra="forbid"`` and a description per field.

One file describes one complex: where it sits in the hierarchy, its spaces with hours
and exceptions, its devices, its staff with badges, its checkpoints, its task rules and
the contacts its alerts go to (:mod:`facility_server.setup.tasks`). See
``server/examples/setup.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from facility_contracts import cards
from facility_contracts.errors import ContractError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facility_server.domain import (
    Code,
    DayHours,
    DeviceKind,
    HolidayPolicy,
    Name,
    ShortText,
    SpaceType,
    TimeZone,
    Transport,
    WeeklyHours,
    check_transport,
)
from facility_server.opening import WEEKDAYS
from facility_server.setup.tasks import ContactSpec, TaskRuleSpec


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RegionRef(_M):
    """One level of the hierarchy: a code (unique under its parent) and a display name."""

    code: Code = Field(description="Lowercase id, e.g. xihu.")
    name: Name = Field(description="Display name, e.g. 西湖区.")


class Location(_M):
    """Where the complex sits: district -> street -> community."""

    district: RegionRef = Field(description="District or county (区/县).")
    street: RegionRef = Field(description="Street or township (街道/乡镇).")
    community: RegionRef = Field(description="Community or village (社区/村).")


class DayException(_M):
    """A dated exception: closed (no ``hours``) or open with special ``hours``."""

    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = Field(description="Local date.")
    hours: DayHours = Field(default_factory=list, description="Special hours; empty = closed.")
    note: ShortText = Field("", description="Why (e.g. 设备检修).")

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        from datetime import date

        date.fromisoformat(value)
        return value


class ComplexSpec(_M):
    """The complex itself."""

    site_id: Code = Field(description="Site id, used in MQTT topics (facility_contracts.ids).")
    name: Name = Field(description="Display name.")
    address: ShortText = Field("", description="Street address.")
    timezone: TimeZone = Field("Asia/Shanghai", description="IANA time zone of the site.")
    location: Location = Field(description="Hierarchy path.")
    public_holidays: HolidayPolicy = Field(
        HolidayPolicy.closed,
        description="closed: shut on China's statutory holidays; regular: ignore them.",
    )
    makeup_workdays: Literal["regular", *WEEKDAYS] = Field(  # type: ignore[valid-type]
        "regular",
        description="Hours of a make-up working day: its own weekday's, or a named weekday's.",
    )
    exceptions: list[DayException] = Field(
        default_factory=list, description="Whole-complex exceptions."
    )


class SpaceSpec(_M):
    """A space with one 4+5+X service type."""

    code: Code = Field(description="Space id (appears in door-counter events).")
    name: Name = Field(description="Display name.")
    type: SpaceType = Field(description="4+5+X service type.")
    capacity: int = Field(ge=1, le=100_000, description="Capacity, people.")
    hours: WeeklyHours = Field(default_factory=dict, description="Weekly hours, local time.")
    exceptions: list[DayException] = Field(
        default_factory=list, description="This space's exceptions."
    )


class DeviceSpec(_M):
    """A device; serial devices name the edge agent that reads them (``via``)."""

    code: Code = Field(description="Device id (MQTT topic level).")
    kind: DeviceKind = Field(description="What it is.")
    name: ShortText = Field("", description="Display name.")
    space: Code | None = Field(None, description="Space code; none for an edge agent.")
    transport: Transport = Field(
        Transport.mqtt,
        description="serial (read by an edge agent), mqtt (own central credentials) or "
        "local_mqtt (talks to its edge agent's local broker only; needs via).",
    )
    via: Code | None = Field(None, description="Edge agent reading this serial device.")
    firmware: Annotated[str, Field(max_length=64)] = Field("", description="Firmware version.")

    @model_validator(mode="after")
    def _via_for_serial(self) -> DeviceSpec:
        check_transport(self.kind, self.transport, self.via is not None)
        return self


class BadgeSpec(_M):
    """A card as a reader printed it, with its form (see facility_contracts.cards)."""

    uid: Annotated[str, Field(max_length=40)] = Field(description="Printed UID.")
    form: cards.Form = Field("hex", description="hex, hex_reversed, decimal or decimal_reversed.")


def canonical_uid(value: str | BadgeSpec) -> str:
    """Canonical UID of a badge given as a hex string or a :class:`BadgeSpec`.

    Raises:
        ValueError: (from ContractError) the UID does not parse.
    """
    spec = BadgeSpec(uid=value) if isinstance(value, str) else value
    return cards.normalize(spec.uid, spec.form)


class StaffSpec(_M):
    """A staff member with badges."""

    code: Code = Field(description="Staff id.")
    name: Name = Field(description="Name.")
    duty: ShortText = Field("", description="Duty, e.g. 儿童游乐区安全巡查.")
    active: bool = Field(True, description="Still working here.")
    badges: list[Annotated[str, Field(max_length=40)] | BadgeSpec] = Field(
        default_factory=list, description="Cards: canonical hex, or {uid, form}."
    )

    @field_validator("badges")
    @classmethod
    def _canonical(cls, value: list[str | BadgeSpec]) -> list[str | BadgeSpec]:
        for i, badge in enumerate(value):
            try:
                value[i] = canonical_uid(badge)
            except ContractError as exc:
                raise ValueError(f"badge {i}: {exc}") from exc
        return value


class CheckpointSpec(_M):
    """A patrol/task point in a space: exactly one of ``nfc`` (tag UID) or ``qr``."""

    code: Code = Field(description="Checkpoint id.")
    space: Code = Field(description="Space code.")
    name: ShortText = Field("", description="Where it is.")
    nfc: Annotated[str, Field(max_length=40)] | None = Field(None, description="Tag UID (hex).")
    qr: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = Field(
        None, description="QR id."
    )

    @model_validator(mode="after")
    def _one_tag(self) -> CheckpointSpec:
        if (self.nfc is None) == (self.qr is None):
            raise ValueError("give exactly one of nfc or qr")
        if self.nfc is not None:
            try:
                self.nfc = cards.from_hex(self.nfc)
            except ContractError as exc:
                raise ValueError(f"nfc: {exc}") from exc
        return self


class SetupFile(_M):
    """A whole complex."""

    version: Literal[1] = Field(1, description="Format version.")
    complex: ComplexSpec = Field(description="The complex.")
    spaces: list[SpaceSpec] = Field(default_factory=list, description="Its spaces.")
    devices: list[DeviceSpec] = Field(default_factory=list, description="Its devices.")
    staff: list[StaffSpec] = Field(default_factory=list, description="Its staff.")
    checkpoints: list[CheckpointSpec] = Field(default_factory=list, description="Its checkpoints.")
    task_rules: list[TaskRuleSpec] = Field(
        default_factory=list, description="Safety tasks and quotas (daily, patrol, quota)."
    )
    contacts: list[ContactSpec] = Field(
        default_factory=list, description="Who is notified of the complex's alerts."
    )
