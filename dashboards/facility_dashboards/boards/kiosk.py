"""Kiosk usage (aggregates only): waiting for the kiosk aggregates in the schema.

Health readings are sensitive personal information and never go to the time series
individually; the dashboard may show only aggregates (sessions per day, per measurement
kind). No such measurement exists in :mod:`facility_contracts.schema` yet, and no panel
may invent one, so this dashboard carries its place (stable uid, variables) and says so.
"""

from __future__ import annotations

from facility_dashboards.core import Json, board, text

UID = "facility-kiosk"


def dashboard() -> Json:
    """The kiosk-usage dashboard (a placeholder until kiosk aggregates exist)."""
    return board(
        UID,
        "Kiosk usage",
        "Health-kiosk use, aggregates only (no individual readings).",
        [
            text(
                "Kiosk aggregates not yet available",
                "The time-series schema (`contracts/facility_contracts/schema.py`) has no "
                "health-kiosk aggregate yet. Panels (sessions per day and space, measurements "
                "by kind) are added here when it does; individual readings never reach "
                "Grafana. Kiosk connectivity is on the *Device health* dashboard.",
                size=(24, 5),
            )
        ],
        time_from="now-30d/d",
    )
