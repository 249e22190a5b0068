"""The exception tree of the edge agent."""

from __future__ import annotations

import re

#: The user information of a URL (``scheme://user:password@``): greedy up to the last
#: ``@`` of the word, so a password holding ``@`` or ``/`` is hidden too.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s'\"]*@")


def mask_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``.

    ``mqtt://edge:pw@127.0.0.1:1884`` -> ``mqtt://***@127.0.0.1:1884`` (RFC 3986,
    section 3.2.1: userinfo, which "SHOULD NOT" hold a password, but configs do).
    """
    return _USERINFO.sub(r"\1***@", text)


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""


class ConfigError(EdgeError):
    """The configuration file is missing, unreadable or invalid.

    Attributes:
        path: the file that was loaded.
        problems: one line per problem, each naming the field path and the value.

    Its message has one line per problem: ``FILE: field: message (value ...)``; the
    user and password of any URL in a problem are masked (:func:`mask_userinfo`).
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        problems = [mask_userinfo(p) for p in problems]
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


class ErrorStreak:
    """A failure that may repeat, logged once: :meth:`failed` says whether the error is
    new (log it fully) or a repeat of the last one (log it at DEBUG); :meth:`recovered`
    ends the streak and returns how many failures it had (None when there was none), for
    one "works again" line. Pure bookkeeping: the caller logs, with its own words."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.failures = 0

    def failed(self, error: str) -> bool:
        """Count a failure; True when ``error`` differs from the last one."""
        self.failures += 1
        new, self.error = error != self.error, error
        return new

    def recovered(self) -> int | None:
        """End the streak: its number of failures, or None when nothing had failed."""
        ended = self.failures if self.error is not None else None
        self.error, self.failures = None, 0
        return ended
