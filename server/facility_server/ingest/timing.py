"""The time an event counts at on the server (pure): the gateway's rules, or the receive time.

:func:`facility_gateway.mapping.event_time` gives device time when synchronised and
plausible, else ``received - (sent - mono)``; an event whose synchronised time is
implausible (``ts_too_old``, ``ts_in_future``) counts at its receive time, tagged
``estimated``, and the caller learns why (a check-in is then refused, a vote or a kiosk
reading is kept).
"""

from __future__ import annotations

from facility_contracts.envelope import Event
from facility_contracts.errors import ContractError
from facility_gateway.mapping import event_time


def point_time(event: Event, received_ms: int) -> tuple[int, str, str]:
    """(UTC epoch ms, ``clock`` tag ``synced`` | ``estimated``, the reason the event's own
    time was not used: ``""`` or the :class:`ContractError` reason) of ``event`` received
    at ``received_ms`` (UTC ms)."""
    try:
        ts_ms, clock = event_time(event, received_ms, received_ms)
    except ContractError as exc:
        return received_ms, "estimated", exc.reason
    return ts_ms, clock, ""
