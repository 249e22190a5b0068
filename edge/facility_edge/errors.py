"""The exception tree of the edge agent."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""


class ConfigError(EdgeError):
    """The configuration file is missing, unreadable or invalid.

    Attributes:
        path: the file that was loaded.
        problems: one line per problem, each naming the field path and the value.

    Its message has one line per problem: ``FILE: field: message (value ...)``.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


class OutboxError(EdgeError):
    """The outbox could not store or read events (disk full, I/O error, duplicate id)."""


class OutboxFull(OutboxError):
    """The outbox holds ``max_events`` unconfirmed events and refuses new ones.

    Nothing is deleted to make room: unconfirmed events are never dropped. Door counter
    totals are cumulative, so crossings refused now are counted by the first batch
    accepted later (see :mod:`facility_edge.door_counter`).
    """
