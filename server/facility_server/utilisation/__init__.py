"""Utilisation of spaces (issue 6): occupancy from door counters with closing-time resets,
visits, peak occupancy, occupied hours and utilisation per hour, day, week, month and half
year, actual opening against the weekly quotas, and the time series. Definitions:
docs/metrics.md.

- :mod:`.occupancy`, :mod:`.actual`, :mod:`.metrics`, :mod:`.periods`: pure;
- :mod:`.refresh`: compute and store the hour/day aggregates (the periodic job);
- :mod:`.quota_watch`: the mid-week "quota can no longer be met" alerts;
- :mod:`.series`: points for InfluxDB; :mod:`.summary`: JSON for the API and the demo.
"""

from facility_server.utilisation.summary import utilisation_summary

__all__ = ["utilisation_summary"]
