"""Store satisfaction votes once per event id (the ingest calls :func:`store_vote`).

The vote's time follows the gateway's rules (:func:`facility_gateway.mapping.event_time`:
device time when synchronised, else ``received - (sent - mono)``); a vote with an
implausible synchronised time is kept at its receive time (``clock`` = ``estimated``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from facility_contracts.envelope import SatisfactionVote as VoteEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import to_datetime, to_ms
from facility_server.core.db import insert_ignore
from facility_server.ingest.timing import point_time
from facility_server.models import Complex, Space
from facility_server.satisfaction.models import SatisfactionVote

logger = logging.getLogger(__name__)


def store_vote(session: Session, cx: Complex, event: VoteEvent, now: datetime) -> bool:
    """Store one vote (``INSERT ... ON CONFLICT DO NOTHING`` on the event id).

    Returns:
        True when the vote was new; False for a redelivery.
    """
    ts_ms, clock, _why = point_time(event, to_ms(now))
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
    return insert_ignore(session, SatisfactionVote, values, ["event_id"])
