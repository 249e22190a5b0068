"""Identifier rules shared by topics, envelopes and the registry.

Site and device ids appear in MQTT topic levels, so they must not contain ``/``,
``+``, ``#``, ``$`` or whitespace (MQTT 3.1.1 section 4.7). We allow lowercase ASCII
letters, digits, ``-`` and ``_``, 1 to 64 characters, starting with a letter or digit.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

#: Site (complex) or device id usable as one MQTT topic level.
NodeId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: Event id: 8 to 64 characters of ``[A-Za-z0-9_.:-]`` (a UUID or ULID fits).
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,64}$")]


def is_node_id(text: str) -> bool:
    """Return True when ``text`` is a valid site or device id."""
    return bool(_ID_RE.match(text))
