"""The exception tree of the simulators."""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error raised by ``facility_sim``."""


class CalIt2Error(SimError, ValueError):
    """A malformed CalIt2 row (or an impossible slot) in the door-count file.

    Attributes:
        line: 1-based line number in the file (0 when not tied to one line).
        field: the offending field (``flow_id``, ``date``, ``time``, ``count``, ``row``).
        value: the offending text.
    """

    def __init__(self, line: int, field: str, value: object, message: str) -> None:
        self.line = line
        self.field = field
        self.value = value
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}field {field} = {value!r}: {message}")


class PortError(SimError):
    """A simulated serial port could not be created, linked or written."""
