"""The gateway's exception tree.

Message-level problems are :class:`facility_contracts.ContractError` (with a ``reason``
that becomes a counter label). Everything here is about the gateway's own outside
systems: the point store and the dedupe store.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the gateway's own errors."""


class ConfigError(GatewayError):
    """Settings that cannot work (an unknown fault spec, a bad URL)."""


class SettingsError(ConfigError):
    """Settings that cannot be read or do not validate.

    Attributes:
        problems: one line per problem, each ``SOURCE: field: message (value ...)``
            where SOURCE is the YAML file or the environment variable; the values of
            secrets and of unknown keys are never included.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class StoreUnavailable(GatewayError):
    """The point store is down, timed out or answered 5xx (or 401/403/404/429).

    Transient by assumption: the pipeline retries the same batch with backoff and never
    drops it.
    """


class StoreRejected(GatewayError):
    """The point store refused the request itself (HTTP 400, 413, 422).

    Retrying the same body cannot help; the pipeline splits the batch to isolate the
    point it refuses.
    """


class DedupeUnavailable(GatewayError):
    """The dedupe store (SQLite file or PostgreSQL) cannot be reached or is locked."""
