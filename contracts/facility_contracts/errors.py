"""The one error type of the wire contract."""

from __future__ import annotations

from typing import Any


class ContractError(ValueError):
    """A message, topic or frame that does not follow the contract.

    Attributes:
        reason: short machine-readable reason, used as a counter label
            (``not_json``, ``missing_field``, ``wrong_type``, ``too_large`` ...).
        field: dotted path of the offending field, or ``""`` for the whole message.
        value: the offending value (truncated to 80 characters when shown).
        message: the explanation without reason, field and value.
    """

    def __init__(self, reason: str, message: str, *, field: str = "", value: Any = None) -> None:
        self.reason = reason
        self.message = message
        self.field = field
        self.value = value
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        where = f" (field {field!r}, value {shown})" if field else ""
        super().__init__(f"{reason}: {message}{where}")
