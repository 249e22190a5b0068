"""docs/gateway.md's settings table cannot drift from ``GatewaySettings``."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from facility_gateway.settings import GatewaySettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"
ROW = re.compile(r"^\| `([a-z0-9_]+)` \| (`[^`]*`|null) \| .+ \|$")


def _shown(value: Any) -> str:
    """A default as the table writes it: ``null``, `` `true` ``, `` `30` ``, `` `0.5` ``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, datetime):
        return f"`{value.isoformat().replace('+00:00', 'Z')}`"
    return f"`{value}`"


def test_settings_table_lists_every_setting_with_its_default() -> None:
    """Each setting has one row in the table, in the model's order, with its default."""
    section = DOC.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [m.groups() for m in map(ROW.match, section.splitlines()) if m]
    expected = [(name, _shown(f.default)) for name, f in GatewaySettings.model_fields.items()]
    assert rows == expected
