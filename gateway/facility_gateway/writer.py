"""The one point-store interface, and the factory that picks an implementation.

Implementations: :class:`~facility_gateway.influx.InfluxWriter` (InfluxDB v2 write API:
InfluxDB 2/3, VictoriaMetrics) and :class:`~facility_gateway.embedded.EmbeddedStore`
(SQLite, for the demo). Both pass the same test suite (tests/gateway/test_gw_writers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from facility_gateway.points import Point

if TYPE_CHECKING:
    from facility_gateway.settings import GatewaySettings


@runtime_checkable
class PointWriter(Protocol):
    """Where points go.

    ``write`` is all-or-nothing from the caller's view: when it returns, every point is
    stored; when it raises, the caller writes the same points again later (writing a
    point twice is harmless in InfluxDB, which keeps one point per series and time;
    the dedupe store prevents it for stores that keep duplicates).
    """

    def write(self, points: Sequence[Point]) -> None:
        """Store points.

        Raises:
            StoreUnavailable: the store is down, timed out or answered 5xx.
            StoreRejected: the store refused the request (bad point, too large).
        """

    def existing(self, points: Sequence[Point]) -> set[Point]:
        """Which of ``points`` are already stored (same measurement, tag set and time).

        Used only for ids in doubt, so it may be slower than ``write``.

        Raises:
            StoreUnavailable: the store cannot be asked.
        """

    def close(self) -> None:
        """Release connections; the writer is unusable afterwards."""


def make_writer(settings: GatewaySettings) -> PointWriter:
    """The writer the settings ask for (``writer: influx | embedded``)."""
    if settings.writer == "embedded":
        from facility_gateway.embedded import EmbeddedStore

        return EmbeddedStore(settings.embedded_path)
    from facility_gateway.influx import InfluxWriter

    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    return InfluxWriter(
        settings.influx_url,
        bucket=settings.influx_bucket,
        org=settings.influx_org,
        token=token,
        query=settings.influx_query,
        gzip=settings.influx_gzip,
        timeout_s=settings.influx_timeout_s,
    )
