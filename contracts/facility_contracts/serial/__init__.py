"""Serial frame codecs: pure functions and sans-I/O stream splitters.

A splitter takes bytes as they come off a serial line and returns complete candidate
frames; a codec turns one candidate into a typed frame or raises :class:`FrameError`.
Nothing here touches a port: the edge's reader loop feeds bytes in.
"""

from facility_contracts.serial.framing import FrameError, FrameSplitter, SplitResult

__all__ = ["FrameError", "FrameSplitter", "SplitResult"]
