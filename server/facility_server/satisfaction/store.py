"""Store satisfaction votes once per event id (the ingest calls :func:`store_vote`).

The vote's time follows the gateway's rules (:func:`facility_gateway.mapping.event_time`:
device time when synchronised, else ``received - (sent - mono)``); a vote with an
implausible synchronised time is kept at its receive time (``clock`` = ``estimated``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from facility_contracts.envelope import SatisfactionVote as VoteEvent
from facility_contracts.errors import ContractError
from facility_gateway.mapping import event_time
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.models import Complex, Space
from facility_server.satisfaction.models import SatisfactionVote

logger = logging.getLogger(__name__)


def store_vote(session: Session, cx: Complex, event: VoteEvent, now: datetime) -> bool:
    """Store one vote (``INSERT ... ON CONFLICT DO NOTHING`` on the event id).

    Returns:
        True when the vote was new; False for a redelivery.
    """
    received_ms = to_ms(now)
    try:
        ts_ms, clock = event_time(event, received_ms, received_ms)
    except ContractError:
        ts_ms, clock = received_ms, "estimated"
    space_id = session.scalar(
        select(Space.id).where(Space.complex_id == cx.id, Space.code == event.body.space)
    )
    if space_id is None:
        logger.warning("vote for unknown space %s", event.body.space, extra={"site": cx.site_id})
    values = {
        "event_id": event.id,
        "complex_id": cx.id,
        "space_id": space_id,
        "space_code": event.body.space,
        "device_code": event.device,
        "rating": event.body.rating,
        "clock": clock,
        "ts": to_datetime(ts_ms),
        "ts_ms": ts_ms,
        "received_at": now,
    }
    builder = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = builder(SatisfactionVote).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["event_id"])
    return session.execute(stmt.returning(SatisfactionVote.id)).scalar() is not None
