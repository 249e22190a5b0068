"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``
(Alembic's autogenerate and ``create_all`` see every table, including those the feature
packages keep beside their code: utilisation, satisfaction, vitals)."""

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
from facility_server.satisfaction.models import Rectification, SatisfactionVote
from facility_server.utilisation.models import UtilisationDay, UtilisationHour
from facility_server.vitals.models import (
    Consent,
    HourSalt,
    HourVisitor,
    KioskSession,
    Member,
    PurgedEvent,
    Reading,
    ReadingHour,
    UsageHour,
)

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
    "Consent",
    "Contact",
    "Device",
    "DeviceNotice",
    "DoorCrossing",
    "HourSalt",
    "HourVisitor",
    "KioskSession",
    "Member",
    "Notification",
    "PurgedEvent",
    "Reading",
    "ReadingHour",
    "Rectification",
    "Region",
    "SatisfactionVote",
    "SeriesMark",
    "Space",
    "Staff",
    "TaskOccurrence",
    "TaskRule",
    "UTCDateTime",
    "UsageHour",
    "UtilisationDay",
    "UtilisationHour",
    "utcnow",
]
