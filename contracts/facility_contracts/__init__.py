"""The wire contract every part of facility-ops imports.

Nobody parses the wire format alone: topics (:mod:`.topics`), the message envelope
and its payloads (:mod:`.envelope`), JSON encode/decode (:mod:`.codec`), serial frame
codecs (:mod:`.serial`), and the time-series schema the gateway writes and the
dashboards read (:mod:`.schema`). All decoders raise :class:`ContractError`.
"""

from facility_contracts.errors import ContractError

__all__ = ["ContractError"]
