"""Resident satisfaction (issue 6): votes from the four-button exit terminals, the
satisfaction rate per service and period, and rectification items for services under 80%
(4+5+X management rules). Definitions: docs/metrics.md."""
