"""A test-only fault hook: die at an exact point of the pipeline.

``FACILITY_GATEWAY_FAULT=exit_after_write:N`` makes the process ``os._exit(137)``
(the exit status of SIGKILL) right after its Nth successful write to the point store,
before the ids are marked stored and before any confirmation is published. Tests use
it to prove that "killed between write and confirmation" still stores once.
"""

from __future__ import annotations

import logging
import os

from facility_gateway.errors import ConfigError

logger = logging.getLogger(__name__)


class FaultHook:
    """Counts writes and exits the process after the configured one.

    Args:
        spec: ``None`` (no fault) or ``exit_after_write:N`` with N >= 1.

    Raises:
        ConfigError: an unknown spec.
    """

    def __init__(self, spec: str | None) -> None:
        self.exit_after = 0
        self.writes = 0
        if spec:
            kind, _, count = spec.partition(":")
            if kind != "exit_after_write" or not count.isdigit() or int(count) < 1:
                raise ConfigError(f"unknown fault spec {spec!r}")
            self.exit_after = int(count)
            logger.warning("TEST FAULT armed: exit after write %d", self.exit_after)

    def after_write(self) -> None:
        """Call after each successful write; exits the process at the armed one."""
        self.writes += 1
        if self.exit_after and self.writes >= self.exit_after:
            logger.warning("TEST FAULT: exiting after write %d, before confirmation", self.writes)
            logging.shutdown()
            os._exit(137)
