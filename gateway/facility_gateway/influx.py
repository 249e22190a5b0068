"""Point store over the InfluxDB v2 write API, through influxdb-client.

Writes are synchronous, line protocol rendered by :mod:`facility_gateway.points`,
``precision=ns``, optionally gzipped, with influxdb-client's own retries switched off
(the pipeline retries whole batches with backoff). Works with InfluxDB 2.x, 3.x, 1.8+
(``/api/v2/write`` compatibility) and VictoriaMetrics.

Errors: connection failures, timeouts and HTTP 5xx, 401, 403, 404 and 429 are
:class:`StoreUnavailable` (retry; an operator fixes a token or a bucket); 400, 413 and
422 are :class:`StoreRejected` (the body itself is refused).

VictoriaMetrics traps (../shared/SERVICES.md): it keeps every sample even when series
and time repeat, stores times in ms, and silently drops points older than its
``-retentionPeriod`` (one month by default) while answering 204.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from facility_gateway.errors import StoreRejected, StoreUnavailable
from facility_gateway.points import Point, to_body
from facility_gateway.probes import InfluxQLProbe, VictoriaMetricsProbe, http_request

logger = logging.getLogger(__name__)

QueryKind = Literal["influxql", "victoriametrics"]
_REJECTED = {400, 413, 422}


class InfluxWriter:
    """:class:`~facility_gateway.writer.PointWriter` over ``/api/v2/write``.

    Args:
        url: base URL (``http://host:8086``).
        bucket: bucket (database for 1.8 and VictoriaMetrics, which ignores it).
        org: organisation (InfluxDB 2).
        token: API token, or None.
        query: how :meth:`existing` asks: ``influxql`` (``/query``, InfluxDB 1.8+/2/3)
            or ``victoriametrics`` (``/api/v1/export``).
        gzip: gzip request bodies.
        timeout_s: HTTP timeout per request, s.
    """

    def __init__(
        self,
        url: str,
        *,
        bucket: str,
        org: str = "facility",
        token: str | None = None,
        query: QueryKind = "influxql",
        gzip: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.bucket = bucket
        self.org = org
        self._client = InfluxDBClient(
            url=self.url,
            token=token or "",
            org=org,
            timeout=int(timeout_s * 1000),
            enable_gzip=gzip,
            retries=False,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._probe: InfluxQLProbe | VictoriaMetricsProbe
        if query == "victoriametrics":
            self._probe = VictoriaMetricsProbe(self.url, timeout_s=timeout_s)
        else:
            self._probe = InfluxQLProbe(self.url, database=bucket, token=token, timeout_s=timeout_s)

    def write(self, points: Sequence[Point]) -> None:
        """Write points in one request (see the module docstring for the errors)."""
        if not points:
            return
        body = to_body(points)
        try:
            self._write_api.write(
                bucket=self.bucket,
                org=self.org,
                record=body,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type] # a str constant
            )
        except ApiException as exc:
            status = exc.status or 0
            detail = f"HTTP {status} from {self.url}: {str(exc.body or exc.reason)[:300]}"
            if status in _REJECTED:
                raise StoreRejected(detail) from exc
            raise StoreUnavailable(detail) from exc
        except (InfluxDBError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"cannot write to {self.url}: {exc}") from exc

    def existing(self, points: Sequence[Point]) -> set[Point]:
        """Which points are stored (same measurement, tag set and time).

        Raises:
            StoreUnavailable: the query endpoint cannot be reached or fails.
        """
        if not points:
            return set()
        return self._probe.existing(points)

    def check_retention(self) -> None:
        """Warn when VictoriaMetrics keeps less than ten years (it drops older points)."""
        if not isinstance(self._probe, VictoriaMetricsProbe):
            return
        try:
            flags = http_request("GET", f"{self.url}/flags", timeout_s=5).decode()
        except StoreUnavailable as exc:
            logger.info("cannot read VictoriaMetrics flags: %s", exc)
            return
        for line in flags.splitlines():
            if line.startswith("-retentionPeriod="):
                value = line.split("=", 1)[1].strip('"')
                if not value.endswith("y"):
                    logger.warning(
                        "VictoriaMetrics -retentionPeriod=%s: points older than that "
                        "are dropped silently while the write answers 204",
                        value,
                    )
                return

    def close(self) -> None:
        """Close the HTTP client."""
        api = self._client.api_client
        self._write_api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
        if api is not None:
            # The write API still refers to it; without this its __del__ clears the
            # closed pools again at interpreter exit, which fails under urllib3-future.
            api.rest_client = None  # type: ignore[assignment]
