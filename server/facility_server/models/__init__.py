"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from facility_server.models.accounts import Account, AuditEntry
from facility_server.models.activity import Alert, DeviceNotice, DoorCrossing
from facility_server.models.base import Base, UTCDateTime, utcnow
from facility_server.models.compliance import (
    CheckIn,
    Contact,
    Notification,
    SeriesMark,
    TaskOccurrence,
    TaskRule,
)
from facility_server.models.devices import Badge, Checkpoint, Device, Staff
from facility_server.models.registry import CalendarException, Complex, Region, Space

__all__ = [
    "Account",
    "Alert",
    "AuditEntry",
    "Badge",
    "Base",
    "CalendarException",
    "CheckIn",
    "Checkpoint",
    "Complex",
    "Contact",
    "Device",
    "DeviceNotice",
    "DoorCrossing",
    "Notification",
    "Region",
    "SeriesMark",
    "Space",
    "Staff",
    "TaskOccurrence",
    "TaskRule",
    "UTCDateTime",
    "utcnow",
]
