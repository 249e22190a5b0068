"""The ``health_kiosk`` device kind, pure part: one kiosk message -> one draft event.

A kiosk publishes each measuring session on the complex's LOCAL broker
(:mod:`facility_contracts.kiosk`, ``kiosk/v1/{kiosk}/session``). :class:`KioskCore`
turns one such message into:

- a ``health.reading`` draft (:class:`~facility_contracts.envelope.HealthReading`):
  device = the kiosk id, event id = the kiosk's session id (a session the kiosk or the
  broker sends again is stored once, see :class:`~facility_edge.recorder.Recorder`),
  ``member`` = :func:`~facility_contracts.vitals.pseudonymise` (card, complex key),
  ``space`` = the kiosk's space from the configuration, each reading with its LOINC code,
  ``ts``/``synced`` = the kiosk's (see :func:`event_time`); or
- for a message that breaks the contract (not JSON, impossible value, unit not the
  type's, systolic below diastolic, a kiosk not accepted, ...): a ``device.notice``
  draft with code ``reading_rejected`` and detail ``reason=R field=F`` (a message over
  4,096 bytes: ``reason=too_large size=N``, N in bytes).

The card number goes nowhere: not into events, notices, logs or errors (a field name
is shown only when it is one of the contract's, see :func:`safe_field`), and reading
values are not logged either (PIPL art. 28: health data is sensitive personal
information; art. 51: de-identification).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from facility_contracts.envelope import (
    DeviceNoticeBody,
    HealthReadingBody,
    HealthReadingItem,
)
from facility_contracts.errors import ContractError
from facility_contracts.ids import is_node_id
from facility_contracts.kiosk import SESSION_FILTER, TOPIC_PREFIX, KioskSession, decode_session
from facility_contracts.kiosk import session_topic as kiosk_topic
from facility_contracts.vitals import QUANTITIES, pseudonymise

from facility_edge.clock import Stamp
from facility_edge.config import HealthKioskConfig
from facility_edge.recorder import Draft

#: Kiosk times before this (2020-01-01 UTC, ms) are not believed even when "synced".
PLAUSIBLE_FROM_MS = 1_577_836_800_000
#: Field names of the kiosk message; other names are not repeated in notices or logs.
_KNOWN_FIELDS = frozenset({"v", "id", "kiosk", "ts", "synced", "card", "readings"}) | frozenset(
    {"type", "value", "unit"}
)
_INDEX = re.compile(r"^[0-9]{1,2}$")


def safe_field(field: str) -> str:
    """``field`` with every part that is not a contract field name or a list index
    replaced by ``?``: an unknown key of a bad message could be a card number."""
    if not field:
        return ""
    return ".".join(p if p in _KNOWN_FIELDS or _INDEX.match(p) else "?" for p in field.split("."))


def rejection_detail(reason: str, field: str, size: int | None = None) -> str:
    """The ``reading_rejected`` notice detail: ``reason=R field=F`` (no values), with
    ``size=N`` (bytes) for a message too large; parts without a value are left out."""
    reason = reason if re.fullmatch(r"[a-z_]{1,40}", reason) else "bad_value"
    parts = [f"reason={reason}"]
    if field := safe_field(field):
        parts.append(f"field={field}")
    if size is not None:
        parts.append(f"size={size}")
    return " ".join(parts)


def event_time(
    session: KioskSession, stamp: Stamp, max_ahead_ms: int
) -> tuple[int | None, bool | None]:
    """The event's ``(ts, synced)`` from the kiosk, or ``(None, None)`` for the board's.

    The kiosk's time is kept, with its own ``synced``, except when the kiosk claims a
    synchronised clock and its time is before 2020 or, the board's clock being
    synchronised too, more than ``max_ahead_ms`` ahead of it: the gateway would reject
    such an event for good (``ts_too_old``/``ts_in_future``), so the board's time is used.
    Times in the past are kept: a kiosk or broker may deliver old sessions late.
    """
    if not session.synced:
        return session.ts, False
    if session.ts < PLAUSIBLE_FROM_MS or (stamp.synced and session.ts > stamp.ts + max_ahead_ms):
        return None, None
    return session.ts, True


def reading_body(session: KioskSession, member: str, space: str) -> HealthReadingBody:
    """The ``health.reading`` body of a decoded session (readings in kiosk order)."""
    items = [
        HealthReadingItem(type=r.type, value=r.value, unit=r.unit, loinc=QUANTITIES[r.type].loinc)
        for r in session.readings
    ]
    return HealthReadingBody(member=member, space=space, readings=items)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one kiosk message.

    Attributes:
        result: ``accepted`` (a reading draft) or ``rejected`` (a notice draft).
        device: the draft's device (the kiosk id; the agent id when the message names
            no accepted kiosk).
        session: the session (event) id when the message decoded, else None.
        reason, field: the contract error of a rejected message (field made safe).
        detail: the notice detail of a rejected message (:func:`rejection_detail`).
    """

    result: Literal["accepted", "rejected"]
    device: str
    session: str | None = None
    reason: str = ""
    field: str = ""
    detail: str = ""


class KioskCore:
    """Kiosk messages -> drafts, for one ``health_kiosk`` device (pure; not thread-safe).

    Args:
        cfg: the device's configuration.
        key: the complex's pseudonym key (>= 16 bytes, see :mod:`facility_edge.pseudonym`).
        agent_id: device of notices about messages that name no accepted kiosk.

    Raises:
        ValueError: ``key`` shorter than 16 bytes.
    """

    def __init__(self, cfg: HealthKioskConfig, key: bytes, agent_id: str) -> None:
        pseudonymise("0000", key)  # refuses a short key now, not at the first session
        self.cfg = cfg
        self._key = key
        self.agent_id = agent_id
        self.max_ahead_ms = round(cfg.max_clock_ahead_s * 1000)
        self.accepted = 0
        self.rejected: Counter[str] = Counter()

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to on the local broker."""
        if self.cfg.other_kiosks_space is not None:
            return [SESSION_FILTER]
        return [kiosk_topic(k) for k in sorted(self.cfg.kiosks)]

    def space_of(self, kiosk: str) -> str | None:
        """The space of an accepted kiosk, None for a kiosk not accepted."""
        if not is_node_id(kiosk):
            return None
        return self.cfg.kiosks.get(kiosk, self.cfg.other_kiosks_space)

    def draft(self, topic: str, payload: bytes, stamp: Stamp) -> tuple[Draft, Outcome]:
        """The draft of one message received on ``topic`` (never raises ContractError)."""
        named = topic_kiosk(topic)
        device = named if named is not None and self.space_of(named) is not None else None
        session_id = None
        try:
            session = decode_session(payload)
            session_id = session.id
            space = self._space(named, session)
            member = pseudonymise(session.card, self._key)
            ts, synced = event_time(session, stamp, self.max_ahead_ms)
            body = reading_body(session, member, space)
        except ContractError as exc:
            return self._rejected(device or self.agent_id, session_id, exc)
        self.accepted += 1
        draft = Draft(session.kiosk, body, ts=ts, synced=synced, id=session.id)
        return draft, Outcome("accepted", session.kiosk, session.id)

    def _space(self, named: str | None, session: KioskSession) -> str:
        if named != session.kiosk:
            raise ContractError(
                "kiosk_mismatch",
                "the message's kiosk differs from its topic's",
                field="kiosk",
                value=session.kiosk,
            )
        space = self.space_of(session.kiosk)
        if space is None:
            raise ContractError("unknown_kiosk", "kiosk not in this reader's kiosks", field="kiosk")
        return space

    def _rejected(
        self, device: str, session_id: str | None, exc: ContractError
    ) -> tuple[Draft, Outcome]:
        self.rejected[exc.reason] += 1
        size = exc.value if exc.reason == "too_large" and isinstance(exc.value, int) else None
        detail = rejection_detail(exc.reason, exc.field, size)
        draft = Draft(device, DeviceNoticeBody(code="reading_rejected", detail=detail))
        field = safe_field(exc.field)
        return draft, Outcome("rejected", device, session_id, exc.reason, field, detail)


def topic_kiosk(topic: str) -> str | None:
    """The kiosk level of ``kiosk/v1/{kiosk}/session``, or None for another topic."""
    prefix, _, rest = topic.partition(f"{TOPIC_PREFIX}/")
    kiosk, sep, tail = rest.partition("/")
    if prefix or not sep or tail != "session" or not kiosk:
        return None
    return kiosk
